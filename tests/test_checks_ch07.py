"""The chapter 7 checks: correct answers written differently pass; the wrong answers students write fail
with the check's explanation (alpha for alpha_bar, missing square roots, beta_t for the posterior variance,
t off by one, noise at the last step, flipped signs, no clip, no offset s, ...)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genedu import diffusion
from genedu.checks._core import CheckFailed
from genedu.checks.ch07 import (check_cosine_beta_schedule, check_ddim_sample, check_ddpm_sample,
                                check_diffusion_loss, check_q_sample, check_reverse_step)

# --- correct answers, written in different ways ------------------------------------------------------------


def cos_ref(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    ab = f / f[0]
    return torch.clamp(1 - ab[1:] / ab[:-1], max=0.999)


def cos_numpy(T, s=0.008):
    steps = np.linspace(0, T, T + 1)
    abar = np.cos(((steps / T) + s) / (1 + s) * np.pi * 0.5) ** 2
    abar = abar / abar[0]
    return torch.from_numpy(np.clip(1 - abar[1:] / abar[:-1], 0, 0.999))


def cos_float32(T, s=0.008):
    t = torch.arange(T + 1) / T
    f = torch.cos((t + s) / (1 + s) * torch.pi / 2).pow(2)
    return (1 - f[1:] / f[:-1]).clamp(max=0.999)


def qs_ref(x0, t, noise, schedule):
    ab = diffusion.extract(schedule.alphas_cumprod, t, x0)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def qs_view(x0, t, noise, schedule):
    a = schedule.sqrt_alphas_cumprod[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    b = schedule.sqrt_one_minus_alphas_cumprod[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return a * x0 + b * noise


def loss_ref(eps_model, x0, schedule, generator=None):
    t = torch.randint(schedule.T, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    return ((eps - eps_model(qs_ref(x0, t, eps, schedule), t)) ** 2).mean()


def loss_mse(eps_model, x0, schedule, generator=None):  # noise first, own q_sample, F.mse_loss
    noise = torch.randn(x0.shape, generator=generator)
    t = torch.randint(0, schedule.T, size=(x0.shape[0],), generator=generator)
    x_t = qs_view(x0, t, noise, schedule)
    return F.mse_loss(eps_model(x_t, t), noise)


def loss_squared_norm(eps_model, x0, schedule, generator=None):  # the formula: ||eps - eps_theta||^2, batch mean
    t = torch.randint(schedule.T, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    residual = eps - eps_model(qs_ref(x0, t, eps, schedule), t)
    return torch.linalg.vector_norm(residual.flatten(1), dim=1).pow(2).mean()


def step_ref(eps_model, x_t, t, schedule, z):
    eps = eps_model(x_t, torch.full((len(x_t),), t, dtype=torch.long))
    b, a, ab = schedule.betas[t].item(), schedule.alphas[t].item(), schedule.alphas_cumprod[t].item()
    mean = (x_t - b / math.sqrt(1 - ab) * eps) / math.sqrt(a)
    return mean if t == 0 else mean + math.sqrt(b) * z


def step_posterior_form(eps_model, x_t, t, schedule, z):
    """The same mean written as the posterior mean at the predicted x_0 (Ho et al., eq. 7 + eq. 15)."""
    tt = torch.full((len(x_t),), t, dtype=torch.long)
    eps = eps_model(x_t, tt)
    x0_hat = (x_t - schedule.sqrt_one_minus_alphas_cumprod[t] * eps) / schedule.sqrt_alphas_cumprod[t]
    mean = schedule.posterior_mean_coef1[t] * x0_hat + schedule.posterior_mean_coef2[t] * x_t
    sigma = schedule.betas[t].sqrt() * (t > 0)
    return mean + sigma * z


def ddpm_ref(eps_model, n, dim, schedule, generator=None):
    with torch.no_grad():
        x = torch.randn(n, dim, generator=generator)
        for t in reversed(range(schedule.T)):
            x = step_ref(eps_model, x, t, schedule, torch.randn(n, dim, generator=generator))
        return x


def ddpm_own(eps_model, n, dim, schedule, generator=None):  # own step, a while loop, no z drawn at t = 0
    x = torch.randn((n, dim), generator=generator)
    t = schedule.T - 1
    while t >= 0:
        eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
        x = (x - schedule.betas[t] / schedule.sqrt_one_minus_alphas_cumprod[t] * eps) / schedule.alphas[t].sqrt()
        if t > 0:
            x = x + schedule.betas[t].sqrt() * torch.randn((n, dim), generator=generator)
        t -= 1
    return x.float()


def ddim_ref(eps_model, n, dim, schedule, steps, generator=None):
    with torch.no_grad():
        taus = diffusion.ddim_timesteps(schedule.T, steps).tolist()
        x = torch.randn(n, dim, generator=generator)
        for i in reversed(range(len(taus))):
            a_t = schedule.alphas_cumprod[taus[i]].item()
            a_prev = schedule.alphas_cumprod[taus[i - 1]].item() if i > 0 else 1.0
            eps = eps_model(x, torch.full((n,), taus[i], dtype=torch.long))
            x0_hat = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_prev) * x0_hat + math.sqrt(1 - a_prev) * eps
        return x


def ddim_pairs(eps_model, n, dim, schedule, steps, generator=None):  # zip over (t, t_prev) pairs, float64 inside
    taus = diffusion.ddim_timesteps(schedule.T, steps).flip(0).tolist()
    prevs = taus[1:] + [None]
    x = torch.randn(n, dim, generator=generator).double()
    for t, tp in zip(taus, prevs):
        ab = schedule.alphas_cumprod[t]
        abp = schedule.alphas_cumprod[tp] if tp is not None else torch.tensor(1.0, dtype=torch.float64)
        eps = eps_model(x.float(), torch.full((n,), t)).double()
        x = abp.sqrt() * (x - (1 - ab).sqrt() * eps) / ab.sqrt() + (1 - abp).sqrt() * eps
    return x.float()


CORRECT = [
    (check_cosine_beta_schedule, cos_ref), (check_cosine_beta_schedule, cos_numpy),
    (check_cosine_beta_schedule, cos_float32),
    (check_q_sample, qs_ref), (check_q_sample, qs_view),
    (check_diffusion_loss, loss_ref), (check_diffusion_loss, loss_mse),
    (check_diffusion_loss, loss_squared_norm),
    (check_reverse_step, step_ref), (check_reverse_step, step_posterior_form),
    (check_ddpm_sample, ddpm_ref), (check_ddpm_sample, ddpm_own),
    (check_ddim_sample, ddim_ref), (check_ddim_sample, ddim_pairs),
]


@pytest.mark.parametrize("check, answer", CORRECT, ids=[f"{c.__name__}-{a.__name__}" for c, a in CORRECT])
def test_correct_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith("[passed]")


def test_hidden_test_arguments_pass(capsys):
    """The hidden tests of the notebook, with the other ways of writing the answers."""
    check_cosine_beta_schedule(cos_numpy, T=50, s=0.008)
    check_cosine_beta_schedule(cos_float32, T=300, s=0.02)
    check_q_sample(qs_view, seed=201, batch=5, shape=(1, 4, 4), T=100, kind="cosine")
    check_q_sample(qs_ref, seed=202, batch=64, shape=(3,), T=1000, kind="cosine")
    check_diffusion_loss(loss_mse, seed=301, batch=5000, dim=3, T=1000, kind="linear")
    check_diffusion_loss(loss_ref, seed=302, batch=4000, dim=1, T=50)
    check_diffusion_loss(loss_squared_norm, seed=301, batch=5000, dim=3, T=1000, kind="linear")
    check_reverse_step(step_posterior_form, seed=401, batch=3, dim=5, T=200, kind="cosine")
    check_reverse_step(step_ref, seed=402, batch=16, dim=1, T=1000, kind="linear")
    check_ddpm_sample(ddpm_own, seed=501, n=6000, dim=3, T=100, kind="cosine")
    check_ddpm_sample(ddpm_ref, seed=502, n=6000, dim=1, T=300, kind="linear")
    check_ddim_sample(ddim_pairs, seed=601, n=5000, dim=3, T=200, steps=10, kind="cosine")
    check_ddim_sample(ddim_ref, seed=602, n=5000, dim=1, T=1000, steps=50)
    assert capsys.readouterr().out.count("[passed]") == 13


# --- the cosine schedule -------------------------------------------------------------------------------------

def _cos(s_used=None, clip=0.999, square=True, out="betas", n_points=1):
    def answer(T, s=0.008):
        ss = s if s_used is None else s_used
        t = torch.arange(T + n_points, dtype=torch.float64)
        f = torch.cos((t / T + ss) / (1 + ss) * math.pi / 2)
        f = f**2 if square else f
        ab = f / f[0]
        if out == "abar":
            return ab[1:]
        if out == "one_minus_abar":
            return 1 - ab[1:]
        betas = 1 - ab[1:] / ab[:-1]
        betas = betas.clamp(max=clip) if clip else betas
        return 1 - betas if out == "alphas" else betas
    return answer


COS_WRONG = [
    (_cos(clip=None), "clip the betas at 0.999"),
    (_cos(s_used=0.0), "offset s is missing"),
    (_cos(square=False), "*square* of the cosine"),
    (_cos(out="abar"), "these are alpha_bar_t"),
    (_cos(out="one_minus_abar"), "these are 1 - alpha_bar_t"),
    (_cos(out="alphas"), "these are the alphas"),
    (_cos(n_points=0), "T - 1 values"),
    (lambda T, s=0.008: cos_ref(T + 1, s), "T + 1 values"),
    (lambda T, s=0.08: cos_ref(T, s), "default of s should be 0.008"),
    (lambda T, s=0.008: cos_ref(T, s).tolist(), "should be a torch.Tensor"),
]


@pytest.mark.parametrize("answer, message", COS_WRONG, ids=[m for _, m in COS_WRONG])
def test_cosine_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_cosine_beta_schedule(answer)


# --- q_sample -------------------------------------------------------------------------------------------------

def _qs(coef):
    def answer(x0, t, noise, schedule):
        a, b = coef(schedule, t)
        shape = (-1, *([1] * (x0.dim() - 1)))
        return a.to(x0.dtype).reshape(shape) * x0 + b.to(x0.dtype).reshape(shape) * noise
    return answer


QS_WRONG = [
    (_qs(lambda s, t: (s.alphas[t].sqrt(), (1 - s.alphas[t]).sqrt())), "cumulative product"),
    (_qs(lambda s, t: (s.alphas_cumprod[t], 1 - s.alphas_cumprod[t])), "square roots are missing"),
    (_qs(lambda s, t: (s.alphas_cumprod[t].sqrt(), 1 - s.alphas_cumprod[t])), "noise's coefficient is sqrt(1 - alpha_bar_t)"),
    (_qs(lambda s, t: ((1 - s.alphas_cumprod[t]).sqrt(), s.alphas_cumprod[t].sqrt())), "coefficients are swapped"),
    (_qs(lambda s, t: (s.alphas_cumprod[(t - 1).clamp(min=0)].sqrt(), (1 - s.alphas_cumprod[(t - 1).clamp(min=0)]).sqrt())),
     "off by one"),
    (_qs(lambda s, t: (s.alphas_cumprod[t].sqrt(), 0 * s.alphas_cumprod[t])), "noise is missing"),
    (lambda x0, t, noise, s: s.sqrt_alphas_cumprod[t][:, None] * x0 + s.sqrt_one_minus_alphas_cumprod[t][:, None] * noise,
     "dtype"),
    (lambda x0, t, noise, s: s.alphas_cumprod[t].float().sqrt() * x0 + (1 - s.alphas_cumprod[t].float()).sqrt() * noise,
     "raised RuntimeError"),
]


@pytest.mark.parametrize("answer, message", QS_WRONG, ids=[m for _, m in QS_WRONG])
def test_q_sample_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_q_sample(answer)


def test_q_sample_broadcast_on_the_wrong_axis_is_named():
    """(B,) coefficients times x0 (B, B): a shape that runs, with a wrong answer."""
    def answer(x0, t, noise, s):
        return s.alphas_cumprod[t].float().sqrt() * x0 + (1 - s.alphas_cumprod[t].float()).sqrt() * noise
    with pytest.raises(CheckFailed, match="differs|broadcast|wrong"):
        check_q_sample(answer, batch=4, shape=(4,))


# --- the loss ---------------------------------------------------------------------------------------------------

def _loss(t_fn=None, make_xt=None, reduce=None, target="eps", fresh_target=False):
    def answer(eps_model, x0, schedule, generator=None):
        t = t_fn(schedule, len(x0), generator) if t_fn else torch.randint(schedule.T, (len(x0),), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        x_t = make_xt(schedule, x0, t, eps) if make_xt else qs_ref(x0, t, eps, schedule)
        pred = eps_model(x_t, t)
        goal = {"eps": eps, "x0": x0}[target]
        if fresh_target:
            goal = torch.randn(x0.shape, generator=generator)
        err = (goal - pred) ** 2
        return reduce(err, goal, pred) if reduce else err.mean()
    return answer


LOSS_WRONG = [
    (_loss(reduce=lambda e, g, p: e.sum()), "summed the squared errors over the batch too"),
    (_loss(target="x0"), "target is the noise eps, not x0"),
    (_loss(target="x0", reduce=lambda e, g, p: e.sum(1).mean()), "target is the noise eps, not x0"),
    (_loss(reduce=lambda e, g, p: (g - p).abs().mean()), "the *squared* error"),
    (_loss(reduce=lambda e, g, p: (g + p).pow(2).sum(1).mean()), "sign is flipped"),
    (_loss(reduce=lambda e, g, p: e.mean(1)), "one loss per example"),
    (_loss(reduce=lambda e, g, p: e.mean().detach()), "carries no gradient"),
    (_loss(reduce=lambda e, g, p: e.mean().item()), "should be a torch.Tensor"),
    (_loss(fresh_target=True), "does not compare the prediction with the noise used"),
    (_loss(t_fn=lambda s, b, g: torch.randint(1, s.T + 1, (b,), generator=g),
           make_xt=lambda s, x0, t, e: qs_ref(x0, (t - 1), e, s)), "indices 0..T-1"),
    (_loss(t_fn=lambda s, b, g: torch.randint(s.T, (1,), generator=g).expand(b)), "same t"),
    (_loss(t_fn=lambda s, b, g: torch.randint(s.T // 2, (b,), generator=g)), "should be uniform"),
    (_loss(t_fn=lambda s, b, g: torch.rand(b, generator=g) * s.T, make_xt=lambda s, x0, t, e: qs_ref(x0, t.long(), e, s)),
     "draw integer timesteps"),
    (_loss(make_xt=lambda s, x0, t, e: s.alphas[t].float().sqrt()[:, None] * x0 + (1 - s.alphas[t].float()).sqrt()[:, None] * e),
     "made with alpha_t"),
    (_loss(make_xt=lambda s, x0, t, e: s.alphas_cumprod[t].float()[:, None] * x0 + (1 - s.alphas_cumprod[t].float())[:, None] * e),
     "without the square roots"),
]


@pytest.mark.parametrize("answer, message", LOSS_WRONG, ids=[m for _, m in LOSS_WRONG])
def test_loss_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_diffusion_loss(answer)


def test_loss_unseeded_and_called_twice():
    def unseeded(eps_model, x0, schedule, generator=None):
        return loss_ref(eps_model, x0, schedule)
    with pytest.raises(CheckFailed, match="identically seeded"):
        check_diffusion_loss(unseeded)

    def twice(eps_model, x0, schedule, generator=None):
        half = len(x0) // 2
        return (loss_ref(eps_model, x0[:half], schedule, generator) + loss_ref(eps_model, x0[half:], schedule, generator)) / 2
    with pytest.raises(CheckFailed, match="called 2 times"):
        check_diffusion_loss(twice)


# --- one reverse step ----------------------------------------------------------------------------------------------

def _step(noise_at_zero=False, var="beta", sigma_sqrt=True, root="alpha", coef_sqrt=True, coef_abar=True, sign=-1,
          offset=0, t_arg=None):
    def answer(eps_model, x_t, t, schedule, z):
        i = t + offset
        tt = torch.full((len(x_t),), t if t_arg is None else t_arg(t), dtype=torch.long)
        eps = eps_model(x_t, tt)
        b, a, ab = schedule.betas[i].item(), schedule.alphas[i].item(), schedule.alphas_cumprod[i].item()
        c = b / ((1 - ab) if not coef_sqrt else math.sqrt(1 - (ab if coef_abar else a)))
        mean = (x_t + sign * c * eps) / math.sqrt(a if root == "alpha" else ab)
        v = b if var == "beta" else schedule.posterior_variance[i].item()
        sigma = math.sqrt(v) if sigma_sqrt else v
        if i == 0 and not noise_at_zero:
            return mean
        return mean + sigma * z
    return answer


STEP_WRONG = [
    (_step(noise_at_zero=True), "no noise is added at the last step"),
    (_step(var="posterior", noise_at_zero=True), "posterior variance beta_tilde_t"),
    (_step(sigma_sqrt=False), "square root of beta_t"),
    (_step(root="abar"), "divide by sqrt(alpha_t), not sqrt(alpha_bar_t)"),
    (_step(coef_sqrt=False), "the square root is missing"),
    (_step(coef_abar=False), "with alpha_bar_t, not alpha_t"),
    (_step(sign=+1), "sign is flipped"),
    (_step(offset=-1), "off by one"),
    (_step(t_arg=lambda t: max(t - 1, 0)), "call it with t itself"),
    (lambda m, x, t, s, z: step_ref(lambda a, b: m(a, int(b[0])), x, t, s, z), "int64 tensor"),
]


@pytest.mark.parametrize("answer, message", STEP_WRONG, ids=[m for _, m in STEP_WRONG])
def test_reverse_step_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_reverse_step(answer)


# --- the samplers ---------------------------------------------------------------------------------------------------

def _ddpm(order="reverse", start="randn", noise=True, seeded=True):
    def answer(eps_model, n, dim, schedule, generator=None):
        g = generator if seeded else None
        with torch.no_grad():
            x = torch.randn(n, dim, generator=g) if start == "randn" else torch.zeros(n, dim)
            ts = reversed(range(schedule.T)) if order == "reverse" else range(schedule.T)
            for t in ts:
                z = torch.randn(n, dim, generator=g) if noise else torch.zeros(n, dim)
                x = step_ref(eps_model, x, t, schedule, z)
            return x
    return answer


DDPM_WRONG = [
    (_ddpm(order="forward"), "runs forward in time"),
    (_ddpm(noise=False), "no noise is added"),
    (_ddpm(seeded=False), "identically seeded"),
    (lambda m, n, d, s, generator=None: ddpm_ref(m, n, d, s, generator).T, "(dim, n)"),
]


@pytest.mark.parametrize("answer, message", DDPM_WRONG, ids=[m for _, m in DDPM_WRONG])
def test_ddpm_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_ddpm_sample(answer, n=4000, T=100)


def test_ddpm_same_z_every_step_fails():
    def answer(eps_model, n, dim, schedule, generator=None):
        x = torch.randn(n, dim, generator=generator)
        z = torch.randn(n, dim, generator=generator)
        for t in reversed(range(schedule.T)):
            x = step_ref(eps_model, x, t, schedule, z)
        return x
    with pytest.raises(CheckFailed, match="covariance"):
        check_ddpm_sample(answer, n=4000, T=100)


def _ddim(last=True, arr="alphas_cumprod", eta_noise=False, xT=None):
    def answer(eps_model, n, dim, schedule, steps, generator=None):
        a_arr = getattr(schedule, arr)
        taus = diffusion.ddim_timesteps(schedule.T, steps).tolist()
        x = torch.randn(n, dim, generator=generator) if xT is None else xT(n, dim, generator)
        for i in reversed(range(len(taus))):
            if i == 0 and not last:
                eps_model(x, torch.full((n,), taus[i], dtype=torch.long))
                break
            a_t = a_arr[taus[i]].item()
            a_prev = a_arr[taus[i - 1]].item() if i > 0 else 1.0
            eps = eps_model(x, torch.full((n,), taus[i], dtype=torch.long))
            x0_hat = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_prev) * x0_hat + math.sqrt(1 - a_prev) * eps
            if eta_noise and i > 0:
                x = x + 0.3 * math.sqrt(1 - a_prev) * torch.randn(n, dim, generator=generator)
        return x
    return answer


DDIM_WRONG = [
    (_ddim(arr="alphas"), "not alphas"),
    (_ddim(xT=lambda n, d, g: torch.randn(d, n, generator=g).T.contiguous()), "right distribution but not the values"),
    (lambda m, n, d, s, steps, generator=None: ddim_ref(m, n, d, s, steps + 1, generator), "evaluated 21 times"),
]


@pytest.mark.parametrize("answer, message", DDIM_WRONG, ids=[m for _, m in DDIM_WRONG])
def test_ddim_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_ddim_sample(answer)


def test_ddim_with_noise_fails():
    with pytest.raises(CheckFailed):
        check_ddim_sample(_ddim(eta_noise=True))


# --- the grader's generic perturbation (outputs * 1.1 + 0.1) fails every check ---------------------------------

def _perturbed(fn):
    from test_grader import BREAK_ANSWER

    namespace = {"answer": fn}
    exec(BREAK_ANSWER.format(name="answer"), namespace)
    return namespace["answer"]


@pytest.mark.parametrize("check, answer", [(check_cosine_beta_schedule, cos_ref), (check_q_sample, qs_ref),
                                           (check_diffusion_loss, loss_ref), (check_reverse_step, step_ref),
                                           (check_ddpm_sample, ddpm_ref), (check_ddim_sample, ddim_ref)])
def test_perturbed_answers_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(_perturbed(answer))


# --- the reference guard -----------------------------------------------------------------------------------------

REFERENCE_ANSWERS = [
    (check_cosine_beta_schedule, diffusion.cosine_beta_schedule),
    (check_cosine_beta_schedule, lambda T, s=0.008: diffusion.cosine_beta_schedule(T, s)),
    (check_q_sample, diffusion.q_sample),
    (check_q_sample, lambda x0, t, noise, s: diffusion.q_sample(x0, t, noise, s)),
    (check_diffusion_loss, diffusion.diffusion_loss),
    (check_diffusion_loss, lambda m, x0, s, generator=None: diffusion.diffusion_loss(m, x0, s, generator)),
    (check_reverse_step, diffusion.p_sample_step),
    (check_reverse_step, lambda m, x, t, s, z: diffusion.p_mean_variance(m, x, t, s)[0] + (t > 0) * s.betas[t].sqrt() * z),
    (check_ddpm_sample, lambda m, n, d, s, generator=None: diffusion.ddpm_sample(m, (n, d), s, generator, progress=False)),
    (check_ddim_sample, lambda m, n, d, s, steps, generator=None: diffusion.ddim_sample(m, (n, d), s, steps,
                                                                                        generator=generator, progress=False)),
    (check_ddpm_sample, lambda m, n, d, s, generator=None: diffusion.ddpm_trajectory(m, (n, d), s, generator,
                                                                                   progress=False, frames=1).x0),
    (check_ddim_sample, lambda m, n, d, s, steps, generator=None: diffusion.ddim_trajectory(
        m, (n, d), s, steps, generator=generator, progress=False, frames=1).x0),
    # another exercise's reference: the grader's sandbox does not provide it either
    (check_diffusion_loss, lambda m, x0, s, generator=None: _loss_library_q_sample(m, x0, s, generator)),
    (check_ddpm_sample, lambda m, n, d, s, generator=None: _ddpm_library_step(m, n, d, s, generator)),
    (check_reverse_step, lambda m, x, t, s, z: diffusion.ddim_step(m, x, t, t - 1, s, eta=1.0, z=z).x_prev),
    (check_ddim_sample, lambda m, n, d, s, steps, generator=None: _ddim_library_step(m, n, d, s, steps, generator)),
    # the unchecked internals behind the public functions answer the exercises just as well
    (check_q_sample, lambda x0, t, noise, s: diffusion._q_sample(x0, t, noise, s)),
    (check_reverse_step, lambda m, x, t, s, z: _reverse_step_internal(m, x, t, s, z)),
    (check_ddpm_sample, lambda m, n, d, s, generator=None: _ddpm_internal_loop(m, n, d, s, generator)),
]


def _reverse_step_internal(eps_model, x_t, t, schedule, z):
    b, a, ab = (float(schedule.betas[t]), float(schedule.alphas[t]), float(schedule.alphas_cumprod[t]))
    return diffusion._p_sample_step(eps_model, x_t, t, b, a, ab, (t > 0) * math.sqrt(b), z).x_prev


def _ddpm_internal_loop(eps_model, n, dim, schedule, generator=None):
    def step(x, t, t_prev):
        eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
        b, a, ab = float(schedule.betas[t]), float(schedule.alphas[t]), float(schedule.alphas_cumprod[t])
        mean = (x - b / math.sqrt(1 - ab) * eps) / math.sqrt(a)
        z = torch.randn(n, dim, generator=generator) if t > 0 else 0
        return diffusion.StepOutput(mean + math.sqrt(b) * z, mean)
    pairs = [(t, t - 1) for t in reversed(range(schedule.T))]
    return diffusion._sample_loop(step, pairs, (n, dim), schedule.T, generator, torch.device("cpu"), False, 0, "").x0


def _ddim_library_step(eps_model, n, dim, schedule, steps, generator=None):
    with torch.no_grad():
        taus = diffusion.ddim_timesteps(schedule.T, steps).tolist()
        x = torch.randn(n, dim, generator=generator)
        for i in reversed(range(len(taus))):
            x = diffusion.ddim_step(eps_model, x, taus[i], taus[i - 1] if i else -1, schedule).x_prev
        return x


def _loss_library_q_sample(eps_model, x0, schedule, generator=None):
    t = torch.randint(schedule.T, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    return ((eps - eps_model(diffusion.q_sample(x0, t, eps, schedule), t)) ** 2).mean()


def _ddpm_library_step(eps_model, n, dim, schedule, generator=None):
    with torch.no_grad():
        x = torch.randn(n, dim, generator=generator)
        for t in reversed(range(schedule.T)):
            x = diffusion.p_sample_step(eps_model, x, t, schedule, torch.randn(n, dim, generator=generator)).x_prev
        return x


@pytest.mark.parametrize("check, answer", REFERENCE_ANSWERS, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(REFERENCE_ANSWERS)])
def test_reference_guard(check, answer, capsys):
    with pytest.raises(AssertionError, match="reference"):
        check(answer)
    assert "[passed]" not in capsys.readouterr().out


def test_not_implemented():
    def answer(*args, **kwargs):
        raise NotImplementedError()
    for check in (check_cosine_beta_schedule, check_q_sample, check_diffusion_loss, check_reverse_step,
                  check_ddpm_sample, check_ddim_sample):
        with pytest.raises(AssertionError, match="not implemented"):
            check(answer)


def test_optimal_eps_is_genedus():
    """The checks' picklable exact denoiser computes what genedu.diffusion.gaussian_optimal_eps does."""
    from genedu.checks.ch07 import _OptimalEps, _gaussian_problem, _schedule
    sched = _schedule("cosine", 50)
    mean, cov = _gaussian_problem(3, 3)
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    t = torch.randint(0, 50, (40,), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(_OptimalEps(mean, cov, sched)(x, t), diffusion.gaussian_optimal_eps(mean, cov, sched)(x, t),
                          atol=1e-6)
    with pytest.raises(TypeError, match="int64"):
        _OptimalEps(mean, cov, sched)(x, 3)
    model = _OptimalEps(mean, cov, sched)
    model(x, t), model(x, t)
    assert int(model.calls) == 2
