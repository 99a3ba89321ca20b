"""The grader against hostile, broken and honest submissions (scripts/hostile.py).

In ONE batch graded the way an instructor grades a class (scripts/grade.py: parallel nbgrader
processes, every submission in its own sandboxed probe, every test cell judged in the grader), on
the first assignment (``HOSTILE``): every attack of the corpus on its own (the attacked exercise
scores 0, the others keep their marks), the notebook-level cases (a deleted, retyped or Markdown
test cell, a corrupted or missing notebook, another chapter's notebook, the blank release with
every check replaced by a MagicMock), the solutions with `%%time` on every answer, and with every
honest habit of the corpus (full marks; ``python scripts/hostile.py`` writes each habit alone). Also asserted:
the gradebook and the export list the whole class; the feedback shows the verdicts but no hidden
test and nothing of the grader's environment; nothing is left in autograded/; no code an attack
sent ran in the grader. (Every chapter runs the packed corpora in test_grader.py.)

Without nbgrader: the sandbox (no course directory, no network, an allowlisted environment, a
capped /tmp and file size, the notebook's wall-clock budget), the wire format (a pickle from the
probe is refused unread) and the stubbed genedu.
"""
from __future__ import annotations

import csv
import html
import io
import os
import pickle
import re
import shutil
import struct
import sys
import time

import nbformat
import pytest
import torch
from conftest import ROOT, assignments, grading_jobs, run_nbgrader

import grade
import hostile
import slips

sys.path.insert(0, str(ROOT))
from grader import direct, sandbox, stubs, wire  # noqa: E402
from grader.remote import RemoteAnswer  # noqa: E402
from grader.session import Session  # noqa: E402

HOSTILE = assignments()[0]
CELL_TIMEOUT = 5  # the endless loops are interrupted after this (the course setting is 60 s)
SECRET_VALUE = "s3cr3t-do-not-leak"

needs_bwrap = pytest.mark.skipif(not sandbox.sandbox_available()[0], reason=sandbox.sandbox_available()[1])


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
    # every attack alone; of the honest habits, the issue's %%time alone and all of them in one notebook
    honest = [c for c in hostile.honest_cases(release, source) if c.student == "habit-time-magic"]
    # (every habit in one notebook, a pasted cell and a renamed file are graded on every chapter: test_grader.py)
    cases = hostile.hostile_cases(name, release, source, other) + honest
    every = set(honest[0].full)  # the slips that leave nothing to grade: zero, never a crash, and a note why
    cases += [hostile.Case("slip-empty-file", "an empty file (0 bytes)", b"", zero=every),
              hostile.Case("slip-no-cells", "a notebook without cells", slips.as_bytes(
                  dict(cells=[], metadata={}, nbformat=4, nbformat_minor=5)), zero=every)]
    hostile.write(course, name, cases)
    hostile.PWNED.unlink(missing_ok=True)
    os.environ[hostile.SECRET] = SECRET_VALUE  # the grader's environment holds a secret
    try:
        start = time.perf_counter()
        grade.autograde(course, name, quiet=True, jobs=grading_jobs(),
                        extra=[f"--JudgedExecute.timeout={CELL_TIMEOUT}"])
        seconds = time.perf_counter() - start
        feedback = run_nbgrader(["generate_feedback", name, "--force"], course, check=False)
    finally:
        del os.environ[hostile.SECRET]
    export = run_nbgrader(["export", "--to", str(course / "grades.csv")], course, check=False)
    return dict(name=name, course=course, cases=cases, scores=grade.scores(course, name), source=source,
                seconds=seconds, pwned=hostile.PWNED.exists(),
                feedback_log=feedback.stdout + feedback.stderr, export_log=export.stdout + export.stderr)


def total(cells):
    return sum(s for s, _ in cells.values())


