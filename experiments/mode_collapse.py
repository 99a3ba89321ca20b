"""The mode-collapse experiments of chapter 6: every method trained on the ring (8 modes) or the grid (25 modes)
with the same models and budget, and scored by the VEEGAN/PacGAN protocol.

The chapter's page runs :func:`benchmark_run` for its figures; ``experiments/mode_collapse_table.py`` runs it over
methods, datasets and seeds for the chapter's table. The remedies themselves are in ``genedu.remedies``.

- :data:`METHODS`, :func:`method_kwargs`   the methods compared, as ``train_gan`` keyword arguments
- :func:`players`                          the 2D generator and discriminator of the experiments
- :func:`benchmark_run`                    one training run and its mode coverage
"""
from __future__ import annotations

import time
from typing import Sequence

import torch
from torch import nn

from genedu import _validate as v
from genedu import data, remedies
from genedu.gan import mlp_players, train_gan
from genedu.metrics import mode_coverage

__all__ = ["METHODS", "BENCHMARK_STEPS", "method_kwargs", "players", "benchmark_run"]


def players(hidden: Sequence[int] = (128, 128, 128), pack_m: int = 1,
            seed: int | None = 0) -> tuple[nn.Module, nn.Module]:
    """The 2D generator and discriminator of the experiments (PacGAN's 2D experiments' shapes).

    G: 2 -> hidden... (ReLU) -> 2. D: 2 * pack_m -> hidden... (LeakyReLU 0.2) -> 1 logit,
    wrapped in ``genedu.remedies.PackedDiscriminator`` when pack_m > 1 (same widths for every pack_m, as in
    PacGAN's experiments; only the input layer grows). Built by ``genedu.gan.mlp_players``.

    Args:
        hidden: the widths of each network's hidden layers (default (128, 128, 128)).
        pack_m: packing degree (default 1: no packing).
        seed: seeds the initialisation without changing the global RNG (None: the global generator).

    Returns:
        (generator, discriminator).
    """
    hidden = v.widths(hidden)
    pack_m = v.positive_int(pack_m, "pack_m")
    generator, discriminator = mlp_players([2, *hidden, 2], [2 * pack_m, *hidden, 1],
                                           seed=seed)
    if pack_m > 1:
        discriminator = remedies.PackedDiscriminator(discriminator, pack_m)
    return generator, discriminator


METHODS = ("GAN", "WGAN-GP", "Unrolled GAN", "PacGAN2")
BENCHMARK_STEPS = 5000   # the generator steps of the chapter's table and of its PacGAN-against-GAN runs
_STREAM_N_SNAPSHOT = 500  # the n_snapshot benchmark_run always passes to train_gan (see benchmark_run)


def method_kwargs(method: str, unroll: int = 5, unroll_lr: float = 0.1) -> dict:
    """The ``train_gan`` keyword arguments and packing degree of one of :data:`METHODS`.

    - "GAN": the non-saturating GAN, k = 1, the run's learning rates;
    - "WGAN-GP": :func:`genedu.remedies.wgan_gp_critic_loss` (lambda = 10),
      :func:`genedu.remedies.wgan_generator_loss`, and Gulrajani
      et al.'s optimiser: k = 5 critic steps per generator step, Adam with lr 1e-4 for both players and betas
      (0.5, 0.9) (the toy experiments' code of their wgan-gp repository);
    - "Unrolled GAN": :func:`genedu.remedies.unrolled_generator_loss` (``unroll`` steps of size ``unroll_lr``),
      the run's
      learning rates;
    - "PacGAN<m>": a :class:`genedu.remedies.PackedDiscriminator` of degree m (the batch holds m samples per
      pack), the run's
      learning rates.

    Args:
        method: one of :data:`METHODS` or "PacGAN<m>".
        unroll: the unrolled GAN's number of discriminator steps (default 5).
        unroll_lr: the unrolled GAN's step size (default 0.1).

    Returns:
        {"pack_m": m, "train_gan": {...}}: keyword arguments of ``train_gan`` that override the run's.
    """
    if method == "GAN":
        return {"pack_m": 1, "train_gan": {}}
    if method == "WGAN-GP":
        return {"pack_m": 1, "train_gan": dict(discriminator_loss=remedies.wgan_gp_critic_loss, lr=1e-4, d_lr=1e-4,
                                               generator_loss=remedies.wgan_generator_loss, k=5, betas=(0.5, 0.9))}
    if method == "Unrolled GAN":
        return {"pack_m": 1, "train_gan": dict(generator_loss=remedies.unrolled_generator_loss(unroll, unroll_lr))}
    if isinstance(method, str) and method.startswith("PacGAN") and method[6:].isdigit() and int(method[6:]) >= 1:
        return {"pack_m": int(method[6:]), "train_gan": {}}
    raise ValueError(f"method must be one of {METHODS} (or PacGAN<m>), got {method!r}")


