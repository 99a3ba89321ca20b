"""The probe's process as the grader drives it: one submission in the sandbox, its cells executed.

:class:`Session` starts the probe (``probe.py``) in the sandbox, or adopts one started earlier,
executes the notebook's cells there and sends it requests. Every reply is read as plain data
(``wire.py``), never a pickle. A cell or request that runs past its time is interrupted in the probe;
a probe that does not answer in time, or dies (``os._exit``, a kill, a crash), is replaced by a fresh
one that re-runs the cells executed so far, except the one that killed it, so that one broken
answer costs only its own exercise. The whole notebook has a wall-clock budget: past it, nothing
more runs and what is left gets no marks.

This module imports neither torch nor genedu: the grader imports them while the probe runs the
cells (``judge.open_session``). What the checks call through a session is in ``remote.py``.
"""
from __future__ import annotations

import shutil
import time

from grader import sandbox, wire

GRACE = 5.0                    # seconds the grader waits beyond a cell's own limit before it kills the probe
STARTUP = 60.0                 # seconds a probe may take to start (its imports: ~5 s), counted in no cell's time
REPLAY = 2.0                   # a replayed cell may take this many times a cell's limit: it ran within the limit
                               # once, and a loaded machine must not turn one answer's crash into the loss of
                               # the next exercise (the notebook's budget still bounds the whole)


class ProbeGone(Exception):
    """The probe died, hung, or the notebook's time is up: the operation could not be done
    (``remote.py`` turns it into the checks' ``RemoteError`` of kind "gone")."""


class Session:
    """One submission in the sandbox.

    ``cell_timeout``: seconds a cell or a call may run; ``budget``: seconds for the whole notebook.
    ``started``: a probe already started (``sandbox.start``, so that it imports torch while nbgrader
    and the grader start) in the folder ``private``; it is given the submission and ``genedu_copy``
    (``sandbox.begin``) before the first cell, unless ``begun`` says that this was done.
    """

    def __init__(self, submission: str, course_root: str, genedu_copy: str, *, cell_timeout: float = 60,
                 budget: float = 300, sandboxed: bool = True, limits: dict | None = None, log=None,
                 private: str | None = None, started: sandbox.Started | None = None, begun: bool = False):
        self.submission, self.course_root, self.genedu_copy = submission, course_root, genedu_copy
        self.cell_timeout, self.budget, self.sandboxed = cell_timeout, budget, sandboxed
        self.limits = limits or {}
        self.log = log
        self.start = time.monotonic()
        self.cells: list[str] = []      # executed so far (replayed by a fresh probe)
        self.fatal: set[int] = set()    # cells that killed a probe (not replayed)
        self.generation = 0
        self.restarts = 0
        self.process = None
        self.private = private or sandbox.private_folder()
        self.callbacks: dict[int, object] = {}
        self.out_of_time = False
        self.begun = self.ready = False
        if started is not None:
            self._adopt(started)
            self.begun = begun

    # -- time --

    def remaining(self) -> float:
        return self.budget - (time.monotonic() - self.start)

    def limit(self, timeout: float | None) -> float:
        left = self.remaining()
        if left <= 0:
            self.out_of_time = True
            raise ProbeGone(f"the notebook used up its {self.budget:.0f} s of grading time; "
                            "what had not run by then gets no marks")
        return min(timeout or self.cell_timeout, left)

    # -- the process --

    def options(self) -> dict:
        return dict(course_root=self.course_root, sandbox=self.sandboxed, **self.limits)

    def _spawn(self) -> None:
        self._adopt(sandbox.start(private=self.private, generation=self.generation, **self.options()))

    def _adopt(self, started: sandbox.Started) -> None:
        self.started = started
        self.process, self.rfd, self.wfd, self.stderr = started.process, started.rfd, started.wfd, started.stderr
        self.generation += 1
        self.begun = self.ready = False

    def _begin(self) -> None:
        """Give the probe the submission and genedu (unless done), and wait until it is ready."""
        if not self.begun:
            try:
                sandbox.begin(self.private, self.started, self.submission, self.genedu_copy,
                              self.limits.get("tmp_size", 512 * 2 ** 20))
            except BrokenPipeError:
                pass  # a probe that died: waiting for it says so
            except OSError as err:
                raise ProbeGone(f"the notebook's folder could not be copied into the sandbox: {err}") from None
            self.begun = True
        try:
            reply = self._wait(STARTUP - GRACE)
            if reply[0] != "ready":
                raise wire.WireError(f"{reply[0]!r} where it should have said it was ready")
        except (TimeoutError, EOFError, BrokenPipeError, wire.WireError, OSError) as err:
            self._kill()
            self.restarts += 1
            why = f"did not start within {STARTUP:.0f} s" if isinstance(err, TimeoutError) else f"failed to start ({err})"
            raise ProbeGone(f"the process running your code {why}") from None
        self.ready = True

    def _kill(self) -> None:
        if self.process is not None:
            sandbox.kill(self.started)
        self.process = None

    def close(self) -> None:
        if self.process is not None:
            try:
                wire.send(self.wfd, wire.dumps(("bye",), {}))
                self.process.wait(timeout=2)
            except Exception:  # noqa: BLE001
                pass
        self._kill()
        shutil.rmtree(self.private, ignore_errors=True)

    def ensure(self) -> None:
        """A live probe that has run every cell executed so far (but the fatal ones).

        A replayed cell can behave worse than it did the first time (a cell that uses a broken answer,
        on a loaded machine): one that kills or hangs the fresh probe becomes fatal too, and the replay
        starts again without it, so that it costs its own cell and not the call that needed the probe."""
        while True:
            if self.process is not None and self.process.poll() is None:
                if not self.ready:
                    self._begin()
                return
            self._kill()
            if self.restarts > 10:
                raise ProbeGone("the process running the notebook was restarted too often; the rest gets no marks")
            self._spawn()
            self._begin()
            try:
                for i, source in enumerate(self.cells):
                    if i not in self.fatal:
                        timeout = self.limit(REPLAY * self.cell_timeout)
                        self.request(("exec", source, timeout), timeout, replay=i)
            except ProbeGone:
                if self.out_of_time:
                    raise
                # request() marked the cell fatal and killed the probe: replay again without it

    # -- requests --

    def request(self, message: tuple, timeout: float, replay: int | None = None):
        """Send ``message`` and return the reply, answering the probe's callbacks meanwhile."""
        try:
            wire.send(self.wfd, wire.dumps(message, self.callbacks))
            return self._wait(timeout)
        except (TimeoutError, EOFError, BrokenPipeError, wire.WireError, OSError) as err:
            if isinstance(err, TimeoutError):
                why = f"did not answer within {timeout + GRACE:.0f} s and was stopped"
            elif isinstance(err, wire.WireError):
                why = f"sent {err}"
            else:
                code = self.process.poll() if self.process is not None else None
                why = "ended" + (f" (exit status {code})" if code not in (None, 0) else "")
            self._kill()
            self.restarts += 1
            if replay is not None:
                self.fatal.add(replay)
            raise ProbeGone(f"the process running your code {why}") from None

    def _wait(self, timeout: float):
        deadline = time.monotonic() + timeout + GRACE
        while True:
            reply = _validate(wire.load_plain(wire.recv(self.rfd, wire.MESSAGE_LIMIT, deadline)))
            if reply[0] != "callback":
                return reply
            self._answer_callback(reply)

    def _answer_callback(self, reply) -> None:
        if len(reply) != 4:
            raise wire.WireError("a malformed callback")
        _, key, args, kwargs = reply
        fn = self.callbacks.get(key) if isinstance(key, int) else None
        from grader.remote import decode  # a callback comes only while a check calls the answer
        try:
            result = fn(*decode(self, args), **decode(self, kwargs))
            answer = ("reply", result)
            payload = wire.dumps(answer, self.callbacks)
        except Exception as err:  # noqa: BLE001 - the callback's error goes back to the probe
            payload = wire.dumps(("raise", f"{type(err).__name__}: {err}"), self.callbacks)
        wire.send(self.wfd, payload)

    def execute(self, source: str) -> list:
        """Run one cell of the notebook; returns its outputs as nbformat output dicts."""
        try:
            self.ensure()
            timeout = self.limit(None)
            index = len(self.cells)
            self.cells.append(source)
            reply = self.request(("exec", source, timeout), timeout, replay=index)
        except ProbeGone as err:
            return [_error_output("GradingStopped", str(err))]
        if reply[0] == "done" and len(reply) == 2:
            return _outputs(reply[1])
        if reply[0] == "err" and len(reply) == 4:  # e.g. a cell that ran past its time
            return [_error_output(str(reply[2]), str(reply[3]))]
        return [_error_output("GradingStopped", "the process running your code sent a malformed reply")]

    def check_generation(self, generation: int) -> None:
        if generation != self.generation or self.process is None:
            raise ProbeGone("the process that held this object ended")


