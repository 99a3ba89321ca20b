"""Checks for chapter 2: autoencoders.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's visible
self-check calls it with the defaults, the hidden tests with other seeds and shapes.

- :func:`check_pca`                 PCA by the SVD: mean, components (up to sign), variances
- :func:`check_pca_reconstruct`     projection onto the principal subspace and back
- :func:`check_bce_reconstruction`  the Bernoulli reconstruction loss from logits, stable
- :func:`check_build_autoencoder`   an MLP autoencoder with the given sizes (structure, not weights)
- :func:`check_train_autoencoder`   a training loop that reaches a held-out error on real digits
- :func:`check_denoising_loss`      the denoising autoencoder's loss: Gaussian corruption, clean target
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from genedu import data as _data
from genedu import losses as _losses
from genedu import models as _models
from genedu import pca as _pca
from genedu import train as _train_module
from genedu.checks._core import (CheckFailed, _isclose, _isfinite, call, close, compare, expect_seeded, expect_tensor,
                                 expect_tuple, fail, passed, probe)

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them
# (nor this module's own computation of the expected PCA, which an answer could import).
REFERENCES = ("genedu.pca.pca", "genedu.pca.pca_reconstruct", "genedu.losses.bce_reconstruction",
              "genedu.models.mlp_autoencoder", "genedu.models.mlp", "genedu.train.train", "genedu.losses.denoising_loss",
              "genedu.checks.ch02._expected_pca")

# References bound at import time: replacing genedu.* later does not change them.
_pca_ref = _pca.pca
_pca_reconstruct = _pca.pca_reconstruct
_bce_reconstruction = _losses.bce_reconstruction
_mlp_autoencoder = _models.mlp_autoencoder
_mlp = _models.mlp
_denoising_loss = _losses.denoising_loss
_train_loop = _train_module.train
_Autoencoder = _models.Autoencoder
_Digits = _data.Digits
# torch functions applied to the answer's output or used for the expected values, bound before any answer runs
_eigh, _svd, _qr, _svdvals = torch.linalg.eigh, torch.linalg.svd, torch.linalg.qr, torch.linalg.svdvals
_bce_logits, _logsigmoid, _sigmoid = F.binary_cross_entropy_with_logits, F.logsigmoid, torch.sigmoid
_Linear, _Module = nn.Linear, nn.Module


def _globals_of(fn) -> dict | None:
    """The global namespace ``fn``'s code looks names up in (the notebook's, for a function defined there):
    of a function, a bound method, a functools.partial or a callable object; None when there is none."""
    for get in (lambda f: f.__globals__, lambda f: f.__func__.__globals__, lambda f: f.func.__globals__,
                lambda f: type(f).__call__.__globals__):
        try:
            found = get(fn)
        except AttributeError:
            continue
        if isinstance(found, dict):
            return found
    return None


@contextlib.contextmanager
def _substitute_names(fn, **functions):
    """While the block runs, the names ``functions`` (the answers of earlier exercises that an answer
    is told to use) are correct versions in ``fn``'s global namespace; restored afterwards. A mistake in
    an earlier exercise then does not cost the later one too. Used inside probe functions."""
    namespace = _globals_of(fn)
    if namespace is None:
        yield
        return
    absent = object()
    saved = {name: namespace.get(name, absent) for name in functions}
    namespace.update(functions)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is absent:
                namespace.pop(name, None)
            else:
                namespace[name] = value


# --- exercise 1 and 2: PCA --------------------------------------------------------------------

def _low_rank_data(g: torch.Generator, n: int, dim: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) float32 data with a clear spectrum (the top k+1 variances well separated) and a mean far
    from 0, so that forgetting to centre changes the answer; also returns the true mean."""
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    scales = 4.0 * 0.6 ** torch.arange(dim, dtype=torch.float64)            # std 4, 2.4, 1.44, ...
    z = torch.randn(n, dim, generator=g, dtype=torch.float64) * scales
    mean = 3.0 + 2.0 * torch.randn(dim, generator=g, dtype=torch.float64)
    return (mean + z @ q.T).float(), mean


def _expected_pca(x: torch.Tensor, k: int):
    """Independent computation: the eigendecomposition of the maximum-likelihood covariance."""
    xd = x.double()
    mean = xd.mean(dim=0)
    centred = xd - mean
    cov = centred.T @ centred / len(xd)
    evals, evecs = _eigh(cov)                                                  # ascending
    order = evals.flip(0)
    return mean, evecs.flip(1)[:, :k].T, order[:k].clamp(min=0), evals, evecs


