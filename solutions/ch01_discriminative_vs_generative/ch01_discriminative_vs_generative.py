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
# # Chapter 1 exercises: discriminative vs generative models
#
# A **discriminative** classifier models $p(y \mid x)$ and nothing else. A **generative** one
# models the joint $p(x, y) = p(y)\,p(x \mid y)$: it can classify (by Bayes' rule) *and* it
# can produce new data. In this notebook you build both on 2D data and see the difference.
#
# You will write five functions (14 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `fit_gaussian`: maximum-likelihood Gaussian | 2 |
# | 2 | `gaussian_log_density`: $\log \mathcal N(x; \mu, \Sigma)$ | 3 |
# | 3 | `class_posterior`: Bayes' rule, numerically stable | 3 |
# | 4 | `sample_class_conditional`: ancestral sampling | 3 |
# | 5 | `logistic_regression_gradient`: the discriminative model's gradient | 3 |
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

from genedu import data, plot
from genedu.checks import (check_class_posterior, check_fit_gaussian, check_gaussian_log_density,
                           check_logistic_regression_gradient, check_sample_class_conditional)

genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown]
# ## The data
#
# Two classes in 2D. Class 0 is a round blob; class 1 is an elongated, tilted one.

# %%
x_train, y_train = data.two_gaussians(n=400, seed=1)
x_test, y_test = data.two_gaussians(n=2000, seed=2)
plot.scatter(x_train, y_train, title="training data (colour = class)");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: the maximum-likelihood Gaussian (2 points)
#
# The maximum-likelihood estimates of a Gaussian's parameters from $N$ points $x_1, \dots, x_N \in \mathbb R^D$ are
#
# $$\hat\mu = \frac1N \sum_{n=1}^N x_n, \qquad \hat\Sigma = \frac1N \sum_{n=1}^N (x_n - \hat\mu)(x_n - \hat\mu)^\top .$$
#
# Write `fit_gaussian(x)` that takes `x` of shape `(N, D)` and returns the tuple `(mean, cov)` of shapes
# `(D,)` and `(D, D)`. Note the $1/N$: maximum likelihood, not the unbiased $1/(N-1)$.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_gaussian(x):
    """Maximum-likelihood mean (D,) and covariance (D, D) of x (N, D)."""
    ### BEGIN SOLUTION
    mean = x.mean(dim=0)
    centred = x - mean
    cov = centred.T @ centred / x.shape[0]
    return mean, cov
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_fit_gaussian(fit_gaussian)
### BEGIN HIDDEN TESTS
check_fit_gaussian(fit_gaussian, seed=101, n=1000, dim=5)
check_fit_gaussian(fit_gaussian, seed=102, n=3, dim=1)
check_fit_gaussian(fit_gaussian, seed=103, n=7, dim=2)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the log-density of a multivariate Gaussian (3 points)
#
# $$\log \mathcal N(x; \mu, \Sigma) = -\frac12 (x-\mu)^\top \Sigma^{-1} (x-\mu) - \frac12 \log\det\Sigma - \frac D2 \log(2\pi).$$
#
# Write `gaussian_log_density(x, mean, cov)` for `x` of shape `(N, D)`, `mean` `(D,)` and `cov` `(D, D)`,
# returning the `(N,)` log-densities, one per row of `x`. Do not use `torch.distributions` (the check
# compares you with it). Tip: `torch.linalg.solve(cov, diff.T)` computes $\Sigma^{-1}(x-\mu)$ for every
# point without forming the inverse, and `torch.linalg.slogdet` gives $\log\det\Sigma$ safely.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_log_density(x, mean, cov):
    """log N(x_n; mean, cov) for each row of x (N, D); returns (N,)."""
    ### BEGIN SOLUTION
    d = x.shape[1]
    diff = x - mean                                          # (N, D)
    solved = torch.linalg.solve(cov, diff.T).T               # rows: Sigma^-1 (x_n - mu)
    quad = (diff * solved).sum(dim=1)                        # (N,)
    _, logdet = torch.linalg.slogdet(cov)
    return -0.5 * (quad + logdet + d * math.log(2 * math.pi))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_gaussian_log_density(gaussian_log_density)
