"""Latent-space explorers: ipywidgets for a live kernel, and their kernel-free counterparts for the book.

- :func:`latent_explorer`        two sliders move a point in a 2D latent space; see its decoding
- :func:`interpolation_explorer` one slider walks the line between two codes
- :func:`latent_walk`            the same two panels as ``latent_explorer``, animated along a path
- :func:`interpolation_walk`     the same panel as ``interpolation_explorer``, animated from t = 0 to 1

The explorers return a widget (display it as the last expression of a cell); they need a running
kernel. The walks return a self-contained HTML player with a scrub bar (``genedu.plot.animate``:
every frame pre-rendered, no kernel and no CDN), for the published book. A walk and its explorer
draw with the same code, so the book shows what the notebook's sliders show. Nothing in the
library imports this module.
"""
from __future__ import annotations

import math
from typing import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML

from genedu import _validate as v
from genedu.plot import animate, latent_scatter

__all__ = ["latent_explorer", "interpolation_explorer", "latent_walk", "interpolation_walk", "figure_eight"]

Decoder = Callable[[torch.Tensor], torch.Tensor]


def _decode_one(decode: Decoder, z: torch.Tensor):
    """decode(z[None]) as an (H, W) numpy image."""
    with torch.no_grad():
        return decode(z[None].float())[0, 0].detach().cpu().numpy()


def _latent_panels(decode: Decoder, codes: torch.Tensor | None, labels: torch.Tensor | None,
                   lim: float | tuple[float, float], figsize=(7, 3.2)):
    """The explorer's figure: left the latent plane (dataset codes and a marker), right the decoding.
    Returns (fig, move) where move(z1, z2) puts the marker at (z1, z2) and shows decode((z1, z2))."""
    lo, hi = (-lim, lim) if isinstance(lim, (int, float)) else lim
    fig, (ax_z, ax_x) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1.25, 1]})
    if codes is not None:
        latent_scatter(codes, labels, ax=ax_z, s=2)
    ax_z.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", xlabel="$z_1$", ylabel="$z_2$")
    trail, = ax_z.plot([], [], "-", color="0.3", lw=1)
    marker, = ax_z.plot([0.0], [0.0], "k*", markersize=14)
    image = ax_x.imshow(_decode_one(decode, torch.zeros(2)), cmap="gray", vmin=0, vmax=1)
    ax_x.axis("off")
    ax_x.set_title("decode(z), z = (0.00, 0.00)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96))  # room for the title, whose text changes frame by frame
    visited: list[tuple[float, float]] = []

    def move(z1: float, z2: float, keep_trail: bool = False) -> None:
        visited[:] = [*visited, (z1, z2)] if keep_trail else []
        trail.set_data([p[0] for p in visited], [p[1] for p in visited])
        marker.set_data([z1], [z2])
        image.set_data(_decode_one(decode, torch.tensor([z1, z2])))
        ax_x.set_title(f"decode(z), z = ({z1:.2f}, {z2:.2f})", fontsize=9)

    return fig, move


def latent_explorer(decode: Decoder, codes: torch.Tensor | None = None,
                    labels: torch.Tensor | None = None, lim: float = 3.0) -> W.Widget:
    """Move a point (z1, z2) with two sliders; the left panel marks it over the dataset's codes,
    the right shows ``decode(z)``. Needs a live kernel; :func:`latent_walk` is the book's version.

    Args:
        decode: maps (M, 2) codes to (M, 1, H, W) images in [0, 1].
        codes: optional (N, 2) codes of a dataset, drawn as context.
        labels: optional (N,) labels of ``codes``, colouring them.
        lim: the sliders' range [-lim, lim] (default 3.0).

    Returns:
        an ipywidgets ``VBox``: the two sliders above the figure; display it as the last expression of a cell.
    """
    lim = v.positive_float(lim, "lim")
    z1 = W.FloatSlider(value=0.0, min=-lim, max=lim, step=lim / 50, description="z1")
    z2 = W.FloatSlider(value=0.0, min=-lim, max=lim, step=lim / 50, description="z2")

    def draw(z1: float, z2: float) -> None:
        _, move = _latent_panels(decode, codes, labels, lim)
        move(z1, z2)
        plt.show()

    return W.VBox([W.HBox([z1, z2]), W.interactive_output(draw, {"z1": z1, "z2": z2})])


def _interpolation_panel(decode: Decoder, z_start: torch.Tensor, z_end: torch.Tensor,
                         x_start: torch.Tensor | None, x_end: torch.Tensor | None):
    """The interpolation figure: decode((1 - t) z_start + t z_end), and the pixel cross-fade
    (1 - t) x_start + t x_end beside it when the images are given. Returns (fig, show(t))."""
    crossfade = x_start is not None and x_end is not None
    fig, axes = plt.subplots(1, 2 if crossfade else 1, figsize=(5.2 if crossfade else 2.6, 2.9), squeeze=False)
    ax_z = axes[0, 0]
    image = ax_z.imshow(_decode_one(decode, z_start), cmap="gray", vmin=0, vmax=1)
    ax_z.axis("off")
    ax_z.set_title("through the latent space, t = 0.00", fontsize=9)
    if crossfade:
        ax_x = axes[0, 1]
        fade = ax_x.imshow(x_start[0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax_x.set_title("through pixel space", fontsize=9)
        ax_x.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.96))

    def show(t: float) -> None:
        image.set_data(_decode_one(decode, (1 - t) * z_start + t * z_end))
        ax_z.set_title(f"through the latent space, t = {t:.2f}", fontsize=9)
        if crossfade:
            fade.set_data(((1 - t) * x_start + t * x_end)[0].cpu().numpy())

    return fig, show


def _check_pair(z_start: torch.Tensor, z_end: torch.Tensor, x_start, x_end) -> None:
    v.float_tensor(z_start, "z_start", ndim=1)
    v.float_tensor(z_end, "z_end", shape=tuple(z_start.shape))
    if (x_start is None) != (x_end is None):
        raise ValueError("x_start and x_end go together: give both images or neither")
    if x_start is not None:
        v.float_tensor(x_start, "x_start", ndim=3)
        v.float_tensor(x_end, "x_end", shape=tuple(x_start.shape))


def interpolation_explorer(decode: Decoder, z_start: torch.Tensor, z_end: torch.Tensor,
                           x_start: torch.Tensor | None = None, x_end: torch.Tensor | None = None) -> W.Widget:
    """A slider t in [0, 1] shows ``decode((1 - t) z_start + t z_end)``. Needs a live kernel;
    :func:`interpolation_walk` is the book's version.

    Args:
        decode: maps (M, D) codes to (M, 1, H, W) images in [0, 1].
        z_start: (D,) the code at t = 0.
        z_end: (D,) the code at t = 1.
        x_start: optional (1, H, W) image at t = 0; with ``x_end``, their pixel cross-fade is shown beside.
        x_end: optional (1, H, W) image at t = 1.

    Returns:
        an ipywidgets ``VBox``: the slider above the figure; display it as the last expression of a cell.
    """
    _check_pair(z_start, z_end, x_start, x_end)
    t = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.02, description="t")

    def draw(t: float) -> None:
        _, show = _interpolation_panel(decode, z_start, z_end, x_start, x_end)
        show(t)
        plt.show()

    return W.VBox([t, W.interactive_output(draw, {"t": t})])


