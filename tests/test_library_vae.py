"""Tests of genedu.models, genedu.losses and genedu.train (chapters 2-3), each against an
independent computation: torch.distributions, autograd, numerical integration, PCA by numpy."""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Normal, kl_divergence

from genedu import data, losses, models
from genedu.train import evaluate, train


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    want = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1)
    torch.testing.assert_close(losses.gaussian_kl(mu, logvar), want)
    assert torch.all(losses.gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)) == 0)


def test_bce_reconstruction_is_the_bernoulli_negative_log_likelihood():
    g = torch.Generator().manual_seed(1)
    logits = 5 * torch.randn(4, 1, 3, 3, generator=g)
    x = (torch.rand(4, 1, 3, 3, generator=g) > 0.5).float()
    want = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(dim=1)
    torch.testing.assert_close(losses.bce_reconstruction(logits, x), want)
    assert torch.isfinite(losses.bce_reconstruction(torch.full((2, 4), 1000.0), torch.zeros(2, 4))).all()


def test_mse_reconstruction_sums_over_pixels():
    x, y = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    torch.testing.assert_close(losses.mse_reconstruction(x, y), F.mse_loss(x, y, reduction="none").sum(dim=(1, 2, 3)))


def test_denoising_loss_closed_forms():
    """Gaussian data N(m, s^2 I): the identity denoiser scores d sigma^2, the posterior mean
    m + s^2 / (s^2 + sigma^2) (x~ - m) the minimum d s^2 sigma^2 / (s^2 + sigma^2), any other shrinkage more."""
    d, m, s, sigma = 3, 1.5, 0.8, 0.6
    x = m + s * torch.randn(200_000, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731

    def shrink(c):
        return lambda x_noisy: m + c * (x_noisy - m)

    c_star = s**2 / (s**2 + sigma**2)
    identity = losses.denoising_loss(lambda x_noisy: x_noisy, x, sigma, generator=g())
    optimum = losses.denoising_loss(shrink(c_star), x, sigma, generator=g())
    assert float(identity) == pytest.approx(d * sigma**2, rel=0.01)
    assert float(optimum) == pytest.approx(d * s**2 * sigma**2 / (s**2 + sigma**2), rel=0.01)
    for c in (0.5 * c_star, 0.9 * c_star, 1.1 * c_star, 1.0):
        assert float(losses.denoising_loss(shrink(c), x, sigma, generator=g())) > float(optimum)


def test_denoising_loss_draws_from_its_generator_and_has_a_gradient():
    net = nn.Linear(4, 4)
    x = torch.randn(16, 4)
    loss = losses.denoising_loss(net, x, 0.5, generator=torch.Generator().manual_seed(5))
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(loss, ((net(x + 0.5 * eps) - x) ** 2).sum(dim=1).mean())
    loss.backward()
    assert net.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("args, message", [
    ((lambda x: x, torch.randn(8), 0.5), "x must be a batch"),
    ((lambda x: x, torch.randn(8, 2), -0.1), "sigma must be a positive number"),
    ((lambda x: x, torch.randn(8, 2), torch.tensor(0.3)), "sigma must be a positive number"),
    ((lambda x: x[:, :1], torch.randn(8, 2), 0.5), "same shape"),
    ((None, torch.randn(8, 2), 0.5), "denoiser must be callable"),
    ((lambda x: x, torch.arange(8).reshape(4, 2), 0.5), "x"),
])
def test_denoising_loss_rejects_bad_input(args, message):
    with pytest.raises((TypeError, ValueError), match=message):
        losses.denoising_loss(*args)


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_negative_elbo_combines_the_terms(beta):
    g = torch.Generator().manual_seed(2)
    logits, x = torch.randn(6, 10, generator=g), torch.rand(6, 10, generator=g)
    mu, logvar = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    loss, recon, kl = losses.negative_elbo(logits, x, mu, logvar, beta=beta)
    want_recon = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=1)
    want_kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1)
    torch.testing.assert_close(recon, want_recon.mean())
    torch.testing.assert_close(kl, want_kl.mean())
    torch.testing.assert_close(loss, (want_recon + beta * want_kl).mean())


