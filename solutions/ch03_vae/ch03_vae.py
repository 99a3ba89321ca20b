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
# # Chapter 3 exercises: the variational autoencoder and the ELBO
#
# A VAE is a latent-variable model $p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz$ trained by
# maximising the **evidence lower bound** (ELBO) with an encoder $q_\phi(z \mid x)$:
#
# $$\log p_\theta(x) \ \ge\ \mathbb E_{q_\phi(z \mid x)}\big[\log p_\theta(x \mid z)\big] - \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big).$$
#
# In this notebook you write the pieces of a VAE yourself and train one on real MNIST digits.
# You will write six functions (16 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `reparameterize`: $z = \mu + \sigma \odot \epsilon$ | 2 |
# | 2 | `gaussian_kl`: $\mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I))$ in closed form | 3 |
# | 3 | `negative_elbo`: the VAE loss | 3 |
# | 4 | `vae_forward`: encode, sample, decode | 2 |
# | 5 | `cvae_forward`: a conditional VAE, told the label | 3 |
# | 6 | `iwae_bound`: the importance-weighted bound $\mathcal L_k$ | 3 |
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

from genedu import checkpoints, classifier, data, models, plot
from genedu.checks.ch03 import (check_cvae_forward, check_gaussian_kl, check_iwae_bound, check_negative_elbo,
                                check_reparameterize, check_vae_forward)
from genedu.train import evaluate, train

# These small models train fastest on one CPU thread; several threads per notebook fight over the
# cores (and slow down many times over) when other jobs, or a class being graded, share the machine.
torch.set_num_threads(1)
genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown]
# ## The data
#
# 5,000 real MNIST digits ship with the course (4,500 for training, 500 held out), as
# $(N, 1, 28, 28)$ tensors of grey levels in $[0, 1]$. The decoder models each pixel as a
# Bernoulli variable whose probability is $\mathrm{sigmoid}(\text{logit})$.

# %%
x_train, y_train = data.mnist("train")
x_test, y_test = data.mnist("test")
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")
plot.image_grid(x_train[:32], nrow=16, title="training digits");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: the reparameterization trick (2 points)
#
# The encoder outputs the mean $\mu$ and the **log-variance** $\log \sigma^2$ of
# $q(z \mid x) = \mathcal N(\mu, \mathrm{diag}(\sigma^2))$. A sample drawn by a sampling routine is a
# dead end for backpropagation: nothing tells autograd how the sample would move if $\mu$ or
# $\sigma$ moved. Write the sample instead as a deterministic function of the parameters and of
# parameter-free noise:
#
# $$z = \mu + \sigma \odot \epsilon, \qquad \sigma = \exp\!\big(\tfrac12 \log \sigma^2\big), \qquad \epsilon \sim \mathcal N(0, I).$$
#
# Write `reparameterize(mu, logvar, generator=None)` for `mu` and `logvar` of shape `(B, D)`,
# returning `z` of shape `(B, D)`. Draw $\epsilon$ with
# `torch.randn(mu.shape, generator=generator)` so that a seeded generator gives repeatable samples.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reparameterize(mu, logvar, generator=None):
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I); mu, logvar (B, D) -> z (B, D)."""
    ### BEGIN SOLUTION
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_reparameterize(reparameterize)
### BEGIN HIDDEN TESTS
check_reparameterize(reparameterize, seed=101, n=8000, dim=1)
check_reparameterize(reparameterize, seed=102, n=4000, dim=6)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the KL divergence in closed form (3 points)
#
# For a diagonal Gaussian $q = \mathcal N(\mu, \mathrm{diag}(\sigma^2))$ and the prior $p = \mathcal N(0, I)$
# the KL divergence has a closed form (Kingma & Welling 2014, appendix B), one term per latent dimension:
#
# $$\mathrm{KL}(q \,\|\, p) = \frac12 \sum_{j=1}^{D} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big).$$
#
# Write `gaussian_kl(mu, logvar)` for `mu`, `logvar` of shape `(B, D)` returning the `(B,)` divergences,
# one per example. Remember that `logvar` is $\log \sigma^2$, so $\sigma^2$ = `logvar.exp()`.
# The check compares you with `torch.distributions`; don't use it in your answer.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example; mu, logvar (B, D) -> (B,)."""
    ### BEGIN SOLUTION
    return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar, dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_gaussian_kl(gaussian_kl)
