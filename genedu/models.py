"""Neural network models of the course, small enough to read in one sitting.

Autoencoders and VAEs (chapters 2-3):

- :func:`mlp`                       a stack of linear layers with activations between them
- :class:`Autoencoder`              ``encode(x) -> z``, ``decode(z) -> logits``
- :class:`VAE`                      ``encode(x) -> (mu, logvar)``, ``decode(z) -> logits``, ``sample(n)``
- :func:`reparameterize`            z = mu + sigma * eps, differentiable in mu and logvar
- :class:`ConditionalVAE`           a VAE told the label: ``encode(x, y)``, ``decode(z, y)``, ``sample(y)``
- :func:`interpolate`               points on the straight line between two codes
- :func:`mlp_autoencoder`, :func:`mlp_vae`, :func:`mlp_cvae`, :func:`conv_vae`  the builders the chapters use

Conventions: images are (B, 1, 28, 28) tensors in [0, 1]; decoders return **logits**, one per
pixel, so ``torch.sigmoid(model.decode(z))`` is the image and the Bernoulli reconstruction loss is
``genedu.losses.bce_reconstruction(logits, x)``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from genedu import _validate as v
from genedu.runtime import randn

__all__ = ["mlp", "Autoencoder", "VAE", "ConditionalVAE", "reparameterize", "interpolate", "mlp_autoencoder", "mlp_vae",
           "mlp_cvae", "conv_vae"]


def mlp(sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` with ``activation`` between them
    (none after the last layer): the one MLP builder of the course.

    Example: ``mlp([784, 400, 20])`` is Linear(784, 400), ReLU, Linear(400, 20).

    Args:
        sizes: the layer widths, input first (at least two).
        activation: makes the module put between layers (default ``nn.ReLU``; e.g.
            ``lambda: nn.LeakyReLU(0.2)``).

    Returns:
        an ``nn.Sequential``.
    """
    sizes = [v.positive_int(s, "sizes[i]") for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {sizes}")
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    v.float_tensor(x, name)
    if x.dim() < 2:
        raise ValueError(f"{name} must be a batch (B, ...), got shape {tuple(x.shape)}")


class Autoencoder(nn.Module):
    """x -> encoder -> z (the bottleneck) -> decoder -> reconstruction logits.

    Args:
        encoder: maps x (B, ...) to codes (B, latent_dim).
        decoder: maps codes (B, latent_dim) to logits shaped like x.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> (B, latent_dim).

        Args:
            x: (B, ...) images.

        Returns:
            (B, latent_dim) codes.
        """
        _check_images(x)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> logits (B, ...).

        Args:
            z: (B, latent_dim) codes.

        Returns:
            logits (B, ...).
        """
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits, shaped like ``x``."""
        return self.decode(self.encode(x))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample z ~ N(mu, diag(exp(logvar))) written as z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)
    (Kingma & Welling 2014), so that gradients flow to ``mu`` and ``logvar``.

    Args:
        mu: (B, D) mean.
        logvar: (B, D) log-variance.
        generator: optional, for reproducible eps.

    Returns:
        z (B, D).
    """
    v.float_tensor(mu, "mu")
    v.float_tensor(logvar, "logvar", shape=tuple(mu.shape))
    eps = randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def interpolate(z_start: torch.Tensor, z_end: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` evenly spaced points on the line from ``z_start`` to ``z_end``, both included:
    z_i = (1 - t_i) z_start + t_i z_end with t_i = i / (steps - 1).

    Args:
        z_start: (D,) code.
        z_end: (D,) code.
        steps: number of points, at least 2.

    Returns:
        (steps, D).
    """
    v.float_tensor(z_start, "z_start", ndim=1)
    v.float_tensor(z_end, "z_end", shape=tuple(z_start.shape))
    steps = v.positive_int(steps, "steps", minimum=2)
    t = torch.linspace(0, 1, steps, dtype=z_start.dtype, device=z_start.device)[:, None]
    return (1 - t) * z_start + t * z_end


