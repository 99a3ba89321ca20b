"""The grader is tested like code: nbgrader's real generate_assignment and autograde, run in a
temporary course directory for every assignment in solutions/.

For each assignment, one batch of submissions is autograded:

- ``solved``: the release with every answer cell filled with the solution -> full marks;
- ``unchanged``: the release as students receive it -> zero, and no crash;
- ``wrong-odd``, ``wrong-even``: the solved notebook with every other answer made wrong (the first,
  third, ... exercises; the second, fourth, ...) -> exactly those exercises' points lost, each wrong
  answer between right ones. The wrong answer is the one written in ``solutions/<name>/wrong_answers.py``
  (a dict ``WRONG_ANSWERS = {grade_id: source}``, for answers a generic change cannot break, such as
  one that builds or trains a model); otherwise the solution with its function's floating-point
  outputs scaled by 1.1 and shifted by 0.1;
- both corpora of scripts/hostile.py, packed several to a notebook (one attack or a few honest
  habits per answer cell): ``attacks-<i>``, every attack of the hostile corpus on the chapter's checks
  and references, a raising answer and one that kills the probe (the attacks that hang, and those on
  the probe and the wire, which are the same for every chapter, are tried each alone on chapter 1 by
  tests/test_grader_hostile.py) -> each attacked
  exercise scores 0 and every other keeps its marks, and nothing an attack sent ran in the grader;
  ``honest-habits``, the solutions with every honest habit of the corpus (``%%time``, prints,
  magics, standard imports, helper classes, ...) and every slip of scripts/slips.py that can share a
  notebook, under a browser's name -> full marks, and the grader's notes on the slips at the top of
  the graded notebook; ``wrong-odd`` is saved by VS Code (no cell metadata).

The batch is graded the way an instructor grades a class: scripts/grade.py (parallel over the cores,
every submission in its own sandboxed probe, judged in the grader).
"""
from __future__ import annotations

import json
import re
import shutil

import grade
import hostile
import nbformat
import pytest
import slips
from conftest import ROOT, assignments, grading_jobs, run_nbgrader
from course import fill_answers, solved_answers

# Attacks tried on chapter 1 only, each alone in its own notebook (test_grader_hostile.py), not packed into
# every chapter's batch: those that make the grader wait for a time-out, and those aimed at the probe
# process and the wire rather than at a chapter's checks (the probe, the sandbox and the wire are the same
# for every chapter). Each of those kills or floods the probe, and every kill costs a restart that replays
# the notebook so far: packed five to a notebook they made it the slowest of its chapter's batch (62 s for
# chapter 2, 87 s for chapter 7, against 8-15 s for a solved notebook). Every chapter keeps the attacks on
# its checks and references, a raising answer, and one kill (`os-kill`), so that each chapter's notebook is
# still replayed after a crash.
SLOW_ATTACKS = ("ignores-alarm", "endless-loop", "catches-interrupt")
PROCESS_ATTACKS = ("pickle-payload", "huge-output", "closes-pipes", "sys-exit", "os-exit", "exit", "memory",
                   "writes-1gib", "magic-shell")

# Appended to one answer cell to make exactly that answer wrong, whatever the chapter.
BREAK_ANSWER = '''

def _make_wrong(fn):
    import functools
    import torch

    def perturb(out):
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            return out * 1.1 + 0.1
        if isinstance(out, (tuple, list)):
            return type(out)(perturb(o) for o in out)
        return out

    @functools.wraps(fn)
    def wrong(*args, **kwargs):
        return perturb(fn(*args, **kwargs))
    return wrong

{name} = _make_wrong({name})
'''


def answer_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]


def defined_function(source: str) -> str:
    match = re.search(r"^def (\w+)\(", source, re.M)
    assert match, f"answer cell defines no function:\n{source}"
    return match.group(1)