### BEGIN HIDDEN TESTS
check_gaussian_kl(gaussian_kl, seed=201, batch=1, dim=2)
check_gaussian_kl(gaussian_kl, seed=202, batch=64, dim=20)
check_gaussian_kl(gaussian_kl, seed=203, batch=4, dim=4)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: the negative ELBO (3 points)
#
# With one sample $z_b \sim q(z \mid x_b)$ per example, the loss that training minimises is the
# negative ELBO averaged over the batch, with a weight $\beta$ on the KL term ($\beta = 1$ is the
# ELBO; other values give the $\beta$-VAE of Higgins et al. 2017):
#
# $$\text{loss} = \frac1B \sum_{b=1}^B \Big[\underbrace{-\log p(x_b \mid z_b)}_{\text{recon}} + \beta\, \underbrace{\mathrm{KL}\big(q(z \mid x_b) \,\|\, p(z)\big)}_{\text{kl}}\Big].$$
#
# The decoder's pixels are independent Bernoulli variables with probabilities
# $\mathrm{sigmoid}(\ell)$ for the logits $\ell$, so $-\log p(x \mid z)$ is the binary cross-entropy
# **summed over the pixels** of an image:
#
# $$-\log p(x \mid z) = -\sum_{j} \big[x_j \log \mathrm{sigmoid}(\ell_j) + (1 - x_j) \log(1 - \mathrm{sigmoid}(\ell_j))\big].$$
#
# Write `negative_elbo(logits, x, mu, logvar, beta=1.0)` with `logits` and `x` of shape `(B, 1, 28, 28)`
# (or any `(B, ...)`) and `mu`, `logvar` of shape `(B, D)`. Return the tuple `(loss, recon, kl)` of three
# scalar tensors: the batch means of the loss, of $-\log p(x \mid z)$ and of the KL, in nats per
# image. Use `F.binary_cross_entropy_with_logits(logits, x, reduction="none")` (stable for large
# logits). Write the KL again here (do not call your `gaussian_kl`: then a mistake there does not
# cost you this exercise too).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def negative_elbo(logits, x, mu, logvar, beta=1.0):
    """(loss, recon, kl): batch means of -log p(x|z) + beta * KL, of -log p(x|z) and of KL(q(z|x) || p(z))."""
    ### BEGIN SOLUTION
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(start_dim=1).sum(dim=1)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)
    return (recon + beta * kl).mean(), recon.mean(), kl.mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_negative_elbo(negative_elbo)
### BEGIN HIDDEN TESTS
check_negative_elbo(negative_elbo, seed=301, batch=1, image_shape=(1, 28, 28), dim=20, beta=0.5)
check_negative_elbo(negative_elbo, seed=302, batch=32, image_shape=(7,), dim=2, beta=2.0)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: the forward pass (2 points)
#
# A `genedu.models.VAE` has `model.encode(x) -> (mu, logvar)` and `model.decode(z) -> logits`.
# Write `vae_forward(model, x, generator=None)` that returns the tuple `(logits, mu, logvar)`:
# encode `x`, draw $z \sim q(z \mid x)$ with the reparameterization trick (pass the `generator` on),
# and decode $z$. Return the decoder's **logits** (not probabilities): the loss applies the sigmoid.
#
# Use your `reparameterize(mu, logvar, generator)` of exercise 1 for the sampling step (the check
# runs your function with a correct `reparameterize`, so a mistake there does not cost you here too).
# Calling `model(x)`, i.e. `VAE.forward`, is the answer itself and gets no marks.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vae_forward(model, x, generator=None):
    """(logits, mu, logvar): encode x, sample z ~ q(z|x) by the reparameterization trick, decode z."""
    ### BEGIN SOLUTION
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, generator)
    return model.decode(z), mu, logvar
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_vae_forward(vae_forward)
### BEGIN HIDDEN TESTS
check_vae_forward(vae_forward, seed=401, n=4000, pixels=10, latent_dim=2)
check_vae_forward(vae_forward, seed=402, n=3000, pixels=4, latent_dim=1)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: train a VAE with your functions
#
# Your `vae_forward` and `negative_elbo` are all the training loop needs. Two epochs on the
# 4,500 training digits, at a learning rate of 4e-3, take a few seconds on a laptop CPU; the book
# trains the same model for 45 epochs. Try more epochs yourself, or `beta=4` (what happens to the
# KL and to the reconstructions?).

