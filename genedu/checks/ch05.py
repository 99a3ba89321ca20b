"""Checks for chapter 5: DCGAN.

Each ``check_*`` takes the student's function (or class) plus a seed and sizes: the notebook's visible
self-check calls it with the defaults, the hidden tests with other seeds and sizes.

- :func:`check_conv2d_output_size`            the convolution's output size, against real layers' arithmetic
- :func:`check_dcgan_generator`               Radford et al.'s generator: layer by layer, output shape, tanh range
- :func:`check_dcgan_discriminator`           the discriminator (logits, no sigmoid)
- :func:`check_weights_init`                  N(0, 0.02) convolutions, N(1, 0.02) BatchNorm scales: checked
                                              statistically, within a few standard errors
- :func:`check_conditional_generator`         G(z, y) on [z, one_hot(y)]: the label is used, as a one-hot
- :func:`check_inception_score`               exp(E KL(p(y|x) || p(y))), against torch.distributions and closed forms

The expected layer lists are written out here from the rules (not taken from genedu.dcgan), and the
expected sizes are computed by running real torch layers.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torch.distributions import Categorical as _Categorical
from torch.distributions import kl_divergence as _kl_divergence

from genedu import dcgan as _dcgan
from genedu import metrics as _metrics
from genedu.checks._core import _forbid_calls, call, close, expect_number, expect_tensor, fail, passed, probe

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them (so
# the notebook builds exercise 5's generator, the conditional discriminator and the shipped models from the
# student's own builders).
REFERENCES = ("genedu.dcgan.conv2d_output_size", "genedu.metrics.inception_score",
              "genedu.dcgan.DCGANGenerator.__init__", "genedu.dcgan.DCGANDiscriminator.__init__",
              "genedu.dcgan.weights_init", "genedu.dcgan.ConditionalDCGANGenerator.__init__",
              "genedu.dcgan.ConditionalDCGANGenerator.forward")

# References bound at import time: replacing genedu.dcgan.* later does not change them.
_conv_size = _dcgan.conv2d_output_size
_weights_init = _dcgan.weights_init
_generator_init = _dcgan.DCGANGenerator.__init__
_discriminator_init = _dcgan.DCGANDiscriminator.__init__
_cond_forward = _dcgan.ConditionalDCGANGenerator.forward
_cond_init = _dcgan.ConditionalDCGANGenerator.__init__
_Module, _Conv2d, _ConvT2d, _BN, _ReLU, _LReLU, _Tanh, _Sigmoid = (
    nn.Module, nn.Conv2d, nn.ConvTranspose2d, nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)
_conv2d, _one_hot = F.conv2d, F.one_hot
_allclose, _cdist = torch.allclose, torch.cdist


def _forbidden(*own):
    """The references an answer must not call (in the notebook's self-check): its own first (they name the
    expected signature), then the chapter's other ones, which the grader's sandbox does not provide either."""
    every = (_conv_size, _generator_init, _discriminator_init, _weights_init, _cond_init, _cond_forward)
    return own + tuple(r for r in every if r not in own)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _is_int(x) -> bool:
    """A Python or NumPy integer, or a 0-dim integer tensor (not a bool)."""
    if isinstance(x, bool):
        return False
    if isinstance(x, torch.Tensor):
        return x.dim() == 0 and not x.is_floating_point() and x.dtype != torch.bool
    return isinstance(x, (int, np.integer))


# --- exercise 1: output sizes ------------------------------------------------------------------

def _size_cases(seed: int, n: int) -> list[tuple]:
    """Cases (size, kernel, stride, padding, dilation) where the common mistakes differ."""
    g = _gen(seed)
    cases = []
    pool = list(itertools.product(range(1, 34), (1, 2, 3, 4, 5, 7), (1, 2, 3), (0, 1, 2, 3), (1, 1, 2)))
    for idx in torch.randperm(len(pool), generator=g).tolist():
        size, k, s, p, d = pool[idx]
        if size + 2 * p < d * (k - 1) + 1:
            continue
        cases.append((size, k, s, p, d))
        if len(cases) == n:
            break
    # cases every mistake shows on: stride 2 with an odd remainder, padding, dilation
    return [(8, 3, 2, 1, 1), (7, 4, 2, 1, 1), (32, 4, 2, 1, 1), (9, 3, 1, 2, 2), (10, 5, 3, 0, 1)] + cases


def _measured(case: tuple) -> int:
    """The output side that torch's own layer produces (an independent computation)."""
    size, k, s, p, d = case
    return _conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, k, 1), stride=(s, 1), padding=(p, 0),
                   dilation=(d, 1)).shape[2]


def _describe(case: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(("size", "kernel", "stride", "padding", "dilation"), case))


