"""Tests of genedu.diffusion, genedu.denoisers and genedu.metrics (chapter 7), each against an independent
computation: numpy/loop versions of the papers' formulas, Bayes' rule for Gaussians, least-squares
regression, the exact moments of a linear-Gaussian chain, DDIM's closed form for a point mass, plain
re-implementations of the sampling loops, scipy's Wasserstein distance, double loops."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from genedu import diffusion as D
from genedu import metrics, runtime
from genedu import checkpoints
from genedu.denoisers import MLPDenoiser, UNetDenoiser, timestep_embedding

MEAN = torch.tensor([1.0, -2.0])
COV = torch.tensor([[2.0, 0.6], [0.6, 0.5]])


def linear(T=1000):
    return D.Schedule(D.linear_beta_schedule(T))


def cosine(T=1000):
    return D.Schedule(D.cosine_beta_schedule(T))


# --- schedules ----------------------------------------------------------------------------------------

def test_linear_schedule_is_numpy_linspace():
    np.testing.assert_allclose(D.linear_beta_schedule(1000).numpy(), np.linspace(1e-4, 0.02, 1000), rtol=1e-12)
    np.testing.assert_allclose(D.linear_beta_schedule(10, 0.1, 0.2).numpy(), np.linspace(0.1, 0.2, 10), rtol=1e-12)


def _cosine_betas_loop(T, s=0.008, max_beta=0.999):
    """improved-diffusion's betas_for_alpha_bar, written with math and a loop."""
    def alpha_bar(u):
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), max_beta) for i in range(T)]


@pytest.mark.parametrize("T, s", [(1000, 0.008), (50, 0.008), (200, 0.0)])
def test_cosine_schedule_matches_nichol_dhariwal(T, s):
    np.testing.assert_allclose(D.cosine_beta_schedule(T, s).numpy(), _cosine_betas_loop(T, s), rtol=1e-10, atol=1e-12)


def test_cosine_schedule_clip_and_alpha_bar():
    betas = D.cosine_beta_schedule(1000)
    assert float(betas[-1]) == pytest.approx(0.999)          # 1 - alpha_bar(T)/alpha_bar(T-1) = 1 before the clip
    assert float(betas.max()) <= 0.999
    sched = D.Schedule(betas)
    t = torch.arange(1, 1001, dtype=torch.float64)
    f = torch.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    np.testing.assert_allclose(sched.alphas_cumprod[:-1].numpy(), f[:-1].numpy(), rtol=1e-9)


def test_schedule_quantities_by_loops():
    betas = D.linear_beta_schedule(20, 0.01, 0.3)
    s = D.Schedule(betas)
    b = betas.tolist()
    abar = [math.prod(1 - x for x in b[: t + 1]) for t in range(20)]
    for t in range(20):
        prev = abar[t - 1] if t else 1.0
        assert float(s.alphas[t]) == pytest.approx(1 - b[t])
        assert float(s.alphas_cumprod[t]) == pytest.approx(abar[t])
        assert float(s.alphas_cumprod_prev[t]) == pytest.approx(prev)
        assert float(s.sqrt_alphas_cumprod[t]) == pytest.approx(math.sqrt(abar[t]))
        assert float(s.sqrt_one_minus_alphas_cumprod[t]) == pytest.approx(math.sqrt(1 - abar[t]))
        assert float(s.posterior_variance[t]) == pytest.approx((1 - prev) / (1 - abar[t]) * b[t])
        assert float(s.posterior_mean_coef1[t]) == pytest.approx(math.sqrt(prev) * b[t] / (1 - abar[t]))
        assert float(s.posterior_mean_coef2[t]) == pytest.approx(math.sqrt(1 - b[t]) * (1 - prev) / (1 - abar[t]))
    assert s.T == 20 and float(s.posterior_variance[0]) == 0.0
    assert torch.allclose(D.snr(s), s.alphas_cumprod / (1 - s.alphas_cumprod))


def test_schedule_of_constant_betas_in_closed_form():
    """beta_t = b for all t: alpha_bar_t = (1 - b)^(t+1), beta_tilde_t = b (1 - (1 - b)^t) / (1 - (1 - b)^(t+1))."""
    b, T = 0.05, 30
    s = D.Schedule(torch.full((T,), b, dtype=torch.float32))
    k = np.arange(T)
    want = {"alphas": np.full(T, 1 - b), "alphas_cumprod": (1 - b) ** (k + 1), "alphas_cumprod_prev": (1 - b) ** k,
            "sqrt_alphas_cumprod": (1 - b) ** ((k + 1) / 2), "sqrt_one_minus_alphas_cumprod": np.sqrt(1 - (1 - b) ** (k + 1)),
            "posterior_variance": b * (1 - (1 - b) ** k) / (1 - (1 - b) ** (k + 1)),
            "posterior_mean_coef1": (1 - b) ** (k / 2) * b / (1 - (1 - b) ** (k + 1)),
            "posterior_mean_coef2": np.sqrt(1 - b) * (1 - (1 - b) ** k) / (1 - (1 - b) ** (k + 1))}
    b32 = float(torch.tensor(b, dtype=torch.float32))              # the betas were given in float32
    for name, value in want.items():
        got = getattr(s, name)
        assert got.dtype == torch.float64 and got.shape == (T,), name
        np.testing.assert_allclose(got.numpy(), value, rtol=1e-6, err_msg=name)
    assert float(s.betas[0]) == b32


def test_schedule_is_built_from_the_betas_alone():
    betas = D.linear_beta_schedule(10)
    s = D.Schedule(betas)
    betas[0] = 0.5                                                 # the schedule keeps its own copy
    assert float(s.betas[0]) == pytest.approx(1e-4)
    with pytest.raises(TypeError):
        D.Schedule(betas, alphas=1 - betas)                        # derived quantities are not arguments
    with pytest.raises(AttributeError):
        s.betas = betas                                            # frozen: the derived ones could not follow
    from_float32 = D.Schedule(D.linear_beta_schedule(10).float())
    assert from_float32.betas.dtype == torch.float64 and from_float32.betas.device.type == "cpu"
    assert "T=10" in repr(s)
    # the grader sends schedules into its sandbox as pickles
    import pickle
    copy = pickle.loads(pickle.dumps(s))
    assert isinstance(copy, D.Schedule) and torch.equal(copy.posterior_mean_coef2, s.posterior_mean_coef2)


