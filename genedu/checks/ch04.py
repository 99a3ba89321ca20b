"""Checks for chapter 4: the GAN minimax game.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's visible
self-check calls it with the defaults, the hidden tests with other seeds and shapes.

The expected values are computed independently of genedu.gan: the losses with log-sigmoid in float64,
the optimal discriminator as the density ratio in float64, the value at the optimum from the Jensen-Shannon
divergence, the generator's gradients against the fixed optimal discriminator in closed form (the chain
rule written out), and the training iteration by an explicit Algorithm 1 step on copies of the models.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from genedu import gan as _gan
from genedu import gan_theory as _gan_theory
from genedu.checks._core import (CheckFailed, _isfinite, call, close, compare, expect_number, expect_tensor,
                                 expect_tuple, fail, passed, probe)
from genedu.checks.ch02 import _substitute_names

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them
# (nor this module's own JSD and reference iterations, which an answer could import).
# (genedu.gan.generator_loss_saturating is not one: the notebook's try-it cells use it.)
REFERENCES = ("genedu.gan.discriminator_loss", "genedu.gan.generator_loss_nonsaturating",
              "genedu.gan_theory.optimal_discriminator", "genedu.gan_theory.value_at_optimum",
              "genedu.gan_theory.gan_value", "genedu.gan_theory.jensen_shannon",
              "genedu.gan_theory.generator_gradients_at_optimum",
              "genedu.gan.discriminator_step", "genedu.gan.generator_step", "genedu.gan.train_gan",
              "genedu.checks.ch04._jsd", "genedu.checks.ch04._gradients_closed_form",
              "genedu.checks.ch04._gradients_variant", "genedu.checks.ch04._reference_iteration",
              "genedu.checks.ch04._reference_after_d_step")

# References bound at import time: replacing genedu.gan.* later does not change them.
_discriminator_loss = _gan.discriminator_loss
_generator_loss_nonsaturating = _gan.generator_loss_nonsaturating
_discriminator_step = _gan.discriminator_step
_generator_step = _gan.generator_step
_train_gan = _gan.train_gan
_optimal_discriminator = _gan_theory.optimal_discriminator
_value_at_optimum = _gan_theory.value_at_optimum
_gan_value = _gan_theory.gan_value
_jensen_shannon = _gan_theory.jensen_shannon
_generator_gradients_at_optimum = _gan_theory.generator_gradients_at_optimum
_logsigmoid, _softplus = F.logsigmoid, F.softplus
_Tensor = torch.Tensor


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# a few logits far out in both tails: log(sigmoid(l)) and log(1 - sigmoid(l)) computed directly give
# -inf there in float32 (sigmoid(-200) underflows to 0 and sigmoid(50) rounds to 1)
_EXTREME = [-200.0, -50.0, 50.0, 200.0]
_UNSTABLE = ("the loss is nan or inf for large logits: log(sigmoid(l)) computed directly underflows "
             "(sigmoid(-200) is 0 in float32, and log 0 = -inf; 1 - sigmoid(50) is 0 too). Use the stable "
             "forms log D = -softplus(-l) and log(1 - D) = -softplus(l) (F.softplus or F.logsigmoid).")


def _check_extreme(fn, name: str, args: tuple, expected: torch.Tensor, reference) -> None:
    """The loss on logits of +-50 and +-200 (float32) must equal the exact value."""
    out = call(fn, name, tuple(a.float() for a in args), reference=reference)
    loss = _scalar(out, name, len(args[0]))
    if not close(loss, expected, rtol=1e-4, atol=1e-3):
        fail(name, f"for logits of +-50 and +-200 the loss is {float(loss):.4g}, expected {float(expected):.4g}. "
                   "Computing D = sigmoid(l) first and then its log loses the exact value there: "
                   "F.binary_cross_entropy on probabilities clamps each log at -100, and log(D + 1e-8) stops at "
                   "about -18. Work with the logits: log D = -softplus(-l), log(1 - D) = -softplus(l).")


def _scalar(out, name: str, n: int, what: str = "the loss") -> torch.Tensor:
    hints = {(n,): "you returned one value per example: average over the batch (.mean()).",
             (n, 1): "you returned one value per example: average over the batch (.mean())."}
    if isinstance(out, float):
        fail(name, f"{what} is a Python float: return the tensor itself (no .item()), so that it can be "
                   "backpropagated.")
    if isinstance(out, _Tensor) and out.is_floating_point() and tuple(out.shape) == () and not bool(_isfinite(out)):
        fail(name, _UNSTABLE)
    return expect_tensor(out, name, what, (), hints)


def _check_loss(fn, name: str, args: tuple, expected, mistakes, reference, grad_wrt: int, expected_grad) -> None:
    """Value on the given float32 inputs, the mistakes, and the gradient with respect to args[grad_wrt]."""
    inputs = [a.float().clone().requires_grad_(True) for a in args]
    out = call(fn, name, tuple(inputs), reference=reference)
    loss = _scalar(out, name, len(args[0]))
    compare(loss, expected, name, "the loss", mistakes, rtol=1e-4, atol=1e-5)
    if not loss.requires_grad:
        fail(name, "the loss carries no gradient: compute it from the logits with torch operations (no .item(), "
                   "numpy or .detach()), so that backward() can train the players.")
    (grad,) = torch.autograd.grad(loss, inputs[grad_wrt], allow_unused=True)
    if grad is None or not close(grad, expected_grad, rtol=1e-3, atol=1e-6):
        fail(name, "the value is right but its gradient with respect to the logits is not: compute the loss "
                   "with differentiable torch operations.")


def _logits(seed: int, batch: int, fake_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    real = 3 * torch.randn(batch, generator=g, dtype=torch.float64) + 0.5
    fake = 3 * torch.randn(fake_batch, generator=g, dtype=torch.float64) - 0.5
    return real, fake


# --- 1. the discriminator loss --------------------------------------------------------------------

def check_discriminator_loss(discriminator_loss, seed: int = 0, batch: int = 32, fake_batch: int = 24) -> None:
    """Check ``discriminator_loss(real_logits, fake_logits) -> scalar``, -V(D, G) on a minibatch:
    -mean log D(x) - mean log(1 - D(G(z))) with D = sigmoid(logits); stable for large logits."""
    name = "discriminator_loss"
    real, fake = _logits(seed, batch, fake_batch)
    a, b = -_logsigmoid(real), -_logsigmoid(-fake)          # -log D(x), -log(1 - D(G(z)))
    expected = a.mean() + b.mean()
    both = torch.cat([a, b])
    mistakes = [
        (-expected, "the sign is flipped: this is V(D, G), which D maximises; the loss to minimise is -V(D, G) "
                    "= -mean log D(x) - mean log(1 - D(G(z)))."),
        (a.sum() + b.sum(), "you summed over the examples; V(D, G) is made of expectations: use means."),
        (-_logsigmoid(-real).mean() - _logsigmoid(fake).mean(),
         "real and fake are swapped: D should output 1 on real examples (log D(x)) and 0 on fakes "
         "(log(1 - D(G(z))))."),
        (both.mean(), "you averaged over the real and fake examples together; -V(D, G) is the sum of two "
                      "expectations, one mean over the real batch plus one mean over the fake batch."),
        (0.5 * expected, "you averaged the two terms; -V(D, G) is their sum."),
        (a.mean(), "the fake term -mean log(1 - D(G(z))) is missing."),
        (b.mean(), "the real term -mean log D(x) is missing."),
        (-real.sigmoid().log().mean() - (1 - fake.sigmoid()).mean(), "the fake term needs a log: log(1 - D(G(z)))."),
    ]
    real_grad = -torch.sigmoid(-real) / batch                # d/dl softplus(-l) = -(1 - sigmoid(l))
    _check_loss(discriminator_loss, name, (real, fake), expected, mistakes, _discriminator_loss, 0, real_grad)
    # stability: large logits in both tails
    big = torch.tensor(_EXTREME, dtype=torch.float64)
    _check_extreme(discriminator_loss, name, (big, big.flip(0)),
                   -_logsigmoid(big).mean() - _logsigmoid(big.flip(0)).mean(), _discriminator_loss)
    passed(name, f"matches -V(D, G) on {batch} real and {fake_batch} fake logits, stable for logits up to +-200.")


# --- 2. the non-saturating generator loss ----------------------------------------------------------

def check_generator_loss_nonsaturating(generator_loss_nonsaturating, seed: int = 0, batch: int = 32) -> None:
    """Check ``generator_loss_nonsaturating(fake_logits) -> scalar``: -mean log D(G(z)), stable for
    large logits, with gradient -(1 - D(G(z))) / B with respect to each logit."""
    name = "generator_loss_nonsaturating"
    _, fake = _logits(seed + 7, 1, batch)
    log_1md, log_d = _logsigmoid(-fake), _logsigmoid(fake)
    expected = -log_d.mean()
    mistakes = [
        (-expected, "the sign is flipped: the generator minimises -log D(G(z)) (it wants D(G(z)) near 1)."),
        (log_1md.mean(), "this is the saturating loss log(1 - D(G(z))); the non-saturating one is -log D(G(z))."),
        (-log_1md.mean(), "you wrote -log(1 - D(G(z))) (the fakes labelled 0); the generator wants them labelled "
                          "real: -log D(G(z))."),
        (-log_d.sum(), "you summed over the examples; use the mean."),
        (-fake.sigmoid().mean(), "a log is missing: -log D(G(z))."),
    ]
    grad = -torch.sigmoid(-fake) / batch                     # d/dl -log sigmoid(l) = -(1 - sigmoid(l))
    _check_loss(generator_loss_nonsaturating, name, (fake,), expected, mistakes, _generator_loss_nonsaturating, 0,
                grad)
    big = torch.tensor(_EXTREME, dtype=torch.float64)
    _check_extreme(generator_loss_nonsaturating, name, (big,), -_logsigmoid(big).mean(),
                   _generator_loss_nonsaturating)
    passed(name, f"matches -mean log D(G(z)) on {batch} logits, stable for logits up to +-200.")


# --- 3. the optimal discriminator -----------------------------------------------------------------

def _mixture_log_density(x: torch.Tensor, means, stds, weights) -> torch.Tensor:
    comps = [math.log(w) - 0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
             for m, s, w in zip(means, stds, weights)]
    return torch.logsumexp(torch.stack(comps), dim=0)


def _densities(seed: int, n_grid: int, lo: float, hi: float):
    """A grid reaching far into the tails, p_data a two-component mixture and p_g a Gaussian (float64)."""
    g = _gen(seed)
    r = torch.rand(6, generator=g, dtype=torch.float64)
    x = torch.linspace(lo, hi, n_grid, dtype=torch.float64)
    log_p_data = _mixture_log_density(x, [1.0 + r[0], -1.5 - r[1]], [0.4 + 0.4 * r[2], 0.6 + 0.3 * r[3]],
                                      [0.6, 0.4])
    log_p_g = _mixture_log_density(x, [-0.5 + r[4]], [1.0 + r[5]], [1.0])
    return x, log_p_data, log_p_g


def check_optimal_discriminator(optimal_discriminator, seed: int = 0, n_grid: int = 501) -> None:
    """Check ``optimal_discriminator(log_p_data, log_p_g) -> (M,)``, D*(x) = p_data / (p_data + p_g) from
    log-densities on a grid; the grid reaches tails where both densities underflow in float32."""
    name = "optimal_discriminator"
    x, a, b = _densities(seed, n_grid, lo=-40.0, hi=40.0)
    p, q = a.exp(), b.exp()
    expected = torch.sigmoid(a - b)                            # = p / (p + q), exact in the tails too
    mistakes = [
        (torch.sigmoid(b - a), "you wrote p_g / (p_data + p_g); D* is the probability that x is REAL: "
                               "p_data / (p_data + p_g)."),
        ((a - b).exp(), "this is the density ratio p_data / p_g; D* = p_data / (p_data + p_g)."),
        (0.5 * expected, "a factor 1/2 too many: D* = p_data / (p_data + p_g)."),
        (a - torch.logaddexp(a, b), "this is log D*; return D* itself (exponentiate)."),
    ]
    inside = (p + q) > 1e-30                                  # where exp() of the float32 log-densities is fine
    out = call(optimal_discriminator, name, (a.float().clone(), b.float().clone()), reference=_optimal_discriminator)
    hints = {(n_grid, 1): "return shape (M,), like the log-densities.", (1, n_grid): "return shape (M,)."}
    if isinstance(out, _Tensor) and tuple(out.shape) == (n_grid,) and out.is_floating_point():
        if not bool(_isfinite(out[inside]).all()):
            fail(name, "D* is nan or inf where the densities are well defined.")
        if not bool(_isfinite(out).all()):
            fail(name, "D* is nan far from the data: exp(log p) underflows to 0 there for both densities, and "
                       "0 / (0 + 0) is nan. Work with the log-densities: p_data / (p_data + p_g) = "
                       "sigmoid(log p_data - log p_g) (or use torch.logaddexp), which stays exact.")
    d = expect_tensor(out, name, "D*", (n_grid,), hints)
    compare(d[inside], expected[inside], name, "D*", [(w[inside], why) for w, why in mistakes], rtol=1e-4, atol=1e-5)
    compare(d, expected, name, "D* far from the data, where both densities underflow",
            [(w, why) for w, why in mistakes], rtol=1e-3, atol=1e-5)
    if bool(((d < 0) | (d > 1)).any()):
        fail(name, "D* must lie in [0, 1].")
    passed(name, f"matches p_data / (p_data + p_g) on {n_grid} grid points, including the far tails.")


# --- 4. the value at the optimum ------------------------------------------------------------------

def _trapezoid(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return ((f[1:] + f[:-1]) * (x[1:] - x[:-1])).sum() / 2


def _jsd(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """JSD by the trapezoidal rule in float64, written out (independent of genedu.gan_theory)."""
    p, q = a.exp(), b.exp()
    m = 0.5 * (p + q)
    kl_p = torch.where(p > 0, p * (a - m.log()), torch.zeros_like(p))
    kl_q = torch.where(q > 0, q * (b - m.log()), torch.zeros_like(q))
    return _trapezoid(0.5 * (kl_p + kl_q), x)


def _value_case(value_at_optimum, name: str, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
    """Run the answer on one pair of float64 log-densities (given to it in float32) and compare."""
    n_grid = len(x)
    # normalise on the grid (trapezoidal mass exactly 1), so that V = -log 4 + 2 JSD holds exactly there
    a, b = a - _trapezoid(a.exp(), x).log(), b - _trapezoid(b.exp(), x).log()
    jsd = _jsd(a, b, x)
    expected = -math.log(4) + 2 * jsd
    p, q = a.exp(), b.exp()
    log_d = a - torch.logaddexp(a, b)
    log_1md = b - torch.logaddexp(a, b)
    dx = x[1] - x[0]

    def integral(f):
        return _trapezoid(torch.nan_to_num(f, nan=0.0), x)

    p_log_d = torch.where(p > 0, p * log_d, torch.zeros_like(p))
    mistakes = [
        (2 * jsd, "the -log 4 is missing: V(G, D*) = -log 4 + 2 JSD."),
        (-math.log(4) + jsd, "the factor 2 is missing: V(G, D*) = -log 4 + 2 JSD."),
        (-math.log(2) + 2 * jsd, "the constant is -log 4, not -log 2: V(G, D*) = -log 4 + 2 JSD."),
        (-expected, "the sign is flipped: V(G, D*) = int p_data log D* + p_g log(1 - D*) is <= 0."),
        (integral(p_log_d), "the second term int p_g log(1 - D*) is missing."),
        (integral(p_log_d + torch.where(q > 0, q * log_d, torch.zeros_like(q))),
         "the second term must use log(1 - D*), not log D*."),
        (integral(p_log_d + torch.where(q > 0, q * log_1md, torch.zeros_like(q))) / dx,
         "the integral is missing the grid spacing dx: int f(x) dx ~ sum_i f(x_i) dx (or torch.trapezoid(f, x))."),
        (integral(log_d + log_1md) / (x[-1] - x[0]),
         "the log terms must be weighted by the densities: int p_data log D* + p_g log(1 - D*) dx."),
    ]
    out = call(value_at_optimum, name, (a.float().clone(), b.float().clone(), x.float().clone()),
               reference=(_value_at_optimum, _gan_value, _jensen_shannon, _jsd))
    if isinstance(out, _Tensor) and out.is_floating_point() and out.numel() == 1 and not bool(_isfinite(out).all()):
        fail(name, "the value is nan or inf. (1) Where a density is 0, p log D* is 0 * log 0, which torch computes "
                   "as nan: count it as 0 (torch.xlogy(p, d), or torch.where(p > 0, ..., 0)). (2) Far from the data "
                   "D* rounds to 0 or 1 although the other density is still positive, so log D* or log(1 - D*) "
                   "computed from D* is -inf: compute the logs from the log-densities, log D* = "
                   "F.logsigmoid(log_p_data - log_p_g) and log(1 - D*) = F.logsigmoid(log_p_g - log_p_data). "
                   "(3) Each density multiplies its own log: p_data log D* + p_g log(1 - D*).")
    if isinstance(out, float):
        out = torch.tensor(out)
    value = expect_tensor(out, name, "V(G, D*)", (), {(n_grid,): "integrate over the grid: return one number."})
    compare(value, expected, name, "V(G, D*)", mistakes, rtol=2e-3, atol=2e-3)
    return float(value)


def check_value_at_optimum(value_at_optimum, seed: int = 0, n_grid: int = 2001, disjoint: bool = False) -> None:
    """Check ``value_at_optimum(log_p_data, log_p_g, x) -> scalar``: V(G, D*) = int p_data log D* +
    p_g log(1 - D*) dx on the grid, which must equal -log 4 + 2 JSD(p_data || p_g).

    Two cases: a Gaussian p_g and a two-Gaussian mixture p_data (seeded), and two Gaussians 6 apart
    (where D* rounds to 0 or 1 in float32 while the other density is still positive: the logs must come
    from the log-densities). With ``disjoint=True`` instead: densities uniform on the adjacent intervals
    [-2, 0.5) and [0.5, 3] (log-density -inf elsewhere): 0 log 0 must count as 0, and V(G, D*) = 0 there
    (JSD = log 2)."""
    name = "value_at_optimum"
    if disjoint:
        x = torch.linspace(-2.0, 3.0, n_grid, dtype=torch.float64)
        ninf = torch.tensor(-math.inf, dtype=torch.float64)
        a = torch.where(x < 0.5, torch.tensor(0.0, dtype=torch.float64), ninf)
        b = torch.where(x >= 0.5, torch.tensor(0.0, dtype=torch.float64), ninf)
        value = _value_case(value_at_optimum, name, x, a, b)
        passed(name, f"V(G, D*) = {value:.4f} = -log 4 + 2 JSD for disjoint uniform densities (JSD = log 2).")
        return
    x, a, b = _densities(seed, n_grid, lo=-12.0, hi=12.0)   # (no exact zeros in float64 there)
    value = _value_case(value_at_optimum, name, x, a, b)
    shift = 5.5 + float(torch.rand(1, generator=_gen(seed)))
    far_a = -0.5 * ((x - shift / 2) / 0.5) ** 2
    far_b = -0.5 * ((x + shift / 2) / 0.5) ** 2
    far = _value_case(value_at_optimum, name, x, far_a, far_b)
    passed(name, f"V(G, D*) = {value:.4f} = -log 4 + 2 JSD for a Gaussian and a two-Gaussian mixture, and "
                 f"{far:.4f} for two Gaussians {shift:.1f} apart.")


# --- 5. the generator's gradients against the optimal discriminator --------------------------------

def _log_normal(x: torch.Tensor, mean, std) -> torch.Tensor:
    """log N(x; mean, std^2) (mean, std numbers or tensors)."""
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(torch.as_tensor(std, dtype=x.dtype)) - 0.5 * math.log(2 * math.pi)


def _gradients_closed_form(mu: float, sigma: float, z: torch.Tensor, m: float, s: float):
    """The two gradients written out in float64 (no autograd): with l(x) = log p_data(x) - log p_g0(x) the
    logit of D*, d/dx log(1 - D*) = -D* l'(x) and d/dx (-log D*) = -(1 - D*) l'(x), where
    l'(x) = -(x - m) / s^2 + (x - mu) / sigma^2; dx/dmu = 1 and dx/dsigma = z."""
    z = z.double()
    x = mu + sigma * z
    logit = (-0.5 * ((x - m) / s) ** 2 - math.log(s)) - (-0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma))
    dlogit = -(x - m) / s ** 2 + (x - mu) / sigma ** 2
    d_sat = -torch.sigmoid(logit) * dlogit                  # d/dx log(1 - D*(x))
    d_ns = -torch.sigmoid(-logit) * dlogit                  # d/dx -log D*(x)
    return (torch.stack([d_sat.mean(), (d_sat * z).mean()]), torch.stack([d_ns.mean(), (d_ns * z).mean()]))


