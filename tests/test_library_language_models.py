"""genedu.language_models: causal attention against PyTorch's fused kernel and by perturbing the
future; the models' probabilities over every sequence of a tiny vocabulary summing to 1; the
sampling distribution (temperature, top-k) and the sampler's frequencies; perplexity of a uniform model."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from genedu import language_models as lm


def tiny_transformer(V=3, context=8, seed=0):
    torch.manual_seed(seed)
    return lm.TransformerLM(lm.TransformerConfig(vocab_size=V, context=context, n_layer=2, n_head=2, n_embd=16))


def tiny_gru(V=3, seed=0):
    torch.manual_seed(seed)
    return lm.GRULM(V, hidden=16)


def test_causal_self_attention_is_pytorchs():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 5, generator=g) for _ in range(3))
    assert torch.allclose(lm.causal_self_attention(q, k, v), F.scaled_dot_product_attention(q, k, v, is_causal=True),
                          atol=1e-6)


def test_causal_self_attention_ignores_the_future():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 6, 4, generator=g) for _ in range(3))
    out = lm.causal_self_attention(q, k, v)
    k2, v2 = k.clone(), v.clone()
    k2[:, 4:], v2[:, 4:] = 100.0, -100.0
    out2 = lm.causal_self_attention(q, k2, v2)
    assert torch.allclose(out[:, :4], out2[:, :4]) and not torch.allclose(out[:, 4:], out2[:, 4:])


@pytest.mark.parametrize("make", [tiny_transformer, tiny_gru], ids=["Transformer", "GRU"])
def test_models_do_not_see_later_tokens(make):
    model = make()
    tokens = torch.tensor([[0, 1, 2, 1, 0, 2]])
    changed = tokens.clone()
    changed[0, 3:] = torch.tensor([2, 2, 1])
    a, b = model(tokens), model(changed)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6) and not torch.allclose(a[:, 3:], b[:, 3:])


@pytest.mark.parametrize("make", [tiny_transformer, tiny_gru], ids=["Transformer", "GRU"])
def test_probabilities_of_all_continuations_sum_to_one(make):
    """p(t_1 t_2 t_3 | t_0) by the chain rule, over all 3^3 continuations: exactly 1."""
    model = make().double()
    rows = torch.tensor([[1, *seq] for seq in itertools.product(range(3), repeat=3)])
    logp = model(rows[:, :-1]).log_softmax(dim=-1).gather(2, rows[:, 1:, None]).squeeze(2).sum(dim=1)
    assert torch.isclose(logp.exp().sum(), torch.tensor(1.0, dtype=torch.float64), atol=1e-12)
    assert torch.isclose(lm.nll(model, rows), -logp.mean() / 3, atol=1e-12)


def test_next_token_distribution_temperature_and_top_k():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    assert torch.allclose(lm.next_token_distribution(logits), logits.softmax(-1))
    assert torch.allclose(lm.next_token_distribution(logits, temperature=0.5), (logits * 2).softmax(-1))
    top2 = lm.next_token_distribution(logits, top_k=2)
    assert torch.allclose(top2, torch.tensor([[math.e / (math.e + 1), 1 / (math.e + 1), 0.0, 0.0]]))
    assert torch.equal(lm.next_token_distribution(logits, top_k=10), lm.next_token_distribution(logits))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        lm.next_token_distribution(logits, temperature=0)
    with pytest.raises(TypeError, match="top_k must be an int"):
        lm.next_token_distribution(logits, top_k=1.5)


def test_generate_draws_from_the_models_distribution():
    model = tiny_transformer(seed=3)
    prompt = torch.zeros(20_000, 1, dtype=torch.long)
    out = lm.generate(model, prompt, 1, temperature=0.7, top_k=2, generator=torch.Generator().manual_seed(0),
                      progress=False)
    want = lm.next_token_distribution(model(prompt[:1])[:, -1], 0.7, 2)[0]
    counts = torch.bincount(out[:, 1], minlength=3).float() / len(out)
    assert out.shape == (20_000, 2) and torch.equal(out[:, 0], prompt[:, 0])
    assert torch.allclose(counts, want, atol=0.012), (counts, want)
    assert counts[want.argmin()] == 0, "top_k=2 drew the third token"


def test_generate_keeps_to_the_transformers_context():
    model = tiny_transformer(context=4)
    out = lm.generate(model, torch.zeros(2, 3, dtype=torch.long), 6, progress=False)
    assert out.shape == (2, 9)


def test_a_uniform_model_has_the_vocabularys_perplexity():
    model = tiny_gru(V=5)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    tokens = torch.randint(0, 5, (4, 10), generator=torch.Generator().manual_seed(0))
    assert math.isclose(lm.perplexity(lm.nll(model, tokens)), 5.0, rel_tol=1e-6)


def test_vocabulary_round_trip_and_errors():
    vocab = lm.Vocabulary("hello world")
    assert len(vocab) == 8 and vocab.decode(vocab.encode("low hello")) == "low hello"
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['z'\]"):
        vocab.encode("zero")
    model = tiny_transformer(context=4)
    with pytest.raises(ValueError, match="more than the model's context of 4"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens must be a \\(B, T\\) int64 tensor, got torch.float32"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="tokens must be in 0..2"):
        model(torch.tensor([[0, 3]]))


def test_the_shipped_text_is_the_python_reference_split_90_10():
    from genedu import data
    text, train, val = data.python_reference("all"), data.python_reference("train"), data.python_reference("val")
    assert train + val == text and len(train) == int(0.9 * len(text))
    assert len(text) == 465197 and len(set(text)) == 94
    assert text.startswith('The "assert" statement') and all(32 <= ord(c) < 127 or c == "\n" for c in text)
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'all'"):
        data.python_reference("test")


def test_random_windows_are_consecutive_tokens_of_the_text():
    tokens = torch.arange(100)
    windows = lm.random_windows(tokens, 50, 7, torch.Generator().manual_seed(0))
    assert windows.shape == (50, 7)
    assert torch.equal(windows[:, 1:] - windows[:, :-1], torch.ones(50, 6, dtype=torch.long))
    assert int(windows.min()) >= 0 and int(windows.max()) <= 99
    assert len(set(windows[:, 0].tolist())) > 20
    with pytest.raises(ValueError, match="not more than length=100"):
        lm.random_windows(tokens, 1, 100)
    with pytest.raises(ValueError, match="tokens must be a \\(N,\\) int64 tensor"):
        lm.random_windows(tokens.float(), 1, 5)


def test_train_lm_learns_a_repeating_text():
    """On a text that repeats 'abcd', a small GRU learns to predict the next character almost surely."""
    vocab = lm.Vocabulary("abcd")
    tokens = vocab.encode("abcd" * 200)
    model = lm.GRULM(len(vocab), hidden=16)
    history = lm.train_lm(model, tokens, steps=150, batch_size=16, length=9, lr=1e-2, val_tokens=tokens,
                          eval_every=50, progress=False, device="cpu")
    assert history["val_step"] == [50, 100, 150] and len(history["loss"]) == 150
    assert history["val_nll"][-1] < 0.05 < math.log(4) - 0.5 < history["loss"][0]


@pytest.mark.parametrize("name", ["char_transformer", "char_gru"])
def test_shipped_text_models_score_what_their_training_recorded(name):
    """The shipped models, re-scored on the held-out windows the training script used, give the perplexity it
    recorded, and beat a bigram model counted from the same training text."""
    from genedu import checkpoints, data
    model, info = checkpoints.load(name)
    vocab = lm.Vocabulary(info["chars"])
    train_tokens = vocab.encode(data.python_reference("train"))
    val_tokens = vocab.encode(data.python_reference("val"))
    windows = lm.random_windows(val_tokens, 200, 65, torch.Generator().manual_seed(12345))
    with torch.no_grad():
        nll = float(lm.nll(model, windows))
    assert abs(nll - info["val_nll"][-1]) < 1e-3
    counts = torch.ones(len(vocab), len(vocab))
    counts.index_put_((train_tokens[:-1], train_tokens[1:]), torch.ones(len(train_tokens) - 1), accumulate=True)
    bigram = -(counts / counts.sum(1, keepdim=True)).log()[windows[:, :-1], windows[:, 1:]].mean().item()
    assert lm.perplexity(nll) < 0.6 * lm.perplexity(bigram)
