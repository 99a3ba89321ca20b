"""The chapter 3 checks: correct answers written differently pass; the wrong answers students
write fail with the check's explanation; every mistake gaussian_kl and negative_elbo recognise
produces its message."""
from __future__ import annotations

import functools
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from genedu import losses, models
from genedu.checks._core import CheckFailed
from genedu.checks.ch03 import (check_cvae_forward, check_gaussian_kl, check_iwae_bound, check_negative_elbo,
                                check_reparameterize, check_vae_forward)

# --- correct answers, written in different ways ----------------------------------------------------


def rep_ref(mu, logvar, generator=None):
    return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)


def rep_sqrt(mu, logvar, generator=None):
    eps = torch.empty_like(mu).normal_(generator=generator)
    return eps * logvar.exp().sqrt() + mu


def kl_ref(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)


def kl_std(mu, logvar):
    std = torch.exp(logvar / 2)
    return (-torch.log(std) + (std**2 + mu**2) / 2 - 0.5).sum(-1)


def kl_einsum(mu, logvar):
    return -0.5 * torch.einsum("bd->b", 1 + logvar - mu.pow(2) - logvar.exp())


def elbo_ref(logits, x, mu, logvar, beta=1.0):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
    return (recon + beta * kl).mean(), recon.mean(), kl.mean()


def elbo_sum_then_divide(logits, x, mu, logvar, beta=1.0):
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
    return recon + beta * kl, recon, kl


def elbo_logsigmoid(logits, x, mu, logvar, beta=1.0):
    log_p = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)
    recon = -log_p.reshape(len(x), -1).sum(-1).mean()
    kl = kl_std(mu, logvar).mean()
    return recon + beta * kl, recon, kl


def fwd_ref(model, x, generator=None):
    mu, logvar = model.encode(x)
    return model.decode(models.reparameterize(mu, logvar, generator)), mu, logvar


def fwd_own(model, x, generator=None):
    h = model.encoder(x)
    mu, logvar = h[:, :model.latent_dim], h[:, model.latent_dim:]
    eps = torch.randn(mu.shape, generator=generator)
    return model.decoder(mu + eps * (0.5 * logvar).exp()), mu, logvar


def cvae_ref(model, x, y, generator=None):
    one_hot = F.one_hot(y, model.n_classes).to(x.dtype)
    mu, logvar = model.encoder(torch.cat([x.flatten(1), one_hot], dim=1)).chunk(2, dim=1)
    z = models.reparameterize(mu, logvar, generator)
    return model.decoder(torch.cat([z, one_hot], dim=1)), mu, logvar


def cvae_eye(model, x, y, generator=None):  # one-hot by indexing an identity, slices, own sampling, hstack
    labels = torch.eye(model.n_classes)[y]
    h = model.encoder(torch.hstack([x.reshape(len(x), -1), labels]))
    mu, logvar = h[:, :model.latent_dim], h[:, model.latent_dim:]
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)
    return model.decoder(torch.hstack([z, labels])), mu, logvar


