"""Remedies for mode collapse (chapter 6), each a small function that plugs into ``genedu.gan.train_gan``.

- Wasserstein GAN with gradient penalty (Gulrajani et al., 2017): the critic f (no sigmoid) minimises
  E f(G(z)) - E f(x) + lambda E (||grad f(x_hat)||_2 - 1)^2 on random interpolates x_hat, lambda = 10;
  the generator minimises -E f(G(z)).
  :func:`wasserstein_critic_loss`, :func:`wasserstein_generator_loss`, :func:`gradient_penalty`,
  :func:`wgan_gp_critic_loss` and :func:`wgan_generator_loss` (the ``discriminator_loss=`` and
  ``generator_loss=`` hooks of ``train_gan``).
- Unrolled GAN (Metz et al., 2017): the generator's loss is computed against the discriminator as it will
  be after ``unroll`` more gradient steps, differentiated through those steps.
  :func:`unrolled_generator_loss` (the ``generator_loss=`` hook of ``train_gan``).
- Packing, PacGAN (Lin et al., 2018): the discriminator judges m samples at once, concatenated, all real
  or all generated. :func:`pack`, :class:`PackedDiscriminator`.

Both hooks of ``train_gan`` have one signature, ``loss(discriminator, x, fake)``: the discriminator (a module),
a real minibatch and a generated one.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from genedu import _validate as v
from genedu.runtime import rand
from genedu.gan import discriminator_loss as gan_discriminator_loss
from genedu.gan import generator_loss_nonsaturating

__all__ = ["wasserstein_critic_loss", "wasserstein_generator_loss", "gradient_penalty", "wgan_gp_critic_loss",
           "wgan_generator_loss", "unrolled_generator_loss", "pack", "PackedDiscriminator", "GP_LAMBDA"]

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
        real: (B, ...) real examples.
        fake: (B, ...) generated examples (same shape).
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
        epsilon = rand((b,), generator=generator, device=real.device).to(real.dtype)
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
                        rng: torch.Generator | None = None,
                        lam: float = GP_LAMBDA) -> tuple[torch.Tensor, dict[str, float]]:
    """The WGAN-GP critic loss E f(G(z)) - E f(x) + lam * gradient penalty, as ``train_gan``'s
    ``discriminator_loss=`` hook (``functools.partial`` it for another ``lam``).

    Args:
        d: the critic f, (B, ...) -> (B,) or (B, 1) scores.
        x: (B, ...) real minibatch.
        fake: (B, ...) G(z).
        rng: draws the penalty's interpolation weights epsilon (default None: the global generator);
            ``train_gan`` passes its seeded generator.
        lam: the penalty weight lambda (default 10, Gulrajani et al.).

    Returns:
        (loss, {"wasserstein": the estimate E f(x) - E f(G(z)), "gp": the penalty}).
    """
    lam = v.positive_float(lam, "lam", allow_zero=True)
    w = wasserstein_critic_loss(d(x), d(fake))
    gp = gradient_penalty(d, x, fake, generator=rng)
    return w + lam * gp, {"wasserstein": -w.item(), "gp": gp.item()}


def wgan_generator_loss(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor | None,
                        fake: torch.Tensor) -> torch.Tensor:
    """The WGAN generator's loss -E f(G(z)) as ``train_gan``'s ``generator_loss=`` hook.

    Args:
        critic: the critic f, ``critic(fake)`` -> (B,) or (B, 1) scores.
        x: the real minibatch (unused: the generator's loss depends on its samples only).
        fake: (B, ...) generated examples, with the generator's graph.

    Returns:
        a scalar tensor: :func:`wasserstein_generator_loss` of the critic's scores.
    """
    return wasserstein_generator_loss(critic(fake))


# --------------------------------------------------------------------------------------------------
# Unrolled GAN
# --------------------------------------------------------------------------------------------------

def unrolled_generator_loss(unroll: int = 5, lr: float = 0.1, logit_loss: Callable = generator_loss_nonsaturating,
                            second_order: bool = True) -> Callable:
    """Metz et al.'s unrolled generator objective, as ``train_gan``'s ``generator_loss=`` hook.

    From the discriminator's current parameters theta_0, take ``unroll`` gradient-descent steps on the GAN
    discriminator loss (functionally, on copies: the discriminator module is not changed),

        theta_{k+1} = theta_k - lr * grad_theta L_D(theta_k; x, G(z)),

    and return the generator loss against the unrolled discriminator, f_K(G(z)). With ``second_order`` the
    gradient flows through the unrolled steps (Metz et al.'s equation 9: the generator sees how the
    discriminator would react to its move); without it only through the last evaluation.

    Args:
        unroll: K, the number of unrolled discriminator steps (default 5; Metz et al. use 1 to 10).
        lr: the step size of the unrolled (plain gradient) steps (default 0.1).
        logit_loss: the generator's loss of the unrolled discriminator's logits, ``fake_logits -> loss``
            (default the non-saturating loss).
        second_order: differentiate through the unrolled steps (default True).

    Returns:
        ``objective(discriminator, x, fake) -> scalar loss`` with discriminator an nn.Module (logits (B,) or
        (B, 1)), x (B, ...) a real minibatch, fake (B, ...) = G(z) with its graph.
    """
    unroll = v.positive_int(unroll, "unroll", minimum=0)
    lr = v.positive_float(lr, "lr")
    if not callable(logit_loss):
        raise TypeError(f"logit_loss must be callable fake_logits -> loss, got {type(logit_loss).__name__}")

    def objective(discriminator: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
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
        return logit_loss(functional_call(discriminator, (theta, buffers), (fake,)).reshape(-1))

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
        v.module(net, "net")
        self.net = net
        self.m = v.positive_int(m, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(pack(x, self.m)).reshape(-1)
        return logits.repeat_interleave(self.m)
