"""The grader's side of the probe: a session that runs one submission in the sandbox, and the
stand-ins through which the checks, running in the grader, reach the student's objects.

- :class:`Session` starts the probe (``probe.py``) in the sandbox, executes the notebook's cells
  there, and sends it calls. Every reply is read as plain data (``wire.py``): a tree of tensors,
  numbers and strings, never a pickle. A cell or call that runs past its time is interrupted in the
  probe; a probe that does not answer in time, or dies (``os._exit``, a kill, a crash), is replaced by
  a fresh one that re-runs the cells executed so far, except the one that killed it, so that one
  broken answer costs only its own exercise. The whole notebook has a wall-clock budget: past it,
  nothing more runs and what is left gets no marks.
- :class:`RemoteAnswer` (a name of the notebook) and :class:`RemoteObject` (anything else the
  student's code returned: a model of its own class, say) are what the checks receive in place of
  the student's function. ``genedu.checks._core.call`` recognises them (they subclass its
  ``Remote``) and calls through the probe; a check may also pass them to a *probe function*
  (``_core.probe``), which runs in the sandbox and returns plain data.
- Modules the answer built from torch.nn (or genedu) layers are rebuilt here from those classes and
  the returned weights: the check then inspects and runs torch's own code, not the student's.
- Gradients cross too: a returned tensor that required grad is connected to the grader's inputs by
  :class:`_RemoteGrad`, whose backward asks the probe for the gradients.
"""
from __future__ import annotations

import importlib
import shutil
import time

import torch

from genedu.checks._core import Remote, RemoteError
from grader import sandbox, wire

MESSAGE_LIMIT = 256 * 2 ** 20  # bytes in one reply from the probe
GRACE = 5.0                    # seconds the grader waits beyond a cell's own limit before it kills the probe
STARTUP = 60.0                 # seconds a probe may take to start (its imports: ~5 s), counted in no cell's time


class ProbeGone(RemoteError):
    """The probe died, hung, or the notebook's time is up: the operation could not be done."""

    def __init__(self, message: str):
        super().__init__("gone", "GradingStopped", message)


