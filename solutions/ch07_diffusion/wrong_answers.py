"""Realistic wrong answers for the grader self-test (tests/test_grader.py): grade_id -> answer cell.

The generic perturbation (outputs * 1.1 + 0.1) breaks every answer of this chapter too; these are
the mistakes students actually make, so the self-test also shows that the checks catch them.
"""
WRONG_ANSWERS = {
    # the cosine schedule without the clip at 0.999: the last beta is 1
    "ex1-answer": '''def cosine_beta_schedule(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return 1 - alpha_bar[1:] / alpha_bar[:-1]
''',
    # alpha_t where alpha_bar_t belongs
    "ex2-answer": '''def q_sample(x0, t, noise, schedule):
    alpha = diffusion.extract(schedule.alphas, t, x0)
    return alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise
''',
    # regresses x0 instead of the noise
    "ex3-answer": '''def diffusion_loss(eps_model, x0, schedule, generator=None):
    t = torch.randint(schedule.T, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    alpha_bar = diffusion.extract(schedule.alphas_cumprod, t, x0)
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
    return ((x0 - eps_model(x_t, t)) ** 2).mean()
''',
    # noise added at the last step too
    "ex4-answer": '''def reverse_step(eps_model, x_t, t, schedule, z):
    eps = eps_model(x_t, torch.full((len(x_t),), t, dtype=torch.long))
    beta, alpha, alpha_bar = schedule.betas[t].item(), schedule.alphas[t].item(), schedule.alphas_cumprod[t].item()
    mean = (x_t - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha)
    return mean + math.sqrt(beta) * z
''',
    # the loop runs forward in time
    "ex5-answer": '''def ddpm_sample(eps_model, n, dim, schedule, generator=None):
    with torch.no_grad():
        x = torch.randn(n, dim, generator=generator)
        for t in range(schedule.T):
            z = torch.randn(n, dim, generator=generator)
            beta, alpha, alpha_bar = schedule.betas[t].item(), schedule.alphas[t].item(), schedule.alphas_cumprod[t].item()
            eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
            x = (x - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha)
            if t > 0:
                x = x + math.sqrt(beta) * z
        return x
''',
    # alphas where alphas_cumprod belongs
    "ex6-answer": '''def ddim_sample(eps_model, n, dim, schedule, steps, generator=None):
    with torch.no_grad():
        taus = diffusion.ddim_timesteps(schedule.T, steps).tolist()
        x = torch.randn(n, dim, generator=generator)
        for i in reversed(range(len(taus))):
            t = taus[i]
            a_t = schedule.alphas[t].item()
            a_prev = schedule.alphas[taus[i - 1]].item() if i > 0 else 1.0
            eps = eps_model(x, torch.full((n,), t, dtype=torch.long))
            x0_hat = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_prev) * x0_hat + math.sqrt(1 - a_prev) * eps
        return x
''',
}