def check_conv2d_output_size(conv2d_output_size, seed: int = 0, n: int = 60) -> None:
    """Check ``conv2d_output_size(size, kernel, stride, padding, dilation=1) -> int`` against the output
    sizes of real convolutions on ``n`` random cases (plus fixed ones that tell the usual mistakes apart)."""
    name = "conv2d_output_size"
    mistakes = {
        "you rounded up (ceil); the convolution rounds down: o = floor((i + 2p - d(k - 1) - 1) / s) + 1. "
        "A last window that would stick out of the padded input is dropped.":
            lambda i, k, s, p, d: -(-(i + 2 * p - d * (k - 1) - 1) // s) + 1,
        "you rounded to the nearest integer; the convolution rounds down (floor, i.e. //).":
            lambda i, k, s, p, d: round((i + 2 * p - d * (k - 1) - 1) / s) + 1,
        "the + 1 is missing: o = floor((i + 2p - d(k - 1) - 1) / s) + 1 (a kernel as large as the input still "
        "gives one output).": lambda i, k, s, p, d: (i + 2 * p - d * (k - 1) - 1) // s,
        "padding is added on both sides: the padded input has i + 2p pixels, not i + p.":
            lambda i, k, s, p, d: (i + p - d * (k - 1) - 1) // s + 1,
        "the dilation is ignored: a kernel of size k with dilation d spans d(k - 1) + 1 pixels.":
            lambda i, k, s, p, d: (i + 2 * p - (k - 1) - 1) // s + 1,
        "the padding is subtracted; it enlarges the input: i + 2p.":
            lambda i, k, s, p, d: (i - 2 * p - d * (k - 1) - 1) // s + 1,
    }
    cases = _size_cases(seed, n)
    expected = [_measured(c) for c in cases]
    got = []
    for case in cases:
        out = call(conv2d_output_size, name, case, reference=_forbidden(_conv_size))
        if isinstance(out, float) and out == int(out) and not isinstance(out, bool):
            fail(name, f"returned the float {out!r} for {_describe(case)}; a size is an int: use floor "
                       "division // (or int(...) of an exact value), not /.")
        if not _is_int(out):
            fail(name, f"should return an int, got {type(out).__name__} ({out!r}).")
        got.append(int(out))
    if got != expected:
        for why, formula in mistakes.items():
            if got == [formula(*c) for c in cases]:
                fail(name, why)
        i = next(j for j, (a, b) in enumerate(zip(got, expected)) if a != b)
        fail(name, f"for {_describe(cases[i])} you returned {got[i]}, but the layer's output has side {expected[i]}.")
    for case in [(5, 3, 1, 0)]:  # the default dilation is 1
        out = call(conv2d_output_size, name, case, reference=_forbidden(_conv_size))
        if out != 3:
            fail(name, "called without dilation, the default must be dilation=1 (size 5, kernel 3 gives 3).")
    passed(name, f"matches real convolutions on {n + 5} cases.")


# --- exercises 2 and 3: the builders ------------------------------------------------------------

_TYPES = [(_ConvT2d, "ConvTranspose2d"), (_Conv2d, "Conv2d"), (_BN, "BatchNorm2d"), (_LReLU, "LeakyReLU"),
          (_ReLU, "ReLU"), (_Tanh, "Tanh"), (_Sigmoid, "Sigmoid")]


def _kind(m) -> str | None:
    for cls, label in _TYPES:
        if isinstance(m, cls):
            return label
    return None


def _layers(model) -> list:
    """The layers that matter, in registration order (the forward order of an nn.Sequential)."""
    return [m for m in model.modules() if _kind(m) is not None]


def _spec(m) -> tuple:
    k = _kind(m)
    if k in ("Conv2d", "ConvTranspose2d"):
        return (k, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
    if k == "BatchNorm2d":
        return (k, m.num_features)
    return (k,)


def _expected_generator(nz: int, ngf: int, nc: int, image_size: int) -> list[tuple]:
    n = int(math.log2(image_size)) - 2
    widths = [ngf * 2 ** (n - 1 - i) for i in range(n)]
    layers, c = [], nz
    for i, w in enumerate(widths):
        layers += [("ConvTranspose2d", c, w, 4, 1 if i == 0 else 2, 0 if i == 0 else 1), ("BatchNorm2d", w), ("ReLU",)]
        c = w
    return layers + [("ConvTranspose2d", c, nc, 4, 2, 1), ("Tanh",)]


def _expected_discriminator(nc: int, ndf: int, image_size: int) -> list[tuple]:
    n = int(math.log2(image_size)) - 2
    layers, c = [], nc
    for i in range(n):
        w = ndf * 2**i
        layers.append(("Conv2d", c, w, 4, 2, 1))
        if i > 0:
            layers.append(("BatchNorm2d", w))
        layers.append(("LeakyReLU",))
        c = w
    return layers + [("Conv2d", c, 1, 4, 1, 0)]


def _fmt_layers(specs: list[tuple]) -> str:
    return ", ".join(s[0] if len(s) <= 2 else f"{s[0]}({s[1]}, {s[2]}, {s[3]}, {s[4]}, {s[5]})" for s in specs)


def _structure_mistakes(model_layers: list, specs: list[tuple], want: list[tuple], name: str, is_g: bool) -> None:
    kinds, want_kinds = [s[0] for s in specs], [s[0] for s in want]
    conv = "ConvTranspose2d" if is_g else "Conv2d"
    n_bn, want_bn = kinds.count("BatchNorm2d"), want_kinds.count("BatchNorm2d")
    if is_g:
        if "LeakyReLU" in kinds:
            fail(name, "the generator uses LeakyReLU; Radford et al. use ReLU in the generator (LeakyReLU(0.2) is "
                       "for the discriminator).")
        if "Tanh" not in kinds:
            fail(name, "the generator must end with nn.Tanh(): the images live in [-1, 1], the range of tanh."
                       + (" A sigmoid gives [0, 1]." if "Sigmoid" in kinds else ""))
        if kinds and kinds[-1] != "Tanh":
            fail(name, f"the generator must end with nn.Tanh(), yours ends with {kinds[-1]}.")
        if len(kinds) >= 2 and kinds[-2] == "BatchNorm2d":
            fail(name, "there is a BatchNorm at the generator's output (before the tanh); Radford et al. leave it out "
                       "there: it would force every image's pixels to a fixed mean and spread.")
    else:
        if kinds and kinds[-1] == "Sigmoid":
            fail(name, "the discriminator should return logits: leave out the final nn.Sigmoid() (the GAN losses "
                       "take logits, which is numerically stable; D(x) = sigmoid(logit)).")
        if "LeakyReLU" not in kinds and "ReLU" in kinds:
            fail(name, "the discriminator uses ReLU; Radford et al. use LeakyReLU with slope 0.2 there.")
        if len(kinds) >= 2 and kinds[0] == "Conv2d" and kinds[1] == "BatchNorm2d":
            fail(name, "there is a BatchNorm after the first convolution; Radford et al. leave it out at the "
                       "discriminator's input layer.")
        bad = [m.negative_slope for m in model_layers if isinstance(m, _LReLU) and abs(m.negative_slope - 0.2) > 1e-9]
        if bad:
            fail(name, f"LeakyReLU with slope {bad[0]:g}; use nn.LeakyReLU(0.2) (the default slope is 0.01).")
    if n_bn < want_bn:
        fail(name, f"{n_bn} BatchNorm layers, expected {want_bn}: every hidden layer gets nn.BatchNorm2d "
                   f"(all but the {'output' if is_g else 'input and output'} layers).")
    if kinds.count(conv) != want_kinds.count(conv):
        fail(name, f"{kinds.count(conv)} {conv} layers, expected {want_kinds.count(conv)} for these image sizes: "
                   f"each {'doubles' if is_g else 'halves'} the side with kernel 4, stride 2, padding 1, "
                   f"from {'1x1 to 4x4 first' if is_g else 'the image down to 4x4, then a 4x4 kernel to 1x1'}.")
    for m, s, w in zip(model_layers, specs, want):
        if s[0] == w[0] and s[0] == conv and s[1:3] != w[1:3]:
            fail(name, f"a {conv} maps {s[1]} to {s[2]} channels, expected {w[1]} to {w[2]}: the layers are "
                       + ("ngf * 2^(n-1), ..., 2 ngf, ngf then nc (the channels halve as the side doubles)." if is_g
                          else "ndf, 2 ndf, 4 ndf, ... then 1 (the channels double as the side halves)."))
        if s[0] == w[0] and s[0] == conv and s[3:] != w[3:]:
            fail(name, f"a {conv} has kernel {s[3]}, stride {s[4]}, padding {s[5]}; expected kernel {w[3]}, stride "
                       f"{w[4]}, padding {w[5]}. Check the sizes with your output-size formula: "
                       + ("4x4 stride 1 padding 0 from 1x1 to 4x4, then kernel 4, stride 2, padding 1 doubles the side."
                          if is_g else "kernel 4, stride 2, padding 1 halves the side; the last 4x4 map needs kernel 4, "
                                       "stride 1, padding 0."))
    if specs != want:
        fail(name, f"the layers are [{_fmt_layers(specs)}], expected [{_fmt_layers(want)}].")
    for i, m in enumerate(model_layers):
        if _kind(m) == conv and i + 1 < len(model_layers) and _kind(model_layers[i + 1]) == "BatchNorm2d" \
                and m.bias is not None:
            fail(name, "a convolution followed by BatchNorm has a bias: use bias=False (the BatchNorm subtracts "
                       "the mean, so the bias is cancelled and only wastes parameters).")


def _build(builder, name: str, args: tuple, forbidden) -> nn.Module:
    with _forbid_calls(forbidden, name):
        model = call(builder, name, args)
    if not isinstance(model, _Module):
        fail(name, f"should return an nn.Module (an nn.Sequential of the layers), got {type(model).__name__}.")
    return model


def check_dcgan_generator(dcgan_generator, seed: int = 0, nz: int = 100, ngf: int = 64, nc: int = 3,
                          image_size: int = 64) -> None:
    """Check ``dcgan_generator(nz, ngf, nc, image_size) -> nn.Sequential`` layer by layer (types, channels,
    kernel, stride, padding, no bias before BatchNorm), then its output on z of shape (B, nz, 1, 1):
    (B, nc, image_size, image_size) in [-1, 1]. The defaults give the PyTorch DCGAN tutorial's generator."""
    name = "dcgan_generator"
    torch.manual_seed(seed)
    model = _build(dcgan_generator, name, (nz, ngf, nc, image_size), _forbidden(_generator_init, _cond_init))
    layers = _layers(model)
    _structure_mistakes(layers, [_spec(m) for m in layers], _expected_generator(nz, ngf, nc, image_size), name, True)
    z = torch.randn(4, nz, 1, 1, generator=_gen(seed))
    try:
        out = model.train()(z)
    except Exception as err:  # noqa: BLE001
        fail(name, f"the model raised {type(err).__name__} on z of shape {tuple(z.shape)}: {err}")
    x = expect_tensor(out, name, "G(z)", (4, nc, image_size, image_size))
    if float(x.detach().abs().max()) > 1 + 1e-6:
        fail(name, "the images leave [-1, 1]: end with nn.Tanh().")
    if float(x.detach().std()) < 1e-4:
        fail(name, "every pixel of G(z) is the same: is the noise used?")
    passed(name, f"{len(layers)} layers as Radford et al. (and the PyTorch tutorial); z {tuple(z.shape)} -> "
                 f"{tuple(x.shape)} in [-1, 1].")


def check_dcgan_discriminator(dcgan_discriminator, seed: int = 0, nc: int = 3, ndf: int = 64,
                              image_size: int = 64) -> None:
    """Check ``dcgan_discriminator(nc, ndf, image_size) -> nn.Sequential`` layer by layer (no BatchNorm at the
    input, LeakyReLU(0.2), no bias before BatchNorm, no sigmoid), then that images (B, nc, S, S) give one
    logit each, of shape (B, 1, 1, 1)."""
    name = "dcgan_discriminator"
    torch.manual_seed(seed)
    model = _build(dcgan_discriminator, name, (nc, ndf, image_size), _forbidden(_discriminator_init))
    layers = _layers(model)
    _structure_mistakes(layers, [_spec(m) for m in layers], _expected_discriminator(nc, ndf, image_size), name, False)
    x = torch.rand(4, nc, image_size, image_size, generator=_gen(seed)) * 2 - 1
    try:
        out = model.train()(x)
    except Exception as err:  # noqa: BLE001
        fail(name, f"the model raised {type(err).__name__} on images of shape {tuple(x.shape)}: {err}")
    expect_tensor(out, name, "D(x)", (4, 1, 1, 1), {(4, 1, 2, 2): "the last convolution should map the 4x4 map to "
                                                                   "1x1: kernel 4, stride 1, padding 0."})
    passed(name, f"{len(layers)} layers as Radford et al. (the tutorial's without its Sigmoid); "
                 f"{tuple(x.shape)} -> {tuple(out.shape)} logits.")


# --- exercise 4: weights_init --------------------------------------------------------------------

def _apply_to_modules(weights_init, model: nn.Module) -> None:
    """Probe function of :func:`check_weights_init`: ``weights_init(m)`` on every module of ``model`` (itself
    included), where the answer lives; the grader gets the model's new weights back."""
    for module in model.modules():
        weights_init(module)


def check_weights_init(weights_init, seed: int = 0, width: int = 32, image_size: int = 32) -> None:
    """Check ``weights_init(module)`` on a DCGAN generator and discriminator (``model.apply``): conv weights
    mean 0 and std 0.02, BatchNorm weights mean 1 and std 0.02 (within 5 standard errors, per layer and
    overall), Gaussian (68.3 % within one std), BatchNorm biases 0."""
    name = "weights_init"
    torch.manual_seed(seed)
    models = [_dcgan.DCGANGenerator(100, width, 1, image_size), _dcgan.DCGANDiscriminator(1, width, image_size)]
    for model in models:  # one call per model (the grader receives the initialised weights back)
        probe(weights_init, name, _apply_to_modules, (model,), reference=_forbidden(_weights_init))
    mods = [m for model in models for m in model.modules()]
    convs = [m for m in mods if isinstance(m, (_Conv2d, _ConvT2d))]
    bns = [m for m in mods if isinstance(m, _BN)]
    for m in convs:
        w = m.weight.detach().double().flatten()
        n = w.numel()
        what = f"the weights of {type(m).__name__}({m.in_channels}, {m.out_channels})"
        std = float(w.std())
        bound = 1 / math.sqrt(m.weight[0].numel())  # PyTorch's default: U(-bound, bound), bound = 1/sqrt(fan_in)
        if float(w.abs().max()) <= bound and abs(std - bound / math.sqrt(3)) < 5 * bound / math.sqrt(3 * 2 * n):
            fail(name, f"{what} look untouched (PyTorch's default initialisation, uniform): make sure both nn.Conv2d "
                       "and nn.ConvTranspose2d are initialised (e.g. isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) "
                       "or 'Conv' in type(m).__name__).")
        if abs(std - 0.02 / math.sqrt(3)) < 5 * 0.02 / math.sqrt(6 * n) and float(w.abs().max()) <= 0.02:
            fail(name, f"{what} lie in [-0.02, 0.02] with std {std:.4f}: a uniform distribution. Draw them from the "
                       "normal distribution N(0, 0.02^2) (nn.init.normal_(m.weight, 0.0, 0.02)).")
        if abs(std - 0.2) < 0.02:
            fail(name, f"{what} have std {std:.3f}: you used 0.2; Radford et al. use 0.02.")
        if abs(std - math.sqrt(0.02)) < 5 * math.sqrt(0.02) / math.sqrt(2 * n):
            fail(name, f"{what} have std {std:.3f} = sqrt(0.02): 0.02 is the standard deviation, not the variance "
                       "(nn.init.normal_(w, 0.0, 0.02) takes the std).")
        if abs(float(w.mean())) > 5 * 0.02 / math.sqrt(n) + 1e-9 or abs(std - 0.02) > 5 * 0.02 / math.sqrt(2 * n):
            fail(name, f"{what} have mean {float(w.mean()):.4f} and std {std:.4f}; expected N(0, 0.02^2).")
    w = torch.cat([m.weight.detach().double().flatten() for m in convs])
    inside = float((w.abs() < 0.02).double().mean())
    if abs(inside - 0.6827) > 5 * math.sqrt(0.6827 * 0.3173 / len(w)):
        fail(name, f"{100 * inside:.1f} % of the conv weights lie within one std of 0; a Gaussian has 68.3 %: draw them "
                   "from a normal distribution (nn.init.normal_), not a uniform one.")
    gamma = torch.cat([m.weight.detach().double() for m in bns])
    beta = torch.cat([m.bias.detach().double() for m in bns])
    n = len(gamma)
    if abs(float(gamma.mean())) < 0.1:
        fail(name, "the BatchNorm weights have mean about 0: they are scales, drawn from N(1, 0.02^2), not N(0, 0.02^2) "
                   "(a scale near 0 switches the layer's output off).")
    if float(gamma.std()) < 1e-6:
        fail(name, "the BatchNorm weights are all equal (PyTorch's default 1): draw them from N(1, 0.02^2).")
    if abs(float(gamma.mean()) - 1) > 5 * 0.02 / math.sqrt(n) or abs(float(gamma.std()) - 0.02) > 5 * 0.02 / math.sqrt(2 * n):
        fail(name, f"the BatchNorm weights have mean {float(gamma.mean()):.4f} and std {float(gamma.std()):.4f}; "
                   "expected N(1, 0.02^2).")
    if float(beta.abs().max()) > 0:
        fail(name, "the BatchNorm biases must be 0 (nn.init.constant_(m.bias, 0)).")
    passed(name, f"{len(w)} conv weights ~ N(0, 0.02^2), {n} BatchNorm scales ~ N(1, 0.02^2), biases 0.")


# --- exercise 5: the conditional generator -------------------------------------------------------

def _conditional_probe(cls, seed: int, sizes: tuple, z: torch.Tensor, y: torch.Tensor, z2: torch.Tensor) -> dict:
    """Probe function of :func:`check_conditional_generator`, run where the answer lives (the notebook's kernel,
    or the grader's sandbox): builds ``cls(*sizes)`` and reports, as plain data, what the check judges: the
    first transposed convolution's input width and the input it receives in ``forward(z, y)``, the images for
    (z, y) and for (z2, label 3) in eval mode without gradients, and whether a training-mode forward carries a
    gradient to the weights that read the label."""
    nz, n_classes = sizes[0], sizes[1]
    torch.manual_seed(seed)
    model = cls(*sizes)
    report = {"type": type(model).__name__, "module": isinstance(model, _Module)}
    if not report["module"]:
        return report
    convts = [m for m in model.modules() if isinstance(m, _ConvT2d)]
    report["first_in"] = convts[0].in_channels if convts else None
    if not convts or convts[0].in_channels != nz + n_classes:
        return report
    first, seen = convts[0], []
    handle = first.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))

    def plain(out, key):
        report[key] = out.detach() if type(out) is torch.Tensor else None
        report[key + "_type"] = type(out).__name__

    try:
        model.eval()
        with torch.no_grad():
            plain(model(z.clone(), y.clone()), "out")
    finally:
        handle.remove()
    report["first_input"] = seen[0] if seen else None
    with torch.no_grad():
        plain(model(z2.clone(), torch.full((len(z2),), min(3, n_classes - 1))), "same_label")
    model.train()
    out = model(z2.clone(), y.clone())
    report["requires_grad"] = isinstance(out, torch.Tensor) and out.requires_grad
    report["label_grad"] = None
    if report["requires_grad"]:
        out.sum().backward()
        if first.weight.grad is not None:
            report["label_grad"] = float(first.weight.grad[nz:].abs().sum())
    return report


