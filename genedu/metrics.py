"""How close are generated samples to the data? Mode coverage, and distances between two sets of samples.

Mode coverage (chapter 6):

- :func:`mode_coverage`        modes captured and the share of high-quality samples on the ring and grid
                               benchmarks, by the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN
                               (Lin et al. 2018), described below

Distribution distances (chapter 7; for 2D samples, any dimension works):

- :func:`mmd2`                 the unbiased estimate of the squared maximum mean discrepancy (Gretton et al.
                               2012) with a sum of Gaussian kernels of stated bandwidths
- :func:`wasserstein_1d`       the exact p-Wasserstein distance between two 1D empirical distributions
- :func:`sliced_wasserstein`   the sliced p-Wasserstein distance (Rabin et al. 2011): 1D distances of random
                               projections, averaged

Scores of samples by a classifier (chapter 5):

- :func:`inception_score`      Salimans et al.'s (2016) Inception score exp(E_x KL(p(y|x) || p(y))) from a
                               classifier's predicted class probabilities

A distance between a model's samples and the data means little on its own: two independent samples of
the *data* are not at distance 0 either. Compare with that floor (the same distance between two data
samples of the same sizes); :func:`distance_floor` computes it.

**The mode-coverage protocol** (Srivastava et al., 2017, section 5.1 and Table 1; Lin et al., 2018,
section 5 and Table 1; the metric code of PacGAN's public repository,
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, class ``MetricLogger``):

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

from typing import Callable, NamedTuple, Sequence

import torch

from genedu import _validate as v
from genedu.runtime import make_generator

__all__ = ["mode_coverage", "ModeCoverage", "PROTOCOL_SAMPLES", "PROTOCOL_THRESHOLD",
           "gaussian_kernel", "mmd2", "wasserstein_1d", "sliced_wasserstein", "distance_floor",
           "DEFAULT_BANDWIDTHS", "inception_score"]


# --- mode coverage (chapter 6) ---------------------------------------------------------------------------

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


# --- distances between sample sets (chapter 7) -------------------------------------------------------------

# Gaussian kernel bandwidths (standard deviations) for data of unit scale, such as the 2D toy sets of genedu.data.
DEFAULT_BANDWIDTHS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def _samples(x, name: str) -> torch.Tensor:
    v.float_tensor(x, name, ndim=2)
    if len(x) < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {len(x)}")
    return x.detach().double().cpu()


def gaussian_kernel(x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> torch.Tensor:
    """The kernel matrix k(x_i, y_j) = sum_s exp(-||x_i - y_j||^2 / (2 sigma_s^2)) (a sum of Gaussian kernels).

    Args:
        x: (N, D).
        y: (M, D).
        bandwidths: the sigma_s (default :data:`DEFAULT_BANDWIDTHS`).

    Returns:
        (N, M) float64.
    """
    bandwidths = [v.positive_float(b, "bandwidths[i]") for b in bandwidths]
    if not bandwidths:
        raise ValueError("bandwidths must hold at least one bandwidth")
    d2 = torch.cdist(x.double(), y.double()).pow(2)
    return sum(torch.exp(-d2 / (2 * b**2)) for b in bandwidths)


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> float:
    """The unbiased estimate of MMD^2 between the distributions of ``x`` and ``y`` (Gretton et al. 2012, eq. 3):

    MMD_u^2 = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j),

    with k the sum of Gaussian kernels of :func:`gaussian_kernel`. It is 0 in expectation when the two
    distributions are equal (so it can come out slightly negative), and grows as they move apart.

    Args:
        x: (m, D) samples.
        y: (n, D) samples.
        bandwidths: the kernels' sigmas (default :data:`DEFAULT_BANDWIDTHS`).

    Returns:
        a float.
    """
    x, y = _samples(x, "x"), _samples(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    m, n = len(x), len(y)
    kxx, kyy, kxy = gaussian_kernel(x, x, bandwidths), gaussian_kernel(y, y, bandwidths), gaussian_kernel(x, y, bandwidths)
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
                 - 2 * kxy.mean())


def wasserstein_1d(u: torch.Tensor, w: torch.Tensor, p: float = 1.0) -> torch.Tensor:
    """The exact p-Wasserstein distance between 1D empirical distributions (equal weights), batched:
    W_p = (int_0^1 |F_u^{-1}(q) - F_w^{-1}(q)|^p dq)^(1/p), with the empirical quantile functions.

    Args:
        u: (..., n) samples.
        w: (..., m) samples (n and m may differ; leading dimensions must match).
        p: the order, >= 1 (default 1).

    Returns:
        (...) float64 tensor of distances.
    """
    v.float_tensor(u, "u")
    v.float_tensor(w, "w")
    p = v.positive_float(p, "p")
    if p < 1:
        raise ValueError(f"p must be >= 1, got {p}")
    if u.shape[:-1] != w.shape[:-1]:
        raise ValueError(f"u and w must have the same leading dimensions, got {tuple(u.shape)} and {tuple(w.shape)}")
    u, w = u.detach().double().sort(dim=-1).values, w.detach().double().sort(dim=-1).values
    n, m = u.shape[-1], w.shape[-1]
    if n == m:
        return ((u - w).abs().pow(p).mean(-1)).pow(1 / p)
    # breakpoints of both quantile functions, and the sample each one takes on every interval between them
    q = torch.unique(torch.cat([torch.arange(1, n + 1, dtype=torch.float64) / n,
                                torch.arange(1, m + 1, dtype=torch.float64) / m]))
    q = torch.cat([torch.zeros(1, dtype=torch.float64), q])
    mid, dq = (q[1:] + q[:-1]) / 2, q[1:] - q[:-1]
    iu, iw = (mid * n).floor().long().clamp(max=n - 1), (mid * m).floor().long().clamp(max=m - 1)
    return ((u[..., iu] - w[..., iw]).abs().pow(p) * dq).sum(-1).pow(1 / p)


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, projections: int = 500, p: float = 2.0,
                       seed: int | None = 0) -> float:
    """The sliced p-Wasserstein distance (Rabin et al. 2011):
    SW_p(x, y) = (E_theta[W_p^p(theta . x, theta . y)])^(1/p), theta uniform on the unit sphere,
    estimated with ``projections`` random directions (default 500, seeded).

    Args:
        x: (n, D) samples.
        y: (m, D) samples.
        projections: the number of random directions (default 500).
        p: the order (default 2).
        seed: the directions' seed (default 0).

    Returns:
        a float, in the data's units.
    """
    x, y = _samples(x, "x"), _samples(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    projections = v.positive_int(projections, "projections")
    g = make_generator(seed)
    theta = torch.randn(projections, x.shape[1], generator=g, dtype=torch.float64)
    theta = theta / theta.norm(dim=1, keepdim=True)
    wp = wasserstein_1d(theta @ x.T, theta @ y.T, p).pow(p)            # (projections,)
    return float(wp.mean().pow(1 / p))


def distance_floor(sample_data: Callable[[int, int], torch.Tensor], n: int, distance: Callable = sliced_wasserstein,
                   repeats: int = 1) -> float:
    """The distance between two *independent* samples of the data, the floor any model is compared with.

    Args:
        sample_data: ``sample_data(n, seed) -> (n, D)`` draws n data points with a seed.
        n: the sample size (use the size of the model's sample).
        distance: e.g. :func:`sliced_wasserstein` or :func:`mmd2`.
        repeats: average over this many pairs (default 1).

    Returns:
        a float: the mean over ``repeats`` pairs of ``distance(sample_data(n, 2r + 1000), sample_data(n, 2r + 1001))``.
    """
    n = v.positive_int(n, "n", minimum=2)
    repeats = v.positive_int(repeats, "repeats")
    values = [distance(sample_data(n, 2 * r + 1000), sample_data(n, 2 * r + 1001)) for r in range(repeats)]
    return float(sum(values) / len(values))



# --- classifier scores (chapter 5) ------------------------------------------------------------------------

def inception_score(probs: torch.Tensor, splits: int = 1) -> float:
    """The Inception score (Salimans et al., 2016) of a set of samples, from a classifier's predictions:

        IS = exp( E_x KL( p(y | x) || p(y) ) ),   p(y) = E_x p(y | x) (the mean prediction of the set).

    It is high when each prediction p(y | x) is confident (low entropy) and the predictions together
    cover the classes evenly (a marginal p(y) of high entropy): between 1 (every sample gets the same
    prediction) and the number of classes K (confident one-hot predictions spread evenly over all K).
    Salimans et al. use the Inception network's 1,000 ImageNet classes on 50,000 samples in 10 splits;
    with another classifier (chapter 5: the course's digit classifier) the score is only comparable
    with scores from that classifier, on sets of the same size.

    Args:
        probs: (N, K) predicted class probabilities p(y | x_i), rows non-negative and summing to 1
            (e.g. :func:`genedu.classifier.predict_proba`).
        splits: split the N rows into this many consecutive parts of (nearly) equal size, score each
            part with its own marginal p(y) and return the mean (default 1: the whole set).

    Returns:
        a float in [1, K].
    """
    v.float_tensor(probs, "probs", ndim=2)
    splits = v.positive_int(splits, "splits")
    if len(probs) < splits:
        raise ValueError(f"probs must have at least one row per split ({splits}), got {len(probs)} rows")
    p = probs.detach().to(torch.float64).cpu()
    if bool(torch.isnan(p).any()) or bool((p < 0).any()) or not torch.allclose(
            p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError("probs must hold probabilities: non-negative rows that sum to 1 (apply softmax "
                         "to logits first)")
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)   # KL(p(y|x) || p(y)), (n,)
        scores.append(float(kl.mean().exp()))
    return sum(scores) / len(scores)
