# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Chapter 6 exercises: mode collapse, measured and remedied
#
# A GAN's generator can win its game by producing a few plausible outputs instead of the whole data
# distribution: **mode collapse**. On the 2D benchmarks of VEEGAN (Srivastava et al., 2017) and PacGAN
# (Lin et al., 2018) — a ring of 8 Gaussians and a grid of 25 — it can be counted: how many modes the
# generator's samples reach, and which share of its samples lie close to a mode.
#
# In this notebook you write that metric, two remedies (the Wasserstein loss with a gradient penalty,
# and packing), and then cure a collapse with a remedy of your choice, compared with a vanilla GAN with the
# same seed and budget. Five exercises (12 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `mode_coverage`: modes captured and share of high-quality samples | 3 |
# | 2 | `wasserstein_losses`: the WGAN critic and generator losses | 2 |
# | 3 | `gradient_penalty`: Gulrajani et al.'s penalty on random interpolates | 3 |
# | 4 | `pack`: $m$ samples concatenated for a PacGAN discriminator | 2 |
# | 5 | `train_remedy`: a remedy of your choice that captures more modes than a vanilla GAN | 2 |
#
# Each exercise has a **self-check** cell: run it after your answer. It prints one line when
# your function is right and otherwise tells you what looks wrong. The grader runs the same
# check again with other random inputs and shapes, so make the function general rather than
# fitting the example. Write your answers with `torch` operations; calling `genedu`'s own
# implementation of the function you are asked to write gets no marks.
#
# The chapter page of the book explains the ideas; read it first.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Setup (read-only). Checks that the course library is installed, in the version this notebook expects.
COURSE_GENEDU_VERSION = "0.1.0"
try:
    import genedu
except ImportError:
    raise ImportError("The course library genedu is not installed. In a terminal, in the course folder, run:\n"
                      "    python -m pip install -r requirements.txt\nthen restart the kernel.") from None
if genedu.__version__ != COURSE_GENEDU_VERSION:
    raise ImportError(f"This notebook expects genedu {COURSE_GENEDU_VERSION}, but {genedu.__version__} is installed. "
                      "In the course folder run:\n    git pull && python -m pip install -r requirements.txt\n"
                      "then restart the kernel.")

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from genedu import data, gan, remedies
from genedu.checks.ch06 import (RUN_BATCH, RUN_D_LR, RUN_LR, RUN_STEPS, check_gradient_penalty, check_mode_coverage,
                                check_pack, check_remedy_training, check_wasserstein_losses, ring_task)
from genedu.models import mlp
from genedu.plot.mode_collapse import samples_frame

# These small models train fastest on one CPU thread; several threads per notebook fight over the
# cores (and slow down many times over) when other jobs, or a class being graded, share the machine.
torch.set_num_threads(1)
genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: the mode-coverage metric (3 points)
#
# The protocol of VEEGAN and PacGAN: draw 2,500 samples from the generator; assign each sample to its
# **nearest** mode centre $\mu_j$ (Euclidean distance); the sample is **high quality** when that
# distance is below 3 standard deviations of the mode, $\lVert x - \mu_j \rVert < 3\sigma$. A mode is
# **captured** when at least one high-quality sample is assigned to it.
#
# Write `mode_coverage(samples, centers, std)` for samples `(N, 2)` and centres `(M, 2)` returning a tuple
# `(modes, high_quality, counts)`: `counts` a tensor `(M,)` with the number of high-quality samples of
# each mode, `modes` the number of modes with a nonzero count (an int), `high_quality` the share of
# the $N$ samples that are high quality (a float in $[0, 1]$). `torch.cdist` computes all distances at once.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mode_coverage(samples, centers, std):
    """(modes captured, share of high-quality samples, (M,) high-quality counts per mode)."""
    ### BEGIN SOLUTION
    dist = torch.cdist(samples.double(), centers.double())     # (N, M)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist < 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return int((counts > 0).sum()), float(good.double().mean()), counts
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_mode_coverage(mode_coverage)
### BEGIN HIDDEN TESTS
check_mode_coverage(mode_coverage, seed=101, n_modes=25, n=300, std=0.05)
check_mode_coverage(mode_coverage, seed=102, n_modes=5, n=40, std=0.1)
### END HIDDEN TESTS

