"""DCGAN (Radford et al., 2016) and the conditional GAN (Mirza & Osindero, 2014).

- :func:`conv2d_output_size`, :func:`conv_transpose2d_output_size`   the size arithmetic of
  (transposed) convolutions (Dumoulin & Visin, 2016), as PyTorch computes it
- :class:`DCGANGenerator`, :class:`DCGANDiscriminator`   the architecture rules of Radford et al.:
  no pooling (strided convolutions in D, transposed convolutions in G), BatchNorm in both except at
  G's output and D's input, ReLU in G with tanh at its output, LeakyReLU(0.2) in D. With the defaults
  (nz=100, widths 64, 3 channels, 64x64 images) their ``main`` is exactly the ``nn.Sequential`` of the
  PyTorch DCGAN tutorial; smaller power-of-two image sizes (16, 32) drop the widest layers
- :func:`weights_init`   conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02), biases 0
- :class:`ConditionalDCGANGenerator`, :class:`ConditionalDCGANDiscriminator`   the label y given to both
  networks: one-hot y concatenated to z for G, and as n_classes constant image planes for D

The discriminators return **logits** of shape (B,): the GAN losses of :mod:`genedu.gan` take logits
(their stable form). ``DCGANDiscriminator(..., sigmoid=True)`` appends the tutorial's ``nn.Sigmoid``
and returns probabilities D(x) instead. The trained generators ship in ``genedu.checkpoints``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genedu import _validate as v

__all__ = ["conv2d_output_size", "conv_transpose2d_output_size", "DCGANGenerator", "DCGANDiscriminator",
           "weights_init", "ConditionalDCGANGenerator", "ConditionalDCGANDiscriminator"]


# --- size arithmetic ------------------------------------------------------------------------------

def _nonneg(value, name: str) -> int:
    return v.positive_int(value, name, minimum=0)


def conv2d_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output side of a convolution (``nn.Conv2d``) along one axis (Dumoulin & Visin, 2016, eq. 6):

        o = floor((i + 2p - d (k - 1) - 1) / s) + 1

    Args:
        size: input side i (>= 1).
        kernel: k (>= 1).
        stride: s (>= 1).
        padding: p (>= 0) on each side.
        dilation: d (>= 1, default 1).

    Returns:
        the output side o (an int).

    Raises:
        ValueError: if the (dilated) kernel does not fit in the padded input (o would be < 1).
    """
    size, kernel, stride = v.positive_int(size, "size"), v.positive_int(kernel, "kernel"), v.positive_int(stride, "stride")
    padding, dilation = _nonneg(padding, "padding"), v.positive_int(dilation, "dilation")
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"kernel (dilated span {span}) is larger than the padded input ({size} + 2 * {padding})")
    return (size + 2 * padding - span) // stride + 1


def conv_transpose2d_output_size(size: int, kernel: int, stride: int, padding: int, output_padding: int = 0,
                                 dilation: int = 1) -> int:
    """Output side of a transposed convolution (``nn.ConvTranspose2d``) along one axis:

        o = (i - 1) s - 2p + d (k - 1) + output_padding + 1

    It inverts :func:`conv2d_output_size`: a convolution with the same k, s, p, d maps o back to i.
    Because that convolution rounds down, several o map to the same i when s > 1; ``output_padding``
    (< max(s, d)) picks which one (Dumoulin & Visin, 2016, section 4).

    Args:
        size: input side i (>= 1).
        kernel: k.
        stride: s.
        padding: p (>= 0).
        output_padding: a (>= 0, less than stride or dilation, default 0).
        dilation: d (default 1).

    Returns:
        the output side o (an int).
    """
    size, kernel, stride = v.positive_int(size, "size"), v.positive_int(kernel, "kernel"), v.positive_int(stride, "stride")
    padding, output_padding = _nonneg(padding, "padding"), _nonneg(output_padding, "output_padding")
    dilation = v.positive_int(dilation, "dilation")
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding must be smaller than stride or dilation, got {output_padding} "
                         f"(stride {stride}, dilation {dilation})")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding {padding} is too large: the output side would be {out}")
    return out