# %%
def elbo_loss(model, x, beta=1.0):
    logits, mu, logvar = vae_forward(model, x)
    loss, recon, kl = negative_elbo(logits, x, mu, logvar, beta)
    return loss, {"recon": recon.item(), "kl": kl.item()}

genedu.seed_everything(0)
vae = models.mlp_vae(latent_dim=12)
history = train(vae, elbo_loss, x_train, epochs=2, lr=4e-3)
print("held-out negative ELBO: {loss:.1f} nats per image (recon {recon:.1f} + KL {kl:.1f})".format(
    **evaluate(vae, elbo_loss, x_test)))
with torch.no_grad():
    x_hat = torch.sigmoid(vae_forward(vae, x_test[:10])[0])
plot.reconstructions(x_test[:10], x_hat, title="test digits (top) and reconstructions (bottom)");

# %% [markdown]
# ### Try it: new digits, and the latent plane of a 2D VAE
#
# The VAE is a generative model: to make a new digit, draw a code from the prior and decode it,
# $z \sim \mathcal N(0, I)$, image $= \mathrm{sigmoid}(\mathrm{decoder}(z))$ (the decoder's mean, the pixel
# probabilities; drawing Bernoulli pixels from it would give a speckled picture). `model.sample(n)` does
# exactly this. After only two epochs the samples are rough; the book's model, trained longer, gives clearer
# digits. Below, a VAE with a **two-dimensional** latent space: every point of the plane decodes to an
# image. Move the sliders (in a live notebook) to walk through it; the left panel shows where the test
# digits are encoded.

# %%
plot.image_grid(vae.sample(32, generator=torch.Generator().manual_seed(0)), nrow=16,
                title="samples from the prior (2 epochs)");

# %%
from genedu.widgets import latent_explorer

genedu.seed_everything(0)
vae2d = models.mlp_vae(latent_dim=2)
train(vae2d, elbo_loss, x_train, epochs=2, lr=3e-3)
with torch.no_grad():
    codes = vae2d.encode(x_test)[0]