def figure_eight(frames: int = 36, center: tuple[float, float] = (0.0, 0.0),
                 radius: tuple[float, float] = (2.0, 1.5)) -> torch.Tensor:
    """A closed figure-eight path through a 2D latent plane, to walk with :func:`latent_walk`.

    Args:
        frames: the number of points (>= 2, default 36).
        center: the centre of the figure eight (default (0, 0)).
        radius: its half-widths along z_1 and z_2 (default (2, 1.5)).

    Returns:
        (frames, 2) points ``center + radius * (sin s, sin 2s)`` for s evenly spaced in [0, 2 pi).
    """
    frames = v.positive_int(frames, "frames", minimum=2)
    s = torch.arange(frames) * (2 * math.pi / frames)
    return torch.stack([center[0] + radius[0] * s.sin(), center[1] + radius[1] * (2 * s).sin()], dim=1)


def latent_walk(decode: Decoder, path: torch.Tensor, codes: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, lim: float | tuple[float, float] = 3.0,
                interval: int = 200, dpi: int = 64) -> HTML:
    """The book's counterpart of :func:`latent_explorer`: the point walks along ``path`` (one frame
    per point, the path so far drawn as a trail), in an HTML player with a scrub bar.

    Args:
        decode: maps (M, 2) codes to (M, 1, H, W) images in [0, 1].
        path: (F, 2) latent points, one per frame (keep F <= ~40: each frame is stored in the page);
            :func:`figure_eight` makes one.
        codes: optional (N, 2) codes of a dataset, drawn as context.
        labels: optional (N,) labels of ``codes``, colouring them.
        lim: the plane shown, [-lim, lim]^2 or (lo, hi)^2 (default 3.0).
        interval: milliseconds per frame when playing (default 200).
        dpi: resolution of the frames (default 64; the scatter of codes makes large PNGs).

    Returns:
        an ``IPython.display.HTML`` player; display it as the last expression of a cell.
    """
    v.float_tensor(path, "path", shape=(None, 2))
    if isinstance(lim, (int, float)):
        lim = v.positive_float(lim, "lim")
    fig, move = _latent_panels(decode, codes, labels, lim)
    points = path.detach().cpu().tolist()
    return animate(fig, lambda i: move(*points[i], keep_trail=i > 0), frames=len(points), interval=interval,
                   dpi=dpi)


def interpolation_walk(decode: Decoder, z_start: torch.Tensor, z_end: torch.Tensor, frames: int = 21,
                       x_start: torch.Tensor | None = None, x_end: torch.Tensor | None = None,
                       interval: int = 200) -> HTML:
    """The book's counterpart of :func:`interpolation_explorer`: t runs from 0 to 1 in ``frames``
    steps, in an HTML player with a scrub bar.

    Args:
        decode: maps (M, D) codes to (M, 1, H, W) images in [0, 1].
        z_start: (D,) the code at t = 0.
        z_end: (D,) the code at t = 1.
        frames: number of values of t, evenly spaced in [0, 1] (default 21).
        x_start: optional (1, H, W) image at t = 0; with ``x_end``, their pixel cross-fade is shown beside.
        x_end: optional (1, H, W) image at t = 1.
        interval: milliseconds per frame when playing (default 200).

    Returns:
        an ``IPython.display.HTML`` player; display it as the last expression of a cell.
    """
    _check_pair(z_start, z_end, x_start, x_end)
    frames = v.positive_int(frames, "frames", minimum=2)
    fig, show = _interpolation_panel(decode, z_start, z_end, x_start, x_end)
    return animate(fig, lambda i: show(i / (frames - 1)), frames=frames, interval=interval)