def test_reparameterize_moments_and_gradients():
    mu = torch.tensor([[1.0, -2.0]]).repeat(200_000, 1).requires_grad_()
    logvar = torch.tensor([[0.0, math.log(4.0)]]).repeat(200_000, 1).requires_grad_()
    z = models.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 2.0]), atol=0.02, rtol=0)
    z.sum().backward()
    assert torch.all(mu.grad == 1)                       # dz/dmu = 1
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def tiny_vae(seed: int = 0) -> models.VAE:
    """latent 1, 4 pixels: small enough to integrate p(x) = int p(x|z) p(z) dz on a grid."""
    torch.manual_seed(seed)
    return models.VAE(models.mlp([4, 8, 2]), models.mlp([1, 8, 4]), latent_dim=1)


def log_px_by_quadrature(model: models.VAE, x: torch.Tensor) -> torch.Tensor:
    z = torch.linspace(-8, 8, 4001)[:, None]
    dz = float(z[1] - z[0])
    with torch.no_grad():
        log_px_z = -losses.bce_reconstruction(model.decode(z)[:, None, :].expand(-1, len(x), -1).reshape(-1, 4),
                                              x.repeat(len(z), 1)).reshape(len(z), len(x))
    log_pz = Normal(0.0, 1.0).log_prob(z)
    return torch.logsumexp(log_px_z + log_pz, dim=0) + math.log(dz)


def test_iwae_bound_is_below_log_px_tightens_with_k_and_is_the_elbo_at_k1():
    model = tiny_vae()
    x = (torch.rand(5, 4, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    log_px = log_px_by_quadrature(model, x)
    g = torch.Generator().manual_seed(4)
    draws = {1: 4000, 10: 400, 1000: 50}  # enough that the Monte Carlo error is below 0.02 nats
    averages = {k: torch.stack([losses.iwae_bound(model, x, k, generator=g) for _ in range(m)]).mean(0)
                for k, m in draws.items()}
    with torch.no_grad():
        mu, logvar = model.encode(x)
        elbo = torch.stack([-losses.bce_reconstruction(model.decode(models.reparameterize(mu, logvar, g)), x)
                            for _ in range(4000)]).mean(0) - losses.gaussian_kl(mu, logvar)
    torch.testing.assert_close(averages[1], elbo, atol=0.05, rtol=0)
    # in expectation L_1 <= L_10 <= L_1000 <= log p(x); 0.01 nats allow for the Monte Carlo error
    assert torch.all(averages[1] <= averages[10] + 0.01) and torch.all(averages[10] <= averages[1000] + 0.01)
    assert torch.all(averages[1000] <= log_px + 0.01)
    torch.testing.assert_close(averages[1000], log_px, atol=0.05, rtol=0)


def test_model_shapes_and_pytorch_examples_sizes():
    vae = models.mlp_vae()
    linears = [m for m in vae.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 400), (400, 40), (20, 400), (400, 784)]
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = vae(x)
    assert logits.shape == x.shape and mu.shape == logvar.shape == (3, 20)
    assert vae.sample(5).shape == (5, 1, 28, 28)
    conv = models.conv_vae(latent_dim=8)
    logits, mu, _ = conv(x)
    assert logits.shape == x.shape and mu.shape == (3, 8)
    ae = models.mlp_autoencoder(latent_dim=2)
    assert ae.encode(x).shape == (3, 2) and ae(x).shape == x.shape
    linear = models.mlp_autoencoder(latent_dim=5, linear=True)
    assert sum(isinstance(m, nn.ReLU) for m in linear.modules()) == 0


def test_linear_autoencoder_learns_the_pca_subspace():
    """Baldi & Hornik (1989): the optimum of a linear AE spans the top principal subspace."""
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(10, 10, generator=g))[0]
    x = (torch.randn(2000, 10, generator=g) * torch.tensor([5, 3, 2, .3, .2, .2, .1, .1, .1, .1])) @ basis.T
    x = x - x.mean(0)
    torch.manual_seed(0)
    ae = models.Autoencoder(nn.Linear(10, 3), nn.Linear(3, 10))
    train(ae, lambda m, b: losses.mse_reconstruction(m(b), b).mean(), x, epochs=150, batch_size=200, lr=1e-2,
          progress=False, device="cpu")
    pcs = torch.linalg.svd(x, full_matrices=False).Vh[:3].T           # (10, 3) top principal directions
    learned = torch.linalg.qr(ae.decoder.weight.detach())[0]           # (10, 3) basis of the decoder's span
    cosines = torch.linalg.svdvals(pcs.T @ learned)                    # cosines of the principal angles
    assert cosines.min() > 0.99


