"""Figures and animations for the course (matplotlib).

- ``genedu.plot.figures``    2D scatter and density plots, decision boundaries, image grids, and the
                             autoencoder/VAE views (reconstructions, latent scatter, traversals, loss curves)
- ``genedu.plot.gan``        GAN figures: generator losses and their gradients, the 1D game (frame,
                             animation), a train_gan history, the bilinear game (chapter 4)
- ``genedu.plot.mode_collapse``  ring/grid samples over the data density, training animations, coverage bars (chapter 6)
- ``genedu.plot.diffusion``  noise schedules, forward-process strips, reverse-process animations (chapter 7)
- ``genedu.plot.animation``  :func:`animate`: a matplotlib animation as self-contained HTML with a
                             scrub bar (the kernel-free counterpart of a widget in the book)

Every figure function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and returns
that ``Axes``, so calls compose into panels. Everything public is re-exported here:
``genedu.plot.scatter``, ``genedu.plot.animate``, ...
"""
from genedu.plot.animation import animate
from genedu.plot.diffusion import (
    forward_process_2d,
    forward_process_images,
    reverse_animation_2d,
    reverse_animation_images,
    reverse_strip_images,
    schedule_comparison,
)
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
from genedu.plot.mode_collapse import coverage_bars, density_background, samples_frame, training_animation
from genedu.plot.gan import bilinear_paths, game_1d_animation, game_1d_frame, gan_history, generator_loss_curves

__all__ = ["animate", "grid_points", "scatter", "density_contour", "decision_boundary", "image_grid",
           "reconstructions", "latent_scatter", "latent_grid_points", "latent_traversal", "interpolation",
           "loss_curves",
           # chapter 4
           "generator_loss_curves", "game_1d_frame", "game_1d_animation", "gan_history", "bilinear_paths",
           # chapter 6
           "density_background", "samples_frame", "training_animation", "coverage_bars",
           # chapter 7
           "schedule_comparison", "forward_process_2d", "forward_process_images", "reverse_animation_2d",
           "reverse_animation_images", "reverse_strip_images"]
