"""Checks for chapter 3: the variational autoencoder and the ELBO.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's visible
self-check calls it with the defaults, the hidden tests with other seeds and shapes.

Random functions (``reparameterize``, ``vae_forward``, ``cvae_forward``, ``iwae_bound``) are checked
by their distribution, with fixed seeds and tolerances of several standard errors. The models the
checks build are tiny and exactly analysable: a linear decoder can be inverted, so the latent
codes behind a batch of logits can be recovered and tested; a one-dimensional latent lets
``log p(x)`` and the ELBO be computed by quadrature.
"""
from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from genedu import losses as _losses
from genedu import models as _models
from genedu.checks._core import call, compare, expect_seeded, expect_tensor, expect_tuple, fail, passed, probe
from genedu.checks.ch02 import _substitute_names

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them
# (nor this module's own Bernoulli log-likelihood, which an answer could import).
REFERENCES = ("genedu.models.reparameterize", "genedu.losses.gaussian_kl", "genedu.losses.negative_elbo",
              "genedu.models.VAE.forward", "genedu.losses.iwae_bound",
              "genedu.models.ConditionalVAE.forward", "genedu.models.ConditionalVAE.encode",
              "genedu.models.ConditionalVAE.decode", "genedu.models.ConditionalVAE.one_hot",
              "genedu.models.ConditionalVAE.sample",
              "genedu.checks.ch03._bernoulli_nll")

# References bound at import time: replacing genedu.models.* / genedu.losses.* later does not change
# them. ConditionalVAE.sample and iwae_bound are wrapped by @torch.no_grad(), whose wrapper code is shared by
# every decorated function: the guard must watch the function underneath.
_reparameterize = _models.reparameterize
_gaussian_kl = _losses.gaussian_kl
_negative_elbo = _losses.negative_elbo
_vae_forward = _models.VAE.forward
_iwae_bound = inspect.unwrap(_losses.iwae_bound)
_iwae_bound_ref = _losses.iwae_bound  # computes the expected values (under no_grad)
_VAE = _models.VAE
_CVAE = _models.ConditionalVAE
_cvae_refs = (_models.ConditionalVAE.forward, _models.ConditionalVAE.encode, _models.ConditionalVAE.decode,
              _models.ConditionalVAE.one_hot, inspect.unwrap(_models.ConditionalVAE.sample))
# torch functions applied to the answer's output, bound before any answer runs
_pinv, _logit, _sigmoid = torch.linalg.pinv, torch.logit, torch.sigmoid


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fmt(t: torch.Tensor) -> list[float]:
    return [round(float(a), 3) for a in t.flatten()]


# --- 1. the reparameterization trick ------------------------------------------------------------

def _random_logvar(dim: int, g: torch.Generator) -> torch.Tensor:
    """Log-variances with |logvar| in [0.8, 1.6] and both signs: then sigma = exp(logvar / 2) differs
    from exp(logvar), from 1, from |logvar| and from exp(logvar) / 2 by more than 15 %."""
    sign = torch.where(torch.arange(dim) % 2 == 0, 1.0, -1.0)[torch.randperm(dim, generator=g)]
    return sign * (0.8 + 0.8 * torch.rand(dim, generator=g))