def test_train_reduces_the_loss_records_history_and_calls_back():
    x, _ = data.mnist("test")
    model = models.mlp_vae(latent_dim=4, hidden=(64,))
    epochs_seen = []
    history = train(model, losses.vae_loss, x, epochs=3, batch_size=100, progress=False, device="cpu",
                    callback=lambda epoch, m, h: epochs_seen.append(epoch))
    assert epochs_seen == [1, 2, 3]
    assert len(history["loss"]) == 3 * 5 and len(history["epoch_loss"]) == 3
    assert set(history) >= {"recon", "kl"}
    assert history["epoch_loss"][-1] < history["epoch_loss"][0]
    result = evaluate(model, losses.vae_loss, x, batch_size=128, device="cpu")
    manual = [losses.vae_loss(model, x[i:i + 128])[0].item() * len(x[i:i + 128]) for i in range(0, 500, 128)]
    assert result["loss"] == pytest.approx(sum(manual) / 500, rel=0.05)  # one random z per example each time


def test_mnist_is_the_bundled_digits():
    x, y = data.mnist("train")
    xt, yt = data.mnist("test", flatten=True)
    assert x.shape == (4500, 1, 28, 28) and xt.shape == (500, 784)
    assert 0 <= float(x.min()) and float(x.max()) == 1.0
    assert torch.bincount(torch.cat([y, yt])).tolist() == [500] * 10
    train_set = {tuple(r.tolist()) for r in x.flatten(1)[:500]}
    assert not any(tuple(r.tolist()) in train_set for r in xt)
    xs, _ = data.mnist("all", value_range=(-1, 1))
    assert float(xs.min()) == -1.0 and len(xs) == 5000


@pytest.mark.parametrize("call, error, name", [
    (lambda: losses.gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 3)), ValueError, "logvar"),
    (lambda: losses.bce_reconstruction(torch.zeros(3, 4), torch.zeros(3, 5)), ValueError, "logits"),
    (lambda: losses.negative_elbo(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 2), torch.zeros(2, 2), beta=-1),
     ValueError, "beta"),
    (lambda: losses.iwae_bound(models.mlp_vae(), torch.rand(2, 1, 28, 28), k=0), ValueError, "k"),
    (lambda: models.reparameterize(torch.zeros(2, 3), torch.zeros(2, 2)), ValueError, "logvar"),
    (lambda: models.mlp([5]), ValueError, "sizes"),
    (lambda: data.mnist("validation"), ValueError, "split"),
    (lambda: train(models.mlp_vae(), losses.vae_loss, [1, 2, 3], progress=False), TypeError, "data"),
    (lambda: models.mlp_vae().encode(torch.zeros(3, dtype=torch.long)), TypeError, "x"),
])
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=rf"\b{name}\b"):
        call()


def test_pca_matches_numpy_eigendecomposition_and_reconstructs():
    import numpy as np
    from genedu import pca

    x, _ = data.mnist("test", flatten=True)
    mean, components, variances = pca.pca(x.double(), k=10)
    centred = (x.double() - x.double().mean(0)).numpy()
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / len(x))
    top = eigenvectors[:, ::-1][:, :10]
    np.testing.assert_allclose(variances.numpy(), eigenvalues[::-1][:10], rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(top * components.numpy().T, axis=0)), 1, atol=1e-6)  # same axes up to sign
    recon = pca.pca_reconstruct(x.double(), mean, components)
    # the mean squared reconstruction error is the variance left in the discarded directions
    err = ((recon - x.double()) ** 2).sum(1).mean()
    torch.testing.assert_close(err.item(), float(eigenvalues[::-1][10:].sum()), rtol=1e-6, atol=0)


