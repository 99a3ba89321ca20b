"""The chapter 8 checks: correct answers written differently pass; the wrong answers students write fail
with the check's explanation (a non-strict output mask, a strict hidden mask, the ordering ignored or
inverted, mask types swapped, nats for bits, no scaling of the scores, the future not masked, logits one
position off, the temperature multiplied, top-k off by one, ...)."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from genedu.checks._core import CheckFailed
from genedu.checks.ch08 import (check_bits_per_dim, check_causal_self_attention, check_made_masks, check_pixelcnn_mask,
                                check_sample_next_token, check_sequence_log_prob)
from genedu.language_models import GRULM, TransformerConfig, TransformerLM

# --- correct answers, written in different ways ------------------------------------------------------------


def _degrees(D, hidden, ordering, inverse=False, strict_hidden=False, strict_out=True, rule=None):
    m0 = torch.empty(D, dtype=torch.long)
    if inverse:
        m0 = ordering.clone()
    else:
        m0[ordering] = torch.arange(D)
    rule = rule or (lambda width: torch.arange(width) % (D - 1))
    degrees = [m0] + [rule(w) for w in hidden]
    hid = (lambda a, b: a > b) if strict_hidden else (lambda a, b: a >= b)
    out = (lambda a, b: a > b) if strict_out else (lambda a, b: a >= b)
    masks = [hid(degrees[i + 1][:, None], degrees[i][None, :]).float() for i in range(len(hidden))]
    masks.append(out(m0[:, None], degrees[-1][None, :]).float())
    return masks


def made_ref(n_inputs, hidden, ordering):
    return _degrees(n_inputs, hidden, ordering)


def made_loops(n_inputs, hidden, ordering):  # Python loops, bool masks, another degree rule (evenly spread)
    D = n_inputs
    position = {int(d): i for i, d in enumerate(ordering)}
    prev = [position[d] for d in range(D)]
    masks = []
    for width in hidden:
        deg = [k * (D - 1) // width if width >= D - 1 else k % (D - 1) for k in range(width)]
        masks.append(torch.tensor([[deg[k] >= prev[j] for j in range(len(prev))] for k in range(width)]))
        prev = deg
    masks.append(torch.tensor([[position[d] > prev[k] for k in range(len(prev))] for d in range(D)]))
    return masks


def pm_ref(kernel_size, mask_type):
    c = kernel_size // 2
    m = torch.zeros(kernel_size, kernel_size)
    m[:c] = 1
    m[c, :c + (mask_type == "B")] = 1
    return m


def pm_flat(kernel_size, mask_type):  # raster index below the centre's (or equal, for B)
    k = kernel_size
    idx = torch.arange(k * k).view(k, k)
    centre = (k * k) // 2
    return (idx < centre).float() if mask_type == "A" else (idx <= centre).float()


def att_ref(q, k, v):
    T = q.shape[-2]
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    w = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
    return w @ v, w


def att_tril(q, k, v):  # tril keep-mask, einsum, sdpa for the output
    T = q.shape[-2]
    s = torch.einsum("...id,...jd->...ij", q, k) * q.shape[-1] ** -0.5
    w = torch.where(torch.tril(torch.ones(T, T)) == 1, s, torch.tensor(-1e9)).softmax(dim=-1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True), w


def bpd_ref(logits, x):
    nats = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    return nats / (x[0].numel() * math.log(2))


def bpd_logsigmoid(logits, x):  # log2 directly, mean over dimensions
    lp = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)
    return -(lp / math.log(2)).reshape(len(x), -1).mean(dim=1)


def snt_ref(logits, temperature=1.0, top_k=None, generator=None):
    z = logits / temperature
    if top_k is not None:
        kth = z.topk(top_k, -1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(z.softmax(-1), 1, generator=generator).squeeze(1)


def snt_gather(logits, temperature=1.0, top_k=None, generator=None):  # sample among the top-k indices
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_k is None:
        return torch.multinomial(probs, 1, generator=generator)[:, 0]
    values, indices = torch.topk(logits / temperature, top_k, dim=-1)
    choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=generator)
    return indices.gather(1, choice).squeeze(1)


def snt_cdf(logits, temperature=1.0, top_k=None, generator=None):  # inverse CDF with torch.rand
    z = logits / temperature
    if top_k:
        z = torch.where(z >= z.topk(top_k, dim=1).values[:, -1:], z, torch.full_like(z, -math.inf))
    cdf = z.softmax(1).cumsum(1)
    u = torch.rand(len(z), 1, generator=generator)
    return (cdf < u).sum(1).clamp(max=z.shape[1] - 1)


def slp_ref(model, tokens):
    lp = model(tokens[:, :-1]).log_softmax(-1)
    return lp.gather(-1, tokens[:, 1:, None]).squeeze(-1).sum(1)


def slp_cross_entropy(model, tokens):  # F.cross_entropy per position
    logits = model(tokens)[:, :-1]
    nll = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], reduction="none")
    return -nll.sum(dim=1)


CORRECT = [
    (check_made_masks, made_ref), (check_made_masks, made_loops),
    (check_pixelcnn_mask, pm_ref), (check_pixelcnn_mask, pm_flat),
    (check_causal_self_attention, att_ref), (check_causal_self_attention, att_tril),
    (check_bits_per_dim, bpd_ref), (check_bits_per_dim, bpd_logsigmoid),
    (check_sample_next_token, snt_ref), (check_sample_next_token, snt_gather), (check_sample_next_token, snt_cdf),
    (check_sequence_log_prob, slp_ref), (check_sequence_log_prob, slp_cross_entropy),
]


@pytest.mark.parametrize("check, answer", CORRECT, ids=lambda x: getattr(x, "__name__", str(x)))
def test_correct_answers_pass(check, answer, capsys):
    check(answer)
    assert "[passed]" in capsys.readouterr().out


HIDDEN = [
    (check_made_masks, dict(seed=101, n_inputs=9, hidden=(8, 20, 11))),
    (check_made_masks, dict(seed=102, n_inputs=15, hidden=(14,), random_order=False)),
    (check_made_masks, dict(seed=103, n_inputs=20, hidden=(7, 5))),
    (check_pixelcnn_mask, dict(kernel_size=3)), (check_pixelcnn_mask, dict(kernel_size=7)),
    (check_causal_self_attention, dict(seed=401, batch=1, heads=1, T=12, d=16)),
    (check_bits_per_dim, dict(seed=302, batch=12, shape=(20,), scale=60.0)),
    (check_sample_next_token, dict(seed=601, vocab=10, temperature=2.0, top_k=5)),
    (check_sample_next_token, dict(seed=603, vocab=8, temperature=0.7, top_k=1)),
    (check_sequence_log_prob, dict(seed=501, vocab=2, length=7, model="gru")),
    (check_sequence_log_prob, dict(seed=503, vocab=9, length=12, exhaustive=False)),
]
ANSWERS = {check_made_masks: made_loops, check_pixelcnn_mask: pm_flat, check_causal_self_attention: att_tril,
           check_bits_per_dim: bpd_logsigmoid, check_sample_next_token: snt_cdf, check_sequence_log_prob: slp_cross_entropy}


@pytest.mark.parametrize("check, kwargs", HIDDEN, ids=lambda x: getattr(x, "__name__", str(x)))
def test_hidden_test_arguments_pass(check, kwargs, capsys):
    check(ANSWERS[check], **kwargs)
    assert "[passed]" in capsys.readouterr().out


def _fails(check, answer, message, **kwargs):
    with pytest.raises(CheckFailed) as err:
        check(answer, **kwargs)
    assert message in str(err.value), str(err.value)


# --- 1. MADE's masks -----------------------------------------------------------------------------------------

MADE_MISTAKES = [
    (lambda D, h, o: _degrees(D, h, o, strict_out=False), "output d depends on input d itself"),
    (lambda D, h, o: _degrees(D, h, o, strict_hidden=True), "(>=, not >)"),
    (lambda D, h, o: _degrees(D, h, torch.arange(D)), "ignore `ordering`"),
    (lambda D, h, o: _degrees(D, h, o, inverse=True), "the inverse permutation"),
    (lambda D, h, o: [m.T for m in made_ref(D, h, o)], "Transpose it"),
    (lambda D, h, o: [torch.zeros_like(m) for m in made_ref(D, h, o)], "the masks cut every path"),
    (lambda D, h, o: made_ref(D, h, o)[:-1], "should return a list of 3 masks"),
    (lambda D, h, o: [2 * m for m in made_ref(D, h, o)], "values other than 0 and 1"),
    # degrees that skip some values: the property holds, some connections are missing
    (lambda D, h, o: _degrees(D, h, o, rule=lambda w: torch.arange(w) % (D // 2)), "every output should see every"),
    # hidden degrees 1..D-1 (a 1-based rule): the property holds, but nothing sees the first input
    (lambda D, h, o: _degrees(D, h, o, rule=lambda w: torch.arange(w) % (D - 1) + 1), "the hidden degrees start at 0"),
    # output mask kept where m0[d] > m_L[k] - 1: output d sees input d (and the degree-d units)
    (lambda D, h, o: [*made_ref(D, h, o)[:-1], _degrees(D, h, o, strict_out=False)[-1]], "depends on input d itself"),
]


@pytest.mark.parametrize("answer, message", MADE_MISTAKES, ids=[m for _, m in MADE_MISTAKES])
def test_made_mistakes(answer, message):
    _fails(check_made_masks, answer, message)


def test_made_check_uses_the_gradient_not_the_formula():
    """Masks of another valid construction (evenly spread degrees, not k % (D - 1)) pass on every hidden test."""
    for _, kwargs in [h for h in HIDDEN if h[0] is check_made_masks]:
        check_made_masks(made_loops, **kwargs)


# --- 2. the kernel mask --------------------------------------------------------------------------------------

PM_MISTAKES = [
    (lambda k, t: pm_ref(k, "B" if t == "A" else "A"), "this is the type-B mask"),
    (lambda k, t: pm_ref(k, t).T, "transposed"),
    (lambda k, t: pm_ref(k, t).flip(0), "keeps the rows below"),
    (lambda k, t: torch.ones(k, k), "nothing is masked"),
    (lambda k, t: pm_ref(k, t)[None, None], "return the (k, k) mask itself"),
]


@pytest.mark.parametrize("answer, message", PM_MISTAKES, ids=[m for _, m in PM_MISTAKES])
def test_pixelcnn_mask_mistakes(answer, message):
    _fails(check_pixelcnn_mask, answer, message)


def test_pixelcnn_mask_type_b_swapped_only_is_named():
    def answer(k, t):
        return pm_ref(k, "A") if t == "B" else pm_ref(k, "A")
    _fails(check_pixelcnn_mask, answer, "this is the type-A mask")


# --- 3. attention ---------------------------------------------------------------------------------------------

def _att(mask="causal", scale="sqrt", dim=-1, after=False):
    def answer(q, k, v):
        T, d = q.shape[-2], q.shape[-1]
        s = q @ k.transpose(-2, -1) / {"sqrt": math.sqrt(d), "d": d, "none": 1}[scale]
        hide = {"causal": torch.ones(T, T, dtype=torch.bool).triu(1), "strict": torch.ones(T, T, dtype=torch.bool).triu(0),
                "anti": torch.ones(T, T, dtype=torch.bool).tril(-1), "none": torch.zeros(T, T, dtype=torch.bool)}[mask]
        w = s.softmax(-1).masked_fill(hide, 0.0) if after else s.masked_fill(hide, float("-inf")).softmax(dim)
        return w @ v, w
    return answer


ATT_MISTAKES = [
    (_att(mask="none"), "must not see the future"),
    (_att(mask="strict"), "the weights of position 0 are nan"),
    (_att(mask="anti"), "must not see the future"),
    (_att(scale="none"), "the scores are not scaled"),
    (_att(scale="d"), "divided by d"),
    (_att(after=True), "must not see the future"),   # the softmax's denominator holds the future
    (lambda q, k, v: att_ref(q, k, v)[0], "should return a tuple (out, weights)"),
    (lambda q, k, v: att_ref(q, k, v)[::-1], "the weights are (..., T, T)"),
    (lambda q, k, v: (att_ref(q, k, v)[1].transpose(-2, -1) @ v, att_ref(q, k, v)[1]), "must not see the future"),
    # weights from another function than the output: the weights alone are judged
    (lambda q, k, v: (att_ref(q, k, v)[0], _att(scale="none")(q, k, v)[1]), "the scores are not scaled"),
]


@pytest.mark.parametrize("answer, message", ATT_MISTAKES, ids=[m for _, m in ATT_MISTAKES])
def test_attention_mistakes(answer, message):
    _fails(check_causal_self_attention, answer, message)


def test_attention_weights_normalised_after_masking_is_named():
    """Zeroing the future after the softmax (rows no longer summing to 1) is named when the output is right."""
    _fails(check_causal_self_attention, lambda q, k, v: (att_ref(q, k, v)[0], _att(after=True)(q, k, v)[1]),
           "no longer sum to 1")


def test_attention_matches_pytorch_fused_kernel():
    """The check's expected output is PyTorch's own attention, not a copy of the reference."""
    q, k, v = torch.randn(3, 2, 6, 4, dtype=torch.float64).unbind(0)
    out, _ = att_ref(q, k, v)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))


# --- 4. bits per dimension ------------------------------------------------------------------------------------

BPD_MISTAKES = [
    (lambda l, x: bpd_ref(l, x) * math.log(2), "this is nats per dimension"),
    (lambda l, x: bpd_ref(l, x) * math.log(2) / math.log(10), "you divided by log(10)"),
    (lambda l, x: bpd_ref(l, x) * x[0].numel(), "the total number of bits"),
    (lambda l, x: bpd_ref(l, x) * x[0].numel() * math.log(2), "this is -log p(x) in nats"),
    (lambda l, x: -bpd_ref(l, x), "the sign is flipped"),
    (lambda l, x: bpd_ref(torch.sigmoid(l), x), "the sigmoid is applied twice"),
    (lambda l, x: bpd_ref(l, 1 - x), "x = 1 and x = 0 are swapped"),
    (lambda l, x: bpd_ref(l, x).mean(), "one number for the batch"),
    (lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none") / math.log(2), "one value per pixel"),
]


@pytest.mark.parametrize("answer, message", BPD_MISTAKES, ids=[m for _, m in BPD_MISTAKES])
def test_bits_per_dim_mistakes(answer, message):
    _fails(check_bits_per_dim, answer, message)


def test_bits_per_dim_unstable_log_sigmoid_is_named_on_large_logits(capsys):
    def naive(l, x):
        p = torch.sigmoid(l)
        return -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1) / (x[0].numel() * math.log(2))
    check_bits_per_dim(naive)                      # fine for moderate logits
    _fails(check_bits_per_dim, naive, "F.logsigmoid", scale=60.0)


# --- 5. the sampler --------------------------------------------------------------------------------------------

def _snt(multiply=False, no_temp=False, k_shift=0, greedy=False, uniform=False, seeded=True, no_topk=False,
         squeeze=True, probs=False):
    def answer(logits, temperature=1.0, top_k=None, generator=None):
        z = logits * temperature if multiply else logits / (1.0 if no_temp else temperature)
        if top_k is not None and not no_topk:
            kth = z.topk(max(1, top_k + k_shift), -1).values[:, -1:]
            z = z.masked_fill(z < kth, float("-inf"))
        p = z.softmax(-1)
        if probs:
            return p
        if greedy:
            return z.argmax(-1)
        if uniform:
            p = torch.ones_like(p)
        out = torch.multinomial(p, 1, generator=generator if seeded else None)
        return out.squeeze(1) if squeeze else out
    return answer


SNT_MISTAKES = [
    (_snt(multiply=True), "multiplied by the temperature"),
    (_snt(no_temp=True), "has no effect"),
    (_snt(k_shift=-1), "only top_k - 1 = 2 tokens"),
    (_snt(k_shift=1), "only the 4th largest and top_k = 3"),
    (_snt(no_topk=True), "top_k = 3"),
    (_snt(greedy=True), "greedy"),
    (_snt(seeded=False), "identically seeded generators"),
    (_snt(squeeze=False), "squeeze the last axis"),
    (_snt(probs=True), "not the probabilities"),
    (lambda logits, temperature=1.0, top_k=None, generator=None: _snt()(logits, temperature, top_k, generator).float(),
     "integer token ids"),
]


@pytest.mark.parametrize("answer, message", SNT_MISTAKES, ids=[m for _, m in SNT_MISTAKES])
def test_sampler_mistakes(answer, message):
    _fails(check_sample_next_token, answer, message)


def test_sampler_uniform_draws_are_named():
    _fails(check_sample_next_token, _snt(uniform=True), "uniform over the vocabulary", top_k=None, temperature=1.0)


def test_sampler_wrong_defaults_are_named():
    def answer(logits, temperature=0.5, top_k=None, generator=None):
        return snt_ref(logits, temperature, top_k, generator)
    _fails(check_sample_next_token, answer, "the defaults should be temperature 1")


def test_sampler_tolerance_is_far_above_sampling_error():
    """A correct sampler's total variation on the check's draws stays well inside the tolerance (0.04) over
    many seeds, so honest answers are not refused by bad luck."""
    from genedu.checks import ch08
    worst = 0.0
    for seed in range(20):
        base = 1.5 * torch.randn(3, 6, generator=torch.Generator().manual_seed(seed))
        logits = base.repeat_interleave(4000, dim=0)
        tokens = snt_ref(logits, 0.5, 3, torch.Generator().manual_seed(seed))
        freq = F.one_hot(tokens, 6).double().view(3, 4000, 6).mean(1)
        worst = max(worst, ch08._tv(freq, ch08._distribution(base, 0.5, 3)))
    assert worst < 0.025


# --- 6. the sequence log-probability ---------------------------------------------------------------------------

SLP_MISTAKES = [
    (lambda m, t: m(t[:, :-1]).gather(-1, t[:, 1:, None]).squeeze(-1).sum(1), "summed the raw logits"),
    (lambda m, t: m(t[:, :-1]).softmax(-1).gather(-1, t[:, 1:, None]).squeeze(-1).sum(1), "summed probabilities"),
    (lambda m, t: m(t[:, :-1]).log_softmax(-1).gather(-1, t[:, 1:, None]).squeeze(-1).mean(1), "mean over positions"),
    (lambda m, t: m(t).log_softmax(-1)[:, 1:].gather(-1, t[:, 1:, None]).squeeze(-1).sum(1), "one position off"),
    (lambda m, t: m(t).log_softmax(-1)[:, :-1].gather(-1, t[:, :-1, None]).squeeze(-1).sum(1), "its own position"),
    (lambda m, t: -slp_ref(m, t), "the sign is flipped"),
    (lambda m, t: slp_ref(m, t) / math.log(2), "this is in bits"),
    (lambda m, t: m(t[:, :-1]).log_softmax(-1).gather(-1, t[:, 1:, None]).squeeze(-1), "one log-probability per position"),
    (lambda m, t: slp_ref(m, t).sum(), "one number for the batch"),
    # every position scored, the first token included with the last position's logits: not a distribution
    (lambda m, t: m(t).log_softmax(-1).gather(-1, t.roll(-1, 1)[..., None]).squeeze(-1).sum(1), "must sum to 1"),
]


@pytest.mark.parametrize("answer, message", SLP_MISTAKES, ids=[m for _, m in SLP_MISTAKES])
def test_sequence_log_prob_mistakes(answer, message):
    _fails(check_sequence_log_prob, answer, message)


def test_sum_to_one_holds_for_the_check_models():
    """The exact test's premise, computed independently: for each first token, the probabilities of all
    continuations under the check's tiny Transformer and GRU, multiplied out one position at a time with
    itertools, sum to 1."""
    from genedu.checks import ch08
    for kind in ("transformer", "gru"):
        model = ch08._tiny_model(kind, 3, 0)
        for first in range(3):
            total = 0.0
            for rest in itertools.product(range(3), repeat=3):
                seq = [first, *rest]
                p = 1.0
                for t in range(1, 4):
                    with torch.no_grad():
                        probs = model(torch.tensor([seq[:t]])).softmax(-1)[0, -1]
                    p *= float(probs[seq[t]])
                total += p
            assert abs(total - 1) < 1e-9


def test_check_models_are_not_uniform_and_leave_the_rng_alone():
    from genedu.checks import ch08
    state = torch.random.get_rng_state()
    model = ch08._tiny_model("transformer", 3, 0)
    assert torch.equal(state, torch.random.get_rng_state())
    with torch.no_grad():
        probs = model(torch.tensor([[0, 1, 2]])).softmax(-1)
    assert float(probs.max()) > 0.6
    assert isinstance(model, TransformerLM) and isinstance(ch08._tiny_model("gru", 3, 0), GRULM)
    assert isinstance(model.config, TransformerConfig)


# --- every check --------------------------------------------------------------------------------------------------

def _raises(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("check", [check_made_masks, check_pixelcnn_mask, check_causal_self_attention, check_bits_per_dim,
                                   check_sample_next_token, check_sequence_log_prob], ids=lambda c: c.__name__)
def test_not_implemented_is_named(check):
    _fails(check, _raises, "not implemented yet")


@pytest.mark.parametrize("check, reference", [
    (check_made_masks, "genedu.autoregressive.made_masks"),
    (check_pixelcnn_mask, "genedu.autoregressive.pixelcnn_mask"),
    (check_causal_self_attention, "genedu.language_models.causal_self_attention"),
    (check_sample_next_token, "genedu.language_models.next_token_distribution"),
    (check_sequence_log_prob, "genedu.language_models.nll"),
], ids=lambda x: getattr(x, "__name__", str(x)))
def test_reference_guard(check, reference):
    """An answer that leans on genedu's own implementation is refused in the notebook (and the function is not
    in the grader's sandbox: REFERENCES)."""
    from genedu import autoregressive as ar
    from genedu import language_models as lm
    from genedu.checks import ch08
    assert reference in ch08.REFERENCES
    cheats = {
        check_made_masks: lambda D, h, o: ar.made_masks(D, h, o),
        check_pixelcnn_mask: lambda k, t: ar.pixelcnn_mask(k, t),
        check_causal_self_attention: lambda q, k, v: (lm.causal_self_attention(q, k, v), att_ref(q, k, v)[1]),
        check_sample_next_token: lambda logits, temperature=1.0, top_k=None, generator=None: torch.multinomial(
            lm.next_token_distribution(logits, temperature, top_k), 1, generator=generator).squeeze(1),
        check_sequence_log_prob: lambda m, t: -lm.nll(m, t) * (t.shape[1] - 1) + 0 * t[:, 0],
    }
    _fails(check, cheats[check], "genedu's reference implementation")


def test_pixelcnn_mask_empty_centre_row_is_named():
    def answer(k, t):
        m = pm_ref(k, t)
        m[k // 2, : k // 2] = 0
        m[k // 2, k // 2] = 0
        return m
    _fails(check_pixelcnn_mask, answer, "the centre row is empty")
