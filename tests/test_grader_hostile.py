"""The grader against broken and hostile submissions (scripts/hostile.py), graded in ONE batch
with honest ones, in a temporary course directory, the way an instructor grades a class
(scripts/grade.py: parallel, sandboxed, the static guard on).

The full corpus runs against the first assignment (``HOSTILE``; the cheap cases of every chapter
are in test_grader.py's batch). Asserted: the batch completes; every honest submission scores
exactly what it scores when graded alone; every hostile one scores 0 on the cells it attacked (and
on every cell it could reach), and never full marks; the gradebook holds a grade for every graded
cell of every student and the CSV export lists the whole class; the feedback shows the student's
results but no hidden test. Also, without nbgrader: the static guard passes every cell the
course's solutions and wrong answers contain, and refuses the tampering it is for.
"""
from __future__ import annotations

import csv
import html
import json
import re
import shutil
import sys

import nbformat
import pytest
from conftest import ROOT, assignments, run_nbgrader

import grade
import hostile

sys.path.insert(0, str(ROOT / "genedu" / "checks"))
import _guard  # noqa: E402

HOSTILE = assignments()[0]
CELL_TIMEOUT = 30  # the endless loop is interrupted after this (the course setting is 60 s)


def student_cells(nb):
    """The code cells a student can change, and the context the guard uses for them."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    locked = [c.source for c in code if c.metadata.get("nbgrader", {}).get("locked")]
    protected, modules = _guard.notebook_context(locked, [c.source for c in code])
    editable = [c for c in code if not c.metadata.get("nbgrader", {}).get("locked")]
    return editable, protected, modules


# --- the static guard, on its own (fast) -----------------------------------------------------------

@pytest.mark.parametrize("name", assignments())
def test_guard_passes_solutions_and_wrong_answers(name):
    """Honest code is never refused: every editable cell of the solutions, and every wrong answer."""
    path = ROOT / "solutions" / name / f"{name}.ipynb"
    if path.exists():
        source = nbformat.read(path, as_version=4)
    else:  # only the py:percent source so far
        from release import notebook_from_source
        source = notebook_from_source(name)
    editable, protected, modules = student_cells(source)
    sources = [c.source for c in editable]
    path = ROOT / "solutions" / name / "wrong_answers.py"
    if path.exists():
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        sources += list(namespace["WRONG_ANSWERS"].values())
    for src in sources:
        assert _guard.inspect_code(src, protected, modules) == [], src


CORRECT_BUT_DIFFERENT = [
    "import math\nimport numpy as np\nfrom torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
    "        super().__init__()\n        self.fc = nn.Linear(2, 2)\n\n    def forward(self, x):\n        return self.fc(x)\n",
    "def f(model, x):\n    with torch.no_grad():\n        model.weight.data = x.clone()\n        model.weight[0] = 1.0\n"
    "    params = dict(model.named_parameters())\n    return getattr(model, 'weight'), params\n",
    "def g(mu, logvar):\n    out = torch.zeros(mu.shape[0])\n    out += 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=-1)\n"
    "    return out\n\nresults = {}\nresults['kl'] = g\nprint(f'{g.__name__} ok')\n",
    # torch.nn.Module.modules() (weight initialisation) and an attribute of the answer's own object that
    # shares a module's name
    "def init(net):\n    for m in net.modules():\n        if isinstance(m, nn.Linear):\n            nn.init.zeros_(m.bias)\n"
    "    return sum(1 for _ in net.modules())\n",
    "class Quantizer(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n"
    "        self.code = nn.Parameter(torch.randn(k, 2))\n\n    def forward(self, x):\n"
    "        return torch.cdist(x, self.code).argmin(1)\n",
]

TAMPERING = [
    "torch.allclose = lambda *a, **k: True",
    "import torch as t\nt.testing.assert_close = lambda *a, **k: None",
    "torch.Tensor.__eq__ = lambda a, b: True",
    "check_thing = lambda *a, **k: None",
    "def check_thing(*args):\n    pass",
    "import genedu.checks._core as c\nc.compare = None",
    "from genedu.checks import _core",
    "import genedu\ngenedu.losses.gaussian_kl = None",
    "def gaussian_kl(mu, logvar):\n    import genedu.losses\n    return genedu.losses.gaussian_kl(mu, logvar)",
    "from genedu.losses import gaussian_kl",
    "import sys\nsys.modules['genedu.checks'] = None",
    "import builtins\nbuiltins.isinstance = lambda *a: True",
    "x = __builtins__",
    "def f():\n    return (lambda: 0).__globals__",
    "import operator\nf = operator.attrgetter('__globals__')",
    "import functools\nfunctools.partial(setattr, torch, 'allclose')(None)",
    "getattr(torch, 'all' + 'close')",
    "globals()['check_thing'] = None",
    "exec('torch.allclose = None')",
    "import gc, ctypes",
    "try:\n    1 / 0\nexcept Exception as e:\n    frame = e.__traceback__.tb_frame.f_back",
    "!rm -rf /",
    "%load answer.py",
    "import __main__\n__main__.check_thing = None",
    "m = torch.sys.modules",
    "d = [torch][0].sys.modules",
    "x = torch.modules()",
    "def f(t):\n    return t.modules",
    "def f(t):\n    return t.gc.get_objects()",
]


def test_guard_accepts_correct_but_different_answers():
    for src in CORRECT_BUT_DIFFERENT:
        assert _guard.inspect_code(src, {"check_thing"}, {"torch": "torch", "genedu": "genedu"}) == [], src


@pytest.mark.parametrize("src", TAMPERING)
def test_guard_refuses_tampering(src):
    reasons = _guard.inspect_code(src, {"check_thing"}, {"torch": "torch", "genedu": "genedu"},
                                  exercise={"gaussian_kl"})
    assert reasons, f"not refused:\n{src}"
    cell = _guard.rejected_cell(src, reasons)
    with pytest.raises(RuntimeError, match="The grader did not run this cell"):
        exec(cell, {})


# --- the batch --------------------------------------------------------------------------------------

def make_course(tmp, name):
    shutil.copy(ROOT / "nbgrader_config.py", tmp)
    shutil.copytree(ROOT / "solutions" / name, tmp / "solutions" / name)
    run_nbgrader(["generate_assignment", name, "--force"], tmp)
    return nbformat.read(tmp / "notebooks" / name / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    name = HOSTILE
    course = tmp_path_factory.mktemp("hostile")
    release = make_course(course, name)
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    others = [a for a in assignments() if a != name]
    other = nbformat.read(ROOT / "notebooks" / others[0] / f"{others[0]}.ipynb", as_version=4) if others else None
    cases = hostile.corpus(name, release, source, other)
    hostile.write(course, name, cases)
    extra = [f"--Execute.timeout={CELL_TIMEOUT}"]
    grade.autograde(course, name, quiet=True, extra=extra)
    scores = grade.scores(course, name)
    # the honest submissions graded alone, each in a course of its own
    alone = {}
    for case in cases:
        if case.honest:
            solo = tmp_path_factory.mktemp(f"alone-{case.student}")
            make_course(solo, name)
            hostile.write(solo, name, [case])
            grade.autograde(solo, name, quiet=True, extra=extra)
            alone[case.student] = grade.scores(solo, name)[case.student]
    feedback = run_nbgrader(["generate_feedback", name, "--force"], course, check=False)
    export = run_nbgrader(["export", "--to", str(course / "grades.csv")], course, check=False)
    return dict(name=name, course=course, cases=cases, scores=scores, alone=alone, source=source,
                feedback_log=feedback.stdout + feedback.stderr, export_log=export.stdout + export.stderr)


def total(cells):
    return sum(s for s, _ in cells.values())


def test_print_outcomes(batch, capsys):
    """The table of cases and outcomes (pytest -s shows it; the instructor page quotes it)."""
    with capsys.disabled():
        print(f"\n{batch['name']}")
        for case in batch["cases"]:
            cells = batch["scores"].get(case.student, {})
            mx = sum(m for _, m in cells.values())
            print(f"  {case.student:22s} {total(cells):5.1f}/{mx:g}  {case.what}")


def test_every_student_graded_with_every_cell(batch):
    graded_cells = set(batch["scores"]["honest-solved"])
    assert graded_cells
    for case in batch["cases"]:
        assert case.student in batch["scores"], f"{case.student} is missing from the gradebook"
        assert set(batch["scores"][case.student]) == graded_cells, case.student


def test_honest_scores_as_when_graded_alone(batch):
    for student, cells in batch["alone"].items():
        assert batch["scores"][student] == cells, student
    solved = batch["scores"]["honest-solved"]
    assert total(solved) == sum(m for _, m in solved.values()) > 0


def test_hostile_cases(batch):
    failures = []
    for case in batch["cases"]:
        cells = batch["scores"][case.student]
        for gid in case.zero:
            if cells[gid][0] != 0:
                failures.append(f"{case.student}: {gid} scored {cells[gid][0]} ({case.what})")
        for gid in case.full:
            if cells[gid][0] != cells[gid][1]:
                failures.append(f"{case.student}: {gid} lost marks it should keep ({case.what})")
        if case.below_max and total(cells) >= sum(m for _, m in cells.values()):
            failures.append(f"{case.student}: full marks ({case.what})")
    assert not failures, "\n".join(failures)


def test_output_is_limited(batch):
    path = batch["course"] / "autograded" / "prints-megabytes" / batch["name"] / f"{batch['name']}.ipynb"
    assert path.exists()
    assert path.stat().st_size < 2_000_000, "the printed megabytes reached the autograded notebook"


def test_export_lists_every_student(batch):
    path = batch["course"] / "grades.csv"
    assert path.exists(), batch["export_log"]
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r["assignment"] == batch["name"]]
    assert {r["student_id"] for r in rows} == {c.student for c in batch["cases"]}


def hidden_lines(source_nb) -> list[str]:
    lines = []
    for cell in source_nb.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines += [" ".join(line.split()) for line in block.splitlines() if line.strip()]
    return lines


def page_text(path) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
    return " ".join(text.split())


def test_feedback_shows_results_but_no_hidden_test(batch):
    name, course = batch["name"], batch["course"]
    hidden = hidden_lines(batch["source"])
    assert hidden, "the assignment has no hidden tests"
    pages = list((course / "feedback").glob(f"*/{name}/{name}.html"))
    graded_ok = [c.student for c in batch["cases"] if (course / "autograded" / c.student / name / f"{name}.ipynb").exists()]
    assert {p.parent.parent.name for p in pages} >= set(graded_ok) - {"kernel-exit"}, batch["feedback_log"][-2000:]
    for page in pages:
        text = page_text(page)
        for line in hidden:
            assert line not in text, f"{page.parent.parent.name}'s feedback shows the hidden test `{line}`"
    solved = page_text(course / "feedback" / "honest-solved" / name / f"{name}.html")
    mx = total(batch["scores"]["honest-solved"])
    assert f"Score: {mx:g}" in solved.replace(".0 ", " ") or f"{mx}" in solved
    wrong = page_text(course / "feedback" / "honest-one-wrong" / name / f"{name}.html")
    assert "CheckFailed" in wrong, "the feedback does not show why the wrong answer failed"
    refused = page_text(course / "feedback" / "patches-check" / name / f"{name}.html")
    assert "The grader did not run this cell" in refused


def test_sandbox_keeps_the_course_away(tmp_path):
    """A kernel started by the grader's kernel manager sees no course directory, no network,
    and its processes end with it."""
    sys.path.insert(0, str(ROOT / "genedu" / "checks"))
    import _sandbox
    ok, why = _sandbox.sandbox_available()
    if not ok:
        pytest.skip(why)
    from nbclient import NotebookClient
    course = tmp_path / "course"
    work = course / "autograded" / "alice" / "a"
    work.mkdir(parents=True)
    (course / "gradebook.db").write_text("secret")
    (course / "submitted" / "bob" / "a").mkdir(parents=True)
    probe = ("import os, json, socket\nres = {'course': os.listdir(%r), 'root': os.listdir(%r), 'cwd': os.getcwd()}\n"
             "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    res['net'] = True\n"
             "except OSError:\n    res['net'] = False\nprint(json.dumps(res))") % (str(course), str(ROOT))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(work)}},
                            kernel_manager_class=_sandbox.SandboxKernelManager)
    client.execute()
    seen = json.loads(nb.cells[0].outputs[0]["text"])
    assert seen["course"] == ["autograded"], seen      # only the student's own working directory
    assert "solutions" not in seen["root"] and "gradebook.db" not in seen["root"], seen
    assert seen["cwd"] == str(work.resolve())
    assert seen["net"] is False


# --- the checks' own run-time defences (fast) ---------------------------------------------------------

def _notebook_function(fn):
    """``fn`` as if a notebook cell had defined it (IPython runs cells in ``__main__``)."""
    fn.__module__ = "__main__"
    return fn


@pytest.mark.parametrize("where", ["torch.randn", "genedu.checks._core.compare", "torch.Tensor.sum"])
def test_checks_refuse_a_library_patched_by_the_notebook(monkeypatch, where):
    """What the static guard cannot see (a module passed to a function, say) the checks still catch:
    a genedu or torch function replaced by one the notebook defined makes every check fail."""
    import importlib

    import torch
    from genedu.checks._core import CheckFailed, call
    owner, attr = where.rsplit(".", 1)
    target = torch.Tensor if owner == "torch.Tensor" else importlib.import_module(owner)
    monkeypatch.setattr(target, attr, _notebook_function(lambda *a, **k: None))
    with pytest.raises(CheckFailed, match="replaced by a function of the notebook"):
        call(lambda x: x, "f", (1,))


def test_checks_refuse_an_answer_that_removes_the_profile_hook():
    import sys as _sys

    from genedu.checks._core import CheckFailed, call

    def reference(x):
        return x

    def answer(x):
        _sys.setprofile(None)
        return reference(x)
    with pytest.raises(CheckFailed, match="profile hook"):
        call(answer, "f", (1,), reference=reference)
