"""Regenerate the assignments: solutions/*/*.py -> solutions/*/*.ipynb -> notebooks/*/*.ipynb, and the
release's manifest genedu/checks/manifests/*.json (for the students' check before they submit).

The py:percent file is what authors edit (it diffs well); the .ipynb next to it is what
nbgrader reads; the student version in notebooks/ is nbgrader's ``generate_assignment``
output. All three are committed, and the tests check they agree.

    python scripts/release.py              # every assignment
    python scripts/release.py ch01_discriminative_vs_generative
    python scripts/release.py --check      # exit 1 if a .ipynb is out of date with its .py
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, assignments, nbgrader_env  # noqa: E402


def notebook_from_source(name: str) -> nbformat.NotebookNode:
    """The nbgrader source notebook built from solutions/<name>/<name>.py.

    Cell ids are made deterministic (the nbgrader grade_id, else the cell's index) so that
    regenerating gives the same file.
    """
    nb = jupytext.read(ROOT / "solutions" / name / f"{name}.py")
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = grade_id or f"cell-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def write_source(name: str) -> Path:
    path = ROOT / "solutions" / name / f"{name}.ipynb"
    nbformat.write(notebook_from_source(name), path)
    return path


def is_in_sync(name: str) -> bool:
    path = ROOT / "solutions" / name / f"{name}.ipynb"
    return path.exists() and nbformat.read(path, as_version=4) == notebook_from_source(name)


def generate(name: str, root: Path = ROOT) -> None:
    """Run nbgrader generate_assignment for one assignment in course directory ``root``."""
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                    f"--CourseDirectory.root={root}", "--log-level=WARN"], cwd=root, check=True,
                   env=nbgrader_env())


def write_manifest(name: str) -> Path:
    """genedu/checks/manifests/<name>.json: the release's nbgrader cells, for the students' own check
    of a notebook before they submit it (``genedu.checks.submission``; the grader reads the release)."""
    from genedu.checks import submission
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    path = submission.MANIFESTS / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(submission.manifest(release, name), indent=1, sort_keys=True) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="assignments (default: all)")
    parser.add_argument("--check", action="store_true", help="only check the .ipynb sources are up to date")
    args = parser.parse_args(argv)
    names = args.names or assignments()
    if args.check:
        stale = [n for n in names if not is_in_sync(n)]
        for n in stale:
            print(f"out of date: solutions/{n}/{n}.ipynb (run python scripts/release.py {n})")
        return 1 if stale else 0
    for name in names:
        print(f"{name}: writing the source notebook and generating the release")
        write_source(name)
        generate(name)
        write_manifest(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