# --- replies ---------------------------------------------------------------------------------------

def _validate(node, depth: int = 0):
    """Check that a reply is a tree of the expected plain types (nothing else can be in it after
    ``weights_only``, but the shapes of the tuples are the probe's word)."""
    if depth > 200:
        raise wire.WireError("a reply nested too deeply")
    if isinstance(node, (tuple, list)):
        for item in node:
            _validate(item, depth + 1)
    elif isinstance(node, dict):
        for k, v in node.items():
            _validate(k, depth + 1)
            _validate(v, depth + 1)
    elif node is None or isinstance(node, (bool, int, float, str, bytes)):
        pass
    elif type(node).__module__.startswith("torch"):  # only a reply read by torch.load holds one
        import torch
        if type(node) not in (torch.Tensor, torch.nn.Parameter) or node.layout != torch.strided:
            raise wire.WireError("a tensor of an unexpected kind")
    else:
        raise wire.WireError(f"an unexpected {type(node).__name__}")
    return node


def _error_output(name: str, message: str) -> dict:
    return {"output_type": "error", "ename": name, "evalue": message, "traceback": [f"{name}: {message}"]}


def _outputs(raw) -> list:
    """The probe's record of a cell's outputs as nbformat output dicts."""
    outputs = []
    for item in raw if isinstance(raw, list) else []:
        try:
            kind = item[0]
            if kind == "stream":
                outputs.append({"output_type": "stream", "name": str(item[1]), "text": str(item[2])})
            elif kind in ("display", "result"):
                data = {str(k): str(v) for k, v in dict(item[1]).items()}
                if data:
                    outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
            elif kind == "error":
                outputs.append({"output_type": "error", "ename": str(item[1]), "evalue": str(item[2]),
                                "traceback": [str(line) for line in item[3]]})
        except (TypeError, IndexError, ValueError):
            continue
    return outputs
