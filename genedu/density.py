"""Explicit densities: the models of chapter 1 (discriminative vs generative).

Generative side, p(x, y) = p(y) p(x | y):

- :func:`fit_gaussian`, :func:`gaussian_log_density`  maximum likelihood and log N(x; mu, Sigma)
- :class:`ClassConditionalGaussians`, :func:`fit_class_conditional`, :func:`class_log_likelihoods`
- :func:`class_posterior`           Bayes' rule p(y | x), stable with log-sum-exp
- :func:`sample_class_conditional`  ancestral sampling: y ~ p(y), then x ~ p(x | y)
- :func:`fit_gaussian_mixture`, :func:`gaussian_mixture_log_density`  a density for unlabelled data (EM)

Discriminative side, p(y | x) only:

- :func:`logistic_nll`, :func:`logistic_regression_gradient`, :func:`fit_logistic_regression`

1-D log-densities, for the GAN game of chapter 4 (``genedu.gan_theory``):

- :func:`normal_log_density`        x -> log N(x; mean, std^2), as a callable
- :func:`kde_log_density`           a Gaussian kernel density estimate of samples (for p_g)

Shapes: N points of dimension D, K classes or mixture components.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from genedu import _validate as v
from genedu.runtime import make_generator, randint, randn

__all__ = [
    "fit_gaussian", "gaussian_log_density", "ClassConditionalGaussians", "fit_class_conditional",
    "class_log_likelihoods", "class_posterior", "predict_posterior", "sample_class_conditional", "GaussianMixture",
    "fit_gaussian_mixture", "gaussian_mixture_log_density", "logistic_nll",
    "logistic_regression_gradient", "fit_logistic_regression", "normal_log_density", "kde_log_density",
]


# --- one Gaussian ---------------------------------------------------------------------------

def fit_gaussian(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood fit of a multivariate Gaussian.

    mu = (1/N) sum_n x_n and Sigma = (1/N) sum_n (x_n - mu)(x_n - mu)^T (divided by N, not
    N - 1: the maximum-likelihood estimate, not the unbiased one).

    Args:
        x: (N, D) data.

    Returns:
        mean (D,); cov (D, D).
    """
    v.float_tensor(x, "x", ndim=2)
    mean = x.mean(dim=0)
    centred = x - mean
    cov = centred.T @ centred / x.shape[0]
    return mean, cov


