"""Grade one notebook directly, without nbgrader: the same sandbox and judgement as autograde, for
developing checks and for the grader's self-tests.

    python -m grader.direct ASSIGNMENT                     # the solutions, every test cell's verdict
    python -m grader.direct ASSIGNMENT --blank             # the release as students get it
    python -m grader.direct ASSIGNMENT --notebook FILE     # any submission of it
    python -m grader.direct ASSIGNMENT --answer ex2-answer=FILE   # the solutions, one answer replaced

The test cells always come from the instructor's source (as nbgrader restores them).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def restore_tests(submission, source) -> None:
    """Put the instructor's test cells into ``submission`` (in place), as nbgrader's OverwriteCells
    does: by grade_id, and appended when the student deleted one."""
    from grader.judge import is_test
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if is_test(c)}
    seen = set()
    for cell in submission.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in tests:
            cell.source, cell.cell_type, cell.metadata = tests[gid].source, "code", tests[gid].metadata
            cell.setdefault("outputs", [])
            seen.add(gid)
    submission.cells += [nbformat.from_dict(json.loads(json.dumps(c))) for gid, c in tests.items() if gid not in seen]


def grade(submission, source, *, sandboxed: bool = True, timeout: float = 60, budget: float = 300,
          course_root: str | None = None) -> dict:
    """Grade ``submission`` (a notebook) against the instructor's ``source``: grade_id -> Verdict."""
    from grader import judge
    restore_tests(submission, source)
    sources = [c.source for c in submission.cells if judge.is_test(c)]
    with tempfile.TemporaryDirectory(prefix="genedu-direct-") as folder:
        nbformat.write(submission, Path(folder) / "submission.ipynb")  # as in autograded/<student>/<assignment>/
        session = judge.open_session(folder, course_root or str(ROOT), sources, cell_timeout=timeout, budget=budget,
                                     sandboxed=sandboxed)
        try:
            return judge.run_notebook(session, submission.cells)
        finally:
            session.close()


def main(argv: list[str] | None = None) -> int:
    from course import fill_answers, solved_answers
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment")
    parser.add_argument("--blank", action="store_true", help="grade the release as students receive it")
    parser.add_argument("--notebook", type=Path, help="grade this notebook")
    parser.add_argument("--answer", action="append", default=[], help="GRADE_ID=FILE: replace one answer")
    parser.add_argument("--unsandboxed", action="store_true")
    args = parser.parse_args(argv)
    name = args.assignment
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    if args.notebook:
        submission = nbformat.read(args.notebook, as_version=4)
    elif args.blank:
        submission = release
    else:
        answers = solved_answers(source)
        for item in args.answer:
            gid, path = item.split("=", 1)
            answers[gid] = Path(path).read_text()
        submission = fill_answers(release, answers)
    start = time.perf_counter()
    verdicts = grade(submission, source, sandboxed=not args.unsandboxed)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points", 0) for c in source.cells
              if "nbgrader" in c.metadata}
    total = 0.0
    for gid, v in verdicts.items():
        total += points[gid] if v.passed else 0
        print(f"{gid:12s} {'pass' if v.passed else 'FAIL'}  {v.message if not v.passed else v.lines[-1] if v.lines else ''}")
    errors = [(i, o) for i, c in enumerate(submission.cells) if c.cell_type == "code" and not
              c.get("metadata", {}).get("nbgrader", {}).get("grade") for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    for i, o in errors:
        print(f"cell {i}: {o['ename']}: {o['evalue'][:300]}")
    print(f"score {total:g} / {sum(points[g] for g in verdicts):g} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
