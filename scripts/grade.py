"""The instructor's grading commands (see book/instructors.md). Run from anywhere, with the
course environment's Python; the course directory is the repository root unless --course says.

    python scripts/grade.py check                         # is the sandbox (bubblewrap) usable here?
    python scripts/grade.py release [ASSIGNMENT ...]      # solutions/ -> notebooks/ (= make release)
    python scripts/grade.py collect ASSIGNMENT ZIP [ZIP ...]    # a Canvas or Moodle download -> submitted/
    python scripts/grade.py autograde ASSIGNMENT          # every submission, in parallel, sandboxed
    python scripts/grade.py autograde ASSIGNMENT --student ID   # regrade one student
    python scripts/grade.py feedback ASSIGNMENT           # feedback/<student>/<assignment>/*.html
    python scripts/grade.py export [--to grades.csv]      # every student's score, one row per assignment
    python scripts/grade.py export --lms canvas|moodle|plain --assignment ASSIGNMENT --to FILE
                                                          # one assignment's points, as the LMS imports them
    python scripts/grade.py scores ASSIGNMENT             # the score table, read from the gradebook

Submissions go to ``submitted/<student>/<assignment>/<assignment>.ipynb``, by hand or by ``collect``
from a learning-management system's bulk download (``nbgrader zip_collect`` with the grader's
``LmsCollector``, configured in ``nbgrader_config.py``: the student id is Canvas's user id or Moodle's
participant id, which ``export --lms`` writes back).

``autograde`` splits the class into ``--jobs`` groups (default: the number of cores) and runs one
``nbgrader autograde ASSIGNMENT --create --force`` per group (through ``grader/autograde.py``, which
starts the first sandbox before nbgrader is imported), in parallel; each grades its
students one after another, every submission in a sandboxed probe of its own (``grader/``, as
``nbgrader_config.py`` configures), with one thread (``OMP_NUM_THREADS=1``). Before that, every
submission folder is prepared (:func:`prepare_submissions`: a renamed, empty or unreadable notebook,
with notes for the feedback); the grader's ``RepairSlips`` repairs the slips inside the notebooks
and prints what it did under the student's line. This script reads the
gradebook rather than nbgrader's exit status: a student whose grading failed (a locked database,
an unreadable notebook) is retried alone once, then given zero for every cell of the notebook,
with the reason in the log, so that the gradebook and the export always list the whole class.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, nbgrader_env  # noqa: E402


def nbgrader(args: list[str], course: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``nbgrader <args>`` in course directory ``course``, output captured."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
                          cwd=course, env=env or nbgrader_env(), capture_output=True, text=True)


def run_autograde(args: list[str], course: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``nbgrader autograde <args>`` in course directory ``course``, as ``grader/autograde.py`` runs it
    (the first probe started before nbgrader is imported), output captured."""
    return subprocess.run([sys.executable, str(ROOT / "grader" / "autograde.py"), *args,
                           f"--CourseDirectory.root={course}"],
                          cwd=course, env=env or grading_env(), capture_output=True, text=True)


def grading_env() -> dict[str, str]:
    env = nbgrader_env()
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def gradebook(course: Path):
    from nbgrader.api import Gradebook
    return Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="genedu")


def submitted_students(course: Path, assignment: str) -> list[str]:
    """Students with a folder submitted/<student>/<assignment>/ (whatever it holds)."""
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir())


def ensure_assignment(course: Path, assignment: str) -> None:
    """Make sure the gradebook knows the assignment (a fresh clone has no gradebook.db)."""
    from nbgrader.api import MissingEntry
    try:
        with gradebook(course) as gb:
            gb.find_assignment(assignment)
            return
    except MissingEntry:
        pass
    result = nbgrader(["generate_assignment", assignment, "--force"], course)
    if result.returncode != 0:
        sys.exit(f"nbgrader generate_assignment {assignment} failed:\n{result.stdout}{result.stderr}")


def graded(course: Path, assignment: str, student: str) -> bool:
    """Whether the gradebook holds an autograded submission of ``student`` (every cell scored)."""
    from nbgrader.api import MissingEntry
    try:
        with gradebook(course) as gb:
            submission = gb.find_submission(assignment, student)
            return all(g.auto_score is not None or g.manual_score is not None
                       for nb in submission.notebooks for g in nb.grades)
    except MissingEntry:
        return False


def zero(course: Path, assignment: str, student: str) -> None:
    """Record a submission that could not be graded: every cell zero (the student stays listed)."""
    import warnings
    with gradebook(course) as gb, warnings.catch_warnings():
        # nbgrader's add_submission makes SQLAlchemy warn about its autoflush (harmless; nbgrader's
        # own autograde does the same)
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.auto_score is None and grade.manual_score is None:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()


