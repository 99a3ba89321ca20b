"""Realistic wrong answers for the grader self-test (tests/test_grader.py): grade_id -> answer cell.

The generic perturbation (outputs * 1.1 + 0.1) breaks every answer of this chapter too; these are
the mistakes students actually make, so the self-test also shows that the checks catch them.
"""
WRONG_ANSWERS = {
    # the output mask is not strict: output d sees input d itself
    "ex1-answer": '''def made_masks(n_inputs, hidden, ordering):
    D = n_inputs
    m0 = torch.empty(D, dtype=torch.long)
    m0[ordering] = torch.arange(D)
    degrees = [m0] + [torch.arange(width) % (D - 1) for width in hidden]
    masks = [(degrees[l + 1][:, None] >= degrees[l][None, :]).float() for l in range(len(hidden))]
    masks.append((m0[:, None] >= degrees[-1][None, :]).float())
    return masks
''',
    # types A and B swapped
    "ex2-answer": '''def pixelcnn_mask(kernel_size, mask_type):
    c = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:c, :] = 1
    mask[c, :c] = 1
    if mask_type == "A":
        mask[c, c] = 1
    return mask
''',
    # nats per dimension: no division by log 2
    "ex3-answer": '''def bits_per_dim(logits, x):
    nats = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)
    return nats / x[0].numel()
''',
    # the scores are not scaled by 1 / sqrt(d)
    "ex4-answer": '''def causal_self_attention(q, k, v):
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return weights @ v, weights
''',
    # the logits are one position off (no shift)
    "ex5-answer": '''def sequence_log_prob(model, tokens):
    log_probs = model(tokens).log_softmax(dim=-1)
    return log_probs[:, 1:].gather(-1, tokens[:, 1:, None]).squeeze(-1).sum(dim=1)
''',
    # the logits multiplied by the temperature
    "ex6-answer": '''def sample_next_token(logits, temperature=1.0, top_k=None, generator=None):
    logits = logits * temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(1)
''',
}