def _log_weights(model, x, k, generator, q_from_z=False):
    mu, logvar = model.encode(x)
    b, d = mu.shape
    eps = torch.randn(k, b, d, generator=generator)
    z = mu + (0.5 * logvar).exp() * eps
    logits = model.decode(z.reshape(k * b, d)).reshape(k, *x.shape)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape), reduction="none").flatten(2).sum(-1)
    log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
    if q_from_z:
        log_qz = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    else:
        log_qz = (-0.5 * eps**2 - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(-1)
    return log_px_z, log_pz, log_qz


def iw_ref(model, x, k, generator=None):
    with torch.no_grad():
        a, b, c = _log_weights(model, x, k, generator)
        return torch.logsumexp(a + b - c, 0) - math.log(k)


def iw_maxshift(model, x, k, generator=None):  # log-mean-exp by hand, with Normal.log_prob for q
    with torch.no_grad():
        a, b, c = _log_weights(model, x, k, generator, q_from_z=True)
        lw = a + b - c
        m = lw.max(0).values
        return m + torch.log(torch.exp(lw - m).mean(0))


CORRECT = [
    (check_reparameterize, rep_ref), (check_reparameterize, rep_sqrt),
    (check_gaussian_kl, kl_ref), (check_gaussian_kl, kl_std), (check_gaussian_kl, kl_einsum),
    (check_negative_elbo, elbo_ref), (check_negative_elbo, elbo_sum_then_divide), (check_negative_elbo, elbo_logsigmoid),
    (check_vae_forward, fwd_ref), (check_vae_forward, fwd_own),
    (check_cvae_forward, cvae_ref), (check_cvae_forward, cvae_eye),
    (check_iwae_bound, iw_ref), (check_iwae_bound, iw_maxshift),
]


@pytest.mark.parametrize("check, answer", CORRECT, ids=[f"{c.__name__}-{a.__name__}" for c, a in CORRECT])
def test_correct_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith("[passed]")


@pytest.mark.parametrize("seed", [1, 7, 101, 102])
def test_correct_answers_pass_on_other_seeds(seed, capsys):
    check_reparameterize(rep_sqrt, seed=seed, n=4000, dim=6)
    check_gaussian_kl(kl_std, seed=seed, batch=4, dim=4)
    check_negative_elbo(elbo_sum_then_divide, seed=seed, batch=1, image_shape=(1, 28, 28), dim=20, beta=0.5)
    check_vae_forward(fwd_own, seed=seed, n=3000, pixels=4, latent_dim=1)
    check_cvae_forward(cvae_eye, seed=seed, n=4000, image_shape=(1, 4, 4), latent_dim=2, n_classes=10)
    check_iwae_bound(iw_maxshift, seed=seed, k=10, repeats=400)
    assert capsys.readouterr().out.count("[passed]") == 6


# --- the hidden tests of the notebook pass the solution on every seed they use ---------------------

def test_hidden_test_arguments_pass(capsys):
    for seed, n, dim in ((101, 8000, 1), (102, 4000, 6)):
        check_reparameterize(rep_ref, seed=seed, n=n, dim=dim)
    for seed, b, d in ((201, 1, 2), (202, 64, 20), (203, 4, 4)):
        check_gaussian_kl(kl_ref, seed=seed, batch=b, dim=d)
    check_negative_elbo(elbo_ref, seed=301, batch=1, image_shape=(1, 28, 28), dim=20, beta=0.5)
    check_negative_elbo(elbo_ref, seed=302, batch=32, image_shape=(7,), dim=2, beta=2.0)
    check_vae_forward(fwd_ref, seed=401, n=4000, pixels=10, latent_dim=2)
    check_vae_forward(fwd_ref, seed=402, n=3000, pixels=4, latent_dim=1)
    check_cvae_forward(cvae_ref, seed=501, n=5000, image_shape=(1, 4, 4), latent_dim=2, n_classes=10)
    check_cvae_forward(cvae_ref, seed=502, n=4000, image_shape=(9,), latent_dim=4, n_classes=3)
    check_iwae_bound(iw_ref, seed=601, k=10, repeats=400)
    check_iwae_bound(iw_ref, seed=602, k=100, repeats=200)
    assert capsys.readouterr().out.count("[passed]") == 13


# --- gaussian_kl: every recognised mistake produces its message --------------------------------------

KL_MISTAKES = [
    (lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 1 - 2 * lv).sum(1), "log standard deviation"),
    (lambda mu, lv: (mu**2 + lv.exp() - 1 - lv).sum(1), "factor 1/2 is missing"),
    (lambda mu, lv: -0.5 * (mu**2 + lv.exp() - 1 - lv).sum(1), "sign is flipped"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).mean(1), "averaged over the latent dimensions"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(1), "-1 in each term is missing"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 + lv).sum(1), "enters with a minus sign"),
    (lambda mu, lv: 0.5 * (lv.exp() - 1 - lv).sum(1), "mu^2 term is missing"),
    (lambda mu, lv: 0.5 * (mu**2 + (0.5 * lv).exp() - 1 - lv).sum(1), "sigma where sigma^2 belongs"),
    (lambda mu, lv: 0.5 * ((1 + mu**2) / lv.exp() - 1 + lv).sum(1), "reverse direction"),
    # shapes
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(0), "summed over the batch (dim=0)"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(), "reduced to one number"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(1).mean(), "reduced to one number"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv), "per-dimension terms"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(1, keepdim=True), "without keepdim"),
]