# --- the DCGAN builders ---------------------------------------------------------------------------

def _image_size(image_size) -> int:
    image_size = v.positive_int(image_size, "image_size", minimum=16)
    if image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 16 (16, 32, 64, ...), got {image_size}")
    return image_size


class DCGANGenerator(nn.Module):
    """The DCGAN generator: z (B, nz) or (B, nz, 1, 1) -> images (B, nc, image_size, image_size) in [-1, 1].

    ``main`` is an ``nn.Sequential``: a 4x4 transposed convolution (stride 1, padding 0) from the 1x1 noise
    to a 4x4 map of ``ngf * image_size / 8`` channels, then transposed convolutions (kernel 4, stride 2,
    padding 1) that double the side and halve the channels down to ``ngf``, each followed by BatchNorm and
    ReLU, and a last one to ``nc`` channels followed by tanh (no BatchNorm). No bias before BatchNorm
    (it would be cancelled by the mean subtraction); none in the last layer either, as in the tutorial.

    Args:
        nz: size of z (default 100).
        ngf: width of the last hidden layer (default 64).
        nc: image channels (default 3).
        image_size: a power of two >= 16 (default 64: the tutorial's network exactly).
    """

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64):
        super().__init__()
        self.nz, self.ngf, self.nc = v.positive_int(nz, "nz"), v.positive_int(ngf, "ngf"), v.positive_int(nc, "nc")
        self.image_size = _image_size(image_size)
        widths = [ngf * 2**i for i in reversed(range(int(math.log2(self.image_size)) - 2))]  # e.g. 8g, 4g, 2g, g
        layers: list[nn.Module] = []
        in_ch = nz
        for i, width in enumerate(widths):
            layers += [nn.ConvTranspose2d(in_ch, width, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(True)]
            in_ch = width
        layers += [nn.ConvTranspose2d(in_ch, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, nz) or (B, nz, 1, 1) -> (B, nc, image_size, image_size)."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        v.float_tensor(z, "z", shape=(None, self.nz, 1, 1))
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """The DCGAN discriminator: images (B, nc, image_size, image_size) -> logits (B,) (probabilities with
    ``sigmoid=True``).

    ``main`` is an ``nn.Sequential``: convolutions (kernel 4, stride 2, padding 1) that halve the side and
    double the channels from ``ndf`` up to ``ndf * image_size / 8``, each followed by BatchNorm (except the
    first: no BatchNorm at D's input) and LeakyReLU(0.2), then a 4x4 convolution (stride 1, padding 0) to
    one output, the logit. No biases, as in the tutorial.

    Args:
        nc: image channels (default 3).
        ndf: width of the first layer (default 64).
        image_size: a power of two >= 16 (default 64).
        sigmoid: append ``nn.Sigmoid()`` (the tutorial's exact network, returning D(x) in (0, 1));
            default False: return logits for the stable losses of genedu.gan.
    """

    def __init__(self, nc: int = 3, ndf: int = 64, image_size: int = 64, sigmoid: bool = False):
        super().__init__()
        self.nc, self.ndf = v.positive_int(nc, "nc"), v.positive_int(ndf, "ndf")
        self.image_size = _image_size(image_size)
        if not isinstance(sigmoid, bool):
            raise TypeError(f"sigmoid must be a bool, got {type(sigmoid).__name__}")
        self.sigmoid = sigmoid
        widths = [ndf * 2**i for i in range(int(math.log2(self.image_size)) - 2)]  # e.g. d, 2d, 4d, 8d
        layers: list[nn.Module] = []
        in_ch = nc
        for i, width in enumerate(widths):
            layers.append(nn.Conv2d(in_ch, width, 4, 2, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            in_ch = width
        layers.append(nn.Conv2d(in_ch, 1, 4, 1, 0, bias=False))
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, nc, image_size, image_size) -> (B,) logits (or D(x) with sigmoid=True)."""
        v.float_tensor(x, "x", shape=(None, self.nc, self.image_size, self.image_size))
        return self.main(x).reshape(-1)


def weights_init(module: nn.Module) -> None:
    """Radford et al.'s initialisation, for ``model.apply(weights_init)``: the weights of every
    (transposed) convolution ~ N(0, 0.02^2) (their biases, if any, 0); BatchNorm weights (the scale gamma)
    ~ N(1, 0.02^2) and biases (beta) 0. Other modules are left alone. Draws from torch's global RNG.

    Args:
        module: one module (``apply`` visits every submodule).
    """
    v.module(module, "module")
    with torch.no_grad():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.weight.normal_(0.0, 0.02)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            module.weight.normal_(1.0, 0.02)
            module.bias.zero_()


# --- the conditional GAN --------------------------------------------------------------------------

def _labels(y, name: str, batch: int) -> torch.Tensor:
    """Check the labels' dtype and shape only: ``forward`` reads no values (that would wait for the GPU at every
    step); ``F.one_hot`` rejects a label outside [0, n_classes)."""
    v.int_tensor(y, name, ndim=1)
    if len(y) != batch:
        raise ValueError(f"{name} must have one label per example ({batch}), got shape {tuple(y.shape)}")
    return y


class ConditionalDCGANGenerator(nn.Module):
    """G(z, y): the DCGAN generator fed the concatenation [z, one_hot(y)] (Mirza & Osindero, 2014).

    Args:
        nz: size of z (default 100).
        n_classes: number of labels (default 10).
        ngf: as :class:`DCGANGenerator` (default 64).
        nc: as :class:`DCGANGenerator` (default 1: the digits).
        image_size: as :class:`DCGANGenerator` (default 32: the digits).

    ``forward(z, y)``: z (B, nz) or (B, nz, 1, 1), y (B,) integer labels -> (B, nc, image_size, image_size).
    The inner network is ``self.generator``, a :class:`DCGANGenerator` with ``nz + n_classes`` inputs.
    """

    def __init__(self, nz: int = 100, n_classes: int = 10, ngf: int = 64, nc: int = 1, image_size: int = 32):
        super().__init__()
        self.nz, self.n_classes = v.positive_int(nz, "nz"), v.positive_int(n_classes, "n_classes", minimum=2)
        self.generator = DCGANGenerator(nz + n_classes, ngf, nc, image_size)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = z.reshape(len(z), -1) if z.dim() == 4 else z
        v.float_tensor(z, "z", shape=(None, self.nz))
        y = _labels(y, "y", len(z))
        return self.generator(torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], dim=1))


class ConditionalDCGANDiscriminator(nn.Module):
    """D(x, y): the DCGAN discriminator fed the image and ``n_classes`` constant planes, plane y set to 1.

    Args:
        nc: as :class:`DCGANDiscriminator` (default 1).
        n_classes: number of labels (default 10).
        ndf: as :class:`DCGANDiscriminator` (default 64).
        image_size: as :class:`DCGANDiscriminator` (default 32).

    ``forward(x, y)``: x (B, nc, image_size, image_size), y (B,) integer labels -> (B,) logits.
    The inner network is ``self.discriminator``, a :class:`DCGANDiscriminator` with ``nc + n_classes`` inputs.
    """

    def __init__(self, nc: int = 1, n_classes: int = 10, ndf: int = 64, image_size: int = 32):
        super().__init__()
        self.nc, self.n_classes = v.positive_int(nc, "nc"), v.positive_int(n_classes, "n_classes", minimum=2)
        self.discriminator = DCGANDiscriminator(nc + n_classes, ndf, image_size)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        size = self.discriminator.image_size
        v.float_tensor(x, "x", shape=(None, self.nc, size, size))
        y = _labels(y, "y", len(x))
        planes = F.one_hot(y, self.n_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, size, size)
        return self.discriminator(torch.cat([x, planes], dim=1))