def _check_gaussian(mean: torch.Tensor, cov: torch.Tensor, dim: int | None = None) -> None:
    v.float_tensor(mean, "mean", shape=(dim,))
    d = mean.shape[0]
    v.float_tensor(cov, "cov", shape=(d, d))
    v.symmetric_positive_definite(cov, "cov")


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x; mu, Sigma) for each row of ``x``:

        -1/2 (x - mu)^T Sigma^{-1} (x - mu) - 1/2 log det Sigma - D/2 log(2 pi)

    computed through the Cholesky factor Sigma = L L^T (a triangular solve, and
    log det Sigma = 2 sum_i log L_ii), never an explicit inverse.

    Args:
        x: (N, D) points.
        mean: (D,).
        cov: (D, D) symmetric positive definite.

    Returns:
        (N,) log-densities in nats.
    """
    v.float_tensor(x, "x", ndim=2)
    _check_gaussian(mean, cov, x.shape[1])
    chol = torch.linalg.cholesky(cov)
    diff = (x - mean).T  # (D, N)
    solved = torch.linalg.solve_triangular(chol, diff, upper=False)  # L^{-1} (x - mu)
    mahalanobis = (solved**2).sum(dim=0)
    log_det = 2 * torch.log(torch.diagonal(chol)).sum()
    d = x.shape[1]
    return -0.5 * (mahalanobis + log_det + d * math.log(2 * math.pi))


# --- class-conditional Gaussians (a generative classifier) ----------------------------------

class ClassConditionalGaussians(NamedTuple):
    """A generative classifier of K classes: the prior p(y = k) = priors[k] and the class-conditional
    density p(x | y = k) = N(x; means[k], covs[k]). As a density of x alone it is a Gaussian mixture with
    weights ``priors`` (:func:`gaussian_mixture_log_density` accepts it).

    Attributes:
        priors: (K,) the class probabilities p(y = k).
        means: (K, D) the class means.
        covs: (K, D, D) the class covariances.
    """
    priors: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor


def _check_mixture(priors: torch.Tensor, means: torch.Tensor, covs: torch.Tensor,
                   names: tuple[str, str, str] = ("priors", "means", "covs")) -> None:
    v.probability_vector(priors, names[0])
    k = priors.shape[0]
    v.float_tensor(means, names[1], shape=(k, None))
    d = means.shape[1]
    v.float_tensor(covs, names[2], shape=(k, d, d))
    if covs.dtype != means.dtype:
        raise TypeError(f"{names[2]} and {names[1]} must have the same dtype, got {covs.dtype} and {means.dtype}")
    v.symmetric_positive_definite(covs, names[2])


def fit_class_conditional(x: torch.Tensor, y: torch.Tensor, n_classes: int | None = None,
                          reg: float = 1e-6) -> ClassConditionalGaussians:
    """Maximum-likelihood fit of p(x, y) = p(y) p(x | y) with Gaussian p(x | y).

    The joint log-likelihood separates: the priors are the class frequencies, and each
    class's Gaussian is :func:`fit_gaussian` on that class's points alone.

    Args:
        x: (N, D) points.
        y: (N,) integer labels in [0, n_classes).
        n_classes: K (default: ``y.max() + 1``); every class needs at least one point.
        reg: added to the diagonal of each covariance, to keep it invertible.

    Returns:
        ClassConditionalGaussians with priors (K,), means (K, D), covs (K, D, D).
    """
    v.float_tensor(x, "x", ndim=2)
    v.int_tensor(y, "y")
    if len(y) != len(x):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    k = int(y.max()) + 1 if n_classes is None else v.positive_int(n_classes, "n_classes")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"y must contain labels in [0, {k}), got values in [{int(y.min())}, {int(y.max())}]")
    counts = torch.bincount(y, minlength=k)
    if (counts == 0).any():
        raise ValueError(f"every class needs at least one point; counts per class: {counts.tolist()}")
    fits = [fit_gaussian(x[y == c]) for c in range(k)]
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return ClassConditionalGaussians(
        priors=counts.to(x.dtype) / len(y),
        means=torch.stack([m for m, _ in fits]),
        covs=torch.stack([c + reg * eye for _, c in fits]),
    )


def class_log_likelihoods(model: ClassConditionalGaussians, x: torch.Tensor) -> torch.Tensor:
    """log p(x_n | y = k) for every point and class.

    Args:
        model: the class-conditional Gaussians.
        x: (N, D).

    Returns:
        (N, K) log-likelihoods.
    """
    _check_mixture(*model)
    return torch.stack([gaussian_log_density(x, m, c) for m, c in zip(model.means, model.covs)], dim=1)


def predict_posterior(model: ClassConditionalGaussians, x: torch.Tensor) -> torch.Tensor:
    """p(y = k | x_n) under a fitted class-conditional model: Bayes' rule on
    :func:`class_log_likelihoods` with the model's priors.

    Args:
        model: the class-conditional Gaussians.
        x: (N, D).

    Returns:
        (N, K) posterior probabilities.
    """
    return class_posterior(class_log_likelihoods(model, x), model.priors)


def class_posterior(log_likelihoods: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Bayes' rule: p(y = k | x_n) = p(x_n | k) p(k) / sum_j p(x_n | j) p(j).

    Computed in log space, log p(k | x) = a_k - logsumexp_j a_j with a_k = log p(x | k) + log p(k),
    so points far from every class (log-likelihoods of -1000) do not underflow to 0/0.

    Args:
        log_likelihoods: (N, K) values log p(x_n | y = k).
        priors: (K,) class probabilities.

    Returns:
        (N, K) posterior probabilities; each row sums to 1.
    """
    v.float_tensor(log_likelihoods, "log_likelihoods", ndim=2)
    v.probability_vector(priors, "priors")
    if priors.shape[0] != log_likelihoods.shape[1]:
        raise ValueError(f"priors has {priors.shape[0]} classes but log_likelihoods has {log_likelihoods.shape[1]} columns")
    log_joint = log_likelihoods + torch.log(priors)
    # softmax(a) = exp(a - logsumexp(a)), computed by torch with the row maximum subtracted first
    return torch.softmax(log_joint, dim=1)


