"""The slips students make in Jupyter (scripts/slips.py), repaired by genedu.checks.submission on
every chapter's notebook, without nbgrader: after the repair, a slipped notebook must be the released
notebook's structure (every nbgrader cell once, of its type, with its metadata, in a place nbgrader
accepts) and must leave a kernel with the solution's definitions. The graded end of it (nbgrader and
the sandbox, scores and feedback) is in test_grader.py (the packed slips, every chapter) and
test_grader_hostile.py (each slip alone, chapter 1).

Also: the students' check (``check_submission`` and ``python -m genedu.checks.submission``) says
"will grade as it stands" or names the problem; the shipped manifests are the releases'.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT, assignments

import slips
from genedu.checks import submission


@pytest.fixture(scope="module", params=assignments())
def chapter(request):
    name = request.param
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    return dict(name=name, release=release, source=source, manifest=submission.manifest(release, name),
                solved=slips.slipped(release, source))


def structure(nb) -> list[tuple]:
    """The nbgrader cells in order: (grade_id, cell type, the nbgrader metadata)."""
    return [(c["metadata"]["nbgrader"]["grade_id"], c["cell_type"], c["metadata"]["nbgrader"])
            for c in nb["cells"] if "nbgrader" in c.get("metadata", {})]


def assert_graded_as_solved(nb, chapter, ordered=True):
    want = structure(chapter["solved"])
    got = structure(nb)
    if not ordered:
        want, got = sorted(want, key=str), sorted(got, key=str)
    assert [g for g, _, _ in got] == [g for g, _, _ in want], "the nbgrader cells differ from the release's"
    assert got == want, "a cell's type or metadata differs from the release's"
    tests = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in chapter["release"].cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in tests:
            assert cell["source"] == tests[gid], f"{gid}: the test's source changed"
    locked = [submission._norm(e["source"]) for e in chapter["manifest"]["cells"] if e["role"] != "answer"]
    texts = [submission._norm(c["source"]) for c in nb["cells"]]
    twice = [t.splitlines()[0] for t in set(locked) if texts.count(t) != locked.count(t)]
    assert not twice, f"a locked or test cell is not there exactly once: {twice}"
    nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))
    assert slips.final_definitions(nb) == slips.final_definitions(chapter["solved"]), \
        "running the repaired notebook's code does not define what the solutions define"


# what the repair must say about each slip of scripts/slips.py
FOUND = {"pasted-test": {"pasted"}, "split-answer": {"split-answer"}, "test-above-answer": {"test-above-answer"},
         "toggled-answer": {"metadata-lost"}, "test-left-markdown": {"cell-type"},
         "answer-moved": {"metadata-lost", "test-above-answer"},
         "vscode": {"metadata-lost"}, "colab": set(), "big-outputs": {"large-outputs"}}


def code_sources(nb) -> list[str]:
    return [submission._text(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("slip", [s for s in slips.SLIPS if s not in ("test-above-answer", "answer-moved")])
def test_each_slip_is_repaired(chapter, slip):
    nb = slips.slipped(chapter["release"], chapter["source"], slip)
    findings = submission.repair(nb, chapter["manifest"])
    assert {f.slip for f in findings} == FOUND[slip], [f.line() for f in findings]
    assert not [f for f in findings if f.costs], [f.line() for f in findings]
    assert_graded_as_solved(nb, chapter)


@pytest.mark.parametrize("slip", ["test-above-answer", "answer-moved"])
def test_slips_that_move_cells_are_graded_in_place(chapter, slip):
    """A test above its answer is judged after the notebook has run; an answer in a new cell at the end
    (its answer cell deleted) is recognised there: the cells stay where the student put them, and only
    the deleted answer cells come back (empty) to their places."""
    nb = slips.slipped(chapter["release"], chapter["source"], slip)
    before = code_sources(nb)
    findings = submission.repair(nb, chapter["manifest"])
    assert {f.slip for f in findings} == FOUND[slip], [f.line() for f in findings]
    assert not [f for f in findings if f.costs], [f.line() for f in findings]
    assert_graded_as_solved(nb, chapter, ordered=False)
    assert [src for src in code_sources(nb) if src in before] == before, "the student's cells moved or went"


def test_the_packed_slips_are_repaired(chapter):
    nb = slips.packed(chapter["release"], chapter["source"])
    findings = submission.repair(nb, chapter["manifest"])
    assert not [f for f in findings if f.costs], [f.line() for f in findings]
    assert_graded_as_solved(nb, chapter, ordered=False)
    kinds = {f.slip for f in findings}
    assert {"large-outputs", "pasted", "split-answer"} <= kinds, kinds


def test_a_solved_notebook_needs_no_repair(chapter):
    nb = copy.deepcopy(chapter["solved"])
    assert submission.repair(nb, chapter["manifest"]) == []
    assert nb == chapter["solved"]


def test_the_release_is_unanswered_and_nothing_else(chapter):
    nb = json.loads(json.dumps(chapter["release"]))
    findings = submission.repair(nb, chapter["manifest"])
    answers = [e for e in chapter["manifest"]["cells"] if e["role"] == "answer"]
    assert [f.slip for f in findings] == ["unanswered"] * len(answers)
    assert all(f.costs for f in findings)


def test_an_empty_notebook_gets_every_cell_back(chapter):
    """No cells at all: every cell is put back (so nbgrader can grade it: its own add-missing-cells
    raises a KeyError when an answer and its test are both missing), and every exercise costs marks."""
    nb = dict(cells=[], metadata={}, nbformat=4, nbformat_minor=5)
    findings = submission.repair(nb, chapter["manifest"])
    assert [f.slip for f in findings] == ["not-this-notebook"] and findings[0].costs
    assert [g for g, _, _ in structure(nb)] == [g for g, _, _ in structure(chapter["solved"])]
    assert all("id" in c for c in nb["cells"])


def test_a_deleted_answer_costs_only_its_exercise(chapter):
    nb = copy.deepcopy(chapter["solved"])
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
    gid = answer["metadata"]["nbgrader"]["grade_id"]
    nb["cells"].remove(answer)
    findings = submission.repair(nb, chapter["manifest"])
    assert [(f.slip, f.costs) for f in findings] == [("missing-answer", True)], [f.line() for f in findings]
    assert gid in findings[0].found
    assert [g for g, _, _ in structure(nb)] == [g for g, _, _ in structure(chapter["solved"])]


def answer_split_in_two(first: str, second: str, defines: str) -> tuple[dict, dict]:
    """A notebook of one answer cell (grade_id "a") in two cells that both keep its metadata, and its manifest."""
    meta = {"nbgrader": {"grade_id": "a", "solution": True}}
    cells = [dict(cell_type="code", metadata=copy.deepcopy(meta), source=source, outputs=[], execution_count=None)
             for source in (first, second)]
    nb = dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)
    return nb, dict(notebook="x", cells=[dict(grade_id="a", role="answer", cell_type="code", source="",
                                              nbgrader=meta["nbgrader"], defines=[defines])])


def test_a_split_that_is_valid_python_is_left_as_two_cells():
    """Two halves that are each valid Python (a helper, then the function) run as two cells, in order."""
    nb, m = answer_split_in_two("def helper():\n    return 1", "def f():\n    return helper()", "f")
    findings = submission.repair(nb, m)
    assert len(nb["cells"]) == 2 and [f.slip for f in findings] == ["pasted"]
    assert "nbgrader" not in nb["cells"][0]["metadata"] and nb["cells"][1]["metadata"]["nbgrader"]["grade_id"] == "a"


def test_magics_do_not_stop_a_split_answer_from_being_joined():
    nb, m = answer_split_in_two("%%time\ndef f(x):\n    y = x + 1", "    return y", "f")
    assert [f.slip for f in submission.repair(nb, m)] == ["split-answer"]
    assert nb["cells"][0]["source"] == "%%time\ndef f(x):\n    y = x + 1\n    return y"


def test_a_class_split_after_its_docstring_is_joined():
    """The first half (a class with only its docstring) is valid alone; the second, indented, is the
    rest of it (IPython would run it dedented, as a function of its own)."""
    nb, m = answer_split_in_two('class G:\n    """doc"""', "    def __init__(self):\n        self.x = 1", "G")
    assert [f.slip for f in submission.repair(nb, m)] == ["split-answer"]
    assert nb["cells"][0]["source"] == 'class G:\n    """doc"""\n    def __init__(self):\n        self.x = 1'


def test_shipped_manifests_are_the_releases():
    """scripts/release.py writes genedu/checks/manifests/<assignment>.json from the release it generates."""
    shipped = submission.shipped_manifests()
    assert sorted(shipped) == assignments()
    for name in assignments():
        release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
        assert shipped[name] == submission.manifest(release, name), f"{name}: run python scripts/release.py {name}"


def test_unreadable_files_say_what_is_wrong():
    for data, words in [(b"", "empty"), (b"   \n", "empty"), (b'{"cells": [', "not valid JSON"),
                        (b'{"worksheets": []}', "nbformat 3"), (b"[1, 2]", "not a notebook")]:
        with pytest.raises(submission.Unreadable, match=words) as err:
            submission.read_notebook(data)
        assert err.value.finding.costs and "save" in err.value.finding.fix.lower()


# --- the students' check ------------------------------------------------------------------------------

def write(tmp_path, name, nb_or_bytes, file_name=None):
    path = tmp_path / (file_name or f"{name}.ipynb")
    path.write_bytes(nb_or_bytes if isinstance(nb_or_bytes, bytes) else slips.as_bytes(nb_or_bytes))
    return path


def test_check_submission_says_a_solved_notebook_will_grade(chapter, tmp_path, capsys):
    path = write(tmp_path, chapter["name"], chapter["solved"])
    assert submission.check_submission(str(path)) is True
    out = capsys.readouterr().out
    assert "will grade as it stands" in out and "problem" not in out


def test_check_submission_names_each_problem_and_its_fix(chapter, tmp_path, capsys):
    name = chapter["name"]
    release = json.loads(json.dumps(chapter["release"]))
    assert submission.check_submission(str(write(tmp_path, name, release))) is False
    out = capsys.readouterr().out
    answers = [e for e in chapter["manifest"]["cells"] if e["role"] == "answer"]
    assert f"{len(answers)} problems will cost marks" in out and out.count("NotImplementedError") == len(answers)
    assert submission.check_submission(str(write(tmp_path, name, b""))) is False
    assert "The file is empty" in capsys.readouterr().out


def test_check_submission_reports_the_slips_it_repairs(tmp_path, capsys):
    name = assignments()[0]
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    path = write(tmp_path, name, slips.packed(release, source), f"{name} (1).ipynb")
    assert submission.check_submission(str(path)) is True
    out = capsys.readouterr().out
    for words in ("will grade as it stands", "rename it to", "split into two cells", "MB of cell outputs",
                  "appears more than once"):
        assert words in out, words
    other = assignments()[1]
    path = write(tmp_path, other, slips.slipped(release, source), f"{other}.ipynb")
    assert submission.check_submission(str(path)) is False
    assert f"This is the notebook of {name}, not of {other}" in capsys.readouterr().out


def test_check_submission_without_a_file_says_how(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert submission.check_submission("nope.ipynb") is False
    out = capsys.readouterr().out
    assert "'nope.ipynb' is not a file" in out and "Colab" in out
    with pytest.raises(ValueError, match="assignment='ch99': no such assignment"):
        submission.diagnose(write(tmp_path, "x", b"{}"), assignment="ch99")


def test_the_command_line_exits_1_on_a_problem(tmp_path):
    name = assignments()[0]
    good = write(tmp_path, name, json.loads(json.dumps(nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb",
                                                                     as_version=4))))
    run = subprocess.run([sys.executable, "-m", "genedu.checks.submission", str(good)], capture_output=True,
                         text=True)
    assert run.returncode == 0 and "will grade as it stands" in run.stdout, run.stdout + run.stderr
    bad = write(tmp_path, "x", b"", f"{name}-empty.ipynb")
    run = subprocess.run([sys.executable, "-m", "genedu.checks.submission", str(good), str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "The file is empty" in run.stdout


def test_every_exercise_notebook_ends_with_the_check():
    for name in assignments():
        release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
        last = release.cells[-1]
        assert last.cell_type == "code" and f'check_submission("{name}.ipynb")' in last.source, name


def test_honest_habits_saved_by_vscode_are_recognised(chapter):
    """The honest corpus (magics, helper classes, `if __name__ == "__main__"`, ...) with every cell's
    metadata dropped: each answer is still found by the function it defines (test_grader.py grades it)."""
    import hostile
    nb = json.loads(hostile.honest_notebook(chapter["release"], chapter["source"]).decode())
    slips.vscode(nb, None)
    findings = submission.repair(nb, chapter["manifest"])
    assert [f.slip for f in findings] == ["metadata-lost"], [f.line() for f in findings]
    assert structure(nb) == structure(chapter["solved"])


# --- honest notebooks the repair must leave as they are, and odd files ---------------------------------

def first_answers(chapter) -> tuple[dict, dict, dict]:
    nb = copy.deepcopy(chapter["solved"])
    answers = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    return nb, answers[0], answers[1]


def test_an_answer_written_in_another_exercises_cell_costs_nothing(chapter):
    nb, one, two = first_answers(chapter)
    one["source"] += "\n\n" + two["source"]
    nb["cells"].remove(two)
    findings = submission.repair(nb, chapter["manifest"])
    assert [(f.slip, f.costs) for f in findings] == [("missing-answer", False)], [f.line() for f in findings]
    assert "another cell defines" in findings[0].found
    assert slips.final_definitions(nb) == slips.final_definitions(chapter["solved"])


def test_a_stub_kept_above_its_answer_is_not_unanswered(chapter):
    nb, one, _ = first_answers(chapter)
    stub = next(e for e in chapter["manifest"]["cells"] if e["grade_id"] == one["metadata"]["nbgrader"]["grade_id"])
    answer = dict(cell_type="code", id="mine", metadata={}, source=one["source"], outputs=[], execution_count=None)
    one["source"] = stub["source"]
    nb["cells"].insert(nb["cells"].index(one) + 1, answer)
    assert submission.repair(nb, chapter["manifest"]) == []


def test_an_indented_scratch_cell_after_an_answer_is_not_joined(chapter):
    nb, one, _ = first_answers(chapter)
    scratch = dict(cell_type="code", id="mine", metadata={}, source="    print('scratch')", outputs=[],
                   execution_count=None)
    nb["cells"].insert(nb["cells"].index(one) + 1, scratch)
    before = code_sources(nb)
    assert submission.repair(nb, chapter["manifest"]) == [] and code_sources(nb) == before


def test_a_pasted_setup_cell_runs_twice_as_in_the_kernel(chapter):
    nb = copy.deepcopy(chapter["solved"])
    setup = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    nb["cells"].insert(nb["cells"].index(setup) + 1, copy.deepcopy(setup))
    before = code_sources(nb)
    findings = submission.repair(nb, chapter["manifest"])
    assert [f.slip for f in findings] == ["pasted"] and "runs in order" in findings[0].done
    assert code_sources(nb) == before
    assert [g for g, _, _ in structure(nb)] == [g for g, _, _ in structure(chapter["solved"])]


def test_odd_cells_do_not_crash_the_repair():
    name = assignments()[0]
    release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
    m = submission.manifest(release, name)
    nb = json.loads(json.dumps(release))
    nb["cells"] += ["a string", dict(cell_type="code", metadata=None, outputs=[]),
                    dict(cell_type="code", metadata={"nbgrader": {"grade_id": 7}}, source=None),
                    dict(cell_type="markdown", metadata=[], source=["a ", "list"])]
    findings = submission.repair(nb, m)
    assert {f.slip for f in findings} == {"unanswered"}
    assert all(isinstance(c, dict) and isinstance(c["metadata"], dict) for c in nb["cells"])


def test_the_repair_works_on_nbformat_nodes_too(chapter):
    """The grader repairs nbformat's NotebookNode (the cells it inserts must be nodes, for nbgrader)."""
    nb = nbformat.from_dict(dict(cells=[], metadata={}, nbformat=4, nbformat_minor=5))
    submission.repair(nb, chapter["manifest"])
    assert all(isinstance(c, nbformat.NotebookNode) and c.metadata.nbgrader.grade_id for c in nb.cells)
    nbformat.validate(nb)


def test_a_byte_order_mark_is_read():
    nb = submission.read_notebook(b"\xef\xbb\xbf" + json.dumps(dict(cells=[], metadata={})).encode())
    assert nb["cells"] == []


def test_the_packed_slips_on_the_honest_habits_are_repaired(chapter):
    """What test_grader.py grades: the honest corpus with the packed slips on top."""
    import hostile
    habits = json.loads(hostile.honest_notebook(chapter["release"], chapter["source"]).decode())
    nb = slips.packed(chapter["release"], chapter["source"], notebook=habits)
    findings = submission.repair(nb, chapter["manifest"])
    assert not [f for f in findings if f.costs], [f.line() for f in findings]
    assert {"large-outputs", "pasted", "split-answer", "metadata-lost"} <= {f.slip for f in findings}
    assert sorted(structure(nb), key=str) == sorted(structure(chapter["solved"]), key=str)
