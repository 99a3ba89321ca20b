"""Static figures for the course: 2D scatter and density plots, decision boundaries, image grids, and the
autoencoder/VAE views (reconstructions, latent scatter, traversals, interpolations, loss curves).

Every function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and
returns that ``Axes``, so calls compose into panels.
"""
from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from genedu import _validate as v
from genedu.models import interpolate

__all__ = ["grid_points", "scatter", "density_contour", "decision_boundary", "image_grid", "reconstructions",
           "latent_scatter", "latent_grid_points", "latent_traversal", "interpolation", "loss_curves"]


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    return ax


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def grid_points(xlim: tuple[float, float], ylim: tuple[float, float], resolution: int = 200
                ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """A regular grid over a rectangle, for evaluating a function of 2D points.

    Args:
        xlim: (x_min, x_max).
        ylim: (y_min, y_max).
        resolution: points per side (>= 2, default 200).

    Returns:
        points (resolution**2, 2) float32 tensor; xx, yy (resolution, resolution) arrays
        for ``contour``/``contourf`` (``values.reshape(resolution, resolution)``).
    """
    resolution = v.positive_int(resolution, "resolution", minimum=2)
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    xx, yy = np.meshgrid(xs, ys)
    points = torch.tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=torch.float32)
    return points, xx, yy