def _check_data_path(ConditionalGenerator, name: str, sizes: tuple, z: torch.Tensor, y: torch.Tensor,
                     onehot: torch.Tensor) -> None:
    """What the probe function reported, checked without it: a model built by ``call`` returns, for (z, y), its
    inner generator (one of its submodules, whose layers the check has) applied to [z, one_hot(y)], recomputed
    here (in training mode, as both are)."""
    model = call(ConditionalGenerator, name, sizes, reference=_forbidden(_cond_init, _cond_forward, _generator_init))
    if not isinstance(model, _Module):
        fail(name, f"ConditionalGenerator(...) should be an nn.Module, got {type(model).__name__}.")
    out = call(model, name, (z.clone(), y.clone()), reference=_forbidden(_cond_init, _cond_forward, _generator_init))
    if not isinstance(out, torch.Tensor):
        fail(name, f"G(z, y) should be a torch.Tensor, got {type(out).__name__}.")
    inners = [m for m in model.children() if any(isinstance(k, _ConvT2d) for k in m.modules())]
    for inner in inners:
        for code in (torch.cat([z, onehot], 1), torch.cat([onehot, z], 1)):
            for shaped in (code[:, :, None, None], code):
                try:
                    with torch.no_grad():
                        want = inner.train()(shaped)
                except Exception:  # noqa: BLE001 - not the input this submodule takes
                    continue
                if isinstance(want, torch.Tensor) and close(out, want, 1e-4, 1e-5):
                    return
    fail(name, "G(z, y) is not the inner generator (a submodule of your class, built with dcgan_generator) applied "
               "to [z, one_hot(y)]: forward should return self.<generator>(torch.cat([z, F.one_hot(y, n_classes)"
               ".float()], dim=1)[:, :, None, None]).")