def _gradients_variant(mu: float, sigma: float, z: torch.Tensor, m: float, s: float, variant: str):
    """The two gradients of a usual wrong answer, by autograd in float64."""
    z = z.double()
    theta = torch.tensor([mu, sigma], dtype=torch.float64, requires_grad=True)
    x = theta[0] + theta[1] * z
    g_mu, g_sigma = (theta[0], theta[1]) if variant.startswith("not detached") else (mu, sigma)
    if variant == "p_g variance":                          # sigma read as the variance of p_g
        log_p_g = _log_normal(x, g_mu, math.sqrt(g_sigma))
    elif variant == "not detached but -log sigma":         # math.log(sigma_t) makes a number of that term
        log_p_g = -0.5 * ((x - g_mu) / g_sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    elif variant in ("p_g unnormalised", "unnormalised"):  # -log sigma left out
        log_p_g = -0.5 * ((x - g_mu) / g_sigma) ** 2
    else:
        log_p_g = _log_normal(x, g_mu, g_sigma)
    if variant == "p_data variance":
        log_p_data = _log_normal(x, m, math.sqrt(s))
    elif variant == "unnormalised":
        log_p_data = -0.5 * ((x - m) / s) ** 2
    else:
        log_p_data = _log_normal(x, m, s)
    logit = log_p_data - log_p_g
    sat, ns = _logsigmoid(-logit).mean(), -_logsigmoid(logit).mean()
    (g_sat,) = torch.autograd.grad(sat, theta, retain_graph=True)
    (g_ns,) = torch.autograd.grad(ns, theta)
    return g_sat, g_ns


def _gradient_out(out, name: str, what: str) -> torch.Tensor:
    hints = {(): "this is one number; return the gradient with respect to (mu, sigma), shape (2,) "
                 "(did you return the loss itself?).",
             (2, 1): "return shape (2,).", (1, 2): "return shape (2,).",
             (2, 2): "return each gradient as its own (2,) tensor."}
    if out is None:
        fail(name, f"{what} is None: torch.autograd.grad (or .grad) gives None when the loss does not depend "
                   "on the tensor; make mu and sigma leaf tensors with requires_grad=True and compute x = mu + "
                   "sigma z from them.")
    if isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, _Tensor) for t in out):
        fail(name, f"{what} is a pair of tensors: torch.autograd.grad(loss, (mu, sigma)) returns one gradient per "
                   "input; stack them into one (2,) tensor, torch.stack([d_mu, d_sigma]).")
    if isinstance(out, _Tensor) and out.is_floating_point() and tuple(out.shape) == (2,) \
            and not bool(_isfinite(out).all()):
        return out   # judged by the caller, which knows where that happens
    return expect_tensor(out, name, what, (2,), hints)