def test_schedules_end_in_noise():
    for s in (linear(), cosine()):
        assert float(s.alphas_cumprod[-1]) < 1e-4 and float(s.alphas_cumprod[0]) > 0.999
        assert bool((s.alphas_cumprod[1:] < s.alphas_cumprod[:-1]).all())


# --- forward process ----------------------------------------------------------------------------------

def test_q_sample_formula_and_moments():
    s = linear()
    x0 = torch.randn(5, 3)
    t = torch.tensor([0, 10, 100, 500, 999])
    noise = torch.randn(5, 3)
    abar = s.alphas_cumprod[t].float()[:, None]
    torch.testing.assert_close(D.q_sample(x0, t, noise, s), abar.sqrt() * x0 + (1 - abar).sqrt() * noise)


def test_q_sample_equals_t_steps_of_the_markov_chain():
    """Closed form q(x_t | x_0) vs t steps of x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps."""
    s = cosine(100)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((100_000, 1), 1.5, dtype=torch.float64)
    x = x0.clone()
    for t in range(40):
        x = (1 - s.betas[t]).sqrt() * x + s.betas[t].sqrt() * torch.randn(x.shape, generator=g, dtype=torch.float64)
    closed = D.q_sample(x0, torch.full((len(x0),), 39), torch.randn(x0.shape, generator=g, dtype=torch.float64), s)
    assert abs(float(x.mean() - closed.mean())) < 5 * math.sqrt(2 / len(x))
    assert abs(float(x.var() - closed.var())) < 5 * math.sqrt(4 / len(x))
    assert float(closed.mean()) == pytest.approx(1.5 * float(s.sqrt_alphas_cumprod[39]), abs=0.02)


def test_posterior_is_bayes_rule():
    """q(x_{t-1} | x_t, x_0) from the product of q(x_t | x_{t-1}) and q(x_{t-1} | x_0), for scalars."""
    s = linear(50)
    x0, xt = torch.tensor([[0.7], [-1.2], [2.0]]), torch.tensor([[0.1], [0.5], [-0.3]])
    t = torch.tensor([1, 10, 49])
    mean, var = D.q_posterior_mean_variance(x0, xt, t, s)
    for i, ti in enumerate(t.tolist()):
        a, b, ap = float(s.alphas[ti]), float(s.betas[ti]), float(s.alphas_cumprod[ti - 1])
        precision = a / b + 1 / (1 - ap)
        want_mean = (math.sqrt(a) * float(xt[i]) / b + math.sqrt(ap) * float(x0[i]) / (1 - ap)) / precision
        assert float(mean[i]) == pytest.approx(want_mean, rel=1e-5)
        assert float(var[i]) == pytest.approx(1 / precision, rel=1e-5)


def test_predict_x0_inverts_q_sample():
    s = cosine()
    x0, noise, t = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64), torch.arange(0, 800, 100)
    torch.testing.assert_close(D.predict_x0_from_eps(D.q_sample(x0, t, noise, s), t, noise, s), x0)


# --- the loss -----------------------------------------------------------------------------------------

def test_loss_of_zero_predictor_is_one_and_gradient_flows():
    s = linear()
    x0 = torch.randn(20000, 2)
    loss = D.diffusion_loss(lambda x, t: torch.zeros_like(x), x0, s, generator=torch.Generator().manual_seed(0))
    assert float(loss) == pytest.approx(1.0, abs=5 * math.sqrt(2 / 40000))
    model = MLPDenoiser(width=16, blocks=1)
    D.diffusion_loss(model, x0[:64], s).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_loss_of_optimal_predictor_is_the_posterior_variance():
    """E[loss] = E_t[1 - (1 - abar_t) tr(S_t^{-1}) / D] for the Gaussian's optimal predictor."""
    s = linear()
    abar = s.alphas_cumprod
    S = abar[:, None, None] * COV.double() + (1 - abar)[:, None, None] * torch.eye(2, dtype=torch.float64)
    want = float((1 - (1 - abar) * torch.linalg.inv(S).diagonal(dim1=1, dim2=2).sum(1) / 2).mean())
    g = torch.Generator().manual_seed(1)
    x0 = MEAN + torch.randn(200_000, 2, generator=g) @ torch.linalg.cholesky(COV).T
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    got = float(D.diffusion_loss(eps, x0, s, generator=g))
    assert got == pytest.approx(want, abs=0.01)
    assert got < 0.5


# --- the optimal denoiser and the samplers ---------------------------------------------------------------

def test_gaussian_optimal_eps_is_the_regression_of_eps_on_x_t():
    s = linear()
    eps_model = D.gaussian_optimal_eps(MEAN, COV, s)
    g = torch.Generator().manual_seed(2)
    n = 200_000
    x0 = (MEAN + torch.randn(n, 2, generator=g) @ torch.linalg.cholesky(COV).T).double()
    for t in (5, 300, 900):
        noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
        xt = D.q_sample(x0, torch.full((n,), t), noise, s)
        design = torch.cat([xt, torch.ones(n, 1, dtype=torch.float64)], 1)
        coef = torch.linalg.lstsq(design, noise).solution                      # E[eps | x_t] is affine in x_t
        probe = torch.randn(6, 2, generator=g, dtype=torch.float64)    # seeded: the global RNG depends on what ran before
        want = torch.cat([probe, torch.ones(6, 1, dtype=torch.float64)], 1) @ coef
        torch.testing.assert_close(eps_model(probe, torch.full((6,), t)), want, atol=0.02, rtol=0)