# --- the session --------------------------------------------------------------------------------------

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

    def _limit(self, timeout: float | None) -> float:
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

    def _ensure(self) -> None:
        """A live probe that has run every cell executed so far (but the fatal ones)."""
        if self.process is not None and self.process.poll() is None:
            if not self.ready:
                self._begin()
            return
        self._kill()
        if self.restarts > 10:
            raise ProbeGone("the process running the notebook was restarted too often; the rest gets no marks")
        self._spawn()
        self._begin()
        for i, source in enumerate(self.cells):
            if i not in self.fatal:
                self._request(("exec", source, self._limit(None)), self._limit(None), replay=i)

    # -- requests --

    def _request(self, message: tuple, timeout: float, replay: int | None = None):
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
            reply = _validate(wire.load_plain(wire.recv(self.rfd, MESSAGE_LIMIT, deadline)))
            if reply[0] != "callback":
                return reply
            self._answer_callback(reply)

    def _answer_callback(self, reply) -> None:
        _, key, args, kwargs = reply
        fn = self.callbacks.get(key)
        try:
            result = fn(*self.decode(args), **self.decode(kwargs))
            answer = ("reply", result)
            payload = wire.dumps(answer, self.callbacks)
        except Exception as err:  # noqa: BLE001 - the callback's error goes back to the probe
            payload = wire.dumps(("raise", f"{type(err).__name__}: {err}"), self.callbacks)
        wire.send(self.wfd, payload)

    def execute(self, source: str) -> list:
        """Run one cell of the notebook; returns its outputs as nbformat output dicts."""
        try:
            self._ensure()
            timeout = self._limit(None)
            index = len(self.cells)
            self.cells.append(source)
            reply = self._request(("exec", source, timeout), timeout, replay=index)
        except ProbeGone as err:
            return [_error_output("GradingStopped", str(err))]
        return _outputs(reply[1])

    def call(self, target: tuple, args: tuple, kwargs: dict, timeout: float | None = None):
        """Call a remote object with ``args``/``kwargs`` (the grader's own objects, copied into the
        probe); returns the decoded result. Tensors and modules among the arguments receive the state
        the call left them in (an optimiser's step, an in-place change)."""
        self._ensure()
        timeout = self._limit(timeout)
        originals = wire.mutable_arguments(args, kwargs)
        args, kwargs, leaves = _prepare(args, kwargs)
        generation = self.generation
        payload = wire.dumps((args, kwargs), self.callbacks)
        reply = self._request(("call", target, payload, timeout), timeout)
        if reply[0] == "err":
            raise RemoteError(reply[1], reply[2], reply[3])
        _, value, after, call_id = reply
        _copy_back(originals, after, self)
        outputs: list = []
        result = self.decode(value, outputs)
        if call_id and outputs:
            result = _attach_grads(result, outputs, leaves, _Link(self, call_id, generation))
        return result

    def getattr(self, handle: int, generation: int, name: str):
        self._check_generation(generation)
        timeout = self._limit(None)
        reply = self._request(("getattr", handle, name), timeout)
        if reply[0] == "err":
            raise RemoteError(reply[1], reply[2], reply[3])
        return self.decode(reply[1])

    def backward(self, call_id: int, generation: int, grads: list) -> list:
        self._check_generation(generation)
        timeout = self._limit(None)
        reply = self._request(("backward", call_id, [None if g is None else g.detach() for g in grads], timeout),
                              timeout)
        if reply[0] == "err":
            raise RemoteError(reply[1], reply[2], reply[3])
        return [self.decode(g) for g in reply[1]]

    def _check_generation(self, generation: int) -> None:
        if generation != self.generation or self.process is None:
            raise ProbeGone("the process that held this object ended")

    # -- decoding --

    def decode(self, node, outputs: list | None = None):
        """A validated reply node as grader objects (tensors, containers, rebuilt modules, handles)."""
        tag = node[0]
        if tag == "0":
            return None
        if tag in ("B", "N", "S"):
            return node[1]
        if tag == "T":
            tensor = node[1]
            if outputs is not None and node[2]:
                outputs.append(tensor)
            return tensor
        if tag == "L":
            return [self.decode(v, outputs) for v in node[1]]
        if tag == "U":
            return tuple(self.decode(v, outputs) for v in node[1])
        if tag == "D":
            out = {}
            for k, v in node[1]:
                key = self.decode(k)
                if isinstance(key, (list, dict, torch.Tensor)):
                    key = repr(key)
                out[key] = self.decode(v, outputs)
            return out
        if tag == "M":
            return _rebuild(node[1], self)
        if tag == "R":
            _, handle, kind, text, is_module, children, is_callable = node
            if is_module:
                return RemoteModule(self, handle, kind, text, [(name, self.decode(c)) for name, c in children])
            return RemoteObject(self, ("h", handle), kind, text)
        raise wire.WireError(f"unknown tag {tag!r}")


# --- what the checks receive -------------------------------------------------------------------------