def check_reparameterize(reparameterize, seed: int = 0, n: int = 10000, dim: int = 3) -> None:
    """Check ``reparameterize(mu, logvar, generator=None) -> z`` (B, D), z ~ N(mu, diag(exp(logvar))).

    Checks the moments of z (n rows that share the same mu and logvar), that z is Gaussian, that the
    gradient reaches both mu (dz/dmu = 1) and logvar (dz/dlogvar = (z - mu) / 2), and that all the
    randomness comes from ``generator``.
    """
    name = "reparameterize"
    g = _gen(seed)
    mu0 = 2 * torch.randn(dim, generator=g)
    logvar0 = _random_logvar(dim, g)
    std0 = (0.5 * logvar0).exp().double()

    def draw(s):
        mu = mu0.repeat(n, 1).requires_grad_()
        logvar = logvar0.repeat(n, 1).requires_grad_()
        z = call(reparameterize, name, (mu, logvar), {"generator": _gen(s)}, reference=_reparameterize)
        hints = {(dim,): "you returned a single z; return one sample per row of mu, shape (B, D).",
                 (1, dim): "you returned a single z; draw eps with the shape of mu (B, D)."}
        return expect_tensor(z, name, "z", (n, dim), hints), mu, logvar

    z, mu, logvar = draw(seed + 1000)
    zd = z.detach().double()
    mean, std = zd.mean(dim=0), zd.std(dim=0)
    if bool((std < 1e-6).all()):
        fail(name, "every row got the same z: draw eps with the shape of mu, "
                   "e.g. torch.randn(mu.shape, generator=generator), one independent eps per row.")
    if ((mean - mu0.double()).abs() > 5 * std0 / math.sqrt(n) + 1e-6).any():
        if (mean.abs() < 5 * std0 / math.sqrt(n)).all():
            hint = " they are centred at 0: add the mean, z = mu + sigma * eps."
        elif ((mean - mu0.double() - 0.5 * std0).abs() < 5 * std0 / math.sqrt(n)).all():
            hint = (" z is shifted by sigma / 2: eps looks uniform (torch.rand); draw it from N(0, I) "
                    "with torch.randn.")
        else:
            hint = ""
        fail(name, f"the samples have mean {_fmt(mean)}, expected about {_fmt(mu0)} (= mu);" + hint)
    tol = 5 * std0 / math.sqrt(2 * n) + 1e-6
    if ((std - std0).abs() > tol).any():
        lv = logvar0.double()
        mistakes = [
            (torch.zeros(dim, dtype=torch.float64), "every row got the same eps: draw eps with the shape of mu, "
                                                    "e.g. torch.randn(mu.shape, generator=generator)."),
            (lv.exp(), "you read the log-variance as a log standard deviation: sigma = exp(logvar / 2), "
                       "not exp(logvar)."),
            (torch.ones(dim, dtype=torch.float64), "eps is not scaled: z = mu + sigma * eps with sigma = exp(logvar / 2)."),
            (lv.abs(), "you used logvar itself as the scale; exponentiate it: sigma = exp(logvar / 2)."),
            (0.5 * lv.exp(), "exp(logvar) / 2 is not exp(logvar / 2): the 1/2 belongs inside the exponential."),
            (lv.exp() ** 2, "you used exp(logvar)^2; the standard deviation is sigma = exp(logvar / 2)."),
            ((0.5 * lv).exp() / math.sqrt(12), "eps looks uniform (torch.rand); draw it from N(0, I) with torch.randn."),
        ]
        for wrong, why in mistakes:
            if ((std - wrong).abs() <= 5 * wrong / math.sqrt(2 * n) + 1e-6).all():
                fail(name, f"the samples have the wrong spread: {why}")
        fail(name, f"the samples have standard deviations {_fmt(std)}, expected about {_fmt(std0)} "
                   "(= exp(logvar / 2)).")
    # Gaussian: the share of |z - mu| < sigma is 68.27 % (a uniform eps with the right variance gives 57.7 %)
    inside = float(((zd - mu0.double()).abs() < std0).double().mean())
    if abs(inside - 0.6827) > 5 * math.sqrt(0.6827 * 0.3173 / (n * dim)):
        fail(name, f"{100 * inside:.1f} % of the samples lie within one standard deviation of mu; a Gaussian "
                   "has 68.3 %. Draw eps with torch.randn (standard normal), not torch.rand.")

    # gradients: dz/dmu = 1 and dz/dlogvar = sigma * eps / 2 = (z - mu) / 2
    if not z.requires_grad:
        fail(name, "z carries no gradient: a sample drawn by a sampling function (Normal(...).sample(), or a "
                   "detached tensor) blocks backpropagation. Write z = mu + sigma * eps so that z is a "
                   "differentiable function of mu and logvar.")
    z.sum().backward()
    if mu.grad is None or not bool((mu.grad - 1).abs().max() < 1e-4):
        fail(name, "the gradient of z with respect to mu should be 1 for every element (z = mu + sigma * eps); "
                   + ("no gradient reaches mu." if mu.grad is None else "it is not."))
    if logvar.grad is None or not bool(logvar.grad.abs().sum() > 0):
        fail(name, "no gradient reaches logvar: compute sigma = exp(logvar / 2) from logvar with torch "
                   "operations (no .detach(), .item() or numpy), so that the KL and reconstruction terms can "
                   "train the encoder's variance.")
    want = 0.5 * (zd - mu0.double())
    if not bool(((logvar.grad.double() - want).abs() <= 1e-4 * (1 + want.abs())).all()):
        fail(name, "the gradient with respect to logvar is not sigma * eps / 2: write z = mu + exp(logvar / 2) * eps "
                   "with eps drawn independently of mu and logvar.")

    expect_seeded(lambda s: draw(s)[0], z, seed + 1000, name, "z",
                  "draw eps with the `generator` argument, torch.randn(mu.shape, generator=generator).")
    passed(name, f"{n} samples have the right mean and spread, and gradients reach mu and logvar.")


# --- 2. the Gaussian KL ---------------------------------------------------------------------------

