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
# # Chapter 7 exercises: denoising diffusion models
#
# A diffusion model (Ho et al. 2020) destroys data by adding Gaussian noise in $T$ small steps, and learns
# to undo one step at a time. The forward process has a closed form,
#
# $$q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\big), \qquad \bar\alpha_t = \prod_{s \le t} (1 - \beta_s),$$
#
# a network $\epsilon_\theta(x_t, t)$ learns to predict the noise, and sampling runs the chain backwards
# from pure noise. You will write six functions (15 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `cosine_beta_schedule`: the cosine noise schedule | 2 |
# | 2 | `q_sample`: noise data in closed form | 2 |
# | 3 | `diffusion_loss`: the simple loss (Algorithm 1) | 3 |
# | 4 | `reverse_step`: one step of ancestral sampling | 3 |
# | 5 | `ddpm_sample`: the full sampler (Algorithm 2) | 3 |
# | 6 | `ddim_sample`: the deterministic DDIM sampler | 2 |
#
# Each exercise has a **self-check** cell: run it after your answer. It prints one line when your
# function is right and otherwise tells you what looks wrong. The grader runs the same check again with
# other random inputs and sizes. The samplers are checked without any training: for Gaussian data the
# best possible noise predictor is known in closed form, and a correct sampler run with it must give
# back the data's mean and covariance. Write your answers with `torch` operations; calling `genedu`'s own
# implementation of the function you are asked to write gets no marks.
#
# **Indexing.** As in Ho et al.'s code, timesteps are array indices `t = 0, ..., T-1`: index `t` is the
# paper's step $t + 1$. `schedule.betas[t]`, `schedule.alphas[t]` and `schedule.alphas_cumprod[t]` are
# $\beta_t$, $\alpha_t = 1 - \beta_t$ and $\bar\alpha_t$ at that index, and the last reverse step is `t = 0`.
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
import time

import matplotlib.pyplot as plt
import torch

from genedu import data, diffusion, metrics, plot
from genedu.checks.ch07 import (check_cosine_beta_schedule, check_ddim_sample, check_ddpm_sample,
                                check_diffusion_loss, check_q_sample, check_reverse_step)
from genedu.denoisers import MLPDenoiser

# These small models train fastest on one CPU thread; several threads per notebook fight over the
# cores (and slow down many times over) when other jobs, or a class being graded, share the machine.
torch.set_num_threads(1)
genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown]
# ## The data and the schedule object
#
# The 2D swiss roll, and the linear schedule of Ho et al. ($\beta$ from $10^{-4}$ to $0.02$ over $T = 1000$
# steps). `diffusion.Schedule(betas)` stores the betas and computes every derived quantity once, as float64
# tensors of length $T$ under the papers' names.

# %%
x_data, _ = data.swiss_roll(4000, noise=0.05, seed=0)
linear = diffusion.Schedule(diffusion.linear_beta_schedule(1000))
print(linear)
print([name for name in vars(linear)])
plot.scatter(x_data, title="the swiss roll, 4000 points");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: the cosine schedule (2 points)
#
# With the linear schedule, $\bar\alpha_t$ falls to almost 0 long before $t = T$: the last few hundred steps
# are spent on near-pure noise. Nichol & Dhariwal (2021) choose $\bar\alpha_t$ directly,
#
# $$\bar\alpha_t = \frac{f(t)}{f(0)}, \qquad f(t) = \cos^2\Big(\frac{t/T + s}{1 + s} \cdot \frac{\pi}{2}\Big), \qquad t = 0, 1, \dots, T,$$
#
# with a small offset $s = 0.008$ so that $\beta_1$ is not vanishingly small, and set
# $\beta_t = 1 - \bar\alpha_t / \bar\alpha_{t-1}$ for $t = 1, \dots, T$, **clipped at 0.999** (otherwise
# $\beta_T = 1$, since $\bar\alpha_T = 0$).
#
# Write `cosine_beta_schedule(T, s=0.008)` returning the $T$ betas as a float64 tensor of shape `(T,)`
# (compute $f$ at the $T + 1$ points `torch.arange(T + 1)`).

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cosine_beta_schedule(T, s=0.008):
    """betas (T,) of the cosine schedule, beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, clipped at 0.999."""
    ### BEGIN SOLUTION
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return torch.clamp(1 - alpha_bar[1:] / alpha_bar[:-1], max=0.999)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_cosine_beta_schedule(cosine_beta_schedule)
### BEGIN HIDDEN TESTS
check_cosine_beta_schedule(cosine_beta_schedule, T=50, s=0.008)
check_cosine_beta_schedule(cosine_beta_schedule, T=300, s=0.02)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the two schedules
#
# $\bar\alpha_t$ is the share of the signal's variance left at step $t$, and $\bar\alpha_t / (1 - \bar\alpha_t)$
# the signal-to-noise ratio. The cosine schedule destroys information more evenly.