def test_print_outcomes(batch, capsys):
    """The table of cases and outcomes (pytest -s shows it)."""
    with capsys.disabled():
        print(f"\n{batch['name']}: {len(batch['cases'])} submissions graded in {batch['seconds']:.0f} s")
        for case in batch["cases"]:
            cells = batch["scores"].get(case.student, {})
            mx = sum(m for _, m in cells.values())
            print(f"  {case.student:24s} {total(cells):5.1f}/{mx:g}  {case.what}")


def test_every_student_graded_with_every_cell(batch):
    graded_cells = set(batch["scores"]["honest-solved"])
    assert graded_cells
    for case in batch["cases"]:
        assert case.student in batch["scores"], f"{case.student} is missing from the gradebook"
        assert set(batch["scores"][case.student]) == graded_cells, case.student


def test_honest_code_keeps_full_marks(batch):
    """The solutions, and the solutions with each honest habit (%%time, prints, %matplotlib inline,
    %timeit, warnings, pathlib, os.getcwd, dir(), helper classes, `if __name__ == "__main__"`,
    reading and writing a file, a shell escape, tqdm, ...): full marks every time."""
    failures = [f"{c.student}: {total(batch['scores'][c.student]):g} ({c.what})" for c in batch["cases"]
                if c.honest and not c.zero and total(batch["scores"][c.student]) != total(batch["scores"]["honest-solved"])]
    assert not failures, "\n".join(failures)
    assert total(batch["scores"]["honest-solved"]) == sum(m for _, m in batch["scores"]["honest-solved"].values()) > 0


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


def test_nothing_an_attack_sent_ran_in_the_grader(batch):
    assert not batch["pwned"], f"{hostile.PWNED} exists: a pickle from the sandbox was loaded by the grader"


def test_output_is_limited(batch):
    path = batch["course"] / "autograded" / "prints-megabytes" / batch["name"] / f"{batch['name']}.ipynb"
    assert path.exists()
    assert path.stat().st_size < 2_000_000, "the printed megabytes reached the autograded notebook"


def test_nothing_is_left_behind(batch):
    """The 1 GiB torch.save was capped inside the sandbox's own /tmp: nothing big in autograded/."""
    sizes = {p: p.stat().st_size for p in (batch["course"] / "autograded").rglob("*") if p.is_file()}
    big = {str(p): s for p, s in sizes.items() if s > 5_000_000}
    assert not big, big
    assert not list((batch["course"] / "autograded").rglob("big.pt"))


def test_grader_environment_does_not_reach_students(batch):
    for folder in ("autograded", "feedback"):
        for path in (batch["course"] / folder).rglob("*"):
            if path.is_file() and path.suffix in (".ipynb", ".html"):
                assert SECRET_VALUE not in path.read_text(errors="replace"), f"the grader's secret is in {path}"
    leaked = batch["course"] / "autograded" / "env-leak" / batch["name"] / f"{batch['name']}.ipynb"
    assert "PATH" in leaked.read_text(), "the env-leak case did not print the probe's environment"


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


def test_feedback_shows_verdicts_but_no_hidden_test(batch):
    name, course = batch["name"], batch["course"]
    hidden = hidden_lines(batch["source"])
    assert hidden, "the assignment has no hidden tests"
    pages = list((course / "feedback").glob(f"*/{name}/{name}.html"))
    graded_ok = [c.student for c in batch["cases"] if (course / "autograded" / c.student / name / f"{name}.ipynb").exists()]
    assert {p.parent.parent.name for p in pages} >= set(graded_ok), batch["feedback_log"][-2000:]
    for page in pages:
        text = page_text(page)
        for line in hidden:
            assert line not in text, f"{page.parent.parent.name}'s feedback shows the hidden test `{line}`"
    solved = page_text(course / "feedback" / "honest-solved" / name / f"{name}.html")
    mx = total(batch["scores"]["honest-solved"])
    assert f"Score: {mx:g}" in solved.replace(".0 ", " ") or f"{mx}" in solved
    wrong = page_text(course / "feedback" / "honest-one-wrong" / name / f"{name}.html")
    assert "CheckFailed" in wrong and "differs from the correct value" in wrong, \
        "the feedback does not show why the wrong answer failed"
    mocked = page_text(course / "feedback" / "mock-checks-main" / name / f"{name}.html")
    assert "CheckFailed" in mocked