def _align_signs(rows: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Flip each row of ``rows`` so that it points the same way as the same row of ``reference``
    (a principal direction is only defined up to its sign)."""
    if rows.shape != reference.shape:
        return rows.double()  # a mistake of another shape: compare() never matches it
    dots = (rows.double() * reference.double()).sum(dim=1)
    signs = torch.where(dots < 0, -1.0, 1.0).to(torch.float64)
    return rows.double() * signs[:, None]


def check_pca(pca, seed: int = 0, n: int = 300, dim: int = 10, k: int = 3) -> None:
    """Check ``pca(x, k) -> (mean (D,), components (k, D), variances (k,))``, the top-k principal
    components from the SVD of the centred data, largest variance first; components up to sign."""
    name = "pca"
    g = torch.Generator().manual_seed(seed)
    x, _ = _low_rank_data(g, n, dim, k)

    # expected values first, from the eigendecomposition of the covariance (independent of the SVD)
    mean, comps, variances, evals, evecs = _expected_pca(x, k)
    xd = x.double()
    _, s_raw, vh_raw = _svd(xd, full_matrices=False)                             # SVD of the uncentred data
    _, s, vh = _svd(xd - mean, full_matrices=False)
    smallest = evecs[:, :k].T                                                    # eigh's first columns
    var_mistakes = [
        (s[:k], "these are the singular values S; the variance along component i is S_i^2 / N."),
        (s[:k] ** 2, "divide the squared singular values by N: variance_i = S_i^2 / N."),
        (s[:k] ** 2 / (n - 1), "you divided by N - 1; this course's PCA (maximum likelihood) divides by N."),
        (s[:k] ** 2 / n ** 0.5, "divide the squared singular values by N: variance_i = S_i^2 / N."),
        (variances.sqrt(), "these are standard deviations S_i / sqrt(N); the variance is S_i^2 / N."),
        (s_raw[:k] ** 2 / n, "you did not subtract the mean before the SVD."),
        (evals[:k], "these are the smallest variances: torch.linalg.eigh sorts eigenvalues in ascending order."),
    ]

    out = expect_tuple(call(pca, name, (x.clone(), k), reference=(_pca_ref, _expected_pca)), name,
                       ["mean", "components", "variances"])
    m = expect_tensor(out[0], name, "mean", (dim,),
                      {(n,): "you averaged each row; average over the samples (dim=0).",
                       (): "you averaged over everything; average over the samples only (dim=0).",
                       (1, dim): "return the mean with shape (D,), not (1, D)."})
    compare(m, mean, name, "mean", rtol=1e-4, atol=1e-4)
    hints = {(dim, k): "the components are columns; return them as rows, shape (k, D): the first k rows of V^T "
                       "(Vh[:k] of torch.linalg.svd).",
             (k, n): "these are left-singular vectors (U); the principal directions are the right-singular vectors, "
                     "the rows of Vh.",
             (n, k): "these are left-singular vectors (U) or the codes; the principal directions are the rows of Vh.",
             (dim, dim): "return only the top k components, Vh[:k]."}
    if k != dim:
        hints[(min(n, dim), dim)] = "return only the top k components, Vh[:k]."
    c = expect_tensor(out[1], name, "components", (k, dim), hints)
    aligned = _align_signs(c, comps)
    norms = c.detach().double().norm(dim=1, keepdim=True).clamp(min=1e-12)
    along = (((xd - mean) @ (c.detach().double() / norms).T) ** 2).mean(dim=0)     # variance along each returned row
    if bool((along < 0.5 * variances[-1]).all()) and not close_enough(aligned, comps, rtol=1e-3, atol=2e-3):
        fail(name, "these are directions of small variance, not the top k: torch.linalg.eigh sorts eigenvalues in "
                   "ascending order (take the last k columns, largest first); torch.linalg.svd sorts S in decreasing "
                   "order (take the first k rows of Vh).")
    if vh.shape[1] >= k and close_enough(c.abs(), vh[:, :k].T.abs(), rtol=1e-3, atol=2e-3) \
            and not close_enough(aligned, comps, rtol=1e-3, atol=2e-3):
        fail(name, "components are wrong: you took the first k columns of Vh; the right-singular vectors are its rows, "
                   "Vh[:k] (torch.linalg.svd returns V transposed).")
    comp_mistakes = [
        (_align_signs(vh_raw[:k], comps), "the components differ: you did not subtract the mean before the SVD."),
        (_align_signs(smallest, comps), "these are the directions of smallest variance: torch.linalg.eigh sorts "
                                        "eigenvalues in ascending order, so take the last k, largest first."),
        (_align_signs(smallest.flip(0), comps), "these are the directions of smallest variance: torch.linalg.eigh "
                                                "sorts eigenvalues in ascending order."),
        (_align_signs(comps.flip(0), comps), "the components are in the wrong order: largest variance first."),
    ]
    compare(aligned, comps, name, "components (compared up to the sign of each)", comp_mistakes, rtol=1e-3, atol=2e-3)
    var = expect_tensor(out[2], name, "variances", (k,),
                        {(dim,): "return the variances of the top k components only.",
                         (min(n, dim),): "return the variances of the top k components only."})
    compare(var, variances, name, "variances", var_mistakes, rtol=1e-3, atol=1e-4)
    passed(name, f"mean, top k = {k} components (up to sign) and their variances match on {n} points in {dim}D.")


def check_pca_reconstruct(pca_reconstruct, seed: int = 0, n: int = 50, dim: int = 8, k: int = 3) -> None:
    """Check ``pca_reconstruct(x, mean, components) -> (N, D)``: mu + (x - mu) V^T V for orthonormal rows V."""
    name = "pca_reconstruct"
    g = torch.Generator().manual_seed(seed)
    x, _ = _low_rank_data(g, n, dim, k)
    mean, comps, _, _, _ = _expected_pca(x, k)
    xd = x.double()
    codes = (xd - mean) @ comps.T                                                 # (N, k)
    expected = mean + codes @ comps                                               # independent: einsum-free algebra
    mistakes = [
        (codes @ comps, "the mean is missing: add it back after projecting, mu + (x - mu) V^T V."),
        (xd @ comps.T @ comps, "you projected x itself; subtract the mean first and add it back: mu + (x - mu) V^T V."),
        (mean + xd @ comps.T @ comps, "you projected x instead of x - mu: mu + (x - mu) V^T V."),
        (xd - expected + mean, "this is the part of x - mu that PCA discards; the reconstruction is mu + (x - mu) V^T V."),
        (xd - (expected - mean), "this is x minus the projection; the reconstruction is mu + (x - mu) V^T V."),
    ]
    args = (x.clone(), mean.float().clone(), comps.float().clone())
    out = call(pca_reconstruct, name, args, reference=_pca_reconstruct)
    hints = {(n, k): "these are the codes z = (x - mu) V^T; map them back to data space with the components: "
                     "mu + z V.",
             (dim, dim): "you returned the projection matrix V^T V; apply it to the centred data."}
    rec = expect_tensor(out, name, "the reconstruction", (n, dim), hints)
    compare(rec, expected, name, "the reconstruction", mistakes, rtol=1e-4, atol=2e-3)
    passed(name, f"projects {n} points in {dim}D onto k = {k} components and back.")


# --- exercise 3: the reconstruction loss -------------------------------------------------------

def check_bce_reconstruction(bce_reconstruction, seed: int = 0, batch: int = 16, size: int = 8) -> None:
    """Check ``bce_reconstruction(logits (B, 1, H, W), x (B, 1, H, W)) -> (B,)``: the Bernoulli negative
    log-likelihood summed over pixels, computed stably from logits."""
    name = "bce_reconstruction"
    g = torch.Generator().manual_seed(seed)
    shape = (batch, 1, size, size)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    x = torch.where(torch.rand(shape, generator=g, dtype=torch.float64) < 0.5, x.round(), x)  # 0/1 and grey levels
    logits = 2.0 * torch.randn(shape, generator=g, dtype=torch.float64)
    d = size * size

    # expected values first: the closed form with log-sigmoid (independent of binary_cross_entropy_with_logits)
    per_pixel = -(x * _logsigmoid(logits) + (1 - x) * _logsigmoid(-logits))
    expected = per_pixel.flatten(1).sum(dim=1)
    p = _sigmoid(logits)
    mistakes = [
        (per_pixel.flatten(1).mean(dim=1), "you averaged over the pixels; sum them: log p(x | z) of an image is the "
                                           "sum of its pixels' log-likelihoods."),
        (-expected, "the sign is flipped: the loss is the negative log-likelihood, -sum [x log p + (1 - x) log(1 - p)]."),
        ((-(x * _logsigmoid(logits))).flatten(1).sum(dim=1), "the (1 - x) log(1 - p) term is missing."),
        (((p - x) ** 2).flatten(1).sum(dim=1), "this is the squared error of sigmoid(logits); the Bernoulli loss is "
                                               "-sum [x log p + (1 - x) log(1 - p)]."),
        (((logits - x) ** 2).flatten(1).sum(dim=1), "this is the squared error of the logits; the Bernoulli loss is "
                                                    "-sum [x log p + (1 - x) log(1 - p)] with p = sigmoid(logits)."),
        ((-(x * _logsigmoid(_sigmoid(logits)) + (1 - x) * _logsigmoid(-_sigmoid(logits)))).flatten(1).sum(dim=1),
         "you applied the sigmoid twice: binary_cross_entropy_with_logits applies it itself; pass the logits."),
    ]
    hints = {(): "you reduced over the batch too; return one loss per example, shape (B,) (sum over the pixels only).",
             (1,): "you reduced over the batch too; return one loss per example, shape (B,).",
             shape: "return one number per example: sum over every pixel (e.g. .flatten(1).sum(dim=1)).",
             (batch, 1): "sum over the channel too: one number per example, shape (B,).",
             (batch, 1, size): "sum over every pixel (all dimensions but the batch): .flatten(1).sum(dim=1).",
             (batch, size, size): "sum over every pixel (all dimensions but the batch): .flatten(1).sum(dim=1)."}
    try:
        out = call(bce_reconstruction, name, (logits.float(), x.float()), reference=_bce_reconstruction)
    except CheckFailed as err:
        if "between 0 and 1" in str(err):
            fail(name, "F.binary_cross_entropy expects probabilities, but the decoder gives logits (any real number): "
                       "use F.binary_cross_entropy_with_logits(logits, x, reduction='none').")
        raise
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch,) and out.is_floating_point() \
            and not bool(_isfinite(out).all()):
        fail(name, "the loss contains nan or inf for ordinary logits: the decoder outputs logits, not probabilities. "
                   "Apply the sigmoid (or use F.binary_cross_entropy_with_logits) before taking logs.")
    loss = expect_tensor(out, name, "the loss", (batch,), hints)
    if close_enough(loss, (-(x * logits.clamp(1e-12).log() + (1 - x) * (1 - logits).clamp(1e-12).log())).flatten(1).sum(1)):
        fail(name, "the loss is wrong: you treated the logits as probabilities; apply the sigmoid first "
                   "(or use F.binary_cross_entropy_with_logits).")
    compare(loss, expected, name, "the loss", mistakes, rtol=1e-4, atol=1e-3)

    # numerical stability: a confident decoder has logits of +-100 or more
    big = torch.where(x > 0.5, 1.0, -1.0).double() * (60 + 60 * torch.rand(shape, generator=g, dtype=torch.float64))
    big_expected = (-(x * _logsigmoid(big) + (1 - x) * _logsigmoid(-big))).flatten(1).sum(dim=1)
    out = call(bce_reconstruction, name, (big.float(), x.float()), reference=_bce_reconstruction)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch,) and out.is_floating_point() \
            and not bool(_isfinite(out).all()):
        fail(name, "the loss is inf or nan for large logits (|logit| ~ 100): sigmoid(100) rounds to exactly 1 and "
                   "log(1 - 1) = -inf. Use F.binary_cross_entropy_with_logits, or F.logsigmoid(l) and "
                   "F.logsigmoid(-l) for log p and log(1 - p).")
    loss = expect_tensor(out, name, "the loss for large logits", (batch,))
    clamped = [(-(xf * _sigmoid(bf).clamp(eps, 1 - eps).log() + (1 - xf) * (1 - _sigmoid(bf).clamp(eps, 1 - eps)).log()))
               .flatten(1).sum(1) for xf, bf in ((x.float(), big.float()), (x, big)) for eps in (1e-7, 1e-6, 1e-8, 1e-12)]
    if any(close_enough(loss, c, rtol=1e-3, atol=0.5) for c in clamped):
        fail(name, "for large logits your loss is wrong: clamping the probabilities caps log p at log(1e-7). Compute it "
                   "from the logits: F.binary_cross_entropy_with_logits, or F.logsigmoid.")
    compare(loss, big_expected, name, "the loss for large logits (|logit| from 60 to 120)", rtol=1e-3, atol=0.5)
    passed(name, f"matches the Bernoulli negative log-likelihood on {batch} image(s) of {d} pixels, "
                 "and stays finite for large logits.")


def close_enough(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-3) -> bool:
    """Finite tensors of the same shape within tolerances (False otherwise)."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    a, b = a.detach().double(), b.detach().double()
    if not (bool(_isfinite(a).all()) and bool(_isfinite(b).all())):
        return False
    return bool(_isclose(a, b, rtol=rtol, atol=atol).all())


# --- exercise 4: building an autoencoder -------------------------------------------------------

def _record_linears(model: nn.Module):
    """Forward hooks that record every nn.Linear call in the order they run: ((in, out), output)."""
    calls: list[tuple[tuple[int, int], torch.Tensor]] = []
    handles = [mod.register_forward_hook(lambda m, i, o: calls.append(((m.in_features, m.out_features), o.detach())))
               for mod in model.modules() if isinstance(mod, _Linear)]
    return calls, handles


def _fmt(layers) -> str:
    return " -> ".join([str(layers[0][0])] + [str(b) for _, b in layers]) if layers else "(no nn.Linear layer)"


def _attempt(fn, *args):
    """["ok", fn(*args)] or ["error", the exception's type name, its message] (plain data for a probe)."""
    try:
        return ["ok", fn(*args)]
    except Exception as err:  # noqa: BLE001 - the check reports it
        return ["error", type(err).__name__, str(err)[:500]]


def _inspect_autoencoder(build_autoencoder, args: tuple, seed: int, x: torch.Tensor, x2: torch.Tensor,
                         z1: torch.Tensor, z2: torch.Tensor) -> dict:
    """Probe function (run where the answer lives): builds ``build_autoencoder(*args)`` and reports, as
    plain data, what the check judges: the model's type and methods; model.encode(x) and model.decode(z1)
    under no_grad, with the sizes and outputs of the nn.Linear layers they ran, in order; the encoder and
    decoder at two inputs and at their midpoint (is each affine?); model(x); the names of the parameters
    that get no gradient from the BCE of model(x), and the number of parameters."""
    torch.manual_seed(seed)
    model = build_autoencoder(*args)
    report: dict = {"type": type(model).__name__, "module": isinstance(model, _Module)}
    if not report["module"]:
        return report
    report["methods"] = [m for m in ("encode", "decode") if callable(getattr(model, m, None))]
    if len(report["methods"]) < 2:
        return report
    calls, handles = _record_linears(model)
    try:
        with torch.no_grad():
            report["encode"] = _attempt(model.encode, x)
            report["encode_linears"] = [[list(size), out] for size, out in calls]
            calls.clear()
            report["decode"] = _attempt(model.decode, z1)
            report["decode_linears"] = [[list(size), out] for size, out in calls]
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        report["encode_affine"] = _attempt(lambda: [model.encode((x + x2) / 2), model.encode(x), model.encode(x2)])
        report["decode_affine"] = _attempt(lambda: [model.decode((z1 + z2) / 2), model.decode(z1), model.decode(z2)])
    model.zero_grad(set_to_none=True)
    logits = _attempt(model, x)
    if logits[0] == "ok" and isinstance(logits[1], torch.Tensor):
        report["forward"] = ["ok", logits[1].detach()]
        if logits[1].shape == x.shape:
            report["backward"] = _attempt(lambda: _bce_logits(logits[1], x).backward())
    else:
        report["forward"] = logits
    if "backward" in report:
        params = list(model.named_parameters())
        report["no_grad"] = [n for n, p in params if p.grad is None]
        report["n_params"] = sum(p.numel() for _, p in params)
    return report


def _affine(name: str, outs) -> bool:
    """True when the three outputs fn((a + b) / 2), fn(a), fn(b) satisfy fn((a + b) / 2) == (fn(a) + fn(b)) / 2."""
    if outs[0] != "ok":
        fail(name, f"calling the model raised {outs[1]}: {outs[2]}.")
    if not (isinstance(outs[1], (list, tuple)) and len(outs[1]) == 3
            and all(isinstance(t, torch.Tensor) for t in outs[1])):
        fail(name, "model.encode and model.decode should return tensors.")
    mid, fa, fb = outs[1]
    return close_enough(mid, (fa + fb) / 2, rtol=1e-4, atol=1e-5)


def _after_last_linear(out: torch.Tensor, last: torch.Tensor, where: str, what: str) -> str | None:
    """Explain what was applied after the last linear layer, or None when ``out`` is its output."""
    if last.numel() != out.numel():
        return None  # the sizes check reports this
    last = last.reshape(out.shape)
    if close_enough(out, last, rtol=1e-5, atol=1e-6):
        return None
    for fn, act in ((torch.relu, "a ReLU"), (torch.sigmoid, "a sigmoid"), (torch.tanh, "a tanh"),
                    (F.leaky_relu, "a leaky ReLU")):
        if close_enough(out, fn(last), rtol=1e-5, atol=1e-6):
            return f"{where} passes through {act} after its last nn.Linear. {what}"
    return f"{where} is not the output of its last nn.Linear: something is applied after it. {what}"


def _linears(report: dict, key: str, name: str) -> list:
    found = report.get(key)
    if not isinstance(found, list) or not all(isinstance(c, (list, tuple)) and len(c) == 2 for c in found):
        fail(name, "the grader could not see the model's layers.")
    return [(tuple(size), out) for size, out in found]


def check_build_autoencoder(build_autoencoder, seed: int = 0, latent_dim: int = 2, hidden: tuple = (256, 64),
                            image_shape: tuple = (1, 28, 28)) -> None:
    """Check ``build_autoencoder(latent_dim, hidden, image_shape) -> Autoencoder``: its layer sizes, activations,
    output shapes and that every parameter trains. The random weights are not compared; the model is
    inspected where it was built (``_inspect_autoencoder``), so any nn.Module with encode/decode works."""
    name = "build_autoencoder"
    hidden, image_shape = tuple(hidden), tuple(image_shape)
    d = math.prod(image_shape)
    enc_sizes = [d, *hidden, latent_dim]
    want_enc = list(zip(enc_sizes[:-1], enc_sizes[1:]))
    want_dec = [(b, a) for a, b in reversed(want_enc)]
    g = torch.Generator().manual_seed(seed)
    batch = 64
    x = torch.rand((batch, *image_shape), generator=g)
    x2 = torch.rand((batch, *image_shape), generator=g)
    z1, z2 = 2 * torch.randn(batch, latent_dim, generator=g), 2 * torch.randn(batch, latent_dim, generator=g)

    # genedu.models.mlp builds the layer stack: the heart of the exercise
    report = probe(build_autoencoder, name, _inspect_autoencoder,
                   ((latent_dim, hidden, image_shape), seed, x, x2, z1, z2), reference=(_mlp_autoencoder, _mlp))
    if not isinstance(report, dict):
        fail(name, "the grader could not inspect the model.")
    if not report.get("module"):
        fail(name, f"should return an nn.Module (e.g. genedu.models.Autoencoder(encoder, decoder)), "
                   f"got {report.get('type')}.")
    for method in ("encode", "decode"):
        if method not in report.get("methods", ()):
            fail(name, f"the model has no {method}() method: wrap your two networks as "
                       "genedu.models.Autoencoder(encoder, decoder).")

    encoded = report["encode"]
    if encoded[0] != "ok":
        hint = (" Flatten the images first (nn.Flatten()): the first layer takes vectors of "
                f"{d} pixels.") if "mat1 and mat2" in encoded[2] or "shape" in encoded[2] else ""
        fail(name, f"model.encode(x) raised {encoded[1]} for x of shape {tuple(x.shape)}: {encoded[2]}.{hint}")
    enc_calls = _linears(report, "encode_linears", name)
    enc_sizes_seen = [c for c, _ in enc_calls]
    z = expect_tensor(encoded[1], name, "the code model.encode(x)", (batch, latent_dim),
                      {(batch, *hidden[-1:]): "the encoder stops before the bottleneck: end it with "
                                              f"nn.Linear({(hidden or (d,))[-1]}, latent_dim).",
                       (batch, d): "the encoder returns vectors of the image size; it should map to the "
                                   "latent_dim code."})
    if enc_sizes_seen != want_enc:
        fail(name, f"the encoder's linear layers are {_fmt(enc_sizes_seen)}, expected {_fmt(want_enc)} "
                   "(input pixels, the hidden widths in order, the latent size).")
    problem = _after_last_linear(z, enc_calls[-1][1], "the code",
                                 "The code is the output of the bottleneck nn.Linear, with no activation after "
                                 "it: a ReLU there throws away half of the latent space and can switch codes "
                                 "off for good.")
    if problem:
        fail(name, problem)
    decoded = report["decode"]
    if decoded[0] != "ok":
        fail(name, f"model.decode(z) raised {decoded[1]} for z of shape {tuple(z1.shape)}: {decoded[2]}.")
    dec_calls = _linears(report, "decode_linears", name)
    dec_sizes_seen = [c for c, _ in dec_calls]
    out = expect_tensor(decoded[1], name, "the decoding model.decode(z)", (batch, *image_shape),
                        {(batch, d): "the decoder returns flat vectors; reshape them to images, e.g. with "
                                     f"nn.Unflatten(1, {image_shape}) at the end of the decoder."})
    if dec_sizes_seen != want_dec:
        fail(name, f"the decoder's linear layers are {_fmt(dec_sizes_seen)}, expected {_fmt(want_dec)} "
                   "(the encoder's sizes in reverse).")
    problem = _after_last_linear(out, dec_calls[-1][1], "the decoder's output",
                                 "Return logits (no activation after the last nn.Linear): the loss applies the "
                                 "sigmoid itself, and images are torch.sigmoid(model.decode(z)).")
    if problem:
        fail(name, problem)

    # activations between the hidden layers, tested on the functions themselves (however they are written)
    enc_affine, dec_affine = _affine(name, report["encode_affine"]), _affine(name, report["decode_affine"])
    if hidden:
        if enc_affine:
            fail(name, "the encoder is a linear (affine) function: put an activation (nn.ReLU()) after every hidden "
                       "layer. Without one, the stacked linear layers collapse into a single linear map.")
        if dec_affine:
            fail(name, "the decoder is a linear (affine) function: put an activation (nn.ReLU()) after every "
                       "hidden layer.")
    elif not enc_affine or not dec_affine:
        fail(name, "with hidden=() the autoencoder must be linear: one nn.Linear each way, no activation.")

    # every parameter is used and receives a gradient
    logits = report["forward"]
    if logits[0] != "ok":
        fail(name, f"model(x) raised {logits[1]}: {logits[2]}.")
    if not isinstance(logits[1], torch.Tensor) or tuple(logits[1].shape) != tuple(x.shape):
        fail(name, f"model(x) should return logits shaped like x {tuple(x.shape)}: forward = decode(encode(x)).")
    if report.get("backward", ["error"])[0] != "ok":
        fail(name, "the BCE of model(x) could not be backpropagated: do not detach the logits or compute them "
                   "under torch.no_grad().")
    unused = report.get("no_grad", [])
    if unused:
        fail(name, f"these parameters get no gradient (model(x) does not use them): {', '.join(map(str, unused[:4]))}.")
    n_params = report.get("n_params")
    want_params = sum((a + 1) * b for a, b in want_enc + want_dec)
    if n_params != want_params:
        fail(name, f"the model has {n_params:,} parameters, expected {want_params:,} (the weights and biases of "
                   f"{_fmt(want_enc)} and back). Do not add other layers.")
    passed(name, f"{_fmt(want_enc + want_dec)}, {n_params:,} parameters, activations in place, logits out.")


# --- exercise 5: the training loop -------------------------------------------------------------

_DIGITS_CACHE: dict[str, torch.Tensor] = {}


def _digits(split: str) -> torch.Tensor:
    """scikit-learn's 8x8 digits in [0, 1], (N, 1, 8, 8): 1,497 training and 300 held-out images, the
    split of genedu.data.Digits. Read straight from the file scikit-learn ships (importing sklearn takes
    over a second, a large part of grading this notebook); genedu.data.Digits when it is not there."""
    if split not in _DIGITS_CACHE:
        _DIGITS_CACHE[split] = _read_digits(split)
    return _DIGITS_CACHE[split].clone()


def _read_digits(split: str) -> torch.Tensor:
    import gzip
    import importlib.util
    import os

    import numpy as np
    spec = importlib.util.find_spec("sklearn")
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz") if spec else ""
    if not os.path.exists(path):
        return _Digits(split).images.clone()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    images = torch.tensor(table[:, :-1].reshape(-1, 1, 8, 8), dtype=torch.float32) / 16.0
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    order = order[: -_Digits.N_TEST] if split == "train" else order[-_Digits.N_TEST:]
    return images[order].clone()


def _small_autoencoder(seed: int, latent_dim: int, hidden: int) -> nn.Module:
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim))
    decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 64), nn.Unflatten(1, (1, 8, 8)))
    return _Autoencoder(encoder, decoder)


