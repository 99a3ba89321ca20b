"""Tests of the chapter 2 exercise checks (genedu.checks.ch02).

Correct answers written differently pass with one line, with the defaults and the hidden tests' seeds and sizes
of solutions/ch02_autoencoders; the wrong answers students typically write fail with the check's explanation;
answers that call genedu's own implementation are refused. No correct answer here calls genedu.pca / losses /
models.mlp_autoencoder.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genedu import losses, models, pca as gpca
from genedu.checks.ch02 import (check_bce_reconstruction, check_build_autoencoder, check_denoising_loss, check_pca,
                                check_pca_reconstruct, check_train_autoencoder)
from genedu.models import Autoencoder

PCA_CASES = [{}, dict(seed=101, n=500, dim=20, k=5), dict(seed=102, n=40, dim=6, k=1), dict(seed=103, n=12, dim=30, k=4)]
RECON_CASES = [{}, dict(seed=201, n=100, dim=12, k=1), dict(seed=202, n=7, dim=5, k=5)]
BCE_CASES = [{}, dict(seed=301, batch=1, size=28), dict(seed=302, batch=50, size=3)]
BUILD_CASES = [{}, dict(seed=401, latent_dim=3, hidden=(32,), image_shape=(1, 8, 8)),
               dict(seed=402, latent_dim=5, hidden=(), image_shape=(1, 6, 6)),
               dict(seed=403, latent_dim=4, hidden=(40, 30, 20), image_shape=(1, 10, 10))]
TRAIN_CASES = [{}, dict(seed=501, latent_dim=4, hidden=48)]
DAE_CASES = [{}, dict(seed=601, batch=3000, shape=(1, 4, 4), sigma=0.3), dict(seed=602, batch=5000, shape=(1,), sigma=2.0)]


def _ids(cases):
    return [",".join(f"{k}={v}" for k, v in c.items()) or "default" for c in cases]


# --- correct answers ----------------------------------------------------------------------------

def pca_svd(x, k):
    mean = x.mean(dim=0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k], s[:k] ** 2 / x.shape[0]


def pca_eigh(x, k):
    mean = x.double().mean(dim=0)
    c = x.double() - mean
    evals, evecs = torch.linalg.eigh(c.T @ c / len(x))
    return mean, -evecs[:, -k:].flip(1).T, evals[-k:].flip(0)   # the opposite sign is fine


def pca_numpy(x, k):
    a = x.numpy().astype(np.float64)
    mean = a.mean(axis=0)
    _, s, vt = np.linalg.svd(a - mean, full_matrices=False)
    return torch.from_numpy(mean), torch.from_numpy(vt[:k]), torch.from_numpy(s[:k] ** 2 / len(a))


def recon_ref(x, mean, components):
    return mean + (x - mean) @ components.T @ components


def recon_loop(x, mean, components):
    out = []
    for row in x:
        c = row - mean
        out.append(mean + sum((c @ v) * v for v in components))
    return torch.stack(out)


def bce_ref(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def bce_softplus(logits, x):
    return (F.softplus(logits) - x * logits).sum(dim=(1, 2, 3))


def bce_reshape(logits, x):
    return -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).reshape(len(x), -1).sum(-1)


def _layers(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


def build_ref(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    return Autoencoder(nn.Sequential(nn.Flatten(), *_layers(sizes)),
                       nn.Sequential(*_layers(sizes[::-1]), nn.Unflatten(1, tuple(image_shape))))


class CustomAE(nn.Module):
    """Written as a module of its own, with functional activations (leaky ReLU) and a ModuleList."""

    def __init__(self, latent_dim, hidden, image_shape):
        super().__init__()
        sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        back = sizes[::-1]
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back[:-1], back[1:]))
        self.image_shape = tuple(image_shape)

    def encode(self, x):
        h = x.reshape(len(x), -1)
        for i, layer in enumerate(self.enc):
            h = layer(h)
            if i < len(self.enc) - 1:
                h = F.leaky_relu(h)
        return h

    def decode(self, z):
        h = z
        for i, layer in enumerate(self.dec):
            h = layer(h)
            if i < len(self.dec) - 1:
                h = F.leaky_relu(h)
        return h.reshape(len(z), *self.image_shape)

    def forward(self, x):
        return self.decode(self.encode(x))


def build_custom(latent_dim, hidden, image_shape=(1, 28, 28)):
    return CustomAE(latent_dim, hidden, image_shape)


def train_ref(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        batch_losses = []
        for i in range(0, len(x), batch_size):
            xb = x[perm[i:i + batch_size]]
            loss = losses.bce_reconstruction(model(xb), xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        history.append(sum(batch_losses) / len(batch_losses))
    return history


def train_dataloader(model, x, epochs, batch_size=128, lr=1e-3):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = torch.zeros(epochs)
    for e in range(epochs):
        for (xb,) in loader:
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(model(xb), xb, reduction="sum") / len(xb)
            loss.backward()
            opt.step()
            history[e] += loss.item() / len(loader)
    return history  # a tensor is accepted too


def dae_ref(denoiser, x, sigma, generator=None):
    eps = torch.randn(x.shape, generator=generator)
    return ((denoiser(x + sigma * eps) - x) ** 2).flatten(1).sum(dim=1).mean()


def dae_mse(denoiser, x, sigma, generator=None):  # the plain mean over every entry (F.mse_loss), also accepted
    noisy = x + torch.randn(x.shape, generator=generator) * sigma
    return F.mse_loss(denoiser(noisy), x)


def dae_norm(denoiser, x, sigma, generator=None):  # the formula's squared norm, written with vector_norm
    x_noisy = torch.addcmul(x, torch.randn(x.shape, generator=generator), torch.tensor(sigma))
    return torch.linalg.vector_norm((denoiser(x_noisy) - x).reshape(len(x), -1), dim=1).square().mean()


CORRECT = [(check_pca, PCA_CASES, [pca_svd, pca_eigh, pca_numpy]),
           (check_pca_reconstruct, RECON_CASES, [recon_ref, recon_loop]),
           (check_bce_reconstruction, BCE_CASES, [bce_ref, bce_softplus, bce_reshape]),
           (check_build_autoencoder, BUILD_CASES, [build_ref, build_custom]),
           (check_train_autoencoder, TRAIN_CASES, [train_ref, train_dataloader]),
           (check_denoising_loss, DAE_CASES, [dae_ref, dae_mse, dae_norm])]


@pytest.mark.parametrize("check, answer, kwargs", [
    pytest.param(check, answer, case, id=f"{answer.__name__}-{cid}")
    for check, cases, answers in CORRECT for answer in answers for case, cid in zip(cases, _ids(cases))])
def test_correct_answer_passes_with_one_line(check, answer, kwargs, capsys):
    check(answer, **kwargs)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("[passed] "), out


# --- wrong answers ------------------------------------------------------------------------------

def _pca_wrong(transform):
    def answer(x, k):
        return transform(x, k)
    return answer


def p_not_centred(x, k):
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    return x.mean(0), vh[:k], s[:k] ** 2 / len(x)


def p_columns(x, k):
    m, v, s = pca_svd(x, k)
    return m, v.T, s


def p_vh_columns(x, k):
    m = x.mean(0)
    _, s, vh = torch.linalg.svd(x - m, full_matrices=False)
    return m, vh[:, :k].T, s[:k] ** 2 / len(x)


def p_eigh_ascending(x, k):
    m = x.mean(0)
    c = x - m
    evals, evecs = torch.linalg.eigh(c.T @ c / len(x))
    return m, evecs[:, :k].T, evals[:k]


def p_singular_values(x, k):
    m = x.mean(0)
    _, s, vh = torch.linalg.svd(x - m, full_matrices=False)
    return m, vh[:k], s[:k]


def p_unbiased(x, k):
    m, v, s = pca_svd(x, k)
    return m, v, s * len(x) / (len(x) - 1)


def p_u(x, k):
    m = x.mean(0)
    u, s, _ = torch.linalg.svd(x - m, full_matrices=False)
    return m, u[:, :k].T, s[:k] ** 2 / len(x)


def r_no_mean(x, mean, comps):
    return (x - mean) @ comps.T @ comps


def r_not_centred(x, mean, comps):
    return mean + x @ comps.T @ comps


def r_codes(x, mean, comps):
    return (x - mean) @ comps.T


def b_mean_pixels(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).mean(dim=1)


def b_batch_mean(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x)


def b_naive(logits, x):
    p = torch.sigmoid(logits)
    return -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)


def b_clamped(logits, x):
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)


def b_probabilities(logits, x):
    return F.binary_cross_entropy(logits, x, reduction="none").flatten(1).sum(1)


def b_double_sigmoid(logits, x):
    return bce_ref(torch.sigmoid(logits), x)


def b_sign(logits, x):
    return -bce_ref(logits, x)


def b_mse(logits, x):
    return ((torch.sigmoid(logits) - x) ** 2).flatten(1).sum(1)


def b_no_flatten(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=(2, 3))


def build_relu_bottleneck(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    enc = [nn.Flatten()]
    for a, b in zip(sizes[:-1], sizes[1:]):
        enc += [nn.Linear(a, b), nn.ReLU()]
    return Autoencoder(nn.Sequential(*enc), nn.Sequential(*_layers(sizes[::-1]), nn.Unflatten(1, tuple(image_shape))))


def build_sigmoid_out(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    return Autoencoder(nn.Sequential(nn.Flatten(), *_layers(sizes)),
                       nn.Sequential(*_layers(sizes[::-1]), nn.Sigmoid(), nn.Unflatten(1, tuple(image_shape))))


def build_no_activations(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    lin = lambda s: [nn.Linear(a, b) for a, b in zip(s[:-1], s[1:])]  # noqa: E731
    return Autoencoder(nn.Sequential(nn.Flatten(), *lin(sizes)),
                       nn.Sequential(*lin(sizes[::-1]), nn.Unflatten(1, tuple(image_shape))))


def build_decoder_not_reversed(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    dec = [latent_dim, *hidden, sizes[0]]
    return Autoencoder(nn.Sequential(nn.Flatten(), *_layers(sizes)),
                       nn.Sequential(*_layers(dec), nn.Unflatten(1, tuple(image_shape))))


def build_no_unflatten(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    return Autoencoder(nn.Sequential(nn.Flatten(), *_layers(sizes)), nn.Sequential(*_layers(sizes[::-1])))


def build_with_mlp(latent_dim, hidden, image_shape=(1, 28, 28)):
    sizes = [int(np.prod(image_shape)), *hidden, latent_dim]
    return Autoencoder(nn.Sequential(nn.Flatten(), models.mlp(sizes)),
                       nn.Sequential(models.mlp(sizes[::-1]), nn.Unflatten(1, tuple(image_shape))))


def t_no_zero_grad(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        ls = []
        for i in range(0, len(x), batch_size):
            xb = x[perm[i:i + batch_size]]
            loss = losses.bce_reconstruction(model(xb), xb).mean()
            loss.backward()
            opt.step()
            ls.append(loss.item())
        history.append(sum(ls) / len(ls))
    return history


def t_no_step(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        loss = losses.bce_reconstruction(model(x), x).mean()
        opt.zero_grad()
        loss.backward()
        history.append(loss.item())
    return history


def t_one_batch_per_epoch(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        xb = x[torch.randperm(len(x))[:batch_size]]
        loss = losses.bce_reconstruction(model(xb), xb).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


def t_no_shuffle(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        ls = []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            loss = losses.bce_reconstruction(model(xb), xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            ls.append(loss.item())
        history.append(sum(ls) / len(ls))
    return history


def t_per_step(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch_size):
            xb = x[perm[i:i + batch_size]]
            loss = losses.bce_reconstruction(model(xb), xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(loss.item())
    return history


def t_sum_recorded(model, x, epochs, batch_size=128, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), batch_size):
            xb = x[perm[i:i + batch_size]]
            loss = losses.bce_reconstruction(model(xb), xb).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        history.append(total)
    return history


def t_library(model, x, epochs, batch_size=128, lr=1e-3):
    from genedu import train
    return train.train(model, lambda m, xb: losses.bce_reconstruction(m(xb), xb).mean(), x, epochs=epochs,
                       batch_size=batch_size, lr=lr, progress=False)["epoch_loss"]


def _dae(noise=lambda x, sigma, g: sigma * torch.randn(x.shape, generator=g), target="clean",
         reduce=lambda e: e.flatten(1).sum(1).mean(), calls=1, error=lambda a, b: (a - b) ** 2):
    """A denoising loss with one thing changed."""
    def answer(denoiser, x, sigma, generator=None):
        x_noisy = x + noise(x, sigma, generator)
        for _ in range(calls - 1):
            denoiser(x_noisy)
        out = denoiser(x_noisy)
        goal = {"clean": x, "noisy": x_noisy, "noise": (x_noisy - x) / sigma}[target]
        return reduce(error(out, goal))
    return answer


d_variance = _dae(noise=lambda x, sigma, g: sigma ** 2 * torch.randn(x.shape, generator=g))
d_unscaled = _dae(noise=lambda x, sigma, g: torch.randn(x.shape, generator=g))
d_uniform = _dae(noise=lambda x, sigma, g: sigma * torch.rand(x.shape, generator=g))
d_unseeded = _dae(noise=lambda x, sigma, g: sigma * torch.randn(x.shape))
d_no_noise = _dae(noise=lambda x, sigma, g: torch.zeros_like(x))
d_noisy_target = _dae(target="noisy")
d_noisy_target_mean = _dae(target="noisy", reduce=lambda e: e.mean())
d_noise_target = _dae(target="noise")
d_sum_batch = _dae(reduce=lambda e: e.sum())
d_per_example = _dae(reduce=lambda e: e.flatten(1).sum(1))
d_abs = _dae(error=lambda a, b: (a - b).abs())
d_sign = _dae(error=lambda a, b: (a + b) ** 2)
d_half = _dae(reduce=lambda e: 0.5 * e.flatten(1).sum(1).mean())
d_detached = _dae(reduce=lambda e: e.flatten(1).sum(1).mean().detach())
d_twice = _dae(calls=2)


WRONG = [
    (check_pca, p_not_centred, "did not subtract the mean"),
    (check_pca, p_columns, "components are columns"),
    (check_pca, p_vh_columns, "columns of Vh"),
    (check_pca, p_eigh_ascending, "directions of small variance"),
    (check_pca, p_singular_values, "singular values S"),
    (check_pca, p_unbiased, "N - 1"),
    (check_pca, p_u, "left-singular vectors"),
    (check_pca, lambda x, k: gpca.pca(x, k), "reference implementation"),
    (check_pca_reconstruct, r_no_mean, "mean is missing"),
    (check_pca_reconstruct, r_not_centred, "instead of x - mu"),
    (check_pca_reconstruct, r_codes, "these are the codes"),
    (check_pca_reconstruct, gpca.pca_reconstruct, "reference implementation"),
    (check_bce_reconstruction, b_mean_pixels, "averaged over the pixels"),
    (check_bce_reconstruction, b_batch_mean, "reduced over the batch"),
    (check_bce_reconstruction, b_naive, "large logits"),
    (check_bce_reconstruction, b_clamped, "clamping the probabilities"),
    (check_bce_reconstruction, b_probabilities, "expects probabilities"),
    (check_bce_reconstruction, b_double_sigmoid, "sigmoid twice"),
    (check_bce_reconstruction, b_sign, "sign is flipped"),
    (check_bce_reconstruction, b_mse, "squared error of sigmoid"),
    (check_bce_reconstruction, b_no_flatten, "sum over the channel"),
    (check_bce_reconstruction, lambda lg, x: losses.bce_reconstruction(lg, x), "reference implementation"),
    (check_build_autoencoder, build_relu_bottleneck, "passes through a ReLU"),
    (check_build_autoencoder, build_sigmoid_out, "Return logits"),
    (check_build_autoencoder, build_no_activations, "linear (affine)"),
    (check_build_autoencoder, build_decoder_not_reversed, "in reverse"),
    (check_build_autoencoder, build_no_unflatten, "nn.Unflatten"),
    (check_build_autoencoder, build_with_mlp, "genedu.models.mlp"),
    (check_build_autoencoder, lambda l, h, s=(1, 28, 28): models.mlp_autoencoder(l, h, s), "reference implementation"),
    (check_train_autoencoder, t_no_zero_grad, "zero_grad"),
    (check_train_autoencoder, t_no_step, "did not change"),
    (check_train_autoencoder, t_one_batch_per_epoch, "every batch of every epoch"),
    (check_train_autoencoder, t_no_shuffle, "shuffle"),
    (check_train_autoencoder, t_per_step, "one per step"),
    (check_train_autoencoder, t_sum_recorded, "not the sum"),
    (check_train_autoencoder, t_library, "reference implementation"),
    (check_denoising_loss, d_variance, "standard deviation is sigma\\^2"),
    (check_denoising_loss, d_unscaled, "not scaled by sigma"),
    (check_denoising_loss, d_uniform, "the noise is uniform"),
    (check_denoising_loss, d_unseeded, "identically seeded generators"),
    (check_denoising_loss, d_no_noise, "given the clean x"),
    (check_denoising_loss, d_noisy_target, "target is the clean x, not the corrupted input"),
    (check_denoising_loss, d_noisy_target_mean, "target is the clean x, not the corrupted input"),
    (check_denoising_loss, d_noise_target, "not of the noise"),
    (check_denoising_loss, d_sum_batch, "summed over the batch too"),
    (check_denoising_loss, d_per_example, "one loss per example"),
    (check_denoising_loss, d_abs, "absolute error"),
    (check_denoising_loss, d_sign, "sign is flipped"),
    (check_denoising_loss, d_half, "factor 1/2"),
    (check_denoising_loss, d_detached, "carries no gradient"),
    (check_denoising_loss, d_twice, "called 2 times"),
    (check_denoising_loss, lambda d, x, sigma, generator=None: losses.denoising_loss(d, x, sigma, generator),
     "reference implementation"),
]


@pytest.mark.parametrize("check, answer, phrase", WRONG,
                         ids=[f"{c.__name__[6:]}-{getattr(a, '__name__', 'lambda')}-{i}" for i, (c, a, _) in enumerate(WRONG)])
def test_wrong_answer_fails_with_its_explanation(check, answer, phrase, capsys):
    with pytest.raises(AssertionError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        check(answer)
    assert "[passed]" not in capsys.readouterr().out


@pytest.mark.parametrize("check", [c for c, _, _ in CORRECT])
def test_not_implemented_is_readable(check):
    def stub(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(AssertionError, match="not implemented yet"):
        check(stub)


def test_patching_torch_comparisons_does_not_help(monkeypatch):
    monkeypatch.setattr(torch, "isclose", lambda a, b, *r, **k: torch.ones(torch.as_tensor(a).shape, dtype=torch.bool))
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    with pytest.raises(AssertionError, match="sign is flipped"):
        check_bce_reconstruction(b_sign)


def test_replacing_the_reference_after_import(monkeypatch):
    monkeypatch.setattr(gpca, "pca", p_not_centred)
    with pytest.raises(AssertionError, match="did not subtract the mean"):
        check_pca(lambda x, k: gpca.pca(x, k))


def _notebook(source: str) -> dict:
    """A namespace like a notebook's: the answers look their helpers up in it."""
    namespace = {"torch": torch, "F": F, "nn": nn}
    exec(source, namespace)
    return namespace


