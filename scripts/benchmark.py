"""Time what the course's budgets are about, and print a table (no assertions: figures only).

    python scripts/benchmark.py            # pages and autograding
    python scripts/benchmark.py --pages    # only the book pages
    python scripts/benchmark.py --grading  # only autograding

- every executable book page, run top to bottom in a fresh kernel (budget: 60 s a page on a
  2-core CPU);
- autograding one fully solved submission of each assignment with nbgrader (budget: 15 s),
  in a temporary course directory.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, assignments, executable_pages, fill_answers, run_nbgrader, solved_answers  # noqa: E402


def time_pages() -> list[tuple[str, float]]:
    os.environ.setdefault("MPLBACKEND", "Agg")
    rows = []
    for page in executable_pages():
        nb = jupytext.read(ROOT / page)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str((ROOT / page).parent)}}).execute()
        rows.append((page, time.perf_counter() - start))
    return rows


def time_autograde() -> list[tuple[str, float]]:
    rows = []
    for name in assignments():
        with tempfile.TemporaryDirectory() as tmp:
            course = Path(tmp)
            shutil.copy(ROOT / "nbgrader_config.py", course)
            shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
            run_nbgrader(["generate_assignment", name, "--force"], course)
            release = nbformat.read(course / "notebooks" / name / f"{name}.ipynb", as_version=4)
            source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
            path = course / "submitted" / "student" / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(fill_answers(release, solved_answers(source)), path)
            start = time.perf_counter()
            run_nbgrader(["autograde", name, "--create", "--force"], course, check=False)
            rows.append((name, time.perf_counter() - start))
    return rows


def table(title: str, rows: list[tuple[str, float]], budget: float) -> None:
    print(f"\n{title}")
    width = max([len(r[0]) for r in rows] + [4])
    for name, seconds in rows:
        print(f"  {name:{width}s} {seconds:7.1f} s{'   OVER BUDGET' if seconds > budget else ''}")
    print(f"  {'total':{width}s} {sum(s for _, s in rows):7.1f} s   (budget {budget:.0f} s each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", action="store_true", help="only time the book pages")
    parser.add_argument("--grading", action="store_true", help="only time autograding")
    args = parser.parse_args()
    both = not (args.pages or args.grading)
    print(f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    if args.pages or both:
        table("book pages, executed from scratch", time_pages(), 60)
    if args.grading or both:
        table("autograding one solved submission (nbgrader autograde, wall clock)", time_autograde(), 15)


if __name__ == "__main__":
    main()
