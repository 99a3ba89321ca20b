"""Figures and animations for the course (matplotlib).

- ``genedu.plot.figures``    2D scatter and density plots, decision boundaries, image grids, and the
                             autoencoder/VAE views (reconstructions, latent scatter, traversals, loss curves)
- ``genedu.plot.animation``  :func:`animate`: a matplotlib animation as self-contained HTML with a
                             scrub bar (the kernel-free counterpart of a widget in the book)

Every figure function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and returns
that ``Axes``, so calls compose into panels. Everything public is re-exported here:
``genedu.plot.scatter``, ``genedu.plot.animate``, ...
"""
from genedu.plot.animation import animate
from genedu.plot.figures import (
    decision_boundary,
    density_contour,
    grid_points,
    image_grid,
    interpolation,
    latent_grid_points,
    latent_scatter,
    latent_traversal,
    loss_curves,
    reconstructions,
    scatter,
)

__all__ = ["animate", "grid_points", "scatter", "density_contour", "decision_boundary", "image_grid",
           "reconstructions", "latent_scatter", "latent_grid_points", "latent_traversal", "interpolation",
           "loss_curves"]
