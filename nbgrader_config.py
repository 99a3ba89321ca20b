"""nbgrader configuration: the course directory is the repository root.

    solutions/<assignment>/   instructor sources: full solutions + hidden tests (committed)
    notebooks/<assignment>/   the student version nbgrader generates (committed)
    submitted/<student>/<assignment>/<assignment>.ipynb   collected submissions (git-ignored)
    autograded/, feedback/, gradebook.db                 grading state (git-ignored)

See book/instructors.md for the commands (scripts/grade.py wraps the ones that belong together).
"""
import importlib.util
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "genedu"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Sources are authored as py:percent files paired with the .ipynb (reviewable diffs); the .py
# holds the solutions, so it must never be copied into the release or a submission.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# --- Grading -------------------------------------------------------------------------------------
# Every chapter's notebook runs in about 10 s on a 2-core CPU and its slowest cell (a short training
# run) in a few seconds, so a cell that runs for 60 s is stuck (an endless loop, say): interrupt it
# and grade the rest of the notebook. 60 s leaves room for a loaded machine grading in parallel.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# A kernel that dies (os._exit, a kill) fails that one notebook, not the batch; do not retry it.
c.Execute.execute_retries = 0
# Keep megabytes of printed output out of the autograded notebooks and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50
# A test cell that a student deleted is put back (and run) rather than scored zero: deleting a
# test can then neither gain nor cost marks. (Edited or retyped read-only cells are always restored.)
c.OverwriteCells.add_missing_cells = True

# --- The sandbox and the guard (genedu/checks/_sandbox.py, _guard.py) ------------------------------
# An answer runs with the rights of whoever grades. Each kernel runs in a bubblewrap sandbox: a
# read-only file system without the course directory (solutions, other submissions, gradebook),
# no network, its own process namespace (every process it starts ends with it) and a memory limit.
# Before execution, every code cell a student could edit is inspected; a cell that patches the
# library, rebinds a check, or calls the reference it was asked to write is replaced by one that
# raises with the reason. Both modules are loaded by file path: loading this file stays fast.
_spec = importlib.util.find_spec("genedu")
if _spec is None or not _spec.submodule_search_locations:
    raise RuntimeError("nbgrader_config.py: the genedu package is not installed (pip install -r requirements.txt)")
_path = os.path.join(list(_spec.submodule_search_locations)[0], "checks", "_sandbox.py")
_sandbox_spec = importlib.util.spec_from_file_location("genedu_grader_sandbox", _path)
_sandbox = importlib.util.module_from_spec(_sandbox_spec)
_sandbox_spec.loader.exec_module(_sandbox)

from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,  # noqa: E402
                                    OverwriteCells, OverwriteKernelspec)

c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                                      _sandbox.guard_preprocessor(), CheckCellMetadata]
# Feedback shows the student's results (outputs, the checks' messages, the scores) but never the
# hidden tests: their source is cleared (ClearHiddenTests, not in nbgrader's default feedback), and
# the traceback of an error they raised, which would quote the hidden line, is cut to its message.
c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades",
                                    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                                    _sandbox.feedback_preprocessor(),
                                    "nbgrader.preprocessors.ClearHiddenTests"]
c.ClearHiddenTests.enforce_metadata = False

# Without bubblewrap, autograding stops with an error that says how to install it (the other
# commands work). GENEDU_GRADE_UNSANDBOXED=1 grades without the sandbox: only for notebooks you trust.
c.SandboxKernelManager.sandbox = os.environ.get("GENEDU_GRADE_UNSANDBOXED") != "1"
c.Execute.kernel_manager_class = _sandbox.SandboxKernelManager
c.SandboxKernelManager.course_root = c.CourseDirectory.root
# 6 GiB of address space per kernel: a kernel that has imported torch maps about 1.2 GiB (most of
# it never touched) and a chapter's models add little; an answer that asks for more gets a
# MemoryError, not the machine's OOM killer.
# Grading with N parallel jobs needs N times this in RAM at worst (scripts/grade.py --jobs).
c.SandboxKernelManager.memory_limit = 6 * 1024 ** 3
# A kernel that ignores the per-cell interrupt (it catches KeyboardInterrupt in a loop, say) is
# killed after 10 minutes of CPU time in all.
c.SandboxKernelManager.cpu_limit = 600