def test_feedback_says_why_nothing_could_be_graded(batch):
    """A file that is not a notebook, a folder without one, a notebook without cells: the feedback
    exists, and its first lines (the grader's notes) say what was found."""
    name, course = batch["name"], batch["course"]
    for student, words in [("corrupted-json", "not valid JSON"), ("missing-notebook", "holds no notebook"),
                           ("slip-empty-file", "The file is empty"), ("slip-no-cells", "None of this assignment")]:
        page = course / "feedback" / student / name / f"{name}.html"
        assert page.exists(), f"{student}: no feedback\n{batch['feedback_log'][-2000:]}"
        text = page_text(page)
        assert "The grader's notes on this notebook" in text and words in text, f"{student}: {text[:1500]}"
        assert "NotImplementedError" not in text.split("Chapter 1 exercises")[0], \
            f"{student}: the notes list the blank release's unanswered exercises"


# --- the sandbox, without nbgrader -------------------------------------------------------------------

def _session(tmp_path, budget=120.0, timeout=10.0, references=()):
    course = tmp_path / "course"
    work = course / "autograded" / "alice" / "a"
    work.mkdir(parents=True)
    (work / "data.txt").write_text("the student's own file")
    (course / "gradebook.db").write_text("secret")
    (course / "submitted" / "bob" / "a").mkdir(parents=True)
    copy = stubs.stubbed_package(sandbox.genedu_folder(), list(references))
    return Session(str(work), str(course), str(copy), cell_timeout=timeout, budget=budget), course


def _run(session, source):
    out = session.execute(source)
    text = "".join(o.get("text", "") for o in out if o["output_type"] == "stream")
    errors = [o for o in out if o["output_type"] == "error"]
    return text, errors


@needs_bwrap
def test_sandbox_keeps_the_course_and_the_network_away(tmp_path):
    session, course = _session(tmp_path)
    os.environ[hostile.SECRET] = SECRET_VALUE
    try:
        text, errors = _run(session, (
            "import os, json, socket\n"
            f"res = {{'course': os.path.exists({str(course)!r}) and os.listdir({str(course)!r}),"
            f" 'repo': os.listdir({str(ROOT)!r}), 'cwd': os.getcwd(), 'files': sorted(os.listdir('.')),"
            " 'env': dict(os.environ)}\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    res['net'] = True\n"
            "except OSError:\n    res['net'] = False\nprint(json.dumps(res))"))
    finally:
        del os.environ[hostile.SECRET]
        session.close()
    assert not errors, errors
    import json
    seen = json.loads(text)
    assert seen["course"] in (False, []), seen                    # the course directory is empty
    assert "solutions" not in seen["repo"] and ".git" not in seen["repo"], seen["repo"]
    assert seen["files"] == ["data.txt"] and seen["cwd"] == "/tmp/work"  # a copy of the submission's folder
    assert seen["net"] is False
    assert hostile.SECRET not in seen["env"] and SECRET_VALUE not in str(seen["env"])
    assert set(seen["env"]) <= {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                "OPENBLAS_NUM_THREADS", "MPLBACKEND", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE",
                                "PYTHONHASHSEED", "TQDM_DISABLE", "VIRTUAL_ENV", "PWD",
                                "TORCHINDUCTOR_CACHE_DIR"}, seen["env"]  # the last: set by torch inside the probe


