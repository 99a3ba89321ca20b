"""Checks for chapter 1: discriminative vs generative models.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's
visible self-check calls it with the defaults, the hidden tests with other seeds and shapes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import MultivariateNormal

from genedu import density as _ref
from genedu.checks._core import call, compare, expect_seeded, expect_tensor, expect_tuple, fail, passed

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them.
REFERENCES = ("genedu.density.fit_gaussian", "genedu.density.gaussian_log_density", "genedu.density.class_posterior",
              "genedu.density.sample_class_conditional", "genedu.density.logistic_regression_gradient")

_fit_gaussian = _ref.fit_gaussian
_gaussian_log_density = _ref.gaussian_log_density
_class_posterior = _ref.class_posterior
_sample_class_conditional = _ref.sample_class_conditional
_logistic_regression_gradient = _ref.logistic_regression_gradient
# torch functions applied to the answer's output, bound before any answer runs
_cov, _cdist, _norm = torch.cov, torch.cdist, torch.linalg.norm


def _random_tilted_cov(g: torch.Generator) -> torch.Tensor:
    """A random 2x2 covariance with standard deviations about 3:1, tilted by 17-69 degrees: for such
    matrices L^T L differs from L L^T by more than 20 %, so the check can tell them apart."""
    angle = (0.3 + 0.9 * torch.rand((), generator=g, dtype=torch.float64)) * (1 if torch.rand((), generator=g) < 0.5 else -1)
    eigenvalues = torch.tensor([2.0, 0.15], dtype=torch.float64) * (0.5 + torch.rand(2, generator=g, dtype=torch.float64))
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    return rotation @ torch.diag(eigenvalues) @ rotation.T


def _random_spd(d: int, g: torch.Generator) -> torch.Tensor:
    """A random symmetric positive-definite (D, D) matrix with correlations."""
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.5 * torch.eye(d, dtype=torch.float64)


def check_fit_gaussian(fit_gaussian, seed: int = 0, n: int = 200, dim: int = 3) -> None:
    """Check ``fit_gaussian(x) -> (mean (D,), cov (D, D))``, the maximum-likelihood fit."""
    name = "fit_gaussian"
    g = torch.Generator().manual_seed(seed)
    mean_true = 3 * torch.randn(dim, generator=g, dtype=torch.float64) + 2.0
    chol = torch.linalg.cholesky(_random_spd(dim, g))
    x = (mean_true + torch.randn(n, dim, generator=g, dtype=torch.float64) @ chol.T).float()

    # the expected values come first, from torch's own statistics (an independent computation)
    mean = x.double().mean(dim=0)
    cov = torch.cov(x.double().T, correction=0).reshape(dim, dim)
    centred = x.double() - mean
    unbiased_std = x.double().std(dim=0) if n > 1 else torch.zeros(dim, dtype=torch.float64)
    mistakes = [
        (cov * n / (n - 1), "you divided by N - 1 (the unbiased estimator); the maximum-likelihood estimate divides by N."),
        (x.double().T @ x.double() / n, "you forgot to subtract the mean before taking the outer products."),
        (x.double().T @ x.double() / (n - 1), "you forgot to subtract the mean, and divided by N - 1 instead of N."),
        (centred.T @ centred, "you summed the outer products; divide by N to average them."),
        (torch.diag(cov.diagonal().sqrt()), "you returned standard deviations; the covariance holds variances and covariances."),
        (torch.diag(unbiased_std), "you returned standard deviations; the covariance holds variances and covariances."),
        (torch.diag(cov.diagonal()), "you kept only the variances; the off-diagonal covariances are missing."),
    ]
    out = expect_tuple(call(fit_gaussian, name, (x.clone(),), reference=_fit_gaussian), name, ["mean", "cov"])
    mean_hint = {(n,): "you averaged over the features; average over the samples (dim=0).",
                 (): "you averaged over everything; average over the samples only (dim=0)."}
    m = expect_tensor(out[0], name, "mean", (dim,), mean_hint)
    compare(m, mean, name, "mean", rtol=1e-4, atol=1e-4)
    cov_hint = {(n, n): "you computed x x^T (N x N); the covariance is (x - mu)^T (x - mu) / N, a D x D matrix.",
                (dim,): "you returned a vector (variances or standard deviations?); return the full D x D "
                        "covariance matrix."}
    c = expect_tensor(out[1], name, "cov", (dim, dim), cov_hint)
    compare(c, cov, name, "cov", mistakes, rtol=1e-3, atol=1e-4)
    passed(name, f"mean and covariance match on {n} points in {dim}D.")


def check_gaussian_log_density(gaussian_log_density, seed: int = 0, n: int = 50, dim: int = 3) -> None:
    """Check ``gaussian_log_density(x, mean, cov) -> (N,)`` against torch.distributions."""
    name = "gaussian_log_density"
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(dim, generator=g, dtype=torch.float64)
    cov = _random_spd(dim, g)
    x = mean + 1.5 * torch.randn(n, dim, generator=g, dtype=torch.float64)
    x32, mean32, cov32 = x.float(), mean.float(), cov.float()

    expected = MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)  # independent computation

    diff = x - mean
    quad = torch.einsum("ni,ij,nj->n", diff, torch.linalg.inv(cov), diff)
    quad_cov = torch.einsum("ni,ij,nj->n", diff, cov, diff)
    logdet = torch.logdet(cov)
    norm = dim * math.log(2 * math.pi)
    mistakes = [
        (-0.5 * (quad + logdet), "the constant -D/2 log(2 pi) is missing."),
        (-0.5 * (quad + logdet + math.log(2 * math.pi)), "the constant should be -D/2 log(2 pi): one log(2 pi) per dimension."),
        (-0.5 * (quad + norm), "the -1/2 log det(Sigma) term is missing."),
        (-0.5 * quad - logdet - 0.5 * norm, "the log-determinant needs the factor 1/2: -1/2 log det(Sigma)."),
        (-0.5 * (quad + torch.det(cov) + norm), "use the log of the determinant, log det(Sigma), not det(Sigma)."),
        (-quad - 0.5 * (logdet + norm), "the quadratic form needs the factor 1/2: -1/2 (x - mu)^T Sigma^-1 (x - mu)."),
        (-0.5 * (quad_cov + logdet + norm), "use the inverse covariance Sigma^-1 in the quadratic form, not Sigma."),
        (0.5 * (quad + logdet + norm), "the sign is flipped: this is the negative log-density."),
        (expected.exp(), "this is the density itself; return its logarithm."),
        (-0.5 * (quad + logdet - norm), "the sign of the D/2 log(2 pi) term is wrong: it is subtracted."),
    ]
    out = call(gaussian_log_density, name, (x32.clone(), mean32.clone(), cov32.clone()), reference=_gaussian_log_density)
    hints = {(n, n): "the quadratic form should be computed per point, (x_n - mu)^T Sigma^-1 (x_n - mu), not for every pair.",
             (n, 1): "return a 1D tensor of shape (N,), e.g. with .squeeze(-1).",  # wins over (n, n) when n = 1
             (): "you reduced over the points; return one log-density per row of x."}
    logp = expect_tensor(out, name, "the result", (n,), hints)
    compare(logp, expected, name, "the log-density", mistakes, rtol=1e-4, atol=1e-3)
    passed(name, f"matches torch.distributions.MultivariateNormal on {n} points in {dim}D.")


def check_class_posterior(class_posterior, seed: int = 0, n: int = 20, k: int = 3) -> None:
    """Check ``class_posterior(log_likelihoods (N, K), priors (K,)) -> (N, K)``, stable with log-sum-exp."""
    name = "class_posterior"
    g = torch.Generator().manual_seed(seed)
    log_lik = (-5 + 3 * torch.randn(n, k, generator=g, dtype=torch.float64)).float()
    priors = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
    priors = (priors / priors.sum()).float()

    joint = log_lik.double() + priors.double().log()
    expected = torch.softmax(joint, dim=1)  # independent: softmax of the log joint
    mistakes = [
        (torch.softmax(log_lik.double(), dim=1), "the priors are missing: p(y|x) is proportional to p(x|y) p(y)."),
        (torch.softmax(log_lik.double() + priors.double(), dim=1), "add the log-priors, log p(y), not the priors themselves."),
        (torch.softmax(joint, dim=0), "you normalised over the points (dim=0); normalise over the classes (dim=1)."),
        (torch.log_softmax(joint, dim=1), "these are log-probabilities; return probabilities (exp of the log posterior)."),
        (joint.exp(), "you did not normalise: divide by the sum over classes, p(x) = sum_k p(x|k) p(k)."),
        (log_lik.double().exp() * priors.double(), "you did not normalise: divide by the sum over classes, p(x) = sum_k p(x|k) p(k)."),
    ]
    far_cases = [(log_lik + shift, torch.softmax(joint + shift, dim=1), what) for shift, what in (
        (-1000.0, "about -1000 (exp underflows to 0, and 0/0 = nan)"),
        (800.0, "about +800 (exp overflows to inf, and inf/inf = nan)"))]
    hints = {(k, n): "your result is transposed: one row per point, one column per class.",
             (n,): "return the whole posterior, one probability per class, not only the most likely class."}
    out = call(class_posterior, name, (log_lik.clone(), priors.clone()), reference=_class_posterior)
    post = expect_tensor(out, name, "the posterior", (n, k), hints)
    compare(post, expected, name, "the posterior", mistakes, rtol=1e-4, atol=1e-6)

    # numerical stability: points far from every class have log-likelihoods near -1000
    for far, expected_far, what in far_cases:
        out = call(class_posterior, name, (far.clone(), priors.clone()), reference=_class_posterior)
        if isinstance(out, torch.Tensor) and out.shape == (n, k) and not bool(torch.isfinite(out).all()):
            fail(name, f"the posterior has nan or inf when the log-likelihoods are {what}. "
                       "Work in log space: subtract the row maximum, or use torch.logsumexp.")
        post_far = expect_tensor(out, name, "the posterior for distant points", (n, k))
        compare(post_far, expected_far, name, f"the posterior for log-likelihoods {what.split(' (')[0]}",
                rtol=1e-4, atol=1e-4)
    passed(name, f"matches Bayes' rule on {n} points and {k} classes, and stays finite for distant points.")


def check_sample_class_conditional(sample_class_conditional, seed: int = 0, n: int = 20000) -> None:
    """Check ``sample_class_conditional(n, priors, means, covs, generator) -> (x (n, D), y (n,))``.

    The samples are random, so this checks their distribution: the class frequencies, and each
    class's mean and covariance, within a few standard errors (fixed seeds, so it is repeatable).
    """
    name = "sample_class_conditional"
    g = torch.Generator().manual_seed(seed)
    k, d = 3, 2
    priors = torch.tensor([0.2, 0.5, 0.3])[torch.randperm(k, generator=g)]
    means = torch.tensor([[-4.0, 1.0], [4.0, 2.0], [0.0, 6.0]]) + 0.5 * torch.randn(k, d, generator=g)
    covs = torch.stack([_random_tilted_cov(g) for _ in range(k)]).float()

    def draw(s):
        gen = torch.Generator().manual_seed(s)
        args = (n, priors.clone(), means.clone(), covs.clone())
        return expect_tuple(call(sample_class_conditional, name, args, {"generator": gen},
                                 reference=_sample_class_conditional), name, ["x", "y"])

    x, y = draw(seed + 1000)
    x = expect_tensor(x, name, "x", (n, d), {(d, n): "x is transposed: one row per sample."})
    y = expect_tensor(y, name, "y", (n,), floating=False)
    if y.is_floating_point() or y.dtype == torch.bool:
        fail(name, f"y should hold integer class labels (torch.long), got dtype {y.dtype}.")
    if int(y.min()) < 0 or int(y.max()) >= k:
        fail(name, f"y should contain classes 0..{k - 1}, got values from {int(y.min())} to {int(y.max())}.")

    freq = torch.bincount(y, minlength=k).double() / n
    se = (priors.double() * (1 - priors.double()) / n).sqrt()
    if ((freq - priors.double()).abs() > 5 * se).any():
        if ((freq - 1 / k).abs() < 0.02).all():
            fail(name, "the classes look equally frequent: draw y from the priors, e.g. "
                       "torch.multinomial(priors, n, replacement=True, generator=generator).")
        fail(name, f"class frequencies {[round(f, 3) for f in freq.tolist()]} do not match the priors "
                   f"{[round(p, 3) for p in priors.tolist()]}.")

    for c in range(k):
        xc = x[y == c].double()
        nc = len(xc)
        mean_c, cov_c = xc.mean(dim=0), _cov(xc.T, correction=0)
        se_mean = (covs[c].diagonal().double() / nc).sqrt()
        if ((mean_c - means[c].double()).abs() > 6 * se_mean).any():
            nearest = int(_cdist(mean_c[None], means.double()).argmin())
            if (mean_c.abs() < 6 * se_mean).all():
                hint = " they are centred at 0: add the class mean, x = means[y] + L_y z."
            elif nearest != c:
                hint = f" they are centred at means[{nearest}]: x must come from the class in y."
            else:
                hint = ""
            fail(name, f"samples labelled {c} have mean {[round(m, 2) for m in mean_c.tolist()]}, "
                       f"expected about {[round(m, 2) for m in means[c].tolist()]};" + hint)
        target = covs[c].double()
        rel = lambda a: float(_norm(cov_c - a) / _norm(a))  # noqa: E731
        if rel(target) > 0.1:
            chol = torch.linalg.cholesky(target)
            mistakes = [
                (target @ target, "x = mu + Sigma z gives covariance Sigma^2; use the Cholesky factor L "
                                  "(Sigma = L L^T): x = mu + L z."),
                (chol.T @ chol, "with row vectors z of shape (n, D) write z @ L.T (not z @ L), so that Cov = L L^T."),
                (torch.eye(d, dtype=torch.float64), "the samples have identity covariance: scale z by the Cholesky factor of the class covariance."),
                (torch.diag(target.diagonal()), "the correlations are missing: use the full Cholesky factor, not the standard deviations."),
                (torch.diag(target.diagonal() ** 2), "you scaled z by the variances; scale it by the Cholesky factor L of Sigma (Sigma = L L^T)."),
            ]
            for wrong, why in mistakes:
                if rel(wrong) < 0.1:
                    fail(name, f"samples of class {c} have the wrong covariance: {why}")
            fail(name, f"samples of class {c} have covariance {[[round(e, 2) for e in r] for r in cov_c.tolist()]}, "
                       f"expected about {[[round(e, 2) for e in r] for r in target.tolist()]}.")

    def flat(s):  # x and y of one draw, as one tensor
        return torch.cat([torch.as_tensor(t).double().flatten() for t in draw(s)])

    expect_seeded(flat, torch.cat([x.double().flatten(), y.double()]), seed + 1000, name, "samples",
                  "draw all randomness (labels and noise) with the `generator` argument.")
    passed(name, f"{n} samples have the right class frequencies, means and covariances.")


def check_logistic_regression_gradient(logistic_regression_gradient, seed: int = 0, n: int = 64, dim: int = 3) -> None:
    """Check ``logistic_regression_gradient(w, b, x, y) -> (grad_w (D,), grad_b ())`` against autograd."""
    name = "logistic_regression_gradient"
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    w = torch.randn(dim, generator=g)
    b = torch.randn((), generator=g)
    y = (torch.rand(n, generator=g) < torch.sigmoid(x @ w + 0.5)).float()

    # independent computation, before the answer runs: autograd through torch's binary cross-entropy
    wr, br = w.double().requires_grad_(), b.double().requires_grad_()
    loss = F.binary_cross_entropy_with_logits(x.double() @ wr + br, y.double())
    gw, gb = torch.autograd.grad(loss, (wr, br))
    out = expect_tuple(call(logistic_regression_gradient, name, (w.clone(), b.clone(), x.clone(), y.clone()),
                            reference=_logistic_regression_gradient), name, ["grad_w", "grad_b"])

    gw_out = expect_tensor(out[0], name, "grad_w", (dim,),
                           {(n,): "grad_w has one entry per point; sum (average) over the points: X^T (sigma - y) / N.",
                            (n, dim): "you kept the per-point gradients; average them over the points.",
                            (1, dim): "return grad_w with shape (D,)."})
    s = x.double() @ w.double() + b.double()
    compare(gw_out, gw, name, "grad_w", [
        (-gw, "the sign is flipped: the gradient of the negative log-likelihood is X^T (sigma(s) - y) / N."),
        (gw * n, "you summed over the points; the loss is a mean, so divide by N."),
        (x.double().T @ (s - y.double()) / n, "the sigmoid is missing: use sigma(x w + b) - y, not (x w + b) - y."),
        (x.double().T @ (torch.sigmoid(x.double() @ w.double()) - y.double()) / n, "the bias b is missing from the logits x w + b."),
    ], rtol=1e-4, atol=1e-5)
    gb_out = out[1]
    if isinstance(gb_out, torch.Tensor) and gb_out.numel() == 1:
        gb_out = gb_out.reshape(())
    gb_out = expect_tensor(gb_out, name, "grad_b", (), {(n,): "grad_b should be one number: average over the points."})
    compare(gb_out, gb, name, "grad_b", [
        (-gb, "the sign is flipped: dL/db = mean(sigma(s) - y)."),
        (gb * n, "you summed over the points; divide by N."),
        ((s - y.double()).mean(), "the sigmoid is missing: use mean(sigma(x w + b) - y)."),
    ], rtol=1e-4, atol=1e-5)
    passed(name, f"matches autograd on {n} points in {dim}D.")
