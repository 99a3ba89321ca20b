"""How close are generated samples to the data? Mode coverage, and distances between two sets of samples.

Mode coverage (chapter 6; implemented in ``genedu.metrics_modes``, re-exported here):

- :func:`mode_coverage`        modes captured and the share of high-quality samples on the ring and grid
                               benchmarks, by the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN
                               (Lin et al. 2018)

Distribution distances (chapter 7; for 2D samples, any dimension works):

- :func:`mmd2`                 the unbiased estimate of the squared maximum mean discrepancy (Gretton et al.
                               2012) with a sum of Gaussian kernels of stated bandwidths
- :func:`wasserstein_1d`       the exact p-Wasserstein distance between two 1D empirical distributions
- :func:`sliced_wasserstein`   the sliced p-Wasserstein distance (Rabin et al. 2011): 1D distances of random
                               projections, averaged

A distance between a model's samples and the data means little on its own: two independent samples of
the *data* are not at distance 0 either. Compare with that floor (the same distance between two data
samples of the same sizes); :func:`distance_floor` computes it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from genedu import _validate as v
from genedu.metrics_modes import PROTOCOL_SAMPLES, PROTOCOL_THRESHOLD, ModeCoverage, mode_coverage  # noqa: F401

__all__ = ["mode_coverage", "ModeCoverage", "PROTOCOL_SAMPLES", "PROTOCOL_THRESHOLD",
           "gaussian_kernel", "mmd2", "wasserstein_1d", "sliced_wasserstein", "distance_floor",
           "DEFAULT_BANDWIDTHS"]

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
        x: (N, D); y: (M, D); bandwidths: the sigma_s (default :data:`DEFAULT_BANDWIDTHS`).

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
        x: (m, D) samples; y: (n, D) samples; bandwidths: the kernels' sigmas (default :data:`DEFAULT_BANDWIDTHS`).

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
        u: (..., n) samples; w: (..., m) samples (n and m may differ; leading dimensions must match).
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
        x: (n, D); y: (m, D) samples; p: the order (default 2); seed: the directions' seed (default 0).

    Returns:
        a float, in the data's units.
    """
    x, y = _samples(x, "x"), _samples(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    projections = v.positive_int(projections, "projections")
    g = v.generator(v.optional_seed(seed))
    theta = torch.randn(projections, x.shape[1], generator=g, dtype=torch.float64)
    theta = theta / theta.norm(dim=1, keepdim=True)
    wp = wasserstein_1d(theta @ x.T, theta @ y.T, p).pow(p)            # (projections,)
    return float(wp.mean().pow(1 / p))


def distance_floor(sample_data: Callable[[int, int], torch.Tensor], n: int, distance: Callable = sliced_wasserstein,
                   repeats: int = 1) -> float:
    """The distance between two *independent* samples of the data, the floor any model is compared with.

    Args:
        sample_data: ``sample_data(n, seed) -> (n, D)`` draws n data points with a seed.
        n: the sample size (use the size of the model's sample); distance: e.g. :func:`sliced_wasserstein`
            or :func:`mmd2`; repeats: average over this many pairs (default 1).

    Returns:
        a float: the mean over ``repeats`` pairs of ``distance(sample_data(n, 2r + 1000), sample_data(n, 2r + 1001))``.
    """
    n = v.positive_int(n, "n", minimum=2)
    repeats = v.positive_int(repeats, "repeats")
    values = [distance(sample_data(n, 2 * r + 1000), sample_data(n, 2 * r + 1001)) for r in range(repeats)]
    return float(sum(values) / len(values))