def test_the_training_check_uses_a_correct_bce_reconstruction():
    """Exercise 5 uses the notebook's bce_reconstruction (exercise 3): the check runs the loop with a
    correct one, so a wrong exercise 3 does not cost exercise 5 too; the notebook's is put back."""
    notebook = _notebook('''
def bce_reconstruction(logits, x):
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)  # sign flipped

def train_autoencoder(model, x, epochs, batch_size=128, lr=1e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            xb = x[perm[start:start + batch_size]]
            loss = bce_reconstruction(model(xb), xb).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(sum(losses) / len(losses))
    return history
''')
    wrong = notebook["bce_reconstruction"]
    check_train_autoencoder(notebook["train_autoencoder"])
    assert notebook["bce_reconstruction"] is wrong


def test_a_model_of_the_notebooks_own_classes_is_inspected_where_it_was_built():
    notebook = _notebook('''
class Encoder(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        h = x.flatten(1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h


class AE(nn.Module):
    def __init__(self, sizes, shape):
        super().__init__()
        self.enc, self.dec, self.shape = Encoder(sizes), Encoder(sizes[::-1]), tuple(shape)

    def encode(self, x):
        return self.enc(x)

    def decode(self, z):
        return self.dec(z).reshape(len(z), *self.shape)

    def forward(self, x):
        return self.decode(self.encode(x))


def build_autoencoder(latent_dim, hidden, image_shape=(1, 28, 28)):
    d = 1
    for s in image_shape:
        d *= s
    return AE([d, *hidden, latent_dim], image_shape)
''')
    for kwargs in BUILD_CASES:
        check_build_autoencoder(notebook["build_autoencoder"], **kwargs)


def test_the_checks_own_expected_pca_is_refused():
    """The module's own computation of the expected values is a reference too (and is not in the
    grader's sandbox: REFERENCES)."""
    from genedu.checks import ch02
    assert "genedu.checks.ch02._expected_pca" in ch02.REFERENCES
    with pytest.raises(AssertionError, match="reference implementation"):
        check_pca(lambda x, k: tuple(t.float() for t in ch02._expected_pca(x, k)[:3]))
