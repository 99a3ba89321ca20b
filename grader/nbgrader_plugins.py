"""The grader's nbgrader preprocessors (configured in ``nbgrader_config.py``).

- :class:`JudgedExecute` replaces nbgrader's ``Execute`` in autograde: it runs the notebook's cells
  in the sandboxed probe (their outputs go into the autograded notebook, as a kernel's would), then
  judges every test cell in the grader's own process (``judge.py``) and writes the verdict as that
  cell's output: the check's message as an error (nbgrader scores the cell 0), or its passed lines.
  Test cells are judged after the whole notebook has run, so a test cell moved above its answer
  still finds it.
- :class:`RepairSlips` repairs the slips students make in Jupyter (a pasted or split cell, lost
  metadata, a changed cell type, a deleted cell: ``genedu.checks.submission``, the same code as the
  students' own check) and writes what it found at the top of the graded notebook and into the log.
- :class:`DeduplicateIds` fixes nbgrader's for a cell pasted twice (its copies lose their ids).
- :class:`HideHiddenTraces` keeps hidden tests out of the feedback (with nbgrader's
  ``ClearHiddenTests``).
- :class:`LmsCollector` is ``nbgrader zip_collect``'s collector: it reads the student from the file
  names of a Canvas or Moodle bulk download (:func:`lms_submission`).
"""
from __future__ import annotations

import os
import re
import time

from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from nbgrader.preprocessors import DeduplicateIds as _DeduplicateIds
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from grader.autograde import LIMITS
from grader.autograde import options as probe_options


def prestart(config) -> None:
    """Start the first notebook's probe from ``nbgrader_config.py``, while nbgrader itself starts
    (``python -m grader.autograde`` starts it sooner still: ``autograde.py``)."""
    from grader import autograde
    autograde.start_spare(JudgedExecute(config=config).options())


class JudgedExecute(NbGraderPreprocessor):
    """Run the notebook in the sandbox; judge its test cells in the grader."""

    course_root = Unicode("", help="The nbgrader course directory, hidden from the probe.").tag(config=True)
    timeout = Float(60, help="Seconds a cell, or one call of a check, may run.").tag(config=True)
    budget = Float(120, help="Seconds the whole notebook may take; past them the rest gets no marks.").tag(config=True)
    sandbox = Bool(True, help="False runs submissions unsandboxed (only for notebooks you trust).").tag(config=True)
    memory_limit = Integer(LIMITS["memory"], help="Address space of the probe, in bytes.").tag(config=True)
    cpu_limit = Integer(LIMITS["cpu"], help="CPU seconds the probe may use in all.").tag(config=True)
    file_size_limit = Integer(LIMITS["file_size"], help="The largest file the probe may write, in bytes."
                              ).tag(config=True)
    tmp_size = Integer(LIMITS["tmp_size"], help="Size of the probe's private /tmp (its working folder), in bytes."
                       ).tag(config=True)
    process_limit = Integer(LIMITS["processes"], help="Processes (threads included) the probe may run."
                            ).tag(config=True)

    def options(self) -> dict:
        """How the probe is started (what ``prestart`` and ``preprocess`` must agree on)."""
        return probe_options(self.course_root or os.getcwd(), self.sandbox,
                             dict(memory=self.memory_limit, cpu=self.cpu_limit, file_size=self.file_size_limit,
                                  processes=self.process_limit, tmp_size=self.tmp_size))

    def preprocess(self, nb, resources: dict):
        from grader import autograde, judge

        clock = time.perf_counter()
        sources = [c.source for c in nb.cells if judge.is_test(c)]
        folder = resources.get("metadata", {}).get("path") or os.getcwd()
        options = self.options()
        try:
            session = judge.open_session(folder, options["course_root"], sources, cell_timeout=self.timeout,
                                         budget=self.budget, sandboxed=self.sandbox, limits=options["limits"],
                                         started=autograde.take_spare(options))
        except judge.TestCellError as err:
            raise RuntimeError(f"the instructor's test cells cannot be judged: {err}") from None
        try:
            for gid, verdict in judge.run_notebook(session, nb.cells).items():
                if not verdict.passed:
                    self.log.info("%s: %s", gid, verdict.message)
        finally:
            session.close()
        self.log.info("judged %d test cells in %.1f s (%d restarts of the probe)", len(sources),
                      time.perf_counter() - clock, session.restarts)
        return nb, resources