_NO_GRAPH = ("does not require grad", "not have been used in the graph")


def _gradients_case(fn, name: str, mu: float, sigma: float, z: torch.Tensor, m: float, s: float):
    try:
        out = call(fn, name, (mu, sigma, z.clone(), m, s), reference=(_generator_gradients_at_optimum,
                                                                     _gradients_closed_form, _gradients_variant))
    except CheckFailed as err:
        if any(phrase in str(err) for phrase in _NO_GRAPH):
            raise CheckFailed(f"{err} The loss does not depend on the tensors you differentiate: was all of "
                              "D*(G(z)) detached, or x computed from the numbers mu and sigma? Hold the "
                              "discriminator fixed, not its input: x = mu + sigma z must be computed from "
                              "leaf tensors with requires_grad=True; only p_g inside D* uses the fixed "
                              "numbers.") from None
        raise
    sat, ns = expect_tuple(out, name, ["grad_saturating", "grad_non_saturating"])
    return (_gradient_out(sat, name, "the saturating loss's gradient"),
            _gradient_out(ns, name, "the non-saturating loss's gradient"))


def _pair(t: torch.Tensor) -> str:
    return f"({float(t[0]):+.3f}, {float(t[1]):+.3f})"


def check_generator_gradients_at_optimum(generator_gradients_at_optimum, seed: int = 0, n: int = 256,
                                         mu: float = 0.5, sigma: float = 0.8, data_mean: float = 2.0,
                                         data_std: float = 0.5) -> None:
    """Check ``generator_gradients_at_optimum(mu, sigma, z, data_mean, data_std) -> (grad_sat, grad_ns)``:
    the gradients with respect to (mu, sigma) of the Monte-Carlo generator losses mean log(1 - D*(G(z)))
    and -mean log D*(G(z)), G(z) = mu + sigma z, with D* = p_data / (p_data + p_g) the optimal
    discriminator of the generator at (mu, sigma), held fixed; (2,) tensors each. ``n`` float32 samples z
    drawn from ``seed``; then the same for a generator far from the data, where D* underflows in float32."""
    name = "generator_gradients_at_optimum"
    mu, sigma, m, s = float(mu), float(sigma), float(data_mean), float(data_std)
    z = torch.randn(n, generator=_gen(seed))
    sat_ok, ns_ok = _gradients_closed_form(mu, sigma, z, m, s)
    v = {k: _gradients_variant(mu, sigma, z, m, s, k)
         for k in ("not detached", "not detached but -log sigma", "p_g variance", "p_g unnormalised", "p_data variance", "unnormalised")}
    scale = float(torch.cat([sat_ok, ns_ok]).abs().max())
    tol = {"rtol": 1e-3, "atol": 1e-4 * scale + 1e-6}
    log_sigma = torch.tensor([1.0, sigma], dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)

    not_fixed = ("the discriminator is not held fixed: p_g inside D* was computed from the tensors you "
                 "differentiate, so the gradient also flows through D*'s dependence on (mu, sigma). D* is the "
                 "optimal discriminator of the current generator, a fixed function of x: build its p_g from the "
                 "numbers mu and sigma (or detached copies); only x = G(z) carries the gradient.")

    def mistakes(ok, other, swapped_logs, which):
        return [
            (zero, "the gradients are zero: the whole of D*(G(z)) was detached (or computed from numbers). "
                   "Hold the discriminator fixed, not its input: x = mu + sigma z must carry the gradient, "
                   "only p_g inside D* uses the fixed numbers mu and sigma."),
            (v["not detached"][which], not_fixed),
            (v["not detached but -log sigma"][which], not_fixed),
            (other, "the two gradients are in the wrong order: return (saturating, non-saturating)."),
            (swapped_logs, "log D* and log(1 - D*) are swapped (or D* is p_g / (p_data + p_g)): the saturating "
                           "loss is mean log(1 - D*(G(z))), the non-saturating one -mean log D*(G(z))."),
            (-ok, "the sign is flipped: the saturating loss is +mean log(1 - D*(G(z))) (the generator minimises "
                  "V), the non-saturating one -mean log D*(G(z))."),
            (n * ok, "you summed over the samples; the losses are means over z."),
            (ok * log_sigma, "the second entry is the gradient with respect to log sigma (sigma d/dsigma); "
                             "differentiate with respect to sigma itself."),
            (v["p_g variance"][which], "p_g's density treats sigma as the variance: p_g = N(mu, sigma^2), "
                                       "log p_g(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2."),
            (v["p_data variance"][which], "p_data's density treats data_std as the variance: p_data = "
                                          "N(data_mean, data_std^2)."),
            (v["p_g unnormalised"][which], "p_g's log-density lacks -log sigma: D* compares normalised densities, "
                                           "and the normalising constants do not cancel unless sigma = data_std."),
            (v["unnormalised"][which], "the log-densities lack their normalising terms -log sigma and "
                                       "-log data_std: D* compares normalised densities, and these do not cancel "
                                       "unless sigma = data_std."),
        ]

    sat, ns = _gradients_case(generator_gradients_at_optimum, name, mu, sigma, z, m, s)
    for out, what in ((sat, "the saturating loss's gradient"), (ns, "the non-saturating loss's gradient")):
        if not bool(_isfinite(out).all()):
            fail(name, f"{what} contains nan or inf for a generator at (mu, sigma) = ({mu}, {sigma}).")
    compare(sat, sat_ok, name, "the saturating loss's gradient", mistakes(sat_ok, ns_ok, -ns_ok, 0), **tol)
    compare(ns, ns_ok, name, "the non-saturating loss's gradient", mistakes(ns_ok, sat_ok, -sat_ok, 1), **tol)

    # far from the data: D*(G(z)) is about exp(16 z - 128), 0 in float32 for most z
    mu_far, sigma_far = m - 16 * s, s
    sat_far_ok, ns_far_ok = _gradients_closed_form(mu_far, sigma_far, z, m, s)
    sat_far, ns_far = _gradients_case(generator_gradients_at_optimum, name, mu_far, sigma_far, z, m, s)
    where = f"for a generator far from the data, (mu, sigma) = ({mu_far:g}, {sigma_far:g})"
    if not (bool(_isfinite(sat_far).all()) and bool(_isfinite(ns_far).all())):
        fail(name, f"the gradients contain nan or inf {where}: D*(G(z)) underflows to 0 in float32 there, and "
                   "log D* = log 0 = -inf. Compute the logs from D*'s logit l = log p_data(x) - log p_g(x): "
                   "log D* = F.logsigmoid(l), log(1 - D*) = F.logsigmoid(-l), which stay exact.")
    far_tol = {"rtol": 1e-3, "atol": 1e-4 * float(torch.cat([sat_far_ok, ns_far_ok]).abs().max())}
    if not (close(sat_far, sat_far_ok, **far_tol) and close(ns_far, ns_far_ok, **far_tol)):
        fail(name, f"the gradients are right near the data but wrong {where}: got {_pair(sat_far)} and "
                   f"{_pair(ns_far)}, expected {_pair(sat_far_ok)} and {_pair(ns_far_ok)}. There D*(G(z)) "
                   "underflows to 0 in float32 (a clamp or an epsilon then replaces log D* by a constant, whose "
                   "gradient is 0). Compute log D* = F.logsigmoid(l) and log(1 - D*) = F.logsigmoid(-l) from "
                   "D*'s logit l = log p_data(x) - log p_g(x).")
    tiny = 10 ** math.ceil(math.log10(float(sat_far_ok.abs().max()) + 1e-300))
    passed(name, f"both gradients match on {n} samples at (mu, sigma) = ({mu:g}, {sigma:g}); far from the data, "
                 f"at ({mu_far:g}, {sigma_far:g}), the saturating one vanishes (< {tiny:.0e}), the "
                 f"non-saturating one is {_pair(ns_far_ok)}.")


