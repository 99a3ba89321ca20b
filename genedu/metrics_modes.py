"""Mode coverage on the 2D ring and grid benchmarks (chapter 6), the protocol of VEEGAN and PacGAN.

The protocol (Srivastava et al., 2017, section 5.1 and Table 1; Lin et al., 2018, section 5 and Table 1;
the metric code of PacGAN's public repository, ``synthetic_data_experiments/PacGAN/pacgan/extensions.py``,
class ``MetricLogger``):

- draw 2,500 samples from the trained generator;
- assign each sample to its nearest mode centre; the sample is **high quality** when its distance to that
  centre is below 3 standard deviations of the mode (PacGAN's code: the Mahalanobis distance
  sqrt(sum_d (x_d - mu_d)^2 / sigma^2) < 3, which for the isotropic modes of these benchmarks is the
  Euclidean distance < 3 sigma);
- a mode is **captured** when at least one high-quality sample is assigned to it (PacGAN's code counts
  the modes with a nonzero count);
- report the number of modes captured and the share of high-quality samples among all samples.

The benchmarks' data: the ring is 8 isotropic Gaussians evenly spaced on a circle, the grid 25 isotropic
Gaussians with means (-4 + 2i, -4 + 2j), i, j = 0..4, and std 0.05 (PacGAN's code, ``2DGrid_GAN&PacGAN/
config.py``). PacGAN's code uses a ring of radius 1 and std 0.01 (``2DRing_GAN&PacGAN/config.py``);
``genedu.data.ring_of_gaussians`` defaults to radius 2 and std 0.02, the same ring at twice the scale. The
metric is measured in units of sigma, so the two rings (same radius / std ratio of 100) are the same
benchmark.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from genedu import _validate as v

__all__ = ["ModeCoverage", "mode_coverage", "PROTOCOL_SAMPLES", "PROTOCOL_THRESHOLD"]

PROTOCOL_SAMPLES = 2500     # samples drawn from the generator (VEEGAN and PacGAN)
PROTOCOL_THRESHOLD = 3.0    # a sample is high quality within this many standard deviations of its mode


class ModeCoverage(NamedTuple):
    """The result of :func:`mode_coverage`.

    Attributes:
        modes: the number of modes captured (an int in 0..M).
        high_quality: the share of high-quality samples among all samples (a float in [0, 1]).
        counts: (M,) int64 tensor, the number of high-quality samples assigned to each mode.
    """
    modes: int
    high_quality: float
    counts: torch.Tensor


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = PROTOCOL_THRESHOLD,
                  min_count: int = 1) -> ModeCoverage:
    """Modes captured and share of high-quality samples (VEEGAN / PacGAN protocol, see the module docstring).

    Each sample is assigned to its nearest centre (Euclidean distance); it is high quality when that
    distance is below ``threshold * std``. A mode is captured when at least ``min_count`` high-quality
    samples are assigned to it (the papers: 1). The papers evaluate 2,500 samples (``PROTOCOL_SAMPLES``).

    Args:
        samples: (N, D) generated samples (N >= 1).
        centers: (M, D) the mode centres (e.g. ``genedu.data.ring_centers()``).
        std: the standard deviation of each (isotropic) mode, > 0 (ring 0.02, grid 0.05).
        threshold: the high-quality radius in standard deviations (default 3).
        min_count: high-quality samples a mode needs to count as captured (default 1).

    Returns:
        ModeCoverage(modes, high_quality, counts) with counts of shape (M,).
    """
    v.float_tensor(samples, "samples", ndim=2)
    v.float_tensor(centers, "centers", ndim=2)
    if len(samples) == 0:
        raise ValueError("samples must hold at least one sample, got shape (0, D)")
    if len(centers) == 0:
        raise ValueError("centers must hold at least one mode centre, got shape (0, D)")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples and centers must have the same dimension D, got {samples.shape[1]} "
                         f"and {centers.shape[1]}")
    std = v.positive_float(std, "std")
    threshold = v.positive_float(threshold, "threshold")
    min_count = v.positive_int(min_count, "min_count")
    x = samples.detach().double().cpu()
    mu = centers.detach().double().cpu()
    dist = torch.cdist(x, mu)                              # (N, M)
    nearest_dist, nearest = dist.min(dim=1)                # (N,), (N,)
    good = nearest_dist < threshold * std                  # (N,)
    counts = torch.bincount(nearest[good], minlength=len(mu))
    return ModeCoverage(int((counts >= min_count).sum()), float(good.double().mean()), counts)