def autograde_group(course: Path, assignment: str, group: list[str], everyone: list[str],
                    extra: list[str] = ()) -> tuple[float, str]:
    """Autograde the students of ``group`` in ONE nbgrader process (nbgrader, torch and genedu are
    imported once for them all); returns (seconds, nbgrader's log)."""
    start = time.perf_counter()
    exclude = ",".join(s for s in everyone if s not in group)
    args = [assignment, "--create", "--force", *extra]
    args += [f"--CourseDirectory.student_id_exclude={exclude}"] if exclude else []
    if len(group) == 1:
        args += ["--student", group[0]]
    log = ""
    for attempt in range(2):
        result = run_autograde(args, course, grading_env())
        log += result.stdout + result.stderr
        if all(graded(course, assignment, s) for s in group) or "database is locked" not in log:
            break
    return time.perf_counter() - start, log


def prepare_submissions(course: Path, assignment: str) -> list[str]:
    """Make every submission folder of ``assignment`` hold a notebook nbgrader can grade, under the
    assignment's name, and leave notes for the grader's ``RepairSlips`` (which puts them at the top of
    the graded notebook, so in the feedback) in ``<course>/grader_notes/<assignment>/<student>.json``,
    where no student can write (notes found in a submission are ignored):

    - the folder's only notebook under another name (a browser's ``ch01 (1).ipynb``, a
      learning-management system's prefix) is graded under the assignment's name (a copy; the
      student's file is kept);
    - a notebook saved with a byte-order mark (some Windows editors) is rewritten without it;
    - a file that is not a notebook (empty, not JSON: ``genedu.checks.submission.read_notebook``), or
      a folder or link under the notebook's name, is kept as ``<name>.ipynb.unreadable`` and the
      blank release is graded in its place, as is the blank release for a folder without any
      notebook: every exercise scores 0, and the feedback says why (nbgrader would stop on the file
      and leave no feedback).

    Several notebooks none of which has the assignment's name are left alone (which is which cannot
    be guessed); a folder that cannot be prepared is left as it is, with a line that says why.
    Returns one line per change, for the log."""
    sys.path.insert(0, str(ROOT))
    from grader.sandbox import submission_module
    submission = submission_module()
    expected = sorted(p.name for p in (course / "solutions" / assignment).glob("*.ipynb"))
    release = course / "notebooks" / assignment / (expected[0] if expected else "")
    if len(expected) != 1 or not release.is_file():  # several notebooks: which file is which cannot be guessed
        return []
    notes_folder = course / submission.NOTES_FOLDER / assignment
    lines = []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        notes_file = notes_folder / f"{student}.json"
        notes: list[str] = []
        try:
            blank = _prepare(folder / expected[0], release, submission, notes)
            target = folder / expected[0]
            graded = hashlib.sha256(target.read_bytes()).hexdigest() if target.is_file() else ""
        except (OSError, ValueError) as err:
            lines.append(f"{student}: could not be prepared for grading ({type(err).__name__}: {err}); left as it is")
            continue
        if notes:
            notes_folder.mkdir(parents=True, exist_ok=True)
            notes_file.write_text(json.dumps(dict(notes=notes, blank=blank, graded=graded), indent=1) + "\n")
            lines += [f"{student}: {note}" for note in notes]
        elif notes_file.exists() and json.loads(notes_file.read_text()).get("graded") != graded:
            notes_file.unlink()  # a new submission since: the old notes are not about it (a regrade keeps them)
    return lines