def check_conditional_generator(ConditionalGenerator, seed: int = 0, nz: int = 8, n_classes: int = 10,
                                ngf: int = 8, nc: int = 1, image_size: int = 16) -> None:
    """Check ``ConditionalGenerator(nz, n_classes, ngf, nc, image_size)``, an nn.Module whose
    ``forward(z, y)`` (z (B, nz), y (B,) int64) feeds [z, one_hot(y)] to a DCGAN generator: output shape and
    range, the first transposed convolution receives exactly that concatenation, different labels give
    different images for the same z, and gradients reach the parameters.

    The model is built and run by a probe function (:func:`_conditional_probe`), where the answer lives: its
    hooks and its backward pass must run next to the student's own forward."""
    name = "ConditionalGenerator"
    g = _gen(seed)
    z = torch.randn(1, nz, generator=g).repeat(n_classes, 1)
    y = torch.arange(n_classes)
    z2 = torch.randn(n_classes, nz, generator=g)
    report = probe(ConditionalGenerator, name, _conditional_probe, (seed, (nz, n_classes, ngf, nc, image_size), z, y, z2),
                   reference=_forbidden(_cond_init, _cond_forward, _generator_init))
    if not isinstance(report, dict) or "module" not in report:
        fail(name, "the grader could not read what your class built.")
    if not report["module"]:
        fail(name, f"ConditionalGenerator(...) should be an nn.Module, got {report['type']}.")
    first_in = report["first_in"]
    if first_in is None:
        fail(name, "the model has no nn.ConvTranspose2d: build the inner generator with your "
                   "dcgan_generator(nz + n_classes, ngf, nc, image_size) in __init__ (as self.something).")
    if first_in == nz + 1:
        fail(name, "the first layer takes nz + 1 inputs: you fed the label as one number. Give it as a one-hot "
                   f"vector of n_classes = {n_classes} entries (F.one_hot(y, n_classes).float()): a label is a "
                   "category, and 7 is not 'more' than 3.")
    if first_in == nz:
        fail(name, "the first layer takes nz inputs: the label is not fed to the generator. Build it for "
                   "nz + n_classes inputs and concatenate one_hot(y) to z.")
    if first_in != nz + n_classes:
        fail(name, f"the first transposed convolution takes {first_in} channels; expected nz + n_classes = "
                   f"{nz + n_classes} ([z, one_hot(y)]).")
    if report["out"] is None:
        fail(name, f"G(z, y) should be a torch.Tensor, got {report['out_type']}.")
    x = expect_tensor(report["out"], name, "G(z, y)", (n_classes, nc, image_size, image_size))
    if float(x.abs().max()) > 1 + 1e-6:
        fail(name, "the images leave [-1, 1]: the inner generator ends with tanh.")
    onehot = _one_hot(y, n_classes).float()
    want = torch.cat([z, onehot], 1)
    seen = report["first_input"]
    if not isinstance(seen, torch.Tensor):
        fail(name, "the first transposed convolution was never called: forward should run the inner generator.")
    if seen.numel() != want.numel():
        fail(name, f"the first transposed convolution received an input of shape {tuple(seen.shape)}; expected "
                   f"[z, one_hot(y)] of shape ({n_classes}, {nz + n_classes}, 1, 1).")
    inp = seen.reshape(len(z), -1).double()
    if not _allclose(inp, want.double(), atol=1e-6):
        if _allclose(inp, torch.cat([onehot, z], 1).double(), atol=1e-6):
            pass  # [one_hot(y), z] is as good
        elif _allclose(inp[:, :nz], z.double(), atol=1e-6):
            fail(name, "the label part of the input is not one_hot(y): use F.one_hot(y, n_classes).float() "
                       "(y holds integer labels 0..n_classes-1).")
        else:
            fail(name, "the first layer does not receive [z, one_hot(y)]: concatenate along dim=1, "
                       "torch.cat([z, F.one_hot(y, n_classes).float()], dim=1).")
    flat = x.reshape(n_classes, -1).double()
    dist = _cdist(flat, flat) + torch.eye(n_classes, dtype=torch.float64)
    if float(dist.min()) < 1e-5:
        fail(name, "two different labels gave the same image for the same z: the label is not used.")
    if report["same_label"] is None:
        fail(name, f"G(z, y) should be a torch.Tensor, got {report['same_label_type']}.")
    x2 = expect_tensor(report["same_label"], name, "G(z, y)", (n_classes, nc, image_size, image_size))
    if float(x2.reshape(n_classes, -1).std(0).max()) < 1e-5:
        fail(name, "different z with the same label gave the same image: z is not used.")
    if not report["requires_grad"]:
        fail(name, "G(z, y) carries no gradient in training mode: do not detach or use torch.no_grad() in forward.")
    if not report["label_grad"]:
        fail(name, "no gradient reaches the weights that read the label.")
    _check_data_path(ConditionalGenerator, name, (nz, n_classes, ngf, nc, image_size), z2, y, onehot)
    passed(name, f"G(z, y) on [z, one_hot(y)]: {n_classes} labels give {n_classes} different images "
                 f"{tuple(x.shape[1:])} for one z.")