class RepairSlips(NbGraderPreprocessor):
    """The slips of ``genedu.checks.submission.repair``, repaired against the release of the notebook
    (``<course_root>/<release_directory>/<assignment>/<notebook>.ipynb``); a Markdown cell at the top
    of the notebook, and the log, say what was found and done. The notes ``scripts/grade.py`` left for
    this submission (a renamed or unreadable file: ``<course_root>/grader_notes/<assignment>/<student>.json``,
    where students cannot write) are added to it."""

    course_root = Unicode("", help="The nbgrader course directory.").tag(config=True)
    release_directory = Unicode("notebooks", help="Where the released notebooks are, in the course directory."
                                ).tag(config=True)

    def preprocess(self, nb, resources: dict):
        import json

        from grader.sandbox import submission_module
        submission = submission_module()
        info = resources.get("nbgrader", {})
        name, notebook, student = info.get("assignment", ""), info.get("notebook", ""), info.get("student", "?")
        root = self.course_root or os.getcwd()
        left = os.path.join(root, submission.NOTES_FOLDER, name, f"{student}.json")
        left = json.loads(open(left).read()) if os.path.isfile(left) else {}
        release = os.path.join(root, self.release_directory, name, f"{notebook}.ipynb")
        if os.path.isfile(release):
            import nbformat
            findings = submission.repair(nb, submission.manifest(nbformat.read(release, as_version=4), notebook))
        else:
            self.log.warning("no release notebook at %s: the slips are not repaired", release)
            findings = []
        if left.get("blank"):  # the blank release stands in for a file that could not be graded
            findings = [f for f in findings if f.slip != "unanswered"]
        extra = [str(note) for note in left.get("notes", [])]
        for line in extra + [f.line() for f in findings]:  # scripts/grade.py prints these lines
            self.log.warning("repaired %s: %s", student, line)
        if extra or findings:
            nb.cells.insert(0, submission.notes_cell(nb, findings, extra))
        return nb, resources


