"""Tests of the chapter 1 exercise checks (genedu.checks), which the grader relies on.

A check must

- pass every *correct* answer, however it is written (here: hand-written references and
  alternatives built differently: torch.distributions, torch.softmax, torch.cov, loops,
  eigen-decompositions, autograd...), with its default arguments and with the seeds and sizes
  of the hidden tests in the solution notebook;
- fail every *wrong* answer with an ``AssertionError``, and for the mistakes students typically
  make, with a message that names the mistake (the key phrases of the explanations in
  genedu/checks/ch01.py);
- turn unusable answers (not implemented, wrong signature, not a function, wrong return type)
  into a readable ``AssertionError``, never a raw traceback;
- refuse answers that call genedu's reference implementation of the same exercise;
- not be fooled by an answer that replaces torch.isclose / torch.allclose or genedu's
  reference functions after the checks were imported;
- print exactly one line when it passes.

No answer here calls genedu.density: every correct answer is written out in this file.
"""
from __future__ import annotations

import functools
import inspect
import math
import re
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import genedu.checks as checks
from genedu import density
from genedu.checks import (
    CheckFailed,
    check_class_posterior,
    check_fit_gaussian,
    check_gaussian_log_density,
    check_logistic_regression_gradient,
    check_sample_class_conditional,
)

# (check, kwargs) for the default call and for the hidden tests of the solution notebook
# (solutions/ch01_discriminative_vs_generative), plus a few more seeds and shapes.
FIT_GAUSSIAN_CASES = [{}, dict(seed=101, n=1000, dim=5), dict(seed=102, n=3, dim=1),
                      dict(seed=103, n=7, dim=2), dict(seed=7, n=50, dim=4)]
LOG_DENSITY_CASES = [{}, dict(seed=201, n=200, dim=1), dict(seed=202, n=10, dim=6),
                     dict(seed=203, n=1, dim=2), dict(seed=9, n=30, dim=3)]
POSTERIOR_CASES = [{}, dict(seed=301, n=100, k=2), dict(seed=302, n=5, k=10), dict(seed=3, n=1, k=4)]
SAMPLER_CASES = [{}, dict(seed=401), dict(seed=402, n=30000)]
GRADIENT_CASES = [{}, dict(seed=501, n=500, dim=1), dict(seed=502, n=3, dim=8), dict(seed=5, n=10, dim=2)]


def _ids(cases):
    return [",".join(f"{k}={v}" for k, v in c.items()) or "default" for c in cases]


# --- correct answers ----------------------------------------------------------------------------

# Exercise 1: fit_gaussian(x) -> (mean (D,), cov (D, D))

def fit_gaussian_ref(x):
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def fit_gaussian_torch_cov(x):
    d = x.shape[1]
    return x.mean(dim=0), torch.cov(x.T, correction=0).reshape(d, d)  # 0-d for D = 1


def fit_gaussian_loop(x):
    n, d = x.shape
    mean = torch.zeros(d, dtype=torch.float64)
    for row in x.double():
        mean += row
    mean /= n
    cov = torch.zeros(d, d, dtype=torch.float64)
    for row in x.double():
        diff = row - mean
        cov += torch.outer(diff, diff)
    return mean, cov / n


def fit_gaussian_numpy(x):
    a = x.numpy().astype(np.float64)
    cov = np.atleast_2d(np.cov(a, rowvar=False, bias=True))
    return [torch.from_numpy(a.mean(axis=0)), torch.from_numpy(cov)]  # a list is fine too


def fit_gaussian_in_place(x):
    mean = x.mean(dim=0)
    x -= mean  # modifies its argument: the check must not be affected
    return mean, torch.einsum("ni,nj->ij", x, x) / len(x)


def fit_gaussian_second_moment(x):
    xd = x.double()
    mean = xd.mean(dim=0)
    return mean.float(), (xd.T @ xd / len(xd) - torch.outer(mean, mean)).float()


# Exercise 2: gaussian_log_density(x, mean, cov) -> (N,)

def log_density_ref(x, mean, cov):
    d = x.shape[1]
    chol = torch.linalg.cholesky(cov)
    z = torch.linalg.solve_triangular(chol, (x - mean).T, upper=False)
    return -0.5 * ((z**2).sum(dim=0) + 2 * torch.log(torch.diagonal(chol)).sum() + d * math.log(2 * math.pi))


def log_density_distributions(x, mean, cov):
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


def log_density_inverse(x, mean, cov):
    diff = x - mean
    quad = ((diff @ torch.linalg.inv(cov)) * diff).sum(dim=1)
    return -0.5 * quad - 0.5 * torch.logdet(cov) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def log_density_eigh_loop(x, mean, cov):
    evals, evecs = torch.linalg.eigh(cov.double())
    out = []
    for row in x.double():
        proj = evecs.T @ (row - mean.double())
        out.append(-0.5 * ((proj**2 / evals).sum() + torch.log(2 * math.pi * evals).sum()))
    return torch.stack(out)


def log_density_via_density(x, mean, cov):
    # log of the density written with det and a product of normalising constants
    d = x.shape[1]
    diff = (x - mean).double()
    quad = torch.einsum("ni,ij,nj->n", diff, torch.linalg.inv(cov.double()), diff)
    dens = torch.exp(-0.5 * quad) / torch.sqrt((2 * math.pi) ** d * torch.det(cov.double()))
    return torch.log(dens)


# Exercise 3: class_posterior(log_likelihoods (N, K), priors (K,)) -> (N, K)

def posterior_ref(log_likelihoods, priors):
    a = log_likelihoods + torch.log(priors)
    m = a.max(dim=1, keepdim=True).values
    e = torch.exp(a - m)
    return e / e.sum(dim=1, keepdim=True)


