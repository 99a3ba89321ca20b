"""The training loop of the course: one shape that every trainer shares.

:func:`loop` runs ``steps`` calls of a step function that returns a dict of numbers, appends each number to
``history[key]``, shows a progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal) and calls
``callback(step, history)`` after each step. Every trainer is a step function handed to it and returns the
history: :func:`train` (an epoch of minibatches per step, chapters 2-3), ``genedu.gan.train_gan`` (one
iteration of Algorithm 1 per step, chapters 4-6), ``genedu.classifier.train_classifier`` (an epoch, chapter 5)
and ``genedu.diffusion.train_denoiser`` (a minibatch, chapter 7).

    history = train(model, loss_fn, data, epochs=10)

``loss_fn(model, batch)`` returns the scalar loss to minimise, or ``(loss, logs)`` with a dict of
extra numbers to record (e.g. the reconstruction and KL terms).

History keys mean the same in every trainer: ``"loss"`` the loss of each optimiser step (``train_denoiser``:
the mean of each block of ``log_every`` steps, with ``"step"``), ``"epoch_loss"`` the mean of each epoch,
``"d_loss"`` and ``"g_loss"`` the players' losses of each GAN iteration.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from genedu import _validate as v
from genedu.runtime import device as default_device
from genedu.runtime import make_generator

__all__ = ["loop", "train", "evaluate"]


def loop(steps: int, step: Callable[[int], dict[str, float]], desc: str = "training", progress: bool = True,
         callback: Callable[[int, dict[str, list]], None] | None = None, show: Sequence[str] = ("loss",),
         history: dict[str, list] | None = None) -> dict[str, list]:
    """Run ``step(i)`` for i = 1 .. steps and record what it returns: the loop every trainer shares.

    Args:
        steps: the number of steps (epochs, or iterations).
        step: ``step(i) -> {key: number}``; each number is appended to ``history[key]``.
        desc: the progress bar's label (default "training").
        progress: show a progress bar (default True).
        callback: called as ``callback(i, history)`` after each step (default None).
        show: the keys whose latest values the progress bar shows (default ("loss",)).
        history: a dict to record into (default: a new one), e.g. one a step also appends to directly.

    Returns:
        the history, a dict key -> list, with one entry per step for every key ``step`` returned.
    """
    steps = v.positive_int(steps, "steps")
    v.optional_callable(callback, "callback", "callback(step, history)")
    history = {} if history is None else history
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for i in bar:
        for key, value in step(i).items():
            history.setdefault(key, []).append(value)
        if progress:
            bar.set_postfix({key: f"{history[key][-1]:.4g}" for key in show if history.get(key)}, refresh=False)
        if callback is not None:
            callback(i, history)
    return history


def _loader(data, batch_size: int, shuffle: bool, seed: int | None) -> DataLoader:
    if isinstance(data, torch.Tensor):
        data = TensorDataset(data)
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a torch.Tensor or a Dataset, got {type(data).__name__}")
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=make_generator(seed) if shuffle else None)


def _to(batch, device):
    """Move a batch to the device; a dataset item (x,) or (x, y) gives x (labels are not used)."""
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    return batch.to(device)


def _split(out) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(out, tuple):
        return out[0], dict(out[1])
    return out, {}


def train(model: torch.nn.Module, loss_fn: Callable, data, epochs: int = 10, batch_size: int = 128,
          lr: float = 1e-3, optimizer: torch.optim.Optimizer | None = None, device: torch.device | str | None = None,
          callback: Callable | None = None, seed: int | None = 0, progress: bool = True) -> dict[str, list[float]]:
    """Minimise ``loss_fn`` over ``data`` with Adam (or the given optimizer), one epoch per step of :func:`loop`.

    Args:
        model: the module to train (moved to ``device``).
        loss_fn: ``loss_fn(model, x)`` -> loss, or (loss, dict of floats to record).
        data: a (N, ...) tensor, or a Dataset whose items are x or (x, label).
        epochs: passes over the data (default 10).
        batch_size: examples per minibatch (default 128; the last one may be smaller).
        lr: Adam's learning rate (default 1e-3; ignored with ``optimizer``).
        optimizer: an optimizer of ``model``'s parameters (default None: Adam(lr)).
        device: default ``genedu.device()``.
        callback: called as ``callback(epoch, model, history)`` after each epoch (epoch = 1 .. epochs).
        seed: seeds the shuffling of the batches (None: not seeded).
        progress: show a progress bar.

    Returns:
        the history {"loss": per-step losses, "epoch_loss": per-epoch means, and per-epoch means of
        each logged value}.
    """
    epochs = v.positive_int(epochs, "epochs")
    batch_size = v.positive_int(batch_size, "batch_size")
    v.optional_callable(callback, "callback", "callback(epoch, model, history)")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=v.positive_float(lr, "lr"))
    loader = _loader(data, batch_size, shuffle=True, seed=seed)
    history: dict[str, list] = {"loss": []}

    def epoch(_: int) -> dict[str, float]:
        model.train()
        sums: dict[str, float] = defaultdict(float)
        for batch in loader:
            loss, logs = _split(loss_fn(model, _to(batch, device)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["loss"].append(loss.item())
            sums["epoch_loss"] += history["loss"][-1]
            for key, value in logs.items():
                sums[key] += float(value)
        return {key: total / len(loader) for key, total in sums.items()}

    each = None if callback is None else (lambda i, h: callback(i, model, h))
    history = loop(epochs, epoch, "training", progress, each, show=("epoch_loss",), history=history)
    model.eval()
    return history


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn: Callable, data, batch_size: int = 500,
             device: torch.device | str | None = None) -> dict[str, float]:
    """The mean of ``loss_fn`` (and its logged values) over ``data``, weighted by batch size, in eval mode.

    Args:
        model: the module to evaluate (moved to ``device``).
        loss_fn: ``loss_fn(model, x)`` -> loss, or (loss, dict of floats to record).
        data: a (N, ...) tensor, or a Dataset whose items are x or (x, label).
        batch_size: examples per minibatch (default 500).
        device: default ``genedu.device()``.

    Returns:
        {"loss": ..., and each logged key: ...}.
    """
    device = torch.device(device) if device is not None else default_device()
    model.to(device).eval()
    sums: dict[str, float] = defaultdict(float)
    n = 0
    for batch in _loader(data, v.positive_int(batch_size, "batch_size"), shuffle=False, seed=None):
        x = _to(batch, device)
        loss, logs = _split(loss_fn(model, x))
        sums["loss"] += loss.item() * len(x)
        for key, value in logs.items():
            sums[key] += float(value) * len(x)
        n += len(x)
    return {key: total / n for key, total in sums.items()}
