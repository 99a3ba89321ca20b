"""genedu.dcgan and genedu.classifier against independent computations: the size formulas against
real torch layers, the builders against the PyTorch DCGAN tutorial's networks (written out here),
weights_init against its distribution, the conditional models' label dependence, the shipped
classifier's held-out accuracy."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from genedu import classifier as clf
from genedu import checkpoints, data, dcgan, gan

# --- output sizes, against real layers --------------------------------------------------------------


CONV_CASES = [c for c in itertools.product((5, 8, 13, 32), (1, 3, 4, 5), (1, 2, 3), (0, 1, 2), (1, 2))
              if c[0] + 2 * c[3] >= c[4] * (c[1] - 1) + 1]
CONVT_CASES = [c for c in itertools.product((1, 4, 7, 16), (1, 3, 4, 5), (1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2))
               if c[4] < max(c[2], c[5]) and (c[0] - 1) * c[2] - 2 * c[3] + c[5] * (c[1] - 1) + c[4] + 1 >= 1]


def test_conv2d_output_size_matches_torch():
    assert len(CONV_CASES) > 250
    for size, kernel, stride, padding, dilation in CONV_CASES:
        layer = nn.Conv2d(1, 1, kernel, stride, padding, dilation)
        out = layer(torch.zeros(1, 1, size, size + 1))
        assert dcgan.conv2d_output_size(size, kernel, stride, padding, dilation) == out.shape[2]
        assert dcgan.conv2d_output_size(size + 1, kernel, stride, padding, dilation) == out.shape[3]


def test_conv_transpose2d_output_size_matches_torch():
    assert len(CONVT_CASES) > 250
    for size, kernel, stride, padding, output_padding, dilation in CONVT_CASES:
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding, dilation=dilation)
        out = layer(torch.zeros(1, 1, size, size))
        assert dcgan.conv_transpose2d_output_size(size, kernel, stride, padding, output_padding, dilation) == out.shape[2]


def test_transposed_convolution_inverts_the_size_of_the_convolution():
    for o, k, s, p in itertools.product(range(4, 20), (3, 4, 5), (1, 2, 3), (0, 1, 2)):
        if o + 2 * p < k:
            continue
        i = dcgan.conv2d_output_size(o, k, s, p)
        back = [dcgan.conv_transpose2d_output_size(i, k, s, p, a) for a in range(s)]
        assert o in back  # one output_padding recovers the original size


@pytest.mark.parametrize("call, error", [
    (lambda: dcgan.conv2d_output_size(0, 3, 1, 0), ValueError),
    (lambda: dcgan.conv2d_output_size(4, 3, 0, 0), ValueError),
    (lambda: dcgan.conv2d_output_size(4, 3, 1, -1), ValueError),
    (lambda: dcgan.conv2d_output_size(2, 5, 1, 0), ValueError),
    (lambda: dcgan.conv2d_output_size(4.0, 3, 1, 0), TypeError),
    (lambda: dcgan.conv_transpose2d_output_size(4, 4, 2, 1, output_padding=2), ValueError),
    (lambda: dcgan.conv_transpose2d_output_size(1, 1, 1, 1), ValueError),
])
def test_size_arguments_are_validated(call, error):
    with pytest.raises(error):
        call()


# --- the builders against the PyTorch DCGAN tutorial ----------------------------------------------

def tutorial_generator(nz=100, ngf=64, nc=3):
    """The `main` of the tutorial's Generator (pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html)."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


def tutorial_discriminator(nc=3, ndf=64):
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())


def describe(layer: nn.Module) -> tuple:
    """Everything that defines a layer of these networks."""
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        return (type(layer), layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                layer.output_padding, layer.dilation, layer.bias is None)
    if isinstance(layer, nn.BatchNorm2d):
        return (type(layer), layer.num_features, layer.eps, layer.momentum, layer.affine)
    if isinstance(layer, nn.LeakyReLU):
        return (type(layer), layer.negative_slope, layer.inplace)
    if isinstance(layer, nn.ReLU):
        return (type(layer), layer.inplace)
    return (type(layer),)


def test_generator_is_the_tutorials_layer_by_layer():
    ours, theirs = dcgan.DCGANGenerator().main, tutorial_generator()
    assert isinstance(ours, nn.Sequential) and len(ours) == len(theirs) == 14
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert describe(a) == describe(b), f"layer {i}: {a} != {b}"
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_discriminator_is_the_tutorials_layer_by_layer():
    ours, theirs = dcgan.DCGANDiscriminator(sigmoid=True).main, tutorial_discriminator()
    assert len(ours) == len(theirs) == 13
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert describe(a) == describe(b), f"layer {i}: {a} != {b}"
    logits = dcgan.DCGANDiscriminator().main  # the default: the same without the Sigmoid
    assert [describe(a) for a in logits] == [describe(b) for b in theirs][:-1]