def sample_class_conditional(n: int, priors: torch.Tensor, means: torch.Tensor, covs: torch.Tensor,
                             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Ancestral sampling from p(x, y) = p(y) p(x | y): first y ~ Cat(priors), then
    x = means[y] + L_y z with z ~ N(0, I) and covs[y] = L_y L_y^T (Cholesky).

    Sampling a Gaussian mixture is the same procedure, with the component as y.

    Args:
        n: number of samples.
        priors: (K,).
        means: (K, D).
        covs: (K, D, D).
        generator: a ``torch.Generator`` for reproducible draws, on any device (default: the global one of the
            parameters' device).

    Returns:
        x (n, D) samples; y (n,) int64 classes.
    """
    n = v.positive_int(n, "n")
    _check_mixture(priors, means, covs)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    at = generator.device if generator is not None else priors.device   # draw where the generator is
    y = torch.multinomial(priors.to(at), n, replacement=True, generator=generator).to(priors.device)
    z = randn((n, means.shape[1]), generator=generator, device=means.device, dtype=means.dtype)
    chol = torch.linalg.cholesky(covs)
    x = means[y] + torch.einsum("nij,nj->ni", chol[y], z)
    return x, y


# --- Gaussian mixtures: a density for unlabelled data ---------------------------------------

class GaussianMixture(NamedTuple):
    """p(x) = sum_k weights[k] N(x; means[k], covs[k]), a density for unlabelled data.

    Attributes:
        weights: (K,) mixing weights, summing to 1.
        means: (K, D) component means.
        covs: (K, D, D) component covariances.
    """
    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor


def gaussian_mixture_log_density(x: torch.Tensor, mixture: GaussianMixture) -> torch.Tensor:
    """log p(x_n) = logsumexp_k [log w_k + log N(x_n; mu_k, Sigma_k)].

    Args:
        x: (N, D).
        mixture: a :class:`GaussianMixture` (or ClassConditionalGaussians).

    Returns:
        (N,) log-densities in nats.
    """
    weights, means, covs = mixture
    _check_mixture(weights, means, covs, ("weights", "means", "covs"))
    comps = torch.stack([gaussian_log_density(x, m, c) for m, c in zip(means, covs)], dim=1)
    return torch.logsumexp(comps + torch.log(weights), dim=1)


def fit_gaussian_mixture(x: torch.Tensor, k: int, iters: int = 100, reg: float = 1e-6,
                         seed: int | None = 0) -> GaussianMixture:
    """Maximum likelihood for a K-component Gaussian mixture by expectation-maximisation.

    Initialisation: k-means++ seeding of the means, the data covariance for every component,
    equal weights. Each iteration: E-step responsibilities r_nk = p(k | x_n) with
    :func:`class_posterior`, then the M-step weighted versions of :func:`fit_gaussian`.

    Args:
        x: (N, D) data.
        k: number of components.
        iters: EM iterations.
        reg: added to the diagonal of each covariance.
        seed: for the initialisation.

    Returns:
        GaussianMixture with weights (k,), means (k, D), covs (k, D, D).
    """
    v.float_tensor(x, "x", ndim=2)
    k = v.positive_int(k, "k")
    iters = v.positive_int(iters, "iters")
    n, d = x.shape
    if n < k:
        raise ValueError(f"need at least k={k} points, got {n}")
    g = make_generator(seed)
    # k-means++: each new centre is a data point drawn with probability ~ squared distance (drawn on the
    # generator's device, the CPU, so that CPU and CUDA data get the same centres)
    centres = [x[randint(n, (1,), generator=g, device=x.device)].squeeze(0)]
    for _ in range(k - 1):
        dist2 = torch.cdist(x, torch.stack(centres)).min(dim=1).values ** 2
        pick = torch.multinomial((dist2 / dist2.sum()).to(g.device), 1, generator=g)
        centres.append(x[pick.to(x.device)].squeeze(0))
    eye = reg * torch.eye(d, dtype=x.dtype, device=x.device)
    means = torch.stack(centres)
    covs = (fit_gaussian(x)[1] + eye).expand(k, d, d).clone()
    weights = torch.full((k,), 1.0 / k, dtype=x.dtype, device=x.device)
    for _ in range(iters):
        log_lik = torch.stack([gaussian_log_density(x, m, c) for m, c in zip(means, covs)], dim=1)
        resp = class_posterior(log_lik, weights)                     # (N, K)  E-step
        nk = resp.sum(dim=0) + 1e-10                                  # (K,)    M-step
        weights = nk / n
        means = resp.T @ x / nk[:, None]
        centred = x[None] - means[:, None]                            # (K, N, D)
        covs = torch.einsum("nk,kni,knj->kij", resp, centred, centred) / nk[:, None, None] + eye
    return GaussianMixture(weights, means, covs)


# --- logistic regression (a discriminative classifier) --------------------------------------

def _check_logistic(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
    v.float_tensor(x, "x", ndim=2)
    v.float_tensor(w, "w", shape=(x.shape[1],))
    v.float_tensor(b, "b")
    if b.numel() != 1:
        raise ValueError(f"b must be a scalar tensor, got shape {tuple(b.shape)}")
    v.float_tensor(y, "y", shape=(x.shape[0],))


def logistic_nll(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean negative conditional log-likelihood of logistic regression p(y=1 | x) = sigma(w.x + b).

        -(1/N) sum_n [y_n log sigma(s_n) + (1 - y_n) log(1 - sigma(s_n))],  s_n = w.x_n + b

    written with softplus (log(1 + e^s)) so large |s| does not overflow.

    Args:
        w: (D,).
        b: scalar tensor.
        x: (N, D).
        y: (N,) float labels in {0, 1}.

    Returns:
        scalar tensor (nats per point).
    """
    _check_logistic(w, b, x, y)
    logits = x @ w + b.reshape(())
    return (F.softplus(logits) - y * logits).mean()


def logistic_regression_gradient(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
                                 y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of :func:`logistic_nll` in closed form:

        dL/dw = (1/N) X^T (sigma(X w + b) - y),   dL/db = (1/N) sum_n (sigma(s_n) - y_n)

    Args:
        w: (D,) weights, as in :func:`logistic_nll`.
        b: the scalar bias, as in :func:`logistic_nll`.
        x: (N, D) inputs, as in :func:`logistic_nll`.
        y: (N,) labels, as in :func:`logistic_nll`.

    Returns:
        grad_w (D,); grad_b, a scalar tensor.
    """
    _check_logistic(w, b, x, y)
    err = torch.sigmoid(x @ w + b.reshape(())) - y
    return x.T @ err / len(y), err.mean()


def fit_logistic_regression(x: torch.Tensor, y: torch.Tensor, steps: int = 500,
                            lr: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit logistic regression by full-batch gradient descent on :func:`logistic_nll`.

    Args:
        x: (N, D).
        y: (N,) labels in {0, 1} (int or float).
        steps: gradient steps.
        lr: step size (0.5 suits standardised 2D data).

    Returns:
        w (D,); b, a scalar tensor.
    """
    v.float_tensor(x, "x", ndim=2)
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],):
        raise ValueError(f"y must be a tensor of shape ({x.shape[0]},) with labels 0/1, "
                         f"got {type(y).__name__} {tuple(getattr(y, 'shape', ()))}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must contain only the labels 0 and 1")
    steps = v.positive_int(steps, "steps")
    lr = v.positive_float(lr, "lr")
    y = y.to(x.dtype)
    w, b = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device), torch.zeros((), dtype=x.dtype, device=x.device)
    for _ in range(steps):
        grad_w, grad_b = logistic_regression_gradient(w, b, x, y)
        w, b = w - lr * grad_w, b - lr * grad_b
    return w, b