class VAE(Autoencoder):
    """A variational autoencoder: q(z|x) = N(mu(x), diag(exp(logvar(x)))), p(z) = N(0, I) and
    p(x|z) = Bernoulli(sigmoid(decoder(z))). An :class:`Autoencoder` whose encoder outputs a distribution:
    ``decode`` is the autoencoder's.

    Args:
        encoder: maps x (B, ...) to (B, 2 * latent_dim): the first half is mu, the second logvar.
        decoder: maps z (B, latent_dim) to logits shaped like x.
        latent_dim: dimension of z.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int):
        super().__init__(encoder, decoder)
        self.latent_dim = v.positive_int(latent_dim, "latent_dim")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, ...) -> (mu, logvar), each (B, latent_dim).

        Args:
            x: (B, ...) images.

        Returns:
            the pair (mu, logvar), each (B, latent_dim).
        """
        _check_images(x)
        h = self.encoder(x)
        if h.shape[-1] != 2 * self.latent_dim:
            raise ValueError(f"the encoder must output 2 * latent_dim = {2 * self.latent_dim} values, "
                             f"got {h.shape[-1]}")
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass: encode, sample z by :func:`reparameterize`, decode.

        Returns:
            logits (shaped like x), mu (B, latent_dim), logvar (B, latent_dim).
        """
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images from the model: z ~ N(0, I), then the decoder's Bernoulli means sigmoid(logits).

        Args:
            n: number of images.
            generator: optional, for reproducible z.

        Returns:
            (n, ...) pixel probabilities in [0, 1].
        """
        n = v.positive_int(n, "n")
        p = next(self.parameters())
        z = randn((n, self.latent_dim), generator=generator, device=p.device)
        return torch.sigmoid(self.decode(z))


