# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Chapter 5 exercises: DCGAN
#
# Radford et al. (2016) made GANs on images work reliably with a handful of architecture rules:
# no pooling (strided convolutions in the discriminator, transposed convolutions in the generator),
# BatchNorm in both networks except at the generator's output and the discriminator's input, ReLU in
# the generator with tanh at its output, LeakyReLU(0.2) in the discriminator, weights initialised from
# $\mathcal N(0, 0.02^2)$ and Adam with learning rate $2 \cdot 10^{-4}$ and $\beta_1 = 0.5$.
# In this notebook you build the networks yourself and train them on real MNIST digits.
# You will write six answers (16 points in all):
#
# | # | answer | points |
# |---|---|---|
# | 1 | `conv2d_output_size`: the side of a convolution's output | 2 |
# | 2 | `dcgan_generator`: the DCGAN generator | 3 |
# | 3 | `dcgan_discriminator`: the DCGAN discriminator | 3 |
# | 4 | `weights_init`: Radford et al.'s initialisation | 2 |
# | 5 | `ConditionalGenerator`: a generator told which digit to draw | 3 |
# | 6 | `inception_score`: judging samples with a classifier | 3 |
#
# Each exercise has a **self-check** cell: run it after your answer. It prints one line when
# your answer is right and otherwise tells you what looks wrong. The grader runs the same
# check again with other random inputs and sizes, so make your answer general rather than
# fitting the example. Calling `genedu`'s own implementation of what you are asked to write gets
# no marks.
#
# The chapter page of the book explains the ideas; read it first.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Setup (read-only). Checks that the course library is installed, in the version this notebook expects.
COURSE_GENEDU_VERSION = "0.1.0"
try:
    import genedu
except ImportError:
    raise ImportError("The course library genedu is not installed. In a terminal, in the course folder, run:\n"
                      "    python -m pip install -r requirements.txt\nthen restart the kernel.") from None
if genedu.__version__ != COURSE_GENEDU_VERSION:
    raise ImportError(f"This notebook expects genedu {COURSE_GENEDU_VERSION}, but {genedu.__version__} is installed. "
                      "In the course folder run:\n    git pull && python -m pip install -r requirements.txt\n"
                      "then restart the kernel.")

import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genedu import checkpoints, classifier, data, dcgan, gan, plot
from genedu.checks.ch05 import (check_conditional_generator, check_conv2d_output_size, check_dcgan_discriminator,
                                check_dcgan_generator, check_inception_score, check_weights_init)

# These small models train fastest on one CPU thread; several threads per notebook fight over the
# cores (and slow down many times over) when other jobs, or a class being graded, share the machine.
torch.set_num_threads(1)
genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown]
# ## The data
#
# The 5,000 real MNIST digits that ship with the course, padded from 28x28 to 32x32 (a power of
# two suits the halving and doubling layers) and scaled to $[-1, 1]$, the range of the generator's tanh.

# %%
x_train, y_train = data.mnist32("train")
x_test, y_test = data.mnist32("test")
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, values in [{x_train.min():.0f}, {x_train.max():.0f}]")
plot.image_grid(x_train[:16], nrow=16, value_range=(-1, 1));

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: the output size of a convolution (2 points)
#
# A convolution with kernel size $k$, stride $s$, padding $p$ (on each side) and dilation $d$ maps an
# input of side $i$ to an output of side (Dumoulin & Visin 2016)
#
# $$o = \left\lfloor \frac{i + 2p - d(k - 1) - 1}{s} \right\rfloor + 1.$$
#
# The dilated kernel spans $d(k-1) + 1$ pixels; it fits $\lfloor (i + 2p - d(k-1) - 1)/s \rfloor + 1$
# times in the padded input when moved $s$ pixels at a time (a last window that would stick out is dropped).
# Write `conv2d_output_size(size, kernel, stride, padding, dilation=1)` returning $o$ as an `int`.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_output_size(size, kernel, stride, padding, dilation=1):
    """Side of nn.Conv2d's output for an input of side `size` (all arguments ints)."""
    ### BEGIN SOLUTION
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_conv2d_output_size(conv2d_output_size)
### BEGIN HIDDEN TESTS
check_conv2d_output_size(conv2d_output_size, seed=101, n=40)
check_conv2d_output_size(conv2d_output_size, seed=102, n=40)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the sides through a DCGAN
#
# A transposed convolution (`nn.ConvTranspose2d`) runs the convolution's connectivity backwards: each input
# pixel spreads a kernel-sized patch into the output, the patches $s$ pixels apart, and the padding $p$ is
# *removed* from each side, so $o = (i - 1)\,s - 2p + d(k - 1) + a + 1$ ($a$ is `output_padding`, which
# picks among the several sizes a strided convolution maps to the same $i$). DCGAN uses kernel 4 everywhere:
# with stride 2 and padding 1 a convolution halves the side and a transposed convolution doubles it; a 4x4
# kernel with stride 1 and no padding goes from 1x1 to 4x4 (transposed) and back. The generator's sides come
# from real `nn.ConvTranspose2d` layers, the discriminator's from your function:

