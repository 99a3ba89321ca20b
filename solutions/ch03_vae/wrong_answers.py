"""Realistic wrong answers for the grader self-test (tests/test_grader.py): grade_id -> answer cell.

The generic perturbation (outputs * 1.1 + 0.1) breaks every answer of this chapter too; these are
the mistakes students actually make, so the self-test also shows that the checks catch them.
"""
WRONG_ANSWERS = {
    # log-variance read as log-std: sigma = exp(logvar)
    "ex1-answer": '''def reparameterize(mu, logvar, generator=None):
    eps = torch.randn(mu.shape, generator=generator)
    return mu + torch.exp(logvar) * eps
''',
    # decodes the mean: no sampling at all
    "ex4-answer": '''def vae_forward(model, x, generator=None):
    mu, logvar = model.encode(x)
    return model.decode(mu), mu, logvar
''',
    # the decoder is not told the label: z alone, padded with zeros to the decoder's width
    "ex5-answer": '''def cvae_forward(model, x, y, generator=None):
    one_hot = F.one_hot(y, model.n_classes).to(x.dtype)
    h = model.encoder(torch.cat([x.flatten(1), one_hot], dim=1))
    mu, logvar = h.chunk(2, dim=1)
    z = reparameterize(mu, logvar, generator)
    return model.decoder(torch.cat([z, torch.zeros_like(one_hot)], dim=1)), mu, logvar
''',
    # a mean of log-weights: the ELBO again, whatever k
    "ex6-answer": '''def iwae_bound(model, x, k, generator=None):
    with torch.no_grad():
        mu, logvar = model.encode(x)
        b, d = mu.shape
        eps = torch.randn(k, b, d, generator=generator)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = model.decode(z.reshape(k * b, d)).reshape(k, *x.shape)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape),
                                                       reduction="none").flatten(start_dim=2).sum(dim=2)
        log_pz = -0.5 * (z**2 + math.log(2 * math.pi)).sum(dim=2)
        log_qz = -0.5 * (eps**2 + logvar + math.log(2 * math.pi)).sum(dim=2)
        return (log_px_z + log_pz - log_qz).mean(dim=0)
''',
}