@needs_bwrap
def test_writes_are_capped_and_vanish(tmp_path):
    session, course = _session(tmp_path)
    try:
        text, errors = _run(session, (
            "import torch\n"
            "for i in range(3):\n"
            "    try:\n        torch.save(torch.zeros(2 ** 27), f'big{i}.pt')\n        print('wrote', i)\n"
            "    except Exception as err:\n        print('refused', i, type(err).__name__)\n"
            "try:\n    torch.save(torch.zeros(2 ** 28), 'huge.pt')\nexcept Exception as err:\n    print('refused huge')\n"))
    finally:
        session.close()
    assert not errors, errors
    assert "refused huge" in text, text          # one file of 1 GiB: over the 256 MiB file-size limit
    assert "refused 2" in text or "refused 1" in text, text  # 512 MiB in all: the private /tmp is full
    left = [p for p in course.rglob("*.pt")]
    assert not left, left


@needs_bwrap
def test_the_notebook_has_a_wall_clock_budget(tmp_path):
    session, _ = _session(tmp_path, budget=12.0, timeout=10.0)
    start = time.perf_counter()
    try:
        outputs = [_run(session, "import time\ntime.sleep(5)\ndef f(x):\n    return x\n") for _ in range(4)]
        answer = RemoteAnswer(session, "f")
        from genedu.checks._core import call, CheckFailed
        with pytest.raises(CheckFailed, match="grading time"):
            call(answer, "f", (torch.ones(2),))
    finally:
        session.close()
    elapsed = time.perf_counter() - start
    assert elapsed < 25, elapsed
    assert any("grading time" in e[0]["evalue"] for _, e in outputs if e), outputs


def _crash_then_answer(session):
    """The notebook's ``dies`` kills the probe (that call fails), then its ``fine`` still answers."""
    from genedu.checks._core import call, CheckFailed
    with pytest.raises(CheckFailed, match="ended"):
        call(RemoteAnswer(session, "dies"), "dies", (torch.ones(2),))
    assert torch.equal(call(RemoteAnswer(session, "fine"), "fine", (torch.ones(2),)), torch.full((2,), 2.0))


@needs_bwrap
def test_a_dead_probe_costs_only_its_own_call(tmp_path):
    """os._exit in one function: that call fails, the probe is replaced (the cells replayed), and the
    next function still answers."""
    session, _ = _session(tmp_path)
    try:
        _run(session, "import os, torch\ndef dies(x):\n    os._exit(3)\n\ndef fine(x):\n    return x * 2\n")
        _crash_then_answer(session)
        assert session.restarts == 1
    finally:
        session.close()


@needs_bwrap
def test_a_result_over_the_limit_is_refused_in_the_probe(tmp_path):
    """A function that returns more than the grader reads (a 1 GiB tensor): the probe says so instead of
    sending it, so that call fails with the size in its message and the probe is not replaced (no
    replay)."""
    from genedu.checks._core import call, CheckFailed
    session, _ = _session(tmp_path)
    try:
        _run(session, "import torch\ndef huge(x):\n    return torch.zeros(2 ** 28)\n\n"
                      "def fine(x):\n    return x * 2\n")
        with pytest.raises(CheckFailed, match=r"1024 MiB, over the grader's limit of 256 MiB"):
            call(RemoteAnswer(session, "huge"), "huge", (torch.ones(2),))
        assert torch.equal(call(RemoteAnswer(session, "fine"), "fine", (torch.ones(2),)), torch.full((2,), 2.0))
        assert session.restarts == 0
    finally:
        session.close()


@needs_bwrap
def test_a_replayed_cell_gets_more_than_a_cells_time(tmp_path):
    """A cell that ran within its limit once is replayed after a crash even when the replay is slower
    (a loaded machine): here it sleeps 0.2 s when first run and 3 s when replayed (after the time
    written into it), past the 2 s limit of a cell, so that the function it defines after the sleep
    exists only if a replay may take longer than a cell."""
    session, _ = _session(tmp_path, timeout=2.0)
    try:
        _run(session, "import os, time, torch")  # the probe is started and ready
        later = time.time() + 1
        _run(session, f"import os, time, torch\ntime.sleep(3 if time.time() > {later} else 0.2)\n\n"
                      "def dies(x):\n    os._exit(3)\n\ndef fine(x):\n    return x * 2\n")
        time.sleep(max(0.0, later - time.time()) + 0.1)
        _crash_then_answer(session)
    finally:
        session.close()


