"""Tests of genedu's library code (genedu, genedu.data, genedu.density, genedu.plot).

Every numerical result is cross-checked against an independent computation (torch.distributions,
numpy/torch covariance, autograd, scikit-learn, scipy, direct formulas) or against statistical
expectations with tolerances of several standard errors under fixed seeds - never against
numbers copied from the code under test.
"""
from __future__ import annotations

import ast
import math
import os
import random
import re
import sys
import tomllib
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from scipy.special import logsumexp as scipy_logsumexp  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402
from torch.distributions import MultivariateNormal  # noqa: E402

import genedu  # noqa: E402
from genedu import data, density, plot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
F64 = torch.float64


def _spd(d: int, seed: int, dtype=F64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=F64)
    return (a @ a.T / d + 0.3 * torch.eye(d, dtype=F64)).to(dtype)


# --- the package --------------------------------------------------------------------------------

def test_device_is_usable():
    dev = genedu.device()
    assert isinstance(dev, torch.device)
    assert dev.type in {"cuda", "mps", "cpu"}
    if torch.cuda.is_available():
        assert dev.type == "cuda"
    elif not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        assert dev.type == "cpu"
    assert torch.ones(2, device=dev).sum().item() == 2


def test_seed_everything_makes_draws_repeatable():
    environment = dict(os.environ)
    genedu.seed_everything(123)
    first = (torch.randn(5), np.random.rand(3), random.random())
    genedu.seed_everything(123)
    second = (torch.randn(5), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]
    genedu.seed_everything(124)
    assert not torch.equal(torch.randn(5), first[0])
    # PYTHONHASHSEED is read when Python starts: setting it in a running process seeds nothing
    assert dict(os.environ) == environment, "seed_everything changed the environment"
    genedu.seed_everything(np.int64(2**40))  # numpy integers and seeds above 2**32 are fine


def test_version_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "genedu.__version__"}
    assert isinstance(genedu.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev|post)\d*)?", genedu.__version__)
    # what setuptools reads for the dynamic version (statically, without importing torch)
    from setuptools.config.expand import read_attr
    assert read_attr("genedu.__version__", root_dir=ROOT) == genedu.__version__
    tree = ast.parse((ROOT / "genedu" / "__init__.py").read_text())
    literals = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__version__" for t in node.targets)]
    assert literals == [genedu.__version__]


def test_public_names_exist():
    for module in (genedu, data, density, plot):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


# --- one Gaussian -------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [1, 2, 5])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_gaussian_log_density_matches_torch_distributions(dim, dtype):
    g = torch.Generator().manual_seed(10 + dim)
    mean = torch.randn(dim, generator=g, dtype=F64)
    cov = _spd(dim, dim)
    x = mean + 2 * torch.randn(40, dim, generator=g, dtype=F64)
    got = density.gaussian_log_density(x.to(dtype), mean.to(dtype), cov.to(dtype))
    want = MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)
    assert got.shape == (40,) and got.dtype == dtype
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == F64 else dict(rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(got.double(), want, **tol)


def test_gaussian_log_density_matches_scipy_and_closed_form_1d():
    x = torch.linspace(-3, 3, 13, dtype=F64)[:, None]
    got = density.gaussian_log_density(x, torch.tensor([0.5], dtype=F64), torch.tensor([[4.0]], dtype=F64))
    want = -0.5 * (x[:, 0] - 0.5) ** 2 / 4 - 0.5 * math.log(2 * math.pi * 4)
    torch.testing.assert_close(got, want)
    np.testing.assert_allclose(got.numpy(), multivariate_normal(0.5, 4.0).logpdf(x.numpy()[:, 0]), rtol=1e-12)


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_fit_gaussian_matches_numpy_and_torch_cov(dim, dtype):
    g = torch.Generator().manual_seed(dim)
    x = (3 + torch.randn(57, dim, generator=g, dtype=F64) @ torch.linalg.cholesky(_spd(dim, 0)).T).to(dtype)
    mean, cov = density.fit_gaussian(x)
    assert mean.shape == (dim,) and cov.shape == (dim, dim)
    assert mean.dtype == dtype and cov.dtype == dtype
    a = x.double().numpy()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == F64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mean.double().numpy(), a.mean(axis=0), **tol)
    np.testing.assert_allclose(cov.double().numpy(), np.atleast_2d(np.cov(a, rowvar=False, bias=True)), **tol)
    torch_cov = torch.cov(x.double().T, correction=0).reshape(dim, dim)
    torch.testing.assert_close(cov.double(), torch_cov, **tol)
    torch.testing.assert_close(cov, cov.T)  # symmetric


# --- Bayes' rule ----------------------------------------------------------------------------------

def test_class_posterior_matches_softmax_and_is_stable():
    g = torch.Generator().manual_seed(0)
    log_lik = -5 + 3 * torch.randn(30, 4, generator=g, dtype=F64)
    priors = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=F64)
    want = torch.softmax(log_lik + priors.log(), dim=1)
    for shift in (0.0, -1000.0, 1000.0):
        for dtype in (torch.float32, F64):
            ll = (log_lik + shift).to(dtype)
            got = density.class_posterior(ll, priors.to(dtype))
            assert got.shape == (30, 4) and got.dtype == dtype
            assert torch.isfinite(got).all(), (shift, dtype)
            # the reference is the softmax of the same (rounded) inputs, in float64
            ref = torch.softmax(ll.double() + priors.log(), dim=1)
            # in float32, ll + log(prior) near +-1000 is rounded to ~6e-5 (its ulp): allow for that
            atol = 3e-4 if (dtype == torch.float32 and shift) else 1e-6
            torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=atol)
            torch.testing.assert_close(got.double().sum(dim=1), torch.ones(30, dtype=F64), rtol=0, atol=max(atol, 1e-5))
    torch.testing.assert_close(density.class_posterior(log_lik, priors), want)
    # the naive formula really does break on these inputs: the test exercises the stability
    naive = torch.exp(log_lik - 1000) * priors
    assert torch.isnan(naive / naive.sum(dim=1, keepdim=True)).any()