@pytest.mark.parametrize("answer, message", KL_MISTAKES, ids=[m for _, m in KL_MISTAKES])
def test_gaussian_kl_mistakes_are_named(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_gaussian_kl(answer)


def test_gaussian_kl_summed_over_batch_with_square_inputs():
    """When batch == dim the shape cannot tell: the value does."""
    with pytest.raises(CheckFailed, match=re.escape("summed over the batch (dim=0)")):
        check_gaussian_kl(lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(0), batch=4, dim=4)


# --- negative_elbo: every recognised mistake produces its message ------------------------------------

def _bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1)


def _kl(mu, lv):
    return 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(1)


def _elbo(recon_fn=None, kl_fn=None, loss_fn=None):
    """A negative_elbo built from (possibly wrong) pieces: recon_fn(logits, x) and kl_fn(mu, lv) give the
    returned recon and kl; loss_fn(recon_b, kl_b, beta) the loss from per-example terms."""
    def answer(logits, x, mu, logvar, beta=1.0):
        recon_b, kl_b = _bce(logits, x).sum(1), _kl(mu, logvar)
        recon = recon_fn(logits, x) if recon_fn else recon_b.mean()
        kl = kl_fn(mu, logvar) if kl_fn else kl_b.mean()
        loss = loss_fn(recon_b, kl_b, beta) if loss_fn else (recon_b + beta * kl_b).mean()
        return loss, recon, kl
    return answer


ELBO_MISTAKES = [
    # reconstruction term
    (_elbo(recon_fn=lambda l, x: _bce(l, x).mean(1).mean()), "averaged over the pixels"),
    (_elbo(recon_fn=lambda l, x: F.binary_cross_entropy_with_logits(l, x)), "averaged over the pixels"),
    (_elbo(recon_fn=lambda l, x: _bce(l, x).sum()), "summed over the batch"),
    (_elbo(recon_fn=lambda l, x: -_bce(l, x).sum(1).mean()), "the reconstruction term is the negative log-likelihood"),
    (_elbo(recon_fn=lambda l, x: ((l.sigmoid() - x) ** 2).flatten(1).sum(1).mean()), "squared error"),
    (_elbo(recon_fn=lambda l, x: _bce(l.sigmoid(), x).sum(1).mean()), "sigmoid twice"),
    # KL term
    (_elbo(kl_fn=lambda mu, lv: _kl(mu, lv).sum()), "summed the KL over the batch"),
    (_elbo(kl_fn=lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).mean()), "averaged the KL over the latent"),
    (_elbo(kl_fn=lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 1 - 2 * lv).sum(1).mean()), "log standard deviation"),
    (_elbo(kl_fn=lambda mu, lv: 2 * _kl(mu, lv).mean()), "factor 1/2 of the KL is missing"),
    (_elbo(kl_fn=lambda mu, lv: -_kl(mu, lv).mean()), "KL has the wrong sign"),
    # the loss
    (_elbo(loss_fn=lambda r, k, beta: -(r + beta * k).mean()), "return the *negative* ELBO"),
    (_elbo(loss_fn=lambda r, k, beta: (r - beta * k).mean()), "the KL is added, not subtracted"),
    (_elbo(loss_fn=lambda r, k, beta: (beta * r + k).mean()), "beta multiplies the KL term"),
    (_elbo(loss_fn=lambda r, k, beta: (r + k).mean()), "beta is missing"),
    (_elbo(loss_fn=lambda r, k, beta: (r + beta * k).sum()), "you summed over the batch"),
    (_elbo(loss_fn=lambda r, k, beta: r.mean()), "KL term is missing from the loss"),
    (_elbo(loss_fn=lambda r, k, beta: (r / 25 + beta * k).mean()), "averaged the reconstruction term over the pixels"),
]


