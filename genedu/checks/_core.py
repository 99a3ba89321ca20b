"""The mechanism behind every exercise check ("one check, two places").

A check compares a student's function with genedu's reference implementation on inputs it makes
from a seed and sizes. It passes with one short line; it fails with :class:`CheckFailed`, whose
message names the mistake and, when it recognises one, the likely cause.

The same check runs in two places:

- **in the notebook** (the visible self-check), the answer is the student's own function, called
  in the student's kernel; this only advises the student;
- **in the grader** (``grader/``), the answer is a :class:`Remote`: a stand-in for the function in
  a sandboxed process that only computes. The check itself, the reference and every comparison run
  in the grader's process, on the plain data the call returns, so nothing the student's code does
  can change a verdict.

The helpers here take care of what every check needs:

- :func:`call`  calls the answer (local or remote): turns ``NotImplementedError``, a wrong
  signature and crashes into a readable failure; locally it also refuses an answer that merely
  calls genedu's own reference (in the grader, the sandbox's genedu has no reference to call);
- :func:`probe`  runs a *probe function* on the answer where the answer lives (for checks that
  must look inside a model the answer built) and returns plain data;
- :func:`expect_tensor`, :func:`expect_tuple`, :func:`expect_number`  type and shape of what came back;
- :func:`compare`  closeness to the expected value, naming a recognised mistake when the
  answer matches one of the wrong variants the check computed.
"""
from __future__ import annotations

import abc
import contextlib
import inspect
import sys
from typing import Callable, Iterable, Sequence

import torch

_isclose = torch.isclose
_equal = torch.equal
_isfinite = torch.isfinite
_abs = torch.abs
_Tensor = torch.Tensor


class Remote(abc.ABC):
    """Base of the grader's stand-ins for objects that live in the sandboxed probe (``grader/remote.py``).

    ``remote_call(args, kwargs)`` calls the object there and returns the result as grader objects;
    ``remote_probe(function, args, kwargs)`` runs ``function(obj, *args, **kwargs)`` there (a probe
    function defined at the top level of a ``genedu.checks`` module). Both raise :class:`RemoteError`."""

    remote_name = "answer"

    @abc.abstractmethod
    def remote_call(self, args: tuple, kwargs: dict):
        """Call the object in the probe (``grader.remote.RemoteObject`` implements it)."""

    @abc.abstractmethod
    def remote_probe(self, function: Callable, args: tuple, kwargs: dict):
        """Run ``function(obj, *args, **kwargs)`` in the probe."""


class RemoteError(Exception):
    """A remote call did not return: ``kind`` is "notfound", "notcallable", "signature",
    "notimplemented", "raised", "timeout", "encode" or "gone" (the process ended or ran out of time)."""

    def __init__(self, kind: str, type_name: str, message: str):
        super().__init__(message)
        self.kind, self.type_name, self.message = kind, type_name, message


class CheckFailed(AssertionError):
    """Raised by a check when the answer is wrong; the message says what and why."""


def fail(name: str, message: str) -> None:
    """Raise :class:`CheckFailed` with ``"name: message"``."""
    raise CheckFailed(f"{name}: {message}")


def passed(name: str, detail: str = "") -> None:
    """Print the one-line success message of a check."""
    print(f"[passed] {name}" + (f": {detail}" if detail else ""))


# --- calling the student's function ----------------------------------------------------------

NOT_IMPLEMENTED = ("not implemented yet: replace the `NotImplementedError` line (and the YOUR CODE HERE comment) "
                   "with your code.")


def _references(reference: Callable | tuple | None) -> tuple:
    """The reference functions, unwrapped: a decorator such as ``@torch.no_grad()`` gives every
    function it wraps the same wrapper code, which must not stand for any one of them."""
    if reference is None:
        return ()
    refs = tuple(reference) if isinstance(reference, (tuple, list)) else (reference,)
    return tuple(inspect.unwrap(ref) for ref in refs)