def benchmark_run(method: str = "GAN", dataset: str = "ring", steps: int = BENCHMARK_STEPS, seed: int = 0,
                  lr: float = 1e-3, d_lr: float = 3e-4, batch_size: int = 128,
                  hidden: Sequence[int] = (128, 128, 128), anneal: float = 0.3, n_data: int = 20000,
                  n_eval: int = 2500, snapshot_every: int | None = None, n_snapshot: int = 500,
                  progress: bool = False, device: torch.device | str | None = "cpu") -> dict:
    """Train one method on the ring (8 modes) or the grid (25 modes) and measure its mode coverage.

    Data: ``n_data`` samples of ``genedu.data.ring_of_gaussians`` (radius 2, std 0.02) or
    ``grid_of_gaussians`` (spacing 2, std 0.05). Models: :func:`players` (latent 2, hidden layers ``hidden``).
    Training: ``genedu.gan.train_gan`` with Adam (beta1 0.5), the generator's learning rate ``lr`` and
    the discriminator's ``d_lr`` (the defaults, 1e-3 and 3e-4, let the generator outpace the discriminator: the
    regime in which a vanilla GAN collapses), for ``(1 - anneal) * steps`` generator steps, then
    ``anneal * steps`` more with both rates / 10 (a step decay; the second call starts fresh Adam moments).
    WGAN-GP uses its own optimiser instead (:func:`method_kwargs`). Every PacGAN minibatch holds ``batch_size``
    packs of m samples. Evaluation: the VEEGAN/PacGAN protocol on ``n_eval`` samples
    (``genedu.metrics.mode_coverage``).

    Args:
        method: one of :data:`METHODS` or "PacGAN<m>".
        dataset: "ring" or "grid".
        steps: generator steps (default 5,000).
        seed: seeds the data, the models, the minibatches, the noise and the evaluation noise.
        lr: the generator's learning rate (default 1e-3).
        d_lr: the discriminator's learning rate (default 3e-4).
        batch_size: minibatch (packs for PacGAN, default 128).
        hidden: the MLPs' hidden widths (default (128, 128, 128)).
        anneal: share of the steps at the learning rates / 10 (default 0.3).
        n_data: training set size.
        n_eval: samples evaluated (default 2,500 as in the papers).
        snapshot_every: record the generator's samples of a fixed noise batch before training, every this many
            generator steps and at the end of each learning-rate phase (default None: no snapshots).
            Recording them does not change the run: the same seed gives the same numbers with or without.
        n_snapshot: the size of the fixed noise batch of the snapshots (default 500).
        progress: progress bars.
        device: default "cpu" (these small MLPs are fastest there).

    Returns:
        {"modes", "high_quality", "counts", "seconds" (training wall time), "cpu_seconds" (the CPU time of this
        process during training: the wall time it would take alone on a quiet core), "samples" (n_eval, 2),
        "snapshots" (list of (step, samples)), "generator", "discriminator", "centers", "std", "history"}.
    """
    if dataset == "ring":
        x, _ = data.ring_of_gaussians(n_data, seed=seed)
        centers, std = data.ring_centers(), 0.02
    elif dataset == "grid":
        x, _ = data.grid_of_gaussians(n_data, seed=seed)
        centers, std = data.grid_centers(), 0.05
    else:
        raise ValueError(f"dataset must be 'ring' or 'grid', got {dataset!r}")
    steps = v.positive_int(steps, "steps")
    if not (isinstance(anneal, (int, float)) and 0 <= anneal < 1):
        raise ValueError(f"anneal must be in [0, 1), got {anneal!r}")
    spec = method_kwargs(method)
    m = spec["pack_m"]
    generator, discriminator = players(hidden=hidden, pack_m=m, seed=seed)
    n2 = int(round(anneal * steps))
    n1 = steps - n2
    # train_gan draws its fixed snapshot noise (n_snapshot rows) from the run's seeded generator before the
    # first step, so its n_snapshot shifts the random stream of the whole run. It always gets the same value
    # here (_STREAM_N_SNAPSHOT, that of the table's runs), and the snapshots are recorded by a callback with
    # noise of their own: a run gives the same numbers with or without snapshots, of any size.
    kwargs = dict(latent_dim=2, batch_size=batch_size * m, betas=(0.5, 0.999), progress=progress, device=device,
                  n_snapshot=_STREAM_N_SNAPSHOT, lr=v.positive_float(lr, "lr"),
                  d_lr=v.positive_float(d_lr, "d_lr"))
    kwargs.update(spec["train_gan"])
    decayed = dict(kwargs, lr=kwargs["lr"] / 10, d_lr=kwargs["d_lr"] / 10)
    if snapshot_every is not None:
        snapshot_every = v.positive_int(snapshot_every, "snapshot_every")
    n_snapshot = v.positive_int(n_snapshot, "n_snapshot")
    fixed_z = torch.randn(n_snapshot, 2, generator=torch.Generator().manual_seed(20_000 + seed))
    snapshots: list = []

    def record(step: int, gen: nn.Module) -> None:
        with torch.no_grad():
            snapshots.append((step, gen(fixed_z.to(device or "cpu")).detach().cpu()))

    def recorder(offset: int, last: int):
        if snapshot_every is None:
            return None

        def callback(step: int, gen: nn.Module, disc: nn.Module, hist: dict) -> None:
            if (offset + step) % snapshot_every == 0 or step == last:
                record(offset + step, gen)

        return callback

    t0, c0 = time.perf_counter(), time.process_time()
    with torch.random.fork_rng(devices=[]):   # the gradient penalty's interpolation weights use the global RNG
        torch.manual_seed(seed)
        if snapshot_every is not None:
            record(0, generator)
        history = train_gan(generator, discriminator, x, steps=n1, seed=seed, callback=recorder(0, n1), **kwargs)
        if n2:
            h2 = train_gan(generator, discriminator, x, steps=n2, seed=seed + 1, callback=recorder(n1, n2),
                           **decayed)
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
