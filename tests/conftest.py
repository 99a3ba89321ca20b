"""Shared test helpers: the repository root, the assignments, nbgrader in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent


def assignments() -> list[str]:
    """Every assignment in solutions/ (a folder <name>/ holding <name>.ipynb): new chapters are
    picked up by the tests without editing them."""
    return sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def run_nbgrader(args: list[str], root: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in course directory ``root`` with this interpreter.

    The interpreter's bin/ goes first on PATH: nbgrader calls ``alembic`` by name.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"],
                          cwd=root, env=env, capture_output=True, text=True, check=check)
