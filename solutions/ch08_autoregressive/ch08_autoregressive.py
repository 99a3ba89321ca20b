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
# # Chapter 8 exercises: autoregressive models
#
# Any distribution over $D$ variables factorises by the chain rule,
#
# $$p(x) = \prod_{i=1}^{D} p(x_{o_i} \mid x_{o_1}, \dots, x_{o_{i-1}}),$$
#
# in any order $o$. An autoregressive model is a network that outputs each factor: for binary pixels the
# logit of $p(x_d = 1 \mid \text{the pixels before } d)$, for text the logits of the next character given the
# ones before it. Its log-likelihood is *exact*: a sum of $D$ log-probabilities, computed for a training
# example in one forward pass (teacher forcing). You will write six functions (16 points in all):
#
# | # | function | points |
# |---|---|---|
# | 1 | `made_masks`: MADE's masks from the degrees of the units | 3 |
# | 2 | `pixelcnn_mask`: the kernel mask of a masked convolution (types A and B) | 2 |
# | 3 | `bits_per_dim`: the negative log-likelihood of binary images in bits per dimension | 2 |
# | 4 | `causal_self_attention`: attention that cannot see the future | 3 |
# | 5 | `sequence_log_prob`: the log-probability of a sequence by the chain rule | 3 |
# | 6 | `sample_next_token`: sampling with a temperature and top-k | 3 |
#
# Each exercise has a **self-check** cell: run it after your answer. It prints one line when your
# function is right and otherwise tells you what looks wrong. The grader runs the same check again with
# other random inputs and sizes. The masks are checked by the property they exist for (the check builds the
# network from your masks and takes its gradient); the sampler by the frequencies of thousands of draws; the
# sequence log-probability by an exact test (over every sequence of a tiny vocabulary, the probabilities
# sum to 1). Write your answers with `torch` operations; calling `genedu`'s own implementation of the
# function you are asked to write gets no marks.
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

from genedu import autoregressive as ar
from genedu import checkpoints, data, plot, train
from genedu import language_models as lm
from genedu.checks.ch08 import (check_bits_per_dim, check_causal_self_attention, check_made_masks,
                                check_pixelcnn_mask, check_sample_next_token, check_sequence_log_prob)

# These small models train fastest on one CPU thread; several threads per notebook fight over the
# cores when other jobs, or a class being graded, share the machine.
torch.set_num_threads(1)
genedu.seed_everything(0)
print(f"genedu {genedu.__version__}, torch {torch.__version__}, device {genedu.device()}")

# %% [markdown]
# ## The data: binarised digits
#
# A Bernoulli model needs binary pixels. `data.binarized_mnist()` gives the course's 5,000 MNIST digits with
# each pixel set to 1 with probability its grey level, drawn once with a fixed seed (Salakhutdinov & Murray's
# binarisation), so that every model of the course that reports a likelihood of digits (chapter 3's VAE,
# this chapter, chapter 9's flows) reports it on the same binary data.