def _ddpm_exact_moments(schedule, mean, cov, variance="beta"):
    """Mean and covariance of DDPM's output with the optimal predictor: a linear-Gaussian chain."""
    d = len(mean)
    mean, cov, eye = mean.double(), cov.double(), torch.eye(d, dtype=torch.float64)
    m, P = torch.zeros(d, dtype=torch.float64), eye.clone()
    for t in range(schedule.T - 1, -1, -1):
        a, b, ab = float(schedule.alphas[t]), float(schedule.betas[t]), float(schedule.alphas_cumprod[t])
        K = math.sqrt(1 - ab) * torch.linalg.inv(ab * cov + (1 - ab) * eye)
        A = (eye - b / math.sqrt(1 - ab) * K) / math.sqrt(a)
        c = b / math.sqrt(1 - ab) * K @ (math.sqrt(ab) * mean) / math.sqrt(a)
        var = float(schedule.betas[t] if variance == "beta" else schedule.posterior_variance[t]) if t > 0 else 0.0
        m, P = A @ m + c, A @ P @ A.T + var * eye
    return m, P


def _ddim_exact_moments(schedule, mean, cov, steps):
    d = len(mean)
    mean, cov, eye = mean.double(), cov.double(), torch.eye(d, dtype=torch.float64)
    m, P = torch.zeros(d, dtype=torch.float64), eye.clone()
    taus = D.ddim_timesteps(schedule.T, steps).tolist()
    for i in range(len(taus) - 1, -1, -1):
        ab = float(schedule.alphas_cumprod[taus[i]])
        ap = float(schedule.alphas_cumprod[taus[i - 1]]) if i else 1.0
        K = math.sqrt(1 - ab) * torch.linalg.inv(ab * cov + (1 - ab) * eye)      # eps = K (x - sqrt(ab) mean)
        # x' = sqrt(ap) (x - sqrt(1 - ab) eps) / sqrt(ab) + sqrt(1 - ap) eps
        E = math.sqrt(1 - ap) - math.sqrt(ap) * math.sqrt(1 - ab) / math.sqrt(ab)
        A = math.sqrt(ap / ab) * eye + E * K
        c = -E * K @ (math.sqrt(ab) * mean)
        m, P = A @ m + c, A @ P @ A.T
    return m, P


def _moments_close(x, m, P, sigmas=5.0):
    n = len(x)
    x = x.double()
    se_mean = (P.diagonal() / n).sqrt()
    assert ((x.mean(0) - m).abs() < sigmas * se_mean).all(), (x.mean(0), m)
    se_cov = ((P.diagonal()[:, None] * P.diagonal()[None] + P**2) / n).sqrt()
    assert ((torch.cov(x.T) - P).abs() < sigmas * se_cov).all(), (torch.cov(x.T), P)


@pytest.mark.parametrize("variance", ["beta", "posterior"])
@pytest.mark.parametrize("make", [linear, cosine])
def test_ddpm_with_the_exact_denoiser_reproduces_the_gaussian(make, variance):
    s = make()
    m, P = _ddpm_exact_moments(s, MEAN, COV, variance)
    # the chain itself is (nearly) exact: discretisation error well below 2 %
    torch.testing.assert_close(m, MEAN.double(), atol=0.02, rtol=0)
    torch.testing.assert_close(P, COV.double(), atol=0.03, rtol=0)
    x = D.ddpm_sample(D.gaussian_optimal_eps(MEAN, COV, s), (20000, 2), s, generator=torch.Generator().manual_seed(3),
                      variance=variance, progress=False)
    _moments_close(x, m, P)
    _moments_close(x, MEAN.double(), COV.double(), sigmas=6.0)


@pytest.mark.parametrize("steps", [10, 50, 1000])
def test_ddim_with_the_exact_denoiser(steps):
    s = linear()
    m, P = _ddim_exact_moments(s, MEAN, COV, steps)
    x = D.ddim_sample(D.gaussian_optimal_eps(MEAN, COV, s), (20000, 2), s, steps=steps,
                      generator=torch.Generator().manual_seed(4), progress=False)
    _moments_close(x, m, P)
    if steps == 1000:
        torch.testing.assert_close(P, COV.double(), atol=0.03, rtol=0)


def test_ddim_is_deterministic_given_x_T_and_eta_one_is_ddpm():
    s = linear(200)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    a = D.ddim_sample(eps, (100, 2), s, steps=20, generator=torch.Generator().manual_seed(5), progress=False)
    b = D.ddim_sample(eps, (100, 2), s, steps=20, generator=torch.Generator().manual_seed(5), progress=False)
    assert torch.equal(a, b)
    m, P = _ddpm_exact_moments(s, MEAN, COV, "posterior")
    x = D.ddim_sample(eps, (20000, 2), s, steps=200, eta=1.0, generator=torch.Generator().manual_seed(6), progress=False)
    _moments_close(x, m, P)