def _prepare(target: Path, release: Path, submission, notes: list[str]) -> bool:
    """Prepare one submission folder (see :func:`prepare_submissions`), appending its notes; returns
    whether the blank release now stands in for the student's file."""
    folder = target.parent
    if not folder.is_dir() or folder.is_symlink():
        raise ValueError("the submission is not a folder")
    if (target.is_symlink() or target.exists()) and (target.is_symlink() or not target.is_file()):
        kept = target.with_name(target.name + ".unreadable")
        target.replace(kept)
        notes.append(f"{target.name!r} was not a file (a folder or a link); it is kept as {kept.name!r}.")
    found = [p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()]
    if not target.exists() and len(found) > 1:
        return False
    source = target if target.exists() else (found[0] if found else None)
    if source is None:
        others = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        shutil.copyfile(release, target)
        notes.append(f"The submission holds no notebook (it holds: {others}); the blank exercise notebook was "
                     "graded in its place, so every exercise scores 0.")
        return True
    data = source.read_bytes()
    try:
        nb = submission.read_notebook(data)
    except submission.Unreadable as err:
        kept = source.with_name(source.name + ".unreadable")
        source.replace(kept)
        shutil.copyfile(release, target)
        notes.append(f"The submitted file {source.name!r} could not be read: {err} It is kept as {kept.name!r}; "
                     f"the blank exercise notebook was graded in its place, so every exercise scores 0. "
                     f"{err.finding.fix}")
        return True
    if data.startswith(b"\xef\xbb\xbf"):  # nbformat cannot read a byte-order mark
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        notes.append("The notebook was saved with a byte-order mark (by a Windows editor); it is read without it.")
    elif source != target:
        shutil.copyfile(source, target)
    if source != target:
        notes.append(f"The notebook was submitted as {source.name!r}; it is graded as {target.name!r} "
                     "(the submission's only notebook).")
    return False


def autograde(course: Path, assignment: str, students: list[str] | None = None, jobs: int | None = None,
              quiet: bool = False, extra: list[str] = ()) -> dict[str, float]:
    """Autograde ``students`` (default: every submission) of ``assignment`` in ``jobs`` parallel
    nbgrader processes (default: the number of cores), each grading its share of the class one
    submission after another; every submission has its own sandboxed probe. Returns the seconds per
    student (a group's time shared out). ``extra``: more nbgrader arguments (e.g.
    ``--JudgedExecute.timeout=30``)."""
    ensure_assignment(course, assignment)
    for line in prepare_submissions(course, assignment):
        print(line, file=sys.stderr)
    everyone = submitted_students(course, assignment)
    students = students or everyone
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(students)))
    groups = [students[i::jobs] for i in range(jobs)]
    seconds: dict[str, float] = {}
    logs: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for group, (secs, log) in zip(groups, pool.map(
                lambda g: autograde_group(course, assignment, g, everyone, extra), groups)):
            for student in group:
                seconds[student], logs[student] = secs / len(group), log
    for student in students:
        if not graded(course, assignment, student):  # retried alone, then zero
            secs, log = autograde_group(course, assignment, [student], everyone, extra)
            seconds[student] += secs
            logs[student] = log
        if not graded(course, assignment, student):
            log = logs[student]
            reason = next((line for line in log.splitlines() if student in line and "rror" in line),
                          next((line for line in log.splitlines() if "ERROR" in line), "nbgrader recorded no grades"))
            zero(course, assignment, student)
            print(f"{student}: could not be graded ({reason.strip()}); scored 0", file=sys.stderr)
        elif not quiet:
            print(f"{student}: graded")
        if not quiet:  # what RepairSlips found and did (grader/nbgrader_plugins.py)
            for line in re.findall(rf"repaired {re.escape(student)}: (.+)$", logs[student], re.M):
                print(f"  {line}")
    return seconds


