"""Realistic wrong answers for the grader self-test (tests/test_grader.py): grade_id -> answer cell.

The generic perturbation (outputs * 1.1 + 0.1) cannot break exercise 1, whose answer returns an int, a
Python float and an integer tensor, nor exercise 5, whose answer trains a model and returns it. Their wrong
answers are the mistakes students make most often there: exercise 1 tests each coordinate against 3 std (a
square instead of a disc); exercise 5's discriminator judges the samples one by one, the vanilla GAN again.
"""
WRONG_ANSWERS = {
    "ex1-answer": '''def mode_coverage(samples, centers, std):
    dist = torch.cdist(samples, centers)
    nearest = dist.argmin(dim=1)
    good = ((samples - centers[nearest]).abs() < 3 * std).all(dim=1)
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return int((counts > 0).sum()), float(good.float().mean()), counts
''',
    "ex5-answer": '''def train_remedy(x, steps, batch_size, seed):
    generator, discriminator = gan.mlp_players([2, 64, 64, 64, 2], [2, 64, 64, 64, 1], seed=seed)
    gan.train_gan(generator, discriminator, x, latent_dim=2, steps=steps, batch_size=batch_size, lr=RUN_LR,
                  d_lr=RUN_D_LR, seed=seed)
    return generator
''',
}
