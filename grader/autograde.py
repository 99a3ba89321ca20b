"""``nbgrader autograde``, with the first submission's probe started before nbgrader is imported.

    python grader/autograde.py ASSIGNMENT [nbgrader autograde's options]

(from any folder; ``python -m grader.autograde`` from the repository's) is ``nbgrader autograde
ASSIGNMENT ...``; ``scripts/grade.py`` runs it so. A probe takes about 5 s to start (it imports
matplotlib, torch and torch's compiler before it is given the submission); started here, it starts
while nbgrader imports itself (about 1.5 s) and reads its configuration.
A plain ``nbgrader autograde`` starts it a little later, from ``nbgrader_config.py``
(:func:`prestart`). Either way the probe is kept as the *spare* until :class:`JudgedExecute` takes it
for the first notebook, if it was started with that notebook's options (else it is stopped and a
new one is started); one that is never used is stopped when the process exits.

This module imports neither nbgrader nor torch.
"""
from __future__ import annotations

import atexit
import gc
import os
import sys

GIB, MIB = 1024 ** 3, 1024 ** 2

# The probe's limits, as JudgedExecute's options name them (its traits default to these).
LIMITS = dict(memory=6 * GIB, cpu=600, file_size=256 * MIB, processes=256, tmp_size=512 * MIB)

_spare: tuple | None = None  # (options, (private folder, sandbox.Started))
_exit_quickly = False


def options(course_root: str, sandboxed: bool = True, limits: dict | None = None) -> dict:
    """How a probe is started: what the spare and the notebook that takes it must agree on."""
    return dict(course_root=os.path.abspath(course_root), sandboxed=bool(sandboxed), limits=dict(limits or LIMITS))


def default_options(course_root: str) -> dict:
    """The options ``nbgrader_config.py`` gives JudgedExecute for this course."""
    return options(course_root, sandboxed=os.environ.get("GENEDU_GRADE_UNSANDBOXED") != "1")


def start_spare(probe_options: dict) -> None:
    """Start the spare probe with ``probe_options`` (unless one is started): without bubblewrap, no
    spare (JudgedExecute says why when it runs)."""
    global _spare
    if _spare is not None:
        return
    exit_quickly()
    from grader import judge
    try:
        _spare = probe_options, judge.start_probe(probe_options["course_root"], sandboxed=probe_options["sandboxed"],
                                                  limits=probe_options["limits"])
    except Exception:  # noqa: BLE001
        return
    atexit.register(drop_spare)


def take_spare(probe_options: dict):
    """The spare probe, if it was started with ``probe_options`` (else it is stopped): ``(private
    folder, sandbox.Started)`` for ``judge.open_session``, or None."""
    global _spare
    if _spare is None:
        return None
    if _spare[0] != probe_options:
        drop_spare()
        return None
    started, _spare = _spare[1], None
    return started


def drop_spare() -> None:
    global _spare
    if _spare is not None:
        from grader import sandbox
        sandbox.stop(*_spare[1])
        _spare = None


def exit_quickly() -> None:
    """Make this process's exit about 1 s faster: Python's last garbage collections at exit walk
    every object of torch and its compiler (imported to judge), 0.6-1 s on the 2-core machine, and
    skip frozen objects. Registered before the other exit handlers, so it runs after them."""
    global _exit_quickly
    if not _exit_quickly:
        atexit.register(gc.freeze)
        _exit_quickly = True


def _course_root(argv: list[str]) -> str:
    for arg in argv:
        if arg.startswith("--CourseDirectory.root="):
            return arg.split("=", 1)[1]
    return os.getcwd()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not any(a in ("-h", "--help", "--help-all") for a in argv):
        start_spare(default_options(_course_root(argv)))
    from nbgrader.apps.autogradeapp import AutogradeApp
    AutogradeApp.launch_instance(argv)


if __name__ == "__main__":
    # Run as grader.autograde, the module nbgrader_plugins imports (it holds the spare), with the
    # repository (not grader/, whose module names would shadow others) on the path.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    from grader import autograde
    autograde.main()
