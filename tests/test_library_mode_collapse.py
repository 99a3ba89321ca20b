"""Tests of genedu.metrics.mode_coverage, genedu.remedies, experiments.mode_collapse and the generator_loss hook of genedu.gan (chapter 6),
each against an independent computation: a brute-force Python count of hand-made samples, closed-form
gradients of linear and quadratic critics, an explicit loop of unrolled steps, and direct indexing."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from experiments import mode_collapse
from experiments.mode_collapse import benchmark_run, players
from genedu import data, gan, remedies
from genedu.metrics import PROTOCOL_SAMPLES, mode_coverage

# --------------------------------------------------------------------------------------------------
# mode coverage
# --------------------------------------------------------------------------------------------------


def _brute_force(samples, centers, std, threshold=3.0, min_count=1):
    """Pure-Python count: nearest centre by squared distance, high quality within threshold * std."""
    counts = [0] * len(centers)
    good = 0
    for s in samples.tolist():
        d2 = [sum((a - b) ** 2 for a, b in zip(s, c)) for c in centers.tolist()]
        j = min(range(len(d2)), key=d2.__getitem__)
        if math.sqrt(d2[j]) < threshold * std:
            counts[j] += 1
            good += 1
    return sum(c >= min_count for c in counts), good / len(samples), counts


def test_mode_coverage_hand_made_samples():
    centers = data.ring_centers()                      # radius 2, 8 modes
    std = 0.02
    # 3 samples at mode 0 (one at 2.9 std, in), 1 at mode 3 just outside 3 std, 2 at mode 5, 1 in between
    c0, c3, c5 = centers[0], centers[3], centers[5]
    samples = torch.stack([c0, c0 + torch.tensor([0.0, 2.9 * std]), c0 - torch.tensor([0.01, 0.0]),
                           c3 + torch.tensor([3.1 * std, 0.0]), c5, c5 + 0.01,
                           (c0 + centers[1]) / 2])
    out = mode_coverage(samples, centers, std)
    assert out.modes == 2
    assert out.high_quality == pytest.approx(5 / 7)
    assert out.counts.tolist() == [3, 0, 0, 0, 0, 2, 0, 0]
    modes, hq, counts = _brute_force(samples, centers, std)
    assert (out.modes, out.counts.tolist()) == (modes, counts) and out.high_quality == pytest.approx(hq)


@pytest.mark.parametrize("seed", [0, 1])
def test_mode_coverage_matches_brute_force_on_random_samples(seed):
    g = torch.Generator().manual_seed(seed)
    centers = data.grid_centers()
    std = 0.05
    # samples near a random subset of modes with a spread around the 3-std boundary, plus uniform noise
    idx = torch.randint(0, 25, (300,), generator=g) % 17
    samples = torch.cat([centers[idx] + 0.12 * torch.randn(300, 2, generator=g),
                         8 * torch.rand(100, 2, generator=g) - 4])
    for min_count in (1, 3):
        out = mode_coverage(samples, centers, std, min_count=min_count)
        modes, hq, counts = _brute_force(samples, centers, std, min_count=min_count)
        assert out.modes == modes and out.counts.tolist() == counts
        assert out.high_quality == pytest.approx(hq)


def test_mode_coverage_of_the_data_itself():
    """Real data: all modes, and the share within 3 std of a 2D Gaussian, 1 - exp(-9/2) = 0.9889."""
    x, _ = data.ring_of_gaussians(PROTOCOL_SAMPLES * 8, seed=0)
    out = mode_coverage(x, data.ring_centers(), 0.02)
    assert out.modes == 8
    assert out.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.004)
    x, _ = data.grid_of_gaussians(PROTOCOL_SAMPLES * 8, seed=1)
    assert mode_coverage(x, data.grid_centers(), 0.05).modes == 25


def test_mode_coverage_rejects_bad_input():
    c = data.ring_centers()
    with pytest.raises(ValueError, match="samples"):
        mode_coverage(torch.zeros(5, 3), c, 0.02)
    with pytest.raises(ValueError, match="std"):
        mode_coverage(torch.zeros(5, 2), c, -1.0)
    with pytest.raises(TypeError, match="samples"):
        mode_coverage([[0.0, 0.0]], c, 0.02)
    with pytest.raises(ValueError, match="centers"):
        mode_coverage(torch.zeros(5, 2), torch.zeros(0, 2), 0.02)


# --------------------------------------------------------------------------------------------------
# Wasserstein losses and the gradient penalty
# --------------------------------------------------------------------------------------------------


def test_wasserstein_losses():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[0.5], [-0.5]])
    assert remedies.wasserstein_critic_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert remedies.wasserstein_generator_loss(fake).item() == pytest.approx(0.0)
    assert remedies.wasserstein_generator_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_gradient_penalty_linear_critic_closed_form():
    """f(x) = w.x has gradient w everywhere: the penalty is (||w|| - 1)^2 whatever the interpolates."""
    w = torch.tensor([[3.0], [4.0]])
    critic = lambda x: x @ w  # noqa: E731
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert remedies.gradient_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2)


def test_gradient_penalty_quadratic_critic_on_given_interpolates():
    """f(x) = ||x||^2 / 2 has gradient x_hat: the penalty is mean (||x_hat|| - 1)^2 at x_hat = e x + (1-e) y."""
    g = torch.Generator().manual_seed(0)
    real, fake, eps = torch.randn(10, 3, generator=g), torch.randn(10, 3, generator=g), torch.rand(10, generator=g)
    critic = lambda x: 0.5 * (x ** 2).sum(1)  # noqa: E731
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    want = ((x_hat.norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(remedies.gradient_penalty(critic, real, fake, epsilon=eps), want)


def test_gradient_penalty_is_differentiable_in_the_critic_parameters():
    """d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| for a linear critic (double backpropagation)."""
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    gp = remedies.gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    torch.testing.assert_close(critic.weight.grad, 2 * (5.0 - 1.0) * torch.tensor([[3.0, 4.0]]) / 5.0)


def test_gradient_penalty_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        remedies.gradient_penalty(lambda x: x.sum(1), torch.zeros(4, 2), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="critic"):
        remedies.gradient_penalty(None, torch.zeros(4, 2), torch.zeros(4, 2))


def test_wgan_gp_critic_loss_is_w_plus_lambda_gp():
    critic = nn.Linear(2, 1)
    x, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    torch.manual_seed(0)
    loss, logs = remedies.wgan_gp_critic_loss(critic, x, fake)
    w = critic(fake).mean() - critic(x).mean()
    gp = (critic.weight.norm() - 1) ** 2           # linear critic: closed form
    torch.testing.assert_close(loss, w + 10 * gp)
    assert logs["wasserstein"] == pytest.approx(-w.item(), rel=1e-5)


def test_wgan_gp_critic_loss_draws_epsilon_with_rng():
    """The same rng gives the same penalty whatever the global RNG did; another seed another one."""
    critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    x, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    torch.manual_seed(1)
    a = remedies.wgan_gp_critic_loss(critic, x, fake, torch.Generator().manual_seed(5))[1]["gp"]
    torch.manual_seed(2)
    b = remedies.wgan_gp_critic_loss(critic, x, fake, torch.Generator().manual_seed(5))[1]["gp"]
    c = remedies.wgan_gp_critic_loss(critic, x, fake, torch.Generator().manual_seed(6))[1]["gp"]
    assert a == b and a != c


def test_train_gan_seed_covers_the_gradient_penalty():
    """train_gan(seed=0) with WGAN-GP is reproducible when the global RNG differs between the runs: the
    penalty's interpolation weights come from the run's generator, not the global one."""
    x, _ = data.ring_of_gaussians(256, seed=0)
    losses = []
    for global_seed in (1, 2):
        g, d = players(hidden=(8, 8), seed=0)
        torch.manual_seed(global_seed)
        hist = gan.train_gan(g, d, x, latent_dim=2, steps=4, batch_size=32, k=2, progress=False, device="cpu",
                             discriminator_loss=remedies.wgan_gp_critic_loss,
                             generator_loss=remedies.wgan_generator_loss, seed=0)
        losses.append(hist["gp"])
    assert losses[0] == losses[1]


# --------------------------------------------------------------------------------------------------
# packing
# --------------------------------------------------------------------------------------------------


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(24.0).reshape(12, 2)
    p = remedies.pack(x, 3)
    assert p.shape == (4, 6)
    for j in range(4):
        torch.testing.assert_close(p[j], torch.cat([x[3 * j], x[3 * j + 1], x[3 * j + 2]]))
    with pytest.raises(ValueError, match="multiple of m"):
        remedies.pack(x, 5)


def test_packed_discriminator_sees_m_samples():
    seen = []

    class Spy(nn.Module):
        def forward(self, h):
            seen.append(h.shape)
            return h.sum(1, keepdim=True)

    d = remedies.PackedDiscriminator(Spy(), 4)
    x = torch.randn(8, 2)
    out = d(x)
    assert seen == [torch.Size([2, 8])]
    assert out.shape == (8,)
    torch.testing.assert_close(out, x.reshape(2, 8).sum(1).repeat_interleave(4))
    # the GAN loss through the packed D equals the loss averaged over the packs
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    want = gan.discriminator_loss(real.reshape(2, 8).sum(1), fake.reshape(2, 8).sum(1))
    torch.testing.assert_close(gan.discriminator_loss(d(real), d(fake)), want)


def test_players_packed_input_width():
    g, d = players(pack_m=3, hidden=(16, 16, 16), seed=0)
    assert isinstance(d, remedies.PackedDiscriminator) and d.net[0].in_features == 6
    assert g(torch.randn(6, 2)).shape == (6, 2) and d(torch.randn(6, 2)).shape == (6,)
    g2, _ = players(pack_m=3, hidden=(16, 16, 16), seed=0)
    torch.testing.assert_close(g[0].weight, g2[0].weight)


# --------------------------------------------------------------------------------------------------
# unrolled GAN
# --------------------------------------------------------------------------------------------------


def _models(seed=0):
    return players(hidden=(8, 8), seed=seed)


def test_unrolled_loss_with_zero_steps_is_the_plain_generator_loss():
    g, d = _models()
    z, x = torch.randn(16, 2), torch.randn(16, 2)
    fake = g(z)
    got = remedies.unrolled_generator_loss(unroll=0)(d, x, fake)
    torch.testing.assert_close(got, gan.generator_loss_nonsaturating(d(fake)))


def test_unrolled_loss_matches_explicit_sgd_on_a_copy():
    """K explicit SGD steps on a copy of D (first order), then the generator loss on the copy."""
    g, d = _models(1)
    z, x = torch.randn(16, 2), torch.randn(16, 2)
    fake = g(z)
    d_copy = copy.deepcopy(d)
    opt = torch.optim.SGD(d_copy.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        gan.discriminator_loss(d_copy(x), d_copy(fake.detach())).backward()
        opt.step()
    want = gan.generator_loss_nonsaturating(d_copy(fake))
    got = remedies.unrolled_generator_loss(unroll=3, lr=0.05, second_order=False)(d, x, fake)
    torch.testing.assert_close(got, want)


def test_unrolled_step_leaves_the_discriminator_unchanged_and_moves_the_generator():
    g, d = _models(2)
    before_d = copy.deepcopy(d.state_dict())
    before_g = copy.deepcopy(g.state_dict())
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    gan.generator_step(g, d, opt, torch.randn(32, 2), loss=remedies.unrolled_generator_loss(unroll=3),
                       x=torch.randn(32, 2))
    for k, val in d.state_dict().items():
        torch.testing.assert_close(val, before_d[k])
    assert all(p.grad is None for p in d.parameters())
    assert all(p.requires_grad for p in d.parameters())
    assert any(not torch.equal(val, before_g[k]) for k, val in g.state_dict().items())


def test_second_order_gradient_differs_from_first_order():
    """The generator's gradient through the unrolled steps is not the first-order one (Metz et al., eq. 9)."""
    g, d = _models(3)
    z, x = torch.randn(16, 2), torch.randn(16, 2)
    grads = []
    for second in (True, False):
        g.zero_grad()
        remedies.unrolled_generator_loss(unroll=3, lr=0.5, second_order=second)(d, x, g(z)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in g.parameters()]))
    assert not torch.allclose(grads[0], grads[1])