# %% [markdown]
# Try it: the data itself. Within 3 standard deviations of a 2D Gaussian's centre lies a share
# $1 - e^{-9/2} \approx 98.9\,\%$ of its mass.

# %%
x_ring, _ = data.ring_of_gaussians(2500, seed=0)
print(mode_coverage(x_ring, data.ring_centers(), 0.02)[:2], "expected about (8, 0.989)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the Wasserstein losses (2 points)
#
# A Wasserstein GAN replaces the discriminator by a **critic** $f$ whose raw score (no sigmoid) is high on
# real data and low on generated data. Kantorovich–Rubinstein duality gives the Wasserstein-1 distance as
# $\max_{\lVert f \rVert_L \le 1} \mathbb E_{x \sim p_{data}} f(x) - \mathbb E_z f(G(z))$, so on a real
# minibatch $x_1..x_m$ and a generated one the two players minimise
#
# $$\mathcal L_f = \frac1n \sum_j f(G(z_j)) - \frac1m \sum_i f(x_i), \qquad \mathcal L_G = -\frac1n \sum_j f(G(z_j)).$$
#
# Write `wasserstein_losses(real_scores, fake_scores)` (scores of shapes `(m,)` and `(n,)`) returning the
# tuple `(critic_loss, generator_loss)` of scalar tensors.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def wasserstein_losses(real_scores, fake_scores):
    """(critic loss E f(G(z)) - E f(x), generator loss -E f(G(z))) as scalar tensors."""
    ### BEGIN SOLUTION
    return fake_scores.mean() - real_scores.mean(), -fake_scores.mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_wasserstein_losses(wasserstein_losses)
### BEGIN HIDDEN TESTS
check_wasserstein_losses(wasserstein_losses, seed=201, batch=5, fake_batch=40)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: the gradient penalty (3 points)
#
# The duality needs a 1-Lipschitz critic. Gulrajani et al. (2017) enforce it softly: a differentiable
# function is 1-Lipschitz when its gradient norm is at most 1 everywhere, and the optimal critic has
# norm 1 on the lines between real and generated points. So they penalise, on random interpolates,
#
# $$\hat x = \epsilon x + (1 - \epsilon) G(z), \quad \epsilon \sim U[0, 1], \qquad
# \mathrm{GP} = \mathbb E_{\hat x}\big(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1\big)^2,$$
#
# and the critic minimises $\mathcal L_f + \lambda\, \mathrm{GP}$ with $\lambda = 10$.
#
# Write `gradient_penalty(critic, real, fake, epsilon)`: `real` and `fake` of shape `(B, ...)`, `epsilon` of
# shape `(B,)` (one weight per pair, given so that the check is reproducible); `critic(x)` returns `B`
# scores. Compute the gradient of the scores with respect to $\hat x$ with
# `torch.autograd.grad(scores.sum(), x_hat, create_graph=True)` (why `.sum()`? each score depends only on
# its own example; why `create_graph`? the penalty must be differentiable with respect to the critic's
# weights), take the norm over all dimensions of each example, and return the mean over the batch
# (without $\lambda$).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gradient_penalty(critic, real, fake, epsilon):
    """mean over the batch of (||grad critic(x_hat)||_2 - 1)^2, x_hat = eps * real + (1 - eps) * fake."""
    ### BEGIN SOLUTION
    eps = epsilon.reshape(-1, *([1] * (real.dim() - 1)))
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_gradient_penalty(gradient_penalty)
### BEGIN HIDDEN TESTS
check_gradient_penalty(gradient_penalty, seed=301, batch=7, shape=(5,))
check_gradient_penalty(gradient_penalty, seed=302, batch=4, shape=(1, 3, 3))
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: packing (2 points)
#
# PacGAN (Lin et al., 2018) lets the discriminator judge $m$ samples at once, all real or all generated,
# concatenated into one input. A collapsed generator's pack holds $m$ near-copies, which real packs
# almost never do, so packing makes collapse visible to the discriminator.
#
# Write `pack(x, m)` that turns a batch `(B, D)` ($B$ a multiple of $m$) into `(B // m, m * D)`, row $j$
# being the concatenation of the consecutive samples `x[j*m], x[j*m + 1], ..., x[j*m + m - 1]`.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pack(x, m):
    """(B, D) -> (B // m, m * D): each row concatenates m consecutive samples."""
    ### BEGIN SOLUTION
    return x.reshape(len(x) // m, m * x.shape[1])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_pack(pack)
### BEGIN HIDDEN TESTS
check_pack(pack, seed=401, batch=8, dim=3, m=4)
check_pack(pack, seed=402, batch=10, dim=2, m=2)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: a remedy, trained (2 points)
#
# Now cure a collapse, with a remedy of your choice. In the regime of this exercise the generator learns faster
# than the discriminator (learning rates `RUN_LR` = 1e-3 and `RUN_D_LR` = 3e-4), so it keeps jumping to whatever
# the discriminator currently likes best, and a vanilla GAN collapses: after `RUN_STEPS` = 700 generator steps
# of `RUN_BATCH` = 64 samples it reaches 0 or 1 of the 8 ring modes. This is the vanilla GAN the check trains:
#
# ```python
# generator, discriminator = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)
# gan.train_gan(generator, discriminator, x, latent_dim=2, steps=steps, batch_size=batch_size,
#               lr=RUN_LR, d_lr=RUN_D_LR, seed=seed)
# ```
#
# Write `train_remedy(x, steps, batch_size, seed)` that trains a GAN with a remedy against mode collapse on the
# ring `x` `(N, 2)` and returns its generator. **The budget** is the vanilla GAN's, so that the comparison is
# fair:
#
# - the same generator, `gan.mlp_players([2, 64, 64, 64, 2], ..., seed=seed)[0]` (the check looks at its
#   layers);
# - `steps` generator steps, each after **one** discriminator step (`train_gan`'s default `k=1`), with
#   `lr=RUN_LR`, `d_lr=RUN_D_LR` and `seed=seed`; minibatches of `batch_size` samples, or of `batch_size` packs
#   when your discriminator judges packs.
#
# The remedy is yours to choose and to build: what the discriminator sees (its input, its network) and what
# the players minimise (`train_gan`'s `discriminator_loss=` and `generator_loss=` hooks). Giving the
# discriminator more steps or a higher learning rate would also cure this collapse, but it changes the budget,
# not the game: keep them. Use your own functions of exercises 1-4 (genedu's are off limits while grading).
#
# **The criterion.** The check draws 2,500 samples of a fixed noise batch from your generator and scores them
# with the protocol of exercise 1: **your generator must capture at least 2 of the 8 modes, and more than the
# vanilla GAN** trained with the same seed and budget. It also prints the share of high-quality samples: after
# 700 steps a generator that escaped collapse has spread its samples along the ring, and only a few percent
# lie within 3 standard deviations of a mode yet (the book's runs sharpen them over thousands of steps). The
# self-check below uses seed 0; the grader also tries another seed. A run takes a second or two.
#
# **Hints.**
#
# - *Packing* (exercise 4): a discriminator (an `nn.Module`) whose `forward` packs its input with your
#   `pack(inputs, m)` and runs a network of `2 * m` inputs on the packs (for instance
#   `mlp([2 * m, 64, 64, 64, 1], activation=lambda: nn.LeakyReLU(0.2))`). `train_gan` wants one logit per
#   sample, `(B,)`: return each pack's logit `m` times, so that its losses, which average over the `B` entries,
#   average over the packs.
# - *Minibatch features* (Salimans et al., 2016; Karras et al., 2018): append to each sample a statistic of its
#   whole minibatch, for instance the standard deviation of each coordinate over the batch, so that the
#   discriminator can see that a generated batch lacks spread. `train_gan` calls the discriminator on a real
#   minibatch and on a generated one separately, so each statistic describes one kind of batch.
# - *The Wasserstein loss with your gradient penalty* (exercises 2 and 3) is the chapter's other remedy, but it
#   relies on a critic trained several steps per generator step (Gulrajani et al. take 5): with the one step of
#   this budget it collapsed like the vanilla GAN in our runs.
#
# In our runs with this budget (seeds 0 to 7), a PacGAN with $m = 2$ captured 5 to 7 modes, a discriminator that
# also sees its minibatch's standard deviation per coordinate 5 to 8, the vanilla GAN 0 or 1.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_remedy(x, steps, batch_size, seed):
    """Train a GAN with a remedy against collapse on x (N, 2) within the vanilla GAN's budget; return its generator."""
    ### BEGIN SOLUTION
    class Packed(nn.Module):
        def __init__(self, net, m):
            super().__init__()
            self.net, self.m = net, m

        def forward(self, inputs):
            return self.net(inputs.reshape(len(inputs) // self.m, -1)).reshape(-1).repeat_interleave(self.m)

    generator, _ = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)
    torch.manual_seed(seed)
    net = mlp([4, 64, 64, 64, 1], activation=lambda: nn.LeakyReLU(0.2))
    gan.train_gan(generator, Packed(net, 2), x, latent_dim=2, steps=steps, batch_size=2 * batch_size, lr=RUN_LR,
                  d_lr=RUN_D_LR, seed=seed)
    return generator
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_remedy_training(train_remedy)
### BEGIN HIDDEN TESTS
check_remedy_training(train_remedy, seed=1)
### END HIDDEN TESTS

# %% [markdown]
# Try it: your remedy and the vanilla GAN of the check, side by side (the same seed, generator and budget).
# The two trainings take a few seconds: set `SIDE_BY_SIDE = True` and run the cell. Then change the seed, or
# `steps`, and compare.

# %%
SIDE_BY_SIDE = False
if SIDE_BY_SIDE:
    x_task, centers_task = ring_task(0)
    steps = RUN_STEPS
    runs = {"your remedy": train_remedy(x_task, steps, RUN_BATCH, 0)}
    runs["vanilla GAN"], d_vanilla = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=0)
    gan.train_gan(runs["vanilla GAN"], d_vanilla, x_task, latent_dim=2, steps=steps, batch_size=RUN_BATCH, lr=RUN_LR,
                  d_lr=RUN_D_LR, seed=0, progress=False)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    for ax, (label, generator) in zip(axes, runs.items()):
        with torch.no_grad():
            samples = generator(torch.randn(2500, 2))
        modes, hq, _ = mode_coverage(samples, centers_task, 0.02)
        samples_frame(ax, samples, centers_task, 0.02, title=f"{label}: {modes} modes, {hq:.0%} HQ")
else:
    print("set SIDE_BY_SIDE = True to train and plot your remedy and the vanilla GAN")

# %% [markdown]
# ## To think about (not graded)
#
# 1. A generator that puts all its samples exactly on one mode centre scores 100 % high quality and
#    1 mode. One that spreads its samples uniformly over the square scores many modes and few high-quality
#    samples. Why does the protocol report both numbers, and which failure does each reveal?
# 2. The gradient penalty is taken on interpolates between real and generated points, not everywhere.
#    What would penalising the gradient only at the real points do (compare Mescheder et al.'s R1)?
# 3. With packing degree $m$, how much more does each discriminator step cost, and how does PacGAN keep
#    the comparison with a GAN fair?
# 4. Exercise 5's vanilla GAN collapses because its generator learns faster than its discriminator. Train it
#    with `d_lr=RUN_LR` (equal rates) in the try-it cell, and longer: what changes in its samples, and what
#    does that say about where collapse comes from?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch06_mode_collapse.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch06_mode_collapse.ipynb")