def check_gaussian_kl(gaussian_kl, seed: int = 0, batch: int = 8, dim: int = 5) -> None:
    """Check ``gaussian_kl(mu, logvar) -> (B,)``, KL(N(mu, diag(exp(logvar))) || N(0, I)) summed over
    the latent dimension, against torch.distributions; names the usual mistakes."""
    name = "gaussian_kl"
    g = _gen(seed)
    mu = 1.5 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
    logvar = torch.randn(batch, dim, generator=g, dtype=torch.float64)

    # the expected value first, from torch.distributions (an independent computation)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    var = logvar.exp()
    terms = mu**2 + var - 1 - logvar
    mistakes = [
        (0.5 * (mu**2 + (2 * logvar).exp() - 1 - 2 * logvar).sum(1),
         "you read logvar as the log standard deviation (sigma = exp(logvar)); it is the log-variance: "
         "sigma^2 = exp(logvar)."),
        (terms.sum(1), "the factor 1/2 is missing: KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)."),
        (-0.5 * terms.sum(1), "the sign is flipped: a KL divergence is never negative; "
                              "KL = +1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)."),
        (0.5 * terms.mean(1), "you averaged over the latent dimensions; the KL of independent dimensions is their "
                              "sum (sum over dim=1)."),
        (0.5 * (mu**2 + var - logvar).sum(1), "the -1 in each term is missing: 1/2 (mu^2 + sigma^2 - 1 - log sigma^2)."),
        (0.5 * (mu**2 + var - 1 + logvar).sum(1), "the log-variance enters with a minus sign: - log sigma^2."),
        (0.5 * (var - 1 - logvar).sum(1), "the mu^2 term is missing: a mean away from 0 also costs KL."),
        (0.5 * (mu**2 + (0.5 * logvar).exp() - 1 - logvar).sum(1),
         "you used sigma where sigma^2 belongs: the term is exp(logvar) = sigma^2, not exp(logvar / 2)."),
        (0.5 * ((1 + mu**2) / var - 1 + logvar).sum(1),
         "this is KL(p(z) || q(z|x)), the reverse direction; the ELBO needs KL(q(z|x) || p(z))."),
    ]
    if batch == dim:  # then the (D,) result of summing over the batch has the right shape
        mistakes.append((0.5 * terms.sum(0), "you summed over the batch (dim=0); sum over the latent dimension "
                                             "(dim=1), one KL per example."))
    out = call(gaussian_kl, name, (mu.float().clone(), logvar.float().clone()), reference=_gaussian_kl)
    hints = {(dim,): "you summed over the batch (dim=0); sum over the latent dimension (dim=1), one KL per example.",
             (): "you reduced to one number; return one KL per example, shape (B,): sum over the latent "
                 "dimension (dim=1) only.",
             (batch, dim): "these are the per-dimension terms; sum them over the latent dimension (dim=1).",
             (batch, 1): "return shape (B,), not (B, 1): sum without keepdim=True.",
             (1, batch): "return shape (B,): sum over dim=1 without keepdim."}
    kl = expect_tensor(out, name, "the KL", (batch,), hints)
    compare(kl, expected, name, "the KL", mistakes, rtol=1e-4, atol=1e-4)
    if (kl < -1e-6).any():
        fail(name, "a KL divergence is never negative.")
    zero = call(gaussian_kl, name, (torch.zeros(2, dim), torch.zeros(2, dim)), reference=_gaussian_kl)
    zero = expect_tensor(zero, name, "the KL of N(0, I) from itself", (2,))
    compare(zero, torch.zeros(2), name, "the KL of N(0, I) from itself (it should be 0)", atol=1e-6)
    passed(name, f"matches torch.distributions on a batch of {batch} with {dim} latent dimensions.")


# --- 3. the negative ELBO -------------------------------------------------------------------------