def test_same_weights_give_the_tutorials_outputs():
    torch.manual_seed(0)
    g, ref = dcgan.DCGANGenerator(), tutorial_generator()
    g.apply(dcgan.weights_init)
    ref.load_state_dict(g.main.state_dict())
    z = torch.randn(3, 100)
    assert torch.allclose(g(z), ref(z[:, :, None, None]), atol=1e-6)
    assert torch.allclose(g(z[:, :, None, None]), g(z))
    d, dref = dcgan.DCGANDiscriminator(), tutorial_discriminator()
    d.apply(dcgan.weights_init)
    dref.load_state_dict(d.main.state_dict())
    x = torch.randn(3, 3, 64, 64)
    assert torch.allclose(torch.sigmoid(d(x)), dref(x).reshape(-1), atol=1e-6)
    ds = dcgan.DCGANDiscriminator(sigmoid=True)
    ds.load_state_dict(d.state_dict())
    assert torch.allclose(ds(x), torch.sigmoid(d(x)), atol=1e-6)


@pytest.mark.parametrize("size, n_layers", [(16, 3), (32, 4), (64, 5), (128, 6)])
def test_smaller_and_larger_images_change_the_number_of_layers(size, n_layers):
    g, d = dcgan.DCGANGenerator(nz=8, ngf=4, nc=1, image_size=size), dcgan.DCGANDiscriminator(nc=1, ndf=4, image_size=size)
    convs = [m for m in g.main if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == n_layers
    assert [c.out_channels for c in convs] == [4 * 2**i for i in reversed(range(n_layers - 1))] + [1]
    assert len([m for m in d.main if isinstance(m, nn.Conv2d)]) == n_layers
    # BatchNorm everywhere except G's output and D's input
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.main) == n_layers - 1
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.main) == n_layers - 2
    assert isinstance(g.main[-1], nn.Tanh) and isinstance(d.main[1], nn.LeakyReLU)
    x = g(torch.randn(5, 8))
    assert x.shape == (5, 1, size, size) and x.abs().max() <= 1
    assert d(x).shape == (5,)
    # the sizes through G follow the transposed-convolution formula
    side = 1
    for c in convs:
        side = dcgan.conv_transpose2d_output_size(side, c.kernel_size[0], c.stride[0], c.padding[0])
    assert side == size


@pytest.mark.parametrize("call, error", [
    (lambda: dcgan.DCGANGenerator(image_size=48), ValueError),
    (lambda: dcgan.DCGANGenerator(image_size=8), ValueError),
    (lambda: dcgan.DCGANGenerator(nz=0), ValueError),
    (lambda: dcgan.DCGANDiscriminator(ndf=2.5), TypeError),
    (lambda: dcgan.DCGANDiscriminator(sigmoid=1), TypeError),
    (lambda: dcgan.DCGANGenerator(nz=10, image_size=16)(torch.randn(2, 11)), ValueError),
    (lambda: dcgan.DCGANDiscriminator(nc=1, image_size=16)(torch.randn(2, 1, 32, 32)), ValueError),
    (lambda: dcgan.ConditionalDCGANGenerator(nz=4, image_size=16)(torch.randn(2, 4), torch.tensor([0, 10])), RuntimeError),
    (lambda: dcgan.ConditionalDCGANGenerator(nz=4, image_size=16)(torch.randn(2, 4), torch.tensor([0.0, 1.0])), TypeError),
    (lambda: dcgan.weights_init("conv"), TypeError),
])
def test_bad_arguments_raise(call, error):
    with pytest.raises(error):
        call()


# --- weights_init ----------------------------------------------------------------------------------

def test_weights_init_statistics():
    torch.manual_seed(0)
    g, d = dcgan.DCGANGenerator(), dcgan.DCGANDiscriminator()
    g.apply(dcgan.weights_init)
    d.apply(dcgan.weights_init)
    conv = torch.cat([m.weight.flatten() for m in [*g.modules(), *d.modules()]
                      if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]).double()
    bn_w = torch.cat([m.weight for m in [*g.modules(), *d.modules()] if isinstance(m, nn.BatchNorm2d)]).double()
    bn_b = torch.cat([m.bias for m in [*g.modules(), *d.modules()] if isinstance(m, nn.BatchNorm2d)])
    n, m = len(conv), len(bn_w)
    assert abs(conv.mean()) < 5 * 0.02 / math.sqrt(n)
    assert abs(conv.std() - 0.02) < 5 * 0.02 / math.sqrt(2 * n)
    assert abs(bn_w.mean() - 1) < 5 * 0.02 / math.sqrt(m)
    assert abs(bn_w.std() - 0.02) < 5 * 0.02 / math.sqrt(2 * m)
    assert torch.equal(bn_b, torch.zeros_like(bn_b))
    # Gaussian: 68.3 % within one standard deviation
    inside = float((conv.abs() < 0.02).double().mean())
    assert abs(inside - 0.6827) < 5 * math.sqrt(0.6827 * 0.3173 / n)