# %%
side = 1
for k, s, p in [(4, 1, 0)] + [(4, 2, 1)] * 4:
    new = nn.ConvTranspose2d(1, 1, k, s, p)(torch.zeros(1, 1, side, side)).shape[-1]
    print(f"G: ConvTranspose2d(kernel={k}, stride={s}, padding={p}): {side:2d} -> {new:2d}")
    side = new
for k, s, p in [(4, 2, 1)] * 4 + [(4, 1, 0)]:
    new = conv2d_output_size(side, k, s, p)
    print(f"D: Conv2d(kernel={k}, stride={s}, padding={p}):          {side:2d} -> {new:2d}")
    side = new

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the generator (3 points)
#
# Write `dcgan_generator(nz, ngf, nc, image_size)` returning an `nn.Sequential` that maps noise of shape
# `(B, nz, 1, 1)` to images `(B, nc, image_size, image_size)`, for `image_size` a power of two $\ge 16$.
# With $n = \log_2(\text{image\_size}) - 2$ hidden layers:
#
# - a first `nn.ConvTranspose2d(nz, ngf * 2**(n-1), 4, 1, 0, bias=False)` (1x1 to 4x4);
# - then transposed convolutions with kernel 4, stride 2, padding 1 (each doubles the side) that halve
#   the channels: `ngf * 2**(n-1)` $\to$ ... $\to$ `2 * ngf` $\to$ `ngf`;
# - each hidden transposed convolution is followed by `nn.BatchNorm2d` and `nn.ReLU`, and has
#   `bias=False` (the BatchNorm subtracts the mean, which would cancel a bias);
# - a last `nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False)` followed by `nn.Tanh()`, with **no** BatchNorm.
#
# For `nz=100, ngf=64, nc=3, image_size=64` this is the generator of the PyTorch DCGAN tutorial
# (widths 512, 256, 128, 64, then 3). Build the layers in a loop; `genedu.dcgan`'s own builder is off limits.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dcgan_generator(nz, ngf, nc, image_size):
    """nn.Sequential: (B, nz, 1, 1) -> (B, nc, image_size, image_size) in [-1, 1]."""
    ### BEGIN SOLUTION
    n = int(math.log2(image_size)) - 2
    layers, channels = [], nz
    for i in range(n):
        width = ngf * 2 ** (n - 1 - i)
        stride, padding = (1, 0) if i == 0 else (2, 1)
        layers += [nn.ConvTranspose2d(channels, width, 4, stride, padding, bias=False),
                   nn.BatchNorm2d(width), nn.ReLU(True)]
        channels = width
    layers += [nn.ConvTranspose2d(channels, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_dcgan_generator(dcgan_generator)
### BEGIN HIDDEN TESTS
check_dcgan_generator(dcgan_generator, seed=301, nz=16, ngf=8, nc=1, image_size=32)
check_dcgan_generator(dcgan_generator, seed=302, nz=10, ngf=4, nc=2, image_size=16)
check_dcgan_generator(dcgan_generator, seed=303, nz=7, ngf=3, nc=1, image_size=128)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: the discriminator (3 points)
#
# Write `dcgan_discriminator(nc, ndf, image_size)` returning an `nn.Sequential` that maps images
# `(B, nc, image_size, image_size)` to one **logit** each, of shape `(B, 1, 1, 1)`:
#
# - $n = \log_2(\text{image\_size}) - 2$ convolutions `nn.Conv2d(..., 4, 2, 1, bias=False)` (each halves
#   the side) with `ndf`, `2 * ndf`, ..., `ndf * 2**(n-1)` channels, each followed by
#   `nn.LeakyReLU(0.2)`; every one but the **first** has an `nn.BatchNorm2d` between the convolution
#   and the LeakyReLU;
# - a last `nn.Conv2d(ndf * 2**(n-1), 1, 4, 1, 0, bias=False)` (4x4 to 1x1) and nothing after it.
#
# The tutorial's discriminator ends with `nn.Sigmoid()`; ours returns the logit, because the GAN losses
# of chapter 4 take logits (the stable form: $\log D = -\mathrm{softplus}(-\ell)$).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dcgan_discriminator(nc, ndf, image_size):
    """nn.Sequential: (B, nc, image_size, image_size) -> (B, 1, 1, 1) logits."""
    ### BEGIN SOLUTION
    n = int(math.log2(image_size)) - 2
    layers, channels = [], nc
    for i in range(n):
        width = ndf * 2**i
        layers.append(nn.Conv2d(channels, width, 4, 2, 1, bias=False))
        if i > 0:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        channels = width
    layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=False))
    return nn.Sequential(*layers)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_dcgan_discriminator(dcgan_discriminator)