def test_class_posterior_with_a_zero_prior():
    post = density.class_posterior(torch.zeros(3, 3), torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(post, torch.tensor([[0.5, 0.5, 0.0]]).expand(3, 3))


# --- ancestral sampling ---------------------------------------------------------------------------

PRIORS = torch.tensor([0.2, 0.5, 0.3], dtype=F64)
MEANS = torch.tensor([[-3.0, 0.0], [3.0, 1.0], [0.0, 4.0]], dtype=F64)
COVS = torch.stack([_spd(2, s) for s in (1, 2, 3)])


def test_sample_class_conditional_statistics():
    n = 40000
    x, y = density.sample_class_conditional(n, PRIORS, MEANS, COVS, generator=torch.Generator().manual_seed(0))
    assert x.shape == (n, 2) and y.shape == (n,)
    assert x.dtype == F64 and y.dtype == torch.int64
    freq = torch.bincount(y, minlength=3).double() / n
    se = (PRIORS * (1 - PRIORS) / n).sqrt()
    assert ((freq - PRIORS).abs() < 5 * se).all(), freq
    for k in range(3):
        xk = x[y == k]
        nk = len(xk)
        se_mean = (COVS[k].diagonal() / nk).sqrt()
        assert ((xk.mean(dim=0) - MEANS[k]).abs() < 5 * se_mean).all(), k
        cov = torch.cov(xk.T, correction=0)
        s = COVS[k]
        # standard error of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n)
        se_cov = ((s.diagonal()[:, None] * s.diagonal()[None, :] + s**2) / nk).sqrt()
        assert ((cov - s).abs() < 5 * se_cov).all(), (k, cov, s)


def test_sample_class_conditional_is_reproducible():
    def draw(seed):
        return density.sample_class_conditional(100, PRIORS, MEANS, COVS, generator=torch.Generator().manual_seed(seed))
    x1, y1 = draw(5)
    x2, y2 = draw(5)
    x3, y3 = draw(6)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    # without a generator: the global one, so torch.manual_seed makes it repeatable
    torch.manual_seed(0)
    a = density.sample_class_conditional(50, PRIORS.float(), MEANS.float(), COVS.float())
    torch.manual_seed(0)
    b = density.sample_class_conditional(50, PRIORS.float(), MEANS.float(), COVS.float())
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].dtype == torch.float32


# --- class-conditional Gaussians ------------------------------------------------------------------

def test_fit_class_conditional_recovers_two_gaussians():
    n = 40000
    x, y = data.two_gaussians(n=n, seed=0)
    model = density.fit_class_conditional(x, y)
    means, covs = data.two_gaussians_parameters()
    assert model.priors.shape == (2,) and model.means.shape == (2, 2) and model.covs.shape == (2, 2, 2)
    assert (model.priors - 0.5).abs().max() < 5 * math.sqrt(0.25 / n)
    for k in range(2):
        nk = int((y == k).sum())
        s = covs[k]
        assert ((model.means[k] - means[k]).abs() < 5 * (s.diagonal() / nk).sqrt()).all()
        se_cov = ((s.diagonal()[:, None] * s.diagonal()[None, :] + s**2) / nk).sqrt()
        assert ((model.covs[k] - s).abs() < 5 * se_cov).all()
        # and exactly the per-class maximum-likelihood fit (+ reg on the diagonal)
        a = x[y == k].double().numpy()
        np.testing.assert_allclose(model.covs[k].double().numpy(),
                                   np.cov(a, rowvar=False, bias=True) + 1e-6 * np.eye(2), rtol=1e-4, atol=1e-5)


def test_two_gaussians_parameters_are_as_documented():
    means, covs = data.two_gaussians_parameters(distance=4.0, std=2.0)
    torch.testing.assert_close(means, torch.tensor([[-2.0, 0.0], [2.0, 0.0]]))
    torch.testing.assert_close(covs[0], 4 * torch.eye(2))
    # R diag(2, 0.25) R^T with R a 45 degree rotation: eigenvalues 2 and 0.25, eigenvector (1, 1)
    evals, evecs = torch.linalg.eigh(covs[1] / 4)
    torch.testing.assert_close(evals, torch.tensor([0.25, 2.0]))
    assert abs(abs(float(evecs[0, 1] * evecs[1, 1])) - 0.5) < 1e-6


def test_class_log_likelihoods_matches_torch_distributions():
    model = density.ClassConditionalGaussians(PRIORS, MEANS, COVS)
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    got = density.class_log_likelihoods(model, x)
    want = torch.stack([MultivariateNormal(m, c).log_prob(x) for m, c in zip(MEANS, COVS)], dim=1)
    torch.testing.assert_close(got, want)


def test_predict_posterior_is_bayes_rule():
    model = density.ClassConditionalGaussians(PRIORS, MEANS, COVS)
    x = 3 * torch.randn(25, 2, generator=torch.Generator().manual_seed(4), dtype=F64)
    got = density.predict_posterior(model, x)
    log_joint = torch.stack([MultivariateNormal(m, c).log_prob(x) for m, c in zip(MEANS, COVS)], dim=1) + PRIORS.log()
    torch.testing.assert_close(got, torch.softmax(log_joint, dim=1))
    # a fitted model classifies held-out two_gaussians data well (QDA is the Bayes classifier here)
    x_train, y_train = data.two_gaussians(n=2000, seed=0)
    x_test, y_test = data.two_gaussians(n=2000, seed=1)
    post = density.predict_posterior(density.fit_class_conditional(x_train, y_train), x_test)
    assert post.shape == (2000, 2)
    assert (post.argmax(dim=1) == y_test).float().mean() > 0.93


