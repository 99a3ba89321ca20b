"""Autoregressive models of binary images: the chain rule made concrete (chapter 8).

Any distribution over D binary pixels factorises by the chain rule, in any order o,

    p(x) = prod_{i=1..D} p(x_{o_i} | x_{o_1}, ..., x_{o_{i-1}}),

so a network that outputs, for each pixel, the logit of ``p(x_d = 1 | the pixels before d)`` has an
exact log-likelihood: the sum of D Bernoulli log-probabilities, computed in ONE forward pass on a
training image (teacher forcing), while sampling needs D passes, one pixel at a time.

- :func:`made_masks`, :class:`MaskedLinear`, :class:`MADE`  the masked autoencoder of Germain et al.
  (2015): an MLP whose weight masks, built from the *degree* of every unit, make output d depend on
  the inputs before d only, for any hidden sizes and any ordering;
- :func:`pixelcnn_mask`, :class:`MaskedConv2d`, :class:`PixelCNN`  masked convolutions of van den Oord
  et al. (2016): type A (the first layer: a pixel does not see itself) and type B (later layers);
- :func:`log_prob`, :func:`bits_per_dim`  the exact log-likelihood in nats, and in bits per dimension;
- :func:`sample`  sequential sampling, one pixel at a time, with a progress bar.

Both models map images ``x`` of shape (B, 1, H, W) with values in {0, 1} to logits of the same shape.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from genedu import _validate as v
from genedu.runtime import make_generator

__all__ = ["made_masks", "MaskedLinear", "MADE", "pixelcnn_mask", "MaskedConv2d", "PixelCNN", "log_prob",
           "bits_per_dim", "sample"]


# --- MADE ------------------------------------------------------------------------------------------

def made_masks(n_inputs: int, hidden: Sequence[int], ordering: torch.Tensor | None = None,
               seed: int | None = 0) -> list[torch.Tensor]:
    """The weight masks of MADE (Germain et al. 2015, section 4), from the degrees of the units.

    Input d gets degree ``m0[d]``, its position in ``ordering`` (0 = predicted first). A hidden unit k
    of layer l gets a degree ``m_l[k]`` in ``min(m_{l-1}), ..., D - 2``: it may see the inputs of
    degree up to ``m_l[k]``. The paper draws these degrees at random, which can leave a degree out (and
    with it every path to some output); here the degrees are spread evenly over that range (each
    given to the same number of units, give or take one, when the layer is wider than the range),
    in a random order. A hidden weight is kept when
    ``m_l[k] >= m_{l-1}[k']`` (a unit sees what the units it reads see), an output weight when
    ``m0[d] > m_L[k]`` (output d sees only inputs that come before d in the ordering).

    Args:
        n_inputs: D, the number of inputs (and outputs).
        hidden: the hidden layers' widths, e.g. ``(500, 500)``.
        ordering: (D,) a permutation of 0..D-1, the order in which the inputs are predicted
            (``ordering[i]`` is the input predicted i-th); default: 0, 1, ..., D-1.
        seed: seeds the hidden degrees (default 0; None for fresh randomness).

    Returns:
        one 0/1 float tensor per layer, of the layer's weight shape (out, in): (hidden[0], D),
        (hidden[1], hidden[0]), ..., (D, hidden[-1]).
    """
    n = v.positive_int(n_inputs, "n_inputs", minimum=2)
    widths = v.widths(hidden)
    if not widths:
        raise ValueError("hidden must name at least one hidden layer, e.g. hidden=(500,)")
    if ordering is None:
        ordering = torch.arange(n)
    if not isinstance(ordering, torch.Tensor) or ordering.shape != (n,) or \
            not torch.equal(ordering.sort().values, torch.arange(n, device=ordering.device)):
        raise ValueError(f"ordering must be a permutation of 0..{n - 1} as a ({n},) tensor")
    generator = make_generator(seed)
    degrees = [torch.empty(n, dtype=torch.long)]
    degrees[0][ordering.cpu()] = torch.arange(n)        # input d's position in the ordering
    for width in widths:
        low = int(degrees[-1].min())
        spread = low + torch.arange(width) * (n - 1 - low) // width   # low..D-2, evenly spread
        degrees.append(spread[torch.randperm(width, generator=generator)])
    masks = [(degrees[i + 1][:, None] >= degrees[i][None, :]).float() for i in range(len(widths))]
    masks.append((degrees[0][:, None] > degrees[-1][None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask.

    Args:
        in_features: inputs of the layer.
        out_features: outputs of the layer.
        mask: (out_features, in_features) 0/1 tensor (from :func:`made_masks`).
    """

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.float(), persistent=False)  # rebuilt from the config, not saved

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """MADE on binary images: a masked MLP from the D pixels to D logits, where logit d depends only
    on the pixels before d in ``ordering`` (the autoregressive property).

    Args:
        image_shape: (C, H, W) of the images, e.g. (1, 28, 28) (D = C * H * W).
        hidden: hidden widths (default (500, 500)).
        ordering: (D,) the order of the pixels (default raster order, 0..D-1).
        seed: seeds the hidden degrees (default 0).
        masks: the layers' masks, (hidden[0], D), ..., (D, hidden[-1]) (default: :func:`made_masks` of
            ``ordering`` and ``seed``), e.g. masks you built yourself.

    ``forward(x)`` maps x (B, C, H, W) in {0, 1} to logits (B, C, H, W).
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (500, 500),
                 ordering: torch.Tensor | None = None, seed: int | None = 0,
                 masks: Sequence[torch.Tensor] | None = None):
        super().__init__()
        self.image_shape = tuple(v.positive_int(s, "image_shape[i]") for s in image_shape)
        n = math.prod(self.image_shape)
        ordering = torch.arange(n) if ordering is None else ordering
        sizes = [n, *hidden, n]
        if masks is None:
            masks = made_masks(n, hidden, ordering, seed)
        elif len(masks) != len(sizes) - 1 or any(
                not isinstance(m, torch.Tensor) or tuple(m.shape) != (sizes[i + 1], sizes[i]) for i, m in enumerate(masks)):
            want = ", ".join(f"({sizes[i + 1]}, {sizes[i]})" for i in range(len(sizes) - 1))
            raise ValueError(f"masks must be {len(sizes) - 1} tensors of shapes {want}")
        layers = []
        for i, mask in enumerate(masks):
            layers.append(MaskedLinear(sizes[i], sizes[i + 1], mask))
            if i < len(masks) - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.register_buffer("ordering", ordering.clone().long())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_binary_images(x, self.image_shape)
        return self.net(x.flatten(1)).view(x.shape)


# --- PixelCNN --------------------------------------------------------------------------------------

def pixelcnn_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """The (k, k) mask of a PixelCNN convolution (van den Oord et al. 2016, figure 2): 1 on the rows
    above the centre and left of the centre on its row; the centre itself is 0 for type "A" (the
    first layer: a pixel may not see its own value) and 1 for type "B" (later layers, whose centre
    already holds only what came before).

    Args:
        kernel_size: k, odd (3, 5, 7, ...).
        mask_type: "A" or "B".

    Returns:
        (k, k) float tensor of 0s and 1s.
    """
    k = v.positive_int(kernel_size, "kernel_size")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {k}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    mask = torch.zeros(k, k)
    mask[: k // 2] = 1
    mask[k // 2, : k // 2 + (mask_type == "B")] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size ``nn.Conv2d`` whose kernel is multiplied by :func:`pixelcnn_mask` (one image channel:
    the mask is the same for every pair of channels).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: k, odd; the padding k // 2 keeps the image size.
        mask_type: "A" (the first layer) or "B".
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", pixelcnn_mask(kernel_size, mask_type)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """A small PixelCNN for binary images: a 7x7 type-A masked convolution, ``n_layers`` residual
    blocks of 3x3 type-B masked convolutions (ReLU), and 1x1 convolutions to one logit per pixel.
    Pixel (r, c) depends only on the pixels above it and left of it on its row (raster order).

    Args:
        channels: feature channels (default 64).
        n_layers: residual blocks (default 5).

    ``forward(x)`` maps x (B, 1, H, W) in {0, 1} to logits (B, 1, H, W), for any H and W.
    """

    def __init__(self, channels: int = 64, n_layers: int = 5):
        super().__init__()
        c = v.positive_int(channels, "channels")
        self.first = MaskedConv2d(1, c, 7, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(c, c, 3, "B") for _ in range(v.positive_int(n_layers, "n_layers")))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_binary_images(x, None)
        h = self.first(x)
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.head(h)


# --- likelihood and sampling -----------------------------------------------------------------------

def _check_binary_images(x: torch.Tensor, shape: tuple | None) -> None:
    v.float_tensor(x, "x")
    if x.dim() != 4 or (shape is not None and tuple(x.shape[1:]) != shape) or (shape is None and x.shape[1] != 1):
        want = f"(B, {', '.join(map(str, shape))})" if shape else "(B, 1, H, W)"
        raise ValueError(f"x must be images of shape {want}, got {tuple(x.shape)}")


def log_prob(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The exact log-likelihood log p(x) in nats of each binary image: the sum over pixels of the
    Bernoulli log-probability of the pixel given the ones before it, from one forward pass.

    Args:
        model: a :class:`MADE` or :class:`PixelCNN` (any module mapping x to logits of x's shape).
        x: (B, C, H, W) images with values in {0, 1}.

    Returns:
        (B,) log p(x) in nats.
    """
    logits = model(x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def bits_per_dim(log_px: torch.Tensor, dims: int) -> torch.Tensor:
    """Negative log-likelihood in bits per dimension: -log p(x) / (D log 2), the unit in which papers
    compare likelihood models (MADE, PixelCNN, flows; a VAE's negative ELBO gives an upper bound).

    Args:
        log_px: (B,) log-likelihoods (or bounds) in nats.
        dims: D, the number of dimensions of one example (784 for a 28x28 image).

    Returns:
        (B,) bits per dimension.
    """
    v.float_tensor(log_px, "log_px")
    return -log_px / (v.positive_int(dims, "dims") * math.log(2))


@torch.no_grad()
def sample(model: nn.Module, n: int, image_shape: Sequence[int] = (1, 28, 28), generator: torch.Generator | None = None,
           progress: bool = True) -> torch.Tensor:
    """Draw ``n`` images pixel by pixel: D forward passes, each fixing the next pixel of the model's
    ordering (raster order for a :class:`PixelCNN`, ``model.ordering`` for a :class:`MADE`) by a
    Bernoulli draw from its conditional probability.

    Args:
        model: a :class:`MADE` or :class:`PixelCNN`.
        n: number of images.
        image_shape: (C, H, W) (default (1, 28, 28)); a MADE's own shape is used for a MADE.
        generator: a ``torch.Generator`` (on the model's device) for reproducible samples.
        progress: show a progress bar (default True).

    Returns:
        (n, C, H, W) float images of 0s and 1s, on the model's device.
    """
    n = v.positive_int(n, "n")
    shape = tuple(getattr(model, "image_shape", image_shape))
    device = next(model.parameters()).device
    ordering = getattr(model, "ordering", torch.arange(math.prod(shape), device=device))
    was_training = model.training
    model.eval()
    x = torch.zeros(n, *shape, device=device)
    flat = x.view(n, -1)
    for d in tqdm(ordering.tolist(), desc="sampling pixels", disable=not progress, leave=False):
        p = torch.sigmoid(model(x).view(n, -1)[:, d])
        flat[:, d] = torch.bernoulli(p, generator=generator)
    model.train(was_training)
    return x
