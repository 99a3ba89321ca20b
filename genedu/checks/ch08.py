"""Checks for chapter 8: autoregressive models.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's visible self-check
calls it with the defaults, the hidden tests with other seeds and shapes.

- MADE's masks are judged by the property they exist for: the check builds the masked network itself from
  the returned masks (positive random weights, so a gradient is zero exactly where no path exists) and
  takes the gradient of every output with respect to every input by autograd. Output i may depend only on
  the inputs before it in the ordering, and (when the hidden layers are wide enough to allow it) on every
  one of them; the usual mistakes (a non-strict output mask, a strict hidden mask, the ordering ignored or
  inverted, transposed masks) are named;
- the PixelCNN kernel mask, causal attention's weights and output, bits per dimension and the sequence
  log-likelihood are deterministic: compared with independent computations (loops, PyTorch's fused
  ``scaled_dot_product_attention``), with the values of the usual mistakes recognised;
- attention is also perturbed: changing the queries, keys and values after position p must leave the
  outputs up to p unchanged;
- the sampler is checked by its distribution: thousands of draws from a few logit vectors, whose
  frequencies must match softmax(logits / temperature) restricted to the top k (and no token outside the
  top k may ever appear);
- the sequence log-likelihood has an exact test: for a tiny vocabulary and length, the probabilities of
  every continuation of a first token must sum to 1.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genedu import autoregressive as _ar
from genedu import language_models as _lm
from genedu.checks._core import call, close, compare, expect_seeded, expect_tensor, expect_tuple, fail, passed

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them (so the
# notebook's try-it cells use the student's own functions: MADE is built from the student's masks, the text is
# sampled with the student's sampler).
REFERENCES = ("genedu.autoregressive.made_masks", "genedu.autoregressive.pixelcnn_mask",
              "genedu.autoregressive.log_prob", "genedu.autoregressive.bits_per_dim",
              "genedu.language_models.causal_self_attention", "genedu.language_models.next_token_distribution",
              "genedu.language_models.generate", "genedu.language_models.nll")

# References bound at import time: replacing genedu's functions later does not change them.
_made_masks_ref = _ar.made_masks
_pixelcnn_mask_ref = _ar.pixelcnn_mask
_log_prob_ref = _ar.log_prob
_bpd_ref = _ar.bits_per_dim
_attention_ref = _lm.causal_self_attention
_next_ref = _lm.next_token_distribution
_generate_ref = _lm.generate
_nll_ref = _lm.nll
_sdpa = F.scaled_dot_product_attention
_jacobian = torch.autograd.functional.jacobian
_TransformerLM, _TransformerConfig, _GRULM = _lm.TransformerLM, _lm.TransformerConfig, _lm.GRULM
_LN2 = math.log(2)


def _forbidden(*own):
    """The references an answer must not call (in the notebook's self-check): its own first, then the others."""
    every = (_made_masks_ref, _pixelcnn_mask_ref, _log_prob_ref, _bpd_ref, _attention_ref, _next_ref, _generate_ref,
             _nll_ref)
    return own + tuple(r for r in every if r not in own)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 1. MADE's masks -----------------------------------------------------------------------------------------

def _dependence(masks: list[torch.Tensor], g: torch.Generator) -> torch.Tensor:
    """(D, D) bool: output i depends on input j, from the gradient of a masked MLP with these masks.

    The weights are positive and the biases 1, so every ReLU is active on a positive input and a gradient
    is nonzero exactly where a path of kept weights joins input j to output i."""
    weights = [(0.5 + torch.rand(m.shape, generator=g, dtype=torch.float64)) * m.double() for m in masks]
    x = 0.5 + torch.rand(masks[0].shape[1], generator=g, dtype=torch.float64)

    def net(x):
        h = x
        for i, w in enumerate(weights):
            h = w @ h + 1.0
            if i < len(weights) - 1:
                h = torch.relu(h)
        return h

    return _jacobian(net, x) != 0


def _positions(ordering: torch.Tensor) -> torch.Tensor:
    pos = torch.empty_like(ordering)
    pos[ordering] = torch.arange(len(ordering))
    return pos


def _pairs(pairs: torch.Tensor, pos: torch.Tensor, limit: int = 3) -> str:
    return ", ".join(f"output {int(i)} (position {int(pos[i])}) on input {int(j)} (position {int(pos[j])})"
                     for i, j in pairs[:limit].tolist())


def check_made_masks(made_masks, seed: int = 0, n_inputs: int = 12, hidden: tuple = (16, 16),
                     random_order: bool = True) -> None:
    """Check ``made_masks(n_inputs, hidden, ordering) -> [mask (hidden[0], D), ..., mask (D, hidden[-1])]``.

    The check builds the network from the masks and takes its gradient by autograd: output d must not depend
    on any input at or after d's position in ``ordering`` (the autoregressive property) and, when every hidden
    layer has at least D - 1 units, must depend on every input before it."""
    name = "made_masks"
    D, widths = n_inputs, list(hidden)
    g = _gen(seed)
    ordering = torch.randperm(D, generator=g) if random_order else torch.arange(D)
    out = call(made_masks, name, (D, tuple(widths), ordering.clone()), reference=_forbidden(_made_masks_ref))
    sizes = [D, *widths, D]
    if not isinstance(out, (list, tuple)) or len(out) != len(sizes) - 1:
        got = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (list, tuple)) else "")
        fail(name, f"should return a list of {len(sizes) - 1} masks (one per layer: {len(widths)} hidden layers and the "
                   f"output layer), got {got}.")
    masks = []
    for i, m in enumerate(out):
        shape = (sizes[i + 1], sizes[i])
        if isinstance(m, torch.Tensor) and tuple(m.shape) == shape[::-1] and shape[0] != shape[1]:
            fail(name, f"mask {i} has shape {tuple(m.shape)}, expected {shape}: a mask has the shape of the layer's "
                       "weight, (out_features, in_features), as nn.Linear's weight. Transpose it.")
        m = expect_tensor(m, name, f"mask {i}", shape, floating=False)
        if m.dtype == torch.bool:
            m = m.float()
        if not bool(((m == 0) | (m == 1)).all()):
            fail(name, f"mask {i} has values other than 0 and 1.")
        masks.append(m.float())
    dep = _dependence(masks, g)
    pos = _positions(ordering)
    allowed = pos[None, :] < pos[:, None]                      # input j comes before output i
    bad = (dep & ~allowed).nonzero()
    if len(bad):
        if bool(dep.diagonal().any()):
            fail(name, "output d depends on input d itself (" + _pairs(bad[(bad[:, 0] == bad[:, 1])], pos) +
                       "): the output mask needs a strict inequality, kept where m0[d] > m_L[k]; the hidden masks "
                       "use >=.")
        index_order = torch.arange(D)[None, :] < torch.arange(D)[:, None]
        inverse = ordering[None, :] < ordering[:, None]
        if random_order and not bool((dep & ~index_order).any()):
            fail(name, "your masks follow the inputs' index order 0..D-1 and ignore `ordering`: input d's degree is its "
                       "position in the ordering, m0[ordering[i]] = i, not d (" + _pairs(bad, pos) + ").")
        if random_order and not bool((dep & ~inverse).any()):
            fail(name, "you gave input d the degree ordering[d]; ordering[i] is the input predicted i-th, so input "
                       "ordering[i] gets degree i (the inverse permutation: m0[ordering] = arange(D)).")
        fail(name, "the autoregressive property fails: the gradient shows " + _pairs(bad, pos) +
                   ", which comes at or after it in the ordering. Output d may see only the inputs before d.")
    if min(widths) >= D - 1:
        missing = (allowed & ~dep).nonzero()
        if len(missing):
            gap = pos[missing[:, 0]] - pos[missing[:, 1]]
            if bool((gap <= len(widths)).all()):
                fail(name, "outputs miss the inputs just before them (" + _pairs(missing, pos) + "): a hidden "
                           "unit of degree m sees the inputs of degree up to m itself, so keep the hidden weights "
                           "where m_l[k] >= m_{l-1}[k'] (>=, not >), and the hidden degrees start at 0 "
                           "(0..D-2: k % (D - 1)).")
            if bool(~dep.any()):
                fail(name, "no output depends on any input: the masks cut every path. Keep the hidden weights where "
                           "m_l[k] >= m_{l-1}[k'] and the output weights where m0[d] > m_L[k].")
            fail(name, "the property holds, but " + _pairs(missing, pos).replace(" on ", " does not depend on ") +
                       ", which comes before it: with hidden layers of at least D - 1 units, every output should see "
                       "every earlier input. Give each hidden layer all the degrees 0..D-2 (e.g. k % (D - 1)).")
    passed(name, f"by autograd, each of the {D} outputs depends on exactly the inputs before it in the ordering "
                 f"(hidden {tuple(widths)}).")