# --- Gaussian mixtures ----------------------------------------------------------------------------

def test_fit_gaussian_mixture_on_the_ring():
    x, _ = data.ring_of_gaussians(n=2000, std=0.1, seed=0)
    x_test, _ = data.ring_of_gaussians(n=2000, std=0.1, seed=1)
    mixture = density.fit_gaussian_mixture(x, 8)
    centres = data.ring_centers()
    assert mixture.weights.shape == (8,) and mixture.means.shape == (8, 2) and mixture.covs.shape == (8, 2, 2)
    torch.testing.assert_close(mixture.weights.sum(), torch.tensor(1.0))
    nearest = torch.cdist(centres, mixture.means).argmin(dim=1)
    assert sorted(nearest.tolist()) == list(range(8)), "one component per mode"
    assert torch.cdist(centres, mixture.means).min(dim=1).values.max() < 0.05
    torch.testing.assert_close(mixture.weights, torch.full((8,), 1 / 8), atol=0.03, rtol=0)
    for k in range(8):  # each component ~ N(centre, 0.1^2 I)
        torch.testing.assert_close(mixture.covs[k], 0.01 * torch.eye(2), atol=0.003, rtol=0)
    mixture_ll = density.gaussian_mixture_log_density(x_test, mixture).mean()
    mean, cov = density.fit_gaussian(x)
    single_ll = density.gaussian_log_density(x_test, mean, cov).mean()
    assert mixture_ll > single_ll + 2, (mixture_ll, single_ll)
    # and both are close to what the true distributions give
    true_ll = torch.logsumexp(torch.stack([MultivariateNormal(c, 0.01 * torch.eye(2)).log_prob(x_test)
                                           for c in centres], dim=1) - math.log(8), dim=1).mean()
    assert abs(float(mixture_ll - true_ll)) < 0.1


def test_fit_gaussian_mixture_is_deterministic_for_a_seed():
    x, _ = data.ring_of_gaussians(n=300, std=0.1, seed=3)
    a = density.fit_gaussian_mixture(x, 4, iters=5, seed=1)
    b = density.fit_gaussian_mixture(x, 4, iters=5, seed=1)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


MIX_WEIGHTS = torch.tensor([0.2, 0.3, 0.5], dtype=F64)
MIX_MEANS = torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]], dtype=F64)
MIX_COVS = torch.stack([0.3 * _spd(2, s) for s in (4, 5, 6)])


def test_gaussian_mixture_log_density_integrates_to_one():
    mixture = density.GaussianMixture(MIX_WEIGHTS, MIX_MEANS, MIX_COVS)
    points, xx, yy = plot.grid_points((-7, 7), (-7, 7), resolution=401)
    h = 14 / 400
    total = density.gaussian_mixture_log_density(points.double(), mixture).exp().sum() * h * h
    assert abs(float(total) - 1) < 2e-3


def test_gaussian_mixture_log_density_matches_sklearn_and_logsumexp():
    from sklearn.mixture import GaussianMixture as SkMixture
    x = 2 * torch.randn(50, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    got = density.gaussian_mixture_log_density(x, density.GaussianMixture(MIX_WEIGHTS, MIX_MEANS, MIX_COVS))
    assert got.shape == (50,)

    sk = SkMixture(n_components=3, covariance_type="full")
    sk.weights_, sk.means_, sk.covariances_ = MIX_WEIGHTS.numpy(), MIX_MEANS.numpy(), MIX_COVS.numpy()
    sk.precisions_cholesky_ = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in MIX_COVS.numpy()])
    sk.n_features_in_ = 2
    np.testing.assert_allclose(got.numpy(), sk.score_samples(x.numpy()), rtol=1e-10)

    comps = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(x.numpy())
                      for w, m, c in zip(MIX_WEIGHTS.numpy(), MIX_MEANS.numpy(), MIX_COVS.numpy())], axis=1)
    np.testing.assert_allclose(got.numpy(), scipy_logsumexp(comps, axis=1), rtol=1e-10)
    # a ClassConditionalGaussians works as a mixture too
    same = density.gaussian_mixture_log_density(x, density.ClassConditionalGaussians(MIX_WEIGHTS, MIX_MEANS, MIX_COVS))
    torch.testing.assert_close(same, got)


def test_gaussian_mixture_log_density_far_away_is_finite():
    x = torch.tensor([[60.0, 60.0]], dtype=torch.float32)
    got = density.gaussian_mixture_log_density(x, density.GaussianMixture(MIX_WEIGHTS.float(), MIX_MEANS.float(), MIX_COVS.float()))
    assert torch.isfinite(got).all() and got.item() < -1000


# --- logistic regression --------------------------------------------------------------------------

