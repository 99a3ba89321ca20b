"""The chapter 6 checks: correct answers written differently pass; the wrong answers students write
fail with the check's explanation."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from genedu import gan, remedies
from genedu.checks._core import CheckFailed
from genedu.checks.ch06 import (RUN_D_LR, RUN_HIDDEN, RUN_LR, check_gradient_penalty, check_mode_coverage, check_pack,
                                check_remedy_training, check_wasserstein_losses)
from genedu.metrics import mode_coverage as reference_mode_coverage
from genedu.models import mlp

# --- 1. mode coverage ----------------------------------------------------------------------------


def cov_cdist(samples, centers, std):
    d, j = torch.cdist(samples, centers).min(1)
    good = d < 3 * std
    counts = torch.bincount(j[good], minlength=len(centers))
    return int((counts > 0).sum()), good.float().mean().item(), counts


def cov_loop(samples, centers, std):
    """Another way: squared distances by broadcasting, counts by a loop, float counts, tensor outputs."""
    d2 = ((samples[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    j = d2.argmin(1)
    good = d2.min(1).values < (3 * std) ** 2
    counts = torch.stack([((j == k) & good).sum() for k in range(len(centers))]).float()
    return (counts > 0).sum(), good.float().mean(), counts


def cov_box(samples, centers, std):
    d, j = torch.cdist(samples, centers).min(1)
    good = ((samples - centers[j]).abs() < 3 * std).all(1)
    counts = torch.bincount(j[good], minlength=len(centers))
    return int((counts > 0).sum()), good.float().mean().item(), counts


def cov_no_threshold(samples, centers, std):
    d, j = torch.cdist(samples, centers).min(1)
    good = d < 3 * std
    counts = torch.bincount(j, minlength=len(centers))
    return int((counts > 0).sum()), good.float().mean().item(), counts


def cov_variance(samples, centers, std):
    return cov_cdist(samples, centers, std ** 2)


def cov_count_not_share(samples, centers, std):
    m, hq, c = cov_cdist(samples, centers, std)
    return m, hq * len(samples), c


def cov_per_sample(samples, centers, std):
    d, j = torch.cdist(samples, centers).min(1)
    good = d < 3 * std
    return int(good.sum()), good.float().mean().item(), good.long()


def cov_modes_all(samples, centers, std):
    m, hq, c = cov_cdist(samples, centers, std)
    return len(centers), hq, c


@pytest.mark.parametrize("fn", [cov_cdist, cov_loop])
def test_mode_coverage_correct_answers_pass(fn):
    check_mode_coverage(fn)
    check_mode_coverage(fn, seed=101, n_modes=25, n=300, std=0.05)
    check_mode_coverage(fn, seed=102, n_modes=5, n=40, std=0.1)


@pytest.mark.parametrize("fn, message", [
    (cov_box, "3-std square"), (cov_no_threshold, "not high quality"), (cov_variance, "variance"),
    (cov_count_not_share, "share"), (cov_per_sample, "one entry per mode"), (cov_modes_all, "at least one"),
])
def test_mode_coverage_wrong_answers_fail(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_mode_coverage(fn)


def test_mode_coverage_reference_refused():
    def calls_reference(samples, centers, std):
        out = reference_mode_coverage(samples, centers, std)
        return out.modes, out.high_quality, out.counts
    with pytest.raises(CheckFailed, match="reference"):
        check_mode_coverage(calls_reference)


# --- 2. Wasserstein losses ----------------------------------------------------------------------


def w_ok(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean(), -fake_scores.mean()


def w_ok_other(real_scores, fake_scores):
    return torch.mean(fake_scores) + torch.mean(-real_scores), torch.mean(fake_scores).neg()


def w_flipped(real_scores, fake_scores):
    return real_scores.mean() - fake_scores.mean(), -fake_scores.mean()


def w_gen_flipped(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean(), fake_scores.mean()


def w_sum(real_scores, fake_scores):
    return fake_scores.sum() - real_scores.sum(), -fake_scores.sum()


def w_sigmoid(real_scores, fake_scores):
    return torch.sigmoid(fake_scores).mean() - torch.sigmoid(real_scores).mean(), -torch.sigmoid(fake_scores).mean()


def w_item(real_scores, fake_scores):
    return torch.tensor((fake_scores.mean() - real_scores.mean()).item()), torch.tensor(-fake_scores.mean().item())


@pytest.mark.parametrize("fn", [w_ok, w_ok_other])
def test_wasserstein_correct_answers_pass(fn):
    check_wasserstein_losses(fn)
    check_wasserstein_losses(fn, seed=201, batch=5, fake_batch=40)


@pytest.mark.parametrize("fn, message", [
    (w_flipped, "sign is flipped"), (w_gen_flipped, "sign is flipped"), (w_sum, "summed"),
    (w_sigmoid, "no sigmoid"), (w_item, "no gradient"),
])
def test_wasserstein_wrong_answers_fail(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_wasserstein_losses(fn)


# --- 3. gradient penalty ----------------------------------------------------------------------


def _x_hat(real, fake, epsilon):
    e = epsilon.reshape(-1, *([1] * (real.dim() - 1)))
    return (e * real + (1 - e) * fake).detach().requires_grad_(True)


def gp_ok(critic, real, fake, epsilon):
    x_hat = _x_hat(real, fake, epsilon)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gp_ok_other(critic, real, fake, epsilon):
    """Another way: ones as grad_outputs, sqrt of the sum of squares, real.lerp."""
    e = epsilon.view(-1, *([1] * (real.dim() - 1)))
    x_hat = fake.lerp(real, e).detach().requires_grad_()
    scores = critic(x_hat)
    (g,) = torch.autograd.grad(scores, x_hat, grad_outputs=torch.ones_like(scores), create_graph=True)
    norm = torch.sqrt((g.reshape(len(g), -1) ** 2).sum(1))
    return torch.mean((norm - 1) ** 2)


def gp_no_create_graph(critic, real, fake, epsilon):
    x_hat = _x_hat(real, fake, epsilon)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gp_squared_norm(critic, real, fake, epsilon):
    x_hat = _x_hat(real, fake, epsilon)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (((g.flatten(1) ** 2).sum(1) - 1) ** 2).mean()


def gp_eps_swapped(critic, real, fake, epsilon):
    return gp_ok(critic, fake, real, epsilon)


def gp_at_real(critic, real, fake, epsilon):
    return gp_ok(critic, real, fake, torch.ones_like(epsilon))


def gp_batch_norm(critic, real, fake, epsilon):
    x_hat = _x_hat(real, fake, epsilon)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (g.norm() - 1) ** 2


def gp_sum(critic, real, fake, epsilon):
    return gp_ok(critic, real, fake, epsilon) * len(real)


def gp_not_squared(critic, real, fake, epsilon):
    x_hat = _x_hat(real, fake, epsilon)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (g.flatten(1).norm(dim=1) - 1).mean()


@pytest.mark.parametrize("fn", [gp_ok, gp_ok_other])
def test_gradient_penalty_correct_answers_pass(fn):
    check_gradient_penalty(fn)
    check_gradient_penalty(fn, seed=301, batch=7, shape=(5,))
    check_gradient_penalty(fn, seed=302, batch=4, shape=(1, 3, 3))


@pytest.mark.parametrize("fn, message", [
    (gp_no_create_graph, "create_graph"), (gp_squared_norm, "squared norm"), (gp_eps_swapped, "REAL example"),
    (gp_at_real, "interpolates"), (gp_batch_norm, "per example"), (gp_sum, "summed"),
    (gp_not_squared, "must be squared"),
])
def test_gradient_penalty_wrong_answers_fail(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_gradient_penalty(fn)


def test_gradient_penalty_matches_the_library():
    """genedu.remedies.gradient_penalty agrees with an independent implementation (gp_ok, a correct answer);
    the check itself compares answers with closed forms, not with the library."""
    critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake, eps = torch.randn(6, 3), torch.randn(6, 3), torch.rand(6)
    torch.testing.assert_close(gp_ok(critic, real, fake, eps), remedies.gradient_penalty(critic, real, fake, eps))


# --- 4. packing -----------------------------------------------------------------------------------


def pack_ok(x, m):
    return x.reshape(-1, m * x.shape[1])


def pack_cat(x, m):
    return torch.cat([x[i::m] for i in range(m)], dim=1)


def pack_strided(x, m):
    return torch.cat(torch.chunk(x, m, dim=0), dim=1)


def pack_3d(x, m):
    return x.reshape(-1, m, x.shape[1])


def pack_rows(x, m):
    return x.reshape(m, -1)


@pytest.mark.parametrize("fn", [pack_ok, pack_cat])
def test_pack_correct_answers_pass(fn):
    check_pack(fn)
    check_pack(fn, seed=401, batch=8, dim=3, m=4)


@pytest.mark.parametrize("fn, message", [(pack_strided, "consecutive"), (pack_3d, "concatenate"),
                                         (pack_rows, "m rows")])
def test_pack_wrong_answers_fail(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_pack(fn)


# --- 5. the training run -----------------------------------------------------------------------------


class _Packed(nn.Module):
    def __init__(self, net, m):
        super().__init__()
        self.net, self.m = net, m

    def forward(self, x):
        return self.net(x.reshape(len(x) // self.m, -1)).reshape(-1).repeat_interleave(self.m)


class _LibraryPacked(_Packed):
    """Packs with genedu's remedies.pack, exercise 4's reference (the grader's sandbox has none)."""

    def forward(self, x):
        return self.net(remedies.pack(x, self.m)).reshape(-1).repeat_interleave(self.m)


def _packed_remedy(wrap, name: str, d_seed_offset: int = 0):
    """A ``train_remedy`` answer: the exercise's generator, the discriminator ``wrap(net)`` with the exercise's
    network created after ``torch.manual_seed(seed + d_seed_offset)``, the exercise's train_gan call."""
    def train_remedy(x, steps, batch_size, seed):
        generator, _ = gan.mlp_players([2] + [RUN_HIDDEN] * 3 + [2], [2] + [RUN_HIDDEN] * 3 + [1], seed=seed)
        torch.manual_seed(seed + d_seed_offset)
        discriminator = wrap(mlp([4] + [RUN_HIDDEN] * 3 + [1], activation=lambda: nn.LeakyReLU(0.2)))
        gan.train_gan(generator, discriminator, x, latent_dim=2, steps=steps, batch_size=2 * batch_size, lr=RUN_LR,
                      d_lr=RUN_D_LR, seed=seed, progress=False)
        return generator

    train_remedy.__name__ = name
    return train_remedy


class _Strided(nn.Module):
    """Packs samples j and j + B/2 together: another packing, as good as consecutive pairs."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, inputs):
        return self.net(torch.cat(torch.chunk(inputs, 2), 1)).reshape(-1).repeat(2)


class _Viewed(nn.Module):
    """Packs with a reshape and squeezes the logits: the same PacGAN written another way."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, inputs):
        return self.net(inputs.reshape(-1, 4)).squeeze(1).repeat_interleave(2)


class _SelfPair(nn.Module):
    """Pairs every sample with itself: a 4-input network, but no more information than one sample."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, inputs):
        return self.net(torch.cat([inputs, inputs], 1)).reshape(-1)


class _MinibatchStd(nn.Module):
    """Another remedy: each sample is shown with the standard deviation of each coordinate over its minibatch
    (Karras et al.'s minibatch standard deviation, per coordinate), so a collapsed batch gives itself away."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, inputs):
        spread = inputs.std(dim=0, keepdim=True).expand(len(inputs), -1)
        return self.net(torch.cat([inputs, spread], dim=1)).reshape(-1)


def remedy_minibatch_std(x, steps, batch_size, seed):
    """Minibatch features instead of packing: batch_size samples per minibatch, a 4-input network."""
    generator = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)[0]
    torch.manual_seed(seed)
    discriminator = _MinibatchStd(mlp([4, 64, 64, 64, 1], activation=lambda: nn.LeakyReLU(0.2)))
    gan.train_gan(generator, discriminator, x, latent_dim=2, steps=steps, batch_size=batch_size, lr=RUN_LR,
                  d_lr=RUN_D_LR, seed=seed, progress=False)
    return generator


def remedy_wgan_gp_one_step(x, steps, batch_size, seed):
    """The Wasserstein loss with the student's gradient penalty (the answers w_ok and gp_ok above), one critic
    step per generator step as the budget says: in this regime it collapses like the vanilla GAN (the
    statement says so)."""
    generator, critic = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)

    def critic_loss(d, real, fake, rng):
        eps = torch.rand(len(real), generator=rng)
        return w_ok(d(real).reshape(-1), d(fake).reshape(-1))[0] + 10 * gp_ok(d, real, fake, eps)

    def generator_loss(d, real, fake):
        return -d(fake).mean()

    gan.train_gan(generator, critic, x, latent_dim=2, steps=steps, batch_size=batch_size, lr=RUN_LR, d_lr=RUN_D_LR,
                  discriminator_loss=critic_loss, generator_loss=generator_loss, seed=seed, progress=False)
    return generator


