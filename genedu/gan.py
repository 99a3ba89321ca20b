"""Generative adversarial networks: the losses of the minimax game and Goodfellow et al.'s Algorithm 1.

The discriminator D outputs a logit l(x) and D(x) = sigmoid(l(x)). The value function of the game is

    V(D, G) = E_{x ~ p_data}[log D(x)] + E_{z ~ p_z}[log(1 - D(G(z)))],

which D maximises and G minimises (Goodfellow et al., 2014). Written with logits, log D = -softplus(-l)
and log(1 - D) = -softplus(l), which stay finite for any logit (``log(sigmoid(l))`` computed directly
gives ``-inf`` once ``sigmoid(l)`` rounds to 0). Every loss is a mean over the batch.

- :func:`discriminator_loss`            -V(D, G) estimated on a minibatch        -> scalar
- :func:`generator_loss_saturating`     mean log(1 - D(G(z))) (the minimax G loss) -> scalar
- :func:`generator_loss_nonsaturating`  -mean log D(G(z)) (the non-saturating fix) -> scalar
- :func:`discriminator_step`, :func:`generator_step`   one update of one player
- :func:`train_gan`                     Algorithm 1: k discriminator steps per generator step

- :func:`mlp_players`                   the MLP generator and discriminator of the toy experiments

The theory of the game (optimal discriminator, value at the optimum, JSD, the 1D game) is in
``genedu.gan_theory``.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from genedu import _validate as v
from genedu.models import mlp
from genedu.runtime import device as default_device
from genedu.runtime import make_generator, randn, randperm
from genedu.train import loop

__all__ = ["discriminator_loss", "generator_loss_saturating", "generator_loss_nonsaturating",
           "GENERATOR_LOSSES", "discriminator_step", "generator_step", "train_gan", "mlp_players"]


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss -V(D, G) on a minibatch, from logits (numerically stable):

        -mean_i log D(x_i) - mean_j log(1 - D(G(z_j)))
          = mean_i softplus(-l(x_i)) + mean_j softplus(l(G(z_j)))

    This is the binary cross-entropy with label 1 for real and 0 for fake examples, each half averaged
    over its own batch (the two batches may differ in size).

    Args:
        real_logits: (B,) or (B, 1) discriminator logits l(x) on real examples (any shape: mean over all).
        fake_logits: (B',) or (B', 1) logits l(G(z)) on generated examples.

    Returns:
        a scalar tensor (differentiable with respect to both inputs).
    """
    v.nonempty_float_tensor(real_logits, "real_logits")
    v.nonempty_float_tensor(fake_logits, "fake_logits")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's minimax loss, mean log(1 - D(G(z))) = -mean softplus(l(G(z))), to MINIMISE.

    Its gradient with respect to the logit is -sigmoid(l) = -D(G(z)): it vanishes when D confidently
    rejects the samples (D(G(z)) near 0), which is exactly the situation early in training.

    Args:
        fake_logits: (B,) or (B, 1) discriminator logits on generated examples (any shape: mean over all).

    Returns:
        a scalar tensor (<= 0).
    """
    v.nonempty_float_tensor(fake_logits, "fake_logits")
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -mean log D(G(z)) = mean softplus(-l(G(z))).

    Same fixed point as the minimax loss, but its gradient with respect to the logit, -(1 - D(G(z))),
    is largest when D rejects the samples (Goodfellow et al., 2014, section 3).

    Args:
        fake_logits: (B,) or (B, 1) discriminator logits on generated examples (any shape: mean over all).

    Returns:
        a scalar tensor (>= 0).
    """
    v.nonempty_float_tensor(fake_logits, "fake_logits")
    return F.softplus(-fake_logits).mean()


GENERATOR_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "saturating": generator_loss_saturating,
    "non-saturating": generator_loss_nonsaturating,
}


# --------------------------------------------------------------------------------------------------
# one update of each player
# --------------------------------------------------------------------------------------------------