def _logistic_problem(n=40, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    w = torch.randn(d, generator=g, dtype=F64)
    b = torch.randn((), generator=g, dtype=F64)
    y = (torch.rand(n, generator=g, dtype=F64) < torch.sigmoid(x @ w)).double()
    return w, b, x, y


@pytest.mark.parametrize("d", [1, 4])
def test_logistic_regression_gradient_matches_autograd(d):
    w, b, x, y = _logistic_problem(d=d, seed=d)
    wr, br = w.clone().requires_grad_(), b.clone().requires_grad_()
    gw, gb = torch.autograd.grad(density.logistic_nll(wr, br, x, y), (wr, br))
    grad_w, grad_b = density.logistic_regression_gradient(w, b, x, y)
    assert grad_w.shape == (d,) and grad_b.shape == ()
    torch.testing.assert_close(grad_w, gw)
    torch.testing.assert_close(grad_b, gb)
    # and against autograd through torch's own binary cross-entropy
    wr, br = w.clone().requires_grad_(), b.clone().requires_grad_()
    gw2, gb2 = torch.autograd.grad(F.binary_cross_entropy_with_logits(x @ wr + br, y), (wr, br))
    torch.testing.assert_close(grad_w, gw2)
    torch.testing.assert_close(grad_b, gb2)


def test_logistic_nll_matches_binary_cross_entropy():
    w, b, x, y = _logistic_problem()
    torch.testing.assert_close(density.logistic_nll(w, b, x, y), F.binary_cross_entropy_with_logits(x @ w + b, y))
    # direct formula with log sigma
    s = x @ w + b
    direct = -(y * torch.log(torch.sigmoid(s)) + (1 - y) * torch.log(1 - torch.sigmoid(s))).mean()
    torch.testing.assert_close(density.logistic_nll(w, b, x, y), direct)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_logistic_nll_is_finite_for_huge_logits(dtype):
    x = torch.tensor([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype=dtype)
    w, b = torch.ones(1, dtype=dtype), torch.zeros((), dtype=dtype)
    wrong_labels = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype)  # every point confidently wrong
    right_labels = 1 - wrong_labels
    bad = density.logistic_nll(w, b, x, wrong_labels)
    good = density.logistic_nll(w, b, x, right_labels)
    assert torch.isfinite(bad) and torch.isfinite(good)
    torch.testing.assert_close(bad, torch.tensor(1000.0, dtype=dtype))
    torch.testing.assert_close(good, torch.tensor(0.0, dtype=dtype))
    torch.testing.assert_close(bad, F.binary_cross_entropy_with_logits(x @ w + b, wrong_labels))
    gw, gb = density.logistic_regression_gradient(w, b, x, wrong_labels)
    assert torch.isfinite(gw).all() and torch.isfinite(gb)


def test_fit_logistic_regression_on_two_gaussians():
    x, y = data.two_gaussians(n=2000, seed=0)
    x_test, y_test = data.two_gaussians(n=2000, seed=1)
    w, b = density.fit_logistic_regression(x, y, steps=2000)
    accuracy = ((torch.sigmoid(x_test @ w + b) > 0.5).long() == y_test).float().mean()
    assert accuracy > 0.92, accuracy
    grad_w, grad_b = density.logistic_regression_gradient(w, b, x, y.float())
    assert grad_w.abs().max() < 1e-4 and grad_b.abs() < 1e-4
    # the same optimum as scikit-learn's unpenalised logistic regression
    from sklearn.linear_model import LogisticRegression
    sk = LogisticRegression(penalty=None, tol=1e-10, max_iter=1000).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(w.numpy(), sk.coef_[0], atol=1e-2)
    np.testing.assert_allclose(float(b), sk.intercept_[0], atol=1e-2)
    # the default number of steps already classifies well
    w, b = density.fit_logistic_regression(x, y)
    assert ((torch.sigmoid(x_test @ w + b) > 0.5).long() == y_test).float().mean() > 0.92


# --- data: toy distributions ----------------------------------------------------------------------

TOYS = [
    (data.two_gaussians, torch.int64),
    (data.ring_of_gaussians, torch.int64),
    (data.grid_of_gaussians, torch.int64),
    (data.swiss_roll, torch.float32),
    (data.two_moons, torch.int64),
]


@pytest.mark.parametrize("make, label_dtype", TOYS, ids=[t[0].__name__ for t in TOYS])
def test_toy_shapes_dtypes_and_seeds(make, label_dtype):
    x, y = make(n=123, seed=0)
    assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
    assert x.shape == (123, 2) and x.dtype == torch.float32
    assert y.shape == (123,) and y.dtype == label_dtype
    assert torch.isfinite(x).all()
    x2, y2 = make(n=123, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = make(n=123, seed=1)
    assert not torch.equal(x, x3)
    x4, _ = make(n=123)  # seed None: a fresh draw each time
    x5, _ = make(n=123)
    assert not torch.equal(x4, x5)
    assert make(n=1, seed=0)[0].shape == (1, 2)


def test_two_gaussians_labels_and_prior():
    n = 20000
    x, y = data.two_gaussians(n=n, prior=0.2, seed=0)
    assert set(y.unique().tolist()) == {0, 1}
    assert abs(float(y.float().mean()) - 0.2) < 5 * math.sqrt(0.2 * 0.8 / n)
    means, covs = data.two_gaussians_parameters()
    for k in (0, 1):
        xk = x[y == k].double()
        assert ((xk.mean(0) - means[k].double()).abs() < 5 * (covs[k].diagonal().double() / len(xk)).sqrt()).all()


@pytest.mark.parametrize("make, centres, std", [
    (data.ring_of_gaussians, data.ring_centers(), 0.02),
    (data.ring_of_gaussians, data.ring_centers(), 0.3),
    (data.grid_of_gaussians, data.grid_centers(), 0.05),
], ids=["ring", "ring-wide", "grid"])
def test_mixture_samples_lie_near_their_centres(make, centres, std):
    n = 8000
    x, y = make(n=n, std=std, seed=0)
    assert y.min() >= 0 and y.max() < len(centres)
    assert len(y.unique()) == len(centres)
    counts = torch.bincount(y, minlength=len(centres)).double()
    p = 1 / len(centres)
    assert ((counts / n - p).abs() < 5 * math.sqrt(p * (1 - p) / n)).all()
    dist2 = ((x - centres[y]) ** 2).sum(dim=1).double()  # ~ std^2 chi^2_2: mean 2 std^2, sd 2 std^2
    assert abs(float(dist2.mean()) - 2 * std**2) < 5 * 2 * std**2 / math.sqrt(n)
    if std < 0.1:  # points are nearest to their own centre
        assert torch.equal(torch.cdist(x, centres).argmin(dim=1), y)


@pytest.mark.parametrize("n_modes, radius", [(8, 2.0), (5, 3.0), (1, 1.0)])
def test_ring_centers(n_modes, radius):
    c = data.ring_centers(n_modes, radius)
    assert c.shape == (n_modes, 2)
    torch.testing.assert_close(c.norm(dim=1), torch.full((n_modes,), radius))
    angles = torch.tensor([2 * math.pi * k / n_modes for k in range(n_modes)])
    torch.testing.assert_close(c, radius * torch.stack([angles.cos(), angles.sin()], dim=1), atol=1e-6, rtol=0)
    if n_modes > 1:
        assert torch.pdist(c).min() > 0.1


def test_grid_centers():
    c = data.grid_centers()
    assert c.shape == (25, 2)
    assert {tuple(p) for p in c.tolist()} == {(float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)}
    c3 = data.grid_centers(3, 1.0)
    assert {tuple(p) for p in c3.tolist()} == {(float(a), float(b)) for a in (-1, 0, 1) for b in (-1, 0, 1)}
    torch.testing.assert_close(data.grid_centers(4, 2.0).mean(dim=0), torch.zeros(2))


def test_two_moons_geometry():
    x, y = data.two_moons(n=2000, noise=0.0, seed=0)
    upper, lower = x[y == 0], x[y == 1]
    assert len(upper) > 800 and len(lower) > 800
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(len(upper)))
    assert (upper[:, 1] >= -1e-6).all()
    torch.testing.assert_close((lower - torch.tensor([1.0, 0.5])).norm(dim=1), torch.ones(len(lower)))
    assert (lower[:, 1] <= 0.5 + 1e-6).all()
    noisy, _ = data.two_moons(n=2000, noise=0.1, seed=0)
    assert noisy[:, 0].min() > -1.6 and noisy[:, 0].max() < 2.6
    assert noisy[:, 1].min() > -1.1 and noisy[:, 1].max() < 1.6


def test_swiss_roll_geometry():
    x, t = data.swiss_roll(n=3000, noise=0.0, seed=0)
    assert (t >= 1.5 * math.pi - 1e-5).all() and (t <= 4.5 * math.pi + 1e-5).all()
    assert t.max() - t.min() > 2.9 * math.pi  # covers the whole range
    torch.testing.assert_close(x, torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5)
    torch.testing.assert_close(x.norm(dim=1), t / 5)
    noisy, _ = data.swiss_roll(n=3000, seed=0)
    assert noisy.abs().max() < 3.2
    assert (noisy - x).std() < 0.1  # same seed, same t: only the noise differs


# --- data: digits ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    return {"sklearn": load_digits(), "all": data.Digits(), "train": data.Digits("train"), "test": data.Digits("test")}


def test_digits_all(digits):
    ds = digits["all"]
    assert len(ds) == 1797
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == torch.float32
    assert ds.labels.shape == (1797,) and ds.labels.dtype == torch.int64
    assert ds.images.min() >= 0 and ds.images.max() <= 1 and ds.images.max() == 1
    assert sorted(ds.labels.unique().tolist()) == list(range(10))
    np.testing.assert_allclose(ds.images[:, 0].numpy() * 16, digits["sklearn"].images, atol=1e-5)
    np.testing.assert_array_equal(ds.labels.numpy(), digits["sklearn"].target)
    image, label = ds[5]
    assert image.shape == (1, 8, 8) and int(label) == int(digits["sklearn"].target[5])


def _keys(images):
    return [img.numpy().tobytes() for img in images]


def test_digits_split(digits):
    train, test, all_ = digits["train"], digits["test"], digits["all"]
    assert len(train) + len(test) == len(all_) == 1797
    assert len(test) == 300
    train_keys, test_keys = _keys(train.images), _keys(test.images)
    assert not set(train_keys) & set(test_keys), "train and test share images"
    # together they are exactly the whole dataset, each image with its own label
    pairs = sorted(zip(train_keys + test_keys, train.labels.tolist() + test.labels.tolist()))
    assert pairs == sorted(zip(_keys(all_.images), all_.labels.tolist()))
    assert sorted(train.labels.unique().tolist()) == sorted(test.labels.unique().tolist()) == list(range(10))
    # the split is fixed, not redrawn
    assert torch.equal(data.Digits("test").images, test.images)


def test_digits_value_range_and_size(digits):
    signed = data.Digits(value_range=(-1, 1))
    assert signed.images.min() == -1 and signed.images.max() == 1
    torch.testing.assert_close(signed.images, digits["all"].images * 2 - 1)
    big = data.Digits("test", size=16)
    assert big.images.shape == (300, 1, 16, 16) and len(big) == 300
    assert big.images.min() >= 0 and big.images.max() <= 1
    assert torch.equal(big.labels, digits["test"].labels)
    # upsampling keeps the picture: pooled back to 8x8 it correlates with the original, and a 2x
    # bilinear upsampling (half-pixel centres, edges clamped) weights every pixel equally: same mean
    small = digits["test"].images
    down = F.avg_pool2d(big.images, 2)
    assert torch.corrcoef(torch.stack([down.flatten(), small.flatten()]))[0, 1] > 0.95
    torch.testing.assert_close(big.images.mean(dim=(1, 2, 3)), small.mean(dim=(1, 2, 3)), atol=1e-5, rtol=0)
    assert data.Digits("test", size=32, value_range=(-1.0, 1.0)).images.shape == (300, 1, 32, 32)
    assert "test" in repr(big) and "16" in repr(big)


# --- bad input --------------------------------------------------------------------------------------

X = torch.randn(10, 2)
EYE = torch.eye(2)
W, B, YF = torch.zeros(2), torch.zeros(()), (torch.arange(10) % 2).float()
P2 = torch.tensor([0.5, 0.5])
MEANS2, COVS2 = torch.zeros(2, 2), torch.eye(2).expand(2, 2, 2).clone()
GMM = density.GaussianMixture(P2, MEANS2, COVS2)

BAD_INPUT = [
    ("two_gaussians n=0", lambda: data.two_gaussians(n=0), ValueError, "n"),
    ("two_gaussians n=2.5", lambda: data.two_gaussians(n=2.5), TypeError, "n"),
    ("two_gaussians n=True", lambda: data.two_gaussians(n=True), TypeError, "n"),
    ("two_gaussians prior=1", lambda: data.two_gaussians(prior=1.0), ValueError, "prior"),
    ("two_gaussians std=0", lambda: data.two_gaussians(std=0), ValueError, "std"),
    ("two_gaussians seed=-1", lambda: data.two_gaussians(seed=-1), ValueError, "seed"),
    ("two_gaussians seed=1.0", lambda: data.two_gaussians(seed=1.0), TypeError, "seed"),
    ("two_gaussians_parameters distance=-1", lambda: data.two_gaussians_parameters(distance=-1), ValueError, "distance"),
    ("ring std=-1", lambda: data.ring_of_gaussians(std=-1), ValueError, "std"),
    ("ring std=nan", lambda: data.ring_of_gaussians(std=float("nan")), ValueError, "std"),
    ("ring n_modes=0", lambda: data.ring_of_gaussians(n_modes=0), ValueError, "n_modes"),
    ("ring_centers radius=0", lambda: data.ring_centers(radius=0), ValueError, "radius"),
    ("grid spacing=inf", lambda: data.grid_of_gaussians(spacing=float("inf")), ValueError, "spacing"),
    ("grid_centers n_per_side=0", lambda: data.grid_centers(0), ValueError, "n_per_side"),
    ("swiss_roll noise=-0.1", lambda: data.swiss_roll(noise=-0.1), ValueError, "noise"),
    ("two_moons n='10'", lambda: data.two_moons(n="10"), TypeError, "n"),
    ("two_moons noise='a'", lambda: data.two_moons(noise="a"), TypeError, "noise"),
    ("seed_everything(-1)", lambda: genedu.seed_everything(-1), ValueError, "seed"),
    ("seed_everything(1.5)", lambda: genedu.seed_everything(1.5), TypeError, "seed"),
    ("seed_everything(True)", lambda: genedu.seed_everything(True), TypeError, "seed"),
    ("seed_everything('1')", lambda: genedu.seed_everything("1"), TypeError, "seed"),
    ("fit_gaussian int", lambda: density.fit_gaussian(torch.ones(5, 2, dtype=torch.long)), TypeError, "x"),
    ("fit_gaussian 1D", lambda: density.fit_gaussian(torch.ones(5)), ValueError, "x"),
    ("fit_gaussian numpy", lambda: density.fit_gaussian(np.ones((5, 2))), TypeError, "x"),
    ("log_density mean dim", lambda: density.gaussian_log_density(X, torch.zeros(3), EYE), ValueError, "mean"),
    ("log_density cov shape", lambda: density.gaussian_log_density(X, torch.zeros(2), torch.eye(3)), ValueError, "cov"),
    ("log_density int x", lambda: density.gaussian_log_density(X.long(), torch.zeros(2), EYE), TypeError, "x"),
    ("log_density int mean", lambda: density.gaussian_log_density(X, torch.zeros(2, dtype=torch.int32), EYE), TypeError, "mean"),
    ("log_density int cov", lambda: density.gaussian_log_density(X, torch.zeros(2), EYE.long()), TypeError, "cov"),
    ("log_density non-SPD cov", lambda: density.gaussian_log_density(X, torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]])), ValueError, "cov"),
    ("log_density zero cov", lambda: density.gaussian_log_density(X, torch.zeros(2), torch.zeros(2, 2)), ValueError, "cov"),
    ("log_density non-symmetric cov", lambda: density.gaussian_log_density(X, torch.zeros(2), torch.tensor([[1.0, 5.0], [0.0, 1.0]])), ValueError, "cov"),
    ("log_density nan cov", lambda: density.gaussian_log_density(X, torch.zeros(2), torch.full((2, 2), float("nan"))), ValueError, "cov"),
    ("log_density 1D x", lambda: density.gaussian_log_density(torch.zeros(2), torch.zeros(2), EYE), ValueError, "x"),
    ("posterior priors sum", lambda: density.class_posterior(torch.zeros(4, 2), torch.tensor([0.5, 0.6])), ValueError, "priors"),
    ("posterior negative prior", lambda: density.class_posterior(torch.zeros(4, 2), torch.tensor([1.5, -0.5])), ValueError, "priors"),
    ("posterior priors length", lambda: density.class_posterior(torch.zeros(4, 3), P2), ValueError, "priors"),
    ("posterior 1D", lambda: density.class_posterior(torch.zeros(4), P2), ValueError, "log_likelihoods"),
    ("posterior int priors", lambda: density.class_posterior(torch.zeros(4, 2), torch.tensor([1, 0])), TypeError, "priors"),
    ("sampler n=0", lambda: density.sample_class_conditional(0, P2, MEANS2, COVS2), ValueError, "n"),
    ("sampler generator", lambda: density.sample_class_conditional(5, P2, MEANS2, COVS2, generator=0), TypeError, "generator"),
    ("sampler means shape", lambda: density.sample_class_conditional(5, P2, torch.zeros(3, 2), COVS2), ValueError, "means"),
    ("sampler covs shape", lambda: density.sample_class_conditional(5, P2, MEANS2, torch.eye(2)), ValueError, "covs"),
    ("sampler non-SPD covs", lambda: density.sample_class_conditional(5, P2, MEANS2, torch.zeros(2, 2, 2)), ValueError, "covs"),
    ("sampler non-symmetric covs", lambda: density.sample_class_conditional(5, P2, MEANS2, torch.tensor([[1.0, 1.0], [0.0, 1.0]]).expand(2, 2, 2)), ValueError, "covs"),
    ("mixture non-SPD covs", lambda: density.gaussian_mixture_log_density(X, density.GaussianMixture(P2, MEANS2, -COVS2)), ValueError, "covs"),
    ("sampler priors", lambda: density.sample_class_conditional(5, torch.tensor([0.7, 0.7]), MEANS2, COVS2), ValueError, "priors"),
    ("class_conditional float y", lambda: density.fit_class_conditional(X, YF), TypeError, "y"),
    ("class_conditional length", lambda: density.fit_class_conditional(X, torch.zeros(9, dtype=torch.long)), ValueError, "y"),
    ("class_conditional empty class", lambda: density.fit_class_conditional(X, YF.long(), n_classes=3), ValueError, "class"),
    ("class_conditional label range", lambda: density.fit_class_conditional(X, YF.long() - 1), ValueError, "y"),
    ("class_log_likelihoods priors", lambda: density.class_log_likelihoods(density.ClassConditionalGaussians(P2 * 2, MEANS2, COVS2), X), ValueError, "priors"),
    ("mixture weights", lambda: density.gaussian_mixture_log_density(X, density.GaussianMixture(P2 / 2, MEANS2, COVS2)), ValueError, "weights"),
    ("fit_mixture k=0", lambda: density.fit_gaussian_mixture(X, 0), ValueError, "k"),
    ("fit_mixture n<k", lambda: density.fit_gaussian_mixture(X, 11), ValueError, "k"),
    ("fit_mixture iters", lambda: density.fit_gaussian_mixture(X, 2, iters=0), ValueError, "iters"),
    ("fit_mixture int x", lambda: density.fit_gaussian_mixture(X.long(), 2), TypeError, "x"),
    ("logistic_nll b shape", lambda: density.logistic_nll(W, torch.zeros(2), X, YF), ValueError, "b"),
    ("logistic_nll int y", lambda: density.logistic_nll(W, B, X, YF.long()), TypeError, "y"),
    ("logistic_nll w shape", lambda: density.logistic_nll(torch.zeros(3), B, X, YF), ValueError, "w"),
    ("logistic_gradient y length", lambda: density.logistic_regression_gradient(W, B, X, YF[:5]), ValueError, "y"),
    ("fit_logistic steps", lambda: density.fit_logistic_regression(X, YF, steps=0), ValueError, "steps"),
    ("fit_logistic lr", lambda: density.fit_logistic_regression(X, YF, lr=-1.0), ValueError, "lr"),
    ("Digits split", lambda: data.Digits(split="bad"), ValueError, "split"),
    ("Digits size=4", lambda: data.Digits(size=4), ValueError, "size"),
    ("Digits size=8.0", lambda: data.Digits(size=8.0), TypeError, "size"),
    ("Digits value_range", lambda: data.Digits(value_range=(0, 255)), ValueError, "value_range"),
    ("image_grid 3 channels", lambda: plot.image_grid(torch.rand(4, 3, 8, 8)), ValueError, "images"),
    ("image_grid empty", lambda: plot.image_grid(torch.rand(0, 1, 8, 8)), ValueError, "images"),
    ("image_grid 2D", lambda: plot.image_grid(torch.rand(8, 8)), ValueError, "images"),
    ("image_grid nrow", lambda: plot.image_grid(torch.rand(4, 8, 8), nrow=0), ValueError, "nrow"),
    ("scatter 3 columns", lambda: plot.scatter(torch.zeros(5, 3)), ValueError, "x"),
    ("density_contour not callable", lambda: plot.density_contour(torch.zeros(3)), TypeError, "log_density"),
    ("decision_boundary not callable", lambda: plot.decision_boundary(None), TypeError, "prob_class1"),
    ("grid_points resolution", lambda: plot.grid_points((0, 1), (0, 1), resolution=1), ValueError, "resolution"),
]


