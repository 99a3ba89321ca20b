"""The noise-prediction networks eps_theta(x_t, t) of chapter 7.

- :func:`timestep_embedding`  the sinusoidal embedding of the timestep (Vaswani et al. 2017, as used by
                              Ho et al. 2020)
- :class:`MLPDenoiser`       for 2D (or any low-dimensional) data: residual MLP blocks, each told t
- :class:`UNetDenoiser`      a small convolutional U-Net (Ronneberger et al. 2015; Ho et al.'s design,
                              much smaller) for 28x28 one-channel digits

Both networks are called as ``model(x_t, t)`` with x_t (B, ...) and t (B,) int64 timesteps, and return a
tensor shaped like x_t: the predicted noise. The trained digits U-Net ships in ``genedu.checkpoints``
(``checkpoints.load("digits_unet")``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from genedu import _validate as v
from genedu.models import mlp

__all__ = ["timestep_embedding", "MLPDenoiser", "UNetDenoiser"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps: [sin(t w_0), ..., sin(t w_{h-1}), cos(t w_0), ..., cos(t w_{h-1})]
    with h = dim / 2 and frequencies w_i = max_period^(-i / (h - 1)) (Ho et al.'s ``get_timestep_embedding``,
    after Vaswani et al.'s positional encoding).

    Args:
        t: (B,) timesteps (integer or float).
        dim: an even embedding size >= 4.
        max_period: the longest period (default 10000).

    Returns:
        (B, dim) float32.
    """
    dim = v.positive_int(dim, "dim", minimum=4)
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    if not isinstance(t, torch.Tensor) or t.dim() != 1:
        raise ValueError(f"t must be a (B,) tensor of timesteps, got {type(t).__name__} "
                         f"{tuple(t.shape) if isinstance(t, torch.Tensor) else ''}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - 1))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


class MLPDenoiser(nn.Module):
    """eps_theta(x_t, t) for vectors: an input layer, ``blocks`` residual blocks and an output layer.

    Each block is h <- h + W_2 SiLU(W_1 SiLU(h) + U e(t)), where e(t) is the timestep embedding passed
    through a small MLP, so that every block knows the noise level.

    Args:
        dim: data dimension (default 2).
        width: the width of every residual block (default 128).
        blocks: residual blocks (default 3).
        time_dim: size of the sinusoidal embedding (default 64).
    """

    def __init__(self, dim: int = 2, width: int = 128, blocks: int = 3, time_dim: int = 64):
        super().__init__()
        self.dim = v.positive_int(dim, "dim")
        hidden = v.positive_int(width, "width")
        blocks = v.positive_int(blocks, "blocks")
        self.time_dim = v.positive_int(time_dim, "time_dim", minimum=4)
        self.time_mlp = mlp([time_dim, hidden, hidden], activation=nn.SiLU)
        self.inp = nn.Linear(dim, hidden)
        self.lin1 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.time = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.lin2 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))
        self.act = nn.SiLU()

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t (B, dim), t (B,) int64 -> predicted noise (B, dim)."""
        v.float_tensor(x_t, "x_t", shape=(None, self.dim))
        emb = self.time_mlp(timestep_embedding(t, self.time_dim).to(x_t.dtype))
        h = self.inp(x_t)
        for lin1, time, lin2 in zip(self.lin1, self.time, self.lin2):
            h = h + lin2(self.act(lin1(self.act(h)) + time(emb)))
        return self.out(h)


class _ResBlock(nn.Module):
    """GroupNorm, SiLU, 3x3 conv, + the timestep's projection, GroupNorm, SiLU, 3x3 conv, plus a skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x))) + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.act(self.norm2(h)))
        return h + self.skip(x)


class UNetDenoiser(nn.Module):
    """A small U-Net eps_theta(x_t, t) for (B, 1, 28, 28) images (any size divisible by 4).

    Resolutions 28 -> 14 -> 7 and back, with skip connections; channels ``c``, ``2c``, ``2c``; one residual
    block (:class:`_ResBlock`, told the timestep) per level on each side and two in the middle. With
    ``channels=32`` it has about 0.6 million parameters (Ho et al.'s CIFAR-10 model has 35.7 million).

    Args:
        channels: c (default 32, a multiple of 8).
        image_channels: the images' channels (default 1).
        time_dim: size of the sinusoidal embedding (default 128).
    """

    def __init__(self, channels: int = 32, image_channels: int = 1, time_dim: int = 128):
        super().__init__()
        c = v.positive_int(channels, "channels", minimum=8)
        if c % 8:
            raise ValueError(f"channels must be a multiple of 8 (GroupNorm with 8 groups), got {c}")
        self.image_channels = v.positive_int(image_channels, "image_channels")
        self.time_dim = v.positive_int(time_dim, "time_dim", minimum=4)
        e = 4 * c
        self.time_mlp = mlp([time_dim, e, e], activation=nn.SiLU)
        self.inc = nn.Conv2d(image_channels, c, 3, padding=1)
        self.down1 = _ResBlock(c, c, e)
        self.pool1 = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)           # 28 -> 14
        self.down2 = _ResBlock(2 * c, 2 * c, e)
        self.pool2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)       # 14 -> 7
        self.mid1 = _ResBlock(2 * c, 2 * c, e)
        self.mid2 = _ResBlock(2 * c, 2 * c, e)
        self.up2 = nn.ConvTranspose2d(2 * c, 2 * c, 4, stride=2, padding=1)  # 7 -> 14
        self.dec2 = _ResBlock(4 * c, 2 * c, e)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)      # 14 -> 28
        self.dec1 = _ResBlock(2 * c, c, e)
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, image_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t (B, C, H, W), t (B,) int64 -> predicted noise (B, C, H, W)."""
        v.float_tensor(x_t, "x_t", shape=(None, self.image_channels, None, None))
        if x_t.shape[-1] % 4 or x_t.shape[-2] % 4:
            raise ValueError(f"x_t's height and width must be multiples of 4, got {tuple(x_t.shape)}")
        emb = self.time_mlp(timestep_embedding(t, self.time_dim).to(x_t.dtype))
        h1 = self.down1(self.inc(x_t), emb)
        h2 = self.down2(self.pool1(h1), emb)
        h = self.mid2(self.mid1(self.pool2(h2), emb), emb)
        h = self.dec2(torch.cat([self.up2(h), h2], dim=1), emb)
        h = self.dec1(torch.cat([self.up1(h), h1], dim=1), emb)
        return self.out(h)