def test_p_sample_step_formula_and_last_step():
    s = linear()
    eps_model = D.gaussian_optimal_eps(MEAN, COV, s)
    x, z = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    for t in (0, 1, 500, 999):
        e = eps_model(x, torch.full((4,), t))
        a, b, ab = float(s.alphas[t]), float(s.betas[t]), float(s.alphas_cumprod[t])
        want = (x - b / math.sqrt(1 - ab) * e) / math.sqrt(a) + (math.sqrt(b) * z if t > 0 else 0)
        out = D.p_sample_step(eps_model, x, t, s, z)
        assert isinstance(out, D.StepOutput)
        torch.testing.assert_close(out.x_prev, want)
        # the predicted x_0 is predict_x0_from_eps with the network's eps, and Ho et al.'s eq. 15 by hand
        torch.testing.assert_close(out.x0_pred, D.predict_x0_from_eps(x, torch.full((4,), t), e, s), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(out.x0_pred, (x - math.sqrt(1 - ab) * e) / math.sqrt(ab))
    # with the posterior variance, the reverse mean is the posterior mean at the predicted x_0
    t = 300
    e = eps_model(x, torch.full((4,), t))
    x0_hat = D.predict_x0_from_eps(x, torch.full((4,), t), e, s)
    mean, var = D.q_posterior_mean_variance(x0_hat, x, torch.full((4,), t), s)
    x_prev, x0_pred = D.p_sample_step(eps_model, x, t, s, z, variance="posterior")
    torch.testing.assert_close(x_prev, mean + var.sqrt() * z)
    torch.testing.assert_close(x0_pred, x0_hat)


def test_p_sample_step_x0_pred_in_float32_is_predict_x0_from_eps_exactly():
    s = cosine(200)
    eps_model = D.gaussian_optimal_eps(MEAN, COV, s)
    g = torch.Generator().manual_seed(7)
    x, z = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    for t in (0, 1, 100, 199):
        tt = torch.full((16,), t)
        assert torch.equal(D.p_sample_step(eps_model, x, t, s, z).x0_pred,
                           D.predict_x0_from_eps(x, tt, eps_model(x, tt), s))


def _point_mass_eps(c, schedule):
    """The exact noise predictor when the data is the single point c: eps = (x_t - sqrt(abar_t) c) / sqrt(1 - abar_t)."""
    def eps_model(x_t, t):
        ab = schedule.alphas_cumprod[t].to(x_t.dtype)[:, None]
        return (x_t - ab.sqrt() * c) / (1 - ab).sqrt()
    return eps_model


def test_ddim_step_with_eta_zero_over_all_steps_is_its_closed_form():
    """For data at one point c, DDIM with eta = 0 keeps the noise direction eps_T = (x_T - sqrt(abar) c) / sqrt(1 - abar):
    after each step x = sqrt(abar_prev) c + sqrt(1 - abar_prev) eps_T, the predicted x_0 is c throughout, and the
    last step (t_prev = -1) lands on c."""
    T = 200
    s = linear(T)
    c = torch.tensor([0.7, -1.3], dtype=torch.float64)
    eps_model = _point_mass_eps(c, s)
    x_T = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ab = s.alphas_cumprod
    eps_T = (x_T - ab[T - 1].sqrt() * c) / (1 - ab[T - 1]).sqrt()
    x = x_T
    for t in range(T - 1, -1, -1):
        x, x0_pred = D.ddim_step(eps_model, x, t, t - 1, s)
        torch.testing.assert_close(x0_pred, c.expand_as(x), rtol=0, atol=1e-9)
        if t > 0:
            torch.testing.assert_close(x, ab[t - 1].sqrt() * c + (1 - ab[t - 1]).sqrt() * eps_T, rtol=0, atol=1e-9)
    torch.testing.assert_close(x, c.expand_as(x), rtol=0, atol=1e-9)


def test_ddim_step_by_hand_and_eta_one_is_the_posterior_ddpm_step():
    s = linear(100)
    eps_model = D.gaussian_optimal_eps(MEAN, COV, s)
    g = torch.Generator().manual_seed(8)
    x, z = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)
    t, tp = 60, 40
    e = eps_model(x, torch.full((6,), t))
    a, ap = float(s.alphas_cumprod[t]), float(s.alphas_cumprod[tp])
    x0 = (x - math.sqrt(1 - a) * e) / math.sqrt(a)
    sigma = 0.5 * math.sqrt((1 - ap) / (1 - a) * (1 - a / ap))
    out = D.ddim_step(eps_model, x, t, tp, s, eta=0.5, z=z)
    torch.testing.assert_close(out.x_prev, math.sqrt(ap) * x0 + math.sqrt(1 - ap - sigma**2) * e + sigma * z)
    torch.testing.assert_close(out.x0_pred, x0)
    # eta = 1, one step back: Ho et al.'s step with sigma_t^2 = beta_tilde_t (Song et al., section 4.1)
    for t in (1, 50, 99):
        torch.testing.assert_close(D.ddim_step(eps_model, x, t, t - 1, s, eta=1.0, z=z).x_prev,
                                   D.p_sample_step(eps_model, x, t, s, z, variance="posterior").x_prev)
    # the last step lands on x0_hat, with no noise even for eta > 0
    last = D.ddim_step(eps_model, x, 3, -1, s, eta=1.0)
    torch.testing.assert_close(last.x_prev, last.x0_pred)


# --- the one sampling loop, against plain re-implementations of DDPM's and DDIM's loops ----------------------------

def _ddpm_by_hand(eps_model, shape, schedule, generator, variance="beta"):
    """Algorithm 2 written out: x_T, then z for t = T-1 .. 1 drawn from the same generator, in that order."""
    var = schedule.betas if variance == "beta" else schedule.posterior_variance
    x = torch.randn(shape, generator=generator)
    for t in range(schedule.T - 1, -1, -1):
        z = torch.randn(shape, generator=generator) if t > 0 else None
        e = eps_model(x, torch.full((shape[0],), t, dtype=torch.long))
        b, a, ab = float(schedule.betas[t]), float(schedule.alphas[t]), float(schedule.alphas_cumprod[t])
        x = (x - b / math.sqrt(1 - ab) * e) / math.sqrt(a)
        if t > 0:
            x = x + var[t].float().sqrt() * z
    return x


def _ddim_by_hand(eps_model, shape, schedule, steps, eta, generator, clip_x0=False):
    taus = np.round(np.linspace(0, schedule.T - 1, steps)).astype(int).tolist()
    x = torch.randn(shape, generator=generator)
    for i in range(steps - 1, -1, -1):
        a = float(schedule.alphas_cumprod[taus[i]])
        ap = float(schedule.alphas_cumprod[taus[i - 1]]) if i else 1.0
        e = eps_model(x, torch.full((shape[0],), taus[i], dtype=torch.long))
        x0 = (x - math.sqrt(1 - a) * e) / math.sqrt(a)
        if clip_x0:
            x0 = x0.clamp(-1, 1)
            e = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        sigma = eta * math.sqrt((1 - ap) / (1 - a) * (1 - a / ap))
        x = math.sqrt(ap) * x0 + math.sqrt(max(1 - ap - sigma**2, 0.0)) * e
        if sigma > 0:
            x = x + sigma * torch.randn(shape, generator=generator)
    return x