def test_train_gan_hooks_run_every_remedy():
    x, _ = data.ring_of_gaussians(512, seed=0)
    for kwargs, pack_m in [(dict(discriminator_loss=remedies.wgan_gp_critic_loss,
                                 generator_loss=remedies.wgan_generator_loss, k=2), 1),
                           (dict(generator_loss=remedies.unrolled_generator_loss(unroll=2)), 1),
                           ({}, 2)]:
        g, d = players(hidden=(8, 8), pack_m=pack_m, seed=0)
        hist = gan.train_gan(g, d, x, latent_dim=2, steps=3, batch_size=32, progress=False, device="cpu", **kwargs)
        assert len(hist["g_loss"]) == 3 and all(math.isfinite(v) for v in hist["g_loss"])
    with pytest.raises(ValueError, match="generator_loss"):
        gan.train_gan(g, d, x, latent_dim=2, steps=1, generator_loss=3, progress=False)


def test_wgan_generator_loss_is_minus_the_mean_critic_score():
    critic = nn.Linear(2, 1)
    fake = torch.randn(10, 2)
    torch.testing.assert_close(remedies.wgan_generator_loss(critic, None, fake), -critic(fake).mean())



@pytest.mark.parametrize("method, m, lr, d_lr, k", [("GAN", 1, 1e-3, 3e-4, 1), ("PacGAN2", 2, 1e-3, 3e-4, 1),
                                                   ("WGAN-GP", 1, 1e-4, 1e-4, 5)])