# %%
x_train, _ = data.binarized_mnist("train")
x_test, _ = data.binarized_mnist("test")
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, values {x_train.unique().tolist()}")
plot.image_grid(x_train[:16], nrow=8, title="16 binarised training digits");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex1-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 1: MADE's masks (3 points)
#
# MADE (Germain et al. 2015) turns an MLP into an autoregressive model by multiplying each weight matrix by a
# fixed 0/1 mask. Every unit gets a **degree**:
#
# - input $d$ gets the degree $m^0(d)$ = its position in the ordering (`ordering[i]` is the input predicted
#   $i$-th, so input `ordering[i]` has degree $i$; with the default ordering `arange(D)`, input $d$ has degree $d$);
# - hidden unit $k$ of every hidden layer gets the degree $m^l(k) = k \bmod (D - 1)$, so each layer holds every
#   degree $0, \dots, D - 2$ when it has at least $D - 1$ units;
# - a hidden unit of degree $m$ may see the inputs of degree $\le m$: the weight from unit $k'$ of layer $l-1$
#   to unit $k$ of layer $l$ is kept when $m^l(k) \ge m^{l-1}(k')$;
# - output $d$ may see only the inputs *before* it: the weight from hidden unit $k$ of the last hidden layer to
#   output $d$ is kept when $m^0(d) > m^L(k)$ (strictly).
#
# Write `made_masks(n_inputs, hidden, ordering)` returning the list of masks, one per layer, each a float 0/1
# tensor of the **weight's** shape `(out_features, in_features)`: `(hidden[0], D)`, `(hidden[1], hidden[0])`,
# ..., `(D, hidden[-1])`. Broadcasting a column of degrees against a row of degrees builds a whole mask at once.
#
# The check builds the network from your masks and takes the gradient of every output with respect to every
# input: output $d$ must depend on every input before it in the ordering, and on nothing else.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def made_masks(n_inputs, hidden, ordering):
    """MADE's masks [(hidden[0], D), (hidden[1], hidden[0]), ..., (D, hidden[-1])] for inputs predicted in `ordering`."""
    ### BEGIN SOLUTION
    D = n_inputs
    m0 = torch.empty(D, dtype=torch.long)
    m0[ordering] = torch.arange(D)                    # input ordering[i] has degree i
    degrees = [m0] + [torch.arange(width) % (D - 1) for width in hidden]
    masks = [(degrees[l + 1][:, None] >= degrees[l][None, :]).float() for l in range(len(hidden))]
    masks.append((m0[:, None] > degrees[-1][None, :]).float())
    return masks
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 1 (the grader runs more tests)
check_made_masks(made_masks)
### BEGIN HIDDEN TESTS
check_made_masks(made_masks, seed=101, n_inputs=9, hidden=(8, 20, 11))
check_made_masks(made_masks, seed=102, n_inputs=15, hidden=(14,), random_order=False)
check_made_masks(made_masks, seed=103, n_inputs=20, hidden=(7, 5))
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: who depends on whom
#
# Multiplying your masks counts the paths of kept weights from each input to each output of a small MADE, for a
# random ordering. Reorder the rows and columns by the ordering and the dependencies form a strictly lower
# triangle. That is the chain rule: the $i$-th factor conditions on the $i - 1$ variables before it.

# %%
D, order = 10, torch.randperm(10, generator=torch.Generator().manual_seed(1))
masks = made_masks(D, (32, 32), order)
paths = (masks[2].float() @ masks[1].float() @ masks[0].float()) > 0     # (output, input)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
axes[0].imshow(paths, cmap="Greys")
axes[0].set(title="a path joins input j to output i", xlabel="input j", ylabel="output i")
axes[1].imshow(paths[order][:, order], cmap="Greys")
axes[1].set(title="rows and columns in the ordering", xlabel="input (by position)", ylabel="output (by position)")
plt.tight_layout()

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex2-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 2: the masked convolution (2 points)
#
# PixelCNN (van den Oord et al. 2016) orders the pixels of an image row by row (raster order) and makes a
# convolution autoregressive by zeroing the kernel weights that would read a later pixel. For a $k \times k$
# kernel ($k$ odd, centre $c = k // 2$) the mask keeps
#
# - every row above the centre row,
# - on the centre row, the pixels to the left of the centre,
# - the centre itself only for **type B**.
#
# The first layer uses **type A** (the pixel being predicted must not see itself); the layers after it use
# **type B** (their centre feature already describes only earlier pixels, so a layer may read it).
#
# Write `pixelcnn_mask(kernel_size, mask_type)` returning the `(k, k)` float 0/1 mask for `mask_type` "A" or "B".

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pixelcnn_mask(kernel_size, mask_type):
    """The (k, k) 0/1 mask of a PixelCNN masked convolution, type "A" (centre masked) or "B" (centre kept)."""
    ### BEGIN SOLUTION
    c = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:c, :] = 1
    mask[c, :c] = 1
    if mask_type == "B":
        mask[c, c] = 1
    return mask
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 2 (the grader runs more tests)
check_pixelcnn_mask(pixelcnn_mask)
### BEGIN HIDDEN TESTS
check_pixelcnn_mask(pixelcnn_mask, kernel_size=3)
check_pixelcnn_mask(pixelcnn_mask, kernel_size=7)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the receptive field, and its blind spot
#
# Stack one 7x7 type-A convolution and five 3x3 type-B convolutions with your masks (weights all ones) and
# take the gradient of the centre output pixel with respect to the input. It sees only pixels above it and to
# its left, as it must, but not all of them: the stacked masks leave a wedge above-right unseen, the **blind
# spot** that the gated PixelCNN (van den Oord et al. 2016b) removes with separate vertical and horizontal stacks.