def _net():
    torch.manual_seed(0)
    return MLPDenoiser(dim=2, width=16, blocks=1).eval()


@pytest.mark.parametrize("variance", ["beta", "posterior"])
def test_ddpm_sample_is_algorithm_2_exactly(variance):
    s = cosine(60)
    for model in (D.gaussian_optimal_eps(MEAN, COV, s), _net()):
        with torch.no_grad():
            want = _ddpm_by_hand(model, (9, 2), s, torch.Generator().manual_seed(11), variance)
        got = D.ddpm_sample(model, (9, 2), s, generator=torch.Generator().manual_seed(11), variance=variance,
                            progress=False)
        assert torch.equal(got, want)


@pytest.mark.parametrize("steps, eta, clip_x0", [(60, 0.0, False), (7, 0.0, False), (10, 1.0, False), (10, 0.5, True),
                                                 (1, 0.0, False)])
def test_ddim_sample_is_song_et_al_exactly(steps, eta, clip_x0):
    s = linear(60)
    for model in (D.gaussian_optimal_eps(MEAN, COV, s), _net()):
        with torch.no_grad():
            want = _ddim_by_hand(model, (9, 2), s, steps, eta, torch.Generator().manual_seed(12), clip_x0)
        got = D.ddim_sample(model, (9, 2), s, steps=steps, eta=eta, clip_x0=clip_x0,
                            generator=torch.Generator().manual_seed(12), progress=False)
        assert torch.equal(got, want)


def test_samplers_reproduce_the_numbers_of_genedu_0_1():
    """x_0 as the samplers gave it before they shared one loop (captured from that code, seed 0)."""
    s = linear(100)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)

    def run(sampler, **kw):
        return sampler(eps, (3, 2), s, generator=torch.Generator().manual_seed(0), progress=False, **kw)
    want = {
        "ddpm": (run(D.ddpm_sample), [[1.7818485498, -1.1559818983], [-0.5455140471, -2.2543025017],
                                      [-1.5315797329, -2.1812818050]]),
        "ddpm posterior": (run(D.ddpm_sample, variance="posterior"),
                           [[1.8336821795, -1.1409529448], [-0.5718833804, -2.2212119102], [-1.5162783861, -2.2099616528]]),
        "ddim": (run(D.ddim_sample, steps=10), [[2.2438192368, -1.2291859388], [-1.8066066504, -1.4077832699],
                                                [-0.9523713589, -2.4559462070]]),
        "ddim eta 0.5": (run(D.ddim_sample, steps=10, eta=0.5),
                         [[2.0673096180, -1.4067256451], [-2.1154801846, -1.7295961381], [-1.1000536680, -2.2503111362]]),
    }
    for name, (got, values) in want.items():
        torch.testing.assert_close(got, torch.tensor(values), rtol=0, atol=1e-6, msg=name)


def test_ddim_sample_is_its_steps():
    """ddim_sample over all T steps is T calls of the public ddim_step from the same x_T."""
    s = linear(40)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    x = runtime.randn((5, 2), generator=torch.Generator().manual_seed(2))
    for t in range(s.T - 1, -1, -1):
        x = D.ddim_step(eps, x, t, t - 1, s).x_prev
    assert torch.equal(x, D.ddim_sample(eps, (5, 2), s, steps=s.T, generator=torch.Generator().manual_seed(2),
                                        progress=False))


def test_samplers_return_a_tensor_and_trajectories_a_trajectory():
    s = linear(100)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    x = D.ddpm_sample(eps, (7, 2), s, generator=torch.Generator().manual_seed(0), progress=False)
    assert type(x) is torch.Tensor and x.shape == (7, 2)
    with pytest.raises(TypeError):
        D.ddpm_sample(eps, (7, 2), s, progress=False, frames=10)              # one return type: no frames here
    traj = D.ddpm_trajectory(eps, (7, 2), s, generator=torch.Generator().manual_seed(0), progress=False, frames=10)
    assert isinstance(traj, D.Trajectory)
    x0, xs, ts, x0_preds = traj
    assert torch.equal(x0, x)                                                # the same draws as the sampler
    assert xs.shape == x0_preds.shape == (11, 7, 2) and ts.tolist() == [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
    assert torch.equal(xs[-1], x) and torch.equal(x0_preds[-1], x)
    # each recorded state comes with the prediction of x_0 made from it: predict_x0_from_eps at index ts - 1
    for i in range(len(ts) - 1):
        t = int(ts[i]) - 1
        tt = torch.full((7,), t)
        torch.testing.assert_close(x0_preds[i], D.predict_x0_from_eps(xs[i], tt, eps(xs[i], tt), s))
    traj = D.ddim_trajectory(eps, (7, 2), s, steps=20, generator=torch.Generator().manual_seed(0), progress=False,
                             frames=5)
    assert traj.xs.shape == traj.x0_preds.shape == (6, 7, 2) and torch.equal(traj.xs[-1], traj.x0)
    taus = D.ddim_timesteps(100, 20).tolist()
    assert traj.ts.tolist() == [100] + [taus[i] + 1 for i in (15, 11, 7, 3)] + [0]     # the paper's t, as for DDPM
    assert torch.equal(traj.x0, D.ddim_sample(eps, (7, 2), s, steps=20, generator=torch.Generator().manual_seed(0),
                                              progress=False))
    every = D.ddim_trajectory(eps, (7, 2), s, steps=20, generator=torch.Generator().manual_seed(0), progress=False,
                              frames=20)                                     # every state: the 5 frames among them
    assert len(every.xs) == 21 and torch.equal(every.xs[[0, 4, 8, 12, 16, 20]], traj.xs)
    assert torch.equal(every.x0_preds[[0, 4, 8, 12, 16, 20]], traj.x0_preds)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_samplers_on_cuda_draw_the_cpu_generators_numbers():
    """genedu.runtime's rule: a CPU generator gives the same noise whatever the device the model runs on."""
    s = linear(100)
    model = _net()
    cpu = D.ddpm_sample(model, (64, 2), s, generator=torch.Generator().manual_seed(0), progress=False)
    gpu = D.ddpm_sample(model.cuda(), (64, 2), s, generator=torch.Generator().manual_seed(0), progress=False)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)
    traj = D.ddim_trajectory(model, (64, 2), s, steps=10, eta=1.0, generator=torch.Generator().manual_seed(0),
                             progress=False, frames=5)
    assert traj.x0.device.type == "cuda" and traj.xs.device.type == "cpu" and traj.x0_preds.device.type == "cpu"
    loss = D.diffusion_loss(model, torch.randn(32, 2, device="cuda"), s, generator=torch.Generator().manual_seed(0))
    assert loss.device.type == "cuda"


