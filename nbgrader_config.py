"""nbgrader configuration: the course directory is the repository root.

    solutions/<assignment>/   instructor sources: full solutions + hidden tests (committed)
    notebooks/<assignment>/   the student version nbgrader generates (committed)
    submitted/<student>/<assignment>/<assignment>.ipynb   collected submissions (git-ignored)
    downloaded/<assignment>/archive/                     an LMS's downloads, for nbgrader zip_collect
    autograded/, feedback/, gradebook.db                 grading state (git-ignored)
    grader_notes/<assignment>/<student>.json             scripts/grade.py's notes for the grader (git-ignored)

See book/instructors.md for the commands (scripts/grade.py wraps the ones that belong together).
"""
import importlib.util
import os
import sys

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

# --- Grading: probe in the sandbox, judge in the grader (grader/, README there) ---------------------
# nbgrader's Execute is replaced by the grader's JudgedExecute: the notebook's cells run in a
# bubblewrap sandbox (no network, no course directory, an allowlisted environment, capped memory,
# CPU, file sizes, /tmp and processes, a genedu without the exercises' references) that only
# computes; each test cell of the instructor's notebook is then judged in this process by genedu's
# checks, on the plain data the sandbox returns. The verdict is the cell's output, which nbgrader
# scores; nothing the student's code prints or patches can change it.
_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.find_spec("genedu")
if _spec is None or not _spec.submodule_search_locations:
    raise RuntimeError("nbgrader_config.py: the genedu package is not installed (pip install -r requirements.txt)")
_repo = os.path.dirname(list(_spec.submodule_search_locations)[0])
for _root in (_here, _repo):  # the grader lives next to this file, or next to the installed genedu
    if os.path.isfile(os.path.join(_root, "grader", "nbgrader_plugins.py")):
        sys.path.insert(0, _root)
        break

from grader.nbgrader_plugins import (DeduplicateIds, HideHiddenTraces, JudgedExecute, LmsCollector,  # noqa: E402
                                     RepairSlips, prestart)
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput,  # noqa: E402
                                    IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec,
                                    SaveAutoGrades)

# RepairSlips repairs what students' slips do to a notebook (a cell pasted twice or split in two, lost
# nbgrader metadata, a cell's type changed, deleted cells), by genedu.checks.submission, the code of the
# students' own check, and says what it found at the top of the graded notebook (so in the feedback)
# and in the log. DeduplicateIds is the grader's: nbgrader's own zeroes a notebook in which a cell was
# pasted twice.
c.Autograde.sanitize_preprocessors = [RepairSlips, ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                      OverwriteCells, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [JudgedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.JudgedExecute.course_root = c.CourseDirectory.root
c.RepairSlips.course_root = c.CourseDirectory.root
c.RepairSlips.release_directory = c.CourseDirectory.release_directory
# Every chapter's notebook runs in about 10 s on a 2-core CPU and its slowest cell in a few
# seconds: a cell (or one call of a check) that runs for 60 s is stuck; it is interrupted and the
# rest is graded. The whole notebook, cells and judgement, gets 3 minutes; past them, what is left
# gets no marks. An honest notebook needs a tenth of that. A notebook whose answers crash their
# process has every earlier cell replayed in a fresh one after each crash: the worst of the hostile
# corpus (ch07's attacks-1, five crashes, one answer that builds a 1 GiB reply) needs 116 s on a
# quiet 2-core machine and 130 s on a busy one, and its last, honest exercise must keep its marks.
c.JudgedExecute.timeout = 60
c.JudgedExecute.budget = 180
# 6 GiB of address space (a process that has imported torch maps about 1.2 GiB, most of it never
# touched); an answer that asks for more gets a MemoryError, not the machine's OOM killer. Grading
# with N parallel jobs needs N times this in RAM at worst (scripts/grade.py --jobs).
c.JudgedExecute.memory_limit = 6 * 1024 ** 3
c.JudgedExecute.cpu_limit = 600
# What an answer may write: files of at most 256 MiB, in a private /tmp of 512 MiB that vanishes
# with the sandbox (nothing is written to autograded/).
c.JudgedExecute.file_size_limit = 256 * 1024 ** 2
c.JudgedExecute.tmp_size = 512 * 1024 ** 2
c.JudgedExecute.process_limit = 256
# Without bubblewrap, autograding stops with an error that says how to install it (the other
# commands work). GENEDU_GRADE_UNSANDBOXED=1 grades without the sandbox: only for notebooks you trust.
c.JudgedExecute.sandbox = os.environ.get("GENEDU_GRADE_UNSANDBOXED") != "1"
# Keep megabytes of printed output out of the autograded notebooks and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50
# A test cell that a student deleted is put back (and judged) rather than scored zero: deleting a
# test can then neither gain nor cost marks. (Edited or retyped read-only cells are always restored.)
c.OverwriteCells.add_missing_cells = True

# Feedback shows the student's results (outputs, the verdicts, the scores) but never the hidden
# tests: their source is cleared (ClearHiddenTests, not in nbgrader's default feedback), and an
# error's traceback in a cell with hidden tests is cut to its message.
c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades",
                                    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                                    HideHiddenTraces,
                                    "nbgrader.preprocessors.ClearHiddenTests"]
c.ClearHiddenTests.enforce_metadata = False

# Collecting from a learning-management system: `nbgrader zip_collect ASSIGNMENT` (or
# `scripts/grade.py collect ASSIGNMENT ZIP`) extracts downloaded/<assignment>/archive/*.zip and
# copies each notebook to submitted/<student>/<assignment>/. nbgrader's own collector needs a
# regular expression written for each download; Canvas's and Moodle's bulk downloads name their
# files in known ways (the student's Canvas user id or Moodle participant id is in each name), so
# the grader's LmsCollector reads those names, drops a re-upload's "-1" or a browser's " (1)" from a
# released notebook's name, and skips every other file with a warning that names it.
c.ZipCollectApp.collector_plugin = LmsCollector

# `nbgrader autograde` starts the first submission's sandbox now, while nbgrader is still starting:
# the probe imports torch in the meantime and is given the submission when it is graded.
if sys.argv[1:2] == ["autograde"]:
    prestart(c)
