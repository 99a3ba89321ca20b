"""Losses of the course, each with its reduction stated.

Autoencoders and VAEs (chapters 2-3); ``B`` is the batch size:

- :func:`mse_reconstruction`   sum over pixels of (x_hat - x)^2                      -> (B,)
- :func:`bce_reconstruction`   -log Bernoulli(x | sigmoid(logits)), summed over pixels -> (B,)
- :func:`gaussian_kl`          KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over z -> (B,)
- :func:`negative_elbo`        mean over the batch of reconstruction + beta * KL     -> scalars
- :func:`iwae_bound`           the importance-weighted bound on log p(x) with k samples -> (B,)
- :func:`denoising_loss`       mean over the batch of ||r(x + sigma eps) - x||^2        -> scalar
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genedu import _validate as v
from genedu.runtime import randn

__all__ = ["mse_reconstruction", "bce_reconstruction", "gaussian_kl", "negative_elbo", "vae_loss", "iwae_bound",
           "denoising_loss"]


def _same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    v.float_tensor(a, names[0])
    v.float_tensor(b, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() < 2:
        raise ValueError(f"{names[0]} must be a batch (B, ...), got shape {tuple(a.shape)}")


def mse_reconstruction(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error summed over every pixel of each example: sum_j (x_hat_j - x_j)^2.

    Args:
        x_hat: (B, ...) reconstructions.
        x: (B, ...) targets.

    Returns:
        (B,) per-example losses.
    """
    _same_shape(x_hat, x, ("x_hat", "x"))
    return ((x_hat - x) ** 2).flatten(1).sum(dim=1)


def bce_reconstruction(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood -log p(x | z) in nats, summed over pixels:

        -sum_j [x_j log sigmoid(l_j) + (1 - x_j) log(1 - sigmoid(l_j))]

    from the decoder's logits l (stable for large |l|). Targets may be grey levels in [0, 1].

    Args:
        logits: (B, ...) decoder outputs.
        x: (B, ...) targets in [0, 1].

    Returns:
        (B,) per-example losses.
    """
    _same_shape(logits, x, ("logits", "x"))
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(sigma^2)) || N(0, I)) in closed form, summed over the latent dimensions:

        1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2),   sigma_j^2 = exp(logvar_j)

    (Kingma & Welling 2014, appendix B).

    Args:
        mu: (B, D).
        logvar: (B, D), log sigma^2.

    Returns:
        (B,) per-example KL divergences in nats.
    """
    v.float_tensor(mu, "mu", ndim=2)
    v.float_tensor(logvar, "logvar", shape=tuple(mu.shape))
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)


def negative_elbo(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The VAE loss: the negative evidence lower bound with a Bernoulli decoder, averaged over the batch,

        loss = mean_b [ -log p(x_b | z_b) + beta * KL(q(z | x_b) || p(z)) ],

    one sample z_b ~ q(z | x_b) per example. ``beta = 1`` is the ELBO; other values give the
    beta-VAE objective (Higgins et al. 2017).

    Args:
        logits: (B, ...) decoder logits for z ~ q(z|x).
        x: (B, ...) targets in [0, 1].
        mu: (B, D) encoder output (the mean of q(z|x)).
        logvar: (B, D) encoder output (its log-variance).
        beta: weight of the KL term (>= 0).

    Returns:
        (loss, reconstruction, kl), three scalars in nats per example (batch means).
    """
    beta = v.positive_float(beta, "beta", allow_zero=True)
    recon = bce_reconstruction(logits, x)
    kl = gaussian_kl(mu, logvar)
    if recon.shape != kl.shape:
        raise ValueError(f"x has batch size {recon.shape[0]} but mu has {kl.shape[0]}")
    return (recon + beta * kl).mean(), recon.mean(), kl.mean()


def vae_loss(model, x: torch.Tensor, beta: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`negative_elbo` of ``model(x)`` in the form :func:`genedu.train.train` expects:
    ``(loss, {"recon": ..., "kl": ...})``.

    Args:
        model: a VAE whose ``model(x)`` returns ``(logits, mu, logvar)`` (:class:`genedu.models.VAE`).
        x: (B, ...) data in [0, 1].
        beta: weight of the KL term (>= 0).

    Returns:
        the scalar loss (batch mean, nats per example) and ``{"recon": float, "kl": float}``, its two terms.
    """
    logits, mu, logvar = model(x)
    loss, recon, kl = negative_elbo(logits, x, mu, logvar, beta)
    return loss, {"recon": recon.item(), "kl": kl.item()}


def _diag_gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(dim=-1)


@torch.no_grad()
def iwae_bound(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The importance-weighted lower bound on log p(x) (Burda et al. 2016), in nats per example:

        L_k = log (1/k) sum_{i=1}^k p(x | z_i) p(z_i) / q(z_i | x),   z_i ~ q(z | x).

    L_1 is the ELBO (in expectation), L_k <= L_{k+1} <= log p(x) in expectation, and L_k -> log p(x).

    Args:
        model: a :class:`genedu.models.VAE` (``encode``, ``decode``, ``latent_dim``).
        x: (B, ...) data in [0, 1].
        k: number of importance samples per example.
        generator: optional, for reproducible samples.

    Returns:
        (B,) bounds on log p(x_b).
    """
    k = v.positive_int(k, "k")
    mu, logvar = model.encode(x)                                          # (B, D)
    b, d = mu.shape
    eps = randn((k, b, d), generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps                                 # (k, B, D)
    logits = model.decode(z.reshape(k * b, d)).reshape(k, *x.shape)
    log_px_z = -bce_reconstruction(logits.flatten(0, 1), x.expand(k, *x.shape).flatten(0, 1)).reshape(k, b)
    log_pz = _diag_gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
    log_qz = _diag_gaussian_log_prob(z, mu, logvar)
    return torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)


def denoising_loss(denoiser: torch.nn.Module, x: torch.Tensor, sigma: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """The denoising autoencoder's loss (Vincent et al., 2008) with Gaussian corruption: with eps ~ N(0, I)
    drawn per example, the mean over the batch of the squared error summed over coordinates,

        || r(x + sigma eps) - x ||^2,

    where the denoiser r maps a corrupted x~ = x + sigma eps back to an estimate of the clean x. Its
    minimiser is the posterior mean E[x | x~] = x~ + sigma^2 grad log p_sigma(x~) (Tweedie's formula), so a
    trained denoiser estimates the score of the noisy data (Vincent, 2011): the bridge to chapter 7.

    Args:
        denoiser: called once as ``denoiser(x_noisy)`` with x_noisy (B, ...); returns (B, ...).
        x: (B, ...) clean data.
        sigma: the noise's standard deviation, > 0.
        generator: draws eps (default None, the global generator).

    Returns:
        the scalar loss, a 0-d tensor (differentiable in the denoiser's parameters).
    """
    v.float_tensor(x, "x")
    if x.dim() < 2:
        raise ValueError(f"x must be a batch (B, ...), got shape {tuple(x.shape)}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable as denoiser(x_noisy), got {type(denoiser).__name__}")
    eps = randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    x_hat = denoiser(x + sigma * eps)
    _same_shape(x_hat, x, ("denoiser(x_noisy)", "x"))
    return ((x_hat - x) ** 2).flatten(1).sum(dim=1).mean()