def test_loops_check_their_arguments_once(monkeypatch):
    """The public samplers check their arguments; the per-step internals do not (a 1000-step run must not
    validate 1000 times), and the training loss does not check the timesteps it draws itself."""
    from genedu import _validate

    calls = {"float_tensor": 0, "check_t": 0, "int_t": 0}

    def counting(name, fn):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapped
    monkeypatch.setattr(_validate, "float_tensor", counting("float_tensor", _validate.float_tensor))
    monkeypatch.setattr(D, "_check_t", counting("check_t", D._check_t))
    monkeypatch.setattr(D, "_int_t", counting("int_t", D._int_t))

    def model(x_t, t):
        return 0.1 * x_t
    counts = {}
    for T in (50, 400):
        s = linear(T)
        for key in calls:
            calls[key] = 0
        D.ddpm_sample(model, (4, 2), s, generator=torch.Generator().manual_seed(0), progress=False)
        D.ddim_sample(model, (4, 2), s, steps=T, eta=1.0, generator=torch.Generator().manual_seed(0), progress=False)
        D.diffusion_loss(model, torch.randn(8, 2), s, generator=torch.Generator().manual_seed(0))
        counts[T] = dict(calls)
    assert counts[50] == counts[400], counts             # as many checks for 400 steps as for 50
    assert counts[50]["check_t"] == 0 and counts[50]["int_t"] == 0, counts
    # the public step functions do check
    D.p_sample_step(model, torch.zeros(2, 2), 3, linear(10), torch.zeros(2, 2))
    assert calls["int_t"] == 1


def test_ddim_timesteps():
    tau = D.ddim_timesteps(1000, 50)
    assert len(tau) == 50 and tau[0] == 0 and tau[-1] == 999 and bool((tau[1:] > tau[:-1]).all())
    assert torch.equal(D.ddim_timesteps(10, 10), torch.arange(10))


def test_bad_inputs_name_the_argument():
    s = linear(10)
    with pytest.raises(TypeError, match="schedule"):
        D.q_sample(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), torch.zeros(2, 2), D.linear_beta_schedule(10))
    with pytest.raises(ValueError, match="t must lie"):
        D.q_sample(torch.zeros(2, 2), torch.tensor([0, 10]), torch.zeros(2, 2), s)
    with pytest.raises(TypeError, match="t must be an integer tensor"):
        D.q_sample(torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 2), s)
    with pytest.raises(ValueError, match="noise"):
        D.q_sample(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), torch.zeros(2, 3), s)
    with pytest.raises(ValueError, match="T must be"):
        D.linear_beta_schedule(0)
    with pytest.raises(ValueError, match="betas"):
        D.Schedule(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="betas"):
        D.Schedule(torch.tensor([0.1, float("nan")]))
    with pytest.raises(ValueError, match="betas"):
        D.Schedule(torch.zeros(0))
    with pytest.raises(ValueError, match="betas"):
        D.Schedule(torch.full((2, 3), 0.1))
    with pytest.raises(TypeError, match="betas"):
        D.Schedule(torch.tensor([1, 1]))
    with pytest.raises(TypeError, match="betas"):
        D.Schedule([0.1, 0.2])
    with pytest.raises(ValueError, match="cov"):
        D.gaussian_optimal_eps(MEAN, torch.tensor([[1.0, 2.0], [2.0, 1.0]]), s)
    with pytest.raises(ValueError, match="variance"):
        D.ddpm_sample(D.gaussian_optimal_eps(MEAN, COV, s), (3, 2), s, variance="large", progress=False)
    with pytest.raises(ValueError, match="steps"):
        D.ddim_sample(D.gaussian_optimal_eps(MEAN, COV, s), (3, 2), s, steps=11, progress=False)


