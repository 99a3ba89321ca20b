"""The instructor's grading commands (see book/instructors.md). Run from anywhere, with the
course environment's Python; the course directory is the repository root unless --course says.

    python scripts/grade.py check                         # is the sandbox (bubblewrap) usable here?
    python scripts/grade.py release [ASSIGNMENT ...]      # solutions/ -> notebooks/ (= make release)
    python scripts/grade.py autograde ASSIGNMENT          # every submission, in parallel, sandboxed
    python scripts/grade.py autograde ASSIGNMENT --student ID   # regrade one student
    python scripts/grade.py feedback ASSIGNMENT           # feedback/<student>/<assignment>/*.html
    python scripts/grade.py export [--to grades.csv]      # every student's score, one row per assignment
    python scripts/grade.py scores ASSIGNMENT             # the score table, read from the gradebook

Submissions go to ``submitted/<student>/<assignment>/<assignment>.ipynb``.

``autograde`` splits the class into ``--jobs`` groups (default: the number of cores) and runs one
``nbgrader autograde ASSIGNMENT --create --force`` per group (through ``grader/autograde.py``, which
starts the first sandbox before nbgrader is imported), in parallel; each grades its
students one after another, every submission in a sandboxed probe of its own (``grader/``, as
``nbgrader_config.py`` configures), with one thread (``OMP_NUM_THREADS=1``). This script reads the
gradebook rather than nbgrader's exit status: a student whose grading failed (a locked database,
an unreadable notebook) is retried alone once, then given zero for every cell of the notebook,
with the reason in the log, so that the gradebook and the export always list the whole class.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
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


def rename_slips(course: Path, assignment: str) -> list[str]:
    """Submissions whose notebook is not under the assignment's name but is the folder's only
    notebook under another (a browser's ``ch01 (1).ipynb``, a learning-management system's prefix):
    a copy under the expected name is graded (nbgrader would find no notebook and score 0). The
    student's file is kept. Returns one line per copy made, for the log."""
    expected = sorted(p.name for p in (course / "solutions" / assignment).glob("*.ipynb"))
    if len(expected) != 1:  # several notebooks: which file is which cannot be guessed
        return []
    lines = []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        target = folder / expected[0]
        found = [p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()]
        if not target.exists() and len(found) == 1:
            shutil.copyfile(found[0], target)
            lines.append(f"{folder.parent.name}: graded {found[0].name!r} as {expected[0]!r} "
                         "(the folder's only notebook, under another name)")
    return lines


def autograde(course: Path, assignment: str, students: list[str] | None = None, jobs: int | None = None,
              quiet: bool = False, extra: list[str] = ()) -> dict[str, float]:
    """Autograde ``students`` (default: every submission) of ``assignment`` in ``jobs`` parallel
    nbgrader processes (default: the number of cores), each grading its share of the class one
    submission after another; every submission has its own sandboxed probe. Returns the seconds per
    student (a group's time shared out). ``extra``: more nbgrader arguments (e.g.
    ``--JudgedExecute.timeout=30``)."""
    ensure_assignment(course, assignment)
    for line in rename_slips(course, assignment):
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
    p = sub.add_parser("export", help="export every student's grades to CSV")
    p.add_argument("--to", default="grades.csv")
    p = sub.add_parser("scores", help="print the score table of an assignment")
    p.add_argument("assignment")
    args = parser.parse_args(argv)
    course = args.course.resolve()

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
