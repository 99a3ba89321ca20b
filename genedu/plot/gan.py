"""GAN figures (chapter 4): the generator losses and their gradients, the 1D game of Goodfellow et al.'s
Figure 1 (a frame, and an animation built with :func:`genedu.plot.animate`), the training history of
:func:`genedu.gan.train_gan`, and gradient play on the bilinear game.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from genedu import _validate as v
from genedu.gan import generator_loss_nonsaturating, generator_loss_saturating
from genedu.plot.animation import animate

if TYPE_CHECKING:
    from IPython.display import HTML

__all__ = ["generator_loss_curves", "game_1d_frame", "game_1d_animation", "gan_history", "bilinear_paths"]


def _axes_pair(axes):
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    if len(axes) != 2:
        raise ValueError(f"axes must be a pair of matplotlib Axes, got {len(axes)}")
    return axes


def generator_loss_curves(axes: Sequence[plt.Axes] | None = None, n: int = 400) -> Sequence[plt.Axes]:
    """Left: the saturating loss log(1 - D) and the non-saturating loss -log D against D = D(G(z)).
    Right: their gradients with respect to the discriminator's logit l (D = sigmoid(l)), computed by
    autograd through :func:`genedu.gan.generator_loss_saturating` / ``generator_loss_nonsaturating``:
    -D for the saturating loss (vanishes when D rejects the samples, D -> 0) and -(1 - D) for the other.

    Args:
        axes: two matplotlib Axes (default: a new 1x2 figure).
        n: number of points on the curves.

    Returns:
        the two Axes.
    """
    axes = _axes_pair(axes)
    n = v.positive_int(n, "n", minimum=2)
    logits = torch.linspace(-7, 7, n, dtype=torch.float64)
    d = torch.sigmoid(logits).numpy()
    curves = {}
    for name, fn in (("saturating  log(1 - D(G(z)))", generator_loss_saturating),
                     ("non-saturating  -log D(G(z))", generator_loss_nonsaturating)):
        l = logits.clone().requires_grad_(True)
        # per-example loss = n * (mean over the n points), so the gradient is per example
        loss = fn(l) * n
        (grad,) = torch.autograd.grad(loss, l)
        per_example = torch.stack([fn(li.reshape(1)) for li in logits]).detach().numpy()
        curves[name] = (per_example, grad.numpy())
    ax_l, ax_g = axes
    for (name, (loss, grad)), color in zip(curves.items(), ("tab:red", "tab:blue")):
        ax_l.plot(d, loss, color=color, label=name)
        ax_g.plot(d, grad, color=color, label=name)
    ax_l.set(xlabel="D(G(z))", ylabel="generator loss (minimised)", title="the two generator losses", ylim=(-5, 5))
    ax_g.set(xlabel="D(G(z))", ylabel=r"$\partial\,\mathrm{loss} / \partial \ell$",
             title=r"their gradients w.r.t. D's logit $\ell$")
    ax_g.axhline(0, color="grey", lw=0.5)
    ax_l.legend(fontsize=8)
    ax_g.axvspan(0, 0.1, color="grey", alpha=0.15)
    ax_g.annotate("early training:\nD rejects G(z)", xy=(0.05, -0.5), fontsize=8, ha="left")
    return axes


def game_1d_frame(game: dict, i: int = -1, ax: plt.Axes | None = None, show_optimal: bool = True,
                  legend: bool = True) -> plt.Axes:
    """One frame of the 1D game (Goodfellow et al.'s Figure 1 view): p_data (black, dashed), p_g (green),
    D(x) (blue, dotted) and, optionally, the optimal D* for the current p_g (thin grey); below, the
    map z -> x = G(z) at a few values of z. Where p_g rises above the axes (a generator that puts its
    mass on a narrow interval), its peak value is written at the top.

    Args:
        game: the output of :func:`genedu.gan_theory.game_1d`.
        i: which frame (default -1, the last).
        ax: matplotlib Axes (default: a new figure).
        show_optimal: also draw D*.
        legend: draw a legend, outside the axes on the right (so that it hides no curve).

    Returns:
        the Axes.
    """
    if not isinstance(game, dict) or "frames" not in game:
        raise TypeError("game must be the dict returned by genedu.gan_theory.game_1d")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.8, 3.5))
        fig.subplots_adjust(left=0.07, right=0.74, bottom=0.15, top=0.9)
    f = game["frames"][i]
    x = game["x"].numpy()
    top = 1.05
    p_g = f["log_p_g"].exp().numpy()
    ax.plot(x, game["log_p_data"].exp().numpy(), "k--", lw=1.5, label=r"$p_{\mathrm{data}}$")
    ax.plot(x, p_g, color="tab:green", lw=2, label=r"$p_g$")
    ax.plot(x, f["d"].numpy(), ":", color="tab:blue", lw=2, label=r"$D(x)$")
    if show_optimal:
        ax.plot(x, f["d_star"].numpy(), color="grey", lw=0.8, alpha=0.8, label=r"$D^*(x)$ for this $p_g$")
    if p_g.max() > top:
        at = x[int(p_g.argmax())]
        ax.annotate(f"$p_g$ peaks at {p_g.max():.1f}", xy=(at, top), xytext=(4, -12),
                    textcoords="offset points", fontsize=8, color="tab:green", va="top")
    # the map z -> G(z), drawn under the densities as in the paper's figure: z on the lower line (placed
    # on the middle of the x range), x = G(z) on the upper one
    z, gz = f["z"].numpy(), f["g_of_z"].numpy()
    z_at = x[0] + np.ptp(x) * (0.3 + 0.4 * (z - z.min()) / max(np.ptp(z), 1e-9))
    for zi, gi in zip(z_at, gz):
        ax.annotate("", xy=(gi, -0.12), xytext=(zi, -0.3),
                    arrowprops=dict(arrowstyle="->", color="tab:green", lw=0.7, alpha=0.7))
    ax.axhline(-0.3, color="grey", lw=0.5)
    ax.axhline(-0.12, color="grey", lw=0.5)
    ax.text(x[0], -0.3, " z", va="center", fontsize=8)
    ax.text(x[0], -0.12, " x", va="center", fontsize=8)
    ax.set(xlim=(x[0], x[-1]), ylim=(-0.36, top), xlabel="x",
           title=rf"step {f['step']}: JSD$(p_{{data}} \,\|\, p_g)$ = {f['jsd']:.3f}")
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


def game_1d_animation(game: dict, dpi: int = 75, interval: int = 200, show_optimal: bool = True,
                      poster: int = 0) -> HTML:
    """The 1D game as it trains: :func:`game_1d_frame` for every frame, as a self-contained HTML player.

    Args:
        game: the output of :func:`genedu.gan_theory.game_1d` (keep it to ~40 frames).
        dpi: resolution of the frames, passed to :func:`genedu.plot.animate` (default 75).
        interval: milliseconds per frame, passed to :func:`genedu.plot.animate`.
        show_optimal: also draw D* for the current p_g.
        poster: the frame shown before playing, passed to :func:`genedu.plot.animate` (default 0).

    Returns:
        an ``IPython.display.HTML`` player.
    """
    if not isinstance(game, dict) or "frames" not in game:
        raise TypeError("game must be the dict returned by genedu.gan_theory.game_1d")
    fig, ax = plt.subplots(figsize=(7.8, 3.6))
    fig.subplots_adjust(left=0.07, right=0.74, bottom=0.15, top=0.9)

    def draw(i):
        ax.clear()
        game_1d_frame(game, i, ax=ax, show_optimal=show_optimal)

    return animate(fig, draw, frames=len(game["frames"]), interval=interval, dpi=dpi, poster=poster)


def gan_history(history: dict, axes: Sequence[plt.Axes] | None = None, smooth: int = 20) -> Sequence[plt.Axes]:
    """Left: the discriminator and generator losses of a :func:`genedu.gan.train_gan` history;
    right: mean D(x) on real and D(G(z)) on generated examples. Curves are moving averages over
    ``smooth`` generator steps (the raw values faint behind).

    Args:
        history: train_gan's history (needs "d_loss", "g_loss"; "d_real", "d_fake" when present).
        axes: two Axes (default: a new 1x2 figure).
        smooth: moving-average window (default 20; 1 = raw).

    Returns:
        the two Axes.
    """
    if not isinstance(history, dict) or "d_loss" not in history or "g_loss" not in history:
        raise TypeError("history must be the dict returned by genedu.gan.train_gan")
    smooth = v.positive_int(smooth, "smooth")
    axes = _axes_pair(axes)

    def curve(ax, key, label, color):
        y = np.asarray(history[key], dtype=float)
        steps = np.arange(1, len(y) + 1)
        ax.plot(steps, y, color=color, alpha=0.2, lw=0.8)
        if smooth > 1 and len(y) >= smooth:
            ys = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
            ax.plot(steps[smooth - 1:], ys, color=color, label=label)
        else:
            ax.plot(steps, y, color=color, label=label)

    curve(axes[0], "d_loss", "discriminator loss", "tab:blue")
    curve(axes[0], "g_loss", "generator loss", "tab:green")
    axes[0].set(xlabel="generator step", title="losses")
    axes[0].legend(fontsize=8)
    if "d_real" in history and "d_fake" in history:
        curve(axes[1], "d_real", "mean D(x), real", "k")
        curve(axes[1], "d_fake", "mean D(G(z)), generated", "tab:red")
        axes[1].axhline(0.5, color="grey", lw=0.5, ls="--")
        axes[1].set(xlabel="generator step", title="discriminator outputs", ylim=(0, 1))
        axes[1].legend(fontsize=8)
    return axes


def bilinear_paths(paths: dict[str, torch.Tensor], ax: plt.Axes | None = None) -> plt.Axes:
    """Trajectories of gradient play on min_x max_y xy (from :func:`genedu.gan_theory.bilinear_game`), with
    the saddle point (0, 0) marked.

    Args:
        paths: {label: (T, 2) iterates}.
        ax: matplotlib Axes (default: a new figure).

    Returns:
        the Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    for (label, path), color in zip(paths.items(), ("tab:red", "tab:blue", "tab:green", "tab:purple")):
        p = np.asarray(path)
        ax.plot(p[:, 0], p[:, 1], color=color, lw=1, label=label)
        ax.plot(p[0, 0], p[0, 1], "o", color=color, ms=4)
    ax.plot(0, 0, "k*", ms=10, label="equilibrium (0, 0)")
    ax.set(xlabel="x (minimising player)", ylabel="y (maximising player)", aspect="equal",
           title=r"gradient play on $\mathrm{min}_x\ \mathrm{max}_y\ \ x\,y$")
    ax.legend(fontsize=7, loc="lower left")
    return ax
