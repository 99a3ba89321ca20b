"""genedu: the helper library of the open course on deep generative models.

One module per concept; later chapters build on earlier ones:

- ``genedu.data``     toy 2D distributions and digit datasets
- ``genedu.density``  explicit densities: Gaussians, class-conditional models,
                      Gaussian mixtures, logistic regression (chapter 1)
- ``genedu.pca``      principal component analysis by the SVD (chapter 2)
- ``genedu.models``   autoencoders and VAEs (chapters 2-3)
- ``genedu.losses``   reconstruction losses, Gaussian KL, ELBO, IWAE (chapters 2-3)
- ``genedu.train``    the training loop every chapter reuses
- ``genedu.gan``      GAN losses, one update of each player, Algorithm 1 (``train_gan``) (chapters 4-6)
- ``genedu.gan_toy``  the 1D game: optimal discriminator, value at the optimum, JSD, bilinear game (chapter 4)
- ``genedu.dcgan``    DCGAN builders, conv size arithmetic, weights_init, the conditional GAN, shipped checkpoints (chapter 5)
- ``genedu.classifier`` a digit CNN that scores generated digits (chapter 5)
- ``genedu.remedies`` mode-collapse remedies: Wasserstein loss + gradient penalty, unrolled GAN, packing (chapter 6)
- ``genedu.diffusion`` noise schedules, q(x_t | x_0), the simple loss, DDPM and DDIM samplers (chapter 7)
- ``genedu.denoisers`` noise-prediction networks: an MLP with a sinusoidal time embedding, a small U-Net (chapter 7)
- ``genedu.metrics``  mode coverage (the VEEGAN/PacGAN protocol), distances between sample sets: MMD^2,
                      sliced Wasserstein (chapters 6-7)
- ``genedu.plot``     figures and animations: 2D densities, image grids, latent views, GAN and diffusion views
                      (imported when first used: ``import genedu`` loads no matplotlib)
- ``genedu.widgets``  ipywidgets explorers (likewise)
- ``genedu.checks``   the exercise checks used by the notebooks (not imported here)

Nothing in the library imports ``genedu.checks``.
"""
from __future__ import annotations

import random

import numpy as np
import torch

__version__ = "0.1.0"

__all__ = ["__version__", "device", "seed_everything"]


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


from genedu import (  # noqa: E402  (after the helpers they use)
    classifier, data, dcgan, denoisers, density, diffusion, gan, gan_toy, losses, metrics, models, pca,
    remedies, train,
)


def __getattr__(name: str):
    """``genedu.plot`` (matplotlib) and ``genedu.widgets`` (ipywidgets) are imported when first used, so
    that ``import genedu`` loads neither matplotlib nor IPython (a script or the grader needs no figure)."""
    if name in ("plot", "widgets"):
        import importlib
        return importlib.import_module(f"genedu.{name}")
    raise AttributeError(f"module 'genedu' has no attribute {name!r}")


__all__ += ["data", "density", "pca", "models", "losses", "train", "gan", "gan_toy", "dcgan", "classifier", "remedies",
            "diffusion", "denoisers", "metrics", "plot"]