# --- 6. one iteration of Algorithm 1 ----------------------------------------------------------------

def _tiny_models(seed: int, latent_dim: int, dim: int) -> tuple[nn.Module, nn.Module]:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        generator = nn.Sequential(nn.Linear(latent_dim, 8), nn.ReLU(), nn.Linear(8, dim))
        discriminator = nn.Sequential(nn.Linear(dim, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    return generator, discriminator


def _params(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor], rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))


def _optimizer(kind: str, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer the answer gets: torch's SGD, or Adam with betas (0.5, 0.999)."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


class _Steps:
    """The reference iterations' optimizer: SGD, or Adam with betas (0.5, 0.999), written out as torch
    computes them on the CPU (the first torch.optim optimizer of a process imports torch._dynamo, which
    takes seconds; the grader then needs none)."""

    def __init__(self, kind: str, params, lr: float, betas=(0.5, 0.999), eps: float = 1e-8):
        self.kind, self.params, self.lr, self.betas, self.eps = kind, list(params), lr, betas, eps
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            if self.kind == "sgd":
                p.add_(p.grad, alpha=-self.lr)
                continue
            m.lerp_(p.grad, 1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v.sqrt() / (1 - b2 ** self.t) ** 0.5).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / (1 - b1 ** self.t))


def _set_grads(model: nn.Module, grads: list[torch.Tensor]) -> None:
    for p, g in zip(model.parameters(), grads):
        p.grad = g.clone()