# %%
cosine = diffusion.Schedule(cosine_beta_schedule(1000))
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for sched, label in ((linear, "linear"), (cosine, "cosine")):
    axes[0].plot(sched.alphas_cumprod, label=label)
    axes[1].semilogy(diffusion.snr(sched), label=label)
axes[0].set(xlabel="t", title="alpha_bar_t")
axes[1].set(xlabel="t", title="SNR = alpha_bar / (1 - alpha_bar)")
axes[0].legend();

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the forward process in closed form (2 points)
#
# Composing $t$ Gaussian steps gives one Gaussian (Ho et al., eq. 4), so $x_t$ is made from $x_0$ in one go:
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal N(0, I).$$
#
# Write `q_sample(x0, t, noise, schedule)` for `x0` and `noise` of shape `(B, ...)` (vectors or images) and
# `t` a `(B,)` tensor of integer timesteps, one per example. `schedule.alphas_cumprod[t]` has shape `(B,)`:
# reshape it to `(B, 1, ..., 1)` so it broadcasts against `x0`, and convert it to `x0`'s dtype (the schedule
# is float64). The library's `diffusion.extract(a, t, x0)` does both for you.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def q_sample(x0, t, noise, schedule):
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; x0, noise (B, ...), t (B,) -> (B, ...)."""
    ### BEGIN SOLUTION
    alpha_bar = diffusion.extract(schedule.alphas_cumprod, t, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_q_sample(q_sample)
### BEGIN HIDDEN TESTS
check_q_sample(q_sample, seed=201, batch=5, shape=(1, 4, 4), T=100, kind="cosine")
check_q_sample(q_sample, seed=202, batch=64, shape=(3,), T=1000, kind="cosine")
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the swiss roll dissolves into noise

# %%
fig, axes = plt.subplots(1, 5, figsize=(13, 2.8), sharex=True, sharey=True)
for ax, t in zip(axes, (0, 50, 150, 400, 999)):
    tt = torch.full((len(x_data),), t)
    plot.scatter(q_sample(x_data, tt, torch.randn_like(x_data), linear), ax=ax, s=2, title=f"t = {t}")
plt.tight_layout()

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: the training loss (3 points)
#
# Ho et al.'s Algorithm 1: for each example of the batch draw a timestep $t \sim \mathrm{Uniform}\{0, \dots, T-1\}$
# and noise $\epsilon \sim \mathcal N(0, I)$, make $x_t$ with `q_sample`, and regress the noise:
#
# $$L_\text{simple} = \mathbb E_{t, x_0, \epsilon}\big[\, \| \epsilon - \epsilon_\theta(x_t, t) \|^2 \big],$$
#
# estimated by the average over the batch. The squared norm sums the $d$ coordinates; Ho et al.'s code
# averages them instead (a plain `.mean()` over the batch and the coordinates). Either is correct and the
# check accepts both: they differ by the constant factor $d$, which changes the scale of the gradients (for
# SGD, the learning rate) but not the minimiser.
#
# Write `diffusion_loss(eps_model, x0, schedule, generator=None)` returning the scalar loss. Draw
# `t = torch.randint(schedule.T, (B,), generator=generator)` and `eps = torch.randn(x0.shape, generator=generator)`,
# call the network **once** as `eps_model(x_t, t)`, and keep the gradient (no `.item()`, no `torch.no_grad()`).
# Make $x_t$ with the closed form of exercise 2: call your `q_sample`, or write its one line again (then a
# mistake there does not cost you here too). The library's `diffusion.q_sample` is off limits while grading.

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diffusion_loss(eps_model, x0, schedule, generator=None):
    """Batch mean of the squared error (eps - eps_model(x_t, t))^2, t ~ U{0..T-1}, eps ~ N(0, I)."""
    ### BEGIN SOLUTION
    t = torch.randint(schedule.T, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    alpha_bar = diffusion.extract(schedule.alphas_cumprod, t, x0)
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
    return ((eps - eps_model(x_t, t)) ** 2).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_diffusion_loss(diffusion_loss)
### BEGIN HIDDEN TESTS
check_diffusion_loss(diffusion_loss, seed=301, batch=5000, dim=3, T=1000, kind="linear")
check_diffusion_loss(diffusion_loss, seed=302, batch=4000, dim=1, T=50)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: train a denoiser with your loss
#
# `MLPDenoiser` is a small MLP told the timestep through a sinusoidal embedding. With your loss, the
# course's training loop trains it on the swiss roll. A few seconds here give a rough model; the book
# trains longer. Try more epochs, or the cosine schedule.

# %%
genedu.seed_everything(0)
denoiser = MLPDenoiser(dim=2, width=64, blocks=2)
x_train, _ = data.swiss_roll(5000, noise=0.05, seed=1)
history = genedu.train.train(denoiser, lambda m, x: diffusion_loss(m, x, linear), x_train, epochs=10,
                             batch_size=256, lr=3e-3)
print(f"loss after {len(history['epoch_loss'])} epochs: {history['epoch_loss'][-1]:.3f} (predicting 0 gives 1 per coordinate)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: one reverse step (3 points)
#
# Sampling runs the chain backwards. With the predicted noise $\epsilon = \epsilon_\theta(x_t, t)$, one step of
# Ho et al.'s Algorithm 2 is
#
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \epsilon\Big) + \sigma_t z, \qquad z \sim \mathcal N(0, I),$$
#
# with $\sigma_t^2 = \beta_t$ (one of the two choices in the paper; the other is the posterior variance
# $\tilde\beta_t$). At the last step (index `t = 0`, the paper's $t = 1$) **no noise** is added: return the mean.
#
# Write `reverse_step(eps_model, x_t, t, schedule, z)` for `x_t` and `z` of shape `(B, ...)` and `t` one int.
# The network wants a `(B,)` tensor of timesteps: `eps_model(x_t, torch.full((len(x_t),), t, dtype=torch.long))`.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reverse_step(eps_model, x_t, t, schedule, z):
    """x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) z (no noise at t = 0)."""
    ### BEGIN SOLUTION
    eps = eps_model(x_t, torch.full((len(x_t),), t, dtype=torch.long))
    beta, alpha, alpha_bar = schedule.betas[t].item(), schedule.alphas[t].item(), schedule.alphas_cumprod[t].item()
    mean = (x_t - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha)
    if t == 0:
        return mean
    return mean + math.sqrt(beta) * z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_reverse_step(reverse_step)
### BEGIN HIDDEN TESTS
check_reverse_step(reverse_step, seed=401, batch=3, dim=5, T=200, kind="cosine")
check_reverse_step(reverse_step, seed=402, batch=16, dim=1, T=1000, kind="linear")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: the ancestral sampler (3 points)
#
# Algorithm 2 in full: draw $x_T \sim \mathcal N(0, I)$, then for $t = T-1, T-2, \dots, 0$ (indices) draw
# $z \sim \mathcal N(0, I)$ and take one reverse step; return $x_0$.
#
# Write `ddpm_sample(eps_model, n, dim, schedule, generator=None)` returning `n` samples of shape `(n, dim)`.
# Draw $x_T$ and every $z$ with `torch.randn(n, dim, generator=generator)`, and take each step with your
# `reverse_step(eps_model, x, t, schedule, z)` of exercise 4, or write the step again (then a mistake there
# does not cost you here too; the library's `diffusion.p_sample_step` is off limits while grading). No
# gradients are needed: work under `with torch.no_grad():`.
#
# The check runs your sampler with the exact noise predictor of Gaussian data: the samples must have the
# data's mean and covariance.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ddpm_sample(eps_model, n, dim, schedule, generator=None):
    """n samples (n, dim) by ancestral sampling: x_T ~ N(0, I), then T reverse steps t = T-1, ..., 0."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        x = torch.randn(n, dim, generator=generator)
        for t in reversed(range(schedule.T)):
            z = torch.randn(n, dim, generator=generator)
            beta, alpha, alpha_bar = schedule.betas[t].item(), schedule.alphas[t].item(), schedule.alphas_cumprod[t].item()
            eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
            x = (x - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha)
            if t > 0:
                x = x + math.sqrt(beta) * z
        return x
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_ddpm_sample(ddpm_sample)
### BEGIN HIDDEN TESTS
check_ddpm_sample(ddpm_sample, seed=501, n=6000, dim=3, T=100, kind="cosine")
check_ddpm_sample(ddpm_sample, seed=502, n=6000, dim=1, T=300, kind="linear")
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: sample your denoiser
#
# Your sampler on the network you trained above, and the sliced Wasserstein distance to fresh data next to
# the same distance between two independent samples of the data (the floor). A longer training run closes
# the gap.