@pytest.mark.parametrize("answer, message", ELBO_MISTAKES, ids=[m for _, m in ELBO_MISTAKES])
def test_negative_elbo_mistakes_are_named(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_negative_elbo(answer)


def test_negative_elbo_kl_with_beta_inside():
    def answer(logits, x, mu, logvar, beta=1.0):
        r, k = _bce(logits, x).sum(1), beta * _kl(mu, logvar)
        return (r + k).mean(), r.mean(), k.mean()
    with pytest.raises(CheckFailed, match="beta multiplies it only inside the loss"):
        check_negative_elbo(answer)


def test_negative_elbo_wrong_default_beta():
    def answer(logits, x, mu, logvar, beta=4.0):
        return elbo_ref(logits, x, mu, logvar, beta)
    with pytest.raises(CheckFailed, match="default of beta should be 1.0"):
        check_negative_elbo(answer)


def test_negative_elbo_per_example_values():
    def answer(logits, x, mu, logvar, beta=1.0):
        r, k = _bce(logits, x).sum(1), _kl(mu, logvar)
        return r + beta * k, r, k
    with pytest.raises(CheckFailed, match=r"return batch means"):
        check_negative_elbo(answer)


def test_negative_elbo_detached():
    def answer(logits, x, mu, logvar, beta=1.0):
        return tuple(t.detach() for t in elbo_ref(logits, x, mu, logvar, beta))
    with pytest.raises(CheckFailed, match="carries no gradient"):
        check_negative_elbo(answer)


def test_negative_elbo_item_is_refused():
    def answer(logits, x, mu, logvar, beta=1.0):
        return tuple(t.item() for t in elbo_ref(logits, x, mu, logvar, beta))
    with pytest.raises(CheckFailed, match="should be a torch.Tensor, got float"):
        check_negative_elbo(answer)


# --- reparameterize -----------------------------------------------------------------------------------

REP_WRONG = [
    (lambda mu, lv, generator=None: mu + lv.exp() * torch.randn(mu.shape, generator=generator), "log-variance as a log standard deviation"),
    (lambda mu, lv, generator=None: mu + torch.randn(mu.shape, generator=generator), "eps is not scaled"),
    (lambda mu, lv, generator=None: mu + lv * torch.randn(mu.shape, generator=generator), "used logvar itself"),
    (lambda mu, lv, generator=None: mu + 0.5 * lv.exp() * torch.randn(mu.shape, generator=generator), "belongs inside the exponential"),
    (lambda mu, lv, generator=None: (0.5 * lv).exp() * torch.randn(mu.shape, generator=generator), "centred at 0"),
    (lambda mu, lv, generator=None: mu + (0.5 * lv).exp() * torch.rand(mu.shape, generator=generator), "uniform"),
    (lambda mu, lv, generator=None: mu + (0.5 * lv).exp() * (torch.rand(mu.shape, generator=generator) - 0.5) * math.sqrt(12),
     "a Gaussian has 68.3 %"),
    (lambda mu, lv, generator=None: mu + (0.5 * lv).exp() * torch.randn(mu.shape[1], generator=generator), "same z"),
    (lambda mu, lv, generator=None: Normal(mu, (0.5 * lv).exp()).sample(), "carries no gradient"),
    (lambda mu, lv, generator=None: (mu + (0.5 * lv).exp() * torch.randn(mu.shape, generator=generator)).detach(), "carries no gradient"),
    (lambda mu, lv, generator=None: mu + (0.5 * lv).exp().detach() * torch.randn(mu.shape, generator=generator), "no gradient reaches logvar"),
    (lambda mu, lv, generator=None: mu + (0.5 * lv).exp() * torch.randn(mu.shape), "identically seeded"),
    (lambda mu, lv, generator=None: mu[0] + (0.5 * lv[0]).exp() * torch.randn(mu.shape[1], generator=generator), "single z"),
]


@pytest.mark.parametrize("answer, message", REP_WRONG, ids=[m for _, m in REP_WRONG])
def test_reparameterize_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_reparameterize(answer)


# --- vae_forward --------------------------------------------------------------------------------------

def _fwd(sample):
    def answer(model, x, generator=None):
        mu, logvar = model.encode(x)
        return sample(model, mu, logvar, generator)
    return answer


FWD_WRONG = [
    (_fwd(lambda m, mu, lv, g: (m.decode(mu), mu, lv)), "you decoded the mean"),
    (_fwd(lambda m, mu, lv, g: (torch.sigmoid(m.decode(models.reparameterize(mu, lv, g))), mu, lv)), "return the logits"),
    (_fwd(lambda m, mu, lv, g: (m.decode(models.reparameterize(mu, lv, g)), lv, mu)), "mu and logvar are swapped"),
    (_fwd(lambda m, mu, lv, g: (m.decode(mu + lv.exp() * torch.randn(mu.shape, generator=g)), mu, lv)), "log-std"),
    (_fwd(lambda m, mu, lv, g: (m.decode(mu + torch.randn(mu.shape, generator=g)), mu, lv)), "not scaled by sigma"),
    (_fwd(lambda m, mu, lv, g: (m.decode(models.reparameterize(mu, lv, g)).detach(), mu, lv)), "carry no gradient"),
    (_fwd(lambda m, mu, lv, g: (m.decode(mu + (0.5 * lv).exp().detach() * torch.randn(mu.shape, generator=g)), mu, lv)),
     "no gradient reaches the encoder's logvar"),
    (_fwd(lambda m, mu, lv, g: (m.decode(models.reparameterize(mu, lv)), mu, lv)), "identically seeded"),
    (_fwd(lambda m, mu, lv, g: (models.reparameterize(mu, lv, g), mu, lv)), "the size of z"),
]


@pytest.mark.parametrize("answer, message", FWD_WRONG, ids=[m for _, m in FWD_WRONG])
def test_vae_forward_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_vae_forward(answer)


# --- cvae_forward ---------------------------------------------------------------------------------------

def _cvae(encoder_input=None, decoder_input=None, sample=None, split=None, out=None):
    """A conditional forward pass with one thing changed."""
    def answer(model, x, y, generator=None):
        one_hot = F.one_hot(y, model.n_classes).to(x.dtype)
        enc_in = encoder_input(x, one_hot) if encoder_input else torch.cat([x.flatten(1), one_hot], 1)
        h = model.encoder(enc_in)
        mu, logvar = split(h) if split else h.chunk(2, dim=1)
        z = sample(mu, logvar, generator) if sample else models.reparameterize(mu, logvar, generator)
        dec_in = decoder_input(z, one_hot) if decoder_input else torch.cat([z, one_hot], 1)
        logits = model.decoder(dec_in)
        return out(logits, mu, logvar) if out else (logits, mu, logvar)
    return answer


CVAE_WRONG = [
    (_cvae(encoder_input=lambda x, c: torch.cat([c, x.flatten(1)], 1)), "the encoder's input has the label first"),
    (_cvae(encoder_input=lambda x, c: x.flatten(1)), "model.encoder expects [x flattened, one_hot(y)]"),
    (_cvae(encoder_input=lambda x, c: torch.cat([x.flatten(1), c.argmax(1, keepdim=True).to(x.dtype)], 1)),
     "model.encoder expects [x flattened, one_hot(y)]"),
    (_cvae(decoder_input=lambda z, c: torch.cat([c, z], 1)), "the decoder's input has the label first"),
    (_cvae(decoder_input=lambda z, c: z), "model.decoder expects [z, one_hot(y)]"),
    (_cvae(decoder_input=lambda z, c: torch.cat([z, torch.zeros_like(c)], 1)), "label part of the decoder's input"),
    (_cvae(decoder_input=lambda z, c: torch.cat([z, torch.full_like(c, 1 / c.shape[1])], 1)), "uniform label vector"),
    (_cvae(split=lambda h: h.chunk(2, dim=1)[::-1]), "mu and logvar are swapped"),
    (_cvae(sample=lambda mu, lv, g: mu), "z = mu"),
    (_cvae(sample=lambda mu, lv, g: mu + lv.exp() * torch.randn(mu.shape, generator=g)), "log-std"),
    (_cvae(sample=lambda mu, lv, g: mu + torch.randn(mu.shape, generator=g)), "not scaled by sigma"),
    (_cvae(sample=lambda mu, lv, g: models.reparameterize(mu, lv)), "identically seeded"),
    (_cvae(out=lambda lg, mu, lv: (torch.sigmoid(lg), mu, lv)), "you returned probabilities"),
    (_cvae(out=lambda lg, mu, lv: (lg.detach(), mu, lv)), "carry no gradient"),
    (_cvae(out=lambda lg, mu, lv: (lg.flatten(1), mu, lv)), "reshape the logits like x"),
    (_cvae(out=lambda lg, mu, lv: (lg, mu)), "logits"),
]


@pytest.mark.parametrize("answer, message", CVAE_WRONG, ids=[m for _, m in CVAE_WRONG])
def test_cvae_forward_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_cvae_forward(answer)


# --- iwae_bound --------------------------------------------------------------------------------------------

def _iw(combine, parts=lambda a, b, c: a + b - c):
    def answer(model, x, k, generator=None):
        with torch.no_grad():
            a, b, c = _log_weights(model, x, k, generator)
            return combine(parts(a, b, c), k)
    return answer


IW_WRONG = [
    (_iw(lambda lw, k: lw.mean(0)), "averaged the log-weights"),
    (_iw(lambda lw, k: torch.logsumexp(lw, 0)), "1/k inside the log is missing"),
    (_iw(lambda lw, k: -(torch.logsumexp(lw, 0) - math.log(k))), "sign is flipped"),
    (_iw(lambda lw, k: torch.logsumexp(lw, 0) - math.log(k), parts=lambda a, b, c: a), "log p(z) and log q(z|x) are missing"),
    (_iw(lambda lw, k: torch.logsumexp(lw, 0) - math.log(k), parts=lambda a, b, c: a + b), "-log q(z|x) is missing"),
    (_iw(lambda lw, k: torch.logsumexp(lw, 0) - math.log(k), parts=lambda a, b, c: a - c), "log p(z) is missing"),
    (_iw(lambda lw, k: torch.logsumexp(lw, 0) - math.log(k), parts=lambda a, b, c: a + b - 2 * c), "should equal the ELBO"),
    (_iw(lambda lw, k: torch.logsumexp(lw, 0)[None].expand(k, -1)), "reduce over the k samples"),
    (_iw(lambda lw, k: (torch.logsumexp(lw, 0) - math.log(k)).mean()), "one bound per example"),
]


@pytest.mark.parametrize("answer, message", IW_WRONG, ids=[m for _, m in IW_WRONG])
def test_iwae_bound_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_iwae_bound(answer)


def test_iwae_same_z_for_all_k_is_caught():
    def answer(model, x, k, generator=None):
        with torch.no_grad():
            a, b, c = _log_weights(model, x, 1, generator)
            lw = (a + b - c).expand(k, -1)
            return torch.logsumexp(lw, 0) - math.log(k)
    with pytest.raises(CheckFailed, match="same z for all k"):
        check_iwae_bound(answer)


# --- the grader's generic perturbation (outputs * 1.1 + 0.1) fails every check ----------------------------

def _perturbed(fn):
    """fn broken exactly as the grader self-test breaks an answer (tests/test_grader.py's BREAK_ANSWER)."""
    from test_grader import BREAK_ANSWER

    namespace = {"answer": fn}
    exec(BREAK_ANSWER.format(name="answer"), namespace)
    return namespace["answer"]


@pytest.mark.parametrize("check, answer", [(check_reparameterize, rep_ref), (check_gaussian_kl, kl_ref),
                                           (check_negative_elbo, elbo_ref), (check_vae_forward, fwd_ref),
                                           (check_cvae_forward, cvae_ref), (check_iwae_bound, iw_ref)])
def test_perturbed_answers_fail(check, answer):
    with pytest.raises(CheckFailed):
        check(_perturbed(answer))


# --- the reference guard --------------------------------------------------------------------------------------

REFERENCE_ANSWERS = [
    (check_reparameterize, models.reparameterize),
    (check_reparameterize, lambda mu, lv, generator=None: models.reparameterize(mu, lv, generator)),
    (check_gaussian_kl, losses.gaussian_kl),
    (check_gaussian_kl, lambda mu, lv: losses.gaussian_kl(mu, lv)),
    (check_negative_elbo, losses.negative_elbo),
    (check_negative_elbo, functools.partial(losses.negative_elbo)),
    (check_vae_forward, lambda model, x, generator=None: model(x, generator)),
    (check_vae_forward, lambda model, x, generator=None: models.VAE.forward(model, x, generator)),
    (check_cvae_forward, lambda model, x, y, generator=None: model(x, y, generator)),
    (check_cvae_forward, lambda model, x, y, generator=None: (
        model.decode(models.reparameterize(*model.encode(x, y), generator), y), *model.encode(x, y))),
    (check_cvae_forward, lambda model, x, y, generator=None: cvae_ref(
        model, x, y, generator)[:0] + models.ConditionalVAE.forward(model, x, y, generator)),
    (check_iwae_bound, losses.iwae_bound),
    (check_iwae_bound, lambda model, x, k, generator=None: losses.iwae_bound(model, x, k, generator)),
]


@pytest.mark.parametrize("check, answer", REFERENCE_ANSWERS, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(REFERENCE_ANSWERS)])
def test_reference_guard(check, answer, capsys):
    with pytest.raises(AssertionError, match="reference"):
        check(answer)
    assert "[passed]" not in capsys.readouterr().out