@needs_bwrap
def test_a_replay_that_hangs_costs_only_its_own_cell(tmp_path):
    """A cell that ran quickly the first time hangs when replayed (with the time-out signal blocked, as
    C code that never returns to Python would): the fresh probe is stopped, that cell is dropped, the
    replay starts again without it, and the next call still gets its answer (chapter 1's huge-output
    case: a cell that used the broken answer hung in the replay on a loaded machine, and cost ex2)."""
    session, _ = _session(tmp_path, timeout=1.0)
    try:
        _run(session, "import os, signal, time, torch\n\ndef dies(x):\n    os._exit(3)\n\n"
                      "def fine(x):\n    return x * 2\n")
        later = time.time() + 1
        _run(session, f"if time.time() > {later}:\n    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGALRM}})\n"
                      "    time.sleep(600)\n")
        time.sleep(max(0.0, later - time.time()) + 0.1)
        _crash_then_answer(session)
        assert session.restarts == 2 and len(session.fatal) == 1
    finally:
        session.close()


@needs_bwrap
@pytest.mark.parametrize("frame", ['["callback"]', '["callback", [1], [], {}]', '["callback", 1, ["T"], {}]',
                                   '{"done": 1}', '["done", [["display", 5]]]', '[' * 5000])
def test_crafted_json_frames_cost_only_their_own_cell(tmp_path, frame):
    """A cell that writes a crafted frame (JSON, as cells' replies travel) on every descriptor, then
    sleeps: the grader does not crash, and the cells after it run. (A well-formed frame is taken for
    the reply it imitates, which shifts the student's own outputs by one cell: harmless, since a
    frame cannot know the inputs of the calls that decide marks.)"""
    session, _ = _session(tmp_path, timeout=5.0)
    try:
        session.execute("import os, struct, time\n"
                        f"data = {frame!r}.encode()\n"
                        "for fd in range(3, 256):\n"
                        "    try:\n        os.write(fd, struct.pack('>Q', len(data)) + data)\n"
                        "    except OSError:\n        pass\n"
                        "time.sleep(1)\n")
        later = [_run(session, "print(6 * 7)") for _ in range(3)]
        assert any(text == "42\n" and not errors for text, errors in later), later
    finally:
        session.close()


@needs_bwrap
def test_references_are_gone_from_the_sandbox(tmp_path):
    session, _ = _session(tmp_path, references=["genedu.density.fit_gaussian"])
    try:
        text, errors = _run(session, (
            "import importlib, inspect, torch\nimport genedu.density as d\n"
            "print('raise RuntimeError' in inspect.getsource(d.fit_gaussian))\n"
            "importlib.reload(d)\n"
            "try:\n    d.fit_gaussian(torch.ones(3, 2))\nexcept RuntimeError as err:\n    print('refused:', err)\n"
            "print(d.gaussian_log_density(torch.zeros(1, 2), torch.zeros(2), torch.eye(2)))\n"))
    finally:
        session.close()
    assert not errors, errors
    assert text.startswith("True") and "refused: genedu.density.fit_gaussian is not available" in text, text
    assert "tensor([-1.8379])" in text  # the rest of genedu works


# --- the wire format and the stubs (fast) --------------------------------------------------------------