### BEGIN HIDDEN TESTS
check_gaussian_log_density(gaussian_log_density, seed=201, n=200, dim=1)
check_gaussian_log_density(gaussian_log_density, seed=202, n=10, dim=6)
check_gaussian_log_density(gaussian_log_density, seed=203, n=1, dim=2)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: classifying by Bayes' rule (3 points)
#
# A generative classifier turns the class-conditional densities into a posterior with Bayes' rule:
#
# $$p(y = k \mid x) = \frac{p(x \mid y = k)\, p(y = k)}{\sum_j p(x \mid y = j)\, p(y = j)}.$$
#
# Write `class_posterior(log_likelihoods, priors)`: `log_likelihoods[n, k]` $= \log p(x_n \mid y = k)$
# has shape `(N, K)` and `priors` has shape `(K,)`; return the `(N, K)` posterior probabilities.
#
# **Careful:** for a point far from every class the log-likelihoods are around $-1000$, and
# `torch.exp(-1000.)` is exactly `0.`, so the naive formula gives $0/0$. Work in log space with
# the **log-sum-exp** trick, $\log \sum_j e^{a_j} = m + \log \sum_j e^{a_j - m}$ with $m = \max_j a_j$
# (or `torch.logsumexp`).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def class_posterior(log_likelihoods, priors):
    """p(y = k | x_n) from log p(x_n | y = k) (N, K) and p(y = k) (K,); returns (N, K)."""
    ### BEGIN SOLUTION
    log_joint = log_likelihoods + torch.log(priors)
    return torch.exp(log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_class_posterior(class_posterior)
### BEGIN HIDDEN TESTS
check_class_posterior(class_posterior, seed=301, n=100, k=2)
check_class_posterior(class_posterior, seed=302, n=5, k=10)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: a generative classifier from your three functions
#
# Fit one Gaussian per class, estimate the priors by the class frequencies, and classify the
# test points by their posterior. The black curve is where $p(y=1 \mid x) = 1/2$: with a
# different covariance per class it is a conic (quadratic discriminant analysis).

# %%
def fit_generative_classifier(x, y):
    fits = [fit_gaussian(x[y == k]) for k in (0, 1)]
    priors = torch.bincount(y, minlength=2).float() / len(y)
    return priors, fits

def generative_posterior(x, priors, fits):
    log_lik = torch.stack([gaussian_log_density(x, m, c) for m, c in fits], dim=1)
    return class_posterior(log_lik, priors)

priors, fits = fit_generative_classifier(x_train, y_train)
accuracy = (generative_posterior(x_test, priors, fits).argmax(dim=1) == y_test).float().mean()
print(f"generative classifier: test accuracy {accuracy:.3f}")
ax = plot.scatter(x_test, y_test, s=3, alpha=0.3, title="generative classifier")
plot.decision_boundary(lambda p: generative_posterior(p, priors, fits)[:, 1], xlim=(-5, 5), ylim=(-4, 4), ax=ax);

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: sampling new data (3 points)
#
# Because it models $p(x, y)$, the generative model can *produce* data, by **ancestral sampling**:
# first the class, then the point given the class,
#
# $$y \sim \mathrm{Categorical}(\pi), \qquad x = \mu_y + L_y z,\quad z \sim \mathcal N(0, I),\quad \Sigma_y = L_y L_y^\top .$$
#
# $L_y$ is the Cholesky factor of the class covariance (`torch.linalg.cholesky`); then
# $\mathrm{Cov}(x \mid y) = L_y L_y^\top = \Sigma_y$. Write
# `sample_class_conditional(n, priors, means, covs, generator=None)` with `priors` `(K,)`, `means`
# `(K, D)` and `covs` `(K, D, D)`, returning `x` `(n, D)` and integer labels `y` `(n,)`.
# Draw **all** randomness with `generator` (pass `generator=generator` to `torch.multinomial` and
# `torch.randn`), so the same seed gives the same samples.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_class_conditional(n, priors, means, covs, generator=None):
    """Draw n samples (x (n, D), y (n,)) from p(y) p(x | y) with Gaussian p(x | y)."""
    ### BEGIN SOLUTION
    y = torch.multinomial(priors, n, replacement=True, generator=generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    chol = torch.linalg.cholesky(covs)                       # (K, D, D)
    x = means[y] + (chol[y] @ z.unsqueeze(-1)).squeeze(-1)   # mu_y + L_y z, row by row
    return x, y
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_sample_class_conditional(sample_class_conditional)
### BEGIN HIDDEN TESTS
check_sample_class_conditional(sample_class_conditional, seed=401)
check_sample_class_conditional(sample_class_conditional, seed=402, n=30000)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: new data from the fitted model
#
# Left, the training data; right, fresh samples from the model you fitted above.

# %%
means = torch.stack([m for m, _ in fits])
covs = torch.stack([c for _, c in fits])
x_new, y_new = sample_class_conditional(400, priors, means, covs, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
plot.scatter(x_train, y_train, ax=axes[0], title="training data")
plot.scatter(x_new, y_new, ax=axes[1], title="sampled from the generative model");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: the discriminative model, logistic regression (3 points)
#
# Logistic regression models only $p(y = 1 \mid x) = \sigma(w^\top x + b)$ and is fitted by minimising
# the mean negative conditional log-likelihood (the binary cross-entropy)
#
# $$L(w, b) = -\frac1N \sum_{n=1}^N \big[ y_n \log \sigma(s_n) + (1 - y_n) \log(1 - \sigma(s_n)) \big], \qquad s_n = w^\top x_n + b .$$
#
# Using $\sigma'(s) = \sigma(s)(1 - \sigma(s))$, derive its gradient and write
# `logistic_regression_gradient(w, b, x, y)` returning the tuple `(grad_w, grad_b)` of $\partial L/\partial w$
# (shape `(D,)`) and $\partial L/\partial b$ (a scalar tensor), for `w` `(D,)`, `b` a scalar tensor,
# `x` `(N, D)` and float labels `y` `(N,)` in $\{0, 1\}$. Write the formula; do not call autograd
# (the check compares you with it).

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def logistic_regression_gradient(w, b, x, y):
    """Gradient (grad_w (D,), grad_b ()) of the mean binary cross-entropy of sigma(x w + b)."""
    ### BEGIN SOLUTION
    err = torch.sigmoid(x @ w + b) - y       # (N,): the residual sigma(s_n) - y_n
    return x.T @ err / len(y), err.mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_logistic_regression_gradient(logistic_regression_gradient)
### BEGIN HIDDEN TESTS
check_logistic_regression_gradient(logistic_regression_gradient, seed=501, n=500, dim=1)
check_logistic_regression_gradient(logistic_regression_gradient, seed=502, n=3, dim=8)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: both classifiers side by side
#
# Gradient descent with your gradient fits logistic regression. Its boundary is a straight line;
# the generative classifier's is curved because it modelled each class's shape. Only the generative
# model could draw the samples above: logistic regression knows nothing about where the points lie,
# only which side of the line they fall on.

# %%
w, b = torch.zeros(2), torch.zeros(())
for step in range(300):
    grad_w, grad_b = logistic_regression_gradient(w, b, x_train, y_train.float())
    w, b = w - 0.5 * grad_w, b - 0.5 * grad_b
accuracy_lr = ((torch.sigmoid(x_test @ w + b) > 0.5).long() == y_test).float().mean()
print(f"logistic regression: test accuracy {accuracy_lr:.3f}; generative classifier: {accuracy:.3f}")
ax = plot.scatter(x_test, y_test, s=3, alpha=0.3, title="both decision boundaries")
plot.decision_boundary(lambda p: generative_posterior(p, priors, fits)[:, 1], xlim=(-5, 5), ylim=(-4, 4),
                       ax=ax, color="k", label="generative (Gaussians + Bayes)")
plot.decision_boundary(lambda p: torch.sigmoid(p @ w + b), xlim=(-5, 5), ylim=(-4, 4), ax=ax,
                       color="tab:green", label="discriminative (logistic regression)")
ax.legend(loc="lower left", fontsize=8);

# %% [markdown]
# ## To think about (not graded)
#
# 1. The generative classifier has more parameters to estimate than logistic regression. When would
#    that help, and when would it hurt? (Hint: what if the classes are not Gaussian?)
# 2. Ancestral sampling needed $p(y)$ and $p(x \mid y)$. Which of the two would you need to sample
#    unlabelled data, and what is the resulting density of $x$?
# 3. Logistic regression with features $(x_1, x_2, x_1^2, x_2^2, x_1 x_2)$ can draw the same conic
#    boundary as the generative classifier. Can it then sample data?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch01_discriminative_vs_generative.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch01_discriminative_vs_generative.ipynb")
