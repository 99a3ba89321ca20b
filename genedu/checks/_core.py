"""The mechanism behind every exercise check ("one check, two places").

A check compares a student's function with genedu's reference implementation on random
inputs. It passes silently except for one short line; it fails with an ``AssertionError``
whose message names the mistake and, when it recognises one, the likely cause.

The helpers here take care of what every check needs:

- :func:`call`  calls the student's function: checks it accepts the arguments, turns
  ``NotImplementedError`` and crashes into a readable failure, and refuses an answer that
  merely calls genedu's own reference for the same exercise;
- :func:`expect_tensor`, :func:`expect_tuple`  type and shape of what came back;
- :func:`compare`  closeness to the expected value, naming a recognised mistake when the
  answer matches one of the wrong variants the check computed.

The comparison functions are bound when this module is imported, so an answer that later
replaces ``torch.allclose`` cannot make a comparison pass; checks compute their expected values
*before* running the answer, so an answer that patches torch while it runs cannot change them.
:func:`call` also fails when, before or after the answer runs, a genedu or torch namespace holds a
function defined in the notebook (a patched check helper, reference or ``torch.randn``), or when
the answer removed the profile hook that watches for calls to the reference. (A check runs in the student's own
process: the grader adds a static inspection of the answers and a sandbox, see
``genedu/checks/_guard.py`` and ``_sandbox.py``.)
"""
from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Callable, Iterable, Sequence

import torch

# Bound at import time: an answer that patches torch afterwards does not reach these.
_isclose = torch.isclose
_equal = torch.equal
_isfinite = torch.isfinite
_abs = torch.abs
_Tensor = torch.Tensor


_vars, _getattr, _isfunction = vars, getattr, inspect.isfunction


# torch namespaces whose functions a check calls (to make inputs, to compare): the notebook's own
# function in one of them means the notebook replaced it.
_TORCH_SPACES = ("torch", "torch.nn.functional", "torch.testing", "torch.linalg", "torch.distributions",
                 "torch.special", "torch.random")


def _notebook_function(value) -> bool:
    value = _getattr(value, "func", value)  # functools.partial
    return _isfunction(value) and value.__module__ == "__main__"


def _tampering() -> str | None:
    """A genedu or torch function that the notebook has replaced by one of its own (a check's
    helper, a reference, torch.randn, ...), if any."""
    spaces = [(n, m) for n, m in list(sys.modules.items()) if n == "genedu" or n.startswith("genedu.")]
    spaces += [(n, sys.modules[n]) for n in _TORCH_SPACES if n in sys.modules]
    spaces += [("torch.Tensor", _Tensor)]
    for space, obj in spaces:
        for attr, value in list(_vars(obj).items()):
            if _notebook_function(value):
                return f"`{space}.{attr}` has been replaced by a function of the notebook"
    return None


class CheckFailed(AssertionError):
    """Raised by a check when the answer is wrong; the message says what and why."""


def fail(name: str, message: str) -> None:
    """Raise :class:`CheckFailed` with ``"name: message"``."""
    raise CheckFailed(f"{name}: {message}")


def passed(name: str, detail: str = "") -> None:
    """Print the one-line success message of a check."""
    print(f"[passed] {name}" + (f": {detail}" if detail else ""))


# --- calling the student's function ----------------------------------------------------------

def _references(reference: Callable | tuple | None) -> tuple:
    """The reference functions, unwrapped: a decorator such as ``@torch.no_grad()`` gives every
    function it wraps the same wrapper code, which must not stand for any one of them."""
    if reference is None:
        return ()
    refs = tuple(reference) if isinstance(reference, (tuple, list)) else (reference,)
    return tuple(inspect.unwrap(ref) for ref in refs)


@contextlib.contextmanager
def _forbid_calls(reference: Callable | tuple | None, name: str):
    """Fail if a reference implementation's code runs inside the block.

    A profile hook watches every Python call; it catches a reference called directly,
    through an alias, a lambda, ``functools.partial`` or another genedu function.
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
        removed = sys.getprofile() is not hook
        sys.setprofile(previous)
        if removed:
            fail(name, "your answer changed the interpreter's profile hook (sys.setprofile), which the check uses; "
                       "write the function with torch operations only.")
        if hits:
            ref = hits[0]
            fail(name, f"your answer calls genedu's reference implementation "
                       f"({ref.__module__}.{ref.__qualname__}); write it yourself with torch operations.")


def call(fn: Callable, name: str, args: Sequence, kwargs: dict | None = None,
         reference: Callable | tuple | None = None):
    """Call the student's ``fn(*args, **kwargs)`` and return what it returns.

    Fails with a readable message when ``fn`` is not a function, has the wrong parameters,
    is not implemented yet, raises, or calls ``reference`` (the library's own answer; a tuple
    forbids several).
    """
    kwargs = kwargs or {}
    references = _references(reference)
    tampered = _tampering()
    if tampered:
        fail(name, f"{tampered}: the check cannot trust its comparisons. "
                   "Restart the kernel and leave genedu as it is.")
    if not callable(fn):
        fail(name, f"expected a function, got {type(fn).__name__}.")
    for ref in references:
        if getattr(fn, "__code__", None) is ref.__code__:
            fail(name, f"this is genedu's reference implementation ({ref.__module__}.{ref.__qualname__}); "
                       "write the function yourself.")
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as err:
        expected = "(" + ", ".join([f"<{i}>" for i in range(len(args))] + list(kwargs)) + ")"
        if references and references[0].__name__ == name:
            expected = str(inspect.signature(references[0])).split(" ->")[0]
        fail(name, f"the function cannot be called as {name}{expected}: {err}. Keep the signature given in the exercise.")
    except ValueError:
        pass  # builtins without a signature: just try the call
    with _forbid_calls(reference, name):
        try:
            out = fn(*args, **kwargs)
            tampered = _tampering()
            if tampered:
                fail(name, f"{tampered} while your function ran: the check cannot trust its comparisons. "
                           "Leave genedu as it is.")
            return out
        except NotImplementedError:
            fail(name, "not implemented yet: replace the `NotImplementedError` line (and the YOUR CODE HERE comment) "
                       "with your code.")
        except CheckFailed:
            raise
        except Exception as err:  # noqa: BLE001 - we report any crash of the answer
            hint = ""
            if isinstance(err, RuntimeError) and ("size of tensor" in str(err) or "shape" in str(err)):
                hint = (" (a shape mismatch: check the dim= of each reduction, and that shapes like (D,) and"
                        " (N, D) broadcast as you intend)")
            raise CheckFailed(f"{name}: your function raised {type(err).__name__}: {err}{hint}") from err


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