def _watched_training(train_autoencoder, model: nn.Module, x: torch.Tensor, epochs: int, batch_size: int, lr: float,
                      seed: int):
    """Probe function (run where the answer lives): ``train_autoencoder(model, x, epochs, batch_size, lr)``
    with torch's global seed set to ``seed`` (the shuffles) and a correct ``bce_reconstruction`` (exercise 3)
    in the notebook's namespace, watched. Returns (what it returned, batches, stale): for each forward
    pass with gradients, the per-image pixel sums of the batch the encoder got; for each backward pass,
    whether the first layer's weight already held a nonzero gradient (gradients piling up: no zero_grad)."""
    seen: list = []
    stale: list = []

    def on_forward(module, args):
        if torch.is_grad_enabled():
            seen.append(args[0].detach().reshape(len(args[0]), -1).sum(dim=1))

    def bce_reconstruction(logits, x):  # exercise 3, correct, for the loop to use
        return _bce_logits(logits, x, reduction="none").flatten(1).sum(dim=1)

    watched = model.encoder[1].weight
    handle = model.encoder.register_forward_pre_hook(on_forward)
    grad_hook = watched.register_hook(
        lambda grad: stale.append(watched.grad is not None and bool(watched.grad.abs().sum() > 0)))
    torch.manual_seed(seed)
    try:
        with _substitute_names(train_autoencoder, bce_reconstruction=bce_reconstruction):
            out = train_autoencoder(model, x, epochs, batch_size, lr)
    finally:
        handle.remove()
        grad_hook.remove()
    return out, seen, stale


