"""Remedies for mode collapse (chapter 6), each a small function that plugs into ``genedu.gan.train_gan``.

- Wasserstein GAN with gradient penalty (Gulrajani et al., 2017): the critic f (no sigmoid) minimises
  E f(G(z)) - E f(x) + lambda E (||grad f(x_hat)||_2 - 1)^2 on random interpolates x_hat, lambda = 10;
  the generator minimises -E f(G(z)).
  :func:`wasserstein_critic_loss`, :func:`wasserstein_generator_loss`, :func:`gradient_penalty`,
  :func:`wgan_gp_critic_loss` (the ``discriminator_loss=`` hook of ``train_gan``).
- Unrolled GAN (Metz et al., 2017): the generator's loss is computed against the discriminator as it will
  be after ``unroll`` more gradient steps, differentiated through those steps.
  :func:`unrolled_generator_loss` (the ``generator_objective=`` hook of ``train_gan``).
- Packing, PacGAN (Lin et al., 2018): the discriminator judges m samples at once, concatenated, all real
  or all generated. :func:`pack`, :class:`PackedDiscriminator`.
- :func:`gan_mlps`: the 2D generator and discriminator MLPs of the chapter's experiments.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from genedu import _validate as v
from genedu.gan import discriminator_loss as gan_discriminator_loss
from genedu.gan import generator_loss_nonsaturating, mlp_players

__all__ = ["wasserstein_critic_loss", "wasserstein_generator_loss", "gradient_penalty", "wgan_gp_critic_loss",
           "unrolled_generator_loss", "pack", "PackedDiscriminator", "gan_mlps", "GP_LAMBDA"]

GP_LAMBDA = 10.0   # Gulrajani et al.'s lambda, used in all their experiments


# --------------------------------------------------------------------------------------------------
# Wasserstein GAN with gradient penalty
# --------------------------------------------------------------------------------------------------

def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's loss E f(G(z)) - E f(x) (minimised; its negative estimates the Wasserstein-1 distance
    when f is 1-Lipschitz, by Kantorovich-Rubinstein duality).

    Args:
        real_scores: (B,) or (B, 1) critic outputs f(x) on real examples (raw scores, no sigmoid).
        fake_scores: (B',) or (B', 1) critic outputs f(G(z)).

    Returns:
        a scalar tensor: mean(fake_scores) - mean(real_scores).
    """
    v.nonempty_float_tensor(real_scores, "real_scores")
    v.nonempty_float_tensor(fake_scores, "fake_scores")
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The WGAN generator's loss -E f(G(z)) (minimised).

    Args:
        fake_scores: (B,) or (B, 1) critic outputs on generated examples.

    Returns:
        a scalar tensor: -mean(fake_scores).
    """
    v.nonempty_float_tensor(fake_scores, "fake_scores")
    return -fake_scores.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     epsilon: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gulrajani et al.'s gradient penalty E_{x_hat} (||grad_x f(x_hat)||_2 - 1)^2 (without lambda).

    x_hat = epsilon x + (1 - epsilon) G(z) with one epsilon ~ U[0, 1] per pair (their Algorithm 1); the
    norm is taken over all dimensions of one example. The result is differentiable with respect to the
    critic's parameters (``create_graph=True``), so it can be added to the critic's loss.

    Args:
        critic: f, maps (B, ...) to (B,) or (B, 1) scores.
        real: (B, ...) real examples; fake: (B, ...) generated examples (same shape).
        epsilon: (B,) interpolation weights in [0, 1] (default: drawn from U[0, 1] with ``generator``).
        generator: a torch.Generator for epsilon (default: the global generator).

    Returns:
        a scalar tensor.
    """
    if not callable(critic):
        raise TypeError(f"critic must be callable as critic(x) -> scores, got {type(critic).__name__}")
    v.float_tensor(real, "real")
    v.float_tensor(fake, "fake")
    if real.shape != fake.shape or real.dim() < 2:
        raise ValueError(f"real and fake must be batches (B, ...) of the same shape, got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    b = len(real)
    if epsilon is None:
        epsilon = torch.rand(b, generator=generator).to(real.device, real.dtype)
    else:
        v.float_tensor(epsilon, "epsilon", shape=(b,))
    eps = epsilon.reshape(b, *([1] * (real.dim() - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    if not isinstance(scores, torch.Tensor) or scores.numel() != b:
        raise ValueError(f"critic must return one score per example ({b}), got "
                         f"{tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__}")
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norm = grad.reshape(b, -1).norm(dim=1)
    return ((norm - 1) ** 2).mean()


def wgan_gp_critic_loss(d: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, fake: torch.Tensor,
                        lam: float = GP_LAMBDA) -> tuple[torch.Tensor, dict[str, float]]:
    """The WGAN-GP critic loss E f(G(z)) - E f(x) + lam * gradient penalty, as ``train_gan``'s
    ``discriminator_loss=`` hook (``functools.partial`` it for another ``lam``).

    Args:
        d: the critic f, (B, ...) -> (B,) or (B, 1) scores; x: (B, ...) real minibatch; fake: (B, ...) G(z).
        lam: the penalty weight lambda (default 10, Gulrajani et al.).

    Returns:
        (loss, {"wasserstein": the estimate E f(x) - E f(G(z)), "gp": the penalty}).
    """
    lam = v.positive_float(lam, "lam", allow_zero=True)
    w = wasserstein_critic_loss(d(x), d(fake))
    gp = gradient_penalty(d, x, fake)
    return w + lam * gp, {"wasserstein": -w.item(), "gp": gp.item()}


# --------------------------------------------------------------------------------------------------
# Unrolled GAN
# --------------------------------------------------------------------------------------------------

def unrolled_generator_loss(unroll: int = 5, lr: float = 0.1, generator_loss: Callable = generator_loss_nonsaturating,
                            second_order: bool = True) -> Callable:
    """Metz et al.'s unrolled generator objective, as ``train_gan``'s ``generator_objective=`` hook.

    From the discriminator's current parameters theta_0, take ``unroll`` gradient-descent steps on the GAN
    discriminator loss (functionally, on copies: the discriminator module is not changed),

        theta_{k+1} = theta_k - lr * grad_theta L_D(theta_k; x, G(z)),

    and return the generator loss against the unrolled discriminator, f_K(G(z)). With ``second_order`` the
    gradient flows through the unrolled steps (Metz et al.'s equation 9: the generator sees how the
    discriminator would react to its move); without it only through the last evaluation.

    Args:
        unroll: K, the number of unrolled discriminator steps (default 5; Metz et al. use 1 to 10).
        lr: the step size of the unrolled (plain gradient) steps (default 0.1).
        generator_loss: ``fake_logits -> loss`` (default the non-saturating loss).
        second_order: differentiate through the unrolled steps (default True).

    Returns:
        ``objective(discriminator, fake, x) -> scalar loss`` with discriminator an nn.Module (logits (B,) or
        (B, 1)), fake (B, ...) = G(z) with its graph, x (B, ...) real minibatch.
    """
    unroll = v.positive_int(unroll, "unroll", minimum=0)
    lr = v.positive_float(lr, "lr")
    if not callable(generator_loss):
        raise TypeError(f"generator_loss must be callable fake_logits -> loss, got {type(generator_loss).__name__}")

    def objective(discriminator: nn.Module, fake: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if x is None:
            raise ValueError("the unrolled generator loss needs the real minibatch x")
        theta = {n: p.detach().clone().requires_grad_(True) for n, p in discriminator.named_parameters()}
        buffers = dict(discriminator.named_buffers())
        for _ in range(unroll):
            real_logits = functional_call(discriminator, (theta, buffers), (x,)).reshape(-1)
            fake_logits = functional_call(discriminator, (theta, buffers), (fake,)).reshape(-1)
            loss = gan_discriminator_loss(real_logits, fake_logits)
            grads = torch.autograd.grad(loss, list(theta.values()), create_graph=second_order)
            theta = {n: t - lr * g for (n, t), g in zip(theta.items(), grads)}
        return generator_loss(functional_call(discriminator, (theta, buffers), (fake,)).reshape(-1))

    return objective


# --------------------------------------------------------------------------------------------------
# Packing (PacGAN)
# --------------------------------------------------------------------------------------------------

def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Concatenate each run of m consecutive samples into one packed sample: (B, D) -> (B / m, m * D).

    Row j of the result is [x_{jm}, x_{jm+1}, ..., x_{jm+m-1}] (PacGAN's degree-m packing).

    Args:
        x: (B, D) samples, B a multiple of m (images: flatten them first).
        m: the packing degree (>= 1).

    Returns:
        (B // m, m * D).
    """
    v.float_tensor(x, "x", ndim=2)
    m = v.positive_int(m, "m")
    if len(x) % m:
        raise ValueError(f"the batch size of x ({len(x)}) must be a multiple of m ({m})")
    return x.reshape(len(x) // m, m * x.shape[1])


class PackedDiscriminator(nn.Module):
    """A PacGAN discriminator: packs its input into groups of m and judges each pack with ``net``.

    ``forward(x)`` takes (B, D) samples (B a multiple of m), runs ``net`` on ``pack(x, m)`` (B/m, m*D) and
    returns the B/m logits each repeated m times, shape (B,): so ``genedu.gan``'s losses, which average
    over the B entries, average over the packs, and ``train_gan`` trains a PacGAN unchanged.

    Args:
        net: maps (B/m, m*D) to (B/m,) or (B/m, 1) logits.
        m: the packing degree.
    """

    def __init__(self, net: nn.Module, m: int) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
        self.net = net
        self.m = v.positive_int(m, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(pack(x, self.m)).reshape(-1)
        return logits.repeat_interleave(self.m)


# --------------------------------------------------------------------------------------------------
# the 2D models
# --------------------------------------------------------------------------------------------------

def gan_mlps(latent_dim: int = 2, hidden: int = 128, depth: int = 3, pack_m: int = 1,
             seed: int | None = 0) -> tuple[nn.Module, nn.Module]:
    """The 2D generator and discriminator of the chapter's experiments, initialised with ``seed``.

    G: latent_dim -> hidden x ``depth`` (ReLU) -> 2. D: 2 * pack_m -> hidden x ``depth`` (LeakyReLU 0.2)
    -> 1 logit, wrapped in :class:`PackedDiscriminator` when pack_m > 1 (same widths for every pack_m,
    as in PacGAN's experiments; only the input layer grows).

    Args:
        latent_dim: size of z (default 2, as in PacGAN's 2D experiments); hidden: width (default 128);
        depth: hidden layers of each network (default 3); pack_m: packing degree (default 1: no packing);
        seed: seeds the initialisation without changing the global RNG (None: drawn from the global generator).

    Returns:
        (generator, discriminator).
    """
    latent_dim = v.positive_int(latent_dim, "latent_dim")
    hidden = v.positive_int(hidden, "hidden")
    depth = v.positive_int(depth, "depth")
    pack_m = v.positive_int(pack_m, "pack_m")
    generator, discriminator = mlp_players([latent_dim] + [hidden] * depth + [2], [2 * pack_m] + [hidden] * depth + [1],
                                           seed=seed)
    if pack_m > 1:
        discriminator = PackedDiscriminator(discriminator, pack_m)
    return generator, discriminator


# --------------------------------------------------------------------------------------------------
# the benchmark runs of the chapter
# --------------------------------------------------------------------------------------------------

METHODS = ("GAN", "WGAN-GP", "Unrolled GAN", "PacGAN2")
BENCHMARK_STEPS = 5000   # the generator steps of the chapter's table and of its PacGAN-against-GAN runs


def method_kwargs(method: str, unroll: int = 5, unroll_lr: float = 0.1) -> dict:
    """The ``train_gan`` keyword arguments and packing degree of one of :data:`METHODS`.

    - "GAN": the non-saturating GAN, k = 1, the run's learning rates;
    - "WGAN-GP": :func:`wgan_gp_critic_loss` (lambda = 10), :func:`wasserstein_generator_loss`, and Gulrajani
      et al.'s optimiser: k = 5 critic steps per generator step, Adam with lr 1e-4 for both players and betas
      (0.5, 0.9) (their toy experiments' code, ``gan_toy.py``);
    - "Unrolled GAN": :func:`unrolled_generator_loss` (``unroll`` steps of size ``unroll_lr``), the run's
      learning rates;
    - "PacGAN<m>": a :class:`PackedDiscriminator` of degree m (the batch holds m samples per pack), the run's
      learning rates.

    Returns:
        {"pack_m": m, "train_gan": {...}}: keyword arguments of ``train_gan`` that override the run's.
    """
    if method == "GAN":
        return {"pack_m": 1, "train_gan": {}}
    if method == "WGAN-GP":
        return {"pack_m": 1, "train_gan": dict(discriminator_loss=wgan_gp_critic_loss, lr=1e-4, d_lr=1e-4,
                                               generator_loss=wasserstein_generator_loss, k=5, betas=(0.5, 0.9))}
    if method == "Unrolled GAN":
        return {"pack_m": 1, "train_gan": dict(generator_objective=unrolled_generator_loss(unroll, unroll_lr))}
    if isinstance(method, str) and method.startswith("PacGAN") and method[6:].isdigit() and int(method[6:]) >= 1:
        return {"pack_m": int(method[6:]), "train_gan": {}}
    raise ValueError(f"method must be one of {METHODS} (or PacGAN<m>), got {method!r}")


def benchmark_run(method: str = "GAN", dataset: str = "ring", steps: int = BENCHMARK_STEPS, seed: int = 0, lr: float = 1e-3,
                  d_lr: float = 3e-4, batch_size: int = 128, hidden: int = 128, anneal: float = 0.3,
                  n_data: int = 20000, n_eval: int = 2500, snapshot_every: int | None = None, n_snapshot: int = 500,
                  progress: bool = False, device: torch.device | str | None = "cpu") -> dict:
    """Train one method on the ring (8 modes) or the grid (25 modes) and measure its mode coverage.

    Data: ``n_data`` samples of ``genedu.data.ring_of_gaussians`` (radius 2, std 0.02) or
    ``grid_of_gaussians`` (spacing 2, std 0.05). Models: :func:`gan_mlps` (latent 2, ``hidden`` wide, 3 hidden
    layers). Training: ``genedu.gan.train_gan`` with Adam (beta1 0.5), the generator's learning rate ``lr`` and
    the discriminator's ``d_lr`` (the defaults, 1e-3 and 3e-4, let the generator outpace the discriminator: the
    regime in which a vanilla GAN collapses), for ``(1 - anneal) * steps`` generator steps, then
    ``anneal * steps`` more with both rates / 10 (a step decay; the second call starts fresh Adam moments).
    WGAN-GP uses its own optimiser instead (:func:`method_kwargs`). Every PacGAN minibatch holds ``batch_size``
    packs of m samples. Evaluation: the VEEGAN/PacGAN protocol on ``n_eval`` samples
    (``genedu.metrics.mode_coverage``).

    Args:
        method: one of :data:`METHODS` or "PacGAN<m>"; dataset: "ring" or "grid"; steps: generator steps
        (default 5,000); seed: seeds the data, the models, the minibatches, the noise and the evaluation noise;
        lr, d_lr: the generator's and the discriminator's learning rates (default 1e-3, 3e-4);
        batch_size: minibatch (packs for PacGAN, default 128); hidden: width of the MLPs (default 128);
        anneal: share of the steps at the learning rates / 10 (default 0.3);
        n_data: training set size; n_eval: samples evaluated (default 2,500 as in the papers);
        snapshot_every, n_snapshot: record samples during training (see ``train_gan``);
        progress: progress bars; device: default "cpu" (these small MLPs are fastest there).

    Returns:
        {"modes", "high_quality", "counts", "seconds" (training wall time), "cpu_seconds" (the CPU time of this
        process during training: the wall time it would take alone on a quiet core), "samples" (n_eval, 2),
        "snapshots" (list of (step, samples)), "generator", "discriminator", "centers", "std", "history"}.
    """
    import time

    from genedu import data as _data
    from genedu.gan import train_gan
    from genedu.metrics import mode_coverage

    if dataset == "ring":
        x, _ = _data.ring_of_gaussians(n_data, seed=seed)
        centers, std = _data.ring_centers(), 0.02
    elif dataset == "grid":
        x, _ = _data.grid_of_gaussians(n_data, seed=seed)
        centers, std = _data.grid_centers(), 0.05
    else:
        raise ValueError(f"dataset must be 'ring' or 'grid', got {dataset!r}")
    steps = v.positive_int(steps, "steps")
    if not (isinstance(anneal, (int, float)) and 0 <= anneal < 1):
        raise ValueError(f"anneal must be in [0, 1), got {anneal!r}")
    spec = method_kwargs(method)
    m = spec["pack_m"]
    generator, discriminator = gan_mlps(latent_dim=2, hidden=hidden, pack_m=m, seed=seed)
    n2 = int(round(anneal * steps))
    n1 = steps - n2
    kwargs = dict(latent_dim=2, batch_size=batch_size * m, betas=(0.5, 0.999), progress=progress, device=device,
                  n_snapshot=n_snapshot, lr=v.positive_float(lr, "lr"), d_lr=v.positive_float(d_lr, "d_lr"))
    kwargs.update(spec["train_gan"])
    decayed = dict(kwargs, lr=kwargs["lr"] / 10, d_lr=kwargs["d_lr"] / 10)
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.random.fork_rng(devices=[]):   # the gradient penalty's interpolation weights use the global RNG
        torch.manual_seed(seed)
        history = train_gan(generator, discriminator, x, steps=n1, seed=seed, snapshot_every=snapshot_every, **kwargs)
        snapshots = history.get("snapshots", [])
        if n2:
            h2 = train_gan(generator, discriminator, x, steps=n2, seed=seed + 1, snapshot_every=snapshot_every,
                           **decayed)
            snapshots = snapshots + [(n1 + s, xs) for s, xs in h2.get("snapshots", [])[1:]]
            for key, val in h2.items():
                if key != "snapshots":
                    history[key] = history[key] + val
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        z = torch.randn(n_eval, 2, generator=torch.Generator().manual_seed(10_000 + seed)).to(device or "cpu")
        samples = generator(z).cpu()
    cov = mode_coverage(samples, centers, std)
    history["snapshots"] = snapshots
    return {"modes": cov.modes, "high_quality": cov.high_quality, "counts": cov.counts, "seconds": seconds,
            "cpu_seconds": cpu_seconds, "samples": samples, "snapshots": snapshots, "generator": generator,
            "discriminator": discriminator, "centers": centers, "std": std, "history": history}
