"""Tests of genedu.gan and genedu.gan_theory (chapter 4), each against an independent computation:
torch's binary cross-entropy, the direct log formulas, autograd, closed forms, scipy's Jensen-Shannon
distance and Monte Carlo estimates."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genedu import gan

# --------------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------------


def _logits(n, scale=3.0, seed=0):
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed))


def test_discriminator_loss_is_binary_cross_entropy_real_one_fake_zero():
    real, fake = _logits(7, seed=1), _logits(5, seed=2)
    want = (F.binary_cross_entropy_with_logits(real, torch.ones(7))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros(5)))
    torch.testing.assert_close(gan.discriminator_loss(real, fake), want)
    # the direct formula -mean log D(x) - mean log(1 - D(G(z)))
    direct = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    torch.testing.assert_close(gan.discriminator_loss(real, fake), direct)
    # (B, 1) logits give the same value
    torch.testing.assert_close(gan.discriminator_loss(real[:, None], fake[:, None]), want)


def test_generator_losses_match_the_direct_formulas():
    fake = _logits(9, scale=2.0, seed=3)
    d = torch.sigmoid(fake)
    torch.testing.assert_close(gan.generator_loss_saturating(fake), torch.log(1 - d).mean())
    torch.testing.assert_close(gan.generator_loss_nonsaturating(fake), -torch.log(d).mean())
    torch.testing.assert_close(gan.generator_loss_nonsaturating(fake),
                               F.binary_cross_entropy_with_logits(fake, torch.ones(9)))


def test_losses_stay_finite_for_large_logits():
    big = torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    for loss in (gan.discriminator_loss(big, big), gan.generator_loss_saturating(big),
                 gan.generator_loss_nonsaturating(big)):
        assert torch.isfinite(loss)
        (grad,) = torch.autograd.grad(loss, big)
        assert torch.isfinite(grad).all()
    torch.testing.assert_close(gan.generator_loss_nonsaturating(torch.tensor([-1000.0])), torch.tensor(1000.0))


def test_generator_loss_gradients_saturate_and_do_not():
    """d/dl of log(1 - sigmoid(l)) is -sigmoid(l): tiny when D rejects the fakes; -(1 - sigmoid(l)) is not."""
    fake = torch.tensor([-8.0, -2.0, 0.0, 3.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(gan.generator_loss_saturating(fake), fake)
    (g_ns,) = torch.autograd.grad(gan.generator_loss_nonsaturating(fake), fake)
    d = torch.sigmoid(fake.detach())
    torch.testing.assert_close(g_sat, -d / 4)
    torch.testing.assert_close(g_ns, -(1 - d) / 4)
    assert abs(g_sat[0]) < 1e-3 < abs(g_ns[0])


@pytest.mark.parametrize("bad, err", [([1.0, 2.0], TypeError), (torch.tensor([1, 2]), TypeError),
                                      (torch.zeros(0), ValueError)])
def test_losses_validate_their_input(bad, err):
    with pytest.raises(err, match="fake_logits"):
        gan.generator_loss_nonsaturating(bad)
    with pytest.raises(err, match="real_logits"):
        gan.discriminator_loss(bad, torch.zeros(3))


# --------------------------------------------------------------------------------------------------
# one step of each player, and Algorithm 1
# --------------------------------------------------------------------------------------------------

def _models(seed=0, latent_dim=2, dim=2):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(latent_dim, 16), nn.ReLU(), nn.Linear(16, dim))
    D = nn.Sequential(nn.Linear(dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return G, D


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_discriminator_step_changes_only_the_discriminator():
    G, D = _models()
    d_opt = torch.optim.SGD(D.parameters(), lr=0.1)
    x, z = torch.randn(8, 2), torch.randn(8, 2)
    G0, D0 = _params(G), _params(D)
    logs = gan.discriminator_step(G, D, d_opt, x, z)
    assert _same(_params(G), G0) and all(p.grad is None for p in G.parameters())
    assert not _same(_params(D), D0)
    # the step is one SGD step on the discriminator loss, computed independently
    D_ref = copy.deepcopy(D)
    with torch.no_grad():
        for p, p0 in zip(D_ref.parameters(), D0):
            p.copy_(p0)
    loss = gan.discriminator_loss(D_ref(x).squeeze(1), D_ref(G(z).detach()).squeeze(1))
    grads = torch.autograd.grad(loss, list(D_ref.parameters()))
    for p, p0, gr in zip(D.parameters(), D0, grads):
        torch.testing.assert_close(p.detach(), p0 - 0.1 * gr)
    assert logs["d_loss"] == pytest.approx(loss.item(), rel=1e-6)
    assert logs["d_real"] == pytest.approx(torch.sigmoid(D_ref(x)).mean().item(), rel=1e-6)


@pytest.mark.parametrize("loss", ["saturating", "non-saturating"])
def test_generator_step_changes_only_the_generator(loss):
    G, D = _models(1)
    g_opt = torch.optim.SGD(G.parameters(), lr=0.1)
    z = torch.randn(8, 2)
    G0, D0 = _params(G), _params(D)
    G_ref = copy.deepcopy(G)
    logs = gan.generator_step(G, D, g_opt, z, loss=loss)
    assert _same(_params(D), D0) and all(p.grad is None for p in D.parameters())
    assert all(p.requires_grad for p in D.parameters())
    fn = gan.generator_loss_saturating if loss == "saturating" else gan.generator_loss_nonsaturating
    ref_loss = fn(D(G_ref(z)).squeeze(1))
    grads = torch.autograd.grad(ref_loss, list(G_ref.parameters()))
    for p, p0, gr in zip(G.parameters(), G0, grads):
        torch.testing.assert_close(p.detach(), p0 - 0.1 * gr)
    assert logs["g_loss"] == pytest.approx(ref_loss.item(), rel=1e-6)


def test_train_gan_takes_k_discriminator_steps_per_generator_step(monkeypatch):
    G, D = _models()
    owner = {id(p): "G" for p in G.parameters()} | {id(p): "D" for p in D.parameters()}
    calls = []
    real_step = torch.optim.Adam.step

    def counting_step(self, *args, **kwargs):
        calls.append(owner[id(self.param_groups[0]["params"][0])])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counting_step)
    seen = []
    D.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().clone()))
    data = torch.randn(200, 2)
    history = gan.train_gan(G, D, data, latent_dim=2, steps=4, k=3, batch_size=16, progress=False)
    assert calls == (["D"] * 3 + ["G"]) * 4
    assert len(history["d_loss"]) == len(history["g_loss"]) == len(history["d_real"]) == 4
    # each D step sees (real, fake) and each G step sees fake: 3 * 2 + 1 forward calls per iteration;
    # the three real minibatches of an iteration are fresh (different) draws from the data
    reals = [seen[i * 7 + 2 * j] for i in range(4) for j in range(3)]
    assert all(any(torch.equal(r[0], d) for d in data) for r in reals)
    assert all(not torch.equal(reals[a], reals[b]) for a in range(3) for b in range(a + 1, 3))
    assert not G.training and not D.training


def test_train_gan_gives_the_discriminator_its_own_learning_rate():
    """One iteration, k = 1: Adam's first step moves each parameter by about lr (|m / sqrt(v)| = 1 at step 1),
    so the largest change of D's parameters is d_lr and G's is lr."""
    G, D = _models(1)
    G0 = [p.detach().clone() for p in G.parameters()]
    D0 = [p.detach().clone() for p in D.parameters()]
    gan.train_gan(G, D, torch.randn(64, 2), latent_dim=2, steps=1, batch_size=32, lr=1e-2, d_lr=1e-4,
                  betas=(0.0, 0.0), progress=False, device="cpu")
    g_move = max(float((p.detach() - p0).abs().max()) for p, p0 in zip(G.parameters(), G0))
    d_move = max(float((p.detach() - p0).abs().max()) for p, p0 in zip(D.parameters(), D0))
    assert g_move == pytest.approx(1e-2, rel=1e-3) and d_move == pytest.approx(1e-4, rel=1e-3)


def test_train_gan_is_deterministic_given_the_seed_and_the_models():
    G, D = _models(3)
    runs = []
    for seed in (5, 5, 6):
        g, d = copy.deepcopy(G), copy.deepcopy(D)
        runs.append(gan.train_gan(g, d, torch.randn(100, 2, generator=torch.Generator().manual_seed(0)), 2,
                                  steps=6, batch_size=32, seed=seed, progress=False, device="cpu"))
    assert runs[0]["d_loss"] == runs[1]["d_loss"] and runs[0]["g_loss"] == runs[1]["g_loss"]
    assert runs[0]["d_loss"] != runs[2]["d_loss"]


def test_train_gan_snapshots_callback_and_history():
    G, D = _models(4)
    steps_seen = []
    history = gan.train_gan(G, D, torch.randn(100, 2), 2, steps=10, batch_size=20, snapshot_every=4, n_snapshot=5,
                            callback=lambda s, g, d, h: steps_seen.append((s, len(h["g_loss"]))), progress=False)
    assert [s for s, _ in history["snapshots"]] == [0, 4, 8, 10]
    assert all(x.shape == (5, 2) and x.device.type == "cpu" for _, x in history["snapshots"])
    assert steps_seen == [(s, s) for s in range(1, 11)]
    # the snapshots use a fixed noise batch: the final one is the final generator applied to it
    assert not torch.equal(history["snapshots"][0][1], history["snapshots"][-1][1])
    assert all(0 < d < 1 for d in history["d_real"] + history["d_fake"])


class _CondG(nn.Module):
    def __init__(self, n_classes=3, latent_dim=2):
        super().__init__()
        self.embed = nn.Embedding(n_classes, 3)
        self.net = nn.Linear(latent_dim + 3, 2)
        self.labels = []

    def forward(self, z, y):
        self.labels.append(y.clone())
        return self.net(torch.cat([z, self.embed(y)], dim=1))


class _CondD(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.embed = nn.Embedding(n_classes, 3)
        self.net = nn.Linear(5, 1)

    def forward(self, x, y):
        return self.net(torch.cat([x, self.embed(y)], dim=1)).squeeze(1)


@pytest.mark.parametrize("as_dataset", [False, True])
def test_train_gan_conditional_path(as_dataset):
    torch.manual_seed(0)
    x, y = torch.randn(60, 2), torch.arange(60) % 3
    data = torch.utils.data.TensorDataset(x, y) if as_dataset else (x, y)
    G, D = _CondG(), _CondD()
    history = gan.train_gan(G, D, data, 2, steps=3, k=2, batch_size=12, conditional=True, snapshot_every=3,
                            n_snapshot=7, progress=False)
    assert len(history["g_loss"]) == 3
    # fixed snapshot labels 0, 1, 2, 0, 1, 2, 0
    assert torch.equal(G.labels[0], torch.tensor([0, 1, 2, 0, 1, 2, 0]))
    assert history["snapshots"][-1][1].shape == (7, 2)
    assert all(int(lab.max()) < 3 for lab in G.labels)


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, x, y=None):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] if self.y is None else (self.x[i], int(self.y[i]))


def test_train_gan_accepts_a_generic_dataset():
    G, D = _models(5)
    h = gan.train_gan(G, D, _ListDataset(torch.randn(50, 2)), 2, steps=3, batch_size=10, progress=False)
    assert len(h["d_loss"]) == 3
    h = gan.train_gan(_CondG(), _CondD(), _ListDataset(torch.randn(50, 2), torch.arange(50) % 3), 2, steps=2,
                      batch_size=10, conditional=True, n_snapshot=4, snapshot_every=1, progress=False)
    assert len(h["snapshots"]) == 3


def test_train_gan_custom_discriminator_loss_hook():
    G, D = _models(6)

    def wasserstein(d, x, fake, rng):
        real_score, fake_score = d(x).mean(), d(fake).mean()
        return fake_score - real_score, {"w_distance": (real_score - fake_score).item()}

    h = gan.train_gan(G, D, torch.randn(64, 2), 2, steps=3, batch_size=16, discriminator_loss=wasserstein,
                      generator_loss=lambda d, x, fake: -d(fake).mean(), progress=False)
    assert len(h["w_distance"]) == 3 and "d_real" not in h


@pytest.mark.parametrize("kwargs, err, name", [
    (dict(steps=0), ValueError, "steps"), (dict(k=0), ValueError, "k"), (dict(k=1.5), TypeError, "k"),
    (dict(batch_size=500), ValueError, "batch_size"), (dict(lr=-1.0), ValueError, "lr"),
    (dict(d_lr=0.0), ValueError, "d_lr"),
    (dict(betas=(0.5,)), ValueError, "betas"), (dict(generator_loss="minimax"), ValueError, "generator_loss"),
    (dict(snapshot_every=0), ValueError, "snapshot_every"), (dict(callback=3), TypeError, "callback"),
    (dict(latent_dim=0), ValueError, "latent_dim"), (dict(seed=-1), ValueError, "seed"),
    (dict(conditional=True), ValueError, "conditional"), (dict(data=[1, 2]), TypeError, "data"),
])
def test_train_gan_validates_its_arguments(kwargs, err, name):
    G, D = _models()
    args = dict(generator=G, discriminator=D, data=torch.randn(100, 2), latent_dim=2, steps=2, progress=False)
    args.update(kwargs)
    with pytest.raises(err, match=name):
        gan.train_gan(**args)


def test_train_gan_rejects_wrong_discriminator_output_and_non_modules():
    G, _ = _models()
    D = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="discriminator must return logits of shape"):
        gan.train_gan(G, D, torch.randn(100, 2), 2, steps=1, progress=False)
    with pytest.raises(TypeError, match="generator"):
        gan.train_gan(lambda z: z, D, torch.randn(100, 2), 2, steps=1, progress=False)


def test_train_gan_learns_a_2d_gaussian():
    """A real (small) run: the generator's samples move to the data's mean and spread."""
    G, D = _models(7)
    data = torch.randn(2000, 2, generator=torch.Generator().manual_seed(1)) * 0.5 + torch.tensor([2.0, -1.0])
    h = gan.train_gan(G, D, data, 2, steps=600, batch_size=128, lr=2e-3, snapshot_every=600, n_snapshot=2000,
                      progress=False)
    samples = h["snapshots"][-1][1]
    assert torch.allclose(samples.mean(0), torch.tensor([2.0, -1.0]), atol=0.25)
    assert torch.allclose(samples.std(0), torch.tensor([0.5, 0.5]), atol=0.25)
    assert math.isfinite(h["d_loss"][-1])


# --------------------------------------------------------------------------------------------------
# the 1D game: optimal discriminator, value at the optimum, JSD
# --------------------------------------------------------------------------------------------------

from scipy.spatial.distance import jensenshannon  # noqa: E402
from scipy.stats import gaussian_kde  # noqa: E402
from torch.distributions import Normal  # noqa: E402

from genedu import density, gan_theory  # noqa: E402

X = torch.linspace(-12.0, 14.0, 8001, dtype=torch.float64)
P_DATA, P_G = Normal(torch.tensor(2.0, dtype=torch.float64), 0.5), Normal(torch.tensor(0.0, dtype=torch.float64), 1.5)


def test_optimal_discriminator_is_the_density_ratio():
    p, q = P_DATA.log_prob(X).exp(), P_G.log_prob(X).exp()
    d = gan_theory.optimal_discriminator(P_DATA.log_prob(X), P_G.log_prob(X))
    inside = (p + q) > 1e-300
    torch.testing.assert_close(d[inside], (p / (p + q))[inside])
    # callables give the same values, and far in the tails (both densities underflow) it stays exact
    torch.testing.assert_close(gan_theory.optimal_discriminator(P_DATA.log_prob, P_G.log_prob, X), d)
    assert 0 <= float(d.min()) and float(d.max()) <= 1 and torch.isfinite(d).all()
    inf = torch.tensor([-math.inf, 0.0, -math.inf])
    torch.testing.assert_close(gan_theory.optimal_discriminator(inf, torch.tensor([-math.inf, -math.inf, 0.0])),
                               torch.tensor([0.5, 1.0, 0.0]))


def test_optimal_discriminator_maximises_the_value():
    a, b = P_DATA.log_prob(X), P_G.log_prob(X)
    d_star = gan_theory.optimal_discriminator(a, b)
    best = gan_theory.gan_value(a, b, d_star, X)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        logit = torch.logit(d_star.clamp(1e-12, 1 - 1e-12)) + 0.3 * torch.randn(len(X), generator=g, dtype=X.dtype)
        assert gan_theory.gan_value(a, b, torch.sigmoid(logit), X) < best


def test_gan_value_matches_a_monte_carlo_estimate():
    """V(G, D) = E_data log D(x) + E_g log(1 - D(x)) estimated with samples, for an arbitrary D."""
    def d(x):
        return torch.sigmoid(1.3 * x - 0.7)
    exact = gan_theory.gan_value(P_DATA.log_prob, P_G.log_prob, d, X)
    torch.manual_seed(0)
    n = 400_000
    mc = torch.log(d(P_DATA.sample((n,)))).mean() + torch.log(1 - d(P_G.sample((n,)))).mean()
    assert abs(float(exact) - float(mc)) < 0.01


def test_value_at_optimum_is_minus_log4_plus_twice_the_jsd():
    a, b = P_DATA.log_prob(X), P_G.log_prob(X)
    jsd = gan_theory.jensen_shannon(a, b, X)
    value = gan_theory.value_at_optimum(a, b, X)
    torch.testing.assert_close(value, -math.log(4) + 2 * jsd)
    torch.testing.assert_close(value, gan_theory.gan_value(a, b, gan_theory.optimal_discriminator(a, b), X))
    # scipy's Jensen-Shannon distance (the square root of the divergence) on the discretised densities
    dx = float(X[1] - X[0])
    want = jensenshannon((a.exp() * dx).numpy(), (b.exp() * dx).numpy()) ** 2
    assert float(jsd) == pytest.approx(want, rel=1e-4)
    # the extremes: identical densities (global optimum) and disjoint ones
    torch.testing.assert_close(gan_theory.value_at_optimum(a, a, X), torch.tensor(-math.log(4), dtype=X.dtype))
    torch.testing.assert_close(gan_theory.jensen_shannon(a, a, X), torch.tensor(0.0, dtype=X.dtype))
    u = torch.linspace(0, 4, 4001, dtype=torch.float64)
    left = torch.where(u < 2, torch.tensor(-math.log(2.0), dtype=u.dtype), torch.tensor(-math.inf, dtype=u.dtype))
    right = torch.flip(left, [0])
    assert float(gan_theory.jensen_shannon(left, right, u)) == pytest.approx(math.log(2), abs=2e-3)
    assert float(gan_theory.value_at_optimum(left, right, u)) == pytest.approx(0.0, abs=4e-3)


def test_kde_matches_scipy():
    samples = torch.randn(300, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.linspace(-4, 4, 50, dtype=torch.float64)
    ours = density.kde_log_density(samples, x, bandwidth=0.4).exp()
    theirs = gaussian_kde(samples.numpy(), bw_method=0.4 / samples.std().item())(x.numpy())
    np_ours = ours.numpy()
    assert abs(np_ours - theirs).max() < 1e-3
    assert float(torch.trapezoid(density.kde_log_density(samples[:, None], X).exp(), X)) == pytest.approx(1, abs=1e-6)


def test_toy_functions_validate_their_arguments():
    with pytest.raises(ValueError, match="x is needed"):
        gan_theory.optimal_discriminator(P_DATA.log_prob, P_G.log_prob)
    with pytest.raises(ValueError, match="x must be increasing"):
        gan_theory.jensen_shannon(P_DATA.log_prob, P_G.log_prob, X.flip(0))
    with pytest.raises(ValueError, match="log_p_g must have the shape of x"):
        gan_theory.value_at_optimum(P_DATA.log_prob(X), P_G.log_prob(X[:5]), X)
    with pytest.raises(ValueError, match="d must hold"):
        gan_theory.gan_value(P_DATA.log_prob, P_G.log_prob, torch.full_like(X, 1.5), X)
    with pytest.raises(TypeError, match="log_p"):
        gan_theory.jensen_shannon([0.0, 1.0], [0.0, 1.0], torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="x_range"):
        gan_theory.game_1d(x_range=(1.0, 0.0))


def test_game_1d_brings_p_g_to_p_data():
    out = gan_theory.game_1d(steps=600, snapshot_every=100, n_samples=1000, progress=False)
    frames = out["frames"]
    assert [f["step"] for f in frames] == [0, 100, 200, 300, 400, 500, 600]
    assert all(f["log_p_g"].shape == out["x"].shape == f["d"].shape == f["d_star"].shape for f in frames)
    # from log 2 (no overlap) down to the level where the players oscillate (about 0.02 to 0.2)
    assert frames[0]["jsd"] > 0.5 and min(f["jsd"] for f in frames[2:]) < 0.1
    assert max(f["jsd"] for f in frames[2:]) < 0.3
    # the discriminator is near 1/2 where the data are once the generator has caught up
    near = (out["x"] - 2).abs() < 0.5
    assert float((frames[-1]["d"][near] - 0.5).abs().mean()) < 0.2
    assert len(out["history"]["g_loss"]) == 600


def test_bilinear_game_simultaneous_spirals_out_alternating_stays_bounded():
    lr, steps = 0.2, 50
    path = gan_theory.bilinear_game(steps, lr, (1.0, 0.5))
    radius = path.norm(dim=1)
    # each simultaneous step multiplies the distance to (0, 0) by sqrt(1 + lr^2), checked against autograd
    torch.testing.assert_close(radius, radius[0] * (1 + lr**2) ** (torch.arange(steps + 1, dtype=torch.float64) / 2))
    xy = path[3].clone().requires_grad_(True)
    gx, gy = torch.autograd.grad(xy[0] * xy[1], xy)[0]
    torch.testing.assert_close(path[4], torch.stack([xy[0] - lr * gx, xy[1] + lr * gy]).detach())
    alt = gan_theory.bilinear_game(2000, lr, (1.0, 0.5), alternating=True)
    assert float(alt.norm(dim=1).max()) < 2 * float(alt[0].norm()) and float(alt.norm(dim=1).min()) > 0.3


def _scipy_divergences(mu, sigma, m=2.0, s=0.5):
    """KL(p_g || p_data) and JSD(p_data || p_g) of two Gaussians by scipy quadrature (no torch)."""
    import numpy as np
    from scipy import integrate, stats
    p, q = stats.norm(m, s), stats.norm(mu, sigma)
    lo, hi = min(m - 12 * s, mu - 12 * sigma), max(m + 12 * s, mu + 12 * sigma)

    def js_integrand(x):
        a, b = p.pdf(x), q.pdf(x)
        mid = (a + b) / 2
        return 0.5 * (a * np.log(a / mid) if a > 0 else 0.0) + 0.5 * (b * np.log(b / mid) if b > 0 else 0.0)
    jsd = integrate.quad(js_integrand, lo, hi, points=[m, mu], limit=400, epsabs=1e-13)[0]
    kl = integrate.quad(lambda x: q.pdf(x) * (q.logpdf(x) - p.logpdf(x)), lo, hi, points=[m, mu],
                        limit=400, epsabs=1e-13)[0]
    return kl, jsd


@pytest.mark.parametrize("theta", [(0.0, 1.0), (2.0, 1.0), (2.0, 0.25), (3.0, 0.8)])
def test_generator_gradients_follow_jsd_and_reverse_kl_minus_jsd(theta):
    """Arjovsky & Bottou (2017), Theorem 2.5: against the optimal discriminator of theta_0, held fixed, the
    non-saturating loss's expected gradient is grad [KL(p_g || p_data) - 2 JSD], the saturating loss's is
    grad 2 JSD. Checked against central finite differences of the divergences computed by scipy, and of the
    losses' expectations computed by scipy from the fixed D*."""
    import numpy as np
    from scipy import integrate, stats
    mu, sigma = theta
    got = gan_theory.gaussian_generator_gradients(mu, sigma)
    h = 1e-4
    fd_kl, fd_jsd = np.zeros(2), np.zeros(2)
    fd_sat, fd_ns = np.zeros(2), np.zeros(2)
    log_ratio = lambda x: stats.norm(mu, sigma).logpdf(x) - stats.norm(2.0, 0.5).logpdf(x)  # D* of theta_0
    for i in range(2):
        e = np.eye(2)[i] * h
        (kl_p, js_p), (kl_m, js_m) = _scipy_divergences(*(np.array(theta) + e)), _scipy_divergences(
            *(np.array(theta) - e))
        fd_kl[i], fd_jsd[i] = (kl_p - kl_m) / (2 * h), (js_p - js_m) / (2 * h)
        vals = {}
        for sign in (1, -1):
            m_, s_ = np.array(theta) + sign * e
            # E_z log(1 - D*(m_ + s_ z)) and E_z -log D*(m_ + s_ z), log D* = -softplus(log_ratio)
            sat = integrate.quad(lambda z: stats.norm.pdf(z) * -np.logaddexp(0, -log_ratio(m_ + s_ * z)),
                                 -12, 12, limit=400, epsabs=1e-13)[0]
            ns = integrate.quad(lambda z: stats.norm.pdf(z) * np.logaddexp(0, log_ratio(m_ + s_ * z)),
                                -12, 12, limit=400, epsabs=1e-13)[0]
            vals[sign] = (sat, ns)
        fd_sat[i] = (vals[1][0] - vals[-1][0]) / (2 * h)
        fd_ns[i] = (vals[1][1] - vals[-1][1]) / (2 * h)
    tol = dict(atol=2e-4, rtol=1e-4)
    np.testing.assert_allclose(got["saturating"].numpy(), fd_sat, **tol)
    np.testing.assert_allclose(got["non_saturating"].numpy(), fd_ns, **tol)
    np.testing.assert_allclose(got["two_jsd"].numpy(), 2 * fd_jsd, **tol)
    np.testing.assert_allclose(got["reverse_kl"].numpy(), fd_kl, **tol)
    np.testing.assert_allclose(got["kl_minus_two_jsd"].numpy(), fd_kl - 2 * fd_jsd, **tol)
    # the theorem itself, in scipy's numbers
    np.testing.assert_allclose(fd_sat, 2 * fd_jsd, **tol)
    np.testing.assert_allclose(fd_ns, fd_kl - 2 * fd_jsd, **tol)
    # and the two losses do follow different divergences here
    assert np.abs(fd_ns - 2 * fd_jsd).max() > 0.1