def _reference_iteration(G0, D0, stale_g, stale_d, x, z_d, z_g, kind, lr, variant=""):
    """One Algorithm 1 iteration (k = 1) written out, or one of its usual wrong variants."""
    G, D = copy.deepcopy(G0), copy.deepcopy(D0)
    _set_grads(G, stale_g)
    _set_grads(D, stale_d)
    g_opt, d_opt = _Steps(kind, G.parameters(), lr), _Steps(kind, D.parameters(), lr)

    def g_step():
        z = z_d if variant == "same z" else z_g
        logits = D(G(z)).reshape(-1)
        loss = _logsigmoid(-logits).mean() if variant == "saturating" else -_logsigmoid(logits).mean()
        if variant != "no zero_grad g":
            g_opt.zero_grad()
        loss.backward()
        g_opt.step()
        return loss.item()

    def d_step():
        with torch.no_grad():
            fake = G(z_d)
        real_logits, fake_logits = D(x).reshape(-1), D(fake).reshape(-1)
        loss = -_logsigmoid(real_logits).mean() - _logsigmoid(-fake_logits).mean()
        d_opt.zero_grad()
        loss.backward()
        d_opt.step()
        return loss.item()

    if variant == "g first":
        g_loss = g_step()
        d_loss = d_step()
    else:
        d_loss = d_step()
        g_loss = g_step()
    return {"d_loss": d_loss, "g_loss": g_loss, "G": _params(G), "D": _params(D)}