# %%
generator = torch.Generator().manual_seed(0)
start = time.perf_counter()
x_gen = ddpm_sample(denoiser, 500, 2, linear, generator)
print(f"500 samples, {linear.T} steps, in {time.perf_counter() - start:.1f} s")
x_fresh, _ = data.swiss_roll(500, noise=0.05, seed=2)
x_fresh2, _ = data.swiss_roll(500, noise=0.05, seed=3)
print(f"sliced Wasserstein-2 to the data: {metrics.sliced_wasserstein(x_gen, x_fresh):.3f} "
      f"(floor: {metrics.sliced_wasserstein(x_fresh2, x_fresh):.3f})")
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4), sharex=True, sharey=True)
plot.scatter(x_fresh, ax=axes[0], s=3, title="data")
plot.scatter(x_gen, ax=axes[1], s=3, title="DDPM samples");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex6-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 6: DDIM, fewer steps without noise (2 points)
#
# Song et al. (2021) keep the training but change the sampler. From $x_t$ predict the clean data,
# $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon) / \sqrt{\bar\alpha_t}$, and jump straight to an earlier
# timestep $t'$ with the *same* predicted noise (their eq. 12 with $\eta = 0$, deterministic):
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\, \hat x_0 + \sqrt{1 - \bar\alpha_{t'}}\, \epsilon .$$
#
# Visit only the `steps` timesteps `tau = diffusion.ddim_timesteps(schedule.T, steps)` (increasing, from 0 to
# $T - 1$), from the largest down; after the smallest, $\bar\alpha_{t'} = 1$ (so the result is $\hat x_0$).
#
# Write `ddim_sample(eps_model, n, dim, schedule, steps, generator=None)` returning `(n, dim)` samples. Draw
# $x_T$ = `torch.randn(n, dim, generator=generator)` and no other noise; call the network once per timestep
# as `eps_model(x, torch.full((n,), t, dtype=torch.long))`; work under `torch.no_grad()`.

# %% nbgrader={"grade": false, "grade_id": "ex6-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ddim_sample(eps_model, n, dim, schedule, steps, generator=None):
    """DDIM (eta = 0) over diffusion.ddim_timesteps(T, steps): x_T ~ N(0, I), then deterministic jumps."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        taus = diffusion.ddim_timesteps(schedule.T, steps).tolist()
        x = torch.randn(n, dim, generator=generator)
        for i in reversed(range(len(taus))):
            t = taus[i]
            a_t = schedule.alphas_cumprod[t].item()
            a_prev = schedule.alphas_cumprod[taus[i - 1]].item() if i > 0 else 1.0
            eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
            x0_hat = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_prev) * x0_hat + math.sqrt(1 - a_prev) * eps
        return x
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 6 (the grader runs more tests)
check_ddim_sample(ddim_sample)
### BEGIN HIDDEN TESTS
check_ddim_sample(ddim_sample, seed=601, n=5000, dim=3, T=200, steps=10, kind="cosine")
check_ddim_sample(ddim_sample, seed=602, n=5000, dim=1, T=1000, steps=50)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: DDIM against DDPM
#
# The same network, 20 and 100 DDIM steps instead of 1000 DDPM steps. How does the distance to the data
# change with the number of steps, and what does each cost?

# %%
for steps in (20, 100):
    start = time.perf_counter()
    x_ddim = ddim_sample(denoiser, 500, 2, linear, steps, torch.Generator().manual_seed(0))
    print(f"DDIM {steps:4d} steps: {time.perf_counter() - start:.2f} s, sliced Wasserstein-2 "
          f"{metrics.sliced_wasserstein(x_ddim, x_fresh):.3f}")

# %% [markdown]
# ### Try it: digits
#
# Your DDIM sampler on MNIST digits (scaled to $[-1, 1]$), with a small U-Net as $\epsilon_\theta$. Training it
# took 38 minutes on one thread of a busy CPU (a few minutes on a GPU), so the course ships a trained copy;
# set `TRAIN_DIGITS = True` to train your own (`experiments/train_diffusion.py` does the same from a terminal).
# Your sampler works on `(n, dim)` vectors: the wrapper below shows each vector to the U-Net as a 28x28 image
# and, as Ho et al.'s code does for images, clips the predicted clean image $\hat x_0$ to $[-1, 1]$ (returning the
# noise that matches the clipped $\hat x_0$). With $\eta = 0$ this small network leaves some digits unfinished;
# the book's samples add fresh noise at each step ($\eta = 1$), which corrects such errors.

# %%
TRAIN_DIGITS = False
if TRAIN_DIGITS:
    from genedu.denoisers import UNetDenoiser

    x_digits, _ = data.mnist("train", value_range=(-1.0, 1.0))
    unet = UNetDenoiser(channels=16)
    diffusion.train_denoiser(unet, x_digits, linear, steps=4000, batch_size=64, lr=1e-3, ema_decay=0.999)
else:
    from genedu import checkpoints

    unet, _ = checkpoints.load("digits_unet")


def unet_on_vectors(x, t):
    """The U-Net's noise prediction for (n, 784) vectors, consistent with a clean image clipped to [-1, 1]."""
    images = x.reshape(-1, 1, 28, 28)
    a = linear.alphas_cumprod[t].to(x.dtype)[:, None, None, None]
    x0_hat = ((images - (1 - a).sqrt() * unet(images, t)) / a.sqrt()).clamp(-1, 1)
    return ((images - a.sqrt() * x0_hat) / (1 - a).sqrt()).reshape(len(x), -1)


digits = ddim_sample(unet_on_vectors, 16, 28 * 28, linear, 20, torch.Generator().manual_seed(0)).reshape(16, 1, 28, 28)
plot.image_grid(((digits + 1) / 2).clamp(0, 1), nrow=8, title="16 digits from the U-Net with your DDIM (20 steps)");

# %% [markdown]
# ## To think about (not graded)
#
# 1. Why does the loss pick a random $t$ per example instead of running the whole chain, as a VAE's
#    decoder would? What would training cost otherwise?
# 2. The exact denoiser of Gaussian data gives a *linear* reverse process. What does a network have to
#    learn beyond that for the swiss roll?
# 3. DDIM with $\eta = 0$ maps each $x_T$ to one $x_0$. What could you do with that map that you cannot do
#    with DDPM (think of chapter 3's interpolations)?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch07_diffusion.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch07_diffusion.ipynb")
