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
# # Chapter 4 exercises: the GAN minimax game
#
# A generative adversarial network is a game between a **generator** $G$, which maps noise
# $z \sim p_z$ to samples $G(z)$, and a **discriminator** $D$, which outputs the probability
# $D(x)$ that $x$ is real. They play the minimax game (Goodfellow et al., 2014)
#
# $$\min_G \max_D V(D, G), \qquad V(D, G) = \mathbb E_{x \sim p_{data}}[\log D(x)] + \mathbb E_{z \sim p_z}[\log(1 - D(G(z)))].$$
#
# In this notebook you write the losses of the game, the optimal discriminator and the value of the
# game at that optimum, the generator's gradients against that discriminator (which divergence each
# generator loss follows), and one iteration of Goodfellow et al.'s Algorithm 1; then you train the
# 1D game with your own iteration. Six functions (16 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `discriminator_loss`: $-V(D, G)$ on a minibatch, from logits | 2 |
# | 2 | `generator_loss_nonsaturating`: the non-saturating generator loss | 2 |
# | 3 | `optimal_discriminator`: $D^*(x)$ on a grid | 2 |
# | 4 | `value_at_optimum`: $V(G, D^*)$, compared with the Jensen-Shannon divergence | 3 |
# | 5 | `generator_gradients_at_optimum`: the divergence each generator loss follows | 3 |
# | 6 | `gan_training_iteration`: one iteration of Algorithm 1 | 4 |
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
import torch.nn.functional as F
from tqdm.auto import tqdm

from genedu import density, gan, gan_theory
from genedu.data import gaussian_1d
from genedu.checks.ch04 import (check_discriminator_loss, check_gan_training_iteration,
                                check_generator_gradients_at_optimum, check_generator_loss_nonsaturating,
                                check_optimal_discriminator, check_value_at_optimum)
from genedu.plot.gan import game_1d_frame

# These small models train fastest on one CPU thread; several threads per notebook fight over the
# cores (and slow down many times over) when other jobs, or a class being graded, share the machine.
torch.set_num_threads(1)
genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: the discriminator loss (2 points)
#
# Networks output **logits** $\ell$, and $D(x) = \mathrm{sigmoid}(\ell(x))$. The discriminator
# maximises $V(D, G)$, so the loss it minimises is $-V(D, G)$, estimated on a real minibatch
# $x_1, \dots, x_m$ and a fake one $G(z_1), \dots, G(z_n)$:
#
# $$\mathcal L_D = -\frac1m \sum_{i=1}^m \log D(x_i) - \frac1n \sum_{j=1}^n \log\big(1 - D(G(z_j))\big).$$
#
# Computed literally, `torch.log(torch.sigmoid(l))` is `-inf` once `sigmoid(l)` underflows to 0
# (for $\ell \approx -100$ in float32). Use the stable forms instead:
#
# $$\log \mathrm{sigmoid}(\ell) = -\mathrm{softplus}(-\ell), \qquad \log\big(1 - \mathrm{sigmoid}(\ell)\big) = -\mathrm{softplus}(\ell),$$
#
# with `F.softplus` (or `F.logsigmoid`, or `F.binary_cross_entropy_with_logits`).
# Write `discriminator_loss(real_logits, fake_logits)` for logits of shape `(m,)` and `(n,)` (the two
# batches may differ in size; logits of shape `(m, 1)` should work too) returning a scalar tensor.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def discriminator_loss(real_logits, fake_logits):
    """-V(D, G) on a minibatch: -mean log D(x) - mean log(1 - D(G(z))), from logits; -> scalar."""
    ### BEGIN SOLUTION
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_discriminator_loss(discriminator_loss)
### BEGIN HIDDEN TESTS
check_discriminator_loss(discriminator_loss, seed=101, batch=5, fake_batch=50)
check_discriminator_loss(discriminator_loss, seed=102, batch=64, fake_batch=64)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the non-saturating generator loss (2 points)
#
# The generator minimises $V(D, G)$, and only the second term of $V$ depends on it: the minimax
# generator loss on a minibatch, called **saturating**, is
#
# $$\mathcal L_G^{\text{sat}} = \frac1n \sum_{j=1}^n \log\big(1 - D(G(z_j))\big)$$
#
# (`gan.generator_loss_saturating` computes it from the logits, as $-\mathrm{softplus}(\ell)$ averaged).
# Early in training the discriminator rejects the fakes easily, $D(G(z)) \approx 0$, where
# $\log(1 - D)$ is flat: its gradient with respect to the logit is $-D(G(z)) \approx 0$, and the
# generator barely learns. Goodfellow et al. suggest training $G$ to maximise $\log D(G(z))$ instead,
# the same fixed point with strong gradients early on:
#
# $$\mathcal L_G^{\text{ns}} = -\frac1n \sum_{j=1}^n \log D(G(z_j)).$$
#
# Write `generator_loss_nonsaturating(fake_logits)` (logits of the fakes, shape `(n,)`) returning this
# scalar, stable for large logits.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def generator_loss_nonsaturating(fake_logits):
    """-mean log D(G(z)) from the logits of the fakes; -> scalar."""
    ### BEGIN SOLUTION
    return F.softplus(-fake_logits).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_generator_loss_nonsaturating(generator_loss_nonsaturating)