def test_benchmark_run_budget_and_learning_rate_decay(monkeypatch, method, m, lr, d_lr, k):
    """10 steps with anneal 0.3: 7 steps at the method's rates, then 3 at a tenth of them, every minibatch
    batch_size packs of m samples; the global RNG is left as it was; the same seed gives the same samples."""
    calls = []
    real = gan.train_gan

    def spy(*args, **kwargs):
        calls.append({"k": 1, **{key: kwargs[key] for key in ("steps", "lr", "d_lr", "batch_size", "k") if key in kwargs}})
        return real(*args, **kwargs)

    monkeypatch.setattr(mode_collapse, "train_gan", spy)
    state = torch.random.get_rng_state()
    r = benchmark_run(method, "ring", steps=10, seed=3, hidden=(8, 8, 8), batch_size=16, n_data=256, n_eval=50)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert calls[0]["steps"] == 7 and calls[1]["steps"] == 3
    assert calls[0]["lr"] == pytest.approx(lr) and calls[0]["d_lr"] == pytest.approx(d_lr)
    assert calls[1]["lr"] == pytest.approx(lr / 10) and calls[1]["d_lr"] == pytest.approx(d_lr / 10)
    assert all(c["batch_size"] == 16 * m and c["k"] == k for c in calls)
    again = benchmark_run(method, "ring", steps=10, seed=3, hidden=(8, 8, 8), batch_size=16, n_data=256, n_eval=50)
    torch.testing.assert_close(again["samples"], r["samples"])


