"""The instructor's grading commands (see book/instructors.md). Run from anywhere, with the
course environment's Python; the course directory is the repository root unless --course says.

    python scripts/grade.py check                         # is the sandbox (bubblewrap) usable here?
    python scripts/grade.py release [ASSIGNMENT ...]      # solutions/ -> notebooks/ (= make release)
    python scripts/grade.py autograde ASSIGNMENT          # every submission, in parallel, sandboxed
    python scripts/grade.py autograde ASSIGNMENT --student ID   # regrade one student
    python scripts/grade.py feedback ASSIGNMENT           # feedback/<student>/<assignment>/*.html
    python scripts/grade.py export [--to grades.csv]      # every student's score, one row per assignment
    python scripts/grade.py scores ASSIGNMENT             # the score table, read from the gradebook
    python scripts/grade.py timing [ASSIGNMENT ...] [--batch 30]   # seconds to grade (temporary course)

Submissions go to ``submitted/<student>/<assignment>/<assignment>.ipynb``.

``autograde`` runs one ``nbgrader autograde ASSIGNMENT --student ID --create --force`` per
student, ``--jobs`` at a time (default: the number of cores), each kernel with one thread
(``OMP_NUM_THREADS=1``) in the sandbox that ``nbgrader_config.py`` configures. ``nbgrader
autograde`` exits 1 when a submission's kernel died (an answer that kills it, say), so this script
reads the gradebook instead: every submitted student must have a graded submission afterwards.
A student whose grading failed for another reason (a locked database, an unreadable notebook) is
retried once, then given zero for every cell of the notebook, with the reason in the log, so that
the gradebook and the export always list the whole class.
"""
from __future__ import annotations

import argparse
import json
import os
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


def autograde_one(course: Path, assignment: str, student: str, extra: list[str] = ()) -> tuple[str, float, str]:
    """Autograde one student's submission; returns (student, seconds, nbgrader's log)."""
    start = time.perf_counter()
    log = ""
    for attempt in range(2):
        result = nbgrader(["autograde", assignment, "--student", student, "--create", "--force", *extra],
                          course, grading_env())
        log += result.stdout + result.stderr
        if graded(course, assignment, student) or "database is locked" not in log:
            break
    return student, time.perf_counter() - start, log


def autograde(course: Path, assignment: str, students: list[str] | None = None, jobs: int | None = None,
              quiet: bool = False, extra: list[str] = ()) -> dict[str, float]:
    """Autograde ``students`` (default: every submission) of ``assignment``; returns seconds per student.
    ``extra``: more nbgrader arguments (e.g. ``--Execute.timeout=30``)."""
    ensure_assignment(course, assignment)
    students = students or submitted_students(course, assignment)
    jobs = jobs or os.cpu_count() or 1
    seconds = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for student, secs, log in pool.map(lambda s: autograde_one(course, assignment, s, extra), students):
            seconds[student] = secs
            if not graded(course, assignment, student):
                reason = next((line for line in log.splitlines() if "ERROR" in line or "Error" in line),
                              "nbgrader recorded no grades")
                zero(course, assignment, student)
                print(f"{student}: could not be graded ({reason.strip()}); scored 0", file=sys.stderr)
            elif not quiet:
                dead = " (its kernel died; the cells it did not reach score 0)" if "DeadKernelError" in log \
                    or "Kernel died" in log else ""
                print(f"{student}: graded in {secs:.1f} s{dead}")
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


def timing(names: list[str], batch: int = 0, jobs: int | None = None) -> None:
    """Print the wall-clock time to autograde one solved submission of each assignment, and, with
    ``batch``, a class of that many solved submissions of the first one (in temporary courses)."""
    import shutil
    import tempfile

    import nbformat
    from course import fill_answers, solved_answers

    def course_with(name: str, tmp: Path, students: int) -> None:
        shutil.copy(ROOT / "nbgrader_config.py", tmp)
        shutil.copytree(ROOT / "solutions" / name, tmp / "solutions" / name)
        result = nbgrader(["generate_assignment", name, "--force"], tmp)
        if result.returncode:
            raise RuntimeError(result.stdout + result.stderr)
        release = nbformat.read(tmp / "notebooks" / name / f"{name}.ipynb", as_version=4)
        source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        solved = fill_answers(release, solved_answers(source))
        for i in range(students):
            path = tmp / "submitted" / f"student{i:03d}" / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(solved, path)

    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            course_with(name, Path(tmp), 1)
            start = time.perf_counter()
            autograde(Path(tmp), name, jobs=1, quiet=True)
            total = sum(s for s, _ in scores(Path(tmp), name)["student000"].values())
            print(f"  {name:40s} one submission {time.perf_counter() - start:6.1f} s (score {total:g})")
    if batch and names:
        with tempfile.TemporaryDirectory() as tmp:
            course_with(names[0], Path(tmp), batch)
            start = time.perf_counter()
            autograde(Path(tmp), names[0], jobs=jobs, quiet=True)
            wall = time.perf_counter() - start
            print(f"  {names[0]:40s} {batch} submissions, {jobs or os.cpu_count()} jobs: {wall:6.1f} s "
                  f"({wall / batch:.1f} s each)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


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
    p = sub.add_parser("timing", help="time autograding (one submission per assignment; --batch N of the first)")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    course = args.course.resolve()

    if args.command == "check":
        sys.path.insert(0, str(ROOT / "genedu" / "checks"))
        import _sandbox
        ok, why = _sandbox.sandbox_available()
        print(why)
        return 0 if ok else 1
    if args.command == "release":
        return subprocess.call([sys.executable, str(ROOT / "scripts" / "release.py"), *args.assignments],
                               env=nbgrader_env())
    if args.command == "autograde":
        start = time.perf_counter()
        extra = [f"--Execute.timeout={args.cell_timeout}"] if args.cell_timeout else []
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
    if args.command == "timing":
        from course import assignments
        timing(args.assignments or assignments(), args.batch, args.jobs)
        return 0
    if args.command == "scores":
        for student, cells in sorted(scores(course, args.assignment).items()):
            total = sum(s for s, _ in cells.values())
            print(f"{student:24s} {total:5.1f}  " + json.dumps({g: s for g, (s, _) in cells.items()}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