def _bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log Bernoulli(x | sigmoid(logits)) per element, written with log-sigmoid (independent of
    F.binary_cross_entropy_with_logits)."""
    return -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))


def check_negative_elbo(negative_elbo, seed: int = 0, batch: int = 6, image_shape: tuple = (1, 5, 5),
                        dim: int = 3, beta: float = 4.0) -> None:
    """Check ``negative_elbo(logits, x, mu, logvar, beta=1.0) -> (loss, recon, kl)``: batch means, in nats
    per example, of -log p(x|z) (Bernoulli, summed over pixels), of KL(q(z|x) || p(z)) (summed over z)
    and of recon + beta * KL. Called with ``beta`` and without it (the default must be 1)."""
    name = "negative_elbo"
    g = _gen(seed)
    shape = (batch, *image_shape)
    pixels = math.prod(image_shape)
    logits = 2 * torch.randn(shape, generator=g, dtype=torch.float64)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    x = torch.where(torch.rand(shape, generator=g, dtype=torch.float64) < 0.5, (x > 0.5).double(), x)  # binary and grey
    mu = 1.5 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
    logvar = torch.randn(batch, dim, generator=g, dtype=torch.float64)

    # expected values first: the Bernoulli likelihood by log-sigmoid, the KL by torch.distributions
    nll = _bernoulli_nll(logits, x).flatten(1)                                  # (B, P)
    recon_b = nll.sum(1)                                                        # (B,)
    kl_b = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    recon, kl = recon_b.mean(), kl_b.mean()
    loss = (recon_b + beta * kl_b).mean()
    loss_beta1 = (recon_b + kl_b).mean()
    probs = logits.sigmoid().flatten(1)
    terms = mu**2 + logvar.exp() - 1 - logvar
    kl_logstd = 0.5 * (mu**2 + (2 * logvar).exp() - 1 - 2 * logvar).sum(1)
    recon_mistakes = [
        (nll.mean(1).mean(), "you averaged over the pixels; -log p(x|z) is a sum over the pixels "
                             "(reduction='sum' per image, or .sum over the pixel dimensions), then a mean over the batch."),
        (nll.mean(), "you averaged over the pixels; -log p(x|z) is a sum over the pixels, then a mean over the batch."),
        (recon_b.sum(), "you summed over the batch; return batch means (mean over the examples)."),
        (-recon, "the sign is flipped: the reconstruction term is the negative log-likelihood -log p(x|z), "
                 "which is positive."),
        (((probs - x.flatten(1)) ** 2).sum(1).mean(), "this is a squared error; the Bernoulli decoder's "
                                                      "-log p(x|z) is the binary cross-entropy."),
        (_bernoulli_nll(logits.sigmoid(), x).flatten(1).sum(1).mean(),
         "you applied the sigmoid twice: binary_cross_entropy_with_logits takes the logits themselves."),
    ]
    kl_mistakes = [
        (kl_b.sum(), "you summed the KL over the batch; return its mean over the examples."),
        (0.5 * terms.sum(), "you summed the KL over the batch; return its mean over the examples."),
        (0.5 * terms.mean(), "you averaged the KL over the latent dimensions too; sum over the latent dimension, "
                             "then average over the batch."),
        (kl_logstd.mean(), "you read logvar as the log standard deviation; it is the log-variance: sigma^2 = exp(logvar)."),
        (2 * kl, "the factor 1/2 of the KL is missing."),
        (-kl, "the KL has the wrong sign: KL(q || p) >= 0."),
        (beta * kl, "return the KL itself; beta multiplies it only inside the loss."),
    ]
    loss_mistakes = [
        (-loss, "the sign is flipped: return the *negative* ELBO, recon + beta * KL, which training minimises."),
        ((recon_b - beta * kl_b).mean(), "the KL is added, not subtracted: -ELBO = -log p(x|z) + beta * KL."),
        ((beta * recon_b + kl_b).mean(), "beta multiplies the KL term, not the reconstruction term."),
        (loss_beta1, "beta is missing: loss = recon + beta * KL."),
        ((recon_b + beta * kl_b).sum(), "you summed over the batch; return the mean over the examples."),
        (recon, "the KL term is missing from the loss."),
        ((nll.mean(1) + beta * kl_b).mean(), "you averaged the reconstruction term over the pixels; it is a sum "
                                             "over the pixels (then a mean over the batch)."),
        ((recon_b + beta * kl_logstd).mean(), "in the KL you read logvar as the log standard deviation; "
                                              "sigma^2 = exp(logvar)."),
    ]

    logits_in = logits.float().clone().requires_grad_()
    args = (logits_in, x.float().clone(), mu.float().clone(), logvar.float().clone())
    out = expect_tuple(call(negative_elbo, name, args, {"beta": beta}, reference=(_negative_elbo, _bernoulli_nll)),
                       name, ["loss", "recon", "kl"])
    hint = {(batch,): "return batch means (scalars): .mean() over the examples."}
    got_loss, got_recon, got_kl = (expect_tensor(o, name, w, (), hint) for o, w in zip(out, ("loss", "recon", "kl")))
    compare(got_recon, recon, name, "recon", recon_mistakes, rtol=1e-4, atol=1e-3)
    compare(got_kl, kl, name, "kl", kl_mistakes, rtol=1e-4, atol=1e-3)
    compare(got_loss, loss, name, f"the loss (beta = {beta:g})", loss_mistakes, rtol=1e-4, atol=1e-3)
    if not got_loss.requires_grad:
        fail(name, "the loss carries no gradient: keep it a torch tensor computed from the inputs "
                   "(no .item(), .detach() or numpy), or training cannot backpropagate through it.")
    got_loss.backward()
    want_grad = (probs - x.flatten(1)).reshape(shape) / batch
    if logits_in.grad is None or not bool(((logits_in.grad.double() - want_grad).abs() < 1e-4).all()):
        fail(name, "the gradient of the loss with respect to the logits is wrong (expected (sigmoid(logits) - x) / B).")

    out1 = expect_tuple(call(negative_elbo, name, tuple(a.detach().clone() for a in args),
                             reference=(_negative_elbo, _bernoulli_nll)), name, ["loss", "recon", "kl"])
    loss1 = expect_tensor(out1[0], name, "loss", (), hint)
    compare(loss1, loss_beta1, name, "the loss with the default beta",
            [(loss, f"the default of beta should be 1.0 (the ELBO), not {beta:g}.")], rtol=1e-4, atol=1e-3)
    passed(name, f"loss, reconstruction and KL match on a batch of {batch} images of {pixels} pixels "
                 f"(beta = {beta:g} and the default beta = 1).")


# --- 4. the forward pass --------------------------------------------------------------------------

def _linear(fan_in: int, fan_out: int, g: torch.Generator, scale: float = 1.0) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out)
    with torch.no_grad():
        layer.weight.copy_(scale * torch.randn(fan_out, fan_in, generator=g) / math.sqrt(fan_in))
        layer.bias.copy_(0.5 * torch.randn(fan_out, generator=g))
    return layer


def _test_vae(g: torch.Generator, pixels: int = 6, latent_dim: int = 3, image_shape: tuple | None = None) -> nn.Module:
    """A VAE with a linear encoder (x -> mu, logvar) and a linear decoder z -> logits whose weight has full
    column rank, so that z can be recovered from the logits by least squares."""
    encoder = _linear(pixels, 2 * latent_dim, g, scale=0.8)
    decoder: nn.Module = _linear(latent_dim, pixels, g, scale=1.5)
    if image_shape is not None:
        encoder = nn.Sequential(nn.Flatten(), encoder)
        decoder = nn.Sequential(decoder, nn.Unflatten(1, tuple(image_shape)))
    return _VAE(encoder, decoder, latent_dim)


def _decoder_linear(model) -> nn.Linear:
    return model.decoder if isinstance(model.decoder, nn.Linear) else model.decoder[0]


def _latents_from_logits(model, logits: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Least-squares z with decoder(z) = logits, and the relative residual (0 when the logits are decodings)."""
    lin = _decoder_linear(model)
    w, b = lin.weight.detach().double(), lin.bias.detach().double()
    centred = logits.detach().double().flatten(1) - b
    z = centred @ _pinv(w).T
    residual = float((z @ w.T - centred).norm() / (centred.norm() + 1e-12))
    return z, residual


def _run_vae_forward(vae_forward, model, x, generator=None):
    """Probe function (run where the answer lives): ``vae_forward(model, x, generator=generator)`` with a
    correct ``reparameterize`` (exercise 1) in the notebook's namespace, so that a mistake there does not
    cost exercise 4 too."""
    def reparameterize(mu, logvar, generator=None):
        return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)

    with _substitute_names(vae_forward, reparameterize=reparameterize):
        return vae_forward(model, x, generator=generator)