def test_generator_gradients_validate_their_arguments():
    with pytest.raises(ValueError, match="sigma"):
        gan_theory.gaussian_generator_gradients(0.0, 0.0)
    with pytest.raises(ValueError, match="data_std"):
        gan_theory.gaussian_generator_gradients(0.0, 1.0, data_std=-1.0)


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------

def test_generator_loss_curves_plot_the_losses_and_their_gradients():
    import matplotlib.pyplot as plt

    from genedu.plot import gan as gan_plot
    ax_l, ax_g = gan_plot.generator_loss_curves(n=50)
    (sat_l, ns_l), (sat_g, ns_g) = ax_l.get_lines(), ax_g.get_lines()[:2]
    d = sat_l.get_xdata()
    np_ = __import__("numpy")
    np_.testing.assert_allclose(sat_l.get_ydata(), np_.log(1 - d), rtol=1e-6, atol=1e-9)
    np_.testing.assert_allclose(ns_l.get_ydata(), -np_.log(d), rtol=1e-6)
    np_.testing.assert_allclose(sat_g.get_ydata(), -d, rtol=1e-6)
    np_.testing.assert_allclose(ns_g.get_ydata(), -(1 - d), rtol=1e-6, atol=1e-12)
    plt.close("all")


def test_game_1d_figures_and_animation_are_self_contained():
    import matplotlib.pyplot as plt

    from genedu.plot import gan as gan_plot
    game = gan_theory.game_1d(steps=20, snapshot_every=10, n_samples=200, progress=False)
    ax = gan_plot.game_1d_frame(game, 1)
    assert "step 10" in ax.get_title()
    html = gan_plot.game_1d_animation(game, dpi=30).data
    assert html.count("data:image/png;base64") >= 3 and "cdnjs" not in html and "font-awesome" not in html
    axes = gan_plot.gan_history(game["history"], smooth=5)
    assert len(axes[0].get_lines()) == 4 and len(axes[1].get_lines()) >= 4
    gan_plot.bilinear_paths({"simultaneous": gan_theory.bilinear_game(10)})
    with pytest.raises(TypeError, match="game"):
        gan_plot.game_1d_frame({"x": 1})
    with pytest.raises(TypeError, match="history"):
        gan_plot.gan_history({"loss": [1.0]})
    plt.close("all")