# --- 2. the PixelCNN kernel mask -----------------------------------------------------------------------------

def _kernel_mask(k: int, mask_type: str, center_row: str = "left", rows: str = "above") -> torch.Tensor:
    """A k x k mask written with loops: rows above the centre (or below), the centre row's left part (or its
    right part, all of it, or none), and the centre for type B."""
    c = k // 2
    m = torch.zeros(k, k)
    for r in range(k):
        for s in range(k):
            above = r < c if rows == "above" else r > c
            side = {"left": s < c, "right": s > c, "all": s != c, "none": False}[center_row]
            if above or (r == c and side) or (r == c and s == c and mask_type == "B"):
                m[r, s] = 1.0
    return m


def check_pixelcnn_mask(pixelcnn_mask, seed: int = 0, kernel_size: int = 5) -> None:
    """Check ``pixelcnn_mask(kernel_size, mask_type) -> (k, k)``, the kernel mask of PixelCNN's masked
    convolution for mask types "A" (the centre pixel masked: the first layer) and "B" (the centre kept)."""
    name = "pixelcnn_mask"
    k = kernel_size
    for t in ("A", "B"):
        other = "B" if t == "A" else "A"
        expected = _kernel_mask(k, t)
        mistakes = [
            (_kernel_mask(k, other), f"this is the type-{other} mask: type A masks the centre pixel (the first layer "
                                     "must not see the pixel it predicts), type B keeps it."),
            (_kernel_mask(k, t, center_row="all"), "the centre row keeps the pixels right of the centre too: on the "
                                                   "centre row only the pixels to the left come earlier (raster order)."),
            (_kernel_mask(k, t, center_row="right"), "the centre row keeps the pixels to the right: in raster order the "
                                                     "pixels to the left of the centre come earlier."),
            (_kernel_mask(k, t, rows="below"), "the mask keeps the rows below the centre: in raster order the rows "
                                               "above come earlier."),
            (_kernel_mask(k, t).T.contiguous(), "the mask is transposed (columns for rows): mask[row, column] keeps "
                                                "the rows above the centre and, on the centre row, the columns left of it."),
            (_kernel_mask(k, "A", center_row="none"), "the centre row is empty: the pixels to the left of the "
                                                       "centre on the same row come earlier too."),
            (torch.ones(k, k), "nothing is masked."),
        ]
        out = call(pixelcnn_mask, name, (k, t), reference=_forbidden(_pixelcnn_mask_ref))
        if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
            out = out.float()
        mask = expect_tensor(out, name, f"the type-{t} mask", (k, k),
                             {(1, 1, k, k): "return the (k, k) mask itself; the layer adds the (1, 1) in front."})
        compare(mask, expected, name, f"the type-{t} mask of size {k}", mistakes)
    passed(name, f"the {k} x {k} masks of type A and B keep exactly the pixels before the centre in raster order "
                 "(and the centre, for B).")