# --------------------------------------------------------------------------------------------------
# 1-D log-densities (the GAN game of chapter 4)
# --------------------------------------------------------------------------------------------------

def normal_log_density(mean: float = 0.0, std: float = 1.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """The log-density of N(mean, std^2) as a callable ``x -> log N(x; mean, std^2)`` (any shape).

    Args:
        mean: the mean (default 0).
        std: the standard deviation, > 0 (default 1).

    Returns:
        a function of a tensor x (any shape) giving log N(x; mean, std^2) elementwise, shaped like x.
    """
    if isinstance(mean, bool) or not isinstance(mean, (int, float)):
        raise TypeError(f"mean must be a number, got {type(mean).__name__}")
    std = v.positive_float(std, "std")
    return lambda x: -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def kde_log_density(samples: torch.Tensor, x: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """The log of a Gaussian kernel density estimate of 1-D samples, evaluated at x.

    Args:
        samples: (N,) or (N, 1) samples.
        x: (M,) points.
        bandwidth: the kernel's standard deviation (default: Scott's rule, 1.06 std N^(-1/5), at least
            1e-3 so that a collapsed generator still gives a (very narrow) density).

    Returns:
        (M,) log-densities.
    """
    v.float_tensor(samples, "samples")
    samples = samples.reshape(-1) if samples.dim() == 2 and samples.shape[1] == 1 else samples
    v.float_tensor(samples, "samples", ndim=1)
    v.float_tensor(x, "x", ndim=1)
    if bandwidth is None:
        std = float(samples.std()) if len(samples) > 1 else 0.0
        bandwidth = max(1.06 * std * len(samples) ** -0.2, 1e-3)
    h = v.positive_float(bandwidth, "bandwidth")
    log_kernels = -0.5 * ((x[:, None] - samples[None, :]) / h) ** 2 - math.log(h) - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(log_kernels, dim=1) - math.log(len(samples))
