"""Where code runs and how its randomness is made reproducible: the conventions every genedu module follows.

Devices. A function that trains or samples takes ``device`` (default: :func:`device`, the best available;
the chapters' small 2D models pass ``"cpu"``, where they are fastest). Models and tensors are moved to it at
the start; results come back on it.

Randomness, two rules:

- ``seed: int | None`` for what is built once: a dataset, a network's initial weights, a whole training run.
  The function makes its own CPU generator from the seed and leaves the global RNG alone (``None``: a fresh
  random seed).
- ``generator: torch.Generator | None`` for what draws on every call (the noise of a loss, of a sampler, of
  the reparameterisation). The numbers are drawn on the generator's device and moved to the inputs' device,
  so a CPU generator gives the same numbers with CPU and CUDA inputs; ``None`` draws from torch's global
  generator of the inputs' device. :func:`randn`, :func:`rand`, :func:`randint` and :func:`randperm` do this.

- :func:`device`            the best available device: CUDA, then Apple MPS, then CPU
- :func:`seed_everything`   seed Python's ``random``, NumPy and PyTorch at the top of a notebook
- :func:`make_generator`    a CPU generator from an int seed (``None``: a random seed)
- :func:`randn`, :func:`rand`, :func:`randint`, :func:`randperm`   draws by the rule above
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import torch

__all__ = ["device", "seed_everything", "make_generator", "randn", "rand", "randint", "randperm"]


def device() -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    Returns:
        ``torch.device("cuda")``, ``torch.device("mps")`` or ``torch.device("cpu")``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _int_seed(seed, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative, got {seed}")
    return int(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and all GPUs).

    (The order of ``set`` iteration depends on ``PYTHONHASHSEED``, which Python reads when it
    starts: set it in the environment that launches the process, if it matters.)

    Args:
        seed: a non-negative integer.

    Raises:
        TypeError: if ``seed`` is not an integer.
        ValueError: if ``seed`` is negative.
    """
    seed = _int_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_generator(seed: int | None, name: str = "seed") -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``.

    Args:
        seed: a non-negative int, or None for a fresh random seed.
        name: the argument's name in error messages (default "seed").

    Returns:
        a ``torch.Generator`` on the CPU.

    Raises:
        TypeError, ValueError: if ``seed`` is not None or a non-negative int.
    """
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(_int_seed(seed, name))
    return g


def _draw_device(generator: torch.Generator | None, device) -> torch.device:
    if generator is None:
        return torch.device(device) if device is not None else torch.device("cpu")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator.device


def _draw(sample, generator: torch.Generator | None, device) -> torch.Tensor:
    """``sample(draw_device)`` on the generator's device (or ``device`` without one), moved to ``device``."""
    x = sample(_draw_device(generator, device))
    return x.to(device) if device is not None else x


def randn(shape: Sequence[int], generator: torch.Generator | None = None, device: torch.device | str | None = None,
          dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device and moved to ``device``.

    Args:
        shape: the shape of the result.
        generator: draws the numbers (default None: the global generator of ``device``).
        device: where the result goes (default: where it was drawn, the generator's device).
        dtype: the result's floating dtype (default: torch's default, float32).

    Returns:
        a ``shape`` tensor on ``device``.
    """
    return _draw(lambda at: torch.randn(tuple(shape), generator=generator, device=at, dtype=dtype), generator, device)


def rand(shape: Sequence[int], generator: torch.Generator | None = None, device: torch.device | str | None = None,
         dtype: torch.dtype | None = None) -> torch.Tensor:
    """Uniform noise on [0, 1), drawn like :func:`randn` (the same arguments).

    Args:
        shape: as in :func:`randn`.
        generator: as in :func:`randn`.
        device: as in :func:`randn`.
        dtype: as in :func:`randn`.

    Returns:
        a ``shape`` tensor on ``device``.
    """
    return _draw(lambda at: torch.rand(tuple(shape), generator=generator, device=at, dtype=dtype), generator, device)


def randint(high: int, shape: Sequence[int], generator: torch.Generator | None = None,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Integers uniform in 0 .. high - 1, drawn like :func:`randn`.

    Args:
        high: one more than the largest value.
        shape: the shape of the result.
        generator: as in :func:`randn`.
        device: as in :func:`randn`.

    Returns:
        a ``shape`` int64 tensor on ``device``.
    """
    return _draw(lambda at: torch.randint(int(high), tuple(shape), generator=generator, device=at), generator, device)


def randperm(n: int, generator: torch.Generator | None = None,
             device: torch.device | str | None = None) -> torch.Tensor:
    """A random permutation of 0 .. n - 1, drawn like :func:`randn`.

    Args:
        n: the number of elements.
        generator: as in :func:`randn`.
        device: as in :func:`randn`.

    Returns:
        an (n,) int64 tensor on ``device``.
    """
    return _draw(lambda at: torch.randperm(int(n), generator=generator, device=at), generator, device)
