"""Autoregressive models of text, one character at a time (chapter 8).

The chain rule again, over a sequence of tokens: ``p(t_1..t_T) = prod_i p(t_i | t_<i)``. A model
reads tokens (B, T) and returns logits (B, T, V): position i predicts token i + 1 from tokens
0..i only, so one pass over a training text scores every position at once (teacher forcing).

- :class:`Vocabulary`          characters <-> integer tokens
- :func:`causal_self_attention`  softmax(q k^T / sqrt(d)) v with the future masked out (Vaswani et al. 2017)
- :class:`TransformerLM`       token and position embeddings, pre-norm blocks of causal multi-head
                               attention and an MLP (GPT-2's layout, as in nanoGPT), a linear head
- :class:`GRULM`               an embedding, a GRU and a linear head: the recurrent alternative
- :func:`next_token_distribution`  the sampling distribution with a temperature and top-k
- :func:`generate`             sampling, one token at a time, with a progress bar
- :func:`nll`, :func:`perplexity`  mean negative log-likelihood per token (nats), and its exp
- :func:`random_windows`, :func:`train_lm`  training on random windows of a long text (Adam, cosine decay)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from genedu import _validate as v
from genedu.runtime import device as default_device
from genedu.runtime import make_generator
from genedu.train import loop

__all__ = ["Vocabulary", "causal_self_attention", "TransformerConfig", "TransformerLM", "GRULM",
           "next_token_distribution", "generate", "nll", "perplexity", "random_windows", "train_lm"]


class Vocabulary:
    """The characters of a text as tokens 0..V-1 (sorted, so the same text gives the same tokens).

    Args:
        text: the text whose characters make the vocabulary.
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty str")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """The tokens of ``text``.

        Args:
            text: a str of the vocabulary's characters (another character raises a ValueError naming it).

        Returns:
            (len(text),) int64 tokens.
        """
        missing = sorted(set(text) - set(self.index))
        if missing:
            raise ValueError(f"text has characters outside the vocabulary: {missing[:10]}")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, tokens) -> str:
        """The text of some tokens.

        Args:
            tokens: a (T,) int tensor or a list of ints in 0..V-1.

        Returns:
            the str of their characters.
        """
        return "".join(self.chars[int(t)] for t in tokens)


def causal_self_attention(q: torch.Tensor, k: torch.Tensor, v_: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention in which position i attends to positions 0..i only:
    ``softmax(q k^T / sqrt(d) + M) v`` with ``M[i, j] = -inf`` for ``j > i``.

    Args:
        q: (..., T, d) queries (any leading batch and head dimensions).
        k: (..., T, d) keys.
        v_: (..., T, d) values.

    Returns:
        (..., T, d), the same as ``F.scaled_dot_product_attention(q, k, v_, is_causal=True)``.
    """
    for name, x in (("q", q), ("k", k), ("v", v_)):
        v.float_tensor(x, name)
    if not (q.shape == k.shape == v_.shape) or q.dim() < 2:
        raise ValueError(f"q, k and v must have the same shape (..., T, d), got {tuple(q.shape)}, "
                         f"{tuple(k.shape)} and {tuple(v_.shape)}")
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])            # (..., T, T)
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ v_


@dataclass
class TransformerConfig:
    """A :class:`TransformerLM`'s sizes (saved with its weights).

    Args:
        vocab_size: V, the number of tokens.
        context: the longest sequence it reads (nanoGPT's block size; default 128).
        n_layer: Transformer blocks (default 4).
        n_head: attention heads per block (default 4).
        n_embd: the width of the residual stream, a multiple of n_head (default 128).
        dropout: dropout probability in training (default 0).
    """
    vocab_size: int
    context: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class _Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v_ = self.qkv(x).split(C, dim=2)
        q, k, v_ = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v_))
        y = F.scaled_dot_product_attention(q, k, v_, is_causal=True)    # = causal_self_attention, fused
        return self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class _Block(nn.Module):
    """x + attention(norm(x)), then x + mlp(norm(x)): the pre-norm block of GPT-2."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn = _Attention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TransformerLM(nn.Module):
    """A small causal Transformer language model (nanoGPT's layout).

    Args:
        config: a :class:`TransformerConfig`.

    ``forward(tokens)`` maps (B, T) int64 tokens, T <= ``config.context``, to logits (B, T, V).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head})")
        self.config = config
        self.token = nn.Embedding(config.vocab_size, config.n_embd)
        self.position = nn.Embedding(config.context, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layer))
        self.ln = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size)

    @property
    def context(self) -> int:
        return self.config.context

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _check_tokens(tokens, self.config.vocab_size, self.context)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.drop(self.token(tokens) + self.position(positions))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))

    def config_dict(self) -> dict:
        """The config as a plain dict (what a checkpoint stores with the weights).

        Returns:
            the fields of :class:`TransformerConfig`.
        """
        return asdict(self.config)