remedy_ok = _packed_remedy(lambda net: _Packed(net, 2), "remedy_ok")
remedy_strided = _packed_remedy(_Strided, "remedy_strided")
remedy_viewed = _packed_remedy(_Viewed, "remedy_viewed", d_seed_offset=100)   # another initialisation
remedy_self_pair = _packed_remedy(_SelfPair, "remedy_self_pair")
remedy_library_pack = _packed_remedy(lambda net: _LibraryPacked(net, 2), "remedy_library_pack")


@pytest.mark.parametrize("fn", [remedy_ok, remedy_strided, remedy_viewed, remedy_minibatch_std])
def test_remedy_training_correct_answers_pass(fn):
    check_remedy_training(fn)


@pytest.mark.parametrize("fn", [remedy_ok, remedy_minibatch_std])
def test_remedy_training_hidden_seed_passes(fn):
    """Two different remedies, packing and minibatch features, pass the grader's other seed too."""
    check_remedy_training(fn, seed=1)


def remedy_vanilla(x, steps, batch_size, seed):
    generator, discriminator = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)
    gan.train_gan(generator, discriminator, x, latent_dim=2, steps=steps, batch_size=batch_size, lr=RUN_LR,
                  d_lr=RUN_D_LR, seed=seed, progress=False)
    return generator