def test_bad_step_and_sampler_arguments_name_the_argument():
    s = linear(10)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="z must have shape"):
        D.p_sample_step(eps, x, 5, s, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="t must lie in 0 .. T - 1 = 9"):
        D.p_sample_step(eps, x, 10, s, x)
    with pytest.raises(ValueError, match="t must be >= 0"):
        D.p_sample_step(eps, x, -1, s, x)
    with pytest.raises(TypeError, match="t must be an int"):
        D.p_sample_step(eps, x, 2.0, s, x)
    with pytest.raises(ValueError, match="variance"):
        D.p_sample_step(eps, x, 2, s, x, variance="large")
    with pytest.raises(TypeError, match="eps_model"):
        D.p_sample_step("model", x, 2, s, x)
    with pytest.raises(ValueError, match="z must be noise shaped like x_t .* at t = 5 > 0, got None"):
        D.p_sample_step(eps, x, 5, s)
    # the last step needs no noise, like ddim_step's deterministic steps
    torch.testing.assert_close(D.p_sample_step(eps, x, 0, s).x_prev, D.p_sample_step(eps, x, 0, s, x + 1).x_prev)
    with pytest.raises(ValueError, match="t_prev must be earlier"):
        D.ddim_step(eps, x, 4, 4, s)
    with pytest.raises(ValueError, match="t_prev must be >= -1"):
        D.ddim_step(eps, x, 4, -2, s)
    with pytest.raises(ValueError, match="z is needed"):
        D.ddim_step(eps, x, 4, 2, s, eta=1.0)
    with pytest.raises(ValueError, match="z must have shape"):
        D.ddim_step(eps, x, 4, 2, s, eta=1.0, z=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="eta"):
        D.ddim_step(eps, x, 4, 2, s, eta=-0.5)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        D.ddpm_sample(eps, (3, 2), s, generator=0, progress=False)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        D.ddim_sample(eps, (3, 2), s, steps=5, generator="seed", progress=False)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        D.diffusion_loss(eps, x, s, generator=1)
    with pytest.raises(TypeError, match="schedule"):
        D.ddpm_sample(eps, (3, 2), D.linear_beta_schedule(10), progress=False)
    with pytest.raises(ValueError, match="frames must be at most"):
        D.ddim_trajectory(eps, (3, 2), s, steps=5, frames=6, progress=False)
    with pytest.raises(ValueError, match="frames must be >= 1"):
        D.ddpm_trajectory(eps, (3, 2), s, frames=0, progress=False)
    with pytest.raises(ValueError, match="shape"):
        D.ddpm_sample(eps, (3,), s, progress=False)
    with pytest.raises(ValueError, match="t must lie"):
        eps(x, torch.tensor([0, 1, 10]))                    # the exact denoiser checks t on the CPU copy it makes


# --- denoisers ---------------------------------------------------------------------------------------------

def test_timestep_embedding_by_formula():
    t = torch.tensor([0, 1, 17, 999])
    emb = timestep_embedding(t, 8)
    for i, ti in enumerate(t.tolist()):
        for k in range(4):
            w = 10000 ** (-k / 3)
            assert float(emb[i, k]) == pytest.approx(math.sin(ti * w), abs=1e-5)
            assert float(emb[i, 4 + k]) == pytest.approx(math.cos(ti * w), abs=1e-5)


def test_denoiser_shapes():
    t = torch.tensor([0, 999, 5])
    assert MLPDenoiser(dim=3)(torch.randn(3, 3), t).shape == (3, 3)
    assert UNetDenoiser(channels=8)(torch.randn(3, 1, 28, 28), t).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="x_t"):
        MLPDenoiser(dim=2)(torch.randn(3, 3), t)


def test_mlp_denoiser_learns_the_gaussian_denoiser():
    """A short run of train_denoiser on Gaussian data gets close to the optimal loss."""
    torch.manual_seed(0)
    s = linear(100)
    g = torch.Generator().manual_seed(0)
    x0 = MEAN + torch.randn(4000, 2, generator=g) @ torch.linalg.cholesky(COV).T
    model = MLPDenoiser(width=32, blocks=2)
    history = D.train_denoiser(model, x0, s, steps=400, batch_size=128, lr=3e-3, device="cpu", progress=False)
    assert history["loss"][-1] < history["loss"][0]
    big = MEAN + torch.randn(20000, 2, generator=g) @ torch.linalg.cholesky(COV).T
    with torch.no_grad():
        learned = float(D.diffusion_loss(model, big, s, generator=torch.Generator().manual_seed(1)))
    optimal = float(D.diffusion_loss(D.gaussian_optimal_eps(MEAN, COV, s), big, s, generator=torch.Generator().manual_seed(1)))
    assert learned < optimal + 0.05


def test_shipped_digits_denoiser_denoises():
    from genedu import data

    model, meta = checkpoints.load("digits_unet")
    s = D.Schedule(D.linear_beta_schedule(meta["T"], meta["beta_start"], meta["beta_end"]))
    x0, _ = data.mnist("test", value_range=(-1.0, 1.0))
    g = torch.Generator().manual_seed(0)
    x0 = x0[:64]
    for t in (50, 500):
        noise = torch.randn(x0.shape, generator=g)
        tt = torch.full((64,), t)
        with torch.no_grad():
            err = float(((model(D.q_sample(x0, tt, noise, s), tt) - noise) ** 2).mean())
        assert err < 0.35, (t, err)               # predicting 0 would give 1


# --- metrics -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(50, 50), (37, 80), (3, 4)])
def test_wasserstein_1d_matches_scipy(n, m):
    g = torch.Generator().manual_seed(n)
    u, w = torch.randn(n, generator=g, dtype=torch.float64), 1 + 2 * torch.rand(m, generator=g, dtype=torch.float64)
    assert float(metrics.wasserstein_1d(u, w, p=1)) == pytest.approx(scipy.stats.wasserstein_distance(u, w), rel=1e-9)


def test_wasserstein_1d_p2_by_replication():
    """Unequal sizes n, m: repeat each sample lcm/n times; equal sizes are then matched in sorted order."""
    g = torch.Generator().manual_seed(0)
    u, w = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64) + 1
    uu, ww = u.repeat_interleave(2).sort().values, w.repeat_interleave(3).sort().values
    assert float(metrics.wasserstein_1d(u, w, p=2)) == pytest.approx(float(((uu - ww) ** 2).mean().sqrt()), rel=1e-12)


def test_mmd2_matches_a_double_loop():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 2, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64) + 0.5
    bw = (0.3, 1.0)

    def k(a, b):
        return sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * s**2)) for s in bw)
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    assert metrics.mmd2(x, y, bw) == pytest.approx(xx + yy - 2 * xy, rel=1e-9)