def _watched_iteration(gan_training_iteration, G, D, stale_g, stale_d, kind, lr, x, z_d, z_g):
    """Probe function (run where the answer lives): gives G and D the gradients ``stale_g``/``stale_d``
    left over from a previous iteration (gradients do not travel with a model), makes their optimizers
    and runs the answer's iteration, with correct losses of exercises 1 and 2 in the notebook's namespace (a
    mistake there does not cost this exercise too) and the optimizers' steps recorded. Returns (what the
    answer returned, events): ["d", G's parameters, G's gradients] when d_opt.step() starts, ["d done",
    D's parameters] when it ends, ["g", D's parameters] when g_opt.step() starts, in the order they
    happened. Plain data only: the check judges it."""
    _set_grads(G, stale_g)
    _set_grads(D, stale_d)
    g_opt, d_opt = _optimizer(kind, G.parameters(), lr), _optimizer(kind, D.parameters(), lr)
    events: list = []
    d_step, g_step = d_opt.step, g_opt.step

    def watched_d_step(*args, **kwargs):
        g_grads = [None if p.grad is None else p.grad.detach().clone() for p in G.parameters()]
        events.append(["d", _params(G), g_grads])
        result = d_step(*args, **kwargs)
        events.append(["d done", _params(D)])
        return result

    def watched_g_step(*args, **kwargs):
        events.append(["g", _params(D)])
        return g_step(*args, **kwargs)

    # the losses (exercises 1 and 2, and the saturating one), correct, for the iteration to use
    def discriminator_loss(real_logits, fake_logits):
        return _softplus(-real_logits).mean() + _softplus(fake_logits).mean()

    def generator_loss_saturating(fake_logits):
        return -_softplus(fake_logits).mean()

    def generator_loss_nonsaturating(fake_logits):
        return _softplus(-fake_logits).mean()

    d_opt.step, g_opt.step = watched_d_step, watched_g_step
    with _substitute_names(gan_training_iteration, discriminator_loss=discriminator_loss,
                           generator_loss_saturating=generator_loss_saturating,
                           generator_loss_nonsaturating=generator_loss_nonsaturating):
        return gan_training_iteration(G, D, g_opt, d_opt, x, z_d, z_g), events