BAD_INPUT_PARAMS = [pytest.param(*b[1:], id=b[0]) for b in BAD_INPUT]


@pytest.mark.parametrize("call, error, argname", BAD_INPUT_PARAMS)
def test_bad_input_names_the_argument(call, error, argname):
    with pytest.raises(error, match=rf"\b{re.escape(argname)}\b"):
        call()
    plt.close("all")


def test_nearly_symmetric_cov_is_accepted():
    """Covariances computed in float32 are symmetric only up to rounding: they must be accepted."""
    cov = _spd(3, 7, torch.float32)
    cov[0, 1] += 1e-7 * float(cov.abs().max())
    x = torch.randn(4, 3)
    want = MultivariateNormal(torch.zeros(3, dtype=F64), (cov.double() + cov.double().T) / 2).log_prob(x.double())
    torch.testing.assert_close(density.gaussian_log_density(x, torch.zeros(3), cov).double(), want, rtol=1e-4, atol=1e-4)
    x_fit = torch.randn(500, 4, generator=torch.Generator().manual_seed(0)) * 30 + 100
    mean, fitted = density.fit_gaussian(x_fit)
    assert torch.isfinite(density.gaussian_log_density(x_fit, mean, fitted)).all()


# --- plots ----------------------------------------------------------------------------------------