### BEGIN HIDDEN TESTS
check_generator_loss_nonsaturating(generator_loss_nonsaturating, seed=201, batch=100)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: where do the two losses give the generator a gradient?
#
# Autograd gives the gradient of each loss with respect to the logit of one fake example that the
# discriminator rejects with $D(G(z)) = 0.001$, and of one it is fooled by, $D(G(z)) = 0.9$.

# %%
for d in (0.001, 0.5, 0.9):
    logit = torch.logit(torch.tensor([d])).requires_grad_(True)
    (g_sat,) = torch.autograd.grad(gan.generator_loss_saturating(logit), logit)
    (g_ns,) = torch.autograd.grad(generator_loss_nonsaturating(logit), logit)
    print(f"D(G(z)) = {d:5.3f}: d/dlogit  saturating {g_sat.item():+.4f}   non-saturating {g_ns.item():+.4f}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: the optimal discriminator (2 points)
#
# For a fixed generator with density $p_g$, the discriminator that maximises $V(D, G)$ is
# (Goodfellow et al., Proposition 1)
#
# $$D^*(x) = \frac{p_{data}(x)}{p_{data}(x) + p_g(x)}.$$
#
# Write `optimal_discriminator(log_p_data, log_p_g)` that takes the two **log**-densities evaluated on
# a grid of points, tensors of shape `(M,)`, and returns $D^*$ on that grid, shape `(M,)`. Far from
# the data both densities underflow to 0 in float32, and `0 / (0 + 0)` is `nan`; the check's grid goes
# there. Divide the numerator and the denominator by $p_g$ to write $D^*$ as a function of
# $\log p_{data} - \log p_g$ alone, which stays exact.

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def optimal_discriminator(log_p_data, log_p_g):
    """D*(x) = p_data / (p_data + p_g) from log-densities on a grid; (M,), (M,) -> (M,)."""
    ### BEGIN SOLUTION
    return torch.sigmoid(log_p_data - log_p_g)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_optimal_discriminator(optimal_discriminator)
### BEGIN HIDDEN TESTS
check_optimal_discriminator(optimal_discriminator, seed=301, n_grid=97)
check_optimal_discriminator(optimal_discriminator, seed=302, n_grid=1000)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: $D^*$ for two known densities
#
# $p_{data} = \mathcal N(2, 0.5^2)$ and a generator whose samples follow $p_g = \mathcal N(0, 1)$.
# Where only the data have mass $D^* = 1$, where only the generator has mass $D^* = 0$, and
# where both are equal $D^* = 1/2$.

# %%
x = torch.linspace(-4, 5, 500)
log_p_data, log_p_g = density.normal_log_density(2.0, 0.5)(x), density.normal_log_density(0.0, 1.0)(x)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(x, log_p_data.exp(), "k--", label="$p_{data}$")
ax.plot(x, log_p_g.exp(), color="tab:green", label="$p_g$")
ax.plot(x, optimal_discriminator(log_p_data, log_p_g), color="tab:blue", label="your $D^*$")
ax.legend();

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: the value at the optimum and the Jensen-Shannon divergence (3 points)
#
# With the optimal discriminator plugged in, the value of the game becomes a function of $p_g$ alone
# (Goodfellow et al., Theorem 1):
#
# $$V(G, D^*) = \int p_{data}(x) \log D^*(x)\, dx + \int p_g(x) \log\big(1 - D^*(x)\big)\, dx = -\log 4 + 2\, \mathrm{JSD}(p_{data} \,\|\, p_g).$$
#
# Write `value_at_optimum(log_p_data, log_p_g, x)` that computes the integrals on the 1-D grid `x`
# (shape `(M,)`, increasing) from the log-densities on that grid, e.g. with the trapezoidal rule
# `torch.trapezoid(f, x)`. Two numerical points:
#
# - far from the data $D^*$ rounds to exactly 0 or 1 while the other density is still positive, so
#   `torch.log(1 - d_star)` is `-inf` there: compute the logs from the log-densities,
#   $\log D^* = \log \mathrm{sigmoid}(\log p_{data} - \log p_g)$ = `F.logsigmoid(log_p_data - log_p_g)`
#   and $\log(1 - D^*)$ = `F.logsigmoid(log_p_g - log_p_data)`;
# - where a density is 0 (a log-density of `-inf`, e.g. outside the support of a uniform density),
#   the term $p \log D^*$ is $0 \log 0 = 0$, but torch computes `0 * (-inf)` as `nan`: keep only the
#   points where the density is positive, `torch.where(p > 0, p * log_d, 0.0)`.
#
# Do not call genedu's `value_at_optimum`, `gan_value` or `jensen_shannon`.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def value_at_optimum(log_p_data, log_p_g, x):
    """V(G, D*) = int p_data log D* + p_g log(1 - D*) dx on the grid x; (M,), (M,), (M,) -> scalar."""
    ### BEGIN SOLUTION
    p_data, p_g = log_p_data.exp(), log_p_g.exp()
    log_d = F.logsigmoid(log_p_data - log_p_g)            # log D*
    log_1md = F.logsigmoid(log_p_g - log_p_data)          # log(1 - D*)
    integrand = torch.where(p_data > 0, p_data * log_d, 0.0) + torch.where(p_g > 0, p_g * log_1md, 0.0)
    return torch.trapezoid(integrand, x)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_value_at_optimum(value_at_optimum)
### BEGIN HIDDEN TESTS
check_value_at_optimum(value_at_optimum, seed=401, n_grid=1501)
check_value_at_optimum(value_at_optimum, disjoint=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the value falls to $-\log 4$ as $p_g$ reaches $p_{data}$
#
# Slide a Gaussian $p_g = \mathcal N(\mu_g, 0.5^2)$ towards $p_{data} = \mathcal N(2, 0.5^2)$. Your
# $V(G, D^*)$ and $-\log 4 + 2\,\mathrm{JSD}$ (the JSD computed below from its definition) should agree, and
# reach $-\log 4 \approx -1.386$ only at $\mu_g = 2$. Far apart, the JSD saturates at $\log 2$ and $V(G, D^*)$ at 0: the value no
# longer tells how far apart the distributions are.

# %%
def jensen_shannon(log_p, log_q, x):
    """JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, on the grid x."""
    log_m = torch.logaddexp(log_p, log_q) - math.log(2)
    return 0.5 * torch.trapezoid(log_p.exp() * (log_p - log_m) + log_q.exp() * (log_q - log_m), x)


x = torch.linspace(-8, 10, 4000, dtype=torch.float64)
log_p_data = density.normal_log_density(2.0, 0.5)(x)
for mu_g in (-4.0, 0.0, 1.0, 1.5, 2.0):
    log_p_g = density.normal_log_density(mu_g, 0.5)(x)
    jsd = jensen_shannon(log_p_data, log_p_g, x)
    print(f"mu_g = {mu_g:4.1f}:  V(G, D*) = {value_at_optimum(log_p_data, log_p_g, x):+.4f}   "
          f"-log 4 + 2 JSD = {-math.log(4) + 2 * jsd:+.4f}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: which divergence each generator loss follows (3 points)
#
# Exercise 4 showed that with the optimal discriminator the value of the game is
# $-\log 4 + 2\,\mathrm{JSD}(p_{data} \,\|\, p_g)$. Arjovsky and Bottou (2017, Theorem 2.5) asked which
# divergence the generator's *gradients* follow. Fix the generator's parameters at $\theta_0$, take the
# optimal discriminator of that generator,
#
# $$D^*(x) = \frac{p_{data}(x)}{p_{data}(x) + p_{\theta_0}(x)},$$
#
# and **hold it fixed** while $\theta$ moves; take every gradient at $\theta = \theta_0$. Then
#
# $$\nabla_\theta\, \mathbb E_z \log\big(1 - D^*(G_\theta(z))\big) = \nabla_\theta\, 2\,\mathrm{JSD}(p_{data} \,\|\, p_\theta),$$
#
# $$\nabla_\theta\, \mathbb E_z\big[-\log D^*(G_\theta(z))\big] = \nabla_\theta \big[\mathrm{KL}(p_\theta \,\|\, p_{data}) - 2\,\mathrm{JSD}(p_{data} \,\|\, p_\theta)\big].$$
#
# The first is exercise 4's identity differentiated ($D^*$ maximises $V$ at $\theta_0$, so letting it
# move with $\theta$ would change $V$ only to second order: the envelope theorem); the second follows
# from $\log D^* - \log(1 - D^*) = \log p_{data} - \log p_{\theta_0}$ (the book page derives both). You
# check them numerically for a Gaussian generator $G_\theta(z) = \mu + \sigma z$, $z \sim \mathcal N(0, 1)$,
# so that $p_\theta = \mathcal N(\mu, \sigma^2)$ with $\theta = (\mu, \sigma)$, and Gaussian data
# $p_{data} = \mathcal N(m, s^2)$.
#
# Write `generator_gradients_at_optimum(mu, sigma, z, data_mean, data_std)`: it takes the generator's
# $\theta_0 = (\mu, \sigma)$ and the data's $(m, s)$ as Python floats and $N$ noise samples `z` of
# shape `(N,)`, and returns `(grad_sat, grad_ns)`, the gradients at $\theta_0$ of the two Monte-Carlo
# losses
#
# $$\mathcal L^{\text{sat}}(\theta) = \frac1N \sum_{j=1}^N \log\big(1 - D^*(G_\theta(z_j))\big), \qquad \mathcal L^{\text{ns}}(\theta) = -\frac1N \sum_{j=1}^N \log D^*(G_\theta(z_j)),$$
#
# each a tensor of shape `(2,)` holding $(\partial / \partial\mu, \partial / \partial\sigma)$, computed by
# autograd:
#
# - make $\mu$ and $\sigma$ leaf tensors with `requires_grad=True`, and $x_j = \mu + \sigma z_j$ from them;
# - evaluate $D^*$ at $x$ through its logit $l(x) = \log p_{data}(x) - \log p_{\theta_0}(x)$, where
#   $\log \mathcal N(x; m, s^2) = -\frac{(x - m)^2}{2 s^2} - \log s - \frac12 \log 2\pi$. Holding $D^*$
#   fixed means that its $p_{\theta_0}$ is built from the *numbers* `mu` and `sigma`, not from the
#   tensors you differentiate: the gradient reaches the losses only through $x$;
# - $\log D^*$ = `F.logsigmoid(l)` and $\log(1 - D^*)$ = `F.logsigmoid(-l)`: far from the data $D^*$
#   underflows to 0 in float32, and `torch.log(d_star)` is `-inf` there (the check tries such a generator);
# - `torch.autograd.grad(loss, (mu_t, sigma_t))` returns one gradient per input: `torch.stack` them.
#   Pass `retain_graph=True` to the first of the two calls, or build $x$ and $l$ again for the second.
#
# Do not call `gan_theory.generator_gradients_at_optimum`.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def generator_gradients_at_optimum(mu, sigma, z, data_mean, data_std):
    """(d/dmu, d/dsigma) of mean log(1 - D*(G(z))) and of -mean log D*(G(z)), D* fixed; -> (2,), (2,)."""
    ### BEGIN SOLUTION
    mu_t = torch.tensor(mu, dtype=z.dtype, requires_grad=True)
    sigma_t = torch.tensor(sigma, dtype=z.dtype, requires_grad=True)
    x = mu_t + sigma_t * z                                    # G(z), which carries the gradient

    def log_normal(x, mean, std):
        return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)

    logit = log_normal(x, data_mean, data_std) - log_normal(x, mu, sigma)   # D*'s p_g: the numbers
    loss_sat = F.logsigmoid(-logit).mean()                    # mean log(1 - D*(G(z)))
    loss_ns = -F.logsigmoid(logit).mean()                     # -mean log D*(G(z))
    grad_sat = torch.autograd.grad(loss_sat, (mu_t, sigma_t), retain_graph=True)
    grad_ns = torch.autograd.grad(loss_ns, (mu_t, sigma_t))
    return torch.stack(grad_sat), torch.stack(grad_ns)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_generator_gradients_at_optimum(generator_gradients_at_optimum)
### BEGIN HIDDEN TESTS
check_generator_gradients_at_optimum(generator_gradients_at_optimum, seed=501, n=1000, mu=-1.0, sigma=1.5,
                                     data_mean=1.0, data_std=0.7)
check_generator_gradients_at_optimum(generator_gradients_at_optimum, seed=502, n=64, mu=2.2, sigma=0.3)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the saturating loss follows 2 JSD, the non-saturating one the reverse KL minus 2 JSD
#
# With many samples the averages become expectations. Here $z$ holds 200,000 evenly spaced quantiles of
# $\mathcal N(0, 1)$, a deterministic stand-in for as many samples whose averages are accurate
# integrals; $p_{data} = \mathcal N(2, 0.5^2)$. The divergences' gradients come from
# `gan_theory.gaussian_generator_gradients` (the JSD integrated on a grid, the KL in closed form, both
# differentiated by autograd), for a generator far from the data, one centred on it but twice too wide,
# and one twice too narrow. The third line of each block adds your two gradients: since
# $\log(1 - D^*) - \log D^* = \log p_{\theta_0} - \log p_{data}$, the sum follows the reverse KL divergence
# $\mathrm{KL}(p_g \,\|\, p_{data})$ alone.

# %%
z_many = torch.special.ndtri((torch.arange(200_000, dtype=torch.float64) + 0.5) / 200_000)
print(f"{'(mu, sigma)':12}{'loss':16}{'yours':18}{'gradient of':19}book's gradient")
for mu, sigma in ((0.0, 1.0), (2.0, 1.0), (2.0, 0.25)):
    sat, ns = generator_gradients_at_optimum(mu, sigma, z_many, 2.0, 0.5)
    book = gan_theory.gaussian_generator_gradients(mu, sigma, data_mean=2.0, data_std=0.5)
    rows = [("saturating", sat, "2 JSD", "two_jsd"), ("non-saturating", ns, "KL - 2 JSD", "kl_minus_two_jsd"),
            ("sum", sat + ns, "KL(p_g || p_data)", "reverse_kl")]
    for i, (loss, yours, divergence, key) in enumerate(rows):
        pair = [f"({round(float(t[0]), 3) + 0:+.3f}, {round(float(t[1]), 3) + 0:+.3f})" for t in (yours, book[key])]
        print(f"{f'({mu:g}, {sigma:g})' if i == 0 else '':12}{loss:16}{pair[0]:18}{divergence:19}{pair[1]}")

# %% [markdown]
# **What the sum says.** Up to the $-2\,\mathrm{JSD}$ term, the non-saturating generator descends the
# *reverse* KL divergence $\mathrm{KL}(p_g \,\|\, p_{data}) = \mathbb E_{x \sim p_g}\big[\log p_g(x) -
# \log p_{data}(x)\big]$ (Arjovsky & Bottou, 2017, Theorem 2.5). Its expectation runs over the generator's
# samples: a sample where $p_{data}$ is tiny costs $-\log p_{data}(x)$, without bound, while data the
# generator never visits cost nothing. Dropping a mode of a multimodal $p_{data}$ is cheap; putting mass
# between the modes is expensive. This is why the reverse KL is called *mode-seeking*, unlike the forward
# KL $\mathrm{KL}(p_{data} \,\|\, p_g)$ of maximum likelihood (chapters 1-3), which is infinite as soon as
# $p_g$ misses data. For the Gaussians here, $\partial_\sigma \mathrm{KL}(p_g \| p_{data}) = -1/\sigma +
# \sigma / s^2$ and $\partial_\sigma \mathrm{KL}(p_{data} \| p_g) = 1/\sigma - s^2 / \sigma^3$: for a
# generator twice too wide ($\sigma = 2s$) the reverse KL pushes $\sigma$ down 4 times harder than the
# forward KL; for one twice too narrow ($\sigma = s/2$) it pushes it up 4 times more gently. The other
# term, $-2\,\mathrm{JSD}$, has the wrong sign: it pushes $p_g$ away from $p_{data}$, one source of the
# instability Arjovsky & Bottou describe. Both hold only against the optimal discriminator; chapter 6
# measures how often trained GANs drop modes, and what helps.

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex6-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 6: one iteration of Algorithm 1 (4 points)
#
# Goodfellow et al. train the two players by alternating stochastic gradient steps: $k$ steps on the
# discriminator, then one on the generator. Write one iteration with $k = 1$,
# `gan_training_iteration(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g)`, that
# returns the two losses `(d_loss, g_loss)` as Python floats (`.item()`):
#
# 1. **discriminator step**: generate fakes from the noise `z_d` **without gradient for the generator**
#    (under `torch.no_grad()`, or `.detach()` them), compute `d_loss` with your
#    `discriminator_loss(discriminator(x), discriminator(fake))` (exercise 1), zero the discriminator's
#    gradients (`d_optimizer.zero_grad()`), backpropagate and `d_optimizer.step()`;
# 2. **generator step**: with the *updated* discriminator, compute
#    `g_loss = generator_loss_nonsaturating(discriminator(generator(z_g)))` (exercise 2) on the fresh
#    noise `z_g`, zero the generator's gradients, backpropagate and `g_optimizer.step()`.
#
# The D step must leave the generator unchanged and the G step the discriminator unchanged; the
# optimizers may hold gradients left over from a previous iteration. The check runs your iteration with
# correct versions of your losses of exercises 1 and 2, so a mistake there does not cost you here too;
# calling `gan.discriminator_step`, `gan.generator_step` or `gan.train_gan` gets no marks.

# %% nbgrader={"grade": false, "grade_id": "ex6-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gan_training_iteration(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    """One iteration of Algorithm 1 (k = 1): a D step on x and G(z_d), then a G step on z_g; -> (d_loss, g_loss)."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        fake = generator(z_d)
    d_loss = discriminator_loss(discriminator(x), discriminator(fake))
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()

    g_loss = generator_loss_nonsaturating(discriminator(generator(z_g)))
    g_optimizer.zero_grad()
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6-check", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 6 (the grader runs more tests)
check_gan_training_iteration(gan_training_iteration)
### BEGIN HIDDEN TESTS
check_gan_training_iteration(gan_training_iteration, seed=601, optimizer="adam", lr=0.01, batch=9, latent_dim=3, dim=1)
check_gan_training_iteration(gan_training_iteration, seed=602, batch=32, latent_dim=1, dim=3)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the 1D game, trained with your iteration
#
# The data are $\mathcal N(2, 0.5^2)$, the noise $z \sim \mathcal N(0, 1)$ in one dimension, and both
# players small MLPs (`gan.mlp_players`). 400 iterations of your function with Adam take a second
# or two. The figure shows what Goodfellow et al.'s Figure 1 shows: $p_{data}$ (dashed), $p_g$
# (a density estimate of 2,000 generator samples), $D(x)$ (dotted) and, for comparison, the optimal
# $D^*$ for the current $p_g$; below, arrows map a few values of $z$ to $x = G(z)$. The JSD does not
# settle at 0: it keeps fluctuating (roughly between 0.02 and 0.2 from one hundred steps to the next)
# as the players circle around the equilibrium. Run the cell again to train further, or try the
# saturating loss, another learning rate, or several discriminator steps per iteration.

# %%
generator, discriminator = gan.mlp_players([1, 32, 32, 1], [1, 32, 32, 1], seed=1)
g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
data = gaussian_1d(5000, seed=0)
rng = torch.Generator().manual_seed(1)
steps_done = 0

# %%
for step in tqdm(range(400), desc="1D game"):
    x_batch = data[torch.randint(len(data), (128,), generator=rng)]
    d_loss, g_loss = gan_training_iteration(generator, discriminator, g_optimizer, d_optimizer, x_batch,
                                            torch.randn(128, 1, generator=rng), torch.randn(128, 1, generator=rng))
steps_done += 400

# one frame in the format of gan_theory.game_1d, drawn by genedu.plot.gan.game_1d_frame
grid = torch.linspace(-2, 5, 400)
with torch.no_grad():
    samples = generator(torch.randn(2000, 1, generator=rng)).reshape(-1)
    log_p_g = density.kde_log_density(samples, grid)
    log_p_data = density.normal_log_density(2.0, 0.5)(grid)
    z = torch.linspace(-2, 2, 9)
    frame = {"step": steps_done, "log_p_g": log_p_g, "d": torch.sigmoid(discriminator(grid[:, None])).reshape(-1),
             "d_star": optimal_discriminator(log_p_data, log_p_g),            # yours, exercise 3
             "jsd": float(jensen_shannon(log_p_data, log_p_g, grid)),
             "z": z, "g_of_z": generator(z[:, None]).reshape(-1)}
print(f"last losses: d_loss {d_loss:.3f} (log 4 = {math.log(4):.3f}), g_loss {g_loss:.3f} (log 2 = {math.log(2):.3f})")
game_1d_frame({"x": grid, "log_p_data": log_p_data, "frames": [frame]});

# %% [markdown]
# ## To think about (not graded)
#
# 1. At the global optimum $p_g = p_{data}$, what does $D^*$ equal everywhere, and what are the values
#    of the discriminator loss and of the two generator losses there?
# 2. $V(G, D^*)$ stops changing once $p_g$ and $p_{data}$ no longer overlap (exercise 4's try-it). What
#    does that mean for a generator trained against a near-optimal discriminator, and which
#    remedy of chapter 6 changes the divergence?
# 3. Algorithm 1 updates the players in turn. What happens on the bilinear game $\min_x \max_y xy$
#    with simultaneous updates (the book's figure), and with alternating ones?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch04_gan.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch04_gan.ipynb")