### BEGIN HIDDEN TESTS
check_dcgan_discriminator(dcgan_discriminator, seed=401, nc=1, ndf=8, image_size=32)
check_dcgan_discriminator(dcgan_discriminator, seed=402, nc=2, ndf=4, image_size=16)
check_dcgan_discriminator(dcgan_discriminator, seed=403, nc=1, ndf=3, image_size=128)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: the initialisation (2 points)
#
# Radford et al. initialise every weight from a zero-centred normal distribution with standard deviation
# 0.02. The PyTorch tutorial makes that precise for the layers it has:
#
# - the weights of every `nn.Conv2d` and `nn.ConvTranspose2d`: $\mathcal N(0, 0.02^2)$;
# - the weights (scales $\gamma$) of every `nn.BatchNorm2d`: $\mathcal N(1, 0.02^2)$, and its biases
#   ($\beta$): 0.
#
# Write `weights_init(m)` for **one** module `m` (leave other kinds of modules alone); it is used as
# `model.apply(weights_init)`, which calls it on every submodule. `nn.init.normal_(tensor, mean, std)`
# and `nn.init.constant_(tensor, value)` change a tensor in place. The check applies your function to a
# generator and a discriminator and tests the weights' distribution, so draw them at random.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def weights_init(m):
    """Conv weights ~ N(0, 0.02^2); BatchNorm weights ~ N(1, 0.02^2), biases 0 (in place)."""
    ### BEGIN SOLUTION
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_weights_init(weights_init)
### BEGIN HIDDEN TESTS
check_weights_init(weights_init, seed=501, width=16, image_size=64)
check_weights_init(weights_init, seed=502, width=24, image_size=16)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: train your DCGAN
#
# Your builders and initialisation are all a DCGAN needs; `gan.train_gan` (chapter 4's Algorithm 1,
# with Radford et al.'s Adam settings as defaults) does the rest. `train_gan` hands the generator noise
# of shape `(B, nz)` and expects logits of shape `(B,)`, so we reshape around your networks.
# 10 generator steps with narrow networks take about a second and still give grey noise (digits take hundreds
# of steps); set `STEPS = 3000` and `WIDTH = 32` for the book's model (5 to 10 minutes on a laptop CPU). Below them, samples of the model the
# course trained that way and ships: its weights are loaded into a generator built by *your* `dcgan_generator`
# (they fit only if your layers are the right ones, in the right order).

# %%
STEPS, WIDTH, NZ = 10, 16, 100
genedu.seed_everything(0)
G = nn.Sequential(nn.Unflatten(1, (NZ, 1, 1)), dcgan_generator(NZ, WIDTH, 1, 32))
D = nn.Sequential(dcgan_discriminator(1, WIDTH, 32), nn.Flatten(0))
G.apply(weights_init)
D.apply(weights_init)
history = gan.train_gan(G, D, x_train, NZ, steps=STEPS, device="cpu")


def load_shipped(name, model):
    """The weights the course trained and ships (genedu/checkpoints/<name>.pt), copied into the transposed
    convolutions and BatchNorms of `model`, a network of yours, in order; returns (model in eval mode, the
    checkpoint's other entries)."""
    shipped_model, checkpoint = checkpoints.load(name)
    shipped = list(shipped_model.state_dict().values())
    mine = [tensor for m in model.modules() if isinstance(m, (nn.ConvTranspose2d, nn.BatchNorm2d))
            for tensor in m.state_dict(keep_vars=True).values()]
    if [t.shape for t in mine] != [t.shape for t in shipped]:
        raise ValueError(f"the shipped {name} does not fit your network: are its layers those of exercise 2?")
    with torch.no_grad():
        for tensor, value in zip(mine, shipped):
            tensor.copy_(value)
    return model.eval(), checkpoint


