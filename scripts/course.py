"""What the scripts and tests need to know about the course layout, in one place.

- :func:`assignments`      the nbgrader assignments (folders of solutions/)
- :func:`executable_pages` the book pages that are notebooks, from _toc.yml
- :func:`run_nbgrader`     nbgrader in a subprocess, for a given course directory
- :func:`solved_answers`, :func:`fill_answers`  a submission with every answer filled in
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.S)


def assignments() -> list[str]:
    """The assignments: folders solutions/<name>/ holding <name>.ipynb (or its <name>.py source)."""
    found = {p.parent.name for p in (ROOT / "solutions").glob("*/*") if p.stem == p.parent.name
             and p.suffix in (".ipynb", ".py")}
    return sorted(found)


def toc_pages() -> list[str]:
    """Every page listed in _toc.yml, without its extension (e.g. ``book/intro``)."""
    return re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text())


def executable_pages() -> list[str]:
    """The toc pages that are MyST Markdown notebooks (front matter with a kernelspec)."""
    pages = []
    for page in toc_pages():
        text = (ROOT / f"{page}.md").read_text()
        if text.startswith("---") and "kernelspec:" in text.split("---", 2)[1]:
            pages.append(f"{page}.md")
    return pages


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader: this interpreter's bin/ first on PATH (nbgrader runs
    ``alembic`` by name, which is only on PATH when the virtual environment is activated)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def run_nbgrader(args: list[str], root: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in course directory ``root`` with this interpreter."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"],
                          cwd=root, env=nbgrader_env(), capture_output=True, text=True, check=check)


def grade_ids(nb) -> dict:
    """The nbgrader cells of a notebook by grade_id."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def solved_answers(source_nb) -> dict[str, str]:
    """grade_id -> the answer a student who solved it would write (the solution, no markers)."""
    return {gid: SOLUTION.sub(lambda m: m.group(1), c.source) for gid, c in grade_ids(source_nb).items()
            if c.metadata["nbgrader"].get("solution")}


def fill_answers(release_nb, answers: dict[str, str]):
    """A copy of the released notebook with the given answer cells' sources replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    for gid, cell in grade_ids(nb).items():
        if gid in answers:
            cell.source = answers[gid]
    return nb