def check_gan_training_iteration(gan_training_iteration, seed: int = 0, batch: int = 16, latent_dim: int = 2,
                                 dim: int = 2, optimizer: str = "sgd", lr: float = 0.1) -> None:
    """Check ``gan_training_iteration(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g)
    -> (d_loss, g_loss)``: one iteration of Algorithm 1 with k = 1.

    The discriminator step (on x and G(z_d)) must leave the generator unchanged and compute no gradient
    for it; the generator step (non-saturating loss on D(G(z_g)), with the updated D) must leave the
    discriminator unchanged; each optimizer steps once, D first; gradients left over from a previous
    iteration must be zeroed; the final parameters of both players and the two losses must match an
    explicit reference iteration for these inputs (``optimizer``: "sgd" or "adam")."""
    name = "gan_training_iteration"
    g = _gen(seed)
    G0, D0 = _tiny_models(seed, latent_dim, dim)
    x = 0.5 * torch.randn(batch, dim, generator=g) + 1.5
    z_d, z_g = torch.randn(batch, latent_dim, generator=g), torch.randn(batch, latent_dim, generator=g)
    # gradients left over from a previous iteration: an answer that does not zero them goes wrong
    stale_g = [torch.randn(p.shape, generator=g) for p in G0.parameters()]
    stale_d = [torch.randn(p.shape, generator=g) for p in D0.parameters()]
    ref = _reference_iteration(G0, D0, stale_g, stale_d, x, z_d, z_g, optimizer, lr)
    variants = {v: _reference_iteration(G0, D0, stale_g, stale_d, x, z_d, z_g, optimizer, lr, v)
                for v in ("no zero_grad g", "saturating", "same z")}
    # the state after the D step only, for the D step's own checks
    D_after_d = _reference_after_d_step(G0, D0, stale_d, x, z_d, optimizer, lr)

    G, D = copy.deepcopy(G0), copy.deepcopy(D0)
    G_init = _params(G0)
    # the optimizers are made and their steps watched where the answer runs (in the grader's sandbox, on
    # its copies of the players, whose state after the call comes back into G and D here)
    out, events = probe(gan_training_iteration, name, _watched_iteration,
                        (G, D, stale_g, stale_d, optimizer, lr, x.clone(), z_d.clone(), z_g.clone()),
                        reference=(_discriminator_step, _generator_step, _train_gan,
                                   _reference_iteration, _reference_after_d_step))
    d_loss, g_loss = expect_tuple(out, name, ["d_loss", "g_loss"])
    d_loss, g_loss = expect_number(d_loss, name, "d_loss"), expect_number(g_loss, name, "g_loss")

    kinds = [e[0] for e in events if e[0] in ("d", "g")]
    if kinds.count("d") != 1:
        fail(name, "the discriminator's optimizer never stepped: call d_optimizer.step() after d_loss.backward()."
             if not kinds.count("d") else
             f"d_optimizer.step() was called {kinds.count('d')} times; one iteration with k = 1 takes one "
             "discriminator step.")
    if kinds.count("g") != 1:
        fail(name, "the generator's optimizer never stepped: call g_optimizer.step() after g_loss.backward()."
             if not kinds.count("g") else
             f"g_optimizer.step() was called {kinds.count('g')} times; one iteration takes one generator step.")
    if kinds != ["d", "g"]:
        fail(name, "the generator stepped before the discriminator: Algorithm 1 first updates D (k steps), then G.")
    d_event = next(e for e in events if e[0] == "d")
    if not _same(d_event[1], G_init, rtol=0, atol=0):
        fail(name, "the generator's parameters changed before the discriminator's step: the D step must leave "
                   "G unchanged.")
    stale_or_zero = all(gr is None or close(gr, st) or not bool(gr.abs().sum() > 0)
                        for gr, st in zip(d_event[2], stale_g))
    if not stale_or_zero:
        fail(name, "the discriminator step computed gradients for the generator: the fake examples were not "
                   "detached. Generate them under torch.no_grad() (or use G(z_d).detach()) in the D step, "
                   "so that d_loss.backward() reaches only the discriminator.")
    D_after = next(e for e in events if e[0] == "d done")[1]
    if not _same(D_after, D_after_d["ok"]):
        why = ""
        if _same(D_after, D_after_d["no zero_grad"]):
            why = (" the gradients left over from the previous iteration were not zeroed: call "
                   "d_optimizer.zero_grad() before d_loss.backward().")
        elif _same(D_after, D_after_d["d ascends"]):
            why = (" it moved the wrong way: minimise the discriminator loss -V (it is already the negative "
                   "of the value), i.e. backpropagate d_loss itself.")
        fail(name, "after the discriminator step, D's parameters differ from one step of the optimizer on "
                   "discriminator_loss(D(x), D(G(z_d)))." + (why or " Use the real batch x and the noise z_d in "
                                                              "the D step, and your discriminator_loss (exercise 1)."))
    final_D = _params(D)
    if not _same(final_D, D_after):
        fail(name, "the discriminator changed during the generator step: only g_optimizer may step there "
                   "(d_optimizer.step() is called once, in the D step).")
    g_event = next(e for e in events if e[0] == "g")
    if not _same(g_event[1], D_after, rtol=0, atol=0):
        fail(name, "the discriminator changed between its step and the generator's step.")
    final_G = _params(G)
    g_ok = _same(final_G, ref["G"]) and math.isclose(g_loss, ref["g_loss"], rel_tol=1e-4, abs_tol=1e-5)
    if not g_ok:
        hints = {"no zero_grad g": "the generator's old gradients were not zeroed: call g_optimizer.zero_grad() "
                                   "before g_loss.backward().",
                 "saturating": "you used the saturating loss log(1 - D(G(z))); use the non-saturating "
                               "-log D(G(z)) (your generator_loss_nonsaturating of exercise 2).",
                 "same z": "the generator step reused z_d; Algorithm 1 samples fresh noise for it: use z_g."}
        for variant, hint in hints.items():
            if (_same(final_G, variants[variant]["G"])
                    and math.isclose(g_loss, variants[variant]["g_loss"], rel_tol=1e-4, abs_tol=1e-5)):
                fail(name, "the generator step is wrong: " + hint)
    if not _same(final_G, ref["G"]):
        fail(name, "after the generator step, G's parameters differ from one optimizer step on the "
                   "non-saturating loss -log D(G(z_g)), computed with the updated D and averaged over the batch.")
    if not math.isclose(d_loss, ref["d_loss"], rel_tol=1e-4, abs_tol=1e-5):
        why = ("d_loss and g_loss are swapped: return (d_loss, g_loss)."
               if math.isclose(d_loss, ref["g_loss"], rel_tol=1e-4, abs_tol=1e-5) else
               "return the discriminator loss computed in the D step (before its update).")
        fail(name, f"d_loss is {d_loss:.5f}, expected {ref['d_loss']:.5f}: " + why)
    if not math.isclose(g_loss, ref["g_loss"], rel_tol=1e-4, abs_tol=1e-5):
        fail(name, f"g_loss is {g_loss:.5f}, expected {ref['g_loss']:.5f}: return the generator loss computed "
                   "in the G step (with the updated discriminator, before G's update).")
    passed(name, f"one D step then one G step ({optimizer}); each leaves the other player unchanged, and the "
                 "parameters and losses match the reference.")


def _reference_after_d_step(G0, D0, stale_d, x, z_d, kind, lr) -> dict[str, list[torch.Tensor]]:
    """D's parameters after the reference D step, and after its wrong variants."""
    out = {}
    for variant in ("ok", "no zero_grad", "d ascends"):
        D = copy.deepcopy(D0)
        _set_grads(D, stale_d)
        opt = _Steps(kind, D.parameters(), lr)
        with torch.no_grad():
            fake = G0(z_d)
        loss = -_logsigmoid(D(x).reshape(-1)).mean() - _logsigmoid(-D(fake).reshape(-1)).mean()
        if variant != "no zero_grad":
            opt.zero_grad()
        (-loss if variant == "d ascends" else loss).backward()
        opt.step()
        out[variant] = _params(D)
    return out