shipped, info = load_shipped("dcgan_digits", nn.Sequential(nn.Unflatten(1, (NZ, 1, 1)), dcgan_generator(NZ, 32, 1, 32)))
z = torch.randn(16, NZ, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(2, 1, figsize=(9, 1.6))
with torch.no_grad():
    plot.image_grid(G(z), nrow=16, value_range=(-1, 1), ax=axes[0], title=f"your DCGAN after {STEPS} steps")
    plot.image_grid(shipped(z), nrow=16, value_range=(-1, 1), ax=axes[1],
                    title=f"the shipped DCGAN after {info['steps']} steps")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: the conditional generator (3 points)
#
# Mirza & Osindero (2014) turn a GAN into a conditional model of $p(x \mid y)$ by giving the label $y$
# to **both** networks: the generator is asked for a digit, and the discriminator judges whether an image is
# a real example *of that digit*. Write the generator's half, the class
# `ConditionalGenerator(nz, n_classes, ngf, nc, image_size)` (an `nn.Module`) whose `forward(z, y)` takes noise
# `z` `(B, nz)` and integer labels `y` `(B,)` and returns `(B, nc, image_size, image_size)` images.
#
# How is a network told a label? An integer $y$ is not a quantity (a 7 is not "more" than a 3), so give it
# as a **one-hot** vector of `n_classes` entries, and let the network read it next to the noise: the
# generator's input becomes $[z, \mathrm{onehot}(y)]$, `nz + n_classes` numbers, and the rest is your DCGAN
# generator of exercise 2, built for that many input channels (the library's generators are off limits
# here too). Work out how to turn the pair into the input your generator expects (remember what shape its
# first transposed convolution takes); keep the order $z$ first, then the label, so that the weights the
# course trained fit your class in the Try-it below. Remember `super().__init__()`.
#
# The check builds your class, looks at what its first layer receives, and gives the same $z$ with each
# of the labels: the images must differ, and the same $(z, y)$ must always give the same image.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class ConditionalGenerator(nn.Module):
    """G(z, y) = G0([z, one_hot(y)]): z (B, nz), y (B,) int64 -> (B, nc, image_size, image_size)."""

    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        ### BEGIN SOLUTION
        self.n_classes = n_classes
        self.net = dcgan_generator(nz + n_classes, ngf, nc, image_size)
        ### END SOLUTION

    def forward(self, z, y):
        ### BEGIN SOLUTION
        return self.net(torch.cat([z, F.one_hot(y, self.n_classes).float()], dim=1)[:, :, None, None])
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_conditional_generator(ConditionalGenerator)
### BEGIN HIDDEN TESTS
check_conditional_generator(ConditionalGenerator, seed=601, nz=5, n_classes=4, ngf=4, nc=2, image_size=32)
check_conditional_generator(ConditionalGenerator, seed=602, nz=100, n_classes=10, ngf=8, nc=1, image_size=32)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: draw a chosen digit
#
# The discriminator gets the label too: here as ten constant image planes, plane $y$ set to 1, next to
# the image, in front of your `dcgan_discriminator`. `train_gan(..., conditional=True)` feeds both networks
# the labels. Ten steps show that your class trains; the conditional GAN the course trained (3000 steps,
# `ngf = 32`), loaded into your `ConditionalGenerator`, draws one digit per row, each column one noise
# vector $z$ shared by the whole column.

# %%
class ConditionalDiscriminator(nn.Module):
    """D(x, y): your dcgan_discriminator fed the image and n_classes constant planes, plane y set to 1."""

    def __init__(self, nc, n_classes, ndf, image_size):
        super().__init__()
        self.n_classes = n_classes
        self.net = dcgan_discriminator(nc + n_classes, ndf, image_size)

    def forward(self, x, y):
        planes = F.one_hot(y, self.n_classes).float()[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, planes], dim=1)).reshape(-1)


genedu.seed_everything(0)
cG = ConditionalGenerator(NZ, 10, 8, 1, 32)
cD = ConditionalDiscriminator(1, 10, 8, 32)
cG.apply(weights_init)
cD.apply(weights_init)
history = gan.train_gan(cG, cD, (x_train, y_train), NZ, steps=10, conditional=True, device="cpu")
print(f"10 conditional steps: d_loss {history['d_loss'][-1]:.3f}, g_loss {history['g_loss'][-1]:.3f}")
cgan, _ = load_shipped("cgan_digits", ConditionalGenerator(NZ, 10, 32, 1, 32))
z = torch.randn(1, 10, NZ, generator=torch.Generator().manual_seed(0)).expand(10, 10, NZ).reshape(100, NZ)
with torch.no_grad():
    plot.image_grid(cgan(z, torch.arange(10).repeat_interleave(10)), nrow=10, value_range=(-1, 1),
                    title="the shipped conditional GAN: row = the label y");