class GRULM(nn.Module):
    """A character-level recurrent language model: embedding, a GRU, a linear head.

    Args:
        vocab_size: V.
        hidden: the GRU's hidden size (default 256).
        n_layers: stacked GRU layers (default 1).

    ``forward(tokens)`` maps (B, T) int64 tokens to logits (B, T, V) (any T).
    """

    context = None  # no limit: the state carries the whole past

    def __init__(self, vocab_size: int, hidden: int = 256, n_layers: int = 1):
        super().__init__()
        self.vocab_size = v.positive_int(vocab_size, "vocab_size", minimum=2)
        self.embed = nn.Embedding(self.vocab_size, hidden)
        self.gru = nn.GRU(hidden, v.positive_int(hidden, "hidden"), v.positive_int(n_layers, "n_layers"),
                          batch_first=True)
        self.head = nn.Linear(hidden, self.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _check_tokens(tokens, self.vocab_size, None)
        out, _ = self.gru(self.embed(tokens))
        return self.head(out)


def _check_tokens(tokens: torch.Tensor, vocab_size: int, context: int | None) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
        got = (f"{tokens.dtype} of shape {tuple(tokens.shape)}" if isinstance(tokens, torch.Tensor)
               else type(tokens).__name__)
        raise ValueError(f"tokens must be a (B, T) int64 tensor, got {got}")
    if context is not None and tokens.shape[1] > context:
        raise ValueError(f"tokens has {tokens.shape[1]} positions, more than the model's context of {context}")
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"tokens must be in 0..{vocab_size - 1}, got {int(tokens.min())}..{int(tokens.max())}")


