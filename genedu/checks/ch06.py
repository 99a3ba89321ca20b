"""Checks for chapter 6: mode collapse, measured and remedied.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's visible self-check calls
it with the defaults, the hidden tests with other seeds and shapes.

The expected values are computed independently of genedu.metrics and genedu.remedies: the mode
coverage by an explicit loop over the modes in float64, the gradient penalty in closed form for critics whose
gradient is known (linear: w everywhere; diagonal quadratic: a * x), the Wasserstein losses from their
definitions, packing by indexing, and the training run (a remedy of the student's choice) by its outcome:
the mode coverage of its generator's samples, by the same explicit loop, against a vanilla GAN trained with the
same seed, models and budget.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from genedu import data as _data
from genedu import gan as _gan
from genedu import metrics as _metrics
from genedu import remedies as _remedies
from genedu.checks._core import call, close, compare, expect_number, expect_tensor, expect_tuple, fail, passed

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them (so
# exercise 5's discriminator packs its input with the student's own pack).
REFERENCES = ("genedu.metrics.mode_coverage", "genedu.remedies.wasserstein_critic_loss",
              "genedu.remedies.wasserstein_generator_loss", "genedu.remedies.wgan_gp_critic_loss",
              "genedu.remedies.gradient_penalty", "genedu.remedies.pack", "genedu.remedies.PackedDiscriminator.forward")

# References bound at import time: replacing genedu.* later does not change them.
_mode_coverage = _metrics.mode_coverage
_PROTOCOL_SAMPLES = _metrics.PROTOCOL_SAMPLES
_gradient_penalty = _remedies.gradient_penalty
_wasserstein_critic_loss = _remedies.wasserstein_critic_loss
_wasserstein_generator_loss = _remedies.wasserstein_generator_loss
_wgan_gp_critic_loss = _remedies.wgan_gp_critic_loss
_pack = _remedies.pack
_PackedDiscriminator = _remedies.PackedDiscriminator
_train_gan = _gan.train_gan
_mlp_players = _gan.mlp_players
_ring_of_gaussians, _ring_centers = _data.ring_of_gaussians, _data.ring_centers
_grad = torch.autograd.grad


def _forbidden(*own):
    """The references an answer must not call (in the notebook's self-check): its own first, then the chapter's
    other ones, which the grader's sandbox does not provide either."""
    every = (_mode_coverage, _wasserstein_critic_loss, _wasserstein_generator_loss, _wgan_gp_critic_loss,
             _gradient_penalty, _pack, _PackedDiscriminator.forward)
    return own + tuple(r for r in every if r not in own)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 1. mode coverage ------------------------------------------------------------------------------

def _coverage_explicit(samples: torch.Tensor, centers: torch.Tensor, std: float, radius: float = 3.0,
                       box: bool = False, any_sample: bool = False):
    """Loop over the modes: the nearest mode of each sample, then the high-quality test."""
    x, mu = samples.double(), centers.double()
    best = torch.full((len(x),), math.inf, dtype=torch.float64)
    idx = torch.zeros(len(x), dtype=torch.long)
    for j in range(len(mu)):
        d = ((x - mu[j]) ** 2).sum(1).sqrt()
        better = d < best
        best = torch.where(better, d, best)
        idx = torch.where(better, torch.full_like(idx, j), idx)
    if box:
        good = ((x - mu[idx]).abs() < radius * std).all(1)
    else:
        good = best < radius * std
    counts = torch.zeros(len(mu), dtype=torch.float64)
    for j in range(len(mu)):
        counts[j] = float(((idx == j) & (good | any_sample)).sum())
    return int((counts > 0).sum()), float(good.double().mean()), counts


def _coverage_samples(seed: int, n_modes: int, n: int, std: float):
    """Samples around some of the modes at known distances (in std), some between modes."""
    g = _gen(seed)
    centers = _ring_centers(n_modes, radius=2.0)
    used = torch.randperm(n_modes, generator=g)[: max(2, n_modes // 2)]
    k = len(used)
    parts = []
    # radially symmetric shells at 0.5 - 2.8 std (in), 3.3 - 4.5 std (out); diagonal at 3.6 std: inside the
    # 3-std box but outside the 3-std disc
    for lo, hi in ((0.5, 2.8), (3.3, 4.5)):
        r = lo + (hi - lo) * torch.rand(n, generator=g)
        a = 2 * math.pi * torch.rand(n, generator=g)
        j = used[torch.randint(0, k, (n,), generator=g)]
        parts.append(centers[j] + std * r[:, None] * torch.stack([a.cos(), a.sin()], 1))
    j = used[torch.randint(0, k, (n // 4,), generator=g)]
    sign = torch.randint(0, 2, (n // 4, 2), generator=g) * 2 - 1
    parts.append(centers[j] + 3.6 * std / math.sqrt(2) * sign)
    # a few far samples whose nearest mode is otherwise empty
    empty = [int(i) for i in range(n_modes) if i not in set(used.tolist())]
    if empty:
        parts.append(centers[empty[0]][None] * 0.7)
    samples = torch.cat(parts)
    return samples[torch.randperm(len(samples), generator=g)].float(), centers.float()


def check_mode_coverage(mode_coverage, seed: int = 0, n_modes: int = 8, n: int = 200, std: float = 0.02) -> None:
    """Check ``mode_coverage(samples, centers, std) -> (modes, high_quality, counts)``: each sample goes to
    its nearest centre and is high quality within 3 std of it; ``counts`` (M,) counts the high-quality samples
    of each mode, ``modes`` the modes with at least one, ``high_quality`` their share of all samples."""
    name = "mode_coverage"
    samples, centers = _coverage_samples(seed, n_modes, n, std)
    modes, hq, counts = _coverage_explicit(samples, centers, std)
    out = call(mode_coverage, name, (samples.clone(), centers.clone(), std), reference=_forbidden(_mode_coverage))
    m_out, hq_out, c_out = expect_tuple(out, name, ["modes", "high_quality", "counts"])
    c_out = expect_tensor(c_out, name, "counts", (len(centers),),
                          {(len(samples),): "counts should have one entry per mode (M,), not one per sample."},
                          floating=False)
    c_out = c_out.double()
    m_out, hq_out = expect_number(m_out, name, "modes"), expect_number(hq_out, name, "high_quality")
    wrong = [
        (_coverage_explicit(samples, centers, std, box=True),
         "you tested each coordinate separately (a 3-std square); the test is on the distance to the centre, "
         "||x - mu|| < 3 std (a disc)."),
        (_coverage_explicit(samples, centers, std, any_sample=True),
         "counts includes samples that are not high quality: count only the samples within 3 std of their "
         "nearest mode."),
        (_coverage_explicit(samples, centers, std ** 2),
         "you compared the distance with 3 std^2 (a variance); the radius is 3 std."),
        (_coverage_explicit(samples, centers, std, radius=1.0), "the radius is 3 standard deviations, not 1."),
    ]
    for (w_modes, w_hq, w_counts), why in wrong:
        if close(c_out, w_counts, 0, 0.5) and not close(counts, w_counts, 0, 0.5):
            fail(name, f"counts are wrong: {why}")
    if not close(c_out, counts, 0, 0.5):
        fail(name, f"counts are {c_out.long().tolist()}, expected {counts.long().tolist()}: assign each sample to its "
                   "nearest centre (Euclidean distance) and count it when that distance is below 3 std.")
    if m_out != modes:
        if m_out == len(centers):
            fail(name, f"modes = {int(m_out)}: count only the modes with at least one high-quality sample "
                       f"(here {modes}).")
        fail(name, f"modes = {m_out:g}, expected {modes}: the number of modes whose count is at least 1.")
    if abs(hq_out - hq) > 1e-5:
        if abs(hq_out - hq * len(samples)) < 1e-3:
            fail(name, "high_quality is a count; it is the share of high-quality samples among all samples "
                       "(divide by the number of samples).")
        if abs(hq_out - float(counts.sum() / max(1, (counts > 0).sum()))) < 1e-3:
            fail(name, "high_quality is the share of ALL samples that are high quality, not a mean per mode.")
        fail(name, f"high_quality = {hq_out:.4g}, expected {hq:.4g}: the number of high-quality samples divided by "
                   "the number of samples.")
    passed(name, f"{modes} of {len(centers)} modes captured, {hq:.0%} high quality")


# --- 2. the Wasserstein losses ---------------------------------------------------------------------

def check_wasserstein_losses(wasserstein_losses, seed: int = 0, batch: int = 32, fake_batch: int = 24) -> None:
    """Check ``wasserstein_losses(real_scores, fake_scores) -> (critic_loss, generator_loss)``:
    the critic minimises mean f(G(z)) - mean f(x), the generator minimises -mean f(G(z))."""
    name = "wasserstein_losses"
    g = _gen(seed)
    real = (2 * torch.randn(batch, generator=g) + 1).requires_grad_(True)
    fake = (2 * torch.randn(fake_batch, generator=g) - 1).requires_grad_(True)
    r, f = real.detach().double(), fake.detach().double()
    critic, gen = f.mean() - r.mean(), -f.mean()
    out = call(wasserstein_losses, name, (real, fake),
               reference=_forbidden(_wasserstein_critic_loss, _wasserstein_generator_loss, _wgan_gp_critic_loss))
    c_out, g_out = expect_tuple(out, name, ["critic_loss", "generator_loss"])
    hint = {(batch,): "return one number: average over the batch (.mean()).",
            (fake_batch,): "return one number: average over the batch (.mean())."}
    c_out = expect_tensor(c_out, name, "critic_loss", (), hint)
    g_out = expect_tensor(g_out, name, "generator_loss", (), hint)
    compare(c_out, critic, name, "critic_loss", [
        (-critic, "the sign is flipped: the critic wants f high on real and low on generated data, so it "
                  "MINIMISES mean f(G(z)) - mean f(x)."),
        (f.sum() - r.sum(), "you summed over the examples; use means (the batches may differ in size)."),
        (torch.sigmoid(f).mean() - torch.sigmoid(r).mean(), "the critic's scores are used as they are: no sigmoid "
                                                           "(the critic is not a classifier)."),
        (torch.nn.functional.softplus(-r).mean() + torch.nn.functional.softplus(f).mean(),
         "this is the GAN discriminator loss; the Wasserstein critic loss is linear in the scores."),
    ], rtol=1e-4, atol=1e-5)
    compare(g_out, gen, name, "generator_loss", [
        (-gen, "the sign is flipped: the generator wants the critic's score on its samples HIGH, so it minimises "
               "-mean f(G(z))."),
        (-f.sum(), "you summed over the examples; use the mean."),
        (critic, "the generator loss is -mean f(G(z)) (the real term does not depend on G)."),
        (-critic, "the generator loss is -mean f(G(z)) only; the real term does not depend on G."),
    ], rtol=1e-4, atol=1e-5)
    if not (c_out.requires_grad and g_out.requires_grad):
        fail(name, "the losses carry no gradient: compute them from the scores with torch operations (no .item(), "
                   "numpy or .detach()).")
    (gr,) = _grad(c_out, real, retain_graph=True, allow_unused=True)
    if gr is None or not close(gr, torch.full((batch,), -1.0 / batch), 1e-4, 1e-6):
        fail(name, "critic_loss has the right value but not the right gradient: compute it with torch operations.")
    passed(name)


# --- 3. the gradient penalty ----------------------------------------------------------------------

class _Linear(nn.Module):
    """f(x) = <w, x> + b over all dimensions of one example: gradient w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return (x.reshape(len(x), -1) * self.w.reshape(1, -1)).sum(1) + self.b


class _Quadratic(nn.Module):
    """f(x) = 1/2 sum_d a_d x_d^2: gradient a * x."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, x):
        return 0.5 * (x.reshape(len(x), -1) ** 2 * self.a.reshape(1, -1)).sum(1)


def check_gradient_penalty(gradient_penalty, seed: int = 0, batch: int = 16, shape: tuple = (2,)) -> None:
    """Check ``gradient_penalty(critic, real, fake, epsilon) -> scalar``: the mean over the batch of
    (||grad_x critic(x_hat)||_2 - 1)^2 at x_hat = epsilon * real + (1 - epsilon) * fake (one epsilon per
    example, the norm over all of an example's dimensions), differentiable with respect to the critic's
    parameters. Critics with known gradients: linear (gradient w), diagonal quadratic (gradient a * x_hat)."""
    name = "gradient_penalty"
    g = _gen(seed)
    shape = tuple(shape)
    real = torch.randn(batch, *shape, generator=g) + 1.0
    fake = 0.5 * torch.randn(batch, *shape, generator=g) - 1.0
    eps = torch.rand(batch, generator=g)
    e = eps.double().reshape(batch, *([1] * len(shape)))

    # (a) a linear critic: the gradient is w at every x_hat, penalty (||w|| - 1)^2, d/dw = 2 (||w|| - 1) w / ||w||
    w = torch.randn(shape, generator=g) * 0.8
    critic = _Linear(w)
    nw = w.double().norm()
    expected = (nw - 1) ** 2
    out = call(gradient_penalty, name, (critic, real.clone(), fake.clone(), eps.clone()), reference=_forbidden(_gradient_penalty))
    out = expect_tensor(out, name, "the penalty", (), {(batch,): "average over the batch (.mean())."})
    compare(out, expected, name, "the penalty for a linear critic f(x) = w.x (gradient w everywhere)", [
        ((nw ** 2 - 1) ** 2, "you used the squared norm ||g||^2; the penalty is (||g||_2 - 1)^2."),
        (nw - 1, "the difference ||g|| - 1 must be squared."),
        ((nw - 1).abs(), "the difference ||g|| - 1 must be squared, not its absolute value."),
        (nw ** 2, "the penalty is (||g|| - 1)^2: subtract 1 (the target norm) before squaring."),
        (batch * expected, "you summed over the batch; the penalty is a mean over the examples."),
        ((w.double().abs() - 1).pow(2).sum(), "take the norm of the whole gradient of one example, then subtract 1."),
        ((math.sqrt(batch) * nw - 1) ** 2, "the norm is per example (over its dimensions), then the mean over the "
                                           "batch; you took one norm over the whole batch."),
    ], rtol=1e-4, atol=1e-5)
    if out.grad_fn is None:
        fail(name, "the penalty carries no gradient with respect to the critic's parameters: compute the gradient "
                   "with torch.autograd.grad(..., create_graph=True) so that the penalty can be backpropagated "
                   "into the critic.")
    (gw,) = _grad(out, critic.w, allow_unused=True)
    if gw is None or not close(gw, (2 * (nw - 1) * w.double() / nw).float(), 1e-3, 1e-5):
        fail(name, "the penalty has the right value but the wrong gradient with respect to the critic's weights: "
                   "use torch.autograd.grad(scores.sum(), x_hat, create_graph=True), and do not detach the gradient.")

    # (b) a diagonal quadratic critic: gradient a * x_hat, so the penalty depends on where x_hat lies
    a = 0.5 + torch.rand(shape, generator=g)
    critic = _Quadratic(a)
    ad = a.double()

    def penalty(x_hat, per_example=True):
        grad = (ad * x_hat).reshape(batch, -1)
        if not per_example:
            return (grad.norm() - 1) ** 2
        return ((grad.norm(dim=1) - 1) ** 2).mean()

    r, f = real.double(), fake.double()
    x_hat = e * r + (1 - e) * f
    expected = penalty(x_hat)
    out = call(gradient_penalty, name, (critic, real.clone(), fake.clone(), eps.clone()), reference=_forbidden(_gradient_penalty))
    out = expect_tensor(out, name, "the penalty", (), {(batch,): "average over the batch (.mean())."})
    compare(out, expected, name, "the penalty for a quadratic critic (gradient a * x_hat)", [
        (penalty(e * f + (1 - e) * r), "epsilon weights the REAL example: x_hat = epsilon * real + "
                                        "(1 - epsilon) * fake."),
        (penalty(r), "the gradient must be taken at the interpolates x_hat, not at the real examples."),
        (penalty(f), "the gradient must be taken at the interpolates x_hat, not at the generated examples."),
        (penalty(0.5 * (r + f)), "use the given epsilon, one per example (not 1/2)."),
        (penalty(x_hat, per_example=False), "the norm is per example (over its dimensions), then the mean over "
                                            "the batch; you took one norm over the whole batch."),
    ], rtol=1e-4, atol=1e-5)
    passed(name)


# --- 4. packing ------------------------------------------------------------------------------------

def check_pack(pack, seed: int = 0, batch: int = 12, dim: int = 2, m: int = 3) -> None:
    """Check ``pack(x, m) -> (B // m, m * D)``: row j concatenates x[j*m], x[j*m + 1], ..., x[j*m + m - 1]."""
    name = "pack"
    g = _gen(seed)
    x = torch.randn(batch, dim, generator=g)
    n = batch // m
    expected = torch.stack([torch.cat([x[j * m + i] for i in range(m)]) for j in range(n)])
    out = call(pack, name, (x.clone(), m), reference=_forbidden(_pack, _PackedDiscriminator.forward))
    out = expect_tensor(out, name, "the packed batch", (n, m * dim), {
        (m, n * dim): "you made m rows; the result has one row per pack: B // m rows of m * D numbers.",
        (n, m, dim): "concatenate the m samples of a pack into one vector: reshape to (B // m, m * D).",
        (m * dim, n): "the result is transposed: one ROW per pack, (B // m, m * D).",
    })
    strided = torch.stack([torch.cat([x[i * n + j] for i in range(m)]) for j in range(n)])
    compare(out, expected, name, "the packed batch", [
        (strided, "you packed samples j, j + B/m, j + 2B/m, ... together; pack consecutive samples: row j holds "
                  "x[j*m], ..., x[j*m + m - 1] (x.reshape(B // m, m * D))."),
    ], rtol=0, atol=0)
    passed(name)


# --- 5. a remedy against collapse, trained -------------------------------------------------------------

# The budget of exercise 5, the same for the student's remedy and the vanilla GAN it is compared with. The
# generator learns faster than the discriminator (lr 1e-3 against 3e-4): in this regime a vanilla GAN
# collapses (0 or 1 of the 8 modes after RUN_STEPS steps on every seed we tried, 0-7), while remedies that
# change what the discriminator sees, with the same generator and budget, reach several: a PacGAN with m = 2
# 5 to 7 modes, a discriminator that also sees its minibatch's standard deviation per coordinate 5 to 8
# (tests/test_checks_ch06.py trains both). The remedy is the student's choice; the check judges the outcome.
RUN_STEPS = 700          # generator steps
RUN_BATCH = 64           # minibatch (packs, for a packed discriminator)
RUN_HIDDEN = 64          # width of the MLPs
RUN_LR = 1e-3            # the generator's learning rate
RUN_D_LR = 3e-4          # the discriminator's learning rate
RING_STD = 0.02          # the std of each ring mode (genedu.data.ring_of_gaussians' default)
MIN_MODES = 2            # a generator that reaches fewer modes is collapsed, whatever the vanilla GAN does


def ring_task(seed: int, n: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """The data of exercise 5: the 8-Gaussian ring (radius 2, std 0.02) rotated by a seed-dependent angle.

    Returns:
        (x (n, 2) the training data, centers (8, 2) its mode centres).
    """
    x, _ = _ring_of_gaussians(n, seed=seed)
    angle = 2 * math.pi * torch.rand((), generator=_gen(seed + 7)) / 8
    rot = torch.tensor([[angle.cos(), -angle.sin()], [angle.sin(), angle.cos()]])
    return x @ rot.T, _ring_centers() @ rot.T


def _players(seed: int, m: int = 1) -> tuple[nn.Module, nn.Module]:
    """Exercise 5's models: ``gan.mlp_players([2, 64, 64, 64, 2], [2 * m, 64, 64, 64, 1], seed=seed)``, the
    discriminator packed when m > 1."""
    hidden = [RUN_HIDDEN] * 3
    generator, discriminator = _mlp_players([2, *hidden, 2], [2 * m, *hidden, 1], seed=seed)
    return generator, (_PackedDiscriminator(discriminator, m) if m > 1 else discriminator)


def _train_baseline(x: torch.Tensor, seed: int, m: int) -> nn.Module:
    """The generator of exercise 5 trained as a vanilla GAN (m = 1) or as a PacGAN of degree m, with the models
    of :func:`_players` and the exercise's budget, on one thread (these small
    models train fastest so, and several threads slow down many times over on a shared machine)."""
    generator, discriminator = _players(seed, m)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            _train_gan(generator, discriminator, x, latent_dim=2, steps=RUN_STEPS, batch_size=m * RUN_BATCH, lr=RUN_LR,
                       d_lr=RUN_D_LR, seed=seed, progress=False, device="cpu")
    finally:
        torch.set_num_threads(threads)
    return generator


def _evaluation_noise(seed: int) -> torch.Tensor:
    """The (2500, 2) noise batch whose samples exercise 5 scores (the protocol's 2,500 samples)."""
    return torch.randn(_PROTOCOL_SAMPLES, 2, generator=_gen(10_000 + seed))


_baseline_cache: dict[tuple[int, int], torch.Tensor] = {}

# The modes the vanilla GAN of exercise 5 captures (``_baseline_samples(seed, 1)``) for the seeds the notebook
# checks, computed once and kept here so that grading a remedy that works trains no baseline at all (two
# trainings of a few seconds each); a remedy that fails is compared with the trained baseline, to say why.
# tests/test_checks_ch06.py trains them again and checks these numbers.
VANILLA_MODES = {0: 0, 1: 0}


def _modes(samples: torch.Tensor, centers: torch.Tensor) -> tuple[int, float]:
    """(modes captured, share of high-quality samples) by exercise 1's protocol, computed by the check's own loop."""
    modes, hq, _ = _coverage_explicit(samples, centers, RING_STD)
    return modes, hq


def _vanilla_modes(seed: int, centers: torch.Tensor) -> int:
    if seed in VANILLA_MODES:
        return VANILLA_MODES[seed]
    return _modes(_baseline_samples(seed, 1), centers)[0]


def _baseline_samples(seed: int, m: int) -> torch.Tensor:
    """Samples of ``_train_baseline(ring_task(seed), seed, m)`` on ``_evaluation_noise(seed)`` (cached per
    process: the vanilla GAN of a seed is trained once however many answers are checked)."""
    if (seed, m) not in _baseline_cache:
        generator = _train_baseline(ring_task(seed)[0], seed, m)
        with torch.no_grad():
            _baseline_cache[(seed, m)] = generator(_evaluation_noise(seed)).detach()
    return _baseline_cache[(seed, m)]


def check_remedy_training(train_remedy, seed: int = 0) -> None:
    """Check ``train_remedy(x, steps, batch_size, seed) -> generator``: a GAN with a remedy against mode collapse
    of the student's choice (packing, minibatch features, ...), trained on the ring ``x`` within the vanilla GAN's
    budget: the generator ``gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)[0]``, ``steps``
    generator steps of ``batch_size`` samples (or packs), one discriminator step each, lr=RUN_LR, d_lr=RUN_D_LR.

    The outcome is judged, not the code: the generator's samples of a fixed noise batch (2,500, the
    VEEGAN/PacGAN protocol) must reach at least ``MIN_MODES`` modes and more than the vanilla GAN trained with the
    same seed, models and budget. When they do not, the message compares the samples with the vanilla GAN's
    and with genedu's PacGAN to say what went wrong."""
    name = "train_remedy"
    x, centers = ring_task(seed)
    z = _evaluation_noise(seed)
    initial_generator = _players(seed)[0]
    state = torch.random.get_rng_state()
    try:
        out = call(train_remedy, name, (x.clone(), RUN_STEPS, RUN_BATCH, seed),
                   reference=(_train_baseline,) + _forbidden())
    finally:
        torch.random.set_rng_state(state)
    if not isinstance(out, nn.Module):
        fail(name, f"should return the trained generator (a torch.nn.Module), got {type(out).__name__}.")
    shapes = [tuple(p.shape) for p in out.parameters()]
    if shapes != [tuple(p.shape) for p in initial_generator.parameters()]:
        fail(name, "should return the generator of the budget, gan.mlp_players([2, 64, 64, 64, 2], "
                   "[2, 64, 64, 64, 1], seed=seed)[0], trained (a remedy changes the discriminator or the losses, "
                   f"not the generator; its layer shapes differ: {shapes}).")
    out.eval()
    with torch.no_grad():
        try:
            samples = out(z.clone())
        except Exception as err:  # noqa: BLE001
            fail(name, f"the generator cannot map noise z of shape (2500, 2) to samples: {type(err).__name__}: {err}")
        initial = initial_generator(z)
    samples = expect_tensor(samples, name, "the generator's samples", (2500, 2))
    if close(samples, initial, 1e-5, 1e-6):
        fail(name, "the generator is unchanged: train it (gan.train_gan) before returning it.")
    if not bool(torch.isfinite(samples).all()):
        fail(name, "the generator's samples contain NaN or inf: the training diverged.")
    samples = samples.detach().float()
    modes, hq = _modes(samples, centers)
    base_modes = _vanilla_modes(seed, centers)

    def success(base: int) -> None:
        passed(name, f"after {RUN_STEPS} steps your remedy captures {modes} of 8 modes ({hq:.1%} high quality), "
                     f"the vanilla GAN with the same seed and budget {base}.")

    if modes >= MIN_MODES and modes > base_modes:
        return success(base_modes)
    vanilla = _baseline_samples(seed, 1)
    base_modes = _modes(vanilla, centers)[0]
    if modes >= MIN_MODES and modes > base_modes:  # VANILLA_MODES did not hold here: the trained baseline decides
        return success(base_modes)
    verdict = (f"after {RUN_STEPS} steps your generator captures {modes} of 8 modes ({hq:.1%} high quality); a remedy "
               f"must capture at least {MIN_MODES}, and more than the vanilla GAN with the same seed and budget "
               f"({base_modes}).")
    if close(samples, vanilla, 1e-3, 1e-3):
        fail(name, verdict + " Your generator is the vanilla GAN's: nothing in your training changes what the "
                             "discriminator sees or what the players minimise. Add a remedy: for instance, let the "
                             "discriminator judge packs of samples (your pack of exercise 4), or show it a statistic "
                             "of its whole minibatch next to each sample.")
    fail(name, verdict + " Your generator still collapses. Check that the remedy reaches the discriminator: a packed "
                         "discriminator must see m different samples per pack (pack(inputs, m), a network of 2m "
                         "inputs, each pack's logit returned m times, m * batch_size samples per minibatch); a "
                         "minibatch feature must be computed over the batch the discriminator is given. Keep the "
                         "budget: one discriminator step per generator step, lr=RUN_LR, d_lr=RUN_D_LR, seed=seed. "
                         f"(genedu's PacGAN with m = 2 captures "
                         f"{_modes(_baseline_samples(seed, 2), centers)[0]} modes here.)")