# %% [markdown]
# ### Try it: judging samples with a classifier
#
# A GAN gives no likelihood to compare. The course trained a small CNN on the real digits
# (`genedu.classifier`); a good generator's samples should be classified *confidently*, and spread over
# all ten classes. Compare the shipped DCGAN with the real held-out digits (and your short run):

# %%
clf_model, clf_info = checkpoints.load("digit_classifier")
print(f"classifier: held-out accuracy {clf_info['test_accuracy']:.3f}")
z = torch.randn(300, NZ, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    batches = {"real held-out digits": x_test, "shipped DCGAN": shipped(z), f"your DCGAN ({STEPS} steps)": G(z)}
for what, images in batches.items():
    s = classifier.classifier_scores(clf_model, images)
    print(f"{what:24s} confident (> 0.9): {s['confident']:.2f}   classes present: {s['classes_present']}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex6-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 6: the Inception score (3 points)
#
# Salimans et al. (2016) put both of the properties above into one number. With $p(y \mid x)$ a classifier's
# prediction for a sample $x$ and $p(y) = \mathbb E_x\, p(y \mid x)$ the mean prediction over the samples
# (the *marginal*),
#
# $$\mathrm{IS} = \exp\Big(\mathbb E_x\, \mathrm{KL}\big(p(y \mid x) \,\|\, p(y)\big)\Big), \qquad
# \mathrm{KL}(p \,\|\, q) = \sum_y p(y) \log \frac{p(y)}{q(y)}.$$
#
# Each KL is large when the prediction is confident (a low-entropy $p(y \mid x)$) and differs from the
# marginal; their mean is large when, in addition, the predictions cover the classes evenly (a marginal of high
# entropy). So the score lies between 1 (every sample gets the same prediction) and the number of classes
# $K$ (confident one-hot predictions, spread evenly over all $K$). Salimans et al. compute it with the Inception
# network's 1,000 ImageNet classes over 10 parts of 5,000 samples each, each part with its own marginal, and
# report the mean (and standard deviation) of the parts' scores.
#
# Write `inception_score(probs, splits=1)` for predictions `probs` `(N, K)` (rows of probabilities): split the
# rows into `splits` consecutive parts (`torch.tensor_split`), compute each part's score with its own marginal,
# and return the mean of the parts' scores as a Python float. A classifier's softmax can hold exact zeros:
# take $0 \log 0 = 0$ (`torch.xlogy(p, q)` computes $p \log q$ with that convention). Do not call
# `genedu.metrics.inception_score`.

# %% nbgrader={"grade": false, "grade_id": "ex6-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def inception_score(probs, splits=1):
    """exp(E_x KL(p(y|x) || p(y))) for probs (N, K), averaged over `splits` consecutive parts; a float."""
    ### BEGIN SOLUTION
    scores = []
    for part in torch.tensor_split(probs.double(), splits):
        marginal = part.mean(0, keepdim=True)                                  # p(y), (1, K)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)    # KL(p(y|x) || p(y)), (n,)
        scores.append(float(kl.mean().exp()))
    return sum(scores) / len(scores)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 6 (the grader runs more tests)
check_inception_score(inception_score)
### BEGIN HIDDEN TESTS
check_inception_score(inception_score, seed=601, n=1000, k=10, splits=5)
check_inception_score(inception_score, seed=602, n=90, k=3, splits=2)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the scores of real and generated digits
#
# With the course's digit classifier the score is on a different scale from the published Inception scores
# (10 classes, not 1,000), comparable only with itself, and it depends on the number of samples per part:
# here one part of 300 samples for each set. The real held-out digits give the figure to aim for.

# %%
with torch.no_grad():
    batches["shipped conditional GAN"] = cgan(z, torch.arange(10).repeat(30))
for what, images in batches.items():
    print(f"{what:24s} Inception score (digit classifier, 300 samples): "
          f"{inception_score(classifier.predict_proba(clf_model, images[:300])):.2f}")

# %% [markdown]
# ## To think about (not graded)
#
# 1. Why does a BatchNorm at the generator's output hurt? (What does it force on every image's pixels?)
#    And at the discriminator's input?
# 2. The transposed convolution with kernel 4 and stride 2 covers some output pixels with more kernel
#    positions than others. Where can that produce "checkerboard" artefacts, and how would kernel 4 vs 3
#    change it?
# 3. The conditional discriminator sees the label as ten constant planes. What would it learn if it
#    never saw the label, and what would the generator then do with $y$?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch05_dcgan.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch05_dcgan.ipynb")
