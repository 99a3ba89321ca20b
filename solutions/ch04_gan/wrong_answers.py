"""Realistic wrong answers for the grader self-test (tests/test_grader.py): grade_id -> answer cell.

The generic perturbation (outputs * 1.1 + 0.1) cannot break exercise 6, whose answer returns Python
floats and trains two models; its wrong answer is the mistake students make most often there.
"""
WRONG_ANSWERS = {
    # the fakes of the discriminator step are not detached: d_loss.backward() also fills the generator's
    # gradients (and, without zeroing them before the G step, they leak into the generator's update)
    "ex6-answer": '''def gan_training_iteration(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    fake = generator(z_d)
    d_loss = discriminator_loss(discriminator(x), discriminator(fake))
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()
    g_loss = generator_loss_nonsaturating(discriminator(generator(z_g)))
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()
''',
}