def test_principal_angles():
    from genedu import pca

    a = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    mix = torch.randn(3, 3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(pca.principal_angles(a, a @ mix), torch.ones(3))  # same span, other basis
    e = torch.eye(4)
    torch.testing.assert_close(pca.principal_angles(e[:, :2], e[:, 2:]), torch.zeros(2))  # orthogonal spans


def test_interpolate_endpoints_and_spacing():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    path = models.interpolate(z0, z1, 5)
    assert path.shape == (5, 2)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path[1:] - path[:-1], ((z1 - z0) / 4).expand(4, 2))


@pytest.mark.parametrize("build", [lambda h: models.mlp_autoencoder(hidden=h), lambda h: models.mlp_vae(hidden=h)])
def test_hidden_is_a_sequence_of_widths_with_a_clear_error_for_an_int(build):
    with pytest.raises(TypeError, match=r"hidden must be a sequence of widths, e\.g\. \(64,\)"):
        build(64)
    with pytest.raises(ValueError, match=r"hidden\[i\]"):
        build((64, 0))


def test_loss_curves_labels_name_the_legend_entries_and_must_match_the_keys():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from genedu.plot import figures
    history = {"epoch_loss": [3.0, 2.0], "kl": [1.0, 0.5]}
    ax = figures.loss_curves(history, keys=("epoch_loss", "kl"), labels=("negative ELBO", "KL"))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["negative ELBO", "KL"]
    assert list(ax.get_lines()[1].get_ydata()) == [1.0, 0.5]
    ax = figures.loss_curves(history, keys=("epoch_loss", "kl"))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["epoch_loss", "kl"]
    with pytest.raises(ValueError, match="labels"):
        figures.loss_curves(history, keys=("epoch_loss", "kl"), labels=("one",))
    plt.close("all")


# --- the conditional VAE -----------------------------------------------------------------------------------

def test_conditional_vae_adds_the_labels_column_of_each_linear_layer():
    """With linear networks, [v, one_hot(y)] @ W.T adds column y of W's label block: an independent reading
    of the concatenation."""
    torch.manual_seed(0)
    enc, dec = nn.Linear(6 + 3, 4), nn.Linear(2 + 3, 6)
    model = models.ConditionalVAE(enc, dec, latent_dim=2, n_classes=3)
    x, y = torch.rand(5, 6), torch.tensor([0, 2, 1, 2, 0])
    mu, logvar = model.encode(x, y)
    h = x @ enc.weight[:, :6].T + enc.weight[:, 6:].T[y] + enc.bias
    torch.testing.assert_close(mu, h[:, :2])
    torch.testing.assert_close(logvar, h[:, 2:])
    z = torch.randn(5, 2)
    torch.testing.assert_close(model.decode(z, y), z @ dec.weight[:, :2].T + dec.weight[:, 2:].T[y] + dec.bias)
    logits, mu2, logvar2 = model(x, y, generator=torch.Generator().manual_seed(1))
    eps = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits, model.decode(mu + (0.5 * logvar).exp() * eps, y))


def test_mlp_cvae_shapes_and_samples():
    model = models.mlp_cvae(latent_dim=3, n_classes=10, hidden=(32,), image_shape=(1, 28, 28))
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    logits, mu, logvar = model(x, y)
    assert logits.shape == (4, 1, 28, 28) and mu.shape == logvar.shape == (4, 3)
    y = torch.arange(10).repeat(2)
    images = model.sample(y, generator=torch.Generator().manual_seed(0))
    assert images.shape == (20, 1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
    torch.testing.assert_close(images, model.sample(y, generator=torch.Generator().manual_seed(0)))
    assert not images.requires_grad


@pytest.mark.parametrize("y, message", [(torch.tensor([0.0, 1.0]), "integer tensor"),
                                         (torch.tensor([0, 10]), "0 .. n_classes - 1 = 9"),
                                         (torch.tensor([0, -1]), "0 .. n_classes - 1"),
                                         (torch.tensor([0, 1, 2]), "one label per example")])
def test_conditional_vae_rejects_bad_labels(y, message):
    model = models.mlp_cvae(latent_dim=2, hidden=(8,), image_shape=(4,))
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        model(torch.rand(2, 4), y)
