"""Realistic wrong answers for the grader self-test (tests/test_grader.py), for the exercises whose
answer returns a model or trains one, which the generic numeric perturbation cannot break."""

WRONG_ANSWERS = {
    # a ReLU after every layer of the encoder, the bottleneck included
    "ex4-answer": '''def build_autoencoder(latent_dim, hidden, image_shape=(1, 28, 28)):
    d = 1
    for s in image_shape:
        d *= s
    sizes = [d, *hidden, latent_dim]
    enc, dec = [nn.Flatten()], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        enc += [nn.Linear(a, b), nn.ReLU()]
    back = sizes[::-1]
    for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
        dec.append(nn.Linear(a, b))
        if i < len(back) - 2:
            dec.append(nn.ReLU())
    return Autoencoder(nn.Sequential(*enc), nn.Sequential(*dec, nn.Unflatten(1, tuple(image_shape))))
''',
    # optimizer.zero_grad() forgotten: the gradients pile up from step to step
    "ex5-answer": '''def train_autoencoder(model, x, epochs, batch_size=128, lr=1e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        epoch_losses = []
        for start in range(0, len(x), batch_size):
            xb = x[perm[start:start + batch_size]]
            loss = bce_reconstruction(model(xb), xb).mean()
            loss.backward()
            optimizer.step()
            epoch_losses.append(loss.item())
        history.append(sum(epoch_losses) / len(epoch_losses))
    return history
''',
    # the plain autoencoder's target: the corrupted input instead of the clean x
    "ex6-answer": '''def denoising_loss(denoiser, x, sigma, generator=None):
    x_noisy = x + sigma * torch.randn(x.shape, generator=generator)
    return ((denoiser(x_noisy) - x_noisy) ** 2).flatten(1).sum(dim=1).mean()
''',
}
