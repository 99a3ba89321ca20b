"""Figures and animations for diffusion models (chapter 7).

- :func:`schedule_comparison`      alpha_bar_t and the SNR alpha_bar_t / (1 - alpha_bar_t) (log scale) against t
- :func:`forward_process_2d`       a row of scatter plots of q(x_t | x_0) for several t
- :func:`forward_process_images`   images noised by q(x_t | x_0): one row per image, one column per t
- :func:`reverse_animation_2d`     the reverse process of 2D samples as an HTML player (:func:`genedu.plot.animate`)
- :func:`reverse_animation_images` the reverse process of a batch of images as an HTML player
- :func:`reverse_strip_images`     a static strip of the same: one row per image, one column per frame

The reverse-process plots take the states ``xs`` and timesteps ``ts`` of a :class:`genedu.diffusion.Trajectory`
(from :func:`genedu.diffusion.ddpm_trajectory` or :func:`genedu.diffusion.ddim_trajectory`); pass its
``x0_preds`` as ``xs`` to show the network's predictions of x_0 instead. Images are (B, 1, H, W) in [-1, 1]
(the diffusion models' range) unless ``value_range`` says otherwise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from genedu import _validate as v
from genedu import diffusion as _diffusion
from genedu import runtime
from genedu.plot.animation import animate
from genedu.plot.figures import image_grid, scatter

if TYPE_CHECKING:
    from IPython.display import HTML
    from matplotlib.axes import Axes

__all__ = ["schedule_comparison", "forward_process_2d", "forward_process_images", "reverse_animation_2d",
           "reverse_animation_images", "reverse_strip_images"]


def _to_unit(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    lo, hi = value_range
    return ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)


def schedule_comparison(schedules: dict[str, _diffusion.Schedule], axes: Sequence[Axes] | None = None
                        ) -> Sequence[Axes]:
    """Plot alpha_bar_t (linear scale) and the signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) (log scale)
    against t / T for each named schedule.

    Args:
        schedules: {label: a genedu.diffusion.Schedule}, at least one.
        axes: two Axes (default None: a new 1x2 figure).

    Returns:
        the two Axes.
    """
    if not isinstance(schedules, dict) or not schedules:
        raise TypeError("schedules must be a non-empty dict {label: Schedule}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for label, sched in schedules.items():
        t = np.arange(1, sched.T + 1) / sched.T
        axes[0].plot(t, sched.alphas_cumprod.numpy(), label=f"{label} (T = {sched.T})")
        axes[1].plot(t, _diffusion.snr(sched).numpy(), label=label)
    axes[0].set(xlabel=r"$t / T$", ylabel=r"$\bar\alpha_t$", title=r"signal variance left, $\bar\alpha_t$")
    axes[1].set(xlabel=r"$t / T$", ylabel=r"$\mathrm{SNR}(t)$", yscale="log",
                title=r"signal-to-noise ratio $\bar\alpha_t / (1 - \bar\alpha_t)$")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes


def forward_process_2d(x0: torch.Tensor, schedule: _diffusion.Schedule, ts: Sequence[int],
                       axes: Sequence[Axes] | Axes | None = None, seed: int = 0, s: float = 2, lim: float = 3.5
                       ) -> Sequence[Axes] | Axes:
    """Scatter plots of x_t ~ q(x_t | x_0) for each timestep index in ``ts``.

    Args:
        x0: (N, 2) data.
        schedule: a genedu.diffusion.Schedule.
        ts: timestep indices (0 .. T - 1).
        axes: one Axes per t (default None: a new row).
        seed: seeds the noise (default 0).
        s: the marker size (default 2).
        lim: the axis limits, (-lim, lim) on both axes (default 3.5).

    Returns:
        the Axes.
    """
    v.float_tensor(x0, "x0", shape=(None, 2))
    ts = list(ts)
    if axes is None:
        _, axes = plt.subplots(1, len(ts), figsize=(2.4 * len(ts), 2.6), sharex=True, sharey=True)
    g = runtime.make_generator(seed)
    for ax, t in zip(np.atleast_1d(axes), ts):
        noise = torch.randn(x0.shape, generator=g)
        xt = _diffusion.q_sample(x0, torch.full((len(x0),), int(t)), noise, schedule)
        abar = float(schedule.alphas_cumprod[t])
        scatter(xt, ax=ax, s=s, title=rf"$t = {int(t) + 1}$, $\bar\alpha_t = {abar:.2g}$")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        ax.tick_params(labelsize=7)
    return axes


def forward_process_images(x0: torch.Tensor, schedule: _diffusion.Schedule, ts: Sequence[int], ax: Axes | None = None,
                           seed: int = 0, value_range: tuple[float, float] = (-1.0, 1.0), title: str | None = None
                           ) -> Axes:
    """A grid of noised images: row i is image i of ``x0``, column j is x_t ~ q(x_t | x_0) at ``ts[j]``
    (the same noise for every t).

    Args:
        x0: (B, 1, H, W) images in ``value_range``.
        schedule: a genedu.diffusion.Schedule.
        ts: timestep indices (0 .. T - 1).
        ax: where to draw (default None: a new figure).
        seed: seeds the noise (default 0).
        value_range: the range of the pixel values (default (-1, 1)).
        title: the title (default None: none).

    Returns:
        the Axes.
    """
    v.float_tensor(x0, "x0", ndim=4)
    ts = list(ts)
    g = runtime.make_generator(seed)
    noise = torch.randn(x0.shape, generator=g)
    rows = []
    for img, eps in zip(x0, noise):
        t = torch.tensor([int(t) for t in ts])
        rows.append(_diffusion.q_sample(img.expand(len(ts), *img.shape), t, eps.expand(len(ts), *eps.shape), schedule))
    grid = torch.cat(rows)
    ax = image_grid(_to_unit(grid, value_range), nrow=len(ts), ax=ax, title=title)
    return ax


def reverse_animation_2d(xs: torch.Tensor, ts: torch.Tensor, reference: torch.Tensor | None = None, lim: float = 3.5,
                         title: str = "reverse process", interval: int = 200, dpi: int = 70, size: float = 3.6,
                         poster: int = 0) -> HTML:
    """The reverse process of 2D samples as a self-contained HTML player, one frame per recorded state.

    Args:
        xs: (F, N, 2) states, e.g. ``ddpm_trajectory(..., frames=F - 1).xs``.
        ts: (F,) their timesteps (T for pure noise, 0 for the samples).
        reference: optional (M, 2) data, shown in grey behind the last frame (default None).
        lim: the axis limits, (-lim, lim) on both axes (default 3.5).
        title: the title, followed by each frame's t (default "reverse process").
        interval: milliseconds per frame (default 200).
        dpi: the resolution of the frames (default 70).
        size: the figure's width and height in inches (default 3.6).
        poster: the frame shown before the reader presses play (default 0; -1: the samples).

    Returns:
        an ``IPython.display.HTML`` player.
    """
    v.float_tensor(xs, "xs", shape=(None, None, 2))
    fig, ax = plt.subplots(figsize=(size, size))

    def draw(i):
        ax.clear()
        if reference is not None and i == len(xs) - 1:
            ax.scatter(reference[:, 0], reference[:, 1], s=2, color="0.75", label="data")
        ax.scatter(xs[i][:, 0], xs[i][:, 1], s=2, alpha=0.6, color="tab:blue")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=f"{title}: t = {int(ts[i])}")
        ax.tick_params(labelsize=7)

    return animate(fig, draw, len(xs), interval=interval, dpi=dpi, poster=poster)


def reverse_animation_images(xs: torch.Tensor, ts: torch.Tensor, nrow: int = 8, title: str = "reverse process",
                             value_range: tuple[float, float] = (-1.0, 1.0), interval: int = 200, dpi: int = 70,
                             size: tuple[float, float] = (4.8, 2.8), poster: int = 0) -> HTML:
    """The reverse process of a batch of images as an HTML player: each frame is the grid of x_t.

    Args:
        xs: (F, B, 1, H, W) states, e.g. ``ddim_trajectory(...).xs`` (or its ``x0_preds``).
        ts: (F,) their timesteps.
        nrow: images per row of the grid (default 8).
        title: the title, followed by each frame's t (default "reverse process").
        value_range: the range of the pixel values (default (-1, 1)).
        interval: milliseconds per frame (default 200).
        dpi: the resolution of the frames (default 70).
        size: the figure's (width, height) in inches (default (4.8, 2.8)).
        poster: the frame shown before the reader presses play (default 0; -1: the samples).

    Returns:
        an ``IPython.display.HTML`` player.
    """
    v.float_tensor(xs, "xs", ndim=5)
    fig, ax = plt.subplots(figsize=size)

    def draw(i):
        ax.clear()
        image_grid(_to_unit(xs[i], value_range), nrow=nrow, ax=ax, title=f"{title}: t = {int(ts[i])}")

    return animate(fig, draw, len(xs), interval=interval, dpi=dpi, poster=poster)


def reverse_strip_images(xs: torch.Tensor, ts: torch.Tensor, n_images: int = 6, n_frames: int = 10,
                         ax: Axes | None = None, value_range: tuple[float, float] = (-1.0, 1.0),
                         title: str | None = None) -> Axes:
    """A static strip of the reverse process: row i follows image i from noise (left) to sample (right).

    Args:
        xs: (F, B, 1, H, W) states, e.g. ``ddim_trajectory(...).xs`` (or its ``x0_preds``).
        ts: (F,) their timesteps.
        n_images: how many rows, the first images of the batch (default 6).
        n_frames: how many columns, evenly spaced among the F frames, at least 2 (default 10).
        ax: where to draw (default None: a new figure).
        value_range: the range of the pixel values (default (-1, 1)).
        title: the title (default None: the timesteps shown).

    Returns:
        the Axes.
    """
    v.float_tensor(xs, "xs", ndim=5)
    n_images = min(v.positive_int(n_images, "n_images"), xs.shape[1])
    n_frames = min(v.positive_int(n_frames, "n_frames", minimum=2), len(xs))
    idx = np.linspace(0, len(xs) - 1, n_frames).round().astype(int)
    grid = xs[idx][:, :n_images].transpose(0, 1).reshape(-1, *xs.shape[2:])
    if title is None:
        title = "t = " + ", ".join(str(int(ts[i])) for i in idx)
    return image_grid(_to_unit(grid, value_range), nrow=n_frames, ax=ax, title=title)
