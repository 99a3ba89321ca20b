"""The trusted verdict: a test cell of the instructor's notebook, judged in the grader's process.

A test cell is a list of check calls, ``check_name(answer, seed=..., n=...)`` (the visible self-check
and the hidden tests). The grader reads it from the instructor's source (nbgrader restores the
locked cells from the gradebook before grading), never from the student's copy, and runs each
check here, with a :class:`~grader.remote.RemoteAnswer` in place of the student's function: the
check builds its inputs, computes the expected values with genedu's reference, calls the answer in
the sandbox, and judges the plain data that comes back. The first failure is the verdict.
"""
from __future__ import annotations

import ast
import contextlib
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CheckCall:
    check: str                      # the name of a function in genedu.checks
    answer: str                     # the notebook's name the check is given
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class TestCellError(ValueError):
    """The instructor's test cell is not a list of check calls (an authoring error)."""


def parse_test_cell(source: str) -> list[CheckCall]:
    """The check calls of a test cell. Every statement must be ``check_x(answer, <literals>)``."""
    calls = []
    for stmt in ast.parse(source).body:
        node = stmt.value if isinstance(stmt, ast.Expr) else None
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_")
                and node.args and isinstance(node.args[0], ast.Name)):
            raise TestCellError(f"not a check call: {ast.unparse(stmt)}")
        try:
            args = tuple(ast.literal_eval(a) for a in node.args[1:])
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise TestCellError(f"a check's arguments must be literals: {ast.unparse(stmt)}") from None
        calls.append(CheckCall(node.func.id, node.args[0].id, args, kwargs))
    return calls


def _static_assignment(path: Path, name: str):
    """The literal value a module file assigns to ``name`` at top level (read, not imported)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def references(sources: list[str]) -> list[str]:
    """The genedu functions the sandbox must not provide while these test cells are judged: the
    ``REFERENCES`` of the chapters whose checks they call, and the checks' own helpers (they compute
    the expected values; ``stubs.check_helpers``). Read from the source files, without importing
    genedu (so that the sandbox can start while the grader imports torch)."""
    from grader import sandbox, stubs
    folder = sandbox.genedu_folder() / "checks"  # find_spec("genedu.checks") would import genedu
    where = {}  # check name -> its module file
    for node in ast.parse((folder / "__init__.py").read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genedu.checks."):
            for alias in node.names:
                where[alias.asname or alias.name] = folder / (node.module.rsplit(".", 1)[1] + ".py")
    files = set()
    for source in sources:
        for c in parse_test_cell(source):
            if c.check not in where:
                raise TestCellError(f"{c.check} is not one of genedu.checks' checks")
            files.add(where[c.check])
    found = {ref for path in files for ref in _static_assignment(path, "REFERENCES") or ()}
    return sorted(found | set(stubs.check_helpers(folder.parent)))


@dataclass
class Verdict:
    passed: bool
    lines: list[str]                # the passed lines, then the failure (if any)
    message: str = ""               # the failure


def judge(session, source: str) -> Verdict:
    """Run the test cell ``source`` against the notebook in ``session`` (a ``session.Session``)."""
    _imports_done()
    import genedu.checks as checks
    from genedu.checks._core import CheckFailed, RemoteError, remote_failure
    from grader.remote import RemoteAnswer
    lines: list[str] = []
    for c in parse_test_cell(source):
        if c.check not in checks.__all__:
            raise TestCellError(f"{c.check} is not one of genedu.checks' checks")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                getattr(checks, c.check)(RemoteAnswer(session, c.answer), *c.args, **c.kwargs)
        except CheckFailed as err:
            return Verdict(False, lines + _lines(out), str(err))
        except RemoteError as err:
            return Verdict(False, lines + _lines(out), str(remote_failure(c.answer, err)))
        except RecursionError:
            return Verdict(False, lines, f"{c.answer}: the grader could not judge your answer (it nests too deeply).")
        except Exception as err:  # noqa: BLE001 - a check that breaks on what came back: no marks, no crash
            return Verdict(False, lines + _lines(out), f"{c.answer}: the grader could not judge what your answer "
                                                       f"returned ({type(err).__name__}: {str(err)[:300]}).")
        lines += _lines(out)
    return Verdict(True, lines)


def _lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line.strip()][:20]


def start_probe(course_root: str, *, sandboxed: bool = True, limits: dict | None = None):
    """Start a probe, which imports torch while it waits for its submission (``sandbox.fill``);
    returns ``(private folder, sandbox.Started)`` for :func:`open_session`."""
    from grader import sandbox
    private = sandbox.private_folder()
    return private, sandbox.start(private=private, course_root=course_root, sandbox=sandboxed, **(limits or {}))


def open_session(folder: str, course_root: str, sources: list[str], *, cell_timeout: float = 60,
                 budget: float = 120, sandboxed: bool = True, limits: dict | None = None, started=None):
    """A ``session.Session`` for the submission in ``folder``, its test cells ``sources``: the probe
    (``started`` by :func:`start_probe` with the same options, or started now) is given genedu with
    the references stubbed. This process imports torch and genedu in the background (about 3 s),
    while the probe runs the notebook's cells; :func:`judge` waits for them."""
    from grader import sandbox, stubs
    from grader.session import Session
    limits = limits or {}
    private, probe = started or start_probe(course_root, sandboxed=sandboxed, limits=limits)
    try:
        copy = str(stubs.stubbed_package(sandbox.genedu_folder(), references(sources)))
    except BaseException:
        sandbox.stop(private, probe)
        raise
    try:  # the probe goes on (copies the submission, imports genedu)
        sandbox.begin(private, probe, folder, copy, limits.get("tmp_size", 512 * 2 ** 20))
        begun = True
    except OSError:  # the session says why at the first cell
        begun = False
    _start_imports()
    return Session(folder, course_root, copy, cell_timeout=cell_timeout, budget=budget, sandboxed=sandboxed,
                   limits=limits, private=private, started=probe, begun=begun)