def posterior_softmax(log_likelihoods, priors):
    return torch.softmax(log_likelihoods + priors.log(), dim=1)


def posterior_log_softmax(log_likelihoods, priors):
    return torch.log_softmax(log_likelihoods + priors.log()[None, :], dim=-1).exp()


def posterior_logsumexp(log_likelihoods, priors):
    a = log_likelihoods + torch.log(priors)
    return torch.exp(a - torch.logsumexp(a, dim=1, keepdim=True))


def posterior_shift_in_prob_space(log_likelihoods, priors):
    # shift by the row maximum of the log-likelihoods, then multiply by the priors
    lik = torch.exp(log_likelihoods - log_likelihoods.max(dim=1, keepdim=True).values)
    joint = lik * priors
    return joint / joint.sum(dim=1, keepdim=True)


def posterior_loop(log_likelihoods, priors):
    rows = []
    for row in log_likelihoods.double():
        a = row + priors.double().log()
        rows.append(torch.exp(a - torch.logsumexp(a, dim=0)))
    return torch.stack(rows)


# Exercise 4: sample_class_conditional(n, priors, means, covs, generator=None) -> (x (n, D), y (n,))

def sampler_ref(n, priors, means, covs, generator=None):
    y = torch.multinomial(priors, n, replacement=True, generator=generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    chol = torch.linalg.cholesky(covs)
    return means[y] + torch.einsum("nij,nj->ni", chol[y], z), y


def sampler_loop_over_classes(n, priors, means, covs, generator=None):
    y = torch.multinomial(priors, n, replacement=True, generator=generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    x = torch.empty(n, means.shape[1])
    for k in range(len(priors)):
        chol = torch.linalg.cholesky(covs[k])
        x[y == k] = means[k] + z[y == k] @ chol.T
    return x, y


def sampler_inverse_cdf_eigh(n, priors, means, covs, generator=None):
    # labels by inverse-CDF sampling, noise scaled by the symmetric square root of Sigma
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    cdf = torch.cumsum(priors.double(), dim=0)
    y = torch.searchsorted(cdf, u, right=True).clamp(max=len(priors) - 1)
    evals, evecs = torch.linalg.eigh(covs.double())
    sqrt = evecs @ torch.diag_embed(evals.sqrt()) @ evecs.transpose(-1, -2)
    z = torch.randn(n, means.shape[1], generator=generator, dtype=torch.float64)
    x = means.double()[y] + (sqrt[y] @ z[:, :, None])[:, :, 0]
    return x, y


# Exercise 5: logistic_regression_gradient(w, b, x, y) -> (grad_w (D,), grad_b ())

def gradient_ref(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x.T @ err / len(y), err.mean()


def gradient_other_algebra(w, b, x, y):
    # d/ds of -[y log sigma + (1 - y) log(1 - sigma)] = -y (1 - sigma) + (1 - y) sigma, averaged
    s = (x * w).sum(dim=1) + b
    p = 1 / (1 + torch.exp(-s))
    ds = -y * (1 - p) + (1 - y) * p
    return (x * ds[:, None]).mean(dim=0), ds.sum() / x.shape[0]


def gradient_loop(w, b, x, y):
    gw, gb = torch.zeros_like(w), torch.zeros(())
    for xn, yn in zip(x, y):
        e = torch.sigmoid(torch.dot(xn, w) + b) - yn
        gw, gb = gw + e * xn, gb + e
    return gw / len(x), gb / len(x)


def gradient_autograd(w, b, x, y):
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    loss = F.binary_cross_entropy_with_logits(x @ w + b, y)
    return torch.autograd.grad(loss, (w, b))


def gradient_b_shape_1(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x.T @ err / len(y), err.mean().reshape(1)  # a one-element grad_b is accepted


CORRECT = {
    "fit_gaussian": (check_fit_gaussian, FIT_GAUSSIAN_CASES,
                     [fit_gaussian_ref, fit_gaussian_torch_cov, fit_gaussian_loop, fit_gaussian_numpy,
                      fit_gaussian_in_place, fit_gaussian_second_moment]),
    "gaussian_log_density": (check_gaussian_log_density, LOG_DENSITY_CASES,
                             [log_density_ref, log_density_distributions, log_density_inverse,
                              log_density_eigh_loop, log_density_via_density]),
    "class_posterior": (check_class_posterior, POSTERIOR_CASES,
                        [posterior_ref, posterior_softmax, posterior_log_softmax, posterior_logsumexp,
                         posterior_shift_in_prob_space, posterior_loop]),
    "sample_class_conditional": (check_sample_class_conditional, SAMPLER_CASES,
                                 [sampler_ref, sampler_loop_over_classes, sampler_inverse_cdf_eigh]),
    "logistic_regression_gradient": (check_logistic_regression_gradient, GRADIENT_CASES,
                                     [gradient_ref, gradient_other_algebra, gradient_loop, gradient_autograd,
                                      gradient_b_shape_1]),
}

CORRECT_PARAMS = [
    pytest.param(check, answer, case, id=f"{answer.__name__}-{case_id}")
    for check, cases, answers in CORRECT.values()
    for answer in answers
    for case, case_id in zip(cases, _ids(cases))
]


@pytest.mark.parametrize("check, answer, kwargs", CORRECT_PARAMS)
def test_correct_answer_passes_with_one_line(check, answer, kwargs, capsys):
    check(answer, **kwargs)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert out.endswith("\n")
    assert lines[0].startswith("[passed] "), out
    assert err == ""


def test_sampler_with_int32_labels_passes(capsys):
    def sampler_int32(n, priors, means, covs, generator=None):
        x, y = sampler_ref(n, priors, means, covs, generator)
        return x, y.int()
    check_sample_class_conditional(sampler_int32)
    assert capsys.readouterr().out.count("\n") == 1


# --- wrong answers students typically write -----------------------------------------------------

# Exercise 1

def fg_n_minus_1(x):
    mean = x.mean(dim=0)
    c = x - mean
    return mean, c.T @ c / (x.shape[0] - 1)


def fg_torch_cov_default(x):
    return x.mean(dim=0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])  # correction=1 by default


def fg_no_centring(x):
    return x.mean(dim=0), x.T @ x / x.shape[0]


def fg_no_centring_n_minus_1(x):
    return x.mean(dim=0), x.T @ x / (x.shape[0] - 1)


def fg_mean_dim1_broadcast(x):
    mean = x.mean(dim=1)
    c = x - mean[:, None]
    return mean, c.T @ c / x.shape[0]


def fg_mean_dim1(x):
    mean = x.mean(dim=1)
    c = x - mean  # broadcasting (N, D) - (N,) fails: the answer crashes
    return mean, c.T @ c / x.shape[0]


def fg_mean_all(x):
    mean = x.mean()
    c = x - mean
    return mean, c.T @ c / x.shape[0]


def fg_summed(x):
    mean = x.mean(dim=0)
    c = x - mean
    return mean, c.T @ c


def fg_std_diag(x):
    return x.mean(dim=0), torch.diag(x.std(dim=0, unbiased=False))


def fg_std_vector(x):
    return x.mean(dim=0), x.std(dim=0)


def fg_std_diag_unbiased(x):
    return x.mean(dim=0), torch.diag(x.std(dim=0))


def fg_var_vector(x):
    return x.mean(dim=0), x.var(dim=0, unbiased=False)


def fg_var_diag(x):
    return x.mean(dim=0), torch.diag(x.var(dim=0, unbiased=False))


def fg_x_xT(x):
    mean = x.mean(dim=0)
    c = x - mean
    return mean, c @ c.T / x.shape[0]


def fg_mean_only(x):
    return x.mean(dim=0)


def fg_numpy_array(x):
    return np.cov(x.numpy(), rowvar=False, bias=True)


# Exercise 2

def _quad_logdet(x, mean, cov):
    diff = x - mean
    quad = torch.einsum("ni,ij,nj->n", diff, torch.linalg.inv(cov), diff)
    return quad, torch.logdet(cov), x.shape[1] * math.log(2 * math.pi)


def ld_no_constant(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -0.5 * (q + ld)


def ld_one_log2pi(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -0.5 * (q + ld + math.log(2 * math.pi))


def ld_no_logdet(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -0.5 * (q + c)


def ld_logdet_no_half(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -0.5 * q - ld - 0.5 * c


def ld_det(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -0.5 * (q + torch.det(cov) + c)


def ld_quad_no_half(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -q - 0.5 * (ld + c)


def ld_sigma_not_inverse(x, mean, cov):
    diff = x - mean
    q = torch.einsum("ni,ij,nj->n", diff, cov, diff)
    return -0.5 * (q + torch.logdet(cov) + x.shape[1] * math.log(2 * math.pi))


def ld_sign_flip(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return 0.5 * (q + ld + c)


def ld_constant_sign(x, mean, cov):
    q, ld, c = _quad_logdet(x, mean, cov)
    return -0.5 * (q + ld - c)


def ld_density(x, mean, cov):
    return torch.exp(log_density_ref(x, mean, cov))


def ld_column(x, mean, cov):
    return log_density_ref(x, mean, cov)[:, None]


def ld_summed(x, mean, cov):
    return log_density_ref(x, mean, cov).sum()


def ld_pairwise(x, mean, cov):
    diff = x - mean
    q = diff @ torch.linalg.inv(cov) @ diff.T  # (N, N)
    return -0.5 * (q + torch.logdet(cov) + x.shape[1] * math.log(2 * math.pi))


def ld_numpy(x, mean, cov):
    return log_density_ref(x, mean, cov).numpy()


# Exercise 3

def cp_no_priors(ll, priors):
    return torch.softmax(ll, dim=1)


def cp_priors_not_logged(ll, priors):
    return torch.softmax(ll + priors, dim=1)


def cp_dim0(ll, priors):
    return torch.softmax(ll + priors.log(), dim=0)


def cp_log_posterior(ll, priors):
    a = ll + priors.log()
    return a - torch.logsumexp(a, dim=1, keepdim=True)


def cp_unnormalised(ll, priors):
    return torch.exp(ll + priors.log())


def cp_unnormalised_product(ll, priors):
    return torch.exp(ll) * priors


def cp_naive(ll, priors):
    joint = torch.exp(ll) * priors
    return joint / joint.sum(dim=1, keepdim=True)


def cp_naive_eps(ll, priors):
    joint = torch.exp(ll) * priors
    return joint / (joint.sum(dim=1, keepdim=True) + 1e-30)


def cp_transposed(ll, priors):
    return torch.softmax(ll + priors.log(), dim=1).T


def cp_argmax(ll, priors):
    return torch.softmax(ll + priors.log(), dim=1).argmax(dim=1).float()


# Exercise 4

def _labels(n, priors, generator):
    return torch.multinomial(priors, n, replacement=True, generator=generator)


def sc_uniform_labels(n, priors, means, covs, generator=None):
    y = torch.randint(len(priors), (n,), generator=generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    return means[y] + torch.einsum("nij,nj->ni", torch.linalg.cholesky(covs)[y], z), y


def sc_sigma_not_cholesky(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    return means[y] + torch.einsum("nij,nj->ni", covs[y], z), y


def sc_z_at_L(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    chol = torch.linalg.cholesky(covs)
    return means[y] + (z[:, None, :] @ chol[y])[:, 0], y


def sc_global_rng(n, priors, means, covs, generator=None):
    y = torch.multinomial(priors, n, replacement=True)
    z = torch.randn(n, means.shape[1])
    return means[y] + torch.einsum("nij,nj->ni", torch.linalg.cholesky(covs)[y], z), y


def sc_global_rng_for_labels(n, priors, means, covs, generator=None):
    y = torch.multinomial(priors, n, replacement=True)
    z = torch.randn(n, means.shape[1], generator=generator)
    return means[y] + torch.einsum("nij,nj->ni", torch.linalg.cholesky(covs)[y], z), y


def sc_wrong_class(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    c = (y + 1) % len(priors)  # x drawn from another class than the label returned
    return means[c] + torch.einsum("nij,nj->ni", torch.linalg.cholesky(covs)[c], z), y


def sc_concatenated_classes(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    xs = []
    for k in range(len(priors)):  # x sorted by class, y left in its random order
        z = torch.randn(int((y == k).sum()), means.shape[1], generator=generator)
        xs.append(means[k] + z @ torch.linalg.cholesky(covs[k]).T)
    return torch.cat(xs), y


def sc_no_mean(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    return torch.einsum("nij,nj->ni", torch.linalg.cholesky(covs)[y], z), y


def sc_identity_cov(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    return means[y] + torch.randn(n, means.shape[1], generator=generator), y


def sc_std_not_cholesky(n, priors, means, covs, generator=None):
    y = _labels(n, priors, generator)
    z = torch.randn(n, means.shape[1], generator=generator)
    std = torch.diagonal(covs, dim1=1, dim2=2).sqrt()
    return means[y] + std[y] * z, y


def sc_float_labels(n, priors, means, covs, generator=None):
    x, y = sampler_ref(n, priors, means, covs, generator)
    return x, y.float()


def sc_transposed(n, priors, means, covs, generator=None):
    x, y = sampler_ref(n, priors, means, covs, generator)
    return x.T, y


def sc_one_hot_labels(n, priors, means, covs, generator=None):
    x, y = sampler_ref(n, priors, means, covs, generator)
    return x, F.one_hot(y, len(priors))


def sc_only_x(n, priors, means, covs, generator=None):
    return sampler_ref(n, priors, means, covs, generator)[0]


# Exercise 5

def lg_sign_flip(w, b, x, y):
    err = y - torch.sigmoid(x @ w + b)
    return x.T @ err / len(y), err.mean()


def lg_sum(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x.T @ err, err.sum()


def lg_no_sigmoid(w, b, x, y):
    err = x @ w + b - y
    return x.T @ err / len(y), err.mean()


def lg_no_bias(w, b, x, y):
    err = torch.sigmoid(x @ w) - y
    return x.T @ err / len(y), err.mean()


def lg_per_point(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x * err[:, None], err.mean()


def lg_per_point_wT(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return err * x.sum(dim=1), err.mean()  # one entry per point


def lg_grad_b_per_point(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x.T @ err / len(y), err


def lg_grad_b_sign(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x.T @ err / len(y), -err.mean()


def lg_only_w(w, b, x, y):
    err = torch.sigmoid(x @ w + b) - y
    return x.T @ err / len(y)


# (check, wrong answer, kwargs, phrase the AssertionError must contain)
WRONG = [
    # fit_gaussian
    (check_fit_gaussian, fg_n_minus_1, {}, "divided by N - 1"),
    (check_fit_gaussian, fg_n_minus_1, dict(seed=103, n=7, dim=2), "divided by N - 1"),
    (check_fit_gaussian, fg_torch_cov_default, {}, "divided by N - 1"),
    (check_fit_gaussian, fg_no_centring, {}, "forgot to subtract the mean"),
    (check_fit_gaussian, fg_no_centring, dict(seed=101, n=1000, dim=5), "forgot to subtract the mean"),
    (check_fit_gaussian, fg_no_centring_n_minus_1, {}, "forgot to subtract the mean, and divided by N - 1"),
    (check_fit_gaussian, fg_mean_dim1_broadcast, {}, "averaged over the features"),
    # the natural version of this mistake crashes inside the answer, before the hint can apply:
    (check_fit_gaussian, fg_mean_dim1, {}, "a shape mismatch: check the dim= of each reduction"),
    (check_fit_gaussian, fg_mean_all, {}, "averaged over everything"),
    (check_fit_gaussian, fg_summed, {}, "summed the outer products"),
    (check_fit_gaussian, fg_std_diag, {}, "standard deviations"),
    (check_fit_gaussian, fg_std_vector, {}, "variances or standard deviations?"),
    (check_fit_gaussian, fg_std_diag_unbiased, {}, "you returned standard deviations"),
    (check_fit_gaussian, fg_var_vector, {}, "variances or standard deviations?"),
    (check_fit_gaussian, fg_var_diag, {}, "off-diagonal covariances are missing"),
    (check_fit_gaussian, fg_x_xT, {}, "you computed x x^T"),
    (check_fit_gaussian, fg_mean_only, {}, "should return a tuple (mean, cov), got a Tensor"),
    (check_fit_gaussian, fg_numpy_array, {}, "should return a tuple (mean, cov), got a ndarray"),
    # gaussian_log_density
    (check_gaussian_log_density, ld_no_constant, {}, "-D/2 log(2 pi) is missing"),
    (check_gaussian_log_density, ld_no_constant, dict(seed=201, n=200, dim=1), "-D/2 log(2 pi) is missing"),
    (check_gaussian_log_density, ld_one_log2pi, {}, "one log(2 pi) per dimension"),
    (check_gaussian_log_density, ld_no_logdet, {}, "log det(Sigma) term is missing"),
    (check_gaussian_log_density, ld_no_logdet, dict(seed=202, n=10, dim=6), "log det(Sigma) term is missing"),
    (check_gaussian_log_density, ld_logdet_no_half, {}, "log-determinant needs the factor 1/2"),
    (check_gaussian_log_density, ld_det, {}, "not det(Sigma)"),
    (check_gaussian_log_density, ld_quad_no_half, {}, "quadratic form needs the factor 1/2"),
    (check_gaussian_log_density, ld_sigma_not_inverse, {}, "use the inverse covariance"),
    (check_gaussian_log_density, ld_sign_flip, {}, "sign is flipped"),
    (check_gaussian_log_density, ld_constant_sign, {}, "sign of the D/2 log(2 pi) term is wrong"),
    (check_gaussian_log_density, ld_density, {}, "this is the density itself"),
    (check_gaussian_log_density, ld_column, {}, "shape (N,)"),
    # with n=1 the hints for (N, 1) and (N, N) share the key (1, 1): the column hint wins
    (check_gaussian_log_density, ld_column, dict(seed=203, n=1, dim=2), "shape (N,)"),
    (check_gaussian_log_density, ld_summed, {}, "reduced over the points"),
    (check_gaussian_log_density, ld_pairwise, {}, "not for every pair"),
    (check_gaussian_log_density, ld_numpy, {}, "should be a torch.Tensor, got ndarray"),
    # class_posterior
    (check_class_posterior, cp_no_priors, {}, "the priors are missing"),
    (check_class_posterior, cp_no_priors, dict(seed=301, n=100, k=2), "the priors are missing"),
    (check_class_posterior, cp_priors_not_logged, {}, "add the log-priors"),
    (check_class_posterior, cp_dim0, {}, "normalised over the points (dim=0)"),
    (check_class_posterior, cp_dim0, dict(seed=302, n=5, k=10), "normalised over the points (dim=0)"),
    (check_class_posterior, cp_log_posterior, {}, "these are log-probabilities"),
    (check_class_posterior, cp_unnormalised, {}, "you did not normalise"),
    (check_class_posterior, cp_unnormalised_product, {}, "you did not normalise"),
    (check_class_posterior, cp_naive, {}, "torch.logsumexp"),
    (check_class_posterior, cp_naive, {}, "about -1000"),
    (check_class_posterior, cp_naive, dict(seed=302, n=5, k=10), "torch.logsumexp"),
    (check_class_posterior, cp_naive_eps, {}, "log-likelihoods about -1000 differs"),
    (check_class_posterior, cp_transposed, {}, "transposed"),
    (check_class_posterior, cp_argmax, {}, "not only the most likely class"),
    # sample_class_conditional
    (check_sample_class_conditional, sc_uniform_labels, {}, "classes look equally frequent"),
    (check_sample_class_conditional, sc_uniform_labels, dict(seed=402, n=30000), "classes look equally frequent"),
    (check_sample_class_conditional, sc_sigma_not_cholesky, {}, "covariance Sigma^2"),
    (check_sample_class_conditional, sc_sigma_not_cholesky, dict(seed=401), "covariance Sigma^2"),
    (check_sample_class_conditional, sc_z_at_L, {}, "z @ L.T (not z @ L)"),
    (check_sample_class_conditional, sc_z_at_L, dict(seed=401), "z @ L.T (not z @ L)"),
    (check_sample_class_conditional, sc_z_at_L, dict(seed=402, n=30000), "z @ L.T (not z @ L)"),
    (check_sample_class_conditional, sc_global_rng, {}, "draw all randomness"),
    (check_sample_class_conditional, sc_global_rng_for_labels, {}, "draw all randomness"),
    (check_sample_class_conditional, sc_wrong_class, {}, "x must come from the class in y"),
    (check_sample_class_conditional, sc_concatenated_classes, {}, "x must come from the class in y"),
    (check_sample_class_conditional, sc_no_mean, {}, "centred at 0: add the class mean"),
    (check_sample_class_conditional, sc_no_mean, dict(seed=401), "centred at 0: add the class mean"),
    (check_sample_class_conditional, sc_no_mean, dict(seed=402, n=30000), "centred at 0: add the class mean"),
    (check_sample_class_conditional, sc_identity_cov, {}, "identity covariance"),
    (check_sample_class_conditional, sc_std_not_cholesky, {}, "correlations are missing"),
    (check_sample_class_conditional, sc_float_labels, {}, "integer class labels"),
    (check_sample_class_conditional, sc_transposed, {}, "x is transposed"),
    (check_sample_class_conditional, sc_one_hot_labels, {}, "y has shape"),
    (check_sample_class_conditional, sc_only_x, {}, "should return a tuple (x, y)"),
    # logistic_regression_gradient
    (check_logistic_regression_gradient, lg_sign_flip, {}, "sign is flipped"),
    (check_logistic_regression_gradient, lg_sign_flip, dict(seed=501, n=500, dim=1), "sign is flipped"),
    (check_logistic_regression_gradient, lg_sum, {}, "summed over the points"),
    (check_logistic_regression_gradient, lg_sum, dict(seed=502, n=3, dim=8), "summed over the points"),
    (check_logistic_regression_gradient, lg_no_sigmoid, {}, "sigmoid is missing"),
    (check_logistic_regression_gradient, lg_no_bias, {}, "bias b is missing"),
    (check_logistic_regression_gradient, lg_no_bias, dict(seed=501, n=500, dim=1), "bias b is missing"),
    (check_logistic_regression_gradient, lg_per_point, {}, "kept the per-point gradients"),
    (check_logistic_regression_gradient, lg_per_point_wT, {}, "one entry per point"),
    (check_logistic_regression_gradient, lg_grad_b_per_point, {}, "grad_b should be one number"),
    (check_logistic_regression_gradient, lg_grad_b_sign, {}, "dL/db = mean(sigma(s) - y)"),
    (check_logistic_regression_gradient, lg_only_w, {}, "should return a tuple (grad_w, grad_b)"),
]

NAMES = {check_fit_gaussian: "fit_gaussian", check_gaussian_log_density: "gaussian_log_density",
         check_class_posterior: "class_posterior", check_sample_class_conditional: "sample_class_conditional",
         check_logistic_regression_gradient: "logistic_regression_gradient"}


def _wrong_id(check, answer, kwargs):
    return f"{answer.__name__}-" + (_ids([kwargs])[0])


@pytest.mark.parametrize("check, answer, kwargs, phrase",
                         [pytest.param(*w, id=_wrong_id(*w[:3])) for w in WRONG])
def test_wrong_answer_is_diagnosed(check, answer, kwargs, phrase, capsys):
    with pytest.raises(AssertionError) as info:
        check(answer, **kwargs)
    message = str(info.value)
    assert isinstance(info.value, CheckFailed)
    assert message.startswith(NAMES[check] + ": "), message
    assert phrase in message, message
    assert "[passed]" not in capsys.readouterr().out


def test_wrong_answers_cover_every_check():
    assert {w[0] for w in WRONG} == set(NAMES)


# Wrong answers that are caught, but only with a generic or misleading message. Listed in the
# report; each must at least fail, and with the check's name in the message.

@pytest.mark.parametrize("seed", range(60))
def test_sampler_z_at_L_is_caught_on_every_seed(seed):
    """The check's covariances are tilted and about 3:1 anisotropic, so L^T L differs from L L^T
    by more than 20 % (well beyond the 10 % tolerance): the z @ L mistake fails on any seed.
    (With weakly correlated covariances it used to pass on seeds such as 7.)"""
    with pytest.raises(AssertionError, match=re.escape("z @ L.T (not z @ L)")):
        check_sample_class_conditional(sc_z_at_L, seed=seed, n=20000)


# --- unusable answers ---------------------------------------------------------------------------

ALL_CHECKS = list(NAMES)


def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check", ALL_CHECKS, ids=list(NAMES.values()))
def test_not_implemented(check):
    with pytest.raises(AssertionError, match="not implemented"):
        check(_not_implemented)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=list(NAMES.values()))
@pytest.mark.parametrize("not_a_function", [None, 3, "fit_gaussian", torch.zeros(3)], ids=["None", "int", "str", "tensor"])
def test_not_callable(check, not_a_function):
    with pytest.raises(AssertionError, match="expected a function"):
        check(not_a_function)


def _too_many(a, b, c, d, e, f):
    return None


def _no_args():
    return None


@pytest.mark.parametrize("check", ALL_CHECKS, ids=list(NAMES.values()))
@pytest.mark.parametrize("answer", [_too_many, _no_args])
def test_wrong_signature_is_an_assertion_error(check, answer):
    with pytest.raises(AssertionError, match="cannot be called as") as info:
        check(answer)
    assert isinstance(info.value, CheckFailed)
    message = str(info.value)
    assert message.startswith(NAMES[check] + ": ") and "Keep the signature" in message
    # the message shows the signature to keep, i.e. the reference's parameters
    params = list(inspect.signature(getattr(density, NAMES[check])).parameters)
    assert all(p in message for p in params), message


def test_fit_gaussian_with_two_parameters():
    def fit_gaussian(x, y):
        return x.mean(dim=0), torch.eye(x.shape[1])
    with pytest.raises(AssertionError, match=r"fit_gaussian: the function cannot be called as fit_gaussian\(x"):
        check_fit_gaussian(fit_gaussian)


def test_sampler_without_generator_parameter():
    def sample(n, priors, means, covs):
        return sampler_ref(n, priors, means, covs)
    with pytest.raises(AssertionError, match="generator"):
        check_sample_class_conditional(sample)


def test_answer_that_crashes_is_an_assertion_error():
    def crashes(x):
        return x @ torch.ones(x.shape[1] + 1)
    with pytest.raises(AssertionError, match="your function raised RuntimeError") as info:
        check_fit_gaussian(crashes)
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize("check, answer, expected", [
    (check_fit_gaussian, lambda x: x.mean(dim=0).numpy(), "should return a tuple (mean, cov), got a ndarray"),
    (check_fit_gaussian, lambda x: (x.mean(dim=0).numpy(), torch.eye(x.shape[1])), "mean should be a torch.Tensor, got ndarray"),
    (check_fit_gaussian, lambda x: (x.mean(dim=0), x.mean(dim=0), x), "should return a tuple (mean, cov), got a tuple of length 3"),
    (check_fit_gaussian, lambda x: None, "should return a tuple (mean, cov), got a NoneType"),
    (check_gaussian_log_density, lambda x, m, c: (log_density_ref(x, m, c),), "the result should be a torch.Tensor, got tuple"),
    (check_gaussian_log_density, lambda x, m, c: log_density_ref(x, m, c).tolist(), "should be a torch.Tensor, got list"),
    (check_gaussian_log_density, lambda x, m, c: log_density_ref(x, m, c).long(), "should be a floating-point tensor"),
    (check_gaussian_log_density, lambda x, m, c: log_density_ref(x, m, c) / 0, "contains nan or inf"),
    (check_class_posterior, lambda ll, p: posterior_ref(ll, p).numpy(), "should be a torch.Tensor, got ndarray"),
    (check_sample_class_conditional, lambda n, p, m, c, generator=None: sampler_ref(n, p, m, c, generator)[0].numpy(),
     "should return a tuple (x, y), got a ndarray"),
    (check_logistic_regression_gradient, lambda w, b, x, y: torch.cat([gradient_ref(w, b, x, y)[0], gradient_ref(w, b, x, y)[1][None]]),
     "should return a tuple (grad_w, grad_b), got a Tensor"),
    (check_logistic_regression_gradient, lambda w, b, x, y: (gradient_ref(w, b, x, y)[0], float(gradient_ref(w, b, x, y)[1])),
     "grad_b should be a torch.Tensor, got float"),
])
def test_wrong_return_type(check, answer, expected):
    with pytest.raises(AssertionError) as info:
        check(answer)
    assert expected in str(info.value), str(info.value)


# --- the reference guard ------------------------------------------------------------------------

def _fit_gaussian_via_class_conditional(x):
    model = density.fit_class_conditional(x, torch.zeros(len(x), dtype=torch.long), reg=0.0)
    return model.means[0], model.covs[0]


def _log_density_via_class_log_likelihoods(x, mean, cov):
    model = density.ClassConditionalGaussians(torch.ones(1), mean[None], cov[None])
    return density.class_log_likelihoods(model, x)[:, 0]


def _log_density_via_mixture(x, mean, cov):
    return density.gaussian_mixture_log_density(x, density.GaussianMixture(torch.ones(1), mean[None], cov[None]))


class _Wrapper:
    """A callable object delegating to the reference: no __code__ of its own."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


REFERENCE_ANSWERS = [
    (check_fit_gaussian, density.fit_gaussian),
    (check_fit_gaussian, lambda x: density.fit_gaussian(x)),
    (check_fit_gaussian, functools.partial(density.fit_gaussian)),
    (check_fit_gaussian, _fit_gaussian_via_class_conditional),
    (check_fit_gaussian, _Wrapper(density.fit_gaussian)),
    (check_gaussian_log_density, density.gaussian_log_density),
    (check_gaussian_log_density, lambda x, m, c: density.gaussian_log_density(x, m, c)),
    (check_gaussian_log_density, functools.partial(density.gaussian_log_density)),
    (check_gaussian_log_density, _log_density_via_class_log_likelihoods),
    (check_gaussian_log_density, _log_density_via_mixture),
    (check_class_posterior, density.class_posterior),
    (check_class_posterior, lambda ll, p: density.class_posterior(ll, p)),
    (check_class_posterior, functools.partial(density.class_posterior)),
    (check_sample_class_conditional, density.sample_class_conditional),
    (check_sample_class_conditional, lambda n, p, m, c, generator=None: density.sample_class_conditional(n, p, m, c, generator)),
    (check_logistic_regression_gradient, density.logistic_regression_gradient),
    (check_logistic_regression_gradient, lambda w, b, x, y: density.logistic_regression_gradient(w, b, x, y)),
    (check_logistic_regression_gradient, functools.partial(density.logistic_regression_gradient)),
]


@pytest.mark.parametrize("check, answer", REFERENCE_ANSWERS,
                         ids=[f"{NAMES[c]}-{i}" for i, (c, _) in enumerate(REFERENCE_ANSWERS)])
def test_reference_guard(check, answer, capsys):
    with pytest.raises(AssertionError, match="reference"):
        check(answer)
    assert "[passed]" not in capsys.readouterr().out


def test_reference_guard_leaves_no_profile_hook():
    before = sys.getprofile()
    with pytest.raises(AssertionError):
        check_fit_gaussian(density.fit_gaussian)
    with pytest.raises(AssertionError):
        check_fit_gaussian(lambda x: density.fit_gaussian(x))
    check_fit_gaussian(fit_gaussian_ref)
    assert sys.getprofile() is before


def test_reference_guard_has_no_false_positive(capsys):
    """Other genedu functions, and the reference called before the check, are allowed."""
    x = torch.randn(10, 2)
    density.fit_gaussian(x)

    def posterior_using_other_genedu_code(ll, priors):
        density.gaussian_log_density(torch.zeros(1, 2), torch.zeros(2), torch.eye(2))  # not this exercise
        return posterior_softmax(ll, priors)

    check_fit_gaussian(fit_gaussian_ref)
    check_class_posterior(posterior_using_other_genedu_code)
    assert capsys.readouterr().out.count("[passed]") == 2


# --- tampering ----------------------------------------------------------------------------------
#
# In scope here: an answer (or the notebook around it) replacing torch.isclose, torch.allclose,
# torch.Tensor.allclose/isclose or genedu.density.<reference> after genedu.checks was imported,
# including from inside the answer while the check runs.
#
# Also in scope: an answer that patches the torch functions the check uses for its expected
# values (torch.cov, ...) while it runs (the expected values are computed before the answer
# runs), and an answer returning a torch.Tensor subclass with its own __torch_function__
# (refused: outputs must be plain tensors).
#
# Out of scope for this file (a determined cheat can do these; the checks run in the student's
# process and do not claim to resist them; isolating submissions is the grader's job):
# patching genedu.checks._core / genedu.checks.ch01 themselves (their bound _isclose, close,
# compare, fail, the _fit_gaussian-style references); patching torch *before* genedu.checks is
# imported, or torch.Tensor methods (.all, .double, __bool__); replacing sys.setprofile or
# running the reference in another thread; copying genedu's source (a new code object is not
# recognised as the reference).

def _always_true(*args, **kwargs):
    return True


def _all_true_like(a, b, *args, **kwargs):
    return torch.ones(torch.broadcast_shapes(torch.as_tensor(a).shape, torch.as_tensor(b).shape), dtype=torch.bool)


TAMPER_WRONG = [
    (check_fit_gaussian, fg_n_minus_1),
    (check_gaussian_log_density, ld_no_constant),
    (check_class_posterior, cp_no_priors),
    (check_sample_class_conditional, sc_sigma_not_cholesky),
    (check_logistic_regression_gradient, lg_no_bias),
]


@pytest.mark.parametrize("check, wrong", TAMPER_WRONG, ids=[NAMES[c] for c, _ in TAMPER_WRONG])
def test_patching_torch_comparisons_does_not_help(check, wrong, monkeypatch):
    monkeypatch.setattr(torch, "allclose", _always_true)
    monkeypatch.setattr(torch, "isclose", _all_true_like)
    monkeypatch.setattr(torch.Tensor, "allclose", _always_true)
    monkeypatch.setattr(torch.Tensor, "isclose", _all_true_like)
    with pytest.raises(AssertionError):
        check(wrong)


@pytest.mark.parametrize("check, wrong", TAMPER_WRONG, ids=[NAMES[c] for c, _ in TAMPER_WRONG])
def test_patching_isclose_to_a_constant_does_not_help(check, wrong, monkeypatch, capsys):
    """torch.isclose = lambda *a, **k: True (the literal attack). The wrong answer never passes.
    check_gaussian_log_density builds torch.distributions.MultivariateNormal, whose argument
    validation calls torch.isclose(...).all(): with a bool returned it dies with an
    AttributeError (for a correct answer too) instead of an AssertionError - see the report."""
    monkeypatch.setattr(torch, "isclose", _always_true)
    monkeypatch.setattr(torch, "allclose", _always_true)
    expected = AttributeError if check is check_gaussian_log_density else AssertionError
    with pytest.raises(expected):
        check(wrong)
    assert "[passed]" not in capsys.readouterr().out


@pytest.mark.parametrize("check, wrong", TAMPER_WRONG, ids=[NAMES[c] for c, _ in TAMPER_WRONG])
def test_answer_patching_during_the_check_does_not_help(check, wrong, monkeypatch):
    def cheating(*args, **kwargs):
        monkeypatch.setattr(torch, "isclose", _all_true_like)
        monkeypatch.setattr(torch, "allclose", _always_true)
        monkeypatch.setattr(torch, "isfinite", lambda t: torch.ones(t.shape, dtype=torch.bool))
        return wrong(*args, **kwargs)
    with pytest.raises(AssertionError):
        check(cheating)


def test_replacing_the_reference_after_import(monkeypatch):
    """genedu.density.fit_gaussian replaced by the wrong answer after genedu.checks was imported:
    the check still knows the right answer, still diagnoses the mistake, and still refuses the
    real reference."""
    reference = density.fit_gaussian
    monkeypatch.setattr(density, "fit_gaussian", fg_n_minus_1)
    with pytest.raises(AssertionError, match="divided by N - 1"):
        check_fit_gaussian(fg_n_minus_1)
    with pytest.raises(AssertionError, match="divided by N - 1"):
        check_fit_gaussian(lambda x: density.fit_gaussian(x))  # the wrong answer, through the module
    with pytest.raises(AssertionError, match="reference"):
        check_fit_gaussian(reference)


@pytest.mark.parametrize("name, check, wrong", [
    ("gaussian_log_density", check_gaussian_log_density, ld_no_constant),
    ("class_posterior", check_class_posterior, cp_no_priors),
    ("sample_class_conditional", check_sample_class_conditional, sc_sigma_not_cholesky),
    ("logistic_regression_gradient", check_logistic_regression_gradient, lg_no_bias),
])
def test_replacing_other_references_after_import(name, check, wrong, monkeypatch):
    monkeypatch.setattr(density, name, wrong)
    with pytest.raises(AssertionError):
        check(wrong)


def test_patching_torch_equal_does_not_rescue_the_global_rng(monkeypatch):
    # not a promise of the checks (torch.equal is out of scope above), but a constant patch
    # is still caught by the second reproducibility test
    monkeypatch.setattr(torch, "equal", _always_true)
    with pytest.raises(AssertionError, match="generator"):
        check_sample_class_conditional(sc_global_rng)


def test_checks_package_exports():
    """genedu.checks re-exports every chapter's checks; here, chapter 1's."""
    assert {"CheckFailed", *(f"check_{n}" for n in NAMES.values())} <= set(checks.__all__)
    assert all(hasattr(checks, name) for name in checks.__all__)
    assert issubclass(CheckFailed, AssertionError)


def test_tensor_subclass_output_is_refused():
    """A subclass could answer torch.isclose with all-True through __torch_function__."""
    class Cheat(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.isclose, torch.Tensor.isclose):
                return torch.ones(args[0].shape, dtype=torch.bool)
            return super().__torch_function__(func, types, args, kwargs or {})

    def cheat(x):
        mean = x.mean(dim=0)
        cov = (x - mean).T @ (x - mean) / (len(x) - 1)  # wrong: N - 1
        return mean.as_subclass(Cheat), cov.as_subclass(Cheat)

    with pytest.raises(AssertionError, match="plain torch.Tensor"):
        check_fit_gaussian(cheat)


def test_patching_torch_cov_inside_the_answer_does_not_help(monkeypatch):
    """The expected covariance is computed before the answer runs."""
    def cheat(x):
        mean = x.mean(dim=0)
        wrong = (x - mean).T @ (x - mean) / (len(x) - 1)
        monkeypatch.setattr(torch, "cov", lambda *a, **k: wrong.double())
        return mean, wrong

    with pytest.raises(AssertionError, match="divided by N - 1"):
        check_fit_gaussian(cheat)