def check_vae_forward(vae_forward, seed: int = 0, n: int = 8000, pixels: int = 6, latent_dim: int = 3) -> None:
    """Check ``vae_forward(model, x, generator=None) -> (logits, mu, logvar)`` for a ``genedu.models.VAE``:
    encode, sample z by the reparameterization trick, decode.

    The check's VAE has a linear decoder with an exact inverse on its range, so the z behind the logits
    is recovered and tested: (z - mu) / sigma must be standard normal, and gradients must reach both
    halves of the encoder (mu and logvar).
    """
    name = "vae_forward"
    g = _gen(seed)
    model = _test_vae(g, pixels, latent_dim)
    x = torch.rand(n, pixels, generator=g)
    with torch.no_grad():
        h = model.encoder(x).double()
    mu_ref, logvar_ref = h[:, :latent_dim], h[:, latent_dim:]
    std_ref = (0.5 * logvar_ref).exp()

    def run(s):
        model.zero_grad()
        out = probe(vae_forward, name, _run_vae_forward, (model, x.clone()), {"generator": _gen(s)},
                    reference=_vae_forward)
        out = expect_tuple(out, name, ["logits", "mu", "logvar"])
        logits = expect_tensor(out[0], name, "logits", (n, pixels),
                               {(n, latent_dim): "the first output should be the decoder's logits, "
                                                 "model.decode(z), shaped like x; you returned something "
                                                 "the size of z."})
        mu = expect_tensor(out[1], name, "mu", (n, latent_dim))
        logvar = expect_tensor(out[2], name, "logvar", (n, latent_dim))
        return logits, mu, logvar

    logits, mu, logvar = run(seed + 1000)
    swapped = [(logvar_ref, "mu and logvar are swapped: model.encode(x) returns (mu, logvar), in that order.")]
    compare(mu, mu_ref, name, "mu", swapped, rtol=1e-4, atol=1e-4)
    compare(logvar, logvar_ref, name, "logvar", [(mu_ref, "mu and logvar are swapped: model.encode(x) returns "
                                                          "(mu, logvar), in that order.")], rtol=1e-4, atol=1e-4)
    ld = logits.detach().double()
    if bool(((ld > 0) & (ld < 1)).all()):
        z_try, res = _latents_from_logits(model, _logit(ld.clamp(1e-7, 1 - 1e-7)))
        if res < 1e-3:
            fail(name, "you returned probabilities sigmoid(logits); return the logits themselves, model.decode(z) "
                       "(the loss, binary_cross_entropy_with_logits, applies the sigmoid).")
    z, residual = _latents_from_logits(model, ld)
    if residual > 1e-3:
        fail(name, "the logits are not decodings of any z: compute them as model.decode(z).")
    u = (z - mu_ref) / std_ref
    total = u.numel()
    if float(u.std()) < 1e-3:
        fail(name, "the logits are model.decode(mu): you decoded the mean. Sample z = mu + sigma * eps first "
                   "and decode z.")
    if abs(float(u.mean())) > 5 / math.sqrt(total) or abs(float(u.std()) - 1) > 5 / math.sqrt(2 * total):
        wrong = [((z - mu_ref) / std_ref**2, "sigma = exp(logvar) reads logvar as a log-std; use exp(logvar / 2)."),
                 (z - mu_ref, "eps is not scaled by sigma = exp(logvar / 2)."),
                 (z, "the mean mu is missing: z = mu + sigma * eps.")]
        for alt, why in wrong:
            if abs(float(alt.mean())) < 5 / math.sqrt(total) and abs(float(alt.std()) - 1) < 5 / math.sqrt(2 * total):
                fail(name, f"the z behind your logits does not follow q(z|x) = N(mu, sigma^2): {why}")
        fail(name, f"the z behind your logits does not follow q(z|x): (z - mu) / sigma has mean {float(u.mean()):.3f} "
                   f"and standard deviation {float(u.std()):.3f}, expected 0 and 1.")
    if not logits.requires_grad:
        fail(name, "the logits carry no gradient: do not wrap the forward pass in torch.no_grad() or detach it.")
    logits.sum().backward()
    grad = model.encoder.weight.grad
    if grad is None or not bool(grad[:latent_dim].abs().sum() > 0):
        fail(name, "no gradient reaches the encoder's mu: z must be computed from mu with torch operations.")
    if not bool(grad[latent_dim:].abs().sum() > 0):
        fail(name, "no gradient reaches the encoder's logvar: a sampled z must stay a differentiable function of "
                   "logvar, z = mu + exp(logvar / 2) * eps (the reparameterization trick).")
    expect_seeded(lambda s: run(s)[0], logits, seed + 1000, name, "logits",
                  "pass `generator` on to the sampling of eps.")
    passed(name, f"encodes, samples z ~ q(z|x) and decodes, with gradients to mu and logvar ({n} inputs).")


# --- 5. the conditional VAE's forward pass ---------------------------------------------------------

class _Expecting(nn.Linear):
    """A linear layer that says what input it expects when it is given another width."""

    def __init__(self, fan_in: int, fan_out: int, expects: str):
        super().__init__(fan_in, fan_out)
        self.expects = expects

    def forward(self, inputs):
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 2 or inputs.shape[1] != self.in_features:
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise ValueError(f"{self.expects}, shape (B, {self.in_features}); it was given {shape}")
        return super().forward(inputs)


def _expecting(fan_in: int, fan_out: int, g: torch.Generator, scale: float, expects: str) -> _Expecting:
    layer = _Expecting(fan_in, fan_out, expects)
    with torch.no_grad():
        layer.weight.copy_(scale * torch.randn(fan_out, fan_in, generator=g) / math.sqrt(fan_in))
        layer.bias.copy_(0.5 * torch.randn(fan_out, generator=g))
    return layer