def test_a_pickle_from_the_probe_is_refused_unread(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with pytest.raises(wire.WireError, match="unreadable"):
        wire.load_plain(pickle.dumps(("ret", Payload(), [], 0)))
    assert not marker.exists()


def test_frames_over_the_limit_and_late_frames_fail():
    r, w = os.pipe()
    try:
        os.write(w, struct.pack(">Q", 2 ** 30))
        with pytest.raises(wire.WireError, match="over the limit"):
            wire.recv(r, 2 ** 20, time.monotonic() + 1)
        with pytest.raises(TimeoutError):
            wire.recv(r, 2 ** 20, time.monotonic() + 0.2)
        buf = io.BytesIO()
        torch.save(("ret", ("T", torch.ones(3), False), [], 0), buf)
        wire.send(w, buf.getvalue())
        assert wire.load_plain(wire.recv(r, 2 ** 20, time.monotonic() + 1))[1][1].sum() == 3
    finally:
        os.close(r)
        os.close(w)
    r, w = os.pipe()
    os.close(w)
    with pytest.raises(EOFError):
        wire.recv(r, 2 ** 20, time.monotonic() + 1)
    os.close(r)


def test_callbacks_travel_for_what_the_probe_cannot_rebuild():
    callbacks = {}
    local = lambda x: x + 1  # noqa: E731
    data = wire.dumps((torch.nn.Linear(2, 3), local, len), callbacks)
    assert list(callbacks.values()) == [local]
    made = []
    module, stand_in, builtin = wire.loads_trusted(data, lambda key: made.append(key) or "callback")
    assert isinstance(module, torch.nn.Linear) and stand_in == "callback" and builtin is len


def test_stub_source_replaces_bodies_and_keeps_the_rest():
    source = ("import torch\n\n\ndef f(x):\n    '''doc'''\n    return x + 1\n\n\nclass A:\n    def g(self):\n"
              "        return 2\n\n    def h(self):\n        return 3\n")
    out = stub_namespace(stubs.stub_source(source, {"f": "genedu.m.f", "A.g": "genedu.m.A.g"}))
    with pytest.raises(RuntimeError, match="genedu.m.f is not available"):
        out["f"](1)
    with pytest.raises(RuntimeError, match="genedu.m.A.g"):
        out["A"]().g()
    assert out["A"]().h() == 3
    with pytest.raises(KeyError):
        stubs.stub_source(source, {"nope": "genedu.m.nope"})


def stub_namespace(source):
    namespace = {}
    exec(compile(source, "<stub>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", assignments())
def test_every_chapter_declares_its_references(name):
    """Every chapter's checks list the genedu functions its exercises ask for, and each exists."""
    from grader import judge
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    refs = judge.references([c.source for c in source.cells if judge.is_test(c)])
    assert refs, f"{name}: no REFERENCES in its check module"
    stubs.stubbed_package(sandbox.genedu_folder(), refs)  # raises KeyError for a name that does not exist


@needs_bwrap
def test_direct_grading_matches_the_table(tmp_path):
    """The issue's table, on chapter 1, without nbgrader: the blank release with every check replaced
    by MagicMock scores 0; the solutions with %%time on each answer score full marks."""
    release, source = hostile.load(HOSTILE)
    solved, tests, graded = hostile._setup(release, source)
    first = next(iter(tests))
    mocked = hostile.fill_answers(release, {first: release.cells[[c.metadata.get("nbgrader", {}).get("grade_id")
                                                                   for c in release.cells].index(first)].source
                                            + hostile._REPLACE_CHECKS.format(
                                                replace="import unittest.mock\n_fake = unittest.mock.MagicMock()")})
    verdicts = direct.grade(mocked, source)
    assert not any(v.passed for v in verdicts.values()), verdicts
    timed = hostile.fill_answers(release, {a: "%%time\n" + s for a, s in solved.items()})
    verdicts = direct.grade(timed, source)
    assert all(v.passed for v in verdicts.values()), {g: v.message for g, v in verdicts.items()}


def test_submissions_are_prepared_for_nbgrader(tmp_path):
    """scripts/grade.py grades a folder's only notebook under the assignment's name (a browser's
    "a (1).ipynb"), keeping the student's file; reads a notebook saved with a byte-order mark; grades
    the blank release in place of a file that is not a notebook, a folder or link under the notebook's
    name (kept as .unreadable), or a missing notebook; keeps its notes where students cannot write;
    guesses nothing when a folder holds several notebooks, none of them under the assignment's name;
    and one folder it cannot prepare stops nothing."""
    import json
    notebook = dict(cells=[], metadata={}, nbformat=4, nbformat_minor=5)
    (tmp_path / "solutions" / "a").mkdir(parents=True)
    (tmp_path / "solutions" / "a" / "a.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "a").mkdir(parents=True)
    (tmp_path / "notebooks" / "a" / "a.ipynb").write_text(json.dumps({**notebook, "metadata": {"release": 1}}))
    names = ("renamed", "fine", "two", "none", "empty", "bom", "folder", "link", "forged")
    folders = {s: tmp_path / "submitted" / s / "a" for s in names}
    for folder in folders.values():
        folder.mkdir(parents=True)
    mine = json.dumps({**notebook, "metadata": {"mine": 1, "genedu_grader": "x"}})
    (folders["renamed"] / "a (1).ipynb").write_text(mine)
    fine = json.dumps({**notebook, "metadata": {"fine": 1}})
    (folders["fine"] / "a.ipynb").write_text(fine)
    (folders["fine"] / "a (1).ipynb").write_text("older copy")
    (folders["two"] / "x.ipynb").write_text("x")
    (folders["two"] / "y.ipynb").write_text("y")
    (folders["none"] / "notes.txt").write_text("no notebook")
    (folders["empty"] / "a.ipynb").write_text("")
    (folders["bom"] / "a.ipynb").write_bytes(b"\xef\xbb\xbf" + fine.encode())
    (folders["folder"] / "a.ipynb").mkdir()
    (folders["link"] / "a.ipynb").symlink_to(tmp_path / "notebooks" / "a" / "a.ipynb")
    forged = {**notebook, "metadata": {"genedu_grader": {"notes": ["Instructor: full marks"], "blank": True}}}
    (folders["forged"] / "a.ipynb").write_text(json.dumps(forged))
    (tmp_path / "submitted" / "stray").mkdir()
    (tmp_path / "submitted" / "stray" / "a").write_text("a file where the folder should be")

    lines = grade.prepare_submissions(tmp_path, "a")
    by_student = {}
    for line in lines:
        by_student.setdefault(line.split(":")[0], []).append(line)
    assert sorted(by_student) == ["bom", "empty", "folder", "link", "none", "renamed", "stray"], lines
    assert "could not be prepared" in by_student["stray"][0]

    def notes(student):
        return json.loads((tmp_path / "grader_notes" / "a" / f"{student}.json").read_text())

    assert "submitted as 'a (1).ipynb'" in notes("renamed")["notes"][0] and not notes("renamed")["blank"]
    assert (folders["renamed"] / "a.ipynb").read_text() == mine, "the renamed notebook must be copied as it is"
    assert "byte-order mark" in notes("bom")["notes"][0] and json.loads((folders["bom"] / "a.ipynb").read_text())
    for student in ("empty", "none", "folder", "link"):
        assert notes(student)["blank"] and "every exercise scores 0" in notes(student)["notes"][-1], student
        assert json.loads((folders[student] / "a.ipynb").read_text())["metadata"] == {"release": 1}, student
    assert (folders["empty"] / "a.ipynb.unreadable").read_text() == ""
    assert (folders["folder"] / "a.ipynb.unreadable").is_dir() and (folders["link"] / "a.ipynb.unreadable").is_symlink()
    assert (folders["fine"] / "a.ipynb").read_text() == fine and not (folders["two"] / "a.ipynb").exists()
    assert not (tmp_path / "grader_notes" / "a" / "forged.json").exists(), "a student's own notes are not the grader's"
    assert grade.prepare_submissions(tmp_path, "a") == [by_student["stray"][0]], "a second run changes nothing"
    assert "submitted as" in notes("renamed")["notes"][0], "a regrade must keep the notes"
    (folders["renamed"] / "a.ipynb").write_text(fine)  # the student submits again, under the right name
    grade.prepare_submissions(tmp_path, "a")
    assert not (tmp_path / "grader_notes" / "a" / "renamed.json").exists(), "notes about an older submission"