def test_mlp_players_seeded_without_touching_the_global_rng():
    state = torch.random.get_rng_state()
    g, d = gan.mlp_players([2, 8, 3], [3, 8, 1], seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    g2, d2 = gan.mlp_players([2, 8, 3], [3, 8, 1], seed=4)
    for a, b in zip(list(g.parameters()) + list(d.parameters()), list(g2.parameters()) + list(d2.parameters())):
        torch.testing.assert_close(a, b)
    assert not torch.equal(gan.mlp_players([2, 8, 3], [3, 8, 1], seed=5)[0][0].weight, g[0].weight)
    assert isinstance(g[1], torch.nn.ReLU) and isinstance(d[1], torch.nn.LeakyReLU) and d[1].negative_slope == 0.2
    assert g(torch.randn(5, 2)).shape == (5, 3) and d(torch.randn(5, 3)).shape == (5, 1)
    with pytest.raises(ValueError, match="seed"):
        gan.mlp_players([2, 3], [3, 1], seed=-1)


def test_mlp_players_unseeded_draw_from_the_global_rng():
    """seed=None draws fresh weights from the global generator (and advances it), like a plain nn.Linear;
    it used to restore the global state afterwards, so that every unseeded call returned the same weights."""
    torch.manual_seed(0)
    g1, d1 = gan.mlp_players([2, 8, 3], [3, 8, 1], seed=None)
    g2, d2 = gan.mlp_players([2, 8, 3], [3, 8, 1], seed=None)
    assert not torch.equal(g1[0].weight, g2[0].weight) and not torch.equal(d1[0].weight, d2[0].weight)
    torch.manual_seed(0)
    again, _ = gan.mlp_players([2, 8, 3], [3, 8, 1], seed=None)
    torch.testing.assert_close(again[0].weight, g1[0].weight)  # reproducible through the global seed
    from experiments.mode_collapse import players
    assert not torch.equal(players(hidden=(8,), seed=None)[0][0].weight, players(hidden=(8,), seed=None)[0][0].weight)