def test_weights_init_leaves_other_modules_and_zeroes_conv_biases():
    lin, conv = nn.Linear(3, 3), nn.Conv2d(2, 2, 3, bias=True)
    before = lin.weight.clone()
    lin.apply(dcgan.weights_init)
    conv.apply(dcgan.weights_init)
    assert torch.equal(lin.weight, before)
    assert torch.equal(conv.bias, torch.zeros(2))


# --- the conditional GAN ---------------------------------------------------------------------------

def test_conditional_models_use_the_label():
    torch.manual_seed(0)
    G = dcgan.ConditionalDCGANGenerator(nz=8, n_classes=10, ngf=8, nc=1, image_size=16).eval()
    D = dcgan.ConditionalDCGANDiscriminator(nc=1, n_classes=10, ndf=8, image_size=16).eval()
    G.apply(dcgan.weights_init)
    z = torch.randn(1, 8).repeat(10, 1)
    y = torch.arange(10)
    x = G(z, y)
    assert x.shape == (10, 1, 16, 16) and x.abs().max() <= 1
    flat = x.flatten(1)
    assert (torch.cdist(flat, flat) + torch.eye(10)).min() > 1e-4  # ten different images for one z
    # G(z, y) is the inner DCGAN generator on [z, one_hot(y)]
    assert torch.allclose(x, G.generator(torch.cat([z, torch.eye(10)], 1)))
    logits = D(x, y)
    assert logits.shape == (10,)
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))
    planes = torch.eye(10)[:, :, None, None].expand(-1, -1, 16, 16)
    assert torch.allclose(logits, D.discriminator(torch.cat([x, planes], 1)))
    assert torch.allclose(G(z[:, :, None, None], y), x)


def test_conditional_gan_trains_with_train_gan():
    x = torch.rand(64, 1, 16, 16) * 2 - 1
    y = torch.arange(64) % 10
    G = dcgan.ConditionalDCGANGenerator(nz=4, ngf=4, image_size=16)
    D = dcgan.ConditionalDCGANDiscriminator(ndf=4, image_size=16)
    before = [p.clone() for p in G.parameters()]
    h = gan.train_gan(G, D, (x, y), 4, steps=2, batch_size=32, conditional=True, snapshot_every=1,
                      n_snapshot=20, device="cpu", progress=False)
    assert len(h["g_loss"]) == 2 and h["snapshots"][-1][1].shape == (20, 1, 16, 16)
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))


def test_mnist32_pads_the_digits():
    from genedu.data import mnist

    x, y = data.mnist32("test")
    raw, raw_y = mnist("test")
    assert x.shape == (500, 1, 32, 32) and torch.equal(y, raw_y)
    assert torch.equal(x[:, :, 2:30, 2:30], raw * 2 - 1)
    assert (x[:, :, :2] == -1).all() and (x[:, :, :, 30:] == -1).all()


# --- the shipped checkpoints and the classifier --------------------------------------------------

def test_classifier_checkpoint_accuracy_on_held_out_digits():
    model, extras = checkpoints.load("digit_classifier")
    x, y = data.mnist32("test")
    acc = clf.accuracy(model, x, y)
    assert acc > 0.95
    assert acc == pytest.approx(extras["test_accuracy"], abs=0.01)
    scores = clf.classifier_scores(model, x)
    assert scores["confident"] > 0.9 and scores["classes_present"] == 10
    assert int(scores["histogram"].sum()) == 500