class ConditionalVAE(nn.Module):
    """A conditional VAE (Kingma et al., 2014's M2 with the label observed; Sohn et al., 2015): q(z | x, y) =
    N(mu(x, y), diag(exp(logvar(x, y)))), p(z) = N(0, I) and p(x | z, y) = Bernoulli(sigmoid(decoder(z, y))).
    Both networks are told the label as a one-hot vector concatenated to their input, after it.

    Args:
        encoder: maps [x flattened, one_hot(y)] (B, D + n_classes) to (B, 2 * latent_dim): mu, then logvar.
        decoder: maps [z, one_hot(y)] (B, latent_dim + n_classes) to logits shaped like x.
        latent_dim: dimension of z.
        n_classes: number of labels K; labels are int64 in 0 .. K - 1.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, n_classes: int):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = v.positive_int(latent_dim, "latent_dim")
        self.n_classes = v.positive_int(n_classes, "n_classes", minimum=2)

    def one_hot(self, y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The labels as one-hot vectors.

        Args:
            y: (B,) int64 labels in 0 .. n_classes - 1.
            like: a (B, ...) tensor whose dtype and device the result takes.

        Returns:
            (B, n_classes) one-hot vectors.
        """
        v.int_tensor(y, "y")
        if len(y) != len(like):
            raise ValueError(f"y must hold one label per example ({len(like)}), got {len(y)}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.n_classes):
            raise ValueError(f"labels y must lie in 0 .. n_classes - 1 = {self.n_classes - 1}, got "
                             f"{int(y.min())} .. {int(y.max())}")
        return nn.functional.one_hot(y.long(), self.n_classes).to(like)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x, y): the encoder applied to [x flattened, one_hot(y)].

        Args:
            x: (B, ...) images.
            y: (B,) int64 labels.

        Returns:
            the pair (mu, logvar), each (B, latent_dim).
        """
        _check_images(x)
        h = self.encoder(torch.cat([x.flatten(1), self.one_hot(y, x)], dim=1))
        if h.shape[-1] != 2 * self.latent_dim:
            raise ValueError(f"the encoder must output 2 * latent_dim = {2 * self.latent_dim} values, "
                             f"got {h.shape[-1]}")
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """p(x | z, y): the decoder applied to [z, one_hot(y)].

        Args:
            z: (B, latent_dim) codes.
            y: (B,) int64 labels.

        Returns:
            logits (B, ...), shaped like the images.
        """
        v.float_tensor(z, "z", shape=(None, self.latent_dim))
        return self.decoder(torch.cat([z, self.one_hot(y, z)], dim=1))

    def forward(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass: encode (x, y), sample z by :func:`reparameterize`, decode (z, y).

        Args:
            x: (B, ...) images.
            y: (B,) int64 labels.
            generator: optional, for reproducible z.

        Returns:
            logits (shaped like x), mu (B, latent_dim), logvar (B, latent_dim).
        """
        mu, logvar = self.encode(x, y)
        return self.decode(reparameterize(mu, logvar, generator), y), mu, logvar

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One image per label: z ~ N(0, I), then the decoder's Bernoulli means sigmoid(decode(z, y)).

        Args:
            y: (N,) int64 labels, the digits asked for.
            generator: optional, for reproducible z.

        Returns:
            (N, ...) pixel probabilities in [0, 1].
        """
        v.int_tensor(y, "y")
        p = next(self.parameters())
        z = randn((len(y), self.latent_dim), generator=generator, device=p.device)
        return torch.sigmoid(self.decode(z, y.to(p.device)))


def mlp_autoencoder(latent_dim: int = 2, hidden: Sequence[int] = (256, 64), image_shape: Sequence[int] = (1, 28, 28),
                    linear: bool = False) -> Autoencoder:
    """An MLP autoencoder for images: flatten -> hidden layers -> latent_dim -> hidden reversed -> image.

    Args:
        latent_dim: size of the bottleneck.
        hidden: hidden widths of the encoder (the decoder mirrors them).
        image_shape: shape of one image.
        linear: no hidden layers and no activations
            (a linear autoencoder, which learns the PCA subspace).

    Returns:
        an :class:`Autoencoder` whose decoder returns logits (B, *image_shape).
    """
    d = 1
    for s in image_shape:
        d *= v.positive_int(s, "image_shape[i]")
    sizes = [d, latent_dim] if linear else [d, *v.widths(hidden), latent_dim]
    encoder = nn.Sequential(nn.Flatten(), mlp(sizes))
    decoder = nn.Sequential(mlp(sizes[::-1]), nn.Unflatten(1, tuple(image_shape)))
    return Autoencoder(encoder, decoder)


def mlp_vae(latent_dim: int = 20, hidden: Sequence[int] = (400,), image_shape: Sequence[int] = (1, 28, 28)) -> VAE:
    """The VAE of pytorch/examples: 784-400-(20 + 20) encoder, 20-400-784 decoder, ReLU.

    Args:
        latent_dim: the size of z (default 20).
        hidden: the encoder's hidden widths, reversed in the decoder (default (400,)).
        image_shape: the shape of one image (default (1, 28, 28)).

    Returns:
        a :class:`VAE` whose encoder outputs (mu, logvar) concatenated.
    """
    d = 1
    for s in image_shape:
        d *= v.positive_int(s, "image_shape[i]")
    hidden = v.widths(hidden)
    encoder = nn.Sequential(nn.Flatten(), mlp([d, *hidden, 2 * latent_dim]))
    decoder = nn.Sequential(mlp([latent_dim, *hidden[::-1], d]), nn.Unflatten(1, tuple(image_shape)))
    return VAE(encoder, decoder, latent_dim)


def mlp_cvae(latent_dim: int = 20, n_classes: int = 10, hidden: Sequence[int] = (400,),
             image_shape: Sequence[int] = (1, 28, 28)) -> ConditionalVAE:
    """:func:`mlp_vae` told the label: a (784 + 10)-400-(20 + 20) encoder and a (20 + 10)-400-784 decoder, ReLU.

    Args:
        latent_dim: the size of z (default 20).
        n_classes: the number of labels (default 10).
        hidden: the encoder's hidden widths, reversed in the decoder (default (400,)).
        image_shape: the shape of one image (default (1, 28, 28)).

    Returns:
        a :class:`ConditionalVAE`.
    """
    d = 1
    for s in image_shape:
        d *= v.positive_int(s, "image_shape[i]")
    latent_dim = v.positive_int(latent_dim, "latent_dim")
    n_classes = v.positive_int(n_classes, "n_classes", minimum=2)
    hidden = v.widths(hidden)
    encoder = mlp([d + n_classes, *hidden, 2 * latent_dim])
    decoder = nn.Sequential(mlp([latent_dim + n_classes, *hidden[::-1], d]), nn.Unflatten(1, tuple(image_shape)))
    return ConditionalVAE(encoder, decoder, latent_dim, n_classes)


def conv_vae(latent_dim: int = 16, channels: int = 32) -> VAE:
    """A small convolutional VAE for 28x28 images.

    Encoder: Conv(1->c, 4, stride 2) 28->14, Conv(c->2c, 4, stride 2) 14->7, then a linear layer to
    2 * latent_dim. Decoder: the mirror image with transposed convolutions, 7->14->28.

    Args:
        latent_dim: the size of z (default 16).
        channels: c, the width of the first convolution (default 32).

    Returns:
        a :class:`VAE` for (B, 1, 28, 28) images.
    """
    c = v.positive_int(channels, "channels")
    latent_dim = v.positive_int(latent_dim, "latent_dim")
    encoder = nn.Sequential(
        nn.Conv2d(1, c, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(2 * c * 7 * 7, 2 * latent_dim),
    )
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 2 * c * 7 * 7), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),
    )
    return VAE(encoder, decoder, latent_dim)