def remedy_untrained(x, steps, batch_size, seed):
    return gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)[0]


def remedy_one_mode(x, steps, batch_size, seed):
    """A generator collapsed onto one data point (all weights of its last layer zero): one mode, 100 % quality."""
    generator = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)[0]
    with torch.no_grad():
        generator[-1].weight.zero_()
        generator[-1].bias.copy_(x[0])
    return generator


def remedy_wider(x, steps, batch_size, seed):
    generator, _ = gan.mlp_players([2, 128, 128, 128, 2], [2, 128, 128, 128, 1], seed=seed)
    return generator


@pytest.mark.parametrize("fn, message", [(remedy_vanilla, "is the vanilla GAN's: nothing in your training"),
                                         (remedy_self_pair, "still collapses"),
                                         (remedy_wgan_gp_one_step, "still collapses"),
                                         (remedy_one_mode, "captures 1 of 8 modes .100.0% high quality.; a remedy must "
                                                           "capture at least 2"),
                                         (remedy_untrained, "unchanged"), (remedy_wider, "layer shapes"),
                                         (remedy_library_pack, "reference"),
                                         (lambda x, steps, batch_size, seed: None, "nn.Module")])
def test_remedy_training_wrong_answers_fail(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_remedy_training(fn)


def test_vanilla_modes_are_the_trained_baselines():
    """The check's stored vanilla-GAN mode counts are what training the baseline gives on this machine."""
    from genedu.checks.ch06 import RING_STD, VANILLA_MODES, _baseline_samples, ring_task
    for seed, modes in VANILLA_MODES.items():
        assert reference_mode_coverage(_baseline_samples(seed, 1), ring_task(seed)[1], RING_STD).modes == modes, seed