# %%
image = torch.zeros(1, 1, 21, 21, requires_grad=True)
h = F.conv2d(image, pixelcnn_mask(7, "A")[None, None], padding=3)
for _ in range(5):
    h = F.conv2d(h, pixelcnn_mask(3, "B")[None, None], padding=1)
h[0, 0, 10, 10].backward()
seen = (image.grad[0, 0] != 0).float()
seen[10, 10] = 0.5
plt.figure(figsize=(3.2, 3.2))
plt.imshow(seen, cmap="Blues")
plt.title("pixels the centre (grey) depends on", fontsize=9)
plt.axis("off");

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex3-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 3: bits per dimension (2 points)
#
# Given the model's logits $\ell_d$ for every pixel ($p(x_d = 1 \mid x_{<d}) = \sigma(\ell_d)$), the exact
# negative log-likelihood of a binary image is a sum of Bernoulli terms,
#
# $$-\log p(x) = -\sum_{d=1}^{D} \big[ x_d \log \sigma(\ell_d) + (1 - x_d) \log (1 - \sigma(\ell_d)) \big] \quad \text{(nats)},$$
#
# and papers report it in **bits per dimension**, $-\log_2 p(x) / D = -\log p(x) / (D \ln 2)$: the average
# number of bits an ideal code built from the model would spend on each pixel (1 for a coin flip).
#
# Write `bits_per_dim(logits, x)` for logits and binary `x` of shape `(B, ...)`, returning `(B,)`: one value per
# example, with $D$ = the number of values in one example. Work with the logits stably:
# $\log \sigma(\ell)$ is `F.logsigmoid(l)` and $\log(1 - \sigma(\ell)) = \log \sigma(-\ell)$, or use
# `F.binary_cross_entropy_with_logits(..., reduction="none")`; `torch.log(1 - torch.sigmoid(l))` gives $-\infty$ in
# float32 once $\ell$ is above about 17 (and `torch.log(torch.sigmoid(l))` once $\ell$ is far below 0).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bits_per_dim(logits, x):
    """-log2 p(x) / D per example, for Bernoulli logits and binary x of shape (B, ...) -> (B,)."""
    ### BEGIN SOLUTION
    nats = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)
    return nats / (x[0].numel() * math.log(2))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 3 (the grader runs more tests)
check_bits_per_dim(bits_per_dim)
### BEGIN HIDDEN TESTS
check_bits_per_dim(bits_per_dim, seed=301, batch=5, shape=(1, 28, 28))
check_bits_per_dim(bits_per_dim, seed=302, batch=12, shape=(20,), scale=60.0)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: train MADE on the digits
#
# A MADE with one hidden layer of 500 units (Germain et al.'s best single-mask model), built from your masks,
# trained for a few epochs by maximum likelihood: the loss is the exact $-\log p(x)$ in nats, and your
# `bits_per_dim` scores the held-out digits. The book's page shows MADE trained for longer, next to PixelCNN
# and the VAE's bound on the same digits, and its samples.

# %%
made = ar.MADE((1, 28, 28), hidden=(500,), masks=made_masks(784, (500,), torch.arange(784)))
history = train.train(made, lambda model, x: bits_per_dim(model(x), x).mean() * 784 * math.log(2), x_train,
                      epochs=3, batch_size=100, lr=1e-3, seed=0)
with torch.no_grad():
    held_out = bits_per_dim(made(x_test), x_test)