_imports: threading.Thread | None = None


def _import_for_judging() -> None:
    import torch  # noqa: F401
    import genedu.checks  # noqa: F401
    import grader.remote  # noqa: F401


def _start_imports() -> None:
    global _imports
    if _imports is None:
        _imports = threading.Thread(target=_import_for_judging, name="judging-imports", daemon=True)
        _imports.start()


def _imports_done() -> None:
    """Wait for the imports :func:`open_session` started (if it failed, the imports below say why)."""
    if _imports is not None:
        _imports.join()
    import torch
    torch.set_num_threads(1)  # the checks' small tensors: one thread is several times faster here


def is_test(cell) -> bool:
    """Whether a notebook cell is a test cell (nbgrader: graded code that is not an answer)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def run_notebook(session, cells: list) -> dict[str, Verdict]:
    """Run ``cells`` (nbformat cells, changed in place) in ``session``: every code cell but the
    test cells in order, their outputs recorded; then every test cell judged, its output the
    verdict (an error when it failed, which nbgrader scores 0). Returns the verdicts by grade_id."""
    from nbformat import NotebookNode
    count = 0
    for cell in cells:
        if cell.get("cell_type") != "code" or is_test(cell):
            continue
        count += 1
        cell["outputs"] = [NotebookNode(o) for o in session.execute(cell["source"])]
        cell["execution_count"] = count
    verdicts = {}
    for cell in cells:
        if not is_test(cell):
            continue
        verdict = judge(session, cell["source"])
        count += 1
        cell["execution_count"] = count
        outputs = []
        if verdict.lines:
            outputs.append(NotebookNode(output_type="stream", name="stdout", text="\n".join(verdict.lines) + "\n"))
        if not verdict.passed:
            outputs.append(NotebookNode(output_type="error", ename="CheckFailed", evalue=verdict.message,
                                        traceback=[f"CheckFailed: {verdict.message}"]))
        cell["outputs"] = outputs
        verdicts[cell["metadata"]["nbgrader"]["grade_id"]] = verdict
    return verdicts