def _flat_logits(out, batch: int, who: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{who} must return a tensor of logits, got {type(out).__name__}")
    if out.shape not in ((batch,), (batch, 1)):
        raise ValueError(f"{who} must return logits of shape ({batch},) or ({batch}, 1), got {tuple(out.shape)}")
    return out.reshape(batch)


def _call(module, inputs: torch.Tensor, y: torch.Tensor | None):
    return module(inputs) if y is None else module(inputs, y)


def _check_generator_loss(loss) -> None:
    if callable(loss) or (isinstance(loss, str) and loss in GENERATOR_LOSSES):
        return
    raise ValueError(f"generator_loss must be 'saturating', 'non-saturating' or a callable "
                     f"loss(discriminator, x, fake) -> loss, got {loss!r}")


def discriminator_step(generator: torch.nn.Module, discriminator: torch.nn.Module,
                       optimizer: torch.optim.Optimizer, x: torch.Tensor, z: torch.Tensor,
                       y: torch.Tensor | None = None, y_fake: torch.Tensor | None = None,
                       loss: Callable | None = None, rng: torch.Generator | None = None) -> dict[str, float]:
    """One discriminator update of Algorithm 1: ascend V(D, G) on a real and a noise minibatch.

    The fake examples G(z) are generated without gradient (the generator is a constant here, and
    none of its parameters or gradients change). ``optimizer`` must hold the discriminator's
    parameters; its gradients are zeroed before the backward pass.

    Args:
        generator: called as ``generator(z)`` (or ``generator(z, y_fake)`` when ``y`` is given).
        discriminator: called as ``discriminator(x)`` (or ``discriminator(x, y)``) -> (B,) or (B, 1) logits.
        optimizer: the discriminator's optimizer.
        x: (B, ...) real minibatch.
        z: (B', latent_dim) noise.
        y: (B,) integer labels of x (conditional GAN) or None.
        y_fake: (B',) labels given to the fakes (default: ``y``).
        loss: None for :func:`discriminator_loss`, or a callable ``loss(d, x, fake, rng)`` -> loss or
            (loss, dict of floats), where ``d`` is the discriminator (with the labels bound when ``y`` is
            given) and ``rng`` draws any noise the loss needs: a hook for other losses, e.g.
            ``genedu.remedies.wgan_gp_critic_loss``.
        rng: the torch.Generator passed to ``loss`` (default None: the global generator); named ``rng``
            here because ``generator`` is the GAN's generator.

    Returns:
        {"d_loss": ..., "d_real": mean D(x), "d_fake": mean D(G(z))} as floats (with a custom
        ``loss``: "d_loss" and the loss's own logged values).
    """
    if y is not None and y_fake is None:
        y_fake = y
    with torch.no_grad():
        fake = _call(generator, z, y_fake)
    if loss is None:
        real_logits = _flat_logits(_call(discriminator, x, y), len(x), "discriminator")
        fake_logits = _flat_logits(_call(discriminator, fake, y_fake), len(fake), "discriminator")
        d_loss = discriminator_loss(real_logits, fake_logits)
        logs = {"d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item()}
    else:
        def d(inputs):
            return _call(discriminator, inputs, y)
        out = loss(discriminator if y is None else d, x, fake, rng)
        d_loss, logs = (out[0], dict(out[1])) if isinstance(out, tuple) else (out, {})
    optimizer.zero_grad()
    d_loss.backward()
    optimizer.step()
    return {"d_loss": d_loss.item(), **{key: float(val) for key, val in logs.items()}}


def generator_step(generator: torch.nn.Module, discriminator: torch.nn.Module,
                   optimizer: torch.optim.Optimizer, z: torch.Tensor, y: torch.Tensor | None = None,
                   loss: str | Callable = "non-saturating", x: torch.Tensor | None = None) -> dict[str, float]:
    """One generator update of Algorithm 1: descend the generator loss on a noise minibatch.

    The discriminator's parameters are frozen during the step (``requires_grad`` off, restored after),
    so its weights and gradients are left untouched. ``optimizer`` must hold the generator's
    parameters; its gradients are zeroed before the backward pass.

    Args:
        generator: called as ``generator(z)`` (or ``generator(z, y)``).
        discriminator: called as ``discriminator(G(z))`` (or with ``y``) -> (B,) or (B, 1) logits.
        optimizer: the generator's optimizer.
        z: (B, latent_dim) noise.
        y: (B,) integer labels (conditional GAN) or None.
        loss: "non-saturating" (default, -mean log D(G(z))), "saturating" (mean log(1 - D(G(z)))), or a
            callable ``loss(discriminator, x, fake)`` -> loss with the signature of the discriminator's hook,
            for losses that need more than the fakes' logits (``genedu.remedies.wgan_generator_loss``; the
            unrolled GAN's ``genedu.remedies.unrolled_generator_loss`` looks several discriminator steps
            ahead). ``fake`` = G(z) carries the generator's graph. A callable does not take labels: not with ``y``.
        x: (B, ...) a real minibatch, passed to a callable ``loss`` (default None).

    Returns:
        {"g_loss": ...} as a float.
    """
    _check_generator_loss(loss)
    if callable(loss) and y is not None:
        raise ValueError("a callable generator loss does not support a conditional GAN (y must be None)")
    frozen = [(p, p.requires_grad) for p in discriminator.parameters()]
    for p, _ in frozen:
        p.requires_grad_(False)
    try:
        fake = _call(generator, z, y)
        if callable(loss):
            g_loss = loss(discriminator, x, fake)
        else:
            g_loss = GENERATOR_LOSSES[loss](_flat_logits(_call(discriminator, fake, y), len(z), "discriminator"))
        optimizer.zero_grad()
        g_loss.backward()
        optimizer.step()
    finally:
        for p, flag in frozen:
            p.requires_grad_(flag)
    return {"g_loss": g_loss.item()}


# --------------------------------------------------------------------------------------------------
# the data: an endless stream of shuffled minibatches
# --------------------------------------------------------------------------------------------------

def _tensors(data, conditional: bool) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """(x, y) tensors when ``data`` is held in tensors (fast path), else None."""
    if isinstance(data, torch.Tensor):
        if conditional:
            raise ValueError("data must yield (x, y) pairs when conditional=True, got a single tensor; "
                             "pass a tuple (x, y) or a TensorDataset(x, y)")
        return data, None
    if isinstance(data, TensorDataset):
        data = data.tensors
    if isinstance(data, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in data):
        if len(data) == 1 and not conditional:
            return data[0], None
        if len(data) == 2:
            x, y = data
            if len(x) != len(y):
                raise ValueError(f"data's x and y must have the same length, got {len(x)} and {len(y)}")
            if conditional:
                v.int_tensor(y, "data's labels y")
            return x, (y if conditional else None)
        raise ValueError(f"data as tensors must be x or (x, y), got {len(data)} tensors")
    if isinstance(data, Dataset):
        return None
    raise TypeError(f"data must be a torch.Tensor, a tuple (x, y) of tensors or a Dataset, got {type(data).__name__}")


def _batches(data, conditional: bool, batch_size: int, g: torch.Generator,
             device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Endless minibatches (x, y or None): reshuffled each epoch, the last incomplete batch dropped."""
    tensors = _tensors(data, conditional)
    if tensors is not None:
        x, y = tensors
        if len(x) < batch_size:
            raise ValueError(f"batch_size ({batch_size}) must not exceed the number of examples ({len(x)})")
        x = x.to(device)
        y = y.to(device) if y is not None else None
        while True:
            perm = randperm(len(x), generator=g, device=device)
            for start in range(0, len(x) - batch_size + 1, batch_size):
                idx = perm[start:start + batch_size]
                yield x[idx], (y[idx] if y is not None else None)
    if len(data) < batch_size:
        raise ValueError(f"batch_size ({batch_size}) must not exceed the number of examples ({len(data)})")
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True, generator=g)
    while True:
        for batch in loader:
            if isinstance(batch, (tuple, list)):
                xb, yb = batch[0], (batch[1] if len(batch) > 1 else None)
            else:
                xb, yb = batch, None
            if conditional and yb is None:
                raise ValueError("data must yield (x, y) pairs when conditional=True, got items without labels")
            yield xb.to(device), (yb.to(device) if conditional else None)


def _n_classes(data) -> int:
    tensors = _tensors(data, True)
    if tensors is not None:
        return int(tensors[1].max()) + 1
    return max(int(data[i][1]) for i in range(len(data))) + 1


# --------------------------------------------------------------------------------------------------
# Algorithm 1
# --------------------------------------------------------------------------------------------------

def train_gan(generator: torch.nn.Module, discriminator: torch.nn.Module, data, latent_dim: int, steps: int,
              k: int = 1, batch_size: int = 64, lr: float = 2e-4, d_lr: float | None = None,
              betas: tuple[float, float] = (0.5, 0.999), generator_loss: str | Callable = "non-saturating",
              discriminator_loss: Callable | None = None, conditional: bool = False,
              snapshot_every: int | None = None, n_snapshot: int = 64, callback: Callable | None = None,
              device: torch.device | str | None = None, seed: int | None = 0,
              progress: bool = True) -> dict[str, list]:
    """Train a GAN with Goodfellow et al.'s Algorithm 1 (minibatch stochastic gradient, Adam here).

    For each of ``steps`` generator steps (the steps of ``genedu.train.loop``): ``k`` discriminator steps
    (:func:`discriminator_step`), each on a fresh real minibatch and fresh noise z ~ N(0, I), then one
    generator step (:func:`generator_step`) on fresh noise. Both players use Adam(lr, betas); the defaults
    are Radford et al.'s (2e-4, beta1 0.5).

    Args:
        generator: ``generator(z)`` maps z (B, latent_dim) to samples (B, ...); ``generator(z, y)`` when
            ``conditional``.
        discriminator: ``discriminator(x)`` (or ``discriminator(x, y)``) -> logits (B,) or (B, 1).
        data: an (N, ...) tensor, a tuple (x, y) of tensors, or a Dataset whose items are x, (x,) or (x, y).
            Minibatches are reshuffled every epoch; an incomplete last batch is dropped.
        latent_dim: the size of z.
        steps: the number of generator steps (iterations of Algorithm 1).
        k: discriminator steps per generator step (default 1, as in the paper's experiments).
        batch_size: examples per minibatch, real and fake (default 64).
        lr: Adam's learning rate for the generator, and for the discriminator unless ``d_lr`` (default 2e-4).
        d_lr: the discriminator's learning rate when it differs from the generator's (default None: ``lr``;
            the demo notebook of Metz et al.'s unrolled GAN, for instance, uses 1e-3 for G and 1e-4 for D).
        betas: Adam's betas for both players (default (0.5, 0.999)).
        generator_loss: "non-saturating" (default), "saturating", or a callable ``loss(discriminator, x, fake)``
            (see :func:`generator_step`; ``x`` is the last real minibatch of the discriminator steps), e.g.
            ``genedu.remedies.unrolled_generator_loss(5)`` or ``genedu.remedies.wgan_generator_loss``.
        discriminator_loss: None for the GAN loss, or a callable ``loss(d, x, fake, rng)`` -> loss or
            (loss, logs): see :func:`discriminator_step` (e.g. ``genedu.remedies.wgan_gp_critic_loss``);
            ``rng`` is the run's seeded torch.Generator.
        conditional: when True, ``data`` yields (x, y) with integer labels in [0, n_classes), n_classes the
            generator's ``n_classes`` attribute (else the largest label in data + 1); the fakes of a
            discriminator step get the labels of that step's real minibatch, those of a generator step the
            labels of the last real minibatch in a random order (so labels follow the data's frequencies).
        snapshot_every: every this many generator steps (and before the first and after the last), record
            ``generator`` samples of a fixed noise batch (in eval mode) in ``history["snapshots"]``;
            None (default): no snapshots.
        n_snapshot: the size of the fixed noise batch (default 64); when conditional its labels are
            0, 1, ..., n_classes - 1 repeated.
        callback: ``callback(step, generator, discriminator, history)`` after each generator step
            (``step`` = generator steps done, 1..steps).
        device: default ``genedu.device()``.
        seed: seeds the minibatch order, the noise, the fixed snapshot noise and the noise a
            ``discriminator_loss`` draws with its ``rng`` (not the models' initialisation); None: not seeded.
        progress: show a progress bar.

    Returns:
        the history, per-generator-step lists "d_loss" (mean over the k discriminator steps), "g_loss",
        "d_real" and "d_fake" (mean D(x) and D(G(z)) seen by the discriminator steps, before their
        updates; absent with a custom ``discriminator_loss``, which adds its own logs instead), and
        "snapshots": a list of (step, samples) with samples on the CPU. Both models are left in eval mode.
    """
    v.module(generator, "generator")
    v.module(discriminator, "discriminator")
    latent_dim = v.positive_int(latent_dim, "latent_dim")
    steps = v.positive_int(steps, "steps")
    k = v.positive_int(k, "k")
    batch_size = v.positive_int(batch_size, "batch_size")
    lr = v.positive_float(lr, "lr")
    d_lr = lr if d_lr is None else v.positive_float(d_lr, "d_lr")
    if (not isinstance(betas, (tuple, list)) or len(betas) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
        raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
    _check_generator_loss(generator_loss)
    if not isinstance(conditional, bool):
        raise TypeError(f"conditional must be a bool, got {type(conditional).__name__}")
    if snapshot_every is not None:
        snapshot_every = v.positive_int(snapshot_every, "snapshot_every")
    n_snapshot = v.positive_int(n_snapshot, "n_snapshot")
    v.optional_callable(callback, "callback", "callback(step, generator, discriminator, history)")
    v.optional_callable(discriminator_loss, "discriminator_loss", "loss(d, x, fake, rng) -> loss")
    if callable(generator_loss) and conditional:
        raise ValueError("a callable generator_loss does not support conditional=True")
    device = torch.device(device) if device is not None else default_device()
    n_classes = (getattr(generator, "n_classes", None) or _n_classes(data)) if conditional else None

    g = make_generator(seed)
    batches = _batches(data, conditional, batch_size, g, device)
    generator.to(device)
    discriminator.to(device)
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=tuple(betas))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=d_lr, betas=tuple(betas))

    def noise(n: int) -> torch.Tensor:
        return randn((n, latent_dim), generator=g, device=device)

    fixed_z = noise(n_snapshot)
    fixed_y = (torch.arange(n_snapshot) % n_classes).to(device) if conditional else None
    history: dict[str, list] = {"snapshots": []}

    def snapshot(step: int) -> None:
        generator.eval()
        with torch.no_grad():
            history["snapshots"].append((step, _call(generator, fixed_z, fixed_y).detach().cpu()))
        generator.train()

    def iteration(step: int) -> dict[str, float]:
        sums: dict[str, float] = defaultdict(float)
        y = None
        for _ in range(k):
            x, y = next(batches)
            logs = discriminator_step(generator, discriminator, d_opt, x, noise(batch_size), y=y,
                                      loss=discriminator_loss, rng=g)
            for key, value in logs.items():
                sums[key] += value / k
        y_g = y[randperm(len(y), generator=g, device=device)] if conditional else None
        logs = generator_step(generator, discriminator, g_opt, noise(batch_size), y=y_g, loss=generator_loss, x=x)
        if snapshot_every is not None and (step % snapshot_every == 0 or step == steps):
            snapshot(step)
        return {**sums, **logs}

    generator.train()
    discriminator.train()
    if snapshot_every is not None:
        snapshot(0)
    each = None if callback is None else (lambda step, h: callback(step, generator, discriminator, h))
    history = loop(steps, iteration, "training GAN", progress, each, show=("d_loss", "g_loss"), history=history)
    generator.eval()
    discriminator.eval()
    return history


def mlp_players(generator_sizes: Sequence[int], discriminator_sizes: Sequence[int],
                seed: int | None = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The MLP generator (ReLU) and discriminator (LeakyReLU 0.2, one logit) of the toy experiments, built by
    ``genedu.models.mlp`` and initialised with ``seed`` (the generator's weights drawn first) without changing
    the global RNG.

    Chapter 4's 1D game uses ``mlp_players([1, 32, 32, 1], [1, 32, 32, 1])``; chapter 6's 2D experiments
    ``mlp_players([2, 128, 128, 128, 2], [2 * m, 128, 128, 128, 1])``, the discriminator wrapped in
    ``genedu.remedies.PackedDiscriminator(d, m)`` when it judges packs of m samples.

    Args:
        generator_sizes: ``[latent_dim, hidden..., data_dim]``.
        discriminator_sizes: ``[data_dim, hidden..., 1]``.
        seed: seeds the initialisation (default 0); None draws from the global generator (and advances it).

    Returns:
        the pair (generator, discriminator), two ``nn.Sequential``.
    """
    seed = v.optional_seed(seed)
    if seed is None:  # like any nn.Linear: drawn from, and advancing, the global generator
        return mlp(generator_sizes), mlp(discriminator_sizes, activation=_leaky_relu)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = mlp(generator_sizes)
        discriminator = mlp(discriminator_sizes, activation=_leaky_relu)
    return generator, discriminator


def _leaky_relu() -> torch.nn.Module:
    return torch.nn.LeakyReLU(0.2)