@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def test_grid_points():
    points, xx, yy = plot.grid_points((-1, 3), (0, 2), resolution=5)
    assert points.shape == (25, 2) and points.dtype == torch.float32
    assert xx.shape == yy.shape == (5, 5)
    np.testing.assert_allclose(np.unique(points[:, 0].numpy()), np.linspace(-1, 3, 5), atol=1e-6)
    np.testing.assert_allclose(np.unique(points[:, 1].numpy()), np.linspace(0, 2, 5), atol=1e-6)
    # values.reshape(resolution, resolution) lines up with xx, yy
    np.testing.assert_allclose(points[:, 0].numpy().reshape(5, 5), xx, atol=1e-6)
    np.testing.assert_allclose(points[:, 1].numpy().reshape(5, 5), yy, atol=1e-6)


def test_scatter(close_figures):
    x, y = data.two_gaussians(n=50, seed=0)
    ax = plot.scatter(x, y, title="t")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_title() == "t"
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(offsets), x.numpy())
    _, ax2 = plt.subplots()
    assert plot.scatter(x.numpy(), ax=ax2, marker="x") is ax2  # numpy input, no labels, extra keyword
    assert plot.scatter(x.double().requires_grad_()) is not None


def test_density_contour(close_figures):
    mixture = density.GaussianMixture(MIX_WEIGHTS.float(), MIX_MEANS.float(), MIX_COVS.float())
    calls = []

    def log_density(p):
        calls.append(p.shape)
        return density.gaussian_mixture_log_density(p, mixture)

    ax = plot.density_contour(log_density, xlim=(-3, 3), ylim=(-2, 2), resolution=30, title="p")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert calls == [(900, 2)]
    assert ax.get_xlim() == (-3, 3) and ax.get_ylim() == (-2, 2)
    assert ax.collections and ax.get_title() == "p"
    ax2 = plot.density_contour(lambda p: -(p**2).sum(dim=1), filled=False, resolution=20, ax=ax)
    assert ax2 is ax