latent_explorer(lambda z: torch.sigmoid(vae2d.decode(z)), codes, y_test)

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: a conditional VAE (3 points)
#
# The VAE above decides for itself which digit it draws. To ask for a particular one, tell both networks the
# label $y$ (Kingma et al., 2014, whose model M2 also learns from unlabelled digits; Sohn et al., 2015): the
# encoder becomes $q_\phi(z \mid x, y)$, the decoder $p_\theta(x \mid z, y)$, and the ELBO bounds
# $\log p_\theta(x \mid y)$ with the same two terms, $y$ given throughout:
#
# $$\log p_\theta(x \mid y) \ \ge\ \mathbb E_{q_\phi(z \mid x, y)}\big[\log p_\theta(x \mid z, y)\big] - \mathrm{KL}\big(q_\phi(z \mid x, y)\,\|\,p(z)\big).$$
#
# The prior stays $\mathcal N(0, I)$, the same for every label, so the code $z$ has no reason to repeat what
# $y$ already says: it is free to hold what the label does not, the slant, the thickness, the style. To
# sample a 7, draw $z \sim \mathcal N(0, I)$ and decode it with $y = 7$.
#
# The simplest way to tell a network the label is to append it, as a one-hot vector, to the network's input.
# Write `cvae_forward(model, x, y, generator=None)` for a `genedu.models.ConditionalVAE` `model`, images `x`
# `(B, 1, 28, 28)` and labels `y` `(B,)` (int64), returning `(logits, mu, logvar)` as `vae_forward` does:
#
# 1. the labels as one-hot vectors, `(B, K)` floats: `F.one_hot(y, model.n_classes)`, converted to `x`'s dtype;
# 2. the encoder `model.encoder` takes `(B, D + K)`: `x` flattened to `(B, D)`, **then** the one-hot labels
#    (`torch.cat(..., dim=1)`), and returns `(B, 2L)`: $\mu$ is the first $L$ = `model.latent_dim` columns,
#    $\log \sigma^2$ the last $L$;
# 3. $z$ by your `reparameterize(mu, logvar, generator)` (the check runs your function with a correct one);
# 4. the decoder `model.decoder` takes `(B, L + K)`: $z$, **then** the one-hot labels, and returns the logits,
#    shaped like `x`.
#
# `model(x, y)`, `model.encode` and `model.decode` are the answer itself and get no marks.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cvae_forward(model, x, y, generator=None):
    """(logits, mu, logvar): encode [x, one_hot(y)], sample z ~ q(z|x, y), decode [z, one_hot(y)]."""
    ### BEGIN SOLUTION
    one_hot = F.one_hot(y, model.n_classes).to(x.dtype)                # (B, K)
    h = model.encoder(torch.cat([x.flatten(1), one_hot], dim=1))      # (B, 2L)
    mu, logvar = h.chunk(2, dim=1)
    z = reparameterize(mu, logvar, generator)
    return model.decoder(torch.cat([z, one_hot], dim=1)), mu, logvar
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_cvae_forward(cvae_forward)
### BEGIN HIDDEN TESTS
check_cvae_forward(cvae_forward, seed=501, n=5000, image_shape=(1, 4, 4), latent_dim=2, n_classes=10)
check_cvae_forward(cvae_forward, seed=502, n=4000, image_shape=(9,), latent_dim=4, n_classes=3)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: ask for a digit
#
# Train a conditional VAE with a 2D code on the 4,500 digits with your forward pass and your `negative_elbo`
# (10 epochs, a few seconds). Each column of the grid below decodes **one** code $z \sim \mathcal N(0, I)$
# with each of the ten labels, one per row: the label picks the digit, the code its style. The course's digit
# classifier (trained on real digits, chapter 5) then says how often a sample is read as the digit asked for.
# Then train it again with `latent_dim=8`, and compare the grid and the printed share: what does the
# decoder still need the label for, when the code has room to say which digit it is?

# %%
def cvae_loss(model, x, y):
    logits, mu, logvar = cvae_forward(model, x, y)
    return negative_elbo(logits, x, mu, logvar)[0]


