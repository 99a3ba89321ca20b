"""Mode-collapse figures (chapter 6): generated samples over the data density of the ring or the grid, as a
still frame and as a training animation (built with :func:`genedu.plot.animate`), and the experiment table
as a bar chart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from genedu import _validate as v
from genedu.plot.animation import animate

if TYPE_CHECKING:
    from IPython.display import HTML

__all__ = ["density_background", "samples_frame", "training_animation", "coverage_bars"]


def density_background(ax: plt.Axes, centers: torch.Tensor, std: float, lim: float, n_grid: int = 200,
                       cmap: str = "Greys") -> plt.Axes:
    """Draw the mixture density of isotropic Gaussians (equal weights) at ``centers`` as a shaded image, with the
    3-std circle of each mode (the high-quality region of the VEEGAN/PacGAN protocol) dashed.

    Args:
        ax: the Axes.
        centers: (M, 2) mode centres.
        std: the modes' standard deviation.
        lim: the axes show [-lim, lim]^2.
        n_grid: pixels per side.
        cmap: the colour map.

    Returns:
        the Axes.
    """
    v.float_tensor(centers, "centers", ndim=2, shape=(None, 2))
    std = v.positive_float(std, "std")
    lim = v.positive_float(lim, "lim")
    g = np.linspace(-lim, lim, n_grid)
    xx, yy = np.meshgrid(g, g)
    c = centers.double().numpy()
    # the density is far too peaked to show at std 0.02 on this scale: draw it at a visible width (>= 1.5 px)
    s = max(std, 1.5 * 2 * lim / n_grid)
    dens = sum(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s ** 2)) for cx, cy in c)
    ax.imshow(dens, extent=(-lim, lim, -lim, lim), origin="lower", cmap=cmap, alpha=0.6, vmin=0, vmax=dens.max())
    for cx, cy in c:
        ax.add_patch(plt.Circle((cx, cy), 3 * std, fill=False, ls="--", lw=0.6, color="tab:gray"))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def samples_frame(ax: plt.Axes, samples: torch.Tensor, centers: torch.Tensor, std: float, title: str = "",
                  lim: float | None = None, color: str = "tab:red") -> plt.Axes:
    """Generated ``samples`` (N, 2) as dots over the data density (see :func:`density_background`).

    Args:
        ax: the Axes (cleared first).
        samples: (N, 2).
        centers: (M, 2).
        std: the modes' std.
        title: the Axes title.
        lim: half-width of the view (default: 1.5 x the largest |centre coordinate|).
        color: the dots' colour.

    Returns:
        the Axes.
    """
    v.float_tensor(samples, "samples", ndim=2, shape=(None, 2))
    if lim is None:
        lim = 1.5 * float(centers.abs().max())
    ax.clear()
    density_background(ax, centers, std, lim)
    s = samples.detach().cpu().numpy()
    ax.scatter(s[:, 0], s[:, 1], s=3, color=color, alpha=0.5, lw=0)
    ax.set_title(title)
    return ax


def training_animation(runs: dict[str, dict], dataset_title: str = "", frames: int | None = None,
                       size: float = 2.6, dpi: int = 70, poster: int = -1) -> HTML:
    """Animate several training runs side by side: each run's snapshots over the data density.

    Args:
        runs: name -> a result of :func:`experiments.mode_collapse.benchmark_run` recorded with ``snapshot_every``
            (its "snapshots", "centers" and "std" are used; all runs must have the same number of snapshots).
        dataset_title: a suptitle.
        frames: how many snapshots to show (default all; <= 40 keeps pages small).
        size: inches per panel.
        dpi: resolution of the frames.
        poster: the frame the player opens on (default -1: the last, the trained generators; frame 0 shows
            every sample near the origin), passed to :func:`genedu.plot.animate`.

    Returns:
        the HTML player of :func:`genedu.plot.animate`.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict name -> benchmark_run result")
    n_snap = min(len(r["snapshots"]) for r in runs.values())
    if n_snap == 0:
        raise ValueError("the runs hold no snapshots: train them with snapshot_every")
    idx = list(range(n_snap)) if frames is None else \
        sorted({int(round(i)) for i in np.linspace(0, n_snap - 1, v.positive_int(frames, "frames"))})
    fig, axes = plt.subplots(1, len(runs), figsize=(size * len(runs), size + 0.3), squeeze=False)
    axes = axes[0]
    if dataset_title:
        fig.suptitle(dataset_title, fontsize=10)

    def draw(i: int) -> None:
        for ax, (name, run) in zip(axes, runs.items()):
            step, samples = run["snapshots"][idx[i]]
            samples_frame(ax, samples, run["centers"], run["std"], title=f"{name}, step {step}")

    draw(0)
    fig.tight_layout()
    return animate(fig, draw, len(idx), dpi=dpi, poster=poster)


def coverage_bars(rows: Sequence[dict], axes: Sequence[plt.Axes] | None = None) -> Sequence[plt.Axes]:
    """The experiment table as dots: per method and dataset, each seed's share of the modes captured and
    share of high-quality samples (small dots), and their mean over the seeds (a bar-shaped marker).

    Args:
        rows: the rows of ``book/data/mode_collapse_table.csv`` as dicts (``csv.DictReader``), with keys dataset,
            method, modes_per_seed and hq_per_seed (space-separated numbers, or sequences of numbers).
        axes: two Axes (default: a new 1x2 figure).

    Returns:
        the two Axes.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    rows = list(rows)
    if not rows:
        raise ValueError("rows must not be empty")
    for r in rows:
        for key in ("dataset", "method", "modes_per_seed", "hq_per_seed"):
            if key not in r:
                raise ValueError(f"rows must have the key {key!r}, got {sorted(r)}")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / len(datasets)

    def values(field) -> np.ndarray:
        return np.array([float(x) for x in (field.split() if isinstance(field, str) else field)])

    for k, ds in enumerate(datasets):
        by_method = {r["method"]: r for r in rows if r["dataset"] == ds}
        n_modes = 8 if ds == "ring" else 25
        color = f"C{k}"
        for j, m in enumerate(methods):
            if m not in by_method:
                continue
            x = j + (k - (len(datasets) - 1) / 2) * width
            for ax, field, scale in ((axes[0], "modes_per_seed", n_modes), (axes[1], "hq_per_seed", 1.0)):
                y = values(by_method[m][field]) / scale
                jitter = np.linspace(-0.08, 0.08, len(y)) if len(y) > 1 else np.zeros(1)
                ax.scatter(x + jitter, y, s=14, color=color, alpha=0.8, lw=0,
                           label=f"{ds}, one seed" if j == 0 else None)
                ax.plot([x - 0.15, x + 0.15], [y.mean()] * 2, color=color, lw=2,
                        label=f"{ds}, mean of {len(y)} seeds" if j == 0 else None)
    for ax, title in zip(axes, ["share of the modes captured", "share of high-quality samples"]):
        ax.set_xticks(np.arange(len(methods)))
        ax.set_xticklabels([m.replace(" (", "\n(") for m in methods], fontsize=8)
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_ylim(-0.04, 1.3)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels(["0", "25 %", "50 %", "75 %", "100 %"])
        ax.axhline(1.0, color="0.8", lw=0.6, zorder=0)
        ax.set_title(title)
        ax.legend(fontsize=7, loc="upper center", ncol=2)
    return axes