@contextlib.contextmanager
def _forbid_calls(reference: Callable | tuple | None, name: str):
    """Fail if a reference implementation's code runs inside the block (in the student's own kernel).

    A profile hook watches every Python call; it catches a reference called directly, through an
    alias, a lambda, ``functools.partial`` or another genedu function. This only advises: in the
    grader the reference is not there to call (``grader/stubs.py``).
    """
    codes = {ref.__code__: ref for ref in _references(reference)}
    if not codes:
        yield
        return
    hits: list[Callable] = []

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            hits.append(codes[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)
        if hits:
            ref = hits[0]
            fail(name, f"your answer calls genedu's reference implementation "
                       f"({ref.__module__}.{ref.__qualname__}); write it yourself with torch operations.")


def _shape_hint(message: str) -> str:
    if "size of tensor" in message or "shape" in message:
        return (" (a shape mismatch: check the dim= of each reduction, and that shapes like (D,) and"
                " (N, D) broadcast as you intend)")
    return ""


def remote_failure(name: str, err: RemoteError, expected: str = "") -> CheckFailed:
    """The failure that a remote call's error means, worded as the local call words it."""
    if err.kind == "notimplemented":
        return CheckFailed(f"{name}: {NOT_IMPLEMENTED}")
    if err.kind == "notfound":
        return CheckFailed(f"{name}: the notebook does not define `{name}` (run its answer cell, and keep the "
                           "name given in the exercise).")
    if err.kind == "notcallable":
        return CheckFailed(f"{name}: expected a function, got {err.type_name}.")
    if err.kind == "signature":
        return CheckFailed(f"{name}: the function cannot be called as {name}{expected}: {err.message}. "
                           "Keep the signature given in the exercise.")
    if err.kind == "timeout":
        return CheckFailed(f"{name}: your function {err.message} and was stopped (an endless loop?).")
    if err.kind == "encode":
        return CheckFailed(f"{name}: your function returned something the grader cannot read "
                           f"({err.type_name}: {err.message}).")
    if err.kind == "gone":
        return CheckFailed(f"{name}: {err.message}.")
    hint = _shape_hint(err.message) if err.type_name == "RuntimeError" else ""
    return CheckFailed(f"{name}: your function raised {err.type_name}: {err.message}{hint}")


def _remote_of(fn):
    """``fn`` itself, or the :class:`Remote` behind a grader's stand-in model (``as_remote``)."""
    as_remote = getattr(type(fn), "as_remote", None)
    return as_remote(fn) if callable(as_remote) and not isinstance(fn, Remote) else fn


def _expected_signature(name: str, args: Sequence, kwargs: dict, references: tuple) -> str:
    expected = "(" + ", ".join([f"<{i}>" for i in range(len(args))] + list(kwargs)) + ")"
    if references and references[0].__name__ == name:
        expected = str(inspect.signature(references[0])).split(" ->")[0]
    return expected


def call(fn: Callable, name: str, args: Sequence, kwargs: dict | None = None,
         reference: Callable | tuple | None = None):
    """Call the student's ``fn(*args, **kwargs)`` and return what it returns.

    Fails with a readable message when ``fn`` is not a function, has the wrong parameters,
    is not implemented yet, raises, or (in the notebook) calls ``reference``, the library's own
    answer (a tuple forbids several). ``fn`` may be a :class:`Remote` (in the grader).
    """
    kwargs = kwargs or {}
    references = _references(reference)
    fn = _remote_of(fn)
    if isinstance(fn, Remote):
        try:
            return fn.remote_call(tuple(args), dict(kwargs))
        except RemoteError as err:
            raise remote_failure(name, err, _expected_signature(name, args, kwargs, references)) from None
    if not callable(fn):
        fail(name, f"expected a function, got {type(fn).__name__}.")
    for ref in references:
        if getattr(fn, "__code__", None) is ref.__code__:
            fail(name, f"this is genedu's reference implementation ({ref.__module__}.{ref.__qualname__}); "
                       "write the function yourself.")
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as err:
        fail(name, f"the function cannot be called as {name}{_expected_signature(name, args, kwargs, references)}: "
                   f"{err}. Keep the signature given in the exercise.")
    except ValueError:
        pass  # builtins without a signature: just try the call
    with _forbid_calls(reference, name):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            fail(name, NOT_IMPLEMENTED)
        except CheckFailed:
            raise
        except Exception as err:  # noqa: BLE001 - we report any crash of the answer
            hint = _shape_hint(str(err)) if isinstance(err, RuntimeError) else ""
            raise CheckFailed(f"{name}: your function raised {type(err).__name__}: {err}{hint}") from err


def probe(fn, name: str, function: Callable, args: Sequence = (), kwargs: dict | None = None,
          reference: Callable | tuple | None = None):
    """``function(fn, *args, **kwargs)``, run where the answer ``fn`` lives: in the notebook's kernel
    for a local answer, in the sandbox for a :class:`Remote` (``function`` must then be defined at the
    top level of a ``genedu.checks`` module, and return plain data: tensors, numbers, strings,
    tuples, lists, dicts). Failures read like :func:`call`'s."""
    kwargs = kwargs or {}
    fn = _remote_of(fn)
    if isinstance(fn, Remote):
        try:
            return fn.remote_probe(function, tuple(args), dict(kwargs))
        except RemoteError as err:
            raise remote_failure(name, err) from None
    with _forbid_calls(reference, name):
        try:
            return function(fn, *args, **kwargs)
        except NotImplementedError:
            fail(name, NOT_IMPLEMENTED)
        except CheckFailed:
            raise
        except Exception as err:  # noqa: BLE001
            hint = _shape_hint(str(err)) if isinstance(err, RuntimeError) else ""
            raise CheckFailed(f"{name}: your code raised {type(err).__name__}: {err}{hint}") from err


# --- what came back ---------------------------------------------------------------------------

def expect_tuple(out, name: str, parts: Sequence[str]) -> tuple:
    """Check ``out`` is a tuple/list of ``len(parts)`` values; return it as a tuple."""
    if not isinstance(out, (tuple, list)) or len(out) != len(parts):
        got = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        fail(name, f"should return a tuple ({', '.join(parts)}), got {got}.")
    return tuple(out)


def expect_number(value, name: str, what: str) -> float:
    """Check ``value`` is one number (a Python int/float or a one-element tensor); return it as a float."""
    if isinstance(value, _Tensor):
        if value.numel() != 1:
            fail(name, f"{what} should be one number (a float or a 0-d tensor), got shape {tuple(value.shape)}.")
        return float(value.detach())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    fail(name, f"{what} should be a number, got {type(value).__name__}.")


def expect_tensor(out, name: str, what: str, shape: Sequence[int], hints: dict[tuple, str] | None = None,
                  floating: bool = True) -> torch.Tensor:
    """Check ``out`` is a finite tensor of the given shape.

    ``hints`` maps a wrong shape the check anticipates to an explanation of that mistake.
    """
    if not isinstance(out, _Tensor):
        fail(name, f"{what} should be a torch.Tensor, got {type(out).__name__}.")
    if type(out) is not _Tensor:  # a subclass could redefine the comparisons through __torch_function__
        fail(name, f"{what} should be a plain torch.Tensor, got the subclass {type(out).__name__}.")
    if floating and not out.is_floating_point():
        fail(name, f"{what} should be a floating-point tensor, got dtype {out.dtype}.")
    if tuple(out.shape) != tuple(shape):
        hint = (hints or {}).get(tuple(out.shape), "")
        fail(name, f"{what} has shape {tuple(out.shape)}, expected {tuple(shape)}." + (f" {hint}" if hint else ""))
    if floating and not bool(_isfinite(out).all()):
        fail(name, f"{what} contains nan or inf.")
    return out


def expect_seeded(draw, first: torch.Tensor, seed: int, name: str, what: str, how: str) -> None:
    """Check that an answer draws all its randomness from its ``generator`` argument.

    ``draw(s)`` runs the answer with a generator seeded ``s`` and returns a tensor; ``first`` is what
    ``draw(seed)`` returned. The same seed must give the same tensor, and ``seed + 1000`` another one;
    ``what`` names the output ("samples", "z") and ``how`` says how to fix it.
    """
    if not _equal(draw(seed).detach(), first.detach()):
        fail(name, f"two calls with identically seeded generators gave different {what}: {how}")
    if _equal(draw(seed + 1000).detach(), first.detach()):
        fail(name, f"differently seeded generators gave the same {what}: {how}")


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """True when tensors of the same shape agree within tolerances (finite values only)."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    a, b = a.detach().double(), b.detach().double()
    return bool(_isclose(a, b, rtol=rtol, atol=atol).all())


def compare(actual: torch.Tensor, expected: torch.Tensor, name: str, what: str,
            mistakes: Iterable[tuple[torch.Tensor, str]] = (), rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Fail unless ``actual`` is close to ``expected``.

    ``mistakes`` lists (wrong value, explanation) pairs: the values that common mistakes
    produce on these inputs. When the answer matches one, the explanation is the message.
    """
    if close(actual, expected, rtol, atol):
        return
    for wrong, explanation in mistakes:
        if close(actual, wrong, rtol, atol):
            fail(name, f"{what} is wrong: {explanation}")
    err = float(_abs(actual.detach().double() - expected.detach().double()).max())
    fail(name, f"{what} differs from the correct value (largest absolute difference {err:.3g}).")