def test_reference_guard_allows_other_genedu_functions_and_no_grad_helpers(capsys):
    """vae_forward and cvae_forward may use genedu.models.reparameterize; a @torch.no_grad() helper of the
    student's own is not mistaken for the (no_grad-decorated) ConditionalVAE.sample or iwae_bound."""
    @torch.no_grad()
    def helper(model, x, k, generator):
        return iw_ref(model, x, k, generator)

    check_vae_forward(fwd_ref)
    check_cvae_forward(cvae_ref)
    check_iwae_bound(lambda model, x, k, generator=None: helper(model, x, k, generator))
    assert capsys.readouterr().out.count("[passed]") == 3


def test_not_implemented():
    def answer(*args, **kwargs):
        raise NotImplementedError()
    for check in (check_reparameterize, check_gaussian_kl, check_negative_elbo, check_vae_forward,
                  check_cvae_forward, check_iwae_bound):
        with pytest.raises(AssertionError, match="not implemented"):
            check(answer)


def test_patching_isclose_does_not_help(monkeypatch):
    monkeypatch.setattr(torch, "isclose", lambda a, b, *args, **kw: torch.ones(torch.as_tensor(a).shape, dtype=torch.bool))
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    with pytest.raises(AssertionError):
        check_gaussian_kl(lambda mu, lv: (mu**2 + lv.exp() - 1 - lv).sum(1))