def _test_cvae(g: torch.Generator, image_shape: tuple, latent_dim: int, n_classes: int) -> nn.Module:
    """A conditional VAE with a linear encoder [x, one_hot(y)] -> (mu, logvar) and a linear decoder
    [z, one_hot(y)] -> logits whose weight has full column rank (pixels >= latent_dim + n_classes), so that
    the decoder's whole input, z and the label, is recovered from the logits by least squares."""
    pixels = math.prod(image_shape)
    encoder = _expecting(pixels + n_classes, 2 * latent_dim, g, 0.8,
                         f"model.encoder expects [x flattened, one_hot(y)], {pixels} + {n_classes} values per example")
    decoder = nn.Sequential(_expecting(latent_dim + n_classes, pixels, g, 1.5,
                                       f"model.decoder expects [z, one_hot(y)], {latent_dim} + {n_classes} values "
                                       "per example"),
                            nn.Unflatten(1, tuple(image_shape)))
    return _CVAE(encoder, decoder, latent_dim, n_classes)


def _run_cvae_forward(cvae_forward, model, x, y, generator=None):
    """Probe function (run where the answer lives): ``cvae_forward(model, x, y, generator=generator)`` with a
    correct ``reparameterize`` (exercise 1) in the notebook's namespace, so that a mistake there does not
    cost exercise 5 too."""
    def reparameterize(mu, logvar, generator=None):
        return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)

    with _substitute_names(cvae_forward, reparameterize=reparameterize):
        return cvae_forward(model, x, y, generator=generator)


def check_cvae_forward(cvae_forward, seed: int = 0, n: int = 6000, image_shape: tuple = (1, 3, 4), latent_dim: int = 3,
                       n_classes: int = 5) -> None:
    """Check ``cvae_forward(model, x, y, generator=None) -> (logits, mu, logvar)`` for a
    ``genedu.models.ConditionalVAE`` built from ``model.encoder``, ``model.decoder`` and ``model.n_classes``:
    one-hot the labels, encode [x flattened, one_hot(y)], sample z by the reparameterization trick, decode
    [z, one_hot(y)].

    The check's encoder is linear, so mu and logvar are compared with the expected ones (and with those of the
    usual wrong inputs); its decoder is linear with full column rank, so the decoder's input behind the logits,
    z and the label, is recovered: the label part must be one_hot(y), and (z - mu) / sigma standard normal.
    """
    name = "cvae_forward"
    image_shape = tuple(image_shape)
    pixels = math.prod(image_shape)
    g = _gen(seed)
    model = _test_cvae(g, image_shape, latent_dim, n_classes)
    x = torch.rand(n, *image_shape, generator=g)
    y = torch.randint(n_classes, (n,), generator=g)
    one_hot = F.one_hot(y, n_classes).double()
    x64 = x.flatten(1).double()
    w_enc, b_enc = model.encoder.weight.detach().double(), model.encoder.bias.detach().double()

    def encoded(inputs):
        h = inputs @ w_enc.T + b_enc
        return h[:, :latent_dim], h[:, latent_dim:]

    mu_ref, logvar_ref = encoded(torch.cat([x64, one_hot], 1))
    std_ref = (0.5 * logvar_ref).exp()

    def run(s):
        model.zero_grad()
        out = probe(cvae_forward, name, _run_cvae_forward, (model, x.clone(), y.clone()), {"generator": _gen(s)},
                    reference=_cvae_refs)
        out = expect_tuple(out, name, ["logits", "mu", "logvar"])
        logits = expect_tensor(out[0], name, "logits", (n, *image_shape),
                               {(n, pixels): f"reshape the logits like x, {(n, *image_shape)} (model.decoder does it "
                                             "when it is given [z, one_hot(y)])."})
        mu = expect_tensor(out[1], name, "mu", (n, latent_dim))
        logvar = expect_tensor(out[2], name, "logvar", (n, latent_dim))
        return logits, mu, logvar

    logits, mu, logvar = run(seed + 1000)
    wrong_inputs = [
        (torch.cat([one_hot, x64], 1), "the encoder's input has the label first; concatenate x (flattened) first, then "
                                       "one_hot(y): torch.cat([x.flatten(1), one_hot], dim=1)."),
    ]
    mistakes_mu = [(encoded(inp)[0], why) for inp, why in wrong_inputs]
    mistakes_mu.append((logvar_ref, "mu and logvar are swapped: the encoder's first latent_dim outputs are mu, the "
                                    "last latent_dim are logvar (h.chunk(2, dim=1))."))
    compare(mu, mu_ref, name, "mu", mistakes_mu, rtol=1e-4, atol=1e-4)
    compare(logvar, logvar_ref, name, "logvar",
            [(mu_ref, "mu and logvar are swapped: the encoder's first latent_dim outputs are mu, the last latent_dim "
                      "are logvar (h.chunk(2, dim=1)).")], rtol=1e-4, atol=1e-4)

    lin = model.decoder[0]
    w, b = lin.weight.detach().double(), lin.bias.detach().double()
    ld = logits.detach().double().flatten(1)

    def decoder_input(values):
        centred = values - b
        u = centred @ _pinv(w).T
        return u, float((u @ w.T - centred).norm() / (centred.norm() + 1e-12))

    if bool(((ld > 0) & (ld < 1)).all()) and decoder_input(_logit(ld.clamp(1e-7, 1 - 1e-7)))[1] < 1e-3:
        fail(name, "you returned probabilities sigmoid(logits); return the logits themselves, the decoder's output "
                   "(the loss, binary_cross_entropy_with_logits, applies the sigmoid).")
    u, residual = decoder_input(ld)
    if residual > 1e-3:
        fail(name, "the logits are not the decoder's output: return model.decoder(torch.cat([z, one_hot], dim=1)).")
    z, label = u[:, :latent_dim], u[:, latent_dim:]
    if not bool(((label - one_hot).abs() < 1e-3).all()):
        if bool(((u[:, :n_classes] - one_hot).abs() < 1e-3).all()):
            fail(name, "the decoder's input has the label first; concatenate z first, then one_hot(y): "
                       "torch.cat([z, one_hot], dim=1).")
        if bool(((label - 1.0 / n_classes).abs() < 1e-3).all()):
            fail(name, "the decoder was given a uniform label vector (1/K everywhere); give it one_hot(y).")
        fail(name, "the label part of the decoder's input is not one_hot(y) (F.one_hot(y, model.n_classes), as floats): "
                   "tell the decoder the label of each example.")
    eps = (z - mu_ref) / std_ref
    total = eps.numel()

    def standard(e):
        return abs(float(e.mean())) < 5 / math.sqrt(total) and abs(float(e.std()) - 1) < 5 / math.sqrt(2 * total)

    if float(eps.std()) < 1e-3:
        fail(name, "the decoder was given z = mu: sample z = mu + sigma * eps first (your reparameterize) and "
                   "decode z.")
    if not standard(eps):
        wrong = [((z - mu_ref) / std_ref**2, "sigma = exp(logvar) reads logvar as a log-std; use exp(logvar / 2)."),
                 (z - mu_ref, "eps is not scaled by sigma = exp(logvar / 2)."),
                 (z, "the mean mu is missing: z = mu + sigma * eps.")]
        for alt, why in wrong:
            if standard(alt):
                fail(name, f"the z behind your logits does not follow q(z|x, y) = N(mu, sigma^2): {why}")
        fail(name, f"the z behind your logits does not follow q(z|x, y): (z - mu) / sigma has mean {float(eps.mean()):.3f} "
                   f"and standard deviation {float(eps.std()):.3f}, expected 0 and 1.")
    if not logits.requires_grad:
        fail(name, "the logits carry no gradient: do not wrap the forward pass in torch.no_grad() or detach it.")
    logits.sum().backward()
    grad = model.encoder.weight.grad
    if grad is None or not bool(grad[:latent_dim].abs().sum() > 0):
        fail(name, "no gradient reaches the encoder's mu: z must be computed from mu with torch operations.")
    if not bool(grad[latent_dim:].abs().sum() > 0):
        fail(name, "no gradient reaches the encoder's logvar: z = mu + exp(logvar / 2) * eps keeps it differentiable.")
    expect_seeded(lambda s: run(s)[0], logits, seed + 1000, name, "logits",
                  "pass `generator` on to the sampling of eps.")
    passed(name, f"both networks see one_hot(y) after their input; z ~ q(z | x, y); gradients reach mu and logvar "
                 f"({n} inputs, {n_classes} classes).")


