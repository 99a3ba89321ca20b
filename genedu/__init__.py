"""genedu: the helper library of the open course on deep generative models.

One module per concept; later chapters build on earlier ones:

- ``genedu.runtime``  devices, seeds and random draws: the conventions every module follows
- ``genedu.data``     toy 1D and 2D distributions and digit datasets
- ``genedu.density``  explicit densities: Gaussians, class-conditional models,
                      Gaussian mixtures, logistic regression (chapter 1); 1-D log-densities and a KDE
- ``genedu.pca``      principal component analysis by the SVD (chapter 2)
- ``genedu.models``   the MLP builder, autoencoders and VAEs (chapters 2-3)
- ``genedu.losses``   reconstruction losses, Gaussian KL, ELBO, IWAE (chapters 2-3)
- ``genedu.train``    the training loop every chapter reuses
- ``genedu.gan``      GAN losses, one update of each player, Algorithm 1 (``train_gan``), the MLP players
                      (chapters 4-6)
- ``genedu.gan_theory`` the theory of the game: optimal discriminator, value at the optimum, JSD,
                      the 1D game and the bilinear game (chapter 4)
- ``genedu.dcgan``    DCGAN builders, conv size arithmetic, weights_init, the conditional GAN (chapter 5)
- ``genedu.classifier`` a digit CNN that scores generated digits (chapter 5)
- ``genedu.checkpoints`` the models the project trained and ships: one format, one loader (chapters 5, 7)
- ``genedu.remedies`` mode-collapse remedies: Wasserstein loss + gradient penalty, unrolled GAN, packing (chapter 6)
- ``genedu.diffusion`` noise schedules, q(x_t | x_0), the simple loss, DDPM and DDIM samplers (chapter 7)
- ``genedu.denoisers`` noise-prediction networks: an MLP with a sinusoidal time embedding, a small U-Net (chapter 7)
- ``genedu.autoregressive`` the chain rule on binary images: MADE's masks, PixelCNN's masked convolutions, exact
                      log-likelihood in nats and bits per dimension, pixel-by-pixel sampling (chapter 8)
- ``genedu.language_models`` character-level models of text: causal self-attention, a small Transformer, a GRU,
                      sampling with temperature and top-k, perplexity (chapter 8)
- ``genedu.metrics``  mode coverage (the VEEGAN/PacGAN protocol), distances between sample sets: MMD^2,
                      sliced Wasserstein (chapters 6-7)
- ``genedu.plot``     figures and animations: 2D densities, image grids, latent views, GAN and diffusion views
                      (imported when first used: ``import genedu`` loads no matplotlib)
- ``genedu.widgets``  ipywidgets explorers (likewise)
- ``genedu.checks``   the exercise checks used by the notebooks (not imported here)

Nothing in the library imports ``genedu.checks``. The experiments that train the shipped checkpoints and
compute the chapters' tables are in ``experiments/``, outside the library.
"""
from __future__ import annotations

from genedu.runtime import device, seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "device", "seed_everything"]

from genedu import (
    autoregressive, checkpoints, classifier, data, dcgan, denoisers, density, diffusion, gan, gan_theory,
    language_models, losses, metrics, models, pca, remedies, runtime, train,
)


def __getattr__(name: str):
    """``genedu.plot`` (matplotlib) and ``genedu.widgets`` (ipywidgets) are imported when first used, so
    that ``import genedu`` loads neither matplotlib nor IPython (a script or the grader needs no figure)."""
    if name in ("plot", "widgets"):
        import importlib
        return importlib.import_module(f"genedu.{name}")
    raise AttributeError(f"module 'genedu' has no attribute {name!r}")


__all__ += ["runtime", "data", "density", "pca", "models", "losses", "train", "gan", "gan_theory", "dcgan",
            "classifier", "checkpoints", "remedies", "diffusion", "denoisers", "metrics"]
# (``plot`` and ``widgets`` are not in __all__: ``from genedu import *`` loads no matplotlib either)