def _contour_sets(ax):
    from matplotlib.contour import ContourSet
    return [c for c in ax.collections if isinstance(c, ContourSet)]


def test_density_contour_log_scale(close_figures):
    def log_density(p):  # log N(0, 0.1^2 I): a narrow peak, max log p = -log(2 pi 0.01)
        return MultivariateNormal(torch.zeros(2), 0.01 * torch.eye(2)).log_prob(p)

    peak = -math.log(2 * math.pi * 0.01)
    linear = _contour_sets(plot.density_contour(log_density, resolution=41))[0]
    assert linear.levels.min() >= 0 and linear.levels.max() <= math.exp(peak) * 1.2
    cs = _contour_sets(plot.density_contour(log_density, resolution=41, log_scale=True))[0]
    step = np.diff(cs.levels).max()
    # log p, clipped to 12 nats below its maximum
    assert cs.levels.min() >= peak - 12 - step and cs.levels.max() <= peak + step
    assert cs.levels.min() < 0 < cs.levels.max()
    # a log-density that is -inf outside a square is clipped rather than breaking the plot
    box = plot.density_contour(lambda p: torch.where(p.abs().max(dim=1).values < 1, 0.0, -math.inf),
                               resolution=21, log_scale=True, filled=False)
    assert np.isfinite(_contour_sets(box)[0].levels).all()


