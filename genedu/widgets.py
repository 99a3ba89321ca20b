"""ipywidgets explorers for a live kernel (the book shows static or animated counterparts).

- :func:`latent_explorer`        two sliders move a point in a 2D latent space; see its decoding
- :func:`interpolation_explorer` one slider walks the line between two codes

Each returns the widget (display it as the last expression of a cell). Nothing in the library
imports this module.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import torch

from genedu import _validate as v
from genedu.plot import latent_scatter

__all__ = ["latent_explorer", "interpolation_explorer"]


def _decoded_image(decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, ax) -> None:
    with torch.no_grad():
        image = decode(z[None])[0, 0]
    ax.imshow(image.cpu().numpy(), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")


def latent_explorer(decode: Callable[[torch.Tensor], torch.Tensor], codes: torch.Tensor | None = None,
                    labels: torch.Tensor | None = None, lim: float = 3.0) -> W.Widget:
    """Move a point (z1, z2) with two sliders; the left panel marks it over the dataset's codes,
    the right shows ``decode(z)``.

    Args:
        decode: maps (M, 2) codes to (M, 1, H, W) images in [0, 1].
        codes, labels: optional (N, 2) codes of a dataset and their (N,) labels, drawn as context.
        lim: the sliders' range [-lim, lim].
    """
    lim = v.positive_float(lim, "lim")
    z1 = W.FloatSlider(value=0.0, min=-lim, max=lim, step=lim / 50, description="z1")
    z2 = W.FloatSlider(value=0.0, min=-lim, max=lim, step=lim / 50, description="z2")

    def draw(z1: float, z2: float) -> None:
        fig, (ax_z, ax_x) = plt.subplots(1, 2, figsize=(7, 3.2))
        if codes is not None:
            latent_scatter(codes, labels, ax=ax_z, s=2)
        ax_z.plot([z1], [z2], "k*", markersize=14)
        ax_z.set(xlim=(-lim, lim), ylim=(-lim, lim))
        _decoded_image(decode, torch.tensor([z1, z2], dtype=torch.float32), ax_x)
        plt.show()

    return W.VBox([W.HBox([z1, z2]), W.interactive_output(draw, {"z1": z1, "z2": z2})])


def interpolation_explorer(decode: Callable[[torch.Tensor], torch.Tensor], z_start: torch.Tensor,
                           z_end: torch.Tensor) -> W.Widget:
    """A slider t in [0, 1] shows ``decode((1 - t) z_start + t z_end)``.

    Args:
        decode: maps (M, D) codes to (M, 1, H, W) images in [0, 1]; z_start, z_end: (D,) codes.
    """
    v.float_tensor(z_start, "z_start", ndim=1)
    v.float_tensor(z_end, "z_end", shape=tuple(z_start.shape))
    t = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.02, description="t")

    def draw(t: float) -> None:
        _, ax = plt.subplots(figsize=(2.6, 2.6))
        _decoded_image(decode, (1 - t) * z_start + t * z_end, ax)
        plt.show()

    return W.VBox([t, W.interactive_output(draw, {"t": t})])