def test_the_forward_check_uses_a_correct_reparameterize():
    """Exercise 4 uses the notebook's reparameterize (exercise 1): the check runs vae_forward with a
    correct one, so a wrong exercise 1 does not cost exercise 4 too; the notebook's is put back."""
    notebook = {"torch": torch}
    exec('''
def reparameterize(mu, logvar, generator=None):
    return mu + torch.exp(logvar) * torch.randn(mu.shape, generator=generator)  # log-variance read as log-std

def vae_forward(model, x, generator=None):
    mu, logvar = model.encode(x)
    return model.decode(reparameterize(mu, logvar, generator)), mu, logvar
''', notebook)
    wrong = notebook["reparameterize"]
    check_vae_forward(notebook["vae_forward"])
    assert notebook["reparameterize"] is wrong


def test_the_conditional_forward_check_uses_a_correct_reparameterize():
    """Exercise 5 uses the notebook's reparameterize too: a wrong exercise 1 does not cost exercise 5."""
    notebook = {"torch": torch, "F": F}
    exec('''
def reparameterize(mu, logvar, generator=None):
    return mu  # no sampling at all

def cvae_forward(model, x, y, generator=None):
    one_hot = F.one_hot(y, model.n_classes).to(x.dtype)
    mu, logvar = model.encoder(torch.cat([x.flatten(1), one_hot], dim=1)).chunk(2, dim=1)
    return model.decoder(torch.cat([reparameterize(mu, logvar, generator), one_hot], dim=1)), mu, logvar
''', notebook)
    wrong = notebook["reparameterize"]
    check_cvae_forward(notebook["cvae_forward"])
    assert notebook["reparameterize"] is wrong