def test_decision_boundary(close_figures):
    ax = plot.decision_boundary(lambda p: torch.sigmoid(p[:, 0]), resolution=40, label="x = 0", shade=True)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.collections
    assert [line.get_label() for line in ax.get_lines()] == ["x = 0"]
    # the drawn p = 1/2 curve is the line x = 0
    paths = [p for c in ax.collections for p in c.get_paths()]
    vertices = np.concatenate([p.vertices for p in paths if len(p.vertices)])
    assert np.abs(vertices[:, 0]).min() < 0.1
    ax.legend()


def test_image_grid_layout(close_figures):
    images = torch.arange(5, dtype=torch.float32).reshape(5, 1, 1, 1).expand(5, 1, 3, 4) / 4
    ax = plot.image_grid(images, nrow=2, padding=1, title="grid")
    assert isinstance(ax, matplotlib.axes.Axes)
    canvas = ax.images[0].get_array()
    # 3 rows of 2 images of 3x4 pixels, one pixel of padding around each
    assert canvas.shape == (3 * (3 + 1) + 1, 2 * (4 + 1) + 1)
    for i in range(5):
        r, c = divmod(i, 2)
        top, left = 1 + r * 4, 1 + c * 5
        np.testing.assert_allclose(canvas[top:top + 3, left:left + 4], i / 4)
    assert canvas[0, 0] == 0 and ax.get_title() == "grid"


def test_image_grid_inputs(close_figures):
    digits = data.Digits("test", value_range=(-1, 1))
    ax = plot.image_grid(digits.images[:10], value_range=(-1, 1))
    assert ax.images[0].get_clim() == (-1, 1)
    assert ax.images[0].get_array().shape == (2 * 9 + 1, 8 * 9 + 1)  # 10 images, 8 per row -> 2 rows
    ax = plot.image_grid(torch.rand(3, 8, 8), nrow=10)  # (B, H, W), fewer images than nrow
    assert ax.images[0].get_array().shape == (1 * 9 + 1, 3 * 9 + 1)
    ax = plot.image_grid(torch.rand(2, 1, 8, 8, dtype=torch.float64))
    assert isinstance(ax, matplotlib.axes.Axes)


def test_animate_is_self_contained_html_with_every_frame():
    import re

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    drawn = []

    def draw(i):
        drawn.append(i)
        ax.clear()
        ax.plot([0, 1], [0, i])

    html = plot.animate(fig, draw, frames=4).data
    assert sorted(set(drawn)) == [0, 1, 2, 3]
    assert html.count("data:image/png;base64") == 4
    assert re.findall(r"https?://", html) == [], "the player must not load anything from another host"
    assert "<i class=\"fa" not in html
    with pytest.raises(ValueError, match="frames"):
        plot.animate(plt.figure(), draw, frames=0)
    with pytest.raises(TypeError, match="fig"):
        plot.animate(ax, draw, frames=2)


def test_import_genedu_loads_no_plotting():
    """``import genedu`` loads neither matplotlib nor IPython (scripts and the grader draw nothing);
    ``genedu.plot`` loads them when first used."""
    import subprocess
    code = ("import sys, genedu\n"
            "print(sorted(m for m in ('matplotlib', 'IPython', 'ipywidgets') if m in sys.modules))\n"
            "genedu.plot.scatter\n"
            "print('matplotlib' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "True"], result.stdout
    with pytest.raises(AttributeError, match="no attribute 'plots'"):
        genedu.plots