@pytest.fixture(scope="module", params=assignments())
def graded(request, tmp_path_factory):
    """Generate the release of one assignment in a temporary course and autograde a batch."""
    name = request.param
    course = tmp_path_factory.mktemp(name)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    run_nbgrader(["generate_assignment", name, "--force"], course)
    release = nbformat.read(course / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    solved_code = solved_answers(source)

    def submission(answers: dict[str, str]):
        return fill_answers(release, answers)

    # which graded test cell checks which answer: the first graded cell after the answer
    order = [(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]) for c in release.cells
             if "nbgrader" in c.metadata]
    tested_by = {}
    for i, (gid, meta) in enumerate(order):
        if meta.get("solution") and gid in solved_code:
            tested_by[gid] = next(g for g, m in order[i + 1:] if m.get("grade"))

    students = {"solved": submission(solved_code), "unchanged": submission({})}
    explicit = hostile.explicit_wrong_answers(name)
    # the wrong answers in two notebooks, every other exercise wrong in each: a wrong answer next to right
    # ones, on both sides (one notebook per wrong answer graded the same thing in three times the time)
    wrong_sets = {}
    for part, gids in (("odd", list(tested_by)[0::2]), ("even", list(tested_by)[1::2])):
        broken = dict(solved_code)
        for gid in gids:
            broken[gid] = explicit.get(gid) or solved_code[gid] + BREAK_ANSWER.format(name=defined_function(solved_code[gid]))
        students[f"wrong-{part}"] = submission(broken)
        wrong_sets[f"wrong-{part}"] = gids
    packed = hostile.hostile_notebooks(name, release, source, skip=SLOW_ATTACKS + PROCESS_ATTACKS)
    attacks = {}
    for i, (what, content, zero, full) in enumerate(packed):
        attacks[f"attacks-{i}"] = (what, zero, full)
        students[f"attacks-{i}"] = nbformat.reads(content.decode(), as_version=4)
    # the honest habits, with every slip of scripts/slips.py that can share a notebook, under a browser's
    # name for it; the first exercise made wrong in a notebook saved by VS Code (every cell's metadata
    # dropped): slips cost nothing, whatever the answers (no notebook added to the batch for them)
    habits = json.loads(hostile.honest_notebook(release, source).decode())
    students["honest-habits"] = slips.packed(release, source, notebook=habits)
    first = "wrong-odd"                       # the first exercise is wrong in it
    students[first] = json.loads(json.dumps(students[first]))
    slips.vscode(students[first], None)
    file_names = {"honest-habits": f"{name} (1).ipynb"}
    for student, nb in students.items():
        path = course / "submitted" / student / name / file_names.get(student, f"{name}.ipynb")
        path.parent.mkdir(parents=True)
        path.write_bytes(slips.as_bytes(nb))
    hostile.PWNED.unlink(missing_ok=True)
    grade.autograde(course, name, quiet=True, jobs=grading_jobs())

    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        max_score = gb.find_assignment(name).max_score
        for student in students:
            nb = gb.find_submission_notebook(name, name, student)
            scores[student] = {g.name: (g.score, g.max_score) for g in nb.grades}
    log = (course / ".nbgrader.log").read_text() if (course / ".nbgrader.log").exists() else ""
    notes = {}
    for student in students:
        nb = json.loads((course / "autograded" / student / name / f"{name}.ipynb").read_text())
        first = nb["cells"][0]
        notes[student] = "".join(first["source"]) if "grader's notes" in "".join(first["source"]) else ""
    return dict(name=name, course=course, scores=scores, max_score=max_score, tested_by=tested_by,
                wrong_sets=wrong_sets, log=log, attacks=attacks, pwned=hostile.PWNED.exists(), notes=notes)


def total(cells: dict) -> float:
    return sum(score for score, _ in cells.values())


def test_solutions_get_full_marks(graded):
    scores = graded["scores"]["solved"]
    assert total(scores) == graded["max_score"] > 0, (scores, graded["log"][-3000:])


def test_unchanged_release_gets_zero(graded):
    scores = graded["scores"]["unchanged"]
    assert scores, "the unchanged release was not graded"
    assert total(scores) == 0, scores


def test_wrong_answers_lose_exactly_their_points(graded):
    """Every exercise is wrong in one of two notebooks (every other exercise in each): each wrong answer
    loses its test cell's points, and the right answers around it keep theirs."""
    assert graded["tested_by"], "no answer cell is followed by a graded test cell"
    assert sorted(sum(graded["wrong_sets"].values(), [])) == sorted(graded["tested_by"])
    for student, answers in graded["wrong_sets"].items():
        scores = graded["scores"][student]
        lost = {gid for gid, (score, max_score) in scores.items() if score != max_score}
        expected = {graded["tested_by"][answer] for answer in answers}
        assert lost == expected, (f"{student}: breaking {answers} cost the cells {lost}, expected {expected}",
                                  graded["log"][-3000:])
        for gid in lost:
            assert scores[gid][0] == 0, f"{student}: {gid} kept {scores[gid][0]} points"


def test_attacks_get_no_marks_and_cost_nothing_else(graded):
    """Every attack of the corpus, one per answer cell: the attacked exercises score 0 (each answer is
    wrong or not an answer, so only a working attack could win marks), every other keeps its marks,
    and no code an attack sent ran in the grader."""
    assert len(graded["attacks"]) >= 3, "the packed hostile corpus is missing"
    for student, (what, zero, full) in graded["attacks"].items():
        cells = graded["scores"][student]
        for gid in zero:
            assert cells[gid][0] == 0, f"{student}: {gid} scored {cells[gid][0]} ({what})"
        for gid in full:
            assert cells[gid][0] == cells[gid][1], f"{student}: {gid} lost marks ({what})"
    assert not graded["pwned"], "an attack's pickle ran in the grader"


def test_honest_habits_keep_full_marks(graded):
    """%%time, prints of versions, %matplotlib inline, %timeit, warnings, pathlib, os.getcwd, dir(),
    helper classes with __repr__, `if __name__ == "__main__"`, reading and writing a file, ..."""
    scores = graded["scores"]["honest-habits"]
    assert total(scores) == graded["max_score"], scores


