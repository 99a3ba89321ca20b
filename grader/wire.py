"""The messages between the grader and the probe (the sandboxed process that runs a submission).

Frames are an 8-byte big-endian length and a payload, on a pair of pipes of their own (not the
probe's stdin/stdout, which the student's code may read and write).

- **grader -> probe**: a pickle. The probe trusts the grader; objects the probe cannot rebuild
  (a lambda, an instance of a class defined inside a function) travel as *callbacks*: the probe
  gets a stand-in that asks the grader to call the original (see ``Pickler``/``Unpickler``).
- **probe -> grader**: a tree of plain data, as JSON when it holds no tensor (a cell's outputs: the
  grader reads those before it has imported torch), else ``torch.save``'d and read back with
  ``torch.load(..., weights_only=True)``; neither can run code (:func:`dumps_plain`,
  :func:`load_plain`). Nothing the probe sends is ever unpickled with the full pickle. The grader
  validates the tree's shape (``session._validate``).

A value sent by the probe is encoded as a tagged tuple (see :func:`encode` in ``probe.py``):

    ("0",) None             ("B", bool)            ("N", int | float)      ("S", str)
    ("T", tensor, rg)       a plain tensor; rg: whether it required grad in the probe
    ("L", [items])  list    ("U", [items]) tuple   ("D", [[key, value], ...]) dict
    ("M", spec)     an nn.Module made of torch.nn (or genedu) layers, rebuilt by the grader
    ("R", id, type, repr, is_module, children)     a handle to any other object in the probe
"""
from __future__ import annotations

import io
import json
import os
import pickle
import select
import struct
import time

HEADER = struct.Struct(">Q")
MESSAGE_LIMIT = 256 * 2 ** 20  # bytes in one reply from the probe (the grader refuses a longer frame unread)


class WireError(Exception):
    """The other side sent something unreadable, too much, nothing in time, or hung up."""


def send(fd: int, payload: bytes) -> None:
    """Write one frame to file descriptor ``fd``."""
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(fd: int, limit: int, deadline: float | None = None) -> bytes:
    """Read one frame from ``fd``: at most ``limit`` bytes of payload, before ``deadline``
    (``time.monotonic()``; None: wait as long as it takes). Raises ``TimeoutError``, ``EOFError``
    (the other side closed the pipe) or :class:`WireError` (a frame over the limit)."""
    (length,) = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if length > limit:
        raise WireError(f"a message of {length / 2 ** 20:.0f} MiB, over the limit of {limit / 2 ** 20:.0f} MiB")
    return _read_exactly(fd, length, deadline)


# --- grader -> probe: pickles with callbacks -----------------------------------------------------

class Callback:
    """What the probe receives in place of an object it could not rebuild (see ``probe.py``)."""

    def __init__(self, key: int):
        self.key = key


def _rebuildable(obj) -> bool:
    """Whether the probe can rebuild ``obj`` from a pickle (its class and functions are importable)."""
    qualname = getattr(obj, "__qualname__", None) if isinstance(obj, type) or callable(obj) else None
    kind = type(obj)
    if "<locals>" in kind.__qualname__ or "<lambda>" in kind.__qualname__:
        return False
    if kind.__name__ in ("function", "method", "builtin_function_or_method", "partial"):
        return bool(qualname) and "<" not in qualname
    return True


def dumps(obj, callbacks: dict[int, object]) -> bytes:
    """Pickle ``obj`` for the probe; objects it could not rebuild go into ``callbacks`` (id -> object)
    and travel as :class:`Callback` stand-ins."""

    class _Pickler(pickle.Pickler):
        def persistent_id(self, value):
            if callable(value) and not isinstance(value, type) and not _rebuildable(value):
                key = id(value)
                callbacks[key] = value
                return ("callback", key)
            return None

    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def loads_trusted(data: bytes, make_callback) -> object:
    """The probe's side of :func:`dumps`: ``make_callback(key)`` builds the stand-in of a callback."""

    class _Unpickler(pickle.Unpickler):
        def persistent_load(self, pid):
            kind, key = pid
            if kind != "callback":
                raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
            return make_callback(key)

    return _Unpickler(io.BytesIO(data)).load()


# --- probe -> grader: plain data only --------------------------------------------------------------

def _json_plain(node, depth: int = 0) -> bool:
    """Whether ``node`` is None, bools, numbers and strings in lists, tuples and str-keyed dicts."""
    if node is None or type(node) in (bool, int, float, str):
        return True
    if depth > 100:
        return False
    if type(node) in (list, tuple):
        return all(_json_plain(v, depth + 1) for v in node)
    if type(node) is dict:
        return all(type(k) is str and _json_plain(v, depth + 1) for k, v in node.items())
    return False


def dumps_plain(message) -> bytes:
    """The probe's side of :func:`load_plain`: JSON (a list, so it starts with ``[``) when the
    message allows it (its tuples come back as lists), else ``torch.save`` (a zip: ``PK``)."""
    if _json_plain(message):
        return json.dumps(message, ensure_ascii=True).encode("ascii")
    import torch
    buf = io.BytesIO()
    torch.save(message, buf)
    return buf.getvalue()


def load_plain(data: bytes):
    """A message from the probe, read without running any code (JSON, or ``weights_only``)."""
    try:
        if data[:1] == b"[":
            return json.loads(data)
        import torch
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - anything unreadable is the probe's fault
        raise WireError(f"an unreadable message ({type(err).__name__}: {str(err)[:200]})") from None


def mutable_arguments(args, kwargs) -> list:
    """The tensors, modules, optimizers and generators among a call's arguments (top level and inside
    tuples, lists and dicts), in a fixed order. Both sides walk their own copies of the arguments with
    this, so that the state the probe sends back after a call lands in the grader's objects."""
    import torch
    found = []

    def visit(v, depth=0):
        if isinstance(v, (torch.Tensor, torch.nn.Module, torch.optim.Optimizer, torch.Generator)):
            found.append(v)
        elif isinstance(v, (tuple, list)) and depth < 3:
            for item in v:
                visit(item, depth + 1)
        elif isinstance(v, dict) and depth < 3:
            for item in v.values():
                visit(item, depth + 1)

    visit(list(args))
    visit(list(kwargs.values()))
    return found