class DeduplicateIds(_DeduplicateIds):
    """nbgrader's ``DeduplicateIds`` (of cells with the same grade_id, the last keeps its nbgrader
    metadata), except that the others lose that metadata entirely: nbgrader 0.9.6 leaves an empty
    ``nbgrader`` dict, on which ``OverwriteCells`` (add_missing_cells) raises a KeyError, so one test
    cell pasted twice used to zero the whole notebook."""

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class HideHiddenTraces(NbGraderPreprocessor):
    """In the cells that hold hidden tests, each error's traceback becomes its last line (the
    verdict's message): a traceback could quote the hidden line."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


# --- Collecting a learning-management system's download (nbgrader zip_collect) ---------------------
# Canvas ("Download Submissions"): one flat folder, each file named
#   <login>_<user id>_<attachment id>_<file name>        or, past the due date,
#   <login>_LATE_<user id>_<attachment id>_<file name>   (Canvas writes "late" or "LATE")
# where the user id is Canvas's numeric id of the student (the ID column of its gradebook), and a
# file uploaded again under the same name gets "-1", "-2" before its extension.
CANVAS = re.compile(r"^(?P<login>.+?)_(?:late_)?(?P<student_id>\d+)_(?P<attachment>\d+)_(?P<file>.+)$",
                    re.IGNORECASE)
# Moodle ("Download all submissions"): <Full Name>_<participant id>_assignsubmission_file_<file name>,
# or, with "download submissions in folders" (the default since Moodle 3.1), a folder per student,
# <Full Name>_<participant id>_assignsubmission_file/ (Moodle 4.1 on; "..._file_/" before). The
# participant id is the number of the grading worksheet's "Participant <id>"; Moodle replaces the
# underscores of a full name by spaces, and keeps its accents.
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<student_id>\d+)_assignsubmission_file_(?P<file>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<student_id>\d+)_assignsubmission_file_?$")
# What a re-upload or a browser adds to a file's name: Canvas's "-1", a browser's " (1)".
COPY_SUFFIX = re.compile(r"^(?P<stem>.+?)(?:-\d+| \(\d+\))+$")


def lms_submission(path: str) -> tuple[str, str] | None:
    """(student id, file name) that a Canvas or Moodle download's file at ``path`` belongs to, or None
    for any other name. The file name is the student's own, relative to their Moodle folder when
    they have one (``sub/ch01.ipynb``); Moodle folders are looked for among the parents of
    ``path``, Canvas and flat Moodle names in its last component."""
    parts = path.replace(os.sep, "/").split("/")
    for depth in range(len(parts) - 2, -1, -1):  # the nearest parent folder named like Moodle's
        folder = MOODLE_FOLDER.match(parts[depth])
        if folder:
            return folder["student_id"], "/".join(parts[depth + 1:])
    for pattern in (MOODLE_FILE, CANVAS):
        match = pattern.match(parts[-1])
        if match:
            return match["student_id"], match["file"]
    return None


def release_name(file_name: str, released: list[str]) -> str:
    """``file_name``, or the released notebook it is a copy of (``ch01-1.ipynb``, ``ch01 (2).ipynb``
    -> ``ch01.ipynb`` when ``released`` has it), so that it is graded as that notebook."""
    if file_name in released:
        return file_name
    folder, base = os.path.split(file_name)
    stem, ext = os.path.splitext(base)
    match = COPY_SUFFIX.match(stem)
    original = os.path.join(folder, match["stem"] + ext) if match else file_name
    return original if original in released else file_name


class LmsCollector(FileNameCollectorPlugin):
    """``nbgrader zip_collect``'s collector for Canvas and Moodle downloads (see :func:`lms_submission`
    for the names): the student id is Canvas's user id or Moodle's participant id, the file keeps the
    student's name for it, except that a copy's suffix on a released notebook's name is dropped
    (``ch01-1.ipynb`` is collected as ``ch01.ipynb``). Any other file, and any file that is not a
    notebook (``valid_ext``), is skipped with a warning that names it. The names carry no
    timestamp, so none is recorded."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._taken: dict[str, set[str]] = {}  # student id -> the file names given so far

    def released(self) -> list[str]:
        """The release's notebooks (relative paths), when run by ``nbgrader zip_collect``."""
        from nbgrader.utils import find_all_notebooks
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is None or not coursedir.assignment_id:
            return []
        return find_all_notebooks(coursedir.format_path(coursedir.release_directory, ".", coursedir.assignment_id))

    def skip(self, path: str, why: str) -> None:
        """Say that ``path`` is not collected, and why (``scripts/grade.py collect`` lists these lines:
        ``why`` has no parentheses)."""
        self.log.warning("skipped (%s): %s", why, path)

    def collect(self, submitted_file: str) -> dict | None:
        parts = submitted_file.replace(os.sep, "/").split("/")
        if "__MACOSX" in parts or parts[-1].startswith("."):
            self.skip(submitted_file, "a hidden or macOS metadata file")
            return None
        found = lms_submission(submitted_file)
        if found is None:
            self.skip(submitted_file, "not named like a Canvas or Moodle download")
            return None
        student, file_name = found
        if os.path.splitext(file_name)[1] not in self.valid_ext:
            self.skip(submitted_file, "not a notebook")
            return None
        taken = self._taken.setdefault(student, set())
        file_id = release_name(file_name, self.released())
        if file_id in taken:  # the released name is already another file's: keep this one's own
            file_id = file_name
        if file_id in taken:
            self.skip(submitted_file, "another file of this student has the same name")
            return None
        taken.add(file_id)
        return {"student_id": student, "file_id": file_id}