def test_slips_keep_full_marks_and_are_noted(graded):
    """The honest-habits notebook also holds the slips of scripts/slips.py (saved by Colab under a
    browser's " (1)" name, 12 MB of outputs, a test cell pasted twice, an answer split mid-function, a
    test above its answer, an answer that lost its metadata, a test left as Markdown, an answer
    rewritten in a new cell): full marks (test_honest_habits_keep_full_marks), and the graded notebook
    (so the feedback) starts with the grader's notes on them. The first wrong-answer notebook, saved
    by VS Code, loses exactly its exercises' points (test_wrong_answers_lose_exactly_their_points)
    and is noted. The solutions get no notes."""
    notes = graded["notes"]["honest-habits"]
    for words in ("submitted as", "MB of cell outputs", "joined into one cell", "judged once", "recognised by content",
                  "graded as usual", "graded as in the exercise notebook"):
        assert words in notes, f"the notes do not say {words!r}:\n{notes}"
    assert "lost the nbgrader metadata" in graded["notes"]["wrong-odd"], graded["notes"]["wrong-odd"]
    assert graded["notes"]["solved"] == ""


def test_every_graded_cell_has_points(graded):
    for gid, (_, max_score) in graded["scores"]["solved"].items():
        assert max_score > 0, f"graded cell {gid} carries no points"


@pytest.mark.parametrize("name", assignments())
def test_committed_release_matches_solutions(name, tmp_path):
    """notebooks/ is exactly what nbgrader generates from solutions/ now."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions" / name, tmp_path / "solutions" / name)
    run_nbgrader(["generate_assignment", name, "--force"], tmp_path)
    fresh = sorted(p.relative_to(tmp_path / "notebooks") for p in (tmp_path / "notebooks").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "notebooks") for p in (ROOT / "notebooks" / name).rglob("*") if p.is_file())
    assert fresh == committed, "the files of the release differ; run: python scripts/release.py"
    for rel in fresh:
        assert (tmp_path / "notebooks" / rel).read_bytes() == (ROOT / "notebooks" / rel).read_bytes(), (
            f"notebooks/{rel} is out of date; run: python scripts/release.py {name}")


@pytest.mark.parametrize("name", assignments())
def test_release_has_no_solutions(name):
    text = (ROOT / "notebooks" / name / f"{name}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    assert not list((ROOT / "notebooks" / name).glob("*.py")), "a py:percent source leaked into the release"
    nb = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    for cell in answer_cells(nb):
        assert "raise NotImplementedError()" in cell.source


def test_sources_in_sync_with_py_percent():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", assignments())
def test_notebook_expects_installed_genedu(name):
    import genedu
    text = (ROOT / "solutions" / name / f"{name}.ipynb").read_text()
    match = re.search(r'COURSE_GENEDU_VERSION = \\"([^"\\]+)\\"', text)
    assert match, "the setup cell must define COURSE_GENEDU_VERSION"
    assert match.group(1) == genedu.__version__


def test_every_submission_has_every_grade(graded, capsys):
    """The gradebook is complete: each submission has a grade for each graded cell. (Prints the
    batch's score table too; pytest -s shows it.)"""
    with capsys.disabled():
        print(f"\n{graded['name']}: max {graded['max_score']}")
        for student, cells in graded["scores"].items():
            print(f"  {student:32s} {total(cells):5.1f}  " + " ".join(f"{g}={s:g}/{m:g}" for g, (s, m) in cells.items()))
    graded_cells = set(graded["scores"]["solved"])
    for student, cells in graded["scores"].items():
        assert set(cells) == graded_cells, f"{student} lacks grades for {graded_cells - set(cells)}"


def test_plain_nbgrader_autograde_grades_too(tmp_path):
    """An instructor may run ``nbgrader autograde`` itself rather than scripts/grade.py (which runs
    grader/autograde.py): the probe is then started from nbgrader_config.py, and grades the same."""
    name = assignments()[0]
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions" / name, tmp_path / "solutions" / name)
    run_nbgrader(["generate_assignment", name, "--force"], tmp_path)
    release = nbformat.read(tmp_path / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    path = tmp_path / "submitted" / "solved" / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(fill_answers(release, solved_answers(source)), path)
    result = run_nbgrader(["autograde", name, "--create", "--force"], tmp_path, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    cells = grade.scores(tmp_path, name)["solved"]
    assert cells and all(score == max_score for score, max_score in cells.values()), cells


def test_attacks_left_out_of_the_batches_are_tried_alone_on_chapter_1():
    """Every attack the chapters' batches skip is a real corpus entry, and the hostile batch of
    test_grader_hostile.py grades each of them alone: none is tested nowhere."""
    corpus = {n for n, _, _ in hostile.ATTACKS}
    skipped = set(SLOW_ATTACKS + PROCESS_ATTACKS)
    assert skipped <= corpus, f"not in scripts/hostile.py's corpus: {skipped - corpus}"
    assert "os-kill" in corpus - skipped and "raises" in corpus - skipped, "each chapter keeps a crash and a raise"
    import test_grader_hostile
    assert test_grader_hostile.HOSTILE == assignments()[0]
    name = assignments()[0]
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    alone = {case.student for case in hostile.hostile_cases(name, release, source, None)}
    assert skipped <= alone, f"graded nowhere: {skipped - alone}"
