"""The chapter 5 checks: correct answers written differently pass; the wrong answers students write
fail with the check's explanation."""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torch.distributions import Categorical, kl_divergence

from genedu import dcgan, metrics
from genedu.checks._core import CheckFailed
from genedu.checks.ch05 import (check_conditional_generator, check_conv2d_output_size, check_dcgan_discriminator,
                                check_dcgan_generator, check_inception_score, check_weights_init)

# --- exercise 1: sizes -----------------------------------------------------------------------------


def conv_ref(size, kernel, stride, padding, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_floor(size, kernel, stride, padding, dilation=1):
    return math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1)


CONV_WRONG = {
    "ceil": (lambda i, k, s, p, d=1: math.ceil((i + 2 * p - d * (k - 1) - 1) / s) + 1, "rounded up"),
    "true division": (lambda i, k, s, p, d=1: (i + 2 * p - d * (k - 1) - 1) / s + 1, "float"),
    "no +1": (lambda i, k, s, p, d=1: (i + 2 * p - d * (k - 1) - 1) // s, r"\+ 1 is missing"),
    "padding once": (lambda i, k, s, p, d=1: (i + p - d * (k - 1) - 1) // s + 1, "both sides"),
    "no dilation": (lambda i, k, s, p, d=1: (i + 2 * p - k) // s + 1, "dilation is ignored"),
    "round": (lambda i, k, s, p, d=1: round((i + 2 * p - d * (k - 1) - 1) / s) + 1, "nearest"),
    "default dilation 2": (lambda i, k, s, p, d=2: (i + 2 * p - d * (k - 1) - 1) // s + 1, "default must be dilation=1"),
}

def test_size_answers_pass(capsys):
    check_conv2d_output_size(conv_ref)
    check_conv2d_output_size(conv_floor, seed=3, n=100)
    assert capsys.readouterr().out.count("[passed]") == 2


@pytest.mark.parametrize("key", CONV_WRONG)
def test_conv_size_mistakes(key):
    fn, message = CONV_WRONG[key]
    with pytest.raises(CheckFailed, match=message):
        check_conv2d_output_size(fn)


def test_size_answer_calling_the_library_fails():
    with pytest.raises(CheckFailed, match="reference"):
        check_conv2d_output_size(lambda i, k, s, p, d=1: dcgan.conv2d_output_size(i, k, s, p, d))


# --- exercises 2-3: the builders -------------------------------------------------------------------

def gen_ref(nz, ngf, nc, image_size, *, relu=nn.ReLU, out_act=nn.Tanh, bias=False, bn_out=False, pad=1, last_bias=False,
            skip_bn=False):
    n = int(math.log2(image_size)) - 2
    layers, c = [], nz
    for i in range(n):
        w = ngf * 2 ** (n - 1 - i)
        layers.append(nn.ConvTranspose2d(c, w, 4, 1 if i == 0 else 2, 0 if i == 0 else pad, bias=bias))
        if not (skip_bn and i == 1):
            layers.append(nn.BatchNorm2d(w))
        layers.append(relu())
        c = w
    layers.append(nn.ConvTranspose2d(c, nc, 4, 2, 1, bias=last_bias))
    if bn_out:
        layers.append(nn.BatchNorm2d(nc))
    if out_act is not None:
        layers.append(out_act())
    return nn.Sequential(*layers)


def gen_listed(nz, ngf, nc, image_size):  # written with a width list and a loop over pairs
    widths = [nz] + [ngf * 2**j for j in range(int(math.log2(image_size)) - 3, -1, -1)]
    seq = nn.Sequential()
    for j, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        seq.append(nn.ConvTranspose2d(a, b, kernel_size=4, stride=2 if j else 1, padding=1 if j else 0, bias=False))
        seq.append(nn.BatchNorm2d(b))
        seq.append(nn.ReLU(inplace=True))
    seq.append(nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=True))
    seq.append(nn.Tanh())
    return seq


def disc_ref(nc, ndf, image_size, *, act=lambda: nn.LeakyReLU(0.2, inplace=True), bias=False, bn_in=False,
             sigmoid=False, last=(4, 1, 0), skip_bn=False):
    n = int(math.log2(image_size)) - 2
    layers, c = [], nc
    for i in range(n):
        w = ndf * 2**i
        layers.append(nn.Conv2d(c, w, 4, 2, 1, bias=bias))
        if (i > 0 or bn_in) and not (skip_bn and i == 2):
            layers.append(nn.BatchNorm2d(w))
        layers.append(act())
        c = w
    layers.append(nn.Conv2d(c, 1, *last, bias=False))
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class GenTutorial(nn.Module):
    """The PyTorch DCGAN tutorial's way: a class of its own whose forward runs self.main."""

    def __init__(self, nz, ngf, nc, image_size):
        super().__init__()
        self.main = gen_ref(nz, ngf, nc, image_size)

    def forward(self, input):
        return self.main(input)


class DiscTutorial(nn.Module):
    def __init__(self, nc, ndf, image_size):
        super().__init__()
        self.main = disc_ref(nc, ndf, image_size)

    def forward(self, input):
        return self.main(input)


def test_builder_answers_pass(capsys):
    check_dcgan_generator(gen_ref)
    check_dcgan_generator(gen_listed, seed=1, nz=16, ngf=8, nc=1, image_size=32)
    check_dcgan_generator(gen_ref, seed=2, nz=10, ngf=4, nc=2, image_size=16)
    check_dcgan_discriminator(disc_ref)
    check_dcgan_discriminator(disc_ref, seed=2, nc=1, ndf=8, image_size=32)
    check_dcgan_discriminator(lambda nc, ndf, s: disc_ref(nc, ndf, s, act=lambda: nn.LeakyReLU(negative_slope=0.2)),
                              seed=3, nc=2, ndf=4, image_size=16)
    check_dcgan_generator(GenTutorial, seed=4, nz=16, ngf=8, nc=1, image_size=32)
    check_dcgan_discriminator(DiscTutorial, seed=4, nc=1, ndf=8, image_size=32)
    assert capsys.readouterr().out.count("[passed]") == 8


GEN_WRONG = {
    "LeakyReLU in G": (lambda *a: gen_ref(*a, relu=lambda: nn.LeakyReLU(0.2)), "ReLU in the generator"),
    "no tanh": (lambda *a: gen_ref(*a, out_act=None), "must end with nn.Tanh"),
    "sigmoid output": (lambda *a: gen_ref(*a, out_act=nn.Sigmoid), "A sigmoid gives"),
    "BN on the output": (lambda *a: gen_ref(*a, bn_out=True), "BatchNorm at the generator's output"),
    "missing BN": (lambda *a: gen_ref(*a, skip_bn=True), "BatchNorm layers, expected"),
    "bias before BN": (lambda *a: gen_ref(*a, bias=True), "bias=False"),
    "padding 0": (lambda *a: gen_ref(*a, pad=0), "padding"),
    "hard-coded 64": (lambda nz, ngf, nc, s: gen_ref(nz, ngf, nc, 64), "layers, expected"),
    "library": (lambda *a: dcgan.DCGANGenerator(*a).main, "reference"),
    "doubling widths": (lambda nz, ngf, nc, s: nn.Sequential(
        nn.ConvTranspose2d(nz, ngf, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, nc, 4, 2, 1, bias=False), nn.Tanh()), "channels halve"),
}

DISC_WRONG = {
    "ReLU in D": (lambda *a: disc_ref(*a, act=nn.ReLU), "LeakyReLU with slope 0.2"),
    "default slope": (lambda *a: disc_ref(*a, act=nn.LeakyReLU), "0.01"),
    "BN at the input": (lambda *a: disc_ref(*a, bn_in=True), "first convolution"),
    "missing BN": (lambda *a: disc_ref(*a, skip_bn=True), "BatchNorm layers, expected"),
    "bias before BN": (lambda *a: disc_ref(*a, bias=True), "bias=False"),
    "sigmoid": (lambda *a: disc_ref(*a, sigmoid=True), "logits"),
    "last padding 1": (lambda *a: disc_ref(*a, last=(4, 1, 1)), "padding 0"),
    "library": (lambda *a: dcgan.DCGANDiscriminator(*a).main, "reference"),
}


@pytest.mark.parametrize("key", GEN_WRONG)
def test_generator_mistakes(key):
    fn, message = GEN_WRONG[key]
    with pytest.raises(CheckFailed, match=message):
        check_dcgan_generator(fn, nz=16, ngf=8, nc=1, image_size=32)


@pytest.mark.parametrize("key", DISC_WRONG)
def test_discriminator_mistakes(key):
    fn, message = DISC_WRONG[key]
    with pytest.raises(CheckFailed, match=message):
        check_dcgan_discriminator(fn, nc=1, ndf=8, image_size=32)


# --- exercise 5: weights_init ----------------------------------------------------------------------

def wi_ref(m):
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0)


def wi_isinstance(m):
    with torch.no_grad():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.copy_(torch.randn_like(m.weight) * 0.02)
        if isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(1 + 0.02 * torch.randn_like(m.weight))
            m.bias.zero_()


def _wi(conv_std=0.02, bn_mean=1.0, bn_std=0.02, bn_bias=0.0, only=None, uniform=False, skip_bn=False):
    def weights_init(m):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and (only is None or isinstance(m, only)):
            if uniform:
                nn.init.uniform_(m.weight, -0.02, 0.02)
            else:
                nn.init.normal_(m.weight, 0.0, conv_std)
        elif isinstance(m, nn.BatchNorm2d) and not skip_bn:
            nn.init.normal_(m.weight, bn_mean, bn_std)
            nn.init.constant_(m.bias, bn_bias)
    return weights_init


WI_WRONG = {
    "std 0.2": (_wi(conv_std=0.2), "you used 0.2"),
    "variance 0.02": (_wi(conv_std=math.sqrt(0.02)), "not the variance"),
    "BN N(0, 0.02)": (_wi(bn_mean=0.0), r"N\(1, 0.02\^2\), not N\(0"),
    "BN untouched": (_wi(skip_bn=True), "all equal"),
    "BN bias 0.1": (_wi(bn_bias=0.1), "biases must be 0"),
    "only ConvTranspose2d": (_wi(only=nn.ConvTranspose2d), "untouched"),
    "only Conv2d": (_wi(only=nn.Conv2d), "untouched"),
    "uniform": (_wi(uniform=True), "normal distribution"),
    "BN std 0.2": (_wi(bn_std=0.2), "BatchNorm weights have mean"),
    "library": (dcgan.weights_init, "reference"),
}


def test_weights_init_answers_pass(capsys):
    check_weights_init(wi_ref)
    check_weights_init(wi_isinstance, seed=5, width=16, image_size=64)
    assert capsys.readouterr().out.count("[passed]") == 2


@pytest.mark.parametrize("key", WI_WRONG)
def test_weights_init_mistakes(key):
    fn, message = WI_WRONG[key]
    with pytest.raises(CheckFailed, match=message):
        check_weights_init(fn)


# --- exercise 6: the conditional generator -------------------------------------------------------

class CondRef(nn.Module):
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        self.n_classes = n_classes
        self.net = gen_ref(nz + n_classes, ngf, nc, image_size)

    def forward(self, z, y):
        return self.net(torch.cat([z, F.one_hot(y, self.n_classes).float()], dim=1)[:, :, None, None])


class CondOneHotFirst(nn.Module):  # [one_hot(y), z], eye-indexing, own Sequential
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        self.register_buffer("eye", torch.eye(n_classes))
        self.main = gen_ref(nz + n_classes, ngf, nc, image_size)

    def forward(self, z, y):
        return self.main(torch.cat([self.eye[y], z], 1)[:, :, None, None])


class CondIgnoresLabel(CondRef):
    def forward(self, z, y):
        return self.net(torch.cat([z, torch.zeros(len(z), self.n_classes)], dim=1)[:, :, None, None])


class CondScalarLabel(nn.Module):
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        self.net = gen_ref(nz + 1, ngf, nc, image_size)

    def forward(self, z, y):
        return self.net(torch.cat([z, y[:, None].float()], 1)[:, :, None, None])


class CondNoLabel(nn.Module):
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        self.net = gen_ref(nz, ngf, nc, image_size)

    def forward(self, z, y):
        return self.net(z[:, :, None, None])


class CondEmbedding(CondRef):
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__(nz, n_classes, ngf, nc, image_size)
        self.embed = nn.Embedding(n_classes, n_classes)

    def forward(self, z, y):
        return self.net(torch.cat([z, self.embed(y)], 1)[:, :, None, None])


class CondDetached(CondRef):
    def forward(self, z, y):
        return super().forward(z, y).detach()


class CondLibrary(dcgan.ConditionalDCGANGenerator):
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__(nz, n_classes, ngf, nc, image_size)


class CondLibraryGenerator(CondRef):  # G0 from genedu's DCGAN generator (exercise 3's reference)
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__(nz, n_classes, ngf, nc, image_size)
        self.net = dcgan.DCGANGenerator(nz + n_classes, ngf, nc, image_size)

    def forward(self, z, y):
        return self.net(torch.cat([z, F.one_hot(y, self.n_classes).float()], dim=1))


class CondTutorial(nn.Module):  # G0 the PyTorch tutorial's way: a class of its own with self.main
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        self.n_classes = n_classes
        self.generator = GenTutorial(nz + n_classes, ngf, nc, image_size)

    def forward(self, z, y):
        return self.generator(torch.cat([z, F.one_hot(y, self.n_classes).float()], 1).unsqueeze(-1).unsqueeze(-1))


COND_WRONG = {
    "ignores the label": (CondIgnoresLabel, "not one_hot"),
    "scalar label": (CondScalarLabel, "one number"),
    "no label": (CondNoLabel, "not fed"),
    "embedding": (CondEmbedding, "one_hot"),
    "detached": (CondDetached, "no gradient"),
    "library subclass": (CondLibrary, "reference"),
    "library generator": (CondLibraryGenerator, "reference"),
}


def test_conditional_answers_pass(capsys):
    check_conditional_generator(CondRef)
    check_conditional_generator(CondOneHotFirst, seed=4, nz=5, n_classes=4, ngf=4, nc=2, image_size=32)
    check_conditional_generator(CondTutorial, seed=5, nz=6, n_classes=3, ngf=4, nc=1, image_size=16)
    assert capsys.readouterr().out.count("[passed]") == 3


@pytest.mark.parametrize("key", COND_WRONG)
def test_conditional_mistakes(key):
    cls, message = COND_WRONG[key]
    with pytest.raises(CheckFailed, match=message):
        check_conditional_generator(cls)


# --- exercise 6: the Inception score ----------------------------------------------------------------------

def is_ref(probs, splits=1):
    scores = []
    for part in torch.tensor_split(probs.double(), splits):
        marginal = part.mean(0, keepdim=True)
        scores.append(float(((torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)).mean().exp()))
    return sum(scores) / len(scores)


def is_entropies(probs, splits=1):  # H(p(y)) - E H(p(y|x)), by torch.distributions, a 0-d tensor
    values = []
    for part in probs.tensor_split(splits):
        kl = Categorical(probs=part).entropy().neg().mean() + Categorical(probs=part.mean(0)).entropy()
        values.append(kl.exp())
    return torch.stack(values).mean()


def is_clamped(probs, splits=1):  # log of clamped probabilities, np-style chunks by hand
    n = len(probs)
    bounds = [round(i * n / splits) for i in range(splits + 1)]
    total = 0.0
    for a, b in zip(bounds[:-1], bounds[1:]):
        part = probs[a:b].double()
        p_y = part.mean(dim=0)
        kl = (part * (part.clamp_min(1e-30).log() - p_y.clamp_min(1e-30).log())).sum(dim=1)
        total += math.exp(kl.mean().item())
    return total / splits


def _is_wrong(kl_of, reduce=lambda kl: kl.mean().exp(), whole_marginal=False, combine="mean"):
    def answer(probs, splits=1):
        p = probs.double()
        scores = []
        for part in torch.tensor_split(p, splits):
            marginal = (p if whole_marginal else part).mean(0, keepdim=True)
            scores.append(reduce(kl_of(part, marginal)))
        if combine == "log":
            return float(torch.stack([torch.log(s) for s in scores]).mean().exp())
        return float(sum(scores) / len(scores))
    return answer


def _kl(a, b):
    return (torch.xlogy(a, a) - torch.xlogy(a, b)).sum(1)


IS_WRONG = [
    (_is_wrong(_kl, reduce=lambda kl: kl.mean()), {}, "log of the score"),
    (_is_wrong(lambda a, b: (torch.xlogy(b, b) - torch.xlogy(b, a)).sum(1)), {}, "KL is reversed"),
    (_is_wrong(_kl, reduce=lambda kl: kl.exp().mean()), {}, "averaged exp(KL)"),
    (_is_wrong(_kl, reduce=lambda kl: kl.sum().exp()), {}, "summed the KL"),
    (_is_wrong(lambda a, b: -torch.xlogy(b, b).sum(1).expand(len(a))), {}, "marginal's entropy alone"),
    (_is_wrong(lambda a, b: torch.xlogy(a, a).sum(1)), {}, "predictions' confidence alone"),
    (_is_wrong(lambda a, b: (a * (a.log() - b.log())).sum(1)), {}, "NaN"),
    (lambda probs, splits=1: is_ref(probs), dict(splits=5), "scored all 500 rows at once"),
    (_is_wrong(_kl, whole_marginal=True), dict(splits=5), "its own marginal"),
    (_is_wrong(_kl, combine="log"), dict(splits=5), "not their log-scores"),
    (lambda probs, splits=1: metrics.inception_score(probs, splits), {}, "reference"),
    (lambda probs, splits=1: "3.2", {}, "should be a number"),
    (lambda probs, splits=1: torch.ones(2), {}, "one number"),
]


@pytest.mark.parametrize("answer", [is_ref, is_entropies, is_clamped])
@pytest.mark.parametrize("kwargs", [{}, dict(seed=601, n=1000, k=10, splits=5), dict(seed=602, n=90, k=3, splits=2)])
def test_inception_score_correct_forms_pass(answer, kwargs, capsys):
    check_inception_score(answer, **kwargs)
    assert capsys.readouterr().out.startswith("[passed]")


@pytest.mark.parametrize("answer, kwargs, message", IS_WRONG, ids=[m for _, _, m in IS_WRONG])
def test_inception_score_mistakes(answer, kwargs, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_inception_score(answer, **kwargs)


def test_inception_score_expected_values_are_independent():
    """The check's expected score, from torch.distributions, agrees with genedu.metrics' xlogy form and with
    the entropy decomposition; and the closed forms hold."""
    probs = torch.softmax(torch.randn(300, 7, generator=torch.Generator().manual_seed(3)) * 2, dim=1)
    p = probs.double()
    marginal = p.mean(0, keepdim=True)
    via_kl = math.exp(float(kl_divergence(Categorical(probs=p), Categorical(probs=marginal.expand_as(p))).mean()))
    assert via_kl == pytest.approx(metrics.inception_score(probs), rel=1e-9)
    assert via_kl == pytest.approx(float(is_entropies(probs)), rel=1e-6)
    assert metrics.inception_score(F.one_hot(torch.arange(70) % 7, 7).float()) == pytest.approx(7.0)
    assert metrics.inception_score(probs[:1].expand(50, 7)) == pytest.approx(1.0)