def scores(course: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """student -> {graded cell: (score, max score)} for every submission of the assignment."""
    table = {}
    with gradebook(course) as gb:
        for submission in gb.assignment_submissions(assignment):
            cells = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[grade.name] = (float(grade.score), float(grade.max_score))
            table[submission.student.id] = cells
    return table


def collect(course: Path, assignment: str, zips: list[Path]) -> int:
    """Collect a learning-management system's download: the ``zips`` replace whatever was in
    ``downloaded/<assignment>/archive/``, then ``nbgrader zip_collect <assignment> --force`` extracts
    them and copies each student's notebooks to ``submitted/<student>/<assignment>/`` (with the
    collector of ``nbgrader_config.py``). Prints the students collected, with their files, and the
    files skipped, with why; returns 0, or 1 when nothing was collected (nbgrader's log is printed)."""
    release = course / "notebooks" / assignment
    if not release.is_dir():
        known = ", ".join(sorted(p.name for p in (course / "notebooks").glob("*") if p.is_dir())) or "none"
        sys.exit(f"ASSIGNMENT {assignment!r}: no release folder notebooks/{assignment}/ (released: {known})")
    for path in zips:
        if not path.is_file():
            sys.exit(f"ZIP {str(path)!r}: no such file")
        if not zipfile.is_zipfile(path):
            sys.exit(f"ZIP {str(path)!r}: not a zip archive (expected the .zip a Canvas or Moodle download gives)")
    archive = course / "downloaded" / assignment / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    targets: dict[str, Path] = {}  # name in the archive -> the download
    for path in zips:
        name, n = path.name, 2
        while name in targets:  # two downloads both called submissions.zip
            name, n = f"{path.stem}-{n}{path.suffix}", n + 1
        targets[name] = path
    for old in sorted(archive.iterdir()):
        if old.name not in targets:
            print(f"removed the earlier download {old.relative_to(course)}")
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
    for name, path in targets.items():
        if path.resolve() != (archive / name).resolve():
            shutil.copyfile(path, archive / name)
    result = nbgrader(["zip_collect", assignment, "--force"], course)
    log = result.stdout + result.stderr
    submitted, extracted = course / "submitted", archive.parent / "extracted"
    collected: dict[str, list[str]] = {}
    for dest in re.findall(r"Copying to: (.+)$", log, re.M):
        dest = Path(dest.strip())
        if submitted in dest.parents:
            student, _, *file = dest.relative_to(submitted).parts
            collected.setdefault(student, []).append("/".join(file))
    skipped = re.findall(r"skipped \(([^)]*)\): (.+)$", log, re.M)
    released = {str(p.relative_to(release)) for p in release.rglob("*.ipynb")}
    if result.returncode != 0 or not collected:
        print(log, end="", file=sys.stderr)
    print(f"collected {len(collected)} student(s) of {assignment} into submitted/<student>/{assignment}/:")
    for student, files in sorted(collected.items()):
        print(f"  {student}: " + ", ".join(f if f in released else f"{f} (not a released notebook's name)"
                                          for f in sorted(files)))
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for why, path in skipped:
            path = Path(path.strip())
            shown = path.relative_to(extracted) if extracted in path.parents else path
            print(f"  {shown}: {why}")
    return result.returncode or (0 if collected else 1)


LMS_LAYOUTS = ("canvas", "moodle", "plain")


def number(value: float) -> str:
    """A score as a CSV cell: ``10``, ``7.5``, ``0.25``."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def class_points(course: Path, assignment: str) -> tuple[float, list[dict]]:
    """(the assignment's maximum points, one dict per student of the gradebook: ``id``, ``first``,
    ``last``, ``email``, ``points``, ``submitted``); a student without a submission has 0 points."""
    from nbgrader.api import MissingEntry
    with gradebook(course) as gb:
        try:
            max_points = float(gb.find_assignment(assignment).max_score)
        except MissingEntry:
            known = ", ".join(a.name for a in gb.assignments) or "none"
            sys.exit(f"--assignment {assignment!r}: not in the gradebook (it knows: {known}); "
                     "autograde it first")
        students = [dict(id=s.id, first=s.first_name or "", last=s.last_name or "", email=s.email or "")
                    for s in gb.students]
    table = scores(course, assignment)
    for student in students:
        cells = table.get(student["id"])
        student["submitted"] = cells is not None
        student["points"] = sum(score for score, _ in cells.values()) if cells else 0.0
    return max_points, sorted(students, key=lambda s: s["id"])


def lms_rows(layout: str, max_points: float, students: list[dict], column: str) -> list[list[str]]:
    """The CSV rows, header first, of one assignment's points in ``layout``:

    - ``plain``: ``student_id,points,max_points``;
    - ``canvas``: Canvas's gradebook import (``Student,ID,SIS User ID,SIS Login ID,Section`` then the
      assignment's column, and a ``Points Possible`` row); ID is the Canvas user id, which Canvas
      matches first, and the column ``column`` is an existing assignment's header as Canvas exports it
      (``Chapter 1 (123456)``) or a new assignment's title;
    - ``moodle``: Moodle's offline grading worksheet (what "Upload grading worksheet" reads: the
      ``Identifier`` ``Participant <id>``, ``Grade`` and ``Last modified (grade)``; the rest is for
      people). The last modification is now, so that Moodle takes these grades over older ones."""
    if layout == "plain":
        return [["student_id", "points", "max_points"]] + [
            [s["id"], number(s["points"]), number(max_points)] for s in students]
    if layout == "canvas":
        def sortable(s: dict) -> str:
            return ", ".join(n for n in (s["last"], s["first"]) if n)
        return ([["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
                 ["Points Possible", "", "", "", "", number(max_points)]]
                + [[sortable(s), s["id"], "", "", "", number(s["points"])] for s in students])
    if layout == "moodle":
        now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        return [["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                 "Grade can be changed", "Last modified (grade)"]] + [
            [f"Participant {s['id']}", " ".join(n for n in (s["first"], s["last"]) if n), s["email"],
             "Submitted for grading" if s["submitted"] else "No submission", number(s["points"]),
             number(max_points), "Yes", now] for s in students]
    raise ValueError(f"layout {layout!r}: expected one of {', '.join(LMS_LAYOUTS)}")


def export_lms(course: Path, layout: str, assignment: str, to: Path, column: str | None = None) -> int:
    """Write one assignment's points for every student of the gradebook to the CSV ``to``, in the
    ``layout`` an LMS imports (:func:`lms_rows`); ``column``: Canvas's assignment column (default:
    the assignment's name). Warns about student ids that an LMS cannot match."""
    max_points, students = class_points(course, assignment)
    rows = lms_rows(layout, max_points, students, column or assignment)
    with open(to, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    odd = [s["id"] for s in students if not s["id"].isdigit()]
    if layout != "plain" and odd:
        what = "Canvas user ids" if layout == "canvas" else "Moodle participant ids"
        print(f"warning: student ids that are not {what} (numbers), which {layout} will not match: "
              + ", ".join(odd), file=sys.stderr)
    print(f"wrote the {assignment} points of {len(students)} student(s) (out of {number(max_points)}), "
          f"for {layout}, to {to}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=ROOT, help="the course directory (default: the repository)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="say whether kernels can be sandboxed here")
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("autograde", help="autograde every submission (or one student's)")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only this student (repeatable): a regrade")
    p.add_argument("--jobs", type=int, default=None, help="parallel kernels (default: the number of cores)")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: nbgrader_config.py's)")
    p = sub.add_parser("feedback", help="write feedback/<student>/<assignment>/<assignment>.html")
    p.add_argument("assignment")
    p.add_argument("--student", default=None)
    p = sub.add_parser("collect", help="collect a Canvas or Moodle download into submitted/")
    p.add_argument("assignment")
    p.add_argument("zips", metavar="ZIP", nargs="+", type=Path, help="the LMS's bulk download (.zip)")
    p = sub.add_parser("export", help="export every student's grades to CSV (or one assignment's, for an LMS)")
    p.add_argument("--to", default="grades.csv")
    p.add_argument("--lms", choices=LMS_LAYOUTS, default=None,
                   help="write one assignment's points in the CSV layout this LMS imports")
    p.add_argument("--assignment", default=None, help="the assignment (with --lms)")
    p.add_argument("--column", default=None,
                   help="with --lms canvas: the assignment's column header in Canvas, e.g. 'Chapter 1 (123456)' "
                        "(default: the assignment's name, which Canvas matches by title or makes a new assignment)")
    p = sub.add_parser("scores", help="print the score table of an assignment")
    p.add_argument("assignment")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command == "export" and args.lms is None and (args.assignment or args.column):
        parser.error("export: --assignment and --column go with --lms (without it, every assignment is exported)")
    if args.command == "export" and args.lms and not args.assignment:
        parser.error(f"export --lms {args.lms}: --assignment is required (the assignment the LMS imports)")
    if args.command == "export" and args.column and args.lms != "canvas":
        parser.error("export: --column is Canvas's assignment column, for --lms canvas only")

    if args.command == "check":
        sys.path.insert(0, str(ROOT))
        from grader.sandbox import sandbox_available
        ok, why = sandbox_available()
        print(why)
        return 0 if ok else 1
    if args.command == "release":
        return subprocess.call([sys.executable, str(ROOT / "scripts" / "release.py"), *args.assignments],
                               env=nbgrader_env())
    if args.command == "autograde":
        start = time.perf_counter()
        extra = [f"--JudgedExecute.timeout={args.cell_timeout}"] if args.cell_timeout else []
        seconds = autograde(course, args.assignment, args.student, args.jobs, extra=extra)
        print(f"graded {len(seconds)} submission(s) of {args.assignment} in {time.perf_counter() - start:.1f} s")
        return 0
    if args.command == "feedback":
        extra = ["--student", args.student] if args.student else []
        result = nbgrader(["generate_feedback", args.assignment, "--force", *extra], course)
        print(result.stdout + result.stderr, end="")
        return result.returncode
    if args.command == "collect":
        return collect(course, args.assignment, args.zips)
    if args.command == "export" and args.lms:
        return export_lms(course, args.lms, args.assignment, Path(args.to).resolve(), args.column)
    if args.command == "export":
        result = nbgrader(["export", "--to", str(Path(args.to).resolve())], course)
        print(result.stdout + result.stderr, end="")
        return result.returncode
    if args.command == "scores":
        for student, cells in sorted(scores(course, args.assignment).items()):
            total = sum(s for s, _ in cells.values())
            print(f"{student:24s} {total:5.1f}  " + json.dumps({g: s for g, (s, _) in cells.items()}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