print(f"after 3 epochs: held-out {held_out.mean():.4f} bits/dim = {held_out.mean() * 784 * math.log(2):.1f} nats "
      f"per digit (a coin per pixel: 1 bit/dim = 543.4 nats)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex4-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 4: causal self-attention (3 points)
#
# A Transformer language model reads a sequence and predicts, at every position $i$, the next token from tokens
# $0..i$. Its attention (Vaswani et al. 2017) compares the query $q_i$ of position $i$ with the keys $k_j$ of all
# positions and averages their values $v_j$,
#
# $$A = \mathrm{softmax}\Big(\frac{q k^\top}{\sqrt{d}} + M\Big), \qquad \text{out} = A v, \qquad
# M_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i \end{cases},$$
#
# where the mask $M$ hides the future so that one pass over a training text predicts every position at once
# without any position reading the token it must predict (the softmax runs over $j$, the keys).
#
# Write `causal_self_attention(q, k, v)` for tensors of shape `(..., T, d)` (any leading batch and head axes),
# returning the tuple `(out, weights)`: `out` of shape `(..., T, d)` and the attention weights $A$ of shape
# `(..., T, T)`. `torch.ones(T, T, dtype=torch.bool).triu(1)` is True exactly where $j > i$;
# `scores.masked_fill(mask, float("-inf"))` applies it. (PyTorch's fused
# `F.scaled_dot_product_attention(q, k, v, is_causal=True)` computes `out`, and is what the check compares with;
# it does not return the weights.)

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def causal_self_attention(q, k, v):
    """(out (..., T, d), weights (..., T, T)) of scaled dot-product attention with the future masked."""
    ### BEGIN SOLUTION
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return weights @ v, weights
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 4 (the grader runs more tests)
check_causal_self_attention(causal_self_attention)
### BEGIN HIDDEN TESTS
check_causal_self_attention(causal_self_attention, seed=401, batch=1, heads=1, T=12, d=16)
check_causal_self_attention(causal_self_attention, seed=402, batch=3, heads=4, T=5, d=8)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: what a trained model attends to
#
# The course ships a small character-level Transformer trained on the Python Language Reference
# (`experiments/train_autoregressive.py`). Below, your attention recomputes the weights of its first layer's
# first head on a line of that text: each row is one position, and everything above the diagonal is zero.

# %%
text_model, text_info = checkpoints.load("char_transformer")
vocab = lm.Vocabulary(text_info["chars"])
line = 'The "for" statement is used to iterate'
tokens = vocab.encode(line)[None]
with torch.no_grad():
    block = text_model.blocks[0]
    x = text_model.token(tokens) + text_model.position(torch.arange(tokens.shape[1]))
    qkv = block.attn.qkv(block.ln1(x))
    B, T, C = x.shape
    q, k, v = (t.view(B, T, block.attn.n_head, C // block.attn.n_head).transpose(1, 2) for t in qkv.split(C, dim=2))
    _, weights = causal_self_attention(q, k, v)
plt.figure(figsize=(5.5, 5))
plt.imshow(weights[0, 0], cmap="viridis")
plt.xticks(range(T), list(line), fontsize=7)
plt.yticks(range(T), list(line), fontsize=7)
plt.title("layer 1, head 1: row i attends to columns j <= i", fontsize=9);

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex5-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 5: the log-probability of a sequence (3 points)
#
# A language model maps tokens `(B, T)` to logits `(B, T, V)`, and the logits at position $t - 1$ are its
# prediction of token $t$. By the chain rule, the log-probability of a sequence given its first token is
#
# $$\log p(x_1, \dots, x_{T-1} \mid x_0) = \sum_{t=1}^{T-1} \log p(x_t \mid x_0, \dots, x_{t-1}),$$
#
# and teacher forcing computes every term in **one** forward pass: feed `tokens[:, :-1]`, take the log-softmax
# of the logits over the vocabulary, and pick out the log-probability of each actual next token `tokens[:, 1:]`
# (`torch.gather` along the last axis).
#
# Write `sequence_log_prob(model, tokens)` returning the `(B,)` log-probabilities in nats. The check's exact
# test: for a tiny vocabulary it scores *every* sequence of a given length, and for each first token the
# probabilities of all continuations must add up to 1.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sequence_log_prob(model, tokens):
    """log p(tokens[:, 1:] | tokens[:, 0]) by the chain rule, from one pass of `model`; tokens (B, T) -> (B,)."""
    ### BEGIN SOLUTION
    log_probs = model(tokens[:, :-1]).log_softmax(dim=-1)            # (B, T - 1, V)
    return log_probs.gather(-1, tokens[:, 1:, None]).squeeze(-1).sum(dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 5 (the grader runs more tests)
check_sequence_log_prob(sequence_log_prob)
### BEGIN HIDDEN TESTS
check_sequence_log_prob(sequence_log_prob, seed=501, vocab=2, length=7, model="gru")
check_sequence_log_prob(sequence_log_prob, seed=502, vocab=4, length=4)
check_sequence_log_prob(sequence_log_prob, seed=503, vocab=9, length=12, exhaustive=False)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: which text does the model find likely?
#
# The trained Transformer's log-probability of a sentence in the style of the reference, of the same sentence
# with its words shuffled, and of the same characters shuffled, in bits per character (the first character is
# given; a Transformer with a context of 64 scores at most 64 characters at once).

# %%
sentence = 'The "while" statement is used for repeated execution.'     # at most the model's 64 characters
words = sentence.split(" ")
shuffled_words = " ".join(words[i] for i in torch.randperm(len(words), generator=torch.Generator().manual_seed(0)))
shuffled_chars = "".join(sentence[i] for i in torch.randperm(len(sentence), generator=torch.Generator().manual_seed(0)))
with torch.no_grad():
    for label, s in (("the sentence", sentence), ("its words shuffled", shuffled_words),
                     ("its characters shuffled", shuffled_chars)):
        lp = sequence_log_prob(text_model, vocab.encode(s)[None])
        print(f"{label:24s} {float(-lp) / math.log(2) / (len(s) - 1):5.2f} bits per character   {s[:60]}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "ex6-text", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Exercise 6: sampling with a temperature and top-k (3 points)
#
# Sampling a text takes one forward pass per token: draw the next token from the model's distribution, append
# it, repeat. Two knobs trade diversity for quality:
#
# - the **temperature** $\tau$ divides the logits: $p_\tau = \mathrm{softmax}(\ell / \tau)$; $\tau < 1$ sharpens
#   the distribution (towards always taking the most likely token), $\tau > 1$ flattens it;
# - **top-k** keeps only the $k$ largest logits (the others set to $-\infty$), so an unlikely token can never be
#   drawn, and renormalises.
#
# Write `sample_next_token(logits, temperature=1.0, top_k=None, generator=None)` for logits `(B, V)`, returning
# `(B,)` int64 token ids, one draw per row, with all randomness from `generator`
# (`torch.multinomial(probs, 1, generator=generator)`). With `top_k=None` no token is excluded; you may assume
# `temperature > 0` and `top_k <= V`. The check
# draws thousands of tokens and compares their frequencies with the distribution they should follow.

# %% nbgrader={"grade": false, "grade_id": "ex6-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_next_token(logits, temperature=1.0, top_k=None, generator=None):
    """One token per row of logits (B, V) from softmax(logits / temperature) over the top_k logits -> (B,) int64."""
    ### BEGIN SOLUTION
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6-check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Self-check for exercise 6 (the grader runs more tests)
check_sample_next_token(sample_next_token)
### BEGIN HIDDEN TESTS
check_sample_next_token(sample_next_token, seed=601, vocab=10, temperature=2.0, top_k=5)
check_sample_next_token(sample_next_token, seed=602, vocab=5, temperature=1.3, top_k=None)
check_sample_next_token(sample_next_token, seed=603, vocab=8, temperature=0.7, top_k=1)
### END HIDDEN TESTS

# %% [markdown]
# ### Try it: the trained model writes, with your sampler
#
# 200 characters after the same prompt at three temperatures. At a low temperature the model repeats its
# likeliest phrases; at a high one it invents words.

# %%
prompt = vocab.encode('The "if" statement')[None]
with torch.no_grad():
    for temperature in (0.5, 1.0, 1.5):
        tokens, g = prompt.clone(), torch.Generator().manual_seed(0)
        for _ in range(200):
            logits = text_model(tokens[:, -text_model.context:])[:, -1]
            tokens = torch.cat([tokens, sample_next_token(logits, temperature, None, g)[:, None]], dim=1)
        print(f"--- temperature {temperature} ---\n{vocab.decode(tokens[0])}\n")

# %% [markdown]
# ## To think about (not graded)
#
# 1. MADE and PixelCNN compute $\log p(x)$ in one pass, but sampling a digit takes 784 passes. Why can
#    training be parallel over the pixels when sampling cannot?
# 2. A different ordering of the pixels gives a different model with the same kind of exact likelihood. Would
#    you expect the same held-out bits per dimension? (Germain et al. train one MADE over many orderings.)
# 3. At temperature $\tau \to 0$ the sampler becomes greedy decoding. What happens to the text, and why is the
#    most likely *next* character not the same as the most likely *sequence*?

# %% [markdown]
# ## Before you submit
#
# Save the notebook (Ctrl-S, or File > Save Notebook), then run the cell below. It reads the saved
# file the way the grader does and says whether the notebook will grade as it stands, or what will
# cost marks and how to fix it (an unanswered exercise, a deleted cell, an empty file). Slips the
# grader repairs by itself (a cell pasted twice, an answer split in two, a file saved by another
# editor) are listed too: they cost nothing. In a terminal the same check is
# `python -m genedu.checks.submission ch08_autoregressive.ipynb`.

# %%
from genedu.checks import check_submission

check_submission("ch08_autoregressive.ipynb")
