"""Argument checks shared by genedu's public functions.

Each helper raises ``TypeError`` or ``ValueError`` with a message that names the
argument and says what was expected, so a student sees *their* mistake rather
than a traceback from deep inside PyTorch.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def positive_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, checking that it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def positive_float(value, name: str, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, checking that it is a (strictly) positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        expected = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {expected}, got {value}")
    return value


def optional_seed(seed, name: str = "seed") -> int | None:
    """Check that ``seed`` is None or a non-negative int."""
    if seed is None:
        return None
    return positive_int(seed, name, minimum=0)


def widths(value, name: str = "hidden") -> list[int]:
    """Check that ``value`` is a sequence of layer widths (positive ints), e.g. ``hidden=(64, 64)``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        raise TypeError(f"{name} must be a sequence of widths, e.g. ({value},), got the int {value}")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of widths, got {type(value).__name__}")
    return [positive_int(h, f"{name}[i]") for h in value]


def module(x, name: str) -> torch.nn.Module:
    """Check that ``x`` is a ``torch.nn.Module``; return it."""
    if not isinstance(x, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(x).__name__}")
    return x


def optional_callable(fn, name: str, call: str):
    """``fn`` unchanged if it is None or callable; else a TypeError naming ``name`` and how it is called."""
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} must be None or callable as {call}, got {type(fn).__name__}")
    return fn


def float_tensor(x, name: str, ndim: int | None = None, shape: Sequence[int | None] | None = None) -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor with the expected rank/shape.

    ``shape`` may contain ``None`` for a dimension of any size. Returns ``x``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; use {name}.float()")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and x.dim() != ndim:
        want = _shape_str(shape) if shape is not None else f"{ndim} dimensions"
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if shape is not None:
        for got, want in zip(x.shape, shape):
            if want is not None and got != want:
                raise ValueError(f"{name} must have shape {_shape_str(shape)}, got {tuple(x.shape)}")
    return x


def nonempty_float_tensor(x, name: str) -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor with at least one element (e.g. a batch of logits)."""
    float_tensor(x, name)
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    return x


def int_tensor(x, name: str, ndim: int = 1) -> torch.Tensor:
    """Check that ``x`` is an integer tensor (e.g. class labels) of rank ``ndim``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor (e.g. torch.long), got dtype {x.dtype}")
    if x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    return x


def probability_vector(p, name: str) -> torch.Tensor:
    """Check that ``p`` is a 1D float tensor of non-negative entries summing to 1."""
    float_tensor(p, name, ndim=1)
    if (p < 0).any() or not torch.isclose(p.sum(), p.new_tensor(1.0), atol=1e-5):
        raise ValueError(f"{name} must be non-negative and sum to 1, got {p.tolist()}")
    return p


def symmetric_positive_definite(cov: torch.Tensor, name: str) -> torch.Tensor:
    """Check that ``cov`` (..., D, D) is symmetric and positive definite (batched: each matrix)."""
    if not bool(torch.isfinite(cov).all()):
        raise ValueError(f"{name} must contain finite values, got nan or inf")
    scale = cov.detach().abs().amax().clamp(min=1e-12)
    if not torch.allclose(cov, cov.mT, atol=1e-5 * float(scale), rtol=0):
        raise ValueError(f"{name} must be symmetric, got a matrix that differs from its transpose")
    _, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ValueError(f"{name} must be positive definite (its Cholesky factorisation failed); "
                         "add a small multiple of the identity if it is a sample covariance of few points")
    return cov


def _shape_str(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