# --- 4. causal self-attention --------------------------------------------------------------------------------

def _attention_weights(q: torch.Tensor, k: torch.Tensor, mask: str = "causal", scale: str = "sqrt",
                       dim: int = -1, renormalise: bool = True) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + M) in float64, with the usual variations."""
    q, k = q.double(), k.double()
    d, T = q.shape[-1], q.shape[-2]
    scores = q @ k.transpose(-2, -1)
    scores = scores / {"sqrt": math.sqrt(d), "d": d, "none": 1.0}[scale]
    i = torch.arange(T)
    hide = {"causal": i[None, :] > i[:, None], "anti": i[None, :] < i[:, None], "none": torch.zeros(T, T, dtype=torch.bool)}[mask]
    if not renormalise:                                # softmax first, then the future zeroed
        return scores.softmax(dim=-1).masked_fill(hide, 0.0)
    return scores.masked_fill(hide, float("-inf")).softmax(dim=dim)


def check_causal_self_attention(causal_self_attention, seed: int = 0, batch: int = 2, heads: int = 3, T: int = 7,
                                d: int = 5) -> None:
    """Check ``causal_self_attention(q, k, v) -> (out (..., T, d), weights (..., T, T))``: weights =
    softmax(q k^T / sqrt(d)) with every j > i masked out, out = weights @ v; out is compared with PyTorch's
    ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``, and perturbing the future must not change
    the past."""
    name = "causal_self_attention"
    g = _gen(seed)
    q, k, v = (torch.randn(batch, heads, T, d, generator=g) for _ in range(3))
    # scores of a few units, so that the scale and the mask matter
    q = 1.5 * q

    def run(q, k, v):
        out = call(causal_self_attention, name, (q.clone(), k.clone(), v.clone()), reference=_forbidden(_attention_ref))
        out, weights = expect_tuple(out, name, ("out", "weights"))
        for value, what in ((weights, "weights"), (out, "out")):
            if isinstance(value, torch.Tensor) and value.is_floating_point() and bool(torch.isnan(value).any()):
                if what == "weights" and tuple(value.shape) == (batch, heads, T, T) and \
                        bool(torch.isnan(value[..., 0, :]).all()) and not bool(torch.isnan(value[..., 1:, 0]).any()):
                    fail(name, "the weights of position 0 are nan: every one of its scores was masked. Position i "
                               "attends to positions 0..i, itself included: mask only j > i (triu(..., diagonal=1)).")
                fail(name, f"{what} contains nan: a row of scores is masked entirely, or a score overflowed.")
        weights = expect_tensor(weights, name, "weights", (batch, heads, T, T),
                                {(batch, heads, T, d): "the weights are (..., T, T): one row per query position."})
        out = expect_tensor(out, name, "out", (batch, heads, T, d),
                            {(batch, heads, T, T): "out is weights @ v, of shape (..., T, d)."})
        return out, weights

    out, weights = run(q, k, v)
    p = T // 2
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    for x in (q2, k2, v2):
        x[..., p + 1:, :] += 3.0 * torch.randn(x[..., p + 1:, :].shape, generator=g)
    out2, _ = run(q2, k2, v2)
    if not close(out2[..., :p + 1, :], out[..., :p + 1, :], rtol=1e-4, atol=1e-5):
        changed = int((out2[..., :p + 1, :] - out[..., :p + 1, :]).abs().amax(dim=(0, 1, 3)).gt(1e-5).nonzero()[0])
        fail(name, f"the output at position {changed} changed when only the queries, keys and values after position "
                   f"{p} changed: position i must not see the future (mask the scores with j > i before the softmax).")
    expected_w = _attention_weights(q, k)
    w_mistakes = [
        (_attention_weights(q, k, mask="none"), "nothing is masked: position i must attend only to 0..i (set the "
                                                "scores with j > i to -inf before the softmax)."),
        (_attention_weights(q, k, mask="anti"), "the mask hides the past instead of the future: hide the scores with "
                                                "j > i (the upper triangle, triu(diagonal=1))."),
        (_attention_weights(q, k, scale="none"), "the scores are not scaled: divide q k^T by sqrt(d)."),
        (_attention_weights(q, k, scale="d"), "the scores are divided by d; divide them by sqrt(d)."),
        (_attention_weights(q, k, dim=-2), "the softmax runs over the query axis (dim=-2): each query's weights over "
                                           "the keys sum to 1, softmax(dim=-1)."),
        (_attention_weights(q, k, renormalise=False), "the future is zeroed after the softmax, so the weights no longer "
                                                      "sum to 1: mask the scores with -inf before the softmax."),
    ]
    compare(weights, expected_w, name, "the weights tensor", w_mistakes, rtol=1e-4, atol=1e-6)
    expected_out = _sdpa(q.double(), k.double(), v.double(), is_causal=True)
    compare(out, expected_out, name, "the output tensor", [(w @ v.double(), why) for w, why in w_mistakes] +
            [(expected_w.transpose(-2, -1) @ v.double(), "out = weights @ v (not weights^T @ v).")], rtol=1e-4, atol=1e-5)
    passed(name, f"weights and output match scaled_dot_product_attention(is_causal=True) for (B, H, T, d) = "
                 f"{(batch, heads, T, d)}; the future does not change the past.")


# --- 3. bits per dimension -----------------------------------------------------------------------------------

def check_bits_per_dim(bits_per_dim, seed: int = 0, batch: int = 8, shape: tuple = (1, 6, 6), scale: float = 3.0) -> None:
    """Check ``bits_per_dim(logits, x) -> (B,)``: each example's negative log-likelihood under independent
    Bernoullis with these logits (p(x_d = 1) = sigmoid(logits_d)), in bits, divided by the number of
    dimensions D = x[0].numel()."""
    name = "bits_per_dim"
    g = _gen(seed)
    logits = scale * torch.randn(batch, *shape, generator=g)
    x = torch.bernoulli(torch.full((batch, *shape), 0.5), generator=g)
    D = math.prod(shape)
    l64, x64 = logits.double(), x.double()
    log_p1, log_p0 = F.logsigmoid(l64), F.logsigmoid(-l64)
    nats = -(x64 * log_p1 + (1 - x64) * log_p0).flatten(1).sum(1)       # -log p(x), (B,)
    expected = nats / (D * _LN2)
    s = torch.sigmoid(l64)
    mistakes = [
        (nats / D, "this is nats per dimension: divide by log(2) to get bits (log2 p = ln p / ln 2)."),
        (nats / (D * math.log(10)), "you divided by log(10): bits are log base 2, divide by log(2)."),
        (nats / _LN2, f"this is the total number of bits of each example: divide by the D = {D} dimensions too."),
        (nats, "this is -log p(x) in nats, summed: divide by D log(2) to get bits per dimension."),
        (-expected, "the sign is flipped: bits per dimension are -log2 p(x) / D, a positive number."),
        (-(x64 * F.logsigmoid(s) + (1 - x64) * F.logsigmoid(-s)).flatten(1).sum(1) / (D * _LN2),
         "the sigmoid is applied twice (sigmoid of the probabilities): binary_cross_entropy_with_logits takes the "
         "logits themselves."),
        (-(x64 * log_p0 + (1 - x64) * log_p1).flatten(1).sum(1) / (D * _LN2),
         "x = 1 and x = 0 are swapped: p(x_d = 1) = sigmoid(logits_d)."),
    ]
    hints = {(batch, *shape): "that is one value per pixel: sum over the dimensions of each example (then divide by D).",
             (batch, D): "that is one value per dimension: sum over the dimensions of each example (then divide by D).",
             (): "that is one number for the batch: return one value per example, shape (B,).",
             (1,): "that is one number for the batch: return one value per example, shape (B,)."}
    out = call(bits_per_dim, name, (logits.clone(), x.clone()), reference=_forbidden(_bpd_ref, _log_prob_ref))
    if isinstance(out, torch.Tensor) and out.is_floating_point() and not bool(torch.isfinite(out).all()):
        fail(name, f"the result has nan or inf for logits as large as {float(logits.abs().max()):.0f}: "
                   "log(sigmoid(l)) underflows to log(0) for large |l|. Work with the logits stably: "
                   "F.logsigmoid(l) and F.logsigmoid(-l), or F.binary_cross_entropy_with_logits.")
    bpd = expect_tensor(out, name, "bits per dimension", (batch,), hints)
    compare(bpd, expected, name, "the bits-per-dimension tensor", mistakes, rtol=1e-4, atol=1e-6)
    passed(name, f"matches -log2 p(x) / D for {batch} examples of shape {tuple(shape)} (D = {D}).")


# --- 6. sampling with a temperature and top-k ----------------------------------------------------------------

def _distribution(logits: torch.Tensor, temperature: float, top_k: int | None, multiply: bool = False,
                  k_shift: int = 0, dim: int = -1) -> torch.Tensor:
    z = logits.double() * temperature if multiply else logits.double() / temperature
    if top_k is not None:
        k = max(1, min(top_k + k_shift, z.shape[-1]))
        kth = z.topk(k, dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    p = z.softmax(dim=dim)
    return p / p.sum(dim=-1, keepdim=True)


def _tv(freq: torch.Tensor, p: torch.Tensor) -> float:
    return float(0.5 * (freq - p).abs().sum(dim=-1).max())


def check_sample_next_token(sample_next_token, seed: int = 0, vocab: int = 6, groups: int = 3, per_group: int = 4000,
                            temperature: float = 0.5, top_k: int | None = 3) -> None:
    """Check ``sample_next_token(logits (B, V), temperature=1.0, top_k=None, generator=None) -> (B,) int64`` by
    its distribution: ``per_group`` rows share each of ``groups`` logit vectors, and the frequencies of the
    drawn tokens must match softmax(logits / temperature) over the top_k largest logits (total variation
    below 0.04); a token outside the top k must never be drawn; the draws must come from ``generator``."""
    name = "sample_next_token"
    g = _gen(seed)
    base = 1.5 * torch.randn(groups, vocab, generator=g)
    logits = base.repeat_interleave(per_group, dim=0)
    tol = 0.04

    def draw(s, logits=logits, args=(temperature, top_k)):
        out = call(sample_next_token, name, (logits.clone(), *args), {"generator": _gen(s)},
                   reference=_forbidden(_next_ref, _generate_ref))
        hints = {(len(logits), 1): "return a (B,) tensor of token ids: squeeze the last axis of torch.multinomial's "
                                   "(B, 1) result.",
                 (len(logits), vocab): "return the sampled token ids (B,), not the probabilities (B, V)."}
        tokens = expect_tensor(out, name, "the tokens", (len(logits),), hints, floating=False)
        if tokens.is_floating_point() or tokens.dtype == torch.bool:
            fail(name, f"the tokens have dtype {tokens.dtype}; return integer token ids (torch.multinomial gives int64).")
        if int(tokens.min()) < 0 or int(tokens.max()) >= vocab:
            fail(name, f"the tokens range over {int(tokens.min())}..{int(tokens.max())}, outside 0..{vocab - 1}.")
        return tokens.long()

    def frequencies(tokens, n_groups, size):
        return F.one_hot(tokens, vocab).double().view(n_groups, size, vocab).mean(dim=1)

    tokens = draw(seed + 1000)
    freq = frequencies(tokens, groups, per_group)
    expected = _distribution(base, temperature, top_k)
    if top_k is not None:
        outside = (freq > 0) & (expected == 0)
        if bool(outside.any()):
            r, t = outside.nonzero()[0].tolist()
            rank = int((base[r] > base[r, t]).sum()) + 1
            fail(name, f"token {t} was drawn although its logit is only the {rank}th largest and top_k = {top_k}: "
                       "keep the k largest logits (logits.topk(k)) and set the others to -inf before the softmax.")
    if _tv(freq, expected) > tol:
        mistakes = [
            (_distribution(base, temperature, top_k, multiply=True), "the logits are multiplied by the temperature; "
                                                                     "divide them by it: softmax(logits / temperature)."),
            (_distribution(base, 1.0, top_k), f"the temperature ({temperature}) has no effect: divide the logits by it "
                                              "before the softmax."),
            (_distribution(base, temperature, top_k, k_shift=-1), f"only top_k - 1 = {(top_k or 1) - 1} tokens are ever "
                                                                  f"drawn: keep the {top_k} largest logits."),
            (F.one_hot(base.argmax(-1), vocab).double(), "you always return the most likely token (greedy): draw from "
                                                         "the distribution, torch.multinomial(probs, 1, generator=...)."),
            (torch.full_like(expected, 1.0 / vocab), "the draws are uniform over the vocabulary: draw with probabilities "
                                                     "softmax(logits / temperature), not uniformly."),
        ]
        for wrong, why in mistakes:
            if _tv(freq, wrong) <= tol:
                fail(name, f"your draws' frequencies do not match the distribution: {why}")
        fail(name, f"your draws' frequencies differ from softmax(logits / {temperature}) over the top {top_k} logits "
                   f"by a total variation of {_tv(freq, expected):.3f} (more than sampling error, {tol}). "
                   f"Frequencies of your first row: {[round(float(f), 3) for f in freq[0]]}, expected "
                   f"{[round(float(p), 3) for p in expected[0]]}.")
    plain = call(sample_next_token, name, (base.repeat_interleave(per_group, dim=0),), {"generator": _gen(seed + 5)},
                 reference=_forbidden(_next_ref, _generate_ref))
    plain = expect_tensor(plain, name, "the tokens drawn with the defaults", (groups * per_group,), floating=False).long()
    if _tv(frequencies(plain, groups, per_group), _distribution(base, 1.0, None)) > tol:
        fail(name, "called with the defaults (temperature=1.0, top_k=None), the draws do not follow softmax(logits): "
                   "the defaults should be temperature 1 and no top-k.")
    few = logits[:: per_group // 4]
    first = draw(seed + 2000, few, (1.0, None))              # (with the full distribution: top_k = 1 draws nothing)
    expect_seeded(lambda s: draw(s, few, (1.0, None)), first, seed + 2000, name, "tokens",
                  "draw with the generator argument: torch.multinomial(probs, 1, generator=generator).")
    over = f"the top {top_k} tokens" if top_k is not None else "all tokens"
    passed(name, f"{groups * per_group} draws match softmax(logits / {temperature}) over {over} "
                 f"(total variation at most {_tv(freq, expected):.3f}); seeded by the generator.")


# --- 5. the log-likelihood of a sequence ---------------------------------------------------------------------

def _tiny_model(kind: str, vocab: int, seed: int):
    with torch.random.fork_rng():           # the module's own initialisation, leaving the caller's RNG as it was
        torch.manual_seed(seed)
        if kind == "gru":
            model = _GRULM(vocab, hidden=8)
        else:
            model = _TransformerLM(_TransformerConfig(vocab_size=vocab, context=16, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():
        model.head.weight.mul_(4.0)           # distributions far from uniform
    return model.double().eval()


def _all_sequences(vocab: int, length: int) -> torch.Tensor:
    grids = torch.meshgrid(*[torch.arange(vocab)] * length, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)


def check_sequence_log_prob(sequence_log_prob, seed: int = 0, vocab: int = 3, length: int = 4, model: str = "transformer",
                            exhaustive: bool = True, batch: int = 32) -> None:
    """Check ``sequence_log_prob(model, tokens (B, T)) -> (B,)``: log p(tokens[:, 1:] | tokens[:, 0]), the sum over
    t = 1..T-1 of log p(token t | tokens before t) from the model's logits (B, T, V), where position t - 1
    predicts token t. With ``exhaustive``, ``tokens`` holds every sequence of the vocabulary of this length, and
    the probabilities of the continuations of each first token must sum to exactly 1."""
    name = "sequence_log_prob"
    net = _tiny_model(model, vocab, seed)
    if exhaustive:
        tokens = _all_sequences(vocab, length)
    else:
        tokens = torch.randint(vocab, (batch, length), generator=_gen(seed))
    B = len(tokens)
    with torch.no_grad():
        logits = net(tokens)                                  # (B, T, V): position t predicts token t + 1
    logp = logits.log_softmax(dim=-1)
    nxt = tokens[:, 1:, None]
    expected = logp[:, :-1].gather(-1, nxt).squeeze(-1).sum(1)
    mistakes = [
        (logits[:, :-1].gather(-1, nxt).squeeze(-1).sum(1), "you summed the raw logits: take log_softmax over the "
                                                             "vocabulary first (log p = logits - logsumexp(logits))."),
        (logits[:, :-1].softmax(-1).gather(-1, nxt).squeeze(-1).sum(1), "you summed probabilities; the log-likelihood "
                                                                        "of a sequence is the sum of log-probabilities."),
        (logp[:, :-1].gather(-1, nxt).squeeze(-1).mean(1), "this is the mean over positions: the log-probability of "
                                                           "the sequence is the sum (the chain rule multiplies them)."),
        (logp[:, 1:].gather(-1, nxt).squeeze(-1).sum(1), "the logits are one position off: the logits at position "
                                                         "t - 1 predict token t (score tokens[:, 1:] with logits[:, :-1])."),
        (logp[:, :-1].gather(-1, tokens[:, :-1, None]).squeeze(-1).sum(1),
         "you scored each token with its own position's logits, which predict the *next* token: score tokens[:, 1:] "
         "with logits[:, :-1]."),
        (-expected, "the sign is flipped: return log p (a negative number), not the negative log-likelihood."),
        (expected / _LN2, "this is in bits: return the natural log (nats)."),
    ]
    out = call(sequence_log_prob, name, (net, tokens.clone()), reference=_forbidden(_nll_ref))
    hints = {(B, length - 1): "that is one log-probability per position: sum them over positions, one number per sequence.",
             (B, length): "that is one value per position: sum the T - 1 log-probabilities of tokens 1..T-1.",
             (): "that is one number for the batch: return one log-probability per sequence, shape (B,)."}
    lp = expect_tensor(out, name, "the log-probabilities", (B,), hints).detach()
    if exhaustive and not close(lp, expected, rtol=1e-4, atol=1e-5) and \
            not any(close(lp, w, rtol=1e-4, atol=1e-5) for w, _ in mistakes):
        totals = torch.logsumexp(lp.double().view(vocab, -1), dim=1).exp()
        if not close(totals, torch.ones(vocab), rtol=1e-4, atol=1e-5):
            fail(name, f"a distribution must sum to 1, but the probabilities exp(log p) of all {vocab ** (length - 1)} "
                       f"continuations of each first token sum to {[round(float(t), 4) for t in totals]}.")
    compare(lp, expected, name, "the log-probability tensor", mistakes, rtol=1e-4, atol=1e-5)
    detail = (f"the {vocab ** (length - 1)} continuations of each first token have probabilities summing to 1"
              if exhaustive else f"{B} random sequences")
    passed(name, f"matches the chain rule's sum of log p(token t | tokens < t) for a tiny {model} ({detail}).")