def test_classifier_scores_on_known_probabilities():
    class Fixed(nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = logits
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.logits[: len(x)]

    # image i: class i % 3, probability 0.95 for the first 6 images, about 0.5 for the other 4
    logits = torch.full((10, 10), -20.0)
    for i in range(10):
        logits[i, i % 3] = 0.0
        logits[i, (i % 3) + 5] = math.log(0.95 / 0.05) if i < 6 else 0.0
    logits = logits - logits.logsumexp(1, keepdim=True)
    probs = logits.softmax(1)
    s = clf.classifier_scores(Fixed(logits), torch.zeros(10, 1, 32, 32))
    assert s["confident"] == pytest.approx(float((probs.max(1).values > 0.9).float().mean()))
    assert s["confident"] == pytest.approx(0.6)
    assert s["classes_present"] == 3
    assert s["histogram"].tolist() == torch.bincount(probs.argmax(1), minlength=10).tolist()


def test_classifier_trains_from_scratch_quickly():
    x, y = data.mnist32("train")
    x_test, y_test = data.mnist32("test")
    torch.manual_seed(0)
    model = clf.DigitClassifier()
    seen = []
    history = clf.train_classifier(model, x[:1000], y[:1000], epochs=3, progress=False,
                                   callback=lambda epoch, m, h: seen.append((epoch, m is model, len(h["epoch_loss"]))))
    assert clf.accuracy(model, x_test, y_test) > 0.65  # a short run: far above chance (0.1)
    assert seen == [(1, True, 1), (2, True, 2), (3, True, 3)] and not model.training
    assert history["epoch_loss"][-1] < history["epoch_loss"][0] < 2.4  # below log(10) = 2.30 after one epoch, then lower


@pytest.mark.parametrize("name, cls", [("dcgan_digits", dcgan.DCGANGenerator),
                                       ("cgan_digits", dcgan.ConditionalDCGANGenerator)])
def test_generator_checkpoints_load(name, cls):
    G, extras = checkpoints.load(name)
    assert isinstance(G, cls) and not G.training
    assert extras["snapshots"][0][0] == 0 and extras["snapshots"][-1][0] == extras["steps"]
    assert extras["snapshots"][-1][1].shape == (64, 1, 32, 32)
    z = torch.randn(20, extras["config"]["nz"])
    with torch.no_grad():
        x = G(z) if name == "dcgan_digits" else G(z, torch.arange(20) % 10)
    assert x.shape == (20, 1, 32, 32) and x.abs().max() <= 1


def test_conditional_forward_checks_labels_without_reading_them_and_one_hot_rejects_bad_values():
    """forward checks the labels' dtype and shape (metadata: no wait for the GPU); F.one_hot rejects values."""
    G = dcgan.ConditionalDCGANGenerator(nz=4, n_classes=3, ngf=4, nc=1, image_size=16)
    with pytest.raises(TypeError, match="y must be an integer tensor"):
        G(torch.randn(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="one label per example"):
        G(torch.randn(3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        G(torch.randn(3, 4), torch.tensor([0, 1, 3]))
    with pytest.raises(RuntimeError, match="non-negative"):
        G(torch.randn(3, 4), torch.tensor([0, -1, 2]))


def _inception_score_scipy(p):
    """exp of the mean KL(p(y|x) || p(y)), with scipy's entropy (an independent computation)."""
    import numpy as np
    from scipy.stats import entropy
    p = np.asarray(p, dtype=np.float64)
    marginal = p.mean(0)
    return float(np.exp(np.mean([entropy(row, marginal) for row in p])))


def test_inception_score_known_cases_and_scipy():
    from genedu.metrics import inception_score
    # uniform predictions: every p(y|x) equals p(y), KL = 0, IS = 1
    assert inception_score(torch.full((50, 10), 0.1)) == pytest.approx(1.0, abs=1e-12)
    # one-hot predictions, the same class for all: IS = 1
    assert inception_score(torch.eye(10)[torch.zeros(40, dtype=torch.long)]) == pytest.approx(1.0, abs=1e-12)
    # confident one-hot predictions spread evenly over k of the K classes: IS = k
    for k in (1, 3, 7, 10):
        probs = torch.eye(10)[torch.arange(k).repeat(6)]
        assert inception_score(probs) == pytest.approx(k, rel=1e-12)
    # random predictions: scipy's KL
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(200, 10, generator=g, dtype=torch.float64), dim=1)
    assert inception_score(probs) == pytest.approx(_inception_score_scipy(probs), rel=1e-10)
    # splits: the mean of the parts' scores, each with its own marginal
    parts = torch.tensor_split(probs, 4)
    want = sum(_inception_score_scipy(q) for q in parts) / 4
    assert inception_score(probs, splits=4) == pytest.approx(want, rel=1e-10)
    assert 1.0 <= inception_score(probs) <= 10.0


@pytest.mark.parametrize("bad, kwargs, error", [
    (torch.full((5, 3), 0.5), {}, "sum to 1"),
    (torch.tensor([[1.5, -0.5]]), {}, "non-negative"),
    (torch.full((5,), 0.2), {}, "probs"),
    (torch.full((2, 4), 0.25), {"splits": 3}, "one row per split"),
    (torch.full((2, 4), 0.25), {"splits": 0}, "splits"),
])
def test_inception_score_validates_its_input(bad, kwargs, error):
    from genedu.metrics import inception_score
    with pytest.raises(ValueError, match=error):
        inception_score(bad, **kwargs)