class RemoteObject(Remote):
    """An object in the probe: a function of the notebook, or anything its code returned."""

    def __init__(self, session: Session, target: tuple, kind: str = "function", text: str = ""):
        self._session, self._target, self._kind, self._text = session, target, kind, text
        self._generation = session.generation

    @property
    def remote_name(self) -> str:
        return self._target[1] if self._target[0] == "ns" else self._kind.rsplit(".", 1)[-1]

    def remote_call(self, args: tuple, kwargs: dict, timeout: float | None = None):
        if self._target[0] == "h":
            self._session._check_generation(self._generation)
        return self._session.call(self._target, args, kwargs, timeout)

    def remote_probe(self, function, args: tuple, kwargs: dict, timeout: float | None = None):
        if self._target[0] == "h":
            self._session._check_generation(self._generation)
        target = ("probe", function.__module__, function.__name__, self._target)
        return self._session.call(target, args, kwargs, timeout)

    def __call__(self, *args, **kwargs):
        return self.remote_call(args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") or self._target[0] != "h":
            raise AttributeError(name)
        return self._session.getattr(self._target[1], self._generation, name)

    def __repr__(self) -> str:
        return self._text or f"<{self._kind} in the probe>"


class RemoteAnswer(RemoteObject):
    """The notebook's ``name`` (the function, or class, an exercise asks for)."""

    def __init__(self, session: Session, name: str):
        super().__init__(session, ("ns", name), "function", name)


class RemoteModule(torch.nn.Module):
    """A module of the student's own class: its children are rebuilt here (for inspection) where
    they are made of torch.nn layers; calling it runs its forward in the probe."""

    def __init__(self, session: Session, handle: int, kind: str, text: str, children: list):
        super().__init__()
        self._remote = RemoteObject(session, ("h", handle), kind, text)
        self._kind_name = kind
        for name, child in children:
            if isinstance(child, torch.nn.Module):
                self.add_module(name, child)

    def forward(self, *args, **kwargs):
        return self._remote.remote_call(args, kwargs)

    def train(self, mode: bool = True):
        """Switch the rebuilt children here and the model in the probe."""
        super().train(mode)
        if hasattr(self, "_remote"):
            self._remote.train(mode)
        return self

    def as_remote(self) -> RemoteObject:
        """The stand-in of the model in the probe (``_core.call`` and ``_core.probe`` use it)."""
        return self._remote

    def extra_repr(self) -> str:
        return f"remote {self._kind_name}"


# --- helpers ---------------------------------------------------------------------------------------

_ALLOWED_MODULES = ("torch.nn.modules.",)


def _rebuild(spec, session: Session) -> torch.nn.Module:
    """An nn.Module rebuilt from its class (torch.nn's or genedu's, never the notebook's) and data."""
    where, qualname, attributes, params, buffers, children = spec
    if not (where.startswith(_ALLOWED_MODULES) or (where.startswith("genedu.") and not where.startswith("genedu.checks"))):
        raise wire.WireError(f"a module of {where} cannot be rebuilt")
    obj = importlib.import_module(where)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        raise wire.WireError(f"{where}.{qualname} is not a module class")
    module = obj.__new__(obj)
    torch.nn.Module.__init__(module)
    for key, value in attributes:
        value = session.decode(value)
        if not isinstance(key, str) or key.startswith("__") or callable(getattr(obj, key, None)) \
                or not _plain_value(value):
            raise wire.WireError(f"a module attribute the grader will not set ({key!r})")
        object.__setattr__(module, key, value)
    for key, tensor, requires_grad in params:
        module._parameters[key] = None if tensor is None else torch.nn.Parameter(tensor, requires_grad=requires_grad)
    for key, tensor in buffers:
        module._buffers[key] = tensor
    for key, child in children:
        module._modules[key] = None if child is None else _rebuild(child, session)
    return module


def _plain_value(value, depth: int = 0) -> bool:
    """None, a bool, number or string, or a short tuple or list of them (what torch.nn layers keep)."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    return type(value) in (tuple, list) and depth < 3 and len(value) < 64 and all(
        _plain_value(v, depth + 1) for v in value)


def _data_only(value, depth: int = 0) -> bool:
    """Tensors and plain values in containers only (no handle, no module)."""
    if isinstance(value, torch.Tensor) or _plain_value(value):
        return True
    if depth > 20:
        return False
    if isinstance(value, (tuple, list)):
        return all(_data_only(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_plain_value(k) and _data_only(v, depth + 1) for k, v in value.items())
    return False


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
    elif isinstance(node, torch.Tensor):
        if type(node) not in (torch.Tensor, torch.nn.Parameter) or node.layout != torch.strided:
            raise wire.WireError("a tensor of an unexpected kind")
    elif not (node is None or isinstance(node, (bool, int, float, str, bytes))):
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


def _prepare(args: tuple, kwargs: dict):
    """Arguments as they travel: a tensor that requires grad and is not a leaf travels as a leaf
    copy (pickle refuses the others); returns the grader's tensors the gradients will flow to."""
    leaves = []

    def convert(v, depth=0):
        if isinstance(v, torch.Tensor) and not isinstance(v, torch.nn.Parameter):
            if v.requires_grad:
                leaves.append(v)
                return v.detach().clone().requires_grad_(True)
            return v
        if isinstance(v, torch.nn.Module):
            leaves.extend(p for p in v.parameters() if p.requires_grad)
            return v
        if isinstance(v, tuple) and depth < 3:
            return tuple(convert(x, depth + 1) for x in v)
        if isinstance(v, list) and depth < 3:
            return [convert(x, depth + 1) for x in v]
        if isinstance(v, dict) and depth < 3:
            return {k: convert(x, depth + 1) for k, x in v.items()}
        return v

    new_args = tuple(convert(a) for a in args)
    new_kwargs = {k: convert(v) for k, v in kwargs.items()}
    return new_args, new_kwargs, leaves


def _copy_back(local: list, after: list, session: Session) -> None:
    """Give the grader's arguments the state the call left the probe's copies in."""
    for obj, state in zip(local, after):
        kind = state[0]
        if kind == "tensor" and isinstance(obj, torch.Tensor):
            value, grad = session.decode(state[1]), session.decode(state[2])
            if isinstance(value, torch.Tensor) and value.shape == obj.shape:
                with torch.no_grad():
                    obj.copy_(value.to(obj.dtype))
            if isinstance(grad, torch.Tensor) and grad.shape == obj.shape and obj.is_leaf and obj.requires_grad:
                obj.grad = grad.to(obj.dtype)
        elif kind == "module" and isinstance(obj, torch.nn.Module):
            new = {k: t for k, t in state[1]}
            try:
                obj.load_state_dict(new, strict=True)
            except Exception as err:  # noqa: BLE001
                raise RemoteError("raised", "RuntimeError", f"the function changed the model's layers ({err})") from None
            for p, g in zip(obj.parameters(), state[2]):
                p.grad = session.decode(g)
        elif kind == "optimizer" and isinstance(obj, torch.optim.Optimizer):
            try:
                decoded = session.decode(state[1])
                if not _data_only(decoded):
                    raise ValueError("it holds objects, not data")
                obj.load_state_dict(decoded)
            except Exception as err:  # noqa: BLE001
                raise RemoteError("raised", "RuntimeError", f"the optimiser's state came back unusable ({err})") from None
        elif kind == "generator" and isinstance(obj, torch.Generator):
            try:
                obj.set_state(state[1])
            except Exception:  # noqa: BLE001
                raise RemoteError("raised", "RuntimeError", "the generator's state came back unusable") from None


class _Link:
    def __init__(self, session: Session, call_id: int, generation: int):
        self.session, self.call_id, self.generation = session, call_id, generation

    def backward(self, grads: list) -> list:
        return self.session.backward(self.call_id, self.generation, grads)


class _RemoteGrad(torch.autograd.Function):
    """Ties the tensors a remote call returned to the grader's inputs: backward asks the probe."""

    @staticmethod
    def forward(ctx, link, n_inputs, *tensors):
        ctx.link, ctx.n_inputs = link, n_inputs
        ctx.shapes = [t.shape for t in tensors[:n_inputs]]
        return tuple(t.clone() for t in tensors[n_inputs:])

    @staticmethod
    def backward(ctx, *grads):
        found = ctx.link.backward(list(grads))
        in_grads = []
        for shape, g in zip(ctx.shapes, found):
            in_grads.append(g if isinstance(g, torch.Tensor) and g.shape == shape else None)
        in_grads += [None] * (ctx.n_inputs - len(in_grads))
        return (None, None, *in_grads, *([None] * len(grads)))


def _attach_grads(result, outputs: list, leaves: list, link: _Link):
    """Replace the returned tensors that required grad by ones connected to ``leaves``."""
    if leaves:
        connected = _RemoteGrad.apply(link, len(leaves), *leaves, *outputs)
        if isinstance(connected, torch.Tensor):
            connected = (connected,)
    else:
        connected = tuple(o.detach().clone().requires_grad_(o.is_floating_point()) for o in outputs)
    mapping = {id(o): c for o, c in zip(outputs, connected)}

    def swap(v):
        if isinstance(v, torch.Tensor) and id(v) in mapping:
            return mapping[id(v)]
        if isinstance(v, tuple):
            return tuple(swap(x) for x in v)
        if isinstance(v, list):
            return [swap(x) for x in v]
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        return v

    return swap(result)