# --------------------------------------------------------------------------------------------------
# the benchmark runner and the figures
# --------------------------------------------------------------------------------------------------


def test_benchmark_run_reports_the_protocol_metric_of_its_samples():
    r = benchmark_run("PacGAN2", "grid", steps=4, seed=0, hidden=(8, 8, 8), batch_size=16, n_data=256, n_eval=300)
    assert r["samples"].shape == (300, 2)
    again = mode_coverage(r["samples"], data.grid_centers(), 0.05)
    assert (r["modes"], r["high_quality"]) == (again.modes, again.high_quality)
    assert int(r["counts"].sum()) == round(r["high_quality"] * 300)
    with pytest.raises(ValueError, match="dataset"):
        benchmark_run("GAN", "spiral", steps=1)
    with pytest.raises(ValueError, match="method"):
        benchmark_run("VEEGAN", "ring", steps=1)


def test_training_animation_and_bars():
    import matplotlib
    matplotlib.use("Agg")
    from genedu.plot.mode_collapse import coverage_bars, training_animation
    c = data.ring_centers()
    run = {"snapshots": [(0, torch.randn(50, 2)), (10, c.repeat(5, 1))], "centers": c, "std": 0.02}
    html = training_animation({"a": run, "b": run}, frames=2, dpi=30)
    assert "<img" in html.data or "data:image/png" in html.data
    assert "<img" in training_animation({"a": run}, frames=2, dpi=30, poster=0).data
    rows = [{"dataset": "ring", "method": "GAN", "modes_per_seed": "8 4 6", "hq_per_seed": "0.5 0.2 0.8"},
            {"dataset": "grid", "method": "GAN", "modes_per_seed": "20 25", "hq_per_seed": "0.4 0.1"}]
    axes = coverage_bars(rows)
    assert len(axes) == 2
    # every seed is a dot, on the share scale (ring 8 modes, grid 25), and the mean a horizontal segment
    dots = sorted(float(y) for c in axes[0].collections for y in c.get_offsets()[:, 1])
    assert dots == pytest.approx(sorted([1.0, 0.5, 0.75, 0.8, 1.0]))
    means = sorted(float(line.get_ydata()[0]) for line in axes[1].lines if len(line.get_ydata()) == 2
                   and line.get_ydata()[0] == line.get_ydata()[1] and line.get_ydata()[0] != 1.0)
    assert means == pytest.approx([0.25, 0.5])
    with pytest.raises(ValueError, match="hq_per_seed"):
        coverage_bars([{"dataset": "ring", "method": "GAN", "modes_per_seed": "1"}])


