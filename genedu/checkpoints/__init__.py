"""The models the project trained and ships, in one format, with one loader.

A checkpoint is a ``torch.save`` dict ``{"config": {...}, "state_dict": {...}, ...}``: ``config`` holds the
keyword arguments the model's class is built with, ``state_dict`` its weights, and the other entries what the
training script recorded (training time, loss history, the schedule a denoiser was trained under). The
scripts in ``experiments/`` write them with :func:`save`; :func:`load` rebuilds the model from its registered
class, so loading never runs code from the file (``weights_only=True``).

- :data:`MODELS`    checkpoint name -> the class (or function) it is built with
- :func:`save`      write a model, its config and extras
- :func:`load`      a shipped checkpoint by name (or a file), as (model in eval mode, extras)

Shipped: "dcgan_digits" (chapter 5's DCGAN generator), "cgan_digits" (its conditional generator),
"digit_classifier" (the CNN that scores generated digits), "digits_unet" (chapter 7's noise-prediction U-Net),
"made_digits" and "pixelcnn_digits" (chapter 8's models of the binarised digits), "char_transformer" and
"char_gru" (chapter 8's character-level models of ``data.python_reference()``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from genedu import _validate as v
from genedu.autoregressive import MADE, PixelCNN
from genedu.classifier import DigitClassifier
from genedu.dcgan import ConditionalDCGANGenerator, DCGANGenerator
from genedu.denoisers import UNetDenoiser
from genedu.language_models import GRULM, TransformerConfig, TransformerLM

__all__ = ["CHECKPOINT_DIR", "MODELS", "save", "load"]

CHECKPOINT_DIR = Path(__file__).resolve().parent



def _transformer(**config) -> TransformerLM:
    return TransformerLM(TransformerConfig(**config))


MODELS: dict[str, Callable[..., nn.Module]] = {
    "dcgan_digits": DCGANGenerator,                # experiments/train_dcgan.py
    "cgan_digits": ConditionalDCGANGenerator,      # experiments/train_dcgan.py
    "digit_classifier": DigitClassifier,           # experiments/train_dcgan.py
    "digits_unet": UNetDenoiser,                   # experiments/train_diffusion.py
    "made_digits": MADE,                           # experiments/train_autoregressive.py
    "pixelcnn_digits": PixelCNN,                   # experiments/train_autoregressive.py
    "char_transformer": _transformer,              # experiments/train_autoregressive.py (config: TransformerConfig's fields)
    "char_gru": GRULM,                             # experiments/train_autoregressive.py
}

_SCRIPTS = {"dcgan_digits": "train_dcgan.py", "cgan_digits": "train_dcgan.py", "digit_classifier": "train_dcgan.py",
            "digits_unet": "train_diffusion.py", "made_digits": "train_autoregressive.py made",
            "pixelcnn_digits": "train_autoregressive.py pixelcnn", "char_transformer": "train_autoregressive.py transformer",
            "char_gru": "train_autoregressive.py gru"}


def save(model: nn.Module, path: str | Path, config: dict, **extras) -> Path:
    """Write ``{"config": config, "state_dict": model's weights on the CPU, **extras}`` to ``path``.

    Args:
        model: the trained model; its registered builder called with ``**config`` must rebuild it.
        path: the file to write (its folder is created).
        config: the keyword arguments of the model's class.
        **extras: anything else to keep with the weights (tensors, numbers, strings, lists, dicts).

    Returns:
        the path written.
    """
    v.module(model, "model")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of the model's keyword arguments, got {type(config).__name__}")
    clash = {"config", "state_dict"} & set(extras)
    if clash:
        raise ValueError(f"extras must not be named {sorted(clash)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save({"config": dict(config), "state_dict": state, **extras}, path)
    return path


def load(name: str, path: str | Path | None = None) -> tuple[nn.Module, dict]:
    """Load a checkpoint: build its model from the registered class and config, then load its weights.

    Args:
        name: one of :data:`MODELS` ("dcgan_digits", "cgan_digits", "digit_classifier", "digits_unet",
            "made_digits", "pixelcnn_digits", "char_transformer", "char_gru").
        path: the file (default: the shipped ``genedu/checkpoints/<name>.pt``), e.g. one you retrained with
            ``experiments/train_*.py --out``.

    Returns:
        (model in eval mode on the CPU, extras): extras holds the ``config`` and what the training script saved
        with it (e.g. ``snapshots``: list of (step, (64, 1, 32, 32) samples in [-1, 1]), ``train_seconds``;
        for "digits_unet" the schedule it was trained under, ``T``, ``beta_start``, ``beta_end``; for "made_digits"
        and "pixelcnn_digits" ``test_bits_per_dim`` and ``samples``, (16, 1, 28, 28) uint8 0/1 images drawn pixel by
        pixel, with ``sample_seconds``; for "char_transformer" and "char_gru" ``chars``, the vocabulary's
        characters, and the held-out ``val_step``/``val_nll`` history).

    Raises:
        ValueError: if ``name`` is not registered.
        FileNotFoundError: if the file is missing.
    """
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    path = Path(path) if path is not None else CHECKPOINT_DIR / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python experiments/{_SCRIPTS[name]}` to train it")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = MODELS[name](**state["config"])
    model.load_state_dict(state["state_dict"])
    extras = {key: value for key, value in state.items() if key != "state_dict"}
    if "snapshots" in extras:  # stored as uint8 grey levels to keep the file small
        extras["snapshots"] = [(int(step), images.float() / 127.5 - 1.0)
                               for step, images in zip(extras.pop("snapshot_steps").tolist(), extras["snapshots"])]
    return model.eval(), extras
