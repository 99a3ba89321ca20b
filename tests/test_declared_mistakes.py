"""Tests derived from the checks' declared mistakes, for every exercise of every chapter.

A check declares the usual mistakes as (the value the mistake gives on the check's inputs, the
sentence that explains it) and passes them to ``compare``. For each exercise, the visible self-check
runs once with the solution while every ``compare`` is recorded; then, for each declared mistake,
the check runs again with that comparison fed the mistake's value. It must fail, with that
mistake's own sentence. (A mistake whose value equals the right one on the inputs of that
comparison cannot be named there, and one with the same value as an earlier mistake of the list
is named by the earlier sentence: both are left out, and every check that declares mistakes must
have some left.)
"""
from __future__ import annotations

import importlib
import sys

import nbformat
import pytest
from conftest import ROOT, assignments

sys.path.insert(0, str(ROOT))
from course import solved_answers  # noqa: E402
from grader import judge  # noqa: E402

import genedu.checks as checks  # noqa: E402
from genedu.checks._core import CheckFailed, close  # noqa: E402


def _exercises():
    found = []
    for name in assignments():
        source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        for cell in source.cells:
            if judge.is_test(cell):
                first = judge.parse_test_cell(cell.source)[0]
                found.append(pytest.param(name, first, id=f"{name}:{first.check}"))
    return found


_namespaces: dict[str, dict] = {}


def solutions(name: str) -> dict:
    """The solved notebook's setup and answer cells, run once per assignment."""
    if name not in _namespaces:
        source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        answers = solved_answers(source)
        namespace: dict = {"__name__": "__main__"}
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if cell.cell_type == "code" and (gid in answers or gid == "setup"):
                exec(compile(answers.get(gid, cell.source), f"<{name}:{gid}>", "exec"), namespace)
        _namespaces[name] = namespace
    return _namespaces[name]


class _Recorder:
    def __init__(self, module, substitute: tuple[int, object] | None = None):
        self.module, self.real, self.calls, self.substitute, self.count = module, module.compare, [], substitute, 0

    def __call__(self, actual, expected, name, what, mistakes=(), rtol=1e-4, atol=1e-5):
        mistakes = list(mistakes)
        if self.substitute is None:
            self.calls.append((what, expected, mistakes, rtol, atol))
        elif self.count == self.substitute[0]:
            actual = self.substitute[1]
        self.count += 1
        return self.real(actual, expected, name, what, mistakes, rtol, atol)


@pytest.mark.parametrize("name, call", _exercises())
def test_each_declared_mistake_is_named(name, call, monkeypatch, capsys):
    check = getattr(checks, call.check)
    module = importlib.import_module(check.__module__)
    if not hasattr(module, "compare"):
        pytest.skip(f"{call.check}: its chapter declares no mistakes through compare (its messages come from its own tests)")
    answer = solutions(name)[call.answer]
    recorder = _Recorder(module)
    monkeypatch.setattr(module, "compare", recorder)
    check(answer, *call.args, **call.kwargs)
    declared = []
    for k, (what, expected, mistakes, rtol, atol) in enumerate(recorder.calls):
        for j, (wrong, why) in enumerate(mistakes):
            if close(wrong, expected, rtol, atol) or any(close(wrong, w, rtol, atol) for w, _ in mistakes[:j]):
                continue
            declared.append((k, j, what, why, wrong))
    failures = []
    for k, j, what, why, wrong in declared:
        monkeypatch.setattr(module, "compare", _Recorder(module, (k, wrong)))
        try:
            check(answer, *call.args, **call.kwargs)
            failures.append(f"{what}, mistake {j} ({why[:60]}...): the check passed; its value equals the right one")
        except CheckFailed as err:
            if why not in str(err):
                failures.append(f"{what}, mistake {j} ({why[:60]}...): named as `{str(err)[:160]}`")
    capsys.readouterr()
    assert not failures, "\n".join(failures)
    if not any(mistakes for _, _, mistakes, _, _ in recorder.calls):
        pytest.skip(f"{call.check} declares no mistakes through compare (its messages come from its own tests)")
    assert declared, f"{call.check}: no declared mistake can be told from the right value on these inputs"
