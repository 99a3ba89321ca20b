"""Shared test setup: the course helpers of scripts/course.py, and a headless matplotlib."""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from course import ROOT, assignments, executable_pages, run_nbgrader, toc_pages  # noqa: E402,F401