# --- 6. the importance-weighted bound -------------------------------------------------------------

def _iwae_test_problem(seed: int, pixels: int = 20, images: int = 4):
    """A VAE with a 1D latent whose log p(x), posterior and ELBO are computed by quadrature.

    The decoder is linear, logits = a z + b; the encoder is a linear map fitted so that q(z|x) is the
    exact posterior's mean shifted by about one posterior std, with 1.3-1.7 times its std: a visible
    gap between the ELBO and log p(x) that the importance-weighted bound closes as k grows.
    """
    g = _gen(seed)
    a = 1.2 * torch.randn(pixels, generator=g, dtype=torch.float64)
    b = 0.5 * torch.randn(pixels, generator=g, dtype=torch.float64)
    z_true = torch.randn(images, generator=g, dtype=torch.float64)
    x = (torch.rand(images, pixels, generator=g, dtype=torch.float64) < torch.sigmoid(z_true[:, None] * a + b)).double()
    grid = torch.linspace(-12, 12, 4801, dtype=torch.float64)  # dz = 0.005 (5x finer: < 1e-6 nats apart)
    dz = float(grid[1] - grid[0])
    log_lik = -_bernoulli_nll(grid[:, None, None] * a + b, x[None]).sum(-1)               # (G, images)
    log_prior = -0.5 * grid**2 - 0.5 * math.log(2 * math.pi)
    log_joint = log_lik + log_prior[:, None]
    log_px = torch.logsumexp(log_joint, 0) + math.log(dz)                                 # (images,)
    post = (log_joint - log_px).exp() * dz
    m = (post * grid[:, None]).sum(0)
    s = ((post * (grid[:, None] - m) ** 2).sum(0)).sqrt()
    sign = torch.where(torch.rand(images, generator=g) < 0.5, -1.0, 1.0).double()
    q_mu = m + sign * (0.7 + 0.6 * torch.rand(images, generator=g, dtype=torch.float64)) * s
    q_logvar = 2 * ((1.3 + 0.4 * torch.rand(images, generator=g, dtype=torch.float64)) * s).log()
    # encoder: W x_i + c = (q_mu_i, q_logvar_i) exactly (minimum-norm solution)
    design = torch.cat([x, torch.ones(images, 1, dtype=torch.float64)], 1)              # (images, P + 1)
    coef = design.T @ torch.linalg.solve(design @ design.T, torch.stack([q_mu, q_logvar], 1))
    encoder, decoder = nn.Linear(pixels, 2), nn.Linear(1, pixels)
    with torch.no_grad():
        encoder.weight.copy_(coef[:pixels].T)
        encoder.bias.copy_(coef[pixels])
        decoder.weight.copy_(a[:, None])
        decoder.bias.copy_(b)
    model = _VAE(encoder, decoder, 1)
    # the ELBO by quadrature: E_q[log p(x, z) - log q(z|x)]
    q_std = (0.5 * q_logvar).exp()
    log_q = Normal(q_mu, q_std).log_prob(grid[:, None])                                  # (G, images)
    q = log_q.exp() * dz
    elbo = (q * (log_joint - log_q)).sum(0)
    parts = {"recon": (q * log_lik).sum(0), "prior": (q * log_prior[:, None]).sum(0), "entropy": -(q * log_q).sum(0)}
    return model, x.float(), log_px, elbo, parts