def test_benchmark_run_is_the_same_run_with_or_without_snapshots():
    """The page records snapshots of 400 samples, the table script none: the same seed must give the
    same trained generator and the same metric (train_gan's own snapshot noise would shift the stream)."""
    kw = dict(steps=20, seed=1, hidden=(8, 8), batch_size=16, n_data=256, n_eval=200)
    plain = benchmark_run("GAN", "ring", **kw)
    snap = benchmark_run("GAN", "ring", snapshot_every=7, n_snapshot=40, **kw)
    torch.testing.assert_close(snap["samples"], plain["samples"], rtol=0, atol=0)
    assert (snap["modes"], snap["high_quality"]) == (plain["modes"], plain["high_quality"])
    # snapshots at steps 0, 7, 14 (phase 1 ends at 14), then 20 (the end): 40 samples each, the last the
    # generator's output on the snapshot noise at the end of training
    assert [s for s, _ in snap["snapshots"]] == [0, 7, 14, 20]
    assert all(xs.shape == (40, 2) for _, xs in snap["snapshots"])
    assert not torch.equal(snap["snapshots"][0][1], snap["snapshots"][-1][1])
    # the page's call (full-size models, 400 snapshot samples) and the table script's (none), on 20 steps
    page = benchmark_run("PacGAN2", "ring", steps=20, seed=0, snapshot_every=100, n_snapshot=400)
    table = benchmark_run("PacGAN2", "ring", steps=20, seed=0)
    torch.testing.assert_close(page["samples"], table["samples"], rtol=0, atol=0)