def scatter(x: torch.Tensor, labels: torch.Tensor | None = None, ax=None, title: str | None = None,
            s: float = 6, alpha: float = 0.6, cmap: str = "coolwarm", **kwargs) -> plt.Axes:
    """Scatter plot of 2D points, coloured by ``labels`` when given.

    Args:
        x: (N, 2) points.
        labels: (N,) optional class labels or values.
        ax: the Axes to draw on (default: a new figure).
        title: its title.
        s: marker size (default 6).
        alpha: marker opacity (default 0.6).
        cmap: colour map of ``labels`` (default "coolwarm").
        **kwargs: passed to ``ax.scatter``.

    Returns:
        the Axes.
    """
    v.float_tensor(torch.as_tensor(x), "x", shape=(None, 2))
    ax = _axes(ax)
    pts = _numpy(x)
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=s, alpha=alpha, **kwargs)
    else:
        ax.scatter(pts[:, 0], pts[:, 1], c=_numpy(labels), s=s, alpha=alpha, cmap=cmap, **kwargs)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def _on_grid(fn: Callable[[torch.Tensor], torch.Tensor], name: str, xlim, ylim,
             resolution: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """``fn`` of the :func:`grid_points` of the rectangle, as a (resolution, resolution) tensor, and the grid."""
    if not callable(fn):
        raise TypeError(f"{name} must be a function of (M, 2) points, got {type(fn).__name__}")
    points, xx, yy = grid_points(xlim, ylim, resolution)
    with torch.no_grad():
        return fn(points).reshape(resolution, resolution), xx, yy


def density_contour(log_density: Callable[[torch.Tensor], torch.Tensor], xlim=(-3, 3), ylim=(-3, 3),
                    ax=None, resolution: int = 200, filled: bool = True, cmap: str = "Blues",
                    levels: int = 12, log_scale: bool = False, title: str | None = None, **kwargs) -> plt.Axes:
    """Contours of a 2D density p(x) = exp(log_density(x)).

    Args:
        log_density: maps (M, 2) points to (M,) log-densities.
        xlim: the rectangle shown: (x_min, x_max).
        ylim: (y_min, y_max).
        ax: the Axes to draw on (default: a new figure).
        resolution: grid points per side.
        filled: ``contourf`` (True) or line contours (False).
        cmap: the colour map (default "Blues").
        levels: the number of contour levels (default 12).
        log_scale: contour log p(x), clipped to 12 nats below its maximum, instead of p(x);
            shows narrow peaks and the tails together.
        title: the Axes title.
        **kwargs: passed to ``ax.contourf`` or ``ax.contour``.

    Returns:
        the Axes.
    """
    logp, xx, yy = _on_grid(log_density, "log_density", xlim, ylim, resolution)
    ax = _axes(ax)
    dens = logp.clamp(min=float(logp.max()) - 12) if log_scale else logp.exp()
    draw = ax.contourf if filled else ax.contour
    draw(xx, yy, _numpy(dens), levels=levels, cmap=cmap, **kwargs)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def decision_boundary(prob_class1: Callable[[torch.Tensor], torch.Tensor], xlim=(-3, 3), ylim=(-3, 3),
                      ax=None, resolution: int = 200, color: str = "k", label: str | None = None,
                      shade: bool = False, **kwargs) -> plt.Axes:
    """Draw the curve where p(y = 1 | x) = 1/2 (optionally shading the probability).

    Args:
        prob_class1: maps (M, 2) points to (M,) probabilities of class 1.
        xlim: the rectangle shown: (x_min, x_max).
        ylim: (y_min, y_max).
        ax: the Axes to draw on (default: a new figure).
        resolution: grid points per side.
        color: the colour of the boundary line (default "k").
        label: legend entry for the boundary line.
        shade: also shade p(y = 1 | x) in 10 bands (default False).
        **kwargs: passed to ``ax.contour``.

    Returns:
        the Axes.
    """
    prob, xx, yy = _on_grid(prob_class1, "prob_class1", xlim, ylim, resolution)
    prob = _numpy(prob)
    ax = _axes(ax)
    if shade:
        ax.contourf(xx, yy, prob, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.25)
    ax.contour(xx, yy, prob, levels=[0.5], colors=color, **kwargs)
    if label:
        ax.plot([], [], color=color, label=label)  # a proxy artist: contour lines have no legend entry
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    return ax


def image_grid(images: torch.Tensor, nrow: int = 8, ax=None, value_range: tuple[float, float] = (0.0, 1.0),
               title: str | None = None, padding: int = 1, cmap: str = "gray") -> plt.Axes:
    """Show a batch of single-channel images as one grid.

    Args:
        images: (B, 1, H, W) or (B, H, W) tensor with values in ``value_range``.
        nrow: images per row.
        ax: the Axes to draw on (default: a new figure).
        value_range: the values shown at the two ends of the colour map (default (0, 1)).
        title: the Axes title.
        padding: pixels between images.
        cmap: the colour map (default "gray").

    Returns:
        the Axes.
    """
    images = torch.as_tensor(images)
    if images.dim() == 4:
        if images.shape[1] != 1:
            raise ValueError(f"images must have one channel, got shape {tuple(images.shape)}")
        images = images[:, 0]
    if images.dim() != 3:
        raise ValueError(f"images must have shape (B, 1, H, W) or (B, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("images must contain at least one image, got an empty batch")
    nrow = v.positive_int(nrow, "nrow")
    lo, hi = value_range
    b, h, w = images.shape
    ncol = min(nrow, b)
    rows = -(-b // ncol)
    canvas = np.full((rows * (h + padding) + padding, ncol * (w + padding) + padding), lo, dtype=np.float32)
    for i, img in enumerate(_numpy(images.float())):
        r, c = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        canvas[top:top + h, left:left + w] = img
    ax = _axes(ax)
    ax.imshow(canvas, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


# --- autoencoders and VAEs -------------------------------------------------------------------

def reconstructions(x: torch.Tensor, x_hat: torch.Tensor, n: int = 10, ax=None,
                    title: str | None = None) -> plt.Axes:
    """Inputs (top row) above their reconstructions (bottom row).

    Args:
        x: (B, 1, H, W) images in [0, 1].
        x_hat: (B, 1, H, W) reconstructions in [0, 1] (apply ``torch.sigmoid`` to logits first).
        n: how many pairs to show.
        ax: the Axes to draw on (default: a new figure).
        title: the Axes title.

    Returns:
        the Axes.
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    n = min(v.positive_int(n, "n"), len(x))
    return image_grid(torch.cat([x[:n], x_hat[:n]]), nrow=n, ax=ax, title=title)


def latent_scatter(z: torch.Tensor, labels: torch.Tensor | None = None, ax=None, title: str | None = None,
                   s: float = 4) -> plt.Axes:
    """The 2D codes of a dataset, coloured by digit label (with a colour bar).

    Args:
        z: (N, 2) codes.
        labels: (N,) optional digit labels 0-9.
        ax: the Axes to draw on (default: a new figure).
        title: the Axes title.
        s: marker size (default 4).

    Returns:
        the Axes.
    """
    v.float_tensor(torch.as_tensor(z), "z", shape=(None, 2))
    ax = _axes(ax)
    pts = _numpy(z)
    sc = ax.scatter(pts[:, 0], pts[:, 1], c=None if labels is None else _numpy(labels), cmap="tab10", s=s, alpha=0.7)
    if labels is not None:
        ax.figure.colorbar(sc, ax=ax, ticks=range(10), fraction=0.046, pad=0.04)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def latent_grid_points(lim: float | tuple[float, float] = 2.0, n: int = 15) -> torch.Tensor:
    """An n x n grid of 2D latent points over [-lim, lim]^2 (or the given range), row-major with
    z_2 decreasing down the rows, so that decoding them and showing them with ``image_grid(nrow=n)``
    lays the images out like the latent plane.

    Args:
        lim: the range of both coordinates: [-lim, lim], or (lo, hi) (default 2).
        n: points per side (>= 2, default 15).

    Returns:
        (n * n, 2) tensor.
    """
    n = v.positive_int(n, "n", minimum=2)
    lo, hi = (-lim, lim) if isinstance(lim, (int, float)) else lim
    ticks = torch.linspace(lo, hi, n)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def latent_traversal(decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, dims: Sequence[int] | None = None,
                     span: float = 3.0, steps: int = 9, ax=None, title: str | None = None) -> plt.Axes:
    """Change one latent coordinate at a time around a code and show the decoded images:
    row i varies dimension ``dims[i]`` from -span to +span, the others staying at ``z``.

    Args:
        decode: maps (M, D) codes to (M, 1, H, W) images in [0, 1].
        z: (D,) the code to start from.
        dims: the dimensions to vary (default: all).
        span: the range of each varied coordinate, [-span, span] (default 3).
        steps: images per row (>= 2, default 9).
        ax: the Axes to draw on (default: a new figure).
        title: the Axes title.

    Returns:
        the Axes.
    """
    v.float_tensor(z, "z", ndim=1)
    dims = list(range(z.shape[0])) if dims is None else list(dims)
    steps = v.positive_int(steps, "steps", minimum=2)
    offsets = torch.linspace(-span, span, steps)
    codes = z.repeat(len(dims) * steps, 1)
    for row, d in enumerate(dims):
        codes[row * steps:(row + 1) * steps, d] = offsets
    with torch.no_grad():
        images = decode(codes)
    return image_grid(images, nrow=steps, ax=ax, title=title)


def interpolation(decode: Callable[[torch.Tensor], torch.Tensor], z_start: torch.Tensor, z_end: torch.Tensor,
                  steps: int = 10, ax=None, title: str | None = None) -> plt.Axes:
    """Decode the straight line from ``z_start`` to ``z_end`` (both (D,)) in ``steps`` points.

    Args:
        decode: maps (M, D) codes to (M, 1, H, W) images in [0, 1].
        z_start: (D,) the first code.
        z_end: (D,) the last code.
        steps: the number of points, both ends included (>= 2, default 10).
        ax: the Axes to draw on (default: a new figure).
        title: the Axes title.

    Returns:
        the Axes.
    """
    with torch.no_grad():
        images = decode(interpolate(z_start, z_end, steps))
    return image_grid(images, nrow=steps, ax=ax, title=title)


def loss_curves(history: dict[str, list[float]], keys: Sequence[str] = ("epoch_loss",), ax=None,
                title: str | None = None, ylabel: str = "loss",
                labels: Sequence[str] | None = None) -> plt.Axes:
    """Per-epoch curves of a training history from :func:`genedu.train.train`.

    Args:
        history: the history (a dict of per-epoch lists).
        keys: the entries to plot (default ("epoch_loss",)).
        ax: the Axes to draw on (default: a new figure).
        title: the Axes title.
        ylabel: the y-axis label (default "loss").
        labels: the legend entry of each key, in words or mathtext (default: the keys).

    Returns:
        the Axes.
    """
    ax = _axes(ax)
    keys = list(keys)
    labels = keys if labels is None else list(labels)
    if len(labels) != len(keys):
        raise ValueError(f"labels must have one entry per key ({len(keys)}), got {len(labels)}")
    for key, label in zip(keys, labels):
        if key not in history:
            raise ValueError(f"history has no {key!r}; it has {sorted(history)}")
        ax.plot(range(1, len(history[key]) + 1), history[key], label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if len(keys) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    return ax