def check_iwae_bound(iwae_bound, seed: int = 0, k: int = 50, repeats: int = 500) -> None:
    """Check ``iwae_bound(model, x, k, generator=None) -> (B,)``, the importance-weighted bound
    L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x) of Burda et al. (2016).

    On a VAE with a 1D latent, where log p(x) and the ELBO are known by quadrature, over ``repeats``
    copies of each of 4 images: L_1 equals the ELBO on average, L_k matches the reference's average for
    the given k (above the ELBO, below log p(x)), within several standard errors.
    """
    name = "iwae_bound"
    model, x, log_px, elbo, parts = _iwae_test_problem(seed)
    images = len(x)
    xr = x.repeat(repeats, 1)                                                             # (R * 4, P)
    # the expected average of L_k, from the reference (bound at import), before the answer runs
    ref_k = _iwae_bound_ref(model, xr, k, generator=_gen(seed + 7)).double().reshape(repeats, images)
    want_k, se_ref = ref_k.mean(0), ref_k.std(0) / math.sqrt(repeats)

    def bound(kk, s):
        out = call(iwae_bound, name, (model, xr.clone(), kk), {"generator": _gen(s)},
                   reference=(_iwae_bound, _bernoulli_nll))
        hints = {(kk, len(xr)): "reduce over the k samples (dim=0): one bound per example.",
                 (len(xr), kk): "reduce over the k samples: one bound per example.",
                 (): "return one bound per example, shape (B,), not the batch mean."}
        out = expect_tensor(out, name, f"the bound for k = {kk}", (len(xr),), hints)
        return out.detach().double().reshape(repeats, images)

    def fmt(t):
        return ", ".join(f"{float(v):.2f}" for v in t)

    l1 = bound(1, seed + 1000)
    m1, se1 = l1.mean(0), l1.std(0) / math.sqrt(repeats)
    if ((m1 - elbo).abs() > 5 * se1 + 0.02).any():
        near = lambda t: bool(((m1 - t).abs() < 5 * se1 + 0.02).all())  # noqa: E731
        if near(-elbo):
            fail(name, "the sign is flipped: L_k is a lower bound on log p(x), a log-probability (negative here); "
                       "it is not a loss.")
        if near(parts["recon"]):
            fail(name, "at k = 1 your bound is E_q[log p(x|z)]: the log-weight is "
                       "log p(x|z) + log p(z) - log q(z|x); log p(z) and log q(z|x) are missing.")
        if near(parts["recon"] + parts["prior"]):
            fail(name, "-log q(z|x) is missing from the log-weight log p(x|z) + log p(z) - log q(z|x).")
        if near(parts["recon"] + parts["entropy"]):
            fail(name, "log p(z) is missing from the log-weight log p(x|z) + log p(z) - log q(z|x).")
        fail(name, f"at k = 1 the bound should equal the ELBO on average ({fmt(elbo)} nats for the 4 test images); "
                   f"yours averages {fmt(m1)} (standard errors {fmt(se1)}). Check the log-weight "
                   "log p(x|z) + log p(z) - log q(z|x), with the Gaussian densities' normalising constants.")
    lk = bound(k, seed + 2000)
    mk, sek = lk.mean(0), lk.std(0) / math.sqrt(repeats)
    tol = 5 * (sek**2 + se_ref**2).sqrt() + 0.02
    if ((mk - want_k).abs() > tol).any():
        if ((mk - elbo).abs() < 5 * sek + 0.02).all():
            fail(name, f"L_{k} is no better than the ELBO on average ({fmt(mk)} vs ELBO {fmt(elbo)}): you averaged the "
                       "log-weights (a mean of logs is the ELBO, whatever k), or used the same z for all k samples. "
                       "Draw k independent z per example and take log of the mean of the weights: "
                       "logsumexp(log_w, dim=0) - log k.")
        if ((mk - math.log(k) - want_k).abs() < tol).all():
            fail(name, "your bound is log k too high: the 1/k inside the log is missing "
                       "(logsumexp(log_w, dim=0) - log k, not logsumexp alone).")
        if (mk > log_px + tol).any():
            fail(name, f"L_{k} averages {fmt(mk)}, above log p(x) = {fmt(log_px)}: a lower bound cannot exceed it.")
        fail(name, f"for k = {k} the bound averages {fmt(mk)}, expected about {fmt(want_k)} "
                   f"(between the ELBO {fmt(elbo)} and log p(x) {fmt(log_px)}).")
    if ((mk - m1) < -5 * (sek**2 + se1**2).sqrt()).any():
        fail(name, f"L_{k} is below L_1 on average: the bound must not get looser as k grows.")
    passed(name, f"L_1 equals the ELBO and L_{k} lies between the ELBO and log p(x), on average "
                 f"(gap closed: {float(((mk - elbo) / (log_px - elbo)).mean()):.0%}).")