def next_token_distribution(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """The distribution a sampler draws the next token from: ``softmax(logits / temperature)``,
    restricted to the ``top_k`` most likely tokens (renormalised) when ``top_k`` is given.

    Args:
        logits: (B, V) the model's logits for the next token.
        temperature: > 0; below 1 sharpens the distribution, above 1 flattens it (default 1).
        top_k: keep only the k largest logits (default None: all).

    Returns:
        (B, V) probabilities, each row summing to 1.
    """
    v.float_tensor(logits, "logits", ndim=2)
    temperature = v.positive_float(temperature, "temperature")
    logits = logits / temperature
    if top_k is not None:
        k = min(v.positive_int(top_k, "top_k"), logits.shape[-1])
        kth = logits.topk(k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits.softmax(dim=-1)


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, steps: int, temperature: float = 1.0, top_k: int | None = None,
             generator: torch.Generator | None = None, progress: bool = True) -> torch.Tensor:
    """Continue ``prompt`` by ``steps`` tokens, each drawn from :func:`next_token_distribution` of the
    model's logits at the last position (a Transformer reads at most its last ``context`` tokens).

    Args:
        model: a :class:`TransformerLM` or :class:`GRULM`.
        prompt: (B, T0) int64 tokens, T0 >= 1.
        steps: how many tokens to add.
        temperature: see :func:`next_token_distribution` (default 1).
        top_k: see :func:`next_token_distribution` (default None).
        generator: a ``torch.Generator`` on the model's device, for reproducible samples.
        progress: show a progress bar (default True).

    Returns:
        (B, T0 + steps) int64 tokens: the prompt and its continuation.
    """
    steps = v.positive_int(steps, "steps", minimum=0)
    if not isinstance(prompt, torch.Tensor) or prompt.dtype != torch.long or prompt.dim() != 2 or prompt.shape[1] < 1:
        raise ValueError("prompt must be a (B, T0) int64 tensor with T0 >= 1")
    was_training = model.training
    model.eval()
    tokens = prompt
    for _ in tqdm(range(steps), desc="sampling tokens", disable=not progress, leave=False):
        window = tokens if model.context is None else tokens[:, -model.context:]
        probs = next_token_distribution(model(window)[:, -1], temperature, top_k)
        tokens = torch.cat([tokens, torch.multinomial(probs, 1, generator=generator)], dim=1)
    model.train(was_training)
    return tokens


def nll(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The mean negative log-likelihood, in nats per token, of tokens 1..T-1 of each row given the
    ones before (teacher forcing: one forward pass).

    Args:
        model: a :class:`TransformerLM` or :class:`GRULM`.
        tokens: (B, T) int64, T >= 2.

    Returns:
        a scalar tensor: the mean over the B (T - 1) predicted tokens.
    """
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] < 2:
        raise ValueError("tokens must be a (B, T) int64 tensor with T >= 2")
    logits = model(tokens[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def perplexity(mean_nll: torch.Tensor | float) -> float:
    """The perplexity exp(mean negative log-likelihood per token): the number of equally likely tokens
    the model is as uncertain as (V for a uniform model; 1 for a perfect one).

    Args:
        mean_nll: the mean negative log-likelihood per token, in nats (:func:`nll`).

    Returns:
        the perplexity, a float >= 1.
    """
    return math.exp(float(mean_nll.detach() if isinstance(mean_nll, torch.Tensor) else mean_nll))


def random_windows(tokens: torch.Tensor, n: int, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` windows of ``length`` consecutive tokens, at uniformly random places in a long text.

    Args:
        tokens: (N,) int64, the whole text (N > length).
        n: the number of windows.
        length: the tokens in each window (a model's context + 1, for inputs and targets).
        generator: a CPU ``torch.Generator`` for reproducible windows.

    Returns:
        (n, length) int64, on ``tokens``' device.
    """
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 1:
        raise ValueError("tokens must be a (N,) int64 tensor")
    length = v.positive_int(length, "length", minimum=2)
    if len(tokens) <= length:
        raise ValueError(f"tokens has {len(tokens)} tokens, not more than length={length}")
    starts = torch.randint(len(tokens) - length + 1, (v.positive_int(n, "n"),), generator=generator)
    return tokens[starts.to(tokens.device)[:, None] + torch.arange(length, device=tokens.device)]


def train_lm(model: nn.Module, tokens: torch.Tensor, steps: int = 2000, batch_size: int = 32, length: int = 129,
             lr: float = 1e-3, val_tokens: torch.Tensor | None = None, eval_every: int = 100, eval_windows: int = 200,
             seed: int | None = 0, device: torch.device | str | None = None, progress: bool = True) -> dict[str, list]:
    """Train a language model by teacher forcing on random windows of a text: each step minimises
    :func:`nll` of ``batch_size`` windows of ``length`` tokens, with Adam and a learning rate decayed
    by a cosine from ``lr`` to ``lr / 10`` (nanoGPT's schedule, without warm-up).

    Args:
        model: a :class:`TransformerLM` (``length`` at most its context + 1) or :class:`GRULM`.
        tokens: (N,) int64, the training text.
        steps: optimisation steps (default 2000).
        batch_size: windows per step (default 32).
        length: tokens per window (default 129: 128 inputs and their 128 next tokens).
        lr: the peak learning rate (default 1e-3).
        val_tokens: (M,) int64 held-out text, scored every ``eval_every`` steps (default None).
        eval_every: steps between held-out scores (default 100).
        eval_windows: the held-out windows scored each time, the same ones every time (default 200).
        seed: seeds the windows (default 0).
        device: default ``genedu.device()``.
        progress: show a progress bar.

    Returns:
        the history {"loss": per-step training nll (nats per token), "val_step": steps at which the held-out
        text was scored, "val_nll": its mean nll there}.
    """
    steps = v.positive_int(steps, "steps")
    eval_every = v.positive_int(eval_every, "eval_every")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    generator = make_generator(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=v.positive_float(lr, "lr"))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=lr / 10)
    val = None
    if val_tokens is not None:
        val = random_windows(val_tokens, eval_windows, length, make_generator(12345)).to(device)
    history: dict[str, list] = {"val_step": [], "val_nll": []}

    def step(i: int) -> dict[str, float]:
        model.train()
        loss = nll(model, random_windows(tokens, batch_size, length, generator).to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if val is not None and (i % eval_every == 0 or i == steps):
            model.eval()
            with torch.no_grad():
                history["val_nll"].append(float(nll(model, val)))
            history["val_step"].append(i)
        return {"loss": loss.item()}

    history = loop(steps, step, "training", progress, show=("loss",), history=history)
    model.eval()
    return history
