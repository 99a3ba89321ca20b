"""What the checks receive in place of the student's objects, and the calls they make through the
probe (``session.Session`` runs the probe).

- :class:`RemoteAnswer` (a name of the notebook) and :class:`RemoteObject` (anything else the
  student's code returned: a model of its own class, say) are what the checks receive in place of
  the student's function. ``genedu.checks._core.call`` recognises them (they subclass its
  ``Remote``) and calls through the probe (:func:`call`); a check may also pass them to a *probe
  function* (``_core.probe``), which runs in the sandbox and returns plain data.
- Modules the answer built from torch.nn (or genedu) layers are rebuilt here from those classes and
  the returned weights: the check then inspects and runs torch's own code, not the student's.
- Gradients cross too: a returned tensor that required grad is connected to the grader's inputs by
  :class:`_RemoteGrad`, whose backward asks the probe for the gradients.

A probe that dies or runs out of time during a call raises the checks' ``RemoteError`` of kind
"gone", which they report as such.
"""
from __future__ import annotations

import contextlib
import importlib

import torch

from genedu.checks._core import Remote, RemoteError
from grader import wire
from grader.session import ProbeGone, Session


# --- calls through the probe ---------------------------------------------------------------------------

@contextlib.contextmanager
def _gone_as_remote_error():
    try:
        yield
    except ProbeGone as err:
        raise RemoteError("gone", "GradingStopped", str(err)) from None


@_gone_as_remote_error()
def _check_generation(session: Session, generation: int) -> None:
    session.check_generation(generation)


@_gone_as_remote_error()
def call(session: Session, target: tuple, args: tuple, kwargs: dict, timeout: float | None = None):
    """Call a remote object with ``args``/``kwargs`` (the grader's own objects, copied into the
    probe); returns the decoded result. Tensors and modules among the arguments receive the state
    the call left them in (an optimiser's step, an in-place change)."""
    session.ensure()
    timeout = session.limit(timeout)
    originals = wire.mutable_arguments(args, kwargs)
    args, kwargs, leaves = _prepare(args, kwargs)
    generation = session.generation
    payload = wire.dumps((args, kwargs), session.callbacks)
    reply = session.request(("call", target, payload, timeout), timeout)
    if reply[0] == "err":
        raise RemoteError(reply[1], reply[2], reply[3])
    _, value, after, call_id = reply
    _copy_back(originals, after, session)
    outputs: list = []
    result = decode(session, value, outputs)
    if call_id and outputs:
        result = _attach_grads(result, outputs, leaves, _Link(session, call_id, generation))
    return result


@_gone_as_remote_error()
def get_attribute(session: Session, handle: int, generation: int, name: str):
    session.check_generation(generation)
    timeout = session.limit(None)
    reply = session.request(("getattr", handle, name), timeout)
    if reply[0] == "err":
        raise RemoteError(reply[1], reply[2], reply[3])
    return decode(session, reply[1])


@_gone_as_remote_error()
def backward(session: Session, call_id: int, generation: int, grads: list) -> list:
    session.check_generation(generation)
    timeout = session.limit(None)
    reply = session.request(("backward", call_id, [None if g is None else g.detach() for g in grads], timeout),
                            timeout)
    if reply[0] == "err":
        raise RemoteError(reply[1], reply[2], reply[3])
    return [decode(session, g) for g in reply[1]]


def decode(session: Session, node, outputs: list | None = None):
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
        return [decode(session, v, outputs) for v in node[1]]
    if tag == "U":
        return tuple(decode(session, v, outputs) for v in node[1])
    if tag == "D":
        out = {}
        for k, v in node[1]:
            key = decode(session, k)
            if isinstance(key, (list, dict, torch.Tensor)):
                key = repr(key)
            out[key] = decode(session, v, outputs)
        return out
    if tag == "M":
        return _rebuild(node[1], session)
    if tag == "R":
        _, handle, kind, text, is_module, children, is_callable = node
        if is_module:
            return RemoteModule(session, handle, kind, text, [(name, decode(session, c)) for name, c in children])
        return RemoteObject(session, ("h", handle), kind, text)
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
            _check_generation(self._session, self._generation)
        return call(self._session, self._target, args, kwargs, timeout)

    def remote_probe(self, function, args: tuple, kwargs: dict, timeout: float | None = None):
        if self._target[0] == "h":
            _check_generation(self._session, self._generation)
        target = ("probe", function.__module__, function.__name__, self._target)
        return call(self._session, target, args, kwargs, timeout)

    def __call__(self, *args, **kwargs):
        return self.remote_call(args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") or self._target[0] != "h":
            raise AttributeError(name)
        return get_attribute(self._session, self._target[1], self._generation, name)

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
        value = decode(session, value)
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
            value, grad = decode(session, state[1]), decode(session, state[2])
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
                p.grad = decode(session, g)
        elif kind == "optimizer" and isinstance(obj, torch.optim.Optimizer):
            try:
                decoded = decode(session, state[1])
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
        return backward(self.session, self.call_id, self.generation, grads)


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
