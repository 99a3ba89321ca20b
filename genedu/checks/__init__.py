"""Exercise checks: one check, two places.

Each exercise function is checked by a ``check_*`` function here that compares it with
genedu's reference implementation on random inputs. The notebook's visible self-check
calls it with the default seed; nbgrader's hidden tests call it again with other seeds and
shapes. A passing check prints one line; a failing one raises ``AssertionError`` that says
what is wrong and, when it recognises the mistake, why.

One module per chapter (``ch01``, ``ch02``, ...); the notebooks import from those. The library
never imports this package. ``submission`` is the check of a whole notebook file, before it is
submitted (``check_submission``, the notebooks' last cell) and when it is graded (the grader's
``RepairSlips``): the same repair of the slips students make in Jupyter.
"""
from genedu.checks._core import CheckFailed
from genedu.checks.ch01 import (
    check_class_posterior,
    check_fit_gaussian,
    check_gaussian_log_density,
    check_logistic_regression_gradient,
    check_sample_class_conditional,
)
from genedu.checks.ch02 import (
    check_bce_reconstruction,
    check_build_autoencoder,
    check_denoising_loss,
    check_pca,
    check_pca_reconstruct,
    check_train_autoencoder,
)
from genedu.checks.ch03 import (
    check_cvae_forward,
    check_gaussian_kl,
    check_iwae_bound,
    check_negative_elbo,
    check_reparameterize,
    check_vae_forward,
)
from genedu.checks.ch04 import (
    check_discriminator_loss,
    check_gan_training_iteration,
    check_generator_gradients_at_optimum,
    check_generator_loss_nonsaturating,
    check_optimal_discriminator,
    check_value_at_optimum,
)
from genedu.checks.ch05 import (
    check_conditional_generator,
    check_conv2d_output_size,
    check_dcgan_discriminator,
    check_dcgan_generator,
    check_inception_score,
    check_weights_init,
)
from genedu.checks.ch06 import (
    check_gradient_penalty,
    check_mode_coverage,
    check_pack,
    check_remedy_training,
    check_wasserstein_losses,
)
from genedu.checks.submission import check_submission  # noqa: F401 - the notebooks' last cell (not an exercise)
from genedu.checks.ch07 import (
    check_cosine_beta_schedule,
    check_ddim_sample,
    check_ddpm_sample,
    check_diffusion_loss,
    check_q_sample,
    check_reverse_step,
)
from genedu.checks.ch08 import (
    check_bits_per_dim,
    check_causal_self_attention,
    check_made_masks,
    check_pixelcnn_mask,
    check_sample_next_token,
    check_sequence_log_prob,
)

__all__ = [
    "CheckFailed",
    # chapter 1
    "check_fit_gaussian", "check_gaussian_log_density", "check_class_posterior",
    "check_sample_class_conditional", "check_logistic_regression_gradient",
    # chapter 2
    "check_pca", "check_pca_reconstruct", "check_bce_reconstruction", "check_build_autoencoder",
    "check_train_autoencoder", "check_denoising_loss",
    # chapter 3
    "check_reparameterize", "check_gaussian_kl", "check_negative_elbo", "check_vae_forward",
    "check_cvae_forward", "check_iwae_bound",
    # chapter 4
    "check_discriminator_loss", "check_generator_loss_nonsaturating", "check_optimal_discriminator",
    "check_value_at_optimum", "check_generator_gradients_at_optimum", "check_gan_training_iteration",
    # chapter 5
    "check_conv2d_output_size", "check_dcgan_generator",
    "check_dcgan_discriminator", "check_weights_init", "check_conditional_generator", "check_inception_score",
    # chapter 6
    "check_mode_coverage", "check_wasserstein_losses", "check_gradient_penalty", "check_pack",
    "check_remedy_training",
    # chapter 7
    "check_cosine_beta_schedule", "check_q_sample", "check_diffusion_loss", "check_reverse_step",
    "check_ddpm_sample", "check_ddim_sample",
    # chapter 8
    "check_made_masks", "check_pixelcnn_mask", "check_bits_per_dim", "check_causal_self_attention",
    "check_sequence_log_prob", "check_sample_next_token",
]
