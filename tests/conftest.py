"""Shared test setup: the course helpers of scripts/course.py, and a headless matplotlib."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")


def cores_per_worker() -> int:
    """The cores shared out among the xdist workers (`make test` runs several; 1 worker without xdist)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


# xdist workers share the cores: each worker's torch gets its share of them (the tests' tensors are small, and
# two workers running two threads each on two cores spend their time waiting for each other). The grader's
# probes run on one thread too (OMP_NUM_THREADS=1 in the sandbox).
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(cores_per_worker())

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from course import ROOT, assignments, executable_pages, run_nbgrader, toc_pages  # noqa: E402,F401

# Tests that grade whole notebooks with nbgrader, execute book pages or drive Chromium: minutes, not seconds.
# `make test-fast` leaves them out (`-m "not slow"`); `make test` runs everything.
SLOW_MODULES = {"test_grader.py", "test_grader_hostile.py", "test_grader_remote.py", "test_browser.py"}
SLOW_TESTS = {"test_page_executes"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Mark the slow tests, and keep the tests that share an expensive module-scoped fixture (a chapter's
    graded batch, the hostile batch, the probe session, the browser's reports) on one xdist worker
    (``--dist loadgroup``), so that each batch is graded once."""
    sys.path.insert(0, str(ROOT))
    from grader.sandbox import sandbox_available

    sandboxed, why = sandbox_available()
    # without bubblewrap the batches cannot be graded: skipped with the reason, except under CI
    no_sandbox = None if sandboxed or os.environ.get("CI") else pytest.mark.skip(reason=why)
    for item in items:
        if no_sandbox and ({"graded", "batch"} & set(item.fixturenames)
                           or item.originalname == "test_plain_nbgrader_autograde_grades_too"):
            item.add_marker(no_sandbox)
        module = item.path.name
        if module in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "graded" in params:
            item.add_marker(pytest.mark.xdist_group(f"graded-{params['graded']}"))
        elif module in SLOW_MODULES and {"batch", "session", "reports"} & set(item.fixturenames):
            item.add_marker(pytest.mark.xdist_group(module))


def grading_jobs() -> int:
    """Parallel nbgrader processes for a batch graded in the tests: the cores shared out among the xdist
    workers (`make test` runs several), so that the machine is busy but not oversubscribed."""
    return cores_per_worker()