genedu.seed_everything(0)
cvae = models.mlp_cvae(latent_dim=2)
optimizer = torch.optim.Adam(cvae.parameters(), lr=3e-3)
for epoch in range(10):                                    # the loop of chapter 2, with the labels
    for idx in torch.randperm(len(x_train)).split(128):
        loss = cvae_loss(cvae, x_train[idx], y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

labels = torch.arange(10).repeat_interleave(8)                       # rows: the digit asked for
z = torch.randn(8, cvae.latent_dim, generator=torch.Generator().manual_seed(0)).repeat(10, 1)  # columns: a code
with torch.no_grad():
    images = torch.sigmoid(cvae.decoder(torch.cat([z, F.one_hot(labels, 10).float()], dim=1)))
fig, ax = plt.subplots(figsize=(4.8, 6))
plot.image_grid(images, nrow=8, ax=ax, title="one code per column, the label 0-9 down the rows");

digit_classifier, _ = checkpoints.load("digit_classifier")
asked = torch.arange(10).repeat_interleave(100)
z_many = torch.randn(len(asked), cvae.latent_dim, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    samples = torch.sigmoid(cvae.decoder(torch.cat([z_many, F.one_hot(asked, 10).float()], dim=1)))
read_as = classifier.predict_proba(digit_classifier, F.pad(samples, (2, 2, 2, 2)) * 2 - 1).argmax(1)
print(f"{float((read_as == asked).float().mean()):.0%} of 1,000 samples (100 per label) are read by the classifier "
      "as the digit asked for")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex6-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 6: the importance-weighted bound (3 points)
#
# The ELBO uses one sample of $z$. Burda et al. (2016) average $k$ importance weights inside the log:
#
# $$\mathcal L_k(x) = \log \frac1k \sum_{i=1}^k \frac{p(x \mid z_i)\, p(z_i)}{q(z_i \mid x)}, \qquad z_1, \dots, z_k \sim q(z \mid x) \text{ independently}.$$
#
# $\mathcal L_1$ is the ELBO (in expectation), and $\mathbb E[\mathcal L_k]$ grows with $k$ towards
# $\log p(x)$. Write `iwae_bound(model, x, k, generator=None)` returning the `(B,)` bounds, one per
# example of `x` `(B, ...)`. Work with log-weights
# $\log w_i = \log p(x \mid z_i) + \log p(z_i) - \log q(z_i \mid x)$, where
# $\log p(x \mid z)$ is minus the binary cross-entropy summed over pixels and, for a diagonal Gaussian,
# $\log \mathcal N(z; \mu, \sigma^2) = -\frac12 \sum_j \big[(z_j - \mu_j)^2 / \sigma_j^2 + \log \sigma_j^2 + \log 2\pi\big]$.
# Then $\mathcal L_k = $ `torch.logsumexp(log_w, dim=0) - math.log(k)` (the naive `log(mean(exp))`
# underflows: log-weights of images are around $-100$).
#
# Tips: draw $\epsilon$ of shape `(k, B, D)` with the generator, decode all $k B$ codes at once
# (`z.reshape(k * B, D)`) and reshape the logits back to `(k, B, ...)`; `x.expand(k, *x.shape)` repeats
# `x` without copying. No gradients are needed (`with torch.no_grad():`).

# %% nbgrader={"grade": false, "grade_id": "ex6-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def iwae_bound(model, x, k, generator=None):
    """L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x); x (B, ...) -> (B,)."""
    ### BEGIN SOLUTION
    with torch.no_grad():  # no gradients are needed to sample or to evaluate
        mu, logvar = model.encode(x)                                  # (B, D)
        b, d = mu.shape
        eps = torch.randn(k, b, d, generator=generator)
        z = mu + torch.exp(0.5 * logvar) * eps                        # (k, B, D)
        logits = model.decode(z.reshape(k * b, d)).reshape(k, *x.shape)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape),
                                                       reduction="none").flatten(start_dim=2).sum(dim=2)
        log_pz = -0.5 * (z**2 + math.log(2 * math.pi)).sum(dim=2)
        log_qz = -0.5 * (eps**2 + logvar + math.log(2 * math.pi)).sum(dim=2)   # (z - mu)^2 / sigma^2 = eps^2
        return torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 6 (the grader runs more tests)
check_iwae_bound(iwae_bound)
### BEGIN HIDDEN TESTS
check_iwae_bound(iwae_bound, seed=601, k=10, repeats=400)
check_iwae_bound(iwae_bound, seed=602, k=100, repeats=200)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: a tighter bound on the trained VAE
#
# On the VAE you trained above (and 200 test digits), the bound rises with $k$: the ELBO underestimates
# $\log p(x)$, and more importance samples close part of the gap.

# %%
generator = torch.Generator().manual_seed(0)
for k in (1, 5, 50):
    print(f"k = {k:3d}: L_k = {iwae_bound(vae, x_test[:200], k, generator).mean():.2f} nats per image")

# %% [markdown]
# ## To think about (not graded)
#
# 1. Why does the encoder output $\log \sigma^2$ rather than $\sigma$? What would go wrong with a
#    linear layer that outputs $\sigma$ directly?
# 2. With $\beta = 0$ the loss is an autoencoder's reconstruction loss plus noise. What happens to
#    $q(z \mid x)$, and why do samples from the prior then look bad?
# 3. $\mathcal L_k$ is a tighter bound, so why not train on it? (Burda et al. do, as the IWAE; Rainforth
#    et al. 2018 show what it costs the encoder.)

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch03_vae.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch03_vae.ipynb")
