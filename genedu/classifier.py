"""A small CNN digit classifier, trained on the real digits, to judge generated digits.

A GAN has no likelihood to report. A classifier trained on real digits gives two numbers that say
something about samples (in the spirit of the Inception score of Salimans et al., 2016):

- the share of samples it classifies with confidence above 0.9 (a sample that looks like no digit
  in particular gets a flat, unconfident prediction), and
- how many of the 10 classes appear among those confident predictions (a collapsed generator
  produces only a few), with the histogram of predicted classes.

The same figures for real held-out digits are the reference to compare with.

- :class:`DigitClassifier`   conv(32)-pool-conv(64)-pool-conv(64)-pool-linear on 32x32 digits in [-1, 1]
- :func:`train_classifier`   trains it on :func:`genedu.data.mnist32` digits (random shifts of up to 2 pixels)
- :func:`accuracy`           held-out accuracy
- :func:`classifier_scores`  the sample scores above
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genedu import _validate as v
from genedu.runtime import device as default_device
from genedu.runtime import make_generator, randperm
from genedu.train import loop

__all__ = ["DigitClassifier", "train_classifier", "accuracy", "predict_proba", "classifier_scores"]


class DigitClassifier(nn.Module):
    """Logits (B, 10) for 32x32 grey digits in [-1, 1] (the format of :func:`genedu.data.mnist32`).

    Three 3x3 convolutions (32, 64, 64 channels; ReLU; each followed by 2x2 max-pooling: 32 -> 16 -> 8 -> 4),
    dropout, and a linear layer to the 10 classes (about 75k parameters).

    Args:
        n_classes: number of classes (default 10).
        width: channels of the first convolution (default 32).
    """

    def __init__(self, n_classes: int = 10, width: int = 32):
        super().__init__()
        n_classes, width = v.positive_int(n_classes, "n_classes", minimum=2), v.positive_int(width, "width")
        self.n_classes = n_classes
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 16, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 32, 32) in [-1, 1] -> logits (B, n_classes)."""
        v.float_tensor(x, "x", shape=(None, 1, 32, 32))
        return self.net(x)


def _shift(x: torch.Tensor, g: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Translate each image by a random integer offset in [-max_shift, max_shift]^2 (background -1 fills in)."""
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    size = x.shape[-1]
    offsets = torch.randint(0, 2 * max_shift + 1, (len(x), 2), generator=g)
    return torch.stack([p[:, i:i + size, j:j + size] for p, (i, j) in zip(padded, offsets.tolist())])


def train_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int = 12,
                     batch_size: int = 64, lr: float = 1e-3, seed: int | None = 0, progress: bool = True,
                     callback: Callable | None = None,
                     device: torch.device | str | None = None) -> dict[str, list[float]]:
    """Train a classifier (e.g. a :class:`DigitClassifier`) with Adam and the cross-entropy on random shifts of
    the images (up to 2 pixels each way, so that a digit drawn a little off-centre is still recognised), one
    epoch per step of ``genedu.train.loop``.

    Args:
        model: maps (B, 1, 32, 32) images to (B, n_classes) logits; trained in place.
        images: (N, 1, 32, 32) in [-1, 1].
        labels: (N,) int64 in [0, n_classes).
        epochs: passes over the data (default 12).
        batch_size: images per minibatch (default 64).
        lr: Adam's learning rate (default 1e-3, divided by 10 for the last third of the epochs).
        seed: seeds the minibatch order and the shifts (default 0; None: not seeded). Dropout draws from the
            global generator: seed it (``torch.manual_seed``) before building the model to repeat a run.
        progress: show a progress bar (default True).
        callback: called as ``callback(epoch, model, history)`` after each epoch (epoch = 1 .. epochs).
        device: where to train (default ``genedu.device()``); the model is moved there.

    Returns:
        the history {"epoch_loss": the mean training loss of each epoch} (the key ``train`` uses). The model
        is left in eval mode, on ``device``.
    """
    v.module(model, "model")
    v.float_tensor(images, "images", shape=(None, 1, 32, 32))
    v.int_tensor(labels, "labels")
    if len(labels) != len(images):
        raise ValueError(f"labels must have one entry per image ({len(images)}), got {len(labels)}")
    epochs, batch_size = v.positive_int(epochs, "epochs"), v.positive_int(batch_size, "batch_size")
    v.optional_callable(callback, "callback", "callback(epoch, model, history)")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    images, labels = images.to(device), labels.to(device)
    g = make_generator(seed)
    opt = torch.optim.Adam(model.parameters(), lr=v.positive_float(lr, "lr"))
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, 2 * epochs // 3)], gamma=0.1)

    def epoch(_: int) -> dict[str, float]:
        model.train()
        perm = randperm(len(images), generator=g, device=device)
        total = 0.0
        for start in range(0, len(images), batch_size):
            idx = perm[start:start + batch_size]
            loss = F.cross_entropy(model(_shift(images[idx], g)), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        return {"epoch_loss": total / len(images)}

    each = None if callback is None else (lambda i, h: callback(i, model, h))
    history = loop(epochs, epoch, "training the classifier", progress, each, show=("epoch_loss",))
    model.eval()
    return history


@torch.no_grad()
def predict_proba(classifier: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Class probabilities (N, n_classes) of ``images`` (N, 1, 32, 32) in [-1, 1], in eval mode, on the CPU.

    Args:
        classifier: maps (B, 1, 32, 32) digits in [-1, 1] to class logits (B, n_classes).
        images: (N, 1, 32, 32) in [-1, 1].
        batch_size: images per forward pass (default 500).

    Returns:
        (N, n_classes) probabilities, on the CPU.
    """
    v.float_tensor(images, "images", ndim=4)
    classifier.eval()
    device = next(classifier.parameters()).device
    chunks = [F.softmax(classifier(images[i:i + batch_size].to(device)), dim=1).cpu()
              for i in range(0, len(images), v.positive_int(batch_size, "batch_size"))]
    return torch.cat(chunks)


def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` (N, 1, 32, 32) whose most probable class is ``labels`` (N,).

    Args:
        classifier: maps (B, 1, 32, 32) digits in [-1, 1] to class logits (B, n_classes).
        images: (N, 1, 32, 32) in [-1, 1].
        labels: (N,) int64 in [0, n_classes).

    Returns:
        the accuracy, a float in [0, 1].
    """
    v.int_tensor(labels, "labels")
    return float((predict_proba(classifier, images).argmax(1) == labels.cpu()).float().mean())


def classifier_scores(classifier: nn.Module, images: torch.Tensor, threshold: float = 0.9) -> dict:
    """Judge a batch of (generated or real) digits with a classifier trained on real digits.

    Args:
        classifier: maps (B, 1, 32, 32) digits in [-1, 1] to class logits (B, n_classes).
        images: (N, 1, 32, 32) in [-1, 1].
        threshold: the confidence a prediction needs to count (default 0.9).

    Returns:
        a dict with "confident": share of images whose top class probability exceeds ``threshold``;
        "classes_present": number of classes predicted with that confidence for at least one image;
        "histogram": (n_classes,) int64 counts of the predicted (top) classes of all images;
        "predictions": (N,) predicted classes; "confidence": (N,) their probabilities.
    """
    threshold = v.positive_float(threshold, "threshold")
    if threshold >= 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    probs = predict_proba(classifier, images)
    confidence, predictions = probs.max(dim=1)
    sure = confidence > threshold
    return {"confident": float(sure.float().mean()),
            "classes_present": int(predictions[sure].unique().numel()),
            "histogram": torch.bincount(predictions, minlength=probs.shape[1]),
            "predictions": predictions, "confidence": confidence}