# held-out BCE (nats per 8x8 image) that the check requires after training; with these settings
# (8 epochs, batches of 64, lr 5e-3) the reference loop reaches 20.5-21.8 (8 seeds), a loop that ignores
# lr (Adam at 1e-3) 25-27, SGD 27, a loop without zero_grad 28-54, one batch per epoch 35-41, an
# untrained model 44.
TRAIN_THRESHOLD = 23.0


def check_train_autoencoder(train_autoencoder, seed: int = 0, epochs: int = 8, batch_size: int = 64,
                            lr: float = 5e-3, latent_dim: int = 6, hidden: int = 32,
                            threshold: float = TRAIN_THRESHOLD) -> None:
    """Check ``train_autoencoder(model, x, epochs, batch_size, lr) -> per-epoch mean losses``: trains a fixed small
    autoencoder (64-hidden-latent_dim and back) on 1,497 of scikit-learn's 8x8 digits and requires a held-out
    Bernoulli reconstruction error below ``threshold`` nats per image on the 300 others."""
    name = "train_autoencoder"
    x_train, x_test = _digits("train"), _digits("test")
    model = _small_autoencoder(seed, latent_dim, hidden)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        untrained = float(_bce_logits(model(x_test), x_test, reduction="sum")) / len(x_test)
    n_batches = -(-len(x_train) // batch_size)

    # the loop is watched where it runs (``_watched_training``); the trained weights come back into model
    out, seen, stale = probe(train_autoencoder, name, _watched_training,
                             (model, x_train.clone(), epochs, batch_size, lr, seed + 1), reference=_train_loop)
    seen = [s for s in seen if isinstance(s, torch.Tensor)]
    if out is None:
        fail(name, "returned None: return the list of per-epoch mean training losses.")
    if isinstance(out, torch.Tensor):
        out = out.detach().reshape(-1).tolist()
    if not isinstance(out, (list, tuple)):
        fail(name, f"should return a list of per-epoch mean losses, got {type(out).__name__}.")
    try:
        history = [float(v) for v in out]
    except (TypeError, ValueError):
        fail(name, "should return a list of numbers (use loss.item() to record a loss).")
    if len(history) == epochs * n_batches:
        fail(name, f"returned {len(history)} values, one per step; return one per epoch ({epochs}), the mean of that "
                   "epoch's batch losses.")
    if len(history) != epochs:
        fail(name, f"returned {len(history)} values; expected one mean loss per epoch ({epochs}).")

    if all(torch.equal(a, p.detach()) for a, p in zip(before, model.parameters())):
        fail(name, "the model's parameters did not change: create the optimizer on model.parameters() and call "
                   "optimizer.step() after loss.backward().")
    images_seen = sum(len(s) for s in seen)
    if len(seen) < epochs * n_batches or images_seen < epochs * len(x_train):
        fail(name, f"the model saw {images_seen} images in {len(seen)} batches; {epochs} epochs of "
                   f"{len(x_train)} images in batches of {batch_size} are {epochs * n_batches} batches. "
                   "Loop over every batch of every epoch.")
    sizes = {len(s) for s in seen[:n_batches]}
    if max(sizes) > batch_size:
        fail(name, f"a batch had {max(sizes)} images; use batches of batch_size = {batch_size}.")
    if sum(stale) > len(stale) // 4:
        fail(name, "the gradients accumulate from one step to the next: call optimizer.zero_grad() before each "
                   "loss.backward() (PyTorch adds new gradients to the old ones).")
    if len(seen) >= 2 * n_batches and torch.equal(seen[0], seen[n_batches]):
        fail(name, "the batches come in the same order every epoch: shuffle the data at the start of each epoch "
                   "(e.g. perm = torch.randperm(len(x)), then x[perm[i:i + batch_size]]).")

    with torch.no_grad():
        held_out = float(_bce_logits(model(x_test), x_test, reduction="sum")) / len(x_test)
        final_train = float(_bce_logits(model(x_train), x_train, reduction="sum")) / len(x_train)
    if not math.isfinite(held_out):
        fail(name, "the trained model outputs nan or inf: is the learning rate the one given?")
    if held_out > threshold:
        fail(name, f"after training, the held-out reconstruction error is {held_out:.1f} nats per image (untrained: "
                   f"{untrained:.1f}); it should be below {threshold:.1f}. Use Adam with the given learning rate, the "
                   "mean over the batch of your bce_reconstruction(model(xb), xb) (exercise 3), and one step per "
                   "batch.")
    last = history[-1]
    if not math.isfinite(last):
        fail(name, "the recorded losses contain nan or inf.")
    if last > 50 * final_train:
        fail(name, f"the last epoch's recorded loss is {last:.4g}, but the model's mean loss per image is now "
                   f"{final_train:.1f}: record the mean over the batch (loss.mean()), not the sum, and average the "
                   "batch losses over the epoch.")
    if not 0.75 * final_train <= last <= 1.5 * final_train + 1:
        fail(name, f"the last epoch's recorded loss is {last:.4g}, but the model's mean BCE per image on the training "
                   f"data is now {final_train:.1f}: record loss.item() of the mean batch loss and return each epoch's "
                   "average.")
    if not history[-1] < history[0]:
        fail(name, f"the recorded losses do not decrease ({history[0]:.3g} -> {history[-1]:.3g}).")
    passed(name, f"{epochs} epochs: held-out error {held_out:.1f} nats per 8x8 digit (below {threshold:.1f}; "
                 f"untrained {untrained:.1f}).")


# --- exercise 6: the denoising loss ----------------------------------------------------------

class _Recorder(nn.Module):
    """A fixed, differentiable stand-in for the denoiser r that records its inputs.

    It runs where the answer runs (in the grader's sandbox it travels as a copy, so that the loss's gradient
    reaches its weight); each call is reported to ``record``, a function of the check (in the sandbox a
    callback into the grader), which appends to ``calls``."""

    def __init__(self, dim: int, g: torch.Generator):
        super().__init__()
        self.weight = nn.Parameter(0.5 * torch.randn(dim, dim, generator=g))
        calls: list[torch.Tensor] = []
        self.calls = calls
        self.record = lambda x_noisy: calls.append(x_noisy)

    def fn(self, x_noisy: torch.Tensor) -> torch.Tensor:
        flat = x_noisy.flatten(1)
        return (0.7 * flat + torch.tanh(flat @ self.weight.to(flat.dtype))).reshape(x_noisy.shape)

    def forward(self, x_noisy):
        if not isinstance(x_noisy, torch.Tensor):
            raise TypeError(f"the denoiser must be called as denoiser(x_noisy) with a tensor, got "
                            f"{type(x_noisy).__name__}")
        self.record(x_noisy.detach().clone())
        return self.fn(x_noisy)


def check_denoising_loss(denoising_loss, seed: int = 0, batch: int = 4000, shape: tuple = (3,),
                         sigma: float = 0.5) -> None:
    """Check ``denoising_loss(denoiser, x, sigma, generator=None) -> scalar``, the denoising autoencoder's loss.

    The check's denoiser records its inputs: it must be called once, on x + sigma * eps with eps standard
    normal (the noise behind its input, (x_noisy - x) / sigma, is tested); and the loss must be the squared error
    between its output and the **clean** x, averaged over the batch and summed (the squared norm) or averaged
    (a plain .mean()) over the coordinates, with a gradient and drawn from ``generator``.
    """
    name = "denoising_loss"
    shape = tuple(shape)
    g = torch.Generator().manual_seed(seed)
    dim = math.prod(shape)
    x = (torch.randn(batch, *shape, generator=g) * torch.linspace(0.5, 2.0, dim).reshape(shape) + 1.0)
    model = _Recorder(dim, g)

    def run(s):
        model.calls.clear()
        model.zero_grad()
        out = call(denoising_loss, name, (model, x.clone(), sigma), {"generator": torch.Generator().manual_seed(s)},
                   reference=_denoising_loss)
        if isinstance(out, tuple):
            fail(name, "return the loss alone, a scalar tensor (not a tuple).")
        return expect_tensor(out, name, "the loss", (),
                             {(batch,): "you returned one loss per example; average them (.mean()) into one scalar.",
                              (batch, *shape): "reduce the squared errors to one scalar: sum over the coordinates, "
                                               "then average over the batch."})

    loss = run(seed + 1000)
    if len(model.calls) != 1:
        fail(name, f"the denoiser was called {len(model.calls)} times; call it once, on the whole corrupted batch: "
                   "denoiser(x + sigma * eps).")
    x_in = model.calls[0]
    if tuple(x_in.shape) != tuple(x.shape):
        fail(name, f"the denoiser was given shape {tuple(x_in.shape)}, expected that of x {tuple(x.shape)}.")
    x64, in64 = x.double(), x_in.double()
    if close(in64, x64, 1e-6, 1e-7):
        fail(name, "the denoiser was given the clean x: corrupt it first, x_noisy = x + sigma * eps, and ask the "
                   "denoiser to recover x from x_noisy (without corruption it can learn the identity).")
    noise = (in64 - x64) / sigma

    def standard(e):
        return abs(float(e.mean())) < 5 / math.sqrt(e.numel()) and abs(float(e.var()) - 1) < 6 * math.sqrt(2 / e.numel())

    if not standard(noise):
        std = float(noise.std())
        if standard(noise / sigma):
            fail(name, f"the noise's standard deviation is sigma^2 = {sigma ** 2:g}, not sigma = {sigma:g}: "
                       "x_noisy = x + sigma * eps (sigma is a standard deviation, not a variance).")
        if standard(noise * sigma):
            fail(name, f"the noise is not scaled by sigma: its standard deviation is 1, expected sigma = {sigma:g} "
                       "(x_noisy = x + sigma * eps).")
        if abs(float(noise.mean()) - 0.5) < 0.05 and abs(float(noise.var()) - 1 / 12) < 0.02:
            fail(name, "the noise is uniform on [0, 1) (torch.rand): draw Gaussian noise, torch.randn(x.shape, "
                       "generator=generator).")
        fail(name, f"the noise behind the denoiser's input, (x_noisy - x) / sigma, has mean {float(noise.mean()):.3f} "
                   f"and standard deviation {std:.3f}, expected 0 and 1: x_noisy = x + sigma * eps with "
                   "eps = torch.randn(x.shape, generator=generator).")
    with torch.no_grad():
        pred = model.fn(x_in).double()

    def per_coordinate(errors):   # the two correct reductions of a (B, ...) tensor of errors
        return {"squared norm over the coordinates, mean over the batch": errors.flatten(1).sum(1).mean(),
                "mean over the batch and the coordinates": errors.mean()}

    squared = (pred - x64) ** 2
    forms = per_coordinate(squared)
    mistakes = [(squared.sum(), "you summed over the batch too; average the examples' squared errors over the "
                                "batch (an expectation over x and eps).")]
    for errors, why in [((pred - in64) ** 2, "the target is the clean x, not the corrupted input x_noisy: the "
                                             "denoiser learns to undo the noise."),
                        ((pred - noise) ** 2, "the target is the clean x: this denoiser returns an estimate of x, "
                                              "not of the noise (chapter 7's networks predict the noise)."),
                        ((pred - x64).abs(), "this is the absolute error; the loss is the *squared* error."),
                        ((pred + x64) ** 2, "the sign is flipped: (denoiser(x_noisy) - x)^2."),
                        (0.5 * squared, "drop the factor 1/2: the loss is ||r(x_noisy) - x||^2.")]:
        mistakes += [(value, why) for value in per_coordinate(errors).values()]
    form = next((label for label, value in forms.items() if close(loss, value, rtol=1e-4, atol=1e-6)), None)
    if form is None:
        for wrong, why in mistakes:
            if close(loss, wrong, rtol=1e-4, atol=1e-6):
                fail(name, f"the loss is wrong: {why}")
        want = forms["squared norm over the coordinates, mean over the batch"]
        fail(name, f"the loss is {float(loss.detach()):.4f}, but the batch mean of ||denoiser(x_noisy) - x||^2 for the "
                   f"input your function gave the denoiser is {float(want):.4f}: compare the denoiser's output on "
                   "x_noisy with the clean x.")
    if not loss.requires_grad:
        fail(name, "the loss carries no gradient: don't detach it, call .item() or wrap the computation in no_grad.")
    loss.backward()
    if model.weight.grad is None or float(model.weight.grad.abs().sum()) == 0:
        fail(name, "no gradient reaches the denoiser's parameters.")
    expect_seeded(run, loss, seed + 1000, name, "losses",
                  "draw eps with the `generator` argument: torch.randn(x.shape, generator=generator).")
    passed(name, f"x_noisy = x + {sigma:g} eps with eps ~ N(0, I), loss = ||r(x_noisy) - x||^2 as the {form} "
                 f"({batch} examples of shape {shape}).")