# --- exercise 6: the Inception score ---------------------------------------------------------------

_inception_ref = _metrics.inception_score


def _kl_categorical(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(Categorical(p_i) || Categorical(q_i)) per row, by torch.distributions (float64): an independent
    computation of the score's KL terms (0 log 0 = 0 is handled there)."""
    return _kl_divergence(_Categorical(probs=p), _Categorical(probs=q.expand_as(p)))


def _expected_is(p: torch.Tensor, splits: int) -> float:
    scores = []
    for part in torch.tensor_split(p, splits):
        scores.append(math.exp(float(_kl_categorical(part, part.mean(0, keepdim=True)).mean())))
    return sum(scores) / len(scores)


def _score(inception_score, name: str, probs: torch.Tensor, splits: int) -> float:
    out = call(inception_score, name, (probs.clone(),), {"splits": splits}, reference=_forbidden(_inception_ref))
    value = expect_number(out, name, "the score")
    if math.isnan(value):
        fail(name, "the score is NaN: a prediction with an exact 0 gives 0 * log 0 = 0 * (-inf) = NaN. Take 0 log 0 "
                   "as 0: torch.xlogy(p, p), or clamp the probabilities away from 0 inside the log.")
    return value


def check_inception_score(inception_score, seed: int = 0, n: int = 500, k: int = 10, splits: int = 1) -> None:
    """Check ``inception_score(probs, splits=1) -> float``: exp(E_x KL(p(y|x) || p(y))) with p(y) the mean
    prediction, on ``splits`` consecutive parts of the rows (each with its own p(y)), averaged.

    The expected values come from torch.distributions' KL between categorical distributions; the closed forms
    are checked too: 1 for identical predictions, k for one-hot predictions spread evenly over the k classes,
    and a finite score for predictions with exact zeros.
    """
    name = "inception_score"
    g = _gen(seed)
    temperature = torch.rand(n, 1, generator=g, dtype=torch.float64) * 2.5 + 0.3
    logits = torch.randn(n, k, generator=g, dtype=torch.float64) * 2 + torch.linspace(0, 1.5, k, dtype=torch.float64)
    probs = torch.softmax(logits / temperature, dim=1).float()
    p = probs.double()
    got = _score(inception_score, name, probs, splits)
    want = _expected_is(p, splits)

    def per_split(fn):
        return [fn(part, part.mean(0, keepdim=True)) for part in torch.tensor_split(p, splits)]

    entropy = lambda q: -(q * q.log()).sum(-1)  # noqa: E731  (no zeros in these probabilities)
    mean_kl = [float(_kl_categorical(a, b).mean()) for a, b in zip(torch.tensor_split(p, splits),
                                                                    [s.mean(0, keepdim=True) for s in torch.tensor_split(p, splits)])]
    mistakes = [
        (sum(mean_kl) / splits, "this is the log of the score: the Inception score is exp(E_x KL(p(y|x) || p(y)))."),
        (sum(math.exp(float(v)) for v in per_split(lambda a, b: _kl_categorical(b.expand_as(a), a).mean())) / splits,
         "the KL is reversed: the score uses KL(p(y|x) || p(y)), the prediction against the marginal p(y)."),
        (sum(float(_kl_categorical(a, b).exp().mean()) for a, b in zip(
            torch.tensor_split(p, splits), [s.mean(0, keepdim=True) for s in torch.tensor_split(p, splits)])) / splits,
         "you averaged exp(KL) over the samples; take the exponential of the average KL, exp(E_x KL)."),
        (sum(math.exp(float(_kl_categorical(a, b).sum())) for a, b in zip(
            torch.tensor_split(p, splits), [s.mean(0, keepdim=True) for s in torch.tensor_split(p, splits)])) / splits,
         "you summed the KL over the samples; E_x is the mean over the samples."),
        (sum(math.exp(float(entropy(b)[0])) for b in [s.mean(0, keepdim=True) for s in torch.tensor_split(p, splits)])
         / splits, "this is exp(H(p(y))), the marginal's entropy alone; subtract the mean entropy of the predictions: "
                   "E_x KL(p(y|x) || p(y)) = H(p(y)) - E_x H(p(y|x))."),
        (sum(math.exp(-float(entropy(a).mean())) for a in torch.tensor_split(p, splits)) / splits,
         "this is exp(-E_x H(p(y|x))), the predictions' confidence alone; the marginal p(y) = E_x p(y|x) is missing."),
    ]
    if splits > 1:
        whole = p.mean(0, keepdim=True)
        mistakes += [
            (math.exp(float(_kl_categorical(p, whole).mean())),
             f"you scored all {n} rows at once; split them into splits = {splits} consecutive parts "
             "(torch.tensor_split), score each with its own p(y), and average the scores."),
            (sum(math.exp(float(_kl_categorical(a, whole).mean())) for a in torch.tensor_split(p, splits)) / splits,
             "each part needs its own marginal p(y), the mean prediction of that part, not of all rows."),
            (math.exp(sum(mean_kl) / splits),
             "average the parts' scores, not their log-scores: (IS_1 + ... + IS_s) / s, as Salimans et al. report."),
        ]
    if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-6):
        for value, why in mistakes:
            if math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-6):
                fail(name, f"the score is {got:.4f}: {why}")
        fail(name, f"the score of {n} random predictions over {k} classes (splits = {splits}) is {got:.4f}, expected "
                   f"{want:.4f}.")
    same = probs[:1].expand(n, k).contiguous()                         # p(y|x) = p(y) for every x
    got_same = _score(inception_score, name, same, splits)
    if not math.isclose(got_same, 1.0, abs_tol=1e-4):
        fail(name, f"when every sample gets the same prediction the score must be 1 (p(y|x) = p(y)), got {got_same:.4f}.")
    spread = F.one_hot(torch.arange(k * splits * 3) % k, k).float()   # every part: each class 3 times
    got_spread = _score(inception_score, name, spread, splits)
    if not math.isclose(got_spread, float(k), rel_tol=1e-4):
        fail(name, f"for confident one-hot predictions spread evenly over the {k} classes the score must be {k} "
                   f"(its maximum), got {got_spread:.4f}.")
    passed(name, f"matches exp(E KL(p(y|x) || p(y))) on {n} predictions over {k} classes (splits = {splits}); 1 for "
                 f"identical predictions, {k} for one-hot predictions spread over the classes, finite with zeros.")