def test_distances_are_small_for_the_same_distribution_and_grow_with_a_shift():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(1000, 2, generator=g), torch.randn(1000, 2, generator=g)
    same_mmd, same_sw = metrics.mmd2(x, y), metrics.sliced_wasserstein(x, y)
    assert abs(same_mmd) < 0.01 and same_sw < 0.1
    mmds = [metrics.mmd2(x, y + torch.tensor([d, 0.0])) for d in (0.25, 0.5, 1.0)]
    sws = [metrics.sliced_wasserstein(x, y + torch.tensor([d, 0.0])) for d in (0.25, 0.5, 1.0)]
    assert same_mmd < mmds[0] < mmds[1] < mmds[2] and same_sw < sws[0] < sws[1] < sws[2]


def test_sliced_wasserstein_of_a_translation():
    """x vs x + c: every projection is shifted by theta . c, so SW_2 = |c| sqrt(E cos^2) = |c| / sqrt(2) in 2D."""
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(2))
    c = torch.tensor([3.0, 4.0])
    assert metrics.sliced_wasserstein(x, x + c, projections=2000) == pytest.approx(5 / math.sqrt(2), rel=0.03)
    assert metrics.sliced_wasserstein(x, x) == 0.0
    u = torch.randn(300, 1, dtype=torch.float64)
    assert metrics.sliced_wasserstein(u, u + 0.7, projections=10) == pytest.approx(0.7, rel=1e-9)


def test_distance_floor_and_bad_inputs():
    floor = metrics.distance_floor(lambda n, seed: torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)), 500)
    assert 0 < floor < 0.2
    with pytest.raises(ValueError, match="x"):
        metrics.mmd2(torch.randn(5), torch.randn(5, 2))
    with pytest.raises(ValueError, match="dimension"):
        metrics.sliced_wasserstein(torch.randn(5, 2), torch.randn(5, 3))


# --- plots ---------------------------------------------------------------------------------------------------

def test_diffusion_plots_draw_and_animate_without_a_cdn():
    import matplotlib.pyplot as plt

    from genedu.plot import diffusion as dplot

    s = linear(100)
    axes = dplot.schedule_comparison({"linear": s, "cosine": cosine(100)})
    assert axes[1].get_yscale() == "log" and len(axes[0].lines) == 2
    axes = dplot.forward_process_2d(torch.randn(50, 2), s, [0, 50, 99])
    assert len(axes) == 3
    ax = dplot.forward_process_images(torch.rand(2, 1, 8, 8) * 2 - 1, s, [0, 99])
    assert ax.images[0].get_array().shape == (2 * 9 + 1, 2 * 9 + 1)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    traj = D.ddpm_trajectory(eps, (20, 2), s, generator=torch.Generator().manual_seed(0), progress=False, frames=3)
    html = dplot.reverse_animation_2d(traj.xs, traj.ts).data
    assert "<img" in html or "data:image/png" in html
    assert "cdnjs" not in html and "font-awesome" not in html
    images = torch.rand(4, 3, 1, 8, 8) * 2 - 1
    assert "cdnjs" not in dplot.reverse_animation_images(images, torch.tensor([100, 50, 0, 0]), nrow=3).data
    dplot.reverse_strip_images(images, torch.tensor([100, 50, 0, 0]), n_images=2, n_frames=3)
    plt.close("all")


def test_diffusion_animations_pass_the_poster_frame_through():
    """poster=-1 opens the players on their last frame (the samples), not on pure noise."""
    import matplotlib.pyplot as plt

    from genedu.plot import diffusion as dplot

    xs, ts = torch.randn(3, 10, 2), torch.tensor([100, 50, 0])
    assert ".set_frame(2);" in dplot.reverse_animation_2d(xs, ts, poster=-1).data
    assert ".set_frame(2);" not in dplot.reverse_animation_2d(xs, ts).data
    images = torch.rand(3, 2, 1, 8, 8) * 2 - 1
    assert ".set_frame(2);" in dplot.reverse_animation_images(images, ts, nrow=2, poster=-1).data
    with pytest.raises(ValueError, match="poster"):
        dplot.reverse_animation_2d(xs, ts, poster=3)
    plt.close("all")


def test_ddim_clip_x0_keeps_samples_in_range_and_is_exact_inside_it():
    s = linear(100)
    far = D.gaussian_optimal_eps(torch.tensor([3.0, -3.0]), torch.eye(2), s)
    x = D.ddim_sample(far, (200, 2), s, steps=10, clip_x0=True, generator=torch.Generator().manual_seed(0), progress=False)
    assert float(x.abs().max()) <= 1.0 + 1e-6
    near = D.gaussian_optimal_eps(torch.zeros(2), 0.01 * torch.eye(2), s)     # x0_hat stays inside [-1, 1]
    a = D.ddim_sample(near, (50, 2), s, steps=10, clip_x0=True, generator=torch.Generator().manual_seed(1), progress=False)
    b = D.ddim_sample(near, (50, 2), s, steps=10, generator=torch.Generator().manual_seed(1), progress=False)
    torch.testing.assert_close(a, b)


def test_train_denoiser_records_blocks_and_calls_back_each_step():
    """genedu.train.loop's shape: the history holds one entry per block of log_every steps (the last block may be
    shorter), and the callback sees every step."""
    x0, _ = __import__("genedu").data.swiss_roll(256, seed=0)
    seen = []
    history = D.train_denoiser(MLPDenoiser(width=8, blocks=1), x0, D.Schedule(D.linear_beta_schedule(20)), steps=5,
                               batch_size=16, log_every=2, device="cpu", progress=False,
                               callback=lambda step, model, h: seen.append((step, list(h["step"]))))
    assert history["step"] == [2, 4, 5] and len(history["loss"]) == 3
    assert seen == [(1, []), (2, [2]), (3, [2]), (4, [2, 4]), (5, [2, 4, 5])]
    with pytest.raises(TypeError, match="callback"):
        D.train_denoiser(MLPDenoiser(width=8, blocks=1), x0, D.Schedule(D.linear_beta_schedule(20)), steps=1,
                         callback=3, progress=False)
