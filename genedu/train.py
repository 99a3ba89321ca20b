"""A small training loop that every chapter reuses.

    history = train(model, loss_fn, data, epochs=10)

``loss_fn(model, batch)`` returns the scalar loss to minimise, or ``(loss, logs)`` with a dict of
extra numbers to record (e.g. the reconstruction and KL terms). The loop moves model and batches to
the device, shows a progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal), records the
history and calls ``callback(epoch, model, history)`` after each epoch (for snapshots).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from genedu import _validate as v

__all__ = ["train", "evaluate"]


def _loader(data, batch_size: int, shuffle: bool, seed: int | None) -> DataLoader:
    if isinstance(data, torch.Tensor):
        data = TensorDataset(data)
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a torch.Tensor or a Dataset, got {type(data).__name__}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


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
    """Minimise ``loss_fn`` over ``data`` with Adam (or the given optimizer).

    Args:
        model: the module to train (moved to ``device``).
        loss_fn: ``loss_fn(model, x)`` -> loss, or (loss, dict of floats to record).
        data: a (N, ...) tensor, or a Dataset whose items are x or (x, label).
        epochs, batch_size, lr: the usual; lr is Adam's learning rate (ignored with ``optimizer``).
        device: default ``genedu.device()``.
        callback: called as ``callback(epoch, model, history)`` after each epoch.
        seed: seeds the shuffling of the batches (None: not seeded).
        progress: show a progress bar.

    Returns:
        history: {"loss": per-step losses, "epoch_loss": per-epoch means, and per-epoch means of
        each logged value}.
    """
    from genedu import device as default_device

    epochs = v.positive_int(epochs, "epochs")
    batch_size = v.positive_int(batch_size, "batch_size")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=v.positive_float(lr, "lr"))
    loader = _loader(data, batch_size, shuffle=True, seed=seed)
    history: dict[str, list[float]] = defaultdict(list)
    bar = tqdm(range(epochs), desc="training", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        sums: dict[str, float] = defaultdict(float)
        for batch in loader:
            loss, logs = _split(loss_fn(model, _to(batch, device)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["loss"].append(loss.item())
            sums["epoch_loss"] += loss.item()
            for key, value in logs.items():
                sums[key] += float(value)
        for key, total in sums.items():
            history[key].append(total / len(loader))
        bar.set_postfix(loss=f"{history['epoch_loss'][-1]:.4g}")
        if callback is not None:
            callback(epoch, model, history)
    model.eval()
    return dict(history)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn: Callable, data, batch_size: int = 500,
             device: torch.device | str | None = None) -> dict[str, float]:
    """The mean of ``loss_fn`` (and its logged values) over ``data``, weighted by batch size, in eval mode.

    Returns:
        {"loss": ..., and each logged key: ...}.
    """
    from genedu import device as default_device

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
