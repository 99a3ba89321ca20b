"""Tests of genedu.diffusion, genedu.denoisers and genedu.metrics (chapter 7), each against an independent
computation: numpy/loop versions of the papers' formulas, Bayes' rule for Gaussians, least-squares
regression, the exact moments of a linear-Gaussian chain, scipy's Wasserstein distance, double loops."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from genedu import diffusion as D
from genedu import metrics
from genedu.denoisers import DIGITS_CHECKPOINT, MLPDenoiser, UNetDenoiser, load_digits_denoiser, timestep_embedding

MEAN = torch.tensor([1.0, -2.0])
COV = torch.tensor([[2.0, 0.6], [0.6, 0.5]])


def linear(T=1000):
    return D.make_schedule(D.linear_beta_schedule(T))


def cosine(T=1000):
    return D.make_schedule(D.cosine_beta_schedule(T))


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
    sched = D.make_schedule(betas)
    t = torch.arange(1, 1001, dtype=torch.float64)
    f = torch.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    np.testing.assert_allclose(sched.alphas_cumprod[:-1].numpy(), f[:-1].numpy(), rtol=1e-9)


def test_make_schedule_quantities_by_loops():
    betas = D.linear_beta_schedule(20, 0.01, 0.3)
    s = D.make_schedule(betas)
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
    assert s.T == 20 and float(s.posterior_variance[0]) == 0.0
    assert torch.allclose(D.snr(s), s.alphas_cumprod / (1 - s.alphas_cumprod))


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
    model = MLPDenoiser(hidden=16, blocks=1)
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
        probe = torch.randn(6, 2, dtype=torch.float64)
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
        torch.testing.assert_close(D.p_sample_step(eps_model, x, t, s, z), want)
    # with the posterior variance, the reverse mean is the posterior mean at the predicted x_0
    t = 300
    e = eps_model(x, torch.full((4,), t))
    x0_hat = D.predict_x0_from_eps(x, torch.full((4,), t), e, s)
    mean, var = D.q_posterior_mean_variance(x0_hat, x, torch.full((4,), t), s)
    torch.testing.assert_close(D.p_sample_step(eps_model, x, t, s, z, variance="posterior"), mean + var.sqrt() * z)


def test_samplers_return_frames():
    s = linear(100)
    eps = D.gaussian_optimal_eps(MEAN, COV, s)
    x, xs, ts = D.ddpm_sample(eps, (7, 2), s, generator=torch.Generator().manual_seed(0), progress=False, frames=10)
    assert xs.shape == (11, 7, 2) and ts[0] == 100 and ts[-1] == 0 and torch.equal(xs[-1], x)
    assert bool((ts[1:] < ts[:-1]).all())
    x, xs, ts = D.ddim_sample(eps, (7, 2), s, steps=20, generator=torch.Generator().manual_seed(0), progress=False, frames=5)
    assert xs.shape == (6, 7, 2) and ts[-1] == 0 and torch.equal(xs[-1], x)


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
        D.make_schedule(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="cov"):
        D.gaussian_optimal_eps(MEAN, torch.tensor([[1.0, 2.0], [2.0, 1.0]]), s)
    with pytest.raises(ValueError, match="variance"):
        D.ddpm_sample(D.gaussian_optimal_eps(MEAN, COV, s), (3, 2), s, variance="large", progress=False)
    with pytest.raises(ValueError, match="steps"):
        D.ddim_sample(D.gaussian_optimal_eps(MEAN, COV, s), (3, 2), s, steps=11, progress=False)


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
    model = MLPDenoiser(hidden=32, blocks=2)
    history = D.train_denoiser(model, x0, s, steps=400, batch_size=128, lr=3e-3, device="cpu", progress=False)
    assert history["loss"][-1] < history["loss"][0]
    big = MEAN + torch.randn(20000, 2, generator=g) @ torch.linalg.cholesky(COV).T
    with torch.no_grad():
        learned = float(D.diffusion_loss(model, big, s, generator=torch.Generator().manual_seed(1)))
    optimal = float(D.diffusion_loss(D.gaussian_optimal_eps(MEAN, COV, s), big, s, generator=torch.Generator().manual_seed(1)))
    assert learned < optimal + 0.05


@pytest.mark.skipif(not DIGITS_CHECKPOINT.exists(), reason="the digits checkpoint is not built")
def test_shipped_digits_denoiser_denoises():
    from genedu import data

    model, meta = load_digits_denoiser()
    s = D.make_schedule(D.linear_beta_schedule(meta["T"], meta["beta_start"], meta["beta_end"]))
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
    _, xs, ts = D.ddpm_sample(eps, (20, 2), s, generator=torch.Generator().manual_seed(0), progress=False, frames=3)
    html = dplot.reverse_animation_2d(xs, ts).data
    assert "<img" in html or "data:image/png" in html
    assert "cdnjs" not in html and "font-awesome" not in html
    images = torch.rand(4, 3, 1, 8, 8) * 2 - 1
    assert "cdnjs" not in dplot.reverse_animation_images(images, torch.tensor([100, 50, 0, 0]), nrow=3).data
    dplot.reverse_strip_images(images, torch.tensor([100, 50, 0, 0]), n_images=2, n_frames=3)
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
