"""The chapter 4 checks: correct answers written differently pass; the wrong answers students write
fail with the check's explanation."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genedu import gan, gan_theory
from genedu.checks._core import CheckFailed
from genedu.checks.ch04 import (check_discriminator_loss, check_gan_training_iteration,
                                check_generator_gradients_at_optimum, check_generator_loss_nonsaturating,
                                check_optimal_discriminator, check_value_at_optimum)

# --- correct answers, written in different ways ----------------------------------------------------


def d_loss_softplus(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def d_loss_bce(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def d_loss_logsigmoid(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def ns_softplus(fake_logits):
    return F.softplus(-fake_logits).mean()


def ns_bce(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def dstar_sigmoid(log_p_data, log_p_g):
    return torch.sigmoid(log_p_data - log_p_g)


def dstar_logaddexp(log_p_data, log_p_g):
    return torch.exp(log_p_data - torch.logaddexp(log_p_data, log_p_g))


def value_xlogy(log_p_data, log_p_g, x):
    """Right in exact arithmetic, but log(1 - D*) is -inf in float32 where D* rounds to 1 and p_g > 0."""
    d = torch.sigmoid(log_p_data - log_p_g)
    return torch.trapezoid(torch.xlogy(log_p_data.exp(), d) + torch.xlogy(log_p_g.exp(), 1 - d), x)


def value_logsigmoid(log_p_data, log_p_g, x):
    p, q = log_p_data.exp(), log_p_g.exp()
    f = (torch.where(p > 0, p * F.logsigmoid(log_p_data - log_p_g), 0.0)
         + torch.where(q > 0, q * F.logsigmoid(log_p_g - log_p_data), 0.0))
    return torch.trapezoid(f, x)


def value_riemann_logs(log_p_data, log_p_g, x):
    log_sum = torch.logaddexp(log_p_data, log_p_g)
    p, q = log_p_data.exp(), log_p_g.exp()
    f = torch.where(p > 0, p * (log_p_data - log_sum), 0.0) + torch.where(q > 0, q * (log_p_g - log_sum), 0.0)
    return (f * (x[1] - x[0])).sum()


def value_from_jsd(log_p_data, log_p_g, x):
    p, q = log_p_data.exp(), log_p_g.exp()
    log_m = torch.logaddexp(log_p_data, log_p_g) - math.log(2)
    jsd = 0.5 * torch.trapezoid(torch.where(p > 0, p * (log_p_data - log_m), 0.0)
                                + torch.where(q > 0, q * (log_p_g - log_m), 0.0), x)
    return -math.log(4) + 2 * jsd


def iteration_ref(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    with torch.no_grad():
        fake = generator(z_d)
    d_loss = gan.discriminator_loss(discriminator(x), discriminator(fake))
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()
    g_loss = gan.generator_loss_nonsaturating(discriminator(generator(z_g)))
    g_optimizer.zero_grad()
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()


def iteration_detach_zero_first(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    g_optimizer.zero_grad()
    d_optimizer.zero_grad()
    fake = generator(z_d).detach()
    d_loss = d_loss_bce(discriminator(x).squeeze(1), discriminator(fake).squeeze(1))
    d_loss.backward()
    d_optimizer.step()
    g_optimizer.zero_grad()
    g_loss = ns_bce(discriminator(generator(z_g)).squeeze(1))
    g_loss.backward()
    g_optimizer.step()
    return d_loss, g_loss  # 0-d tensors are accepted too


def iteration_freeze_d(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    d_optimizer.zero_grad(set_to_none=True)
    d_loss = gan.discriminator_loss(discriminator(x), discriminator(generator(z_d).detach()))
    d_loss.backward()
    d_optimizer.step()
    for p in discriminator.parameters():
        p.requires_grad_(False)
    g_optimizer.zero_grad(set_to_none=True)
    g_loss = gan.generator_loss_nonsaturating(discriminator(generator(z_g)))
    g_loss.backward()
    g_optimizer.step()
    for p in discriminator.parameters():
        p.requires_grad_(True)
    return float(d_loss.detach()), float(g_loss.detach())


CORRECT = [
    (check_discriminator_loss, d_loss_softplus), (check_discriminator_loss, d_loss_bce),
    (check_discriminator_loss, d_loss_logsigmoid),
    (check_generator_loss_nonsaturating, ns_softplus), (check_generator_loss_nonsaturating, ns_bce),
    (check_optimal_discriminator, dstar_sigmoid), (check_optimal_discriminator, dstar_logaddexp),
    (check_value_at_optimum, value_logsigmoid), (check_value_at_optimum, value_riemann_logs),
    (check_value_at_optimum, value_from_jsd),
    (check_gan_training_iteration, iteration_ref), (check_gan_training_iteration, iteration_detach_zero_first),
    (check_gan_training_iteration, iteration_freeze_d),
]


@pytest.mark.parametrize("check, answer", CORRECT, ids=lambda a: getattr(a, "__name__", ""))
def test_correct_answers_pass(check, answer, capsys):
    check(answer)
    assert "[passed]" in capsys.readouterr().out


def test_hidden_test_arguments_pass(capsys):
    """The arguments the notebook's hidden tests use (exercise 5's: GRAD_HIDDEN, below)."""
    check_discriminator_loss(d_loss_softplus, seed=101, batch=5, fake_batch=50)
    check_discriminator_loss(d_loss_softplus, seed=102, batch=64, fake_batch=64)
    check_generator_loss_nonsaturating(ns_softplus, seed=201, batch=100)
    check_optimal_discriminator(dstar_sigmoid, seed=301, n_grid=97)
    for answer in (value_logsigmoid, value_riemann_logs, value_from_jsd):
        check_value_at_optimum(answer, seed=401, n_grid=1501)
        check_value_at_optimum(answer, disjoint=True)
    for answer in (iteration_ref, iteration_detach_zero_first, iteration_freeze_d):
        check_gan_training_iteration(answer, seed=601, optimizer="adam", lr=0.01, batch=9, latent_dim=3, dim=1)
        check_gan_training_iteration(answer, seed=602, batch=32, latent_dim=1, dim=3)
    assert capsys.readouterr().out.count("[passed]") == 16


# --- wrong answers: each fails with its explanation -------------------------------------------------

def _naive_d(real_logits, fake_logits):
    return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()


D_LOSS_WRONG = [
    (lambda r, f: -(F.softplus(-r).mean() + F.softplus(f).mean()), "sign is flipped"),
    (lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum(), "summed over the examples"),
    (lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean(), "swapped"),
    (lambda r, f: torch.cat([F.softplus(-r), F.softplus(f)]).mean(), "together"),
    (lambda r, f: 0.5 * (F.softplus(-r).mean() + F.softplus(f).mean()), "averaged the two terms"),
    (lambda r, f: F.softplus(-r).mean(), "fake term"),
    (_naive_d, "nan or inf for large logits"),
    (lambda r, f: (F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
                   + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))), "clamps each log at -100"),
    (lambda r, f: (-torch.log(torch.sigmoid(r) + 1e-8).mean() - torch.log(1 - torch.sigmoid(f) + 1e-8).mean()),
     "log\\(D \\+ 1e-8\\)"),
    (lambda r, f: F.softplus(-r) + F.softplus(f).mean(), "one value per example"),
    (lambda r, f: (F.softplus(-r).mean() + F.softplus(f).mean()).item(), "Python float"),
    (lambda r, f: (F.softplus(-r).mean() + F.softplus(f).mean()).detach(), "carries no gradient"),
    (lambda r, f: gan.discriminator_loss(r, f), "reference implementation"),
]


@pytest.mark.parametrize("answer, message", D_LOSS_WRONG)
def test_discriminator_loss_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_discriminator_loss(answer)


NS_WRONG = [
    (lambda f: -F.softplus(-f).mean(), "sign is flipped"),
    (lambda f: -F.softplus(f).mean(), "saturating loss"),
    (lambda f: F.softplus(f).mean(), "labelled 0"),
    (lambda f: F.softplus(-f).sum(), "summed"),
    (lambda f: -torch.log(torch.sigmoid(f)).mean(), "nan or inf for large logits"),
    (lambda f: -torch.log(torch.sigmoid(f).clamp(min=1e-7)).mean(), "Work with the logits"),
    (lambda f: gan.generator_loss_nonsaturating(f), "reference implementation"),
]


@pytest.mark.parametrize("answer, message", NS_WRONG)
def test_generator_loss_nonsaturating_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_generator_loss_nonsaturating(answer)


DSTAR_WRONG = [
    (lambda a, b: torch.sigmoid(b - a), "probability that x is REAL"),
    (lambda a, b: (a - b).exp(), "density ratio"),
    (lambda a, b: a - torch.logaddexp(a, b), "log D"),
    (lambda a, b: a.exp() / (a.exp() + b.exp()), "0 / \\(0 \\+ 0\\) is nan"),
    (lambda a, b: torch.sigmoid(a - b)[:, None], "shape"),
    (lambda a, b: gan_theory.optimal_discriminator(a, b), "reference implementation"),
]


@pytest.mark.parametrize("answer, message", DSTAR_WRONG)
def test_optimal_discriminator_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_optimal_discriminator(answer)


VALUE_WRONG = [
    (lambda a, b, x: value_from_jsd(a, b, x) + math.log(4), "-log 4 is missing"),
    (lambda a, b, x: -math.log(4) + (value_from_jsd(a, b, x) + math.log(4)) / 2, "factor 2 is missing"),
    (lambda a, b, x: -math.log(2) + value_from_jsd(a, b, x) + math.log(4), "not -log 2"),
    (lambda a, b, x: -value_xlogy(a, b, x), "sign is flipped"),
    (lambda a, b, x: torch.trapezoid(torch.xlogy(a.exp(), torch.sigmoid(a - b)), x), "second term"),
    (lambda a, b, x: torch.trapezoid(torch.xlogy(a.exp(), torch.sigmoid(a - b))
                                     + torch.xlogy(b.exp(), torch.sigmoid(a - b)), x), "log\\(1 - D\\*\\)"),
    (lambda a, b, x: value_xlogy(a, b, x) / (x[1] - x[0]), "grid spacing"),
    (lambda a, b, x: torch.trapezoid(a.exp() * torch.log(torch.sigmoid(a - b))
                                     + b.exp() * torch.log(1 - torch.sigmoid(a - b)), x), "0 \\* log 0"),
    (value_xlogy, "D\\* rounds to 0 or 1"),
    (lambda a, b, x: gan_theory.value_at_optimum(a, b, x), "reference implementation"),
    (lambda a, b, x: -math.log(4) + 2 * gan_theory.jensen_shannon(a, b, x), "reference implementation"),
]


@pytest.mark.parametrize("answer, message", VALUE_WRONG)
def test_value_at_optimum_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_value_at_optimum(answer)


def test_value_at_optimum_zero_log_zero_on_disjoint_supports():
    def naive(a, b, x):  # stable logs, but 0 * (-inf) = nan where a density is 0
        return torch.trapezoid(a.exp() * F.logsigmoid(a - b) + b.exp() * F.logsigmoid(b - a), x)
    with pytest.raises(CheckFailed, match="0 \\* log 0"):
        check_value_at_optimum(naive, disjoint=True)


# wrong training iterations: (answer, message)
def _it(d_detach=True, zero_d=True, zero_g=True, loss="ns", z="g", order="dg", extra_d_step=False,
        d_sign=1.0, returns="dg"):
    def answer(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
        def d_part():
            fake = generator(z_d)
            if d_detach:
                fake = fake.detach()
            d_loss = gan.discriminator_loss(discriminator(x), discriminator(fake))
            if zero_d:
                d_optimizer.zero_grad()
            (d_sign * d_loss).backward()
            d_optimizer.step()
            return d_loss.item()

        def g_part():
            fake_logits = discriminator(generator(z_g if z == "g" else z_d))
            g_loss = (gan.generator_loss_nonsaturating(fake_logits) if loss == "ns"
                      else gan.generator_loss_saturating(fake_logits))
            if zero_g:
                g_optimizer.zero_grad()
            g_loss.backward()
            g_optimizer.step()
            if extra_d_step:
                d_optimizer.step()
            return g_loss.item()

        if order == "dg":
            d_loss = d_part()
            g_loss = g_part()
        else:
            g_loss = g_part()
            d_loss = d_part()
        return (d_loss, g_loss) if returns == "dg" else (g_loss, d_loss)
    return answer


def _only_d(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    d_loss = gan.discriminator_loss(discriminator(x), discriminator(generator(z_d).detach()))
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()
    return d_loss.item(), 0.0


def _library_steps(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    d = gan.discriminator_step(generator, discriminator, d_optimizer, x, z_d)
    g = gan.generator_step(generator, discriminator, g_optimizer, z_g)
    return d["d_loss"], g["g_loss"]


ITERATION_WRONG = [
    (_it(d_detach=False, zero_g=True), "not detached"),
    (_it(zero_d=False), "not zeroed: call d_optimizer.zero_grad"),
    (_it(zero_g=False), "generator's old gradients were not zeroed"),
    (_it(loss="sat"), "saturating loss"),
    (_it(z="d"), "reused z_d"),
    (_it(order="gd"), "before the discriminator"),
    (_it(extra_d_step=True), "called 2 times"),
    (_it(d_sign=-1.0), "moved the wrong way"),
    (_it(returns="gd"), "swapped"),
    (_only_d, "generator's optimizer never stepped"),
    (_library_steps, "reference implementation"),
]


@pytest.mark.parametrize("answer, message", ITERATION_WRONG)
def test_gan_training_iteration_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_gan_training_iteration(answer)


@pytest.mark.parametrize("answer, message", ITERATION_WRONG[:5])
def test_gan_training_iteration_mistakes_with_adam(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_gan_training_iteration(answer, seed=601, optimizer="adam", lr=0.01, batch=9, latent_dim=3, dim=1)


@pytest.mark.parametrize("check, answer", [(c, a) for c, a in CORRECT if c is not check_gan_training_iteration])
def test_perturbed_answers_fail(check, answer):
    """The grader self-test's generic perturbation (outputs * 1.1 + 0.1) must fail every function check."""
    def wrong(*args):
        return answer(*args) * 1.1 + 0.1
    with pytest.raises(CheckFailed):
        check(wrong)


def test_not_implemented():
    def stub(real_logits, fake_logits):
        raise NotImplementedError
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check_discriminator_loss(stub)


def test_the_iteration_check_uses_correct_losses():
    """Exercise 6 uses the notebook's losses (exercises 1 and 3): the check runs the iteration with
    correct ones, so wrong losses do not cost exercise 6 too; the notebook's are put back."""
    notebook = {"torch": torch, "F": F}
    exec('''
def discriminator_loss(real_logits, fake_logits):
    return -(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())   # sign flipped

def generator_loss_nonsaturating(fake_logits):
    return F.softplus(fake_logits).mean()                                         # the fakes labelled 0

def gan_training_iteration(generator, discriminator, g_optimizer, d_optimizer, x, z_d, z_g):
    with torch.no_grad():
        fake = generator(z_d)
    d_loss = discriminator_loss(discriminator(x), discriminator(fake))
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()
    g_loss = generator_loss_nonsaturating(discriminator(generator(z_g)))
    g_optimizer.zero_grad()
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()
''', notebook)
    wrong = notebook["discriminator_loss"], notebook["generator_loss_nonsaturating"]
    check_gan_training_iteration(notebook["gan_training_iteration"])
    check_gan_training_iteration(notebook["gan_training_iteration"], seed=601, optimizer="adam", lr=0.01, batch=9,
                                 latent_dim=3, dim=1)
    assert (notebook["discriminator_loss"], notebook["generator_loss_nonsaturating"]) == wrong
    assert "generator_loss_saturating" not in notebook


def test_the_checks_own_jsd_is_refused():
    """The module's own JSD is a reference too (and is not in the grader's sandbox: REFERENCES)."""
    from genedu.checks import ch04
    assert "genedu.checks.ch04._jsd" in ch04.REFERENCES
    with pytest.raises(CheckFailed, match="reference implementation"):
        check_value_at_optimum(lambda a, b, x: -math.log(4) + 2 * ch04._jsd(a.double(), b.double(), x.double()).float())


# --- the generator's gradients against the optimal discriminator (exercise 5) ---------------------

def _log_normal(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def _log_normal_torch(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(torch.as_tensor(std)) - 0.5 * math.log(2 * math.pi)


def grads_ref(mu, sigma, z, data_mean, data_std):
    """Two leaf tensors, torch.autograd.grad on each loss."""
    mu_t, sigma_t = torch.tensor(mu, requires_grad=True), torch.tensor(sigma, requires_grad=True)
    x = mu_t + sigma_t * z
    logit = _log_normal(x, data_mean, data_std) - _log_normal(x, mu, sigma)      # D*'s logit, p_g fixed
    saturating, non_saturating = F.logsigmoid(-logit).mean(), -F.logsigmoid(logit).mean()
    g_sat = torch.autograd.grad(saturating, (mu_t, sigma_t), retain_graph=True)
    g_ns = torch.autograd.grad(non_saturating, (mu_t, sigma_t))
    return torch.stack(g_sat), torch.stack(g_ns)


def grads_backward_float64(mu, sigma, z, data_mean, data_std):
    """One (2,) parameter tensor in float64, .backward() twice, torch.distributions for the densities,
    the fixed generator's parameters detached, the losses as BCE with logits; prints on the way."""
    theta = torch.tensor([mu, sigma], dtype=torch.float64, requires_grad=True)
    x = theta[0] + theta[1] * z.double()
    p_g = torch.distributions.Normal(theta[0].detach(), theta[1].detach())
    p_data = torch.distributions.Normal(torch.tensor(data_mean, dtype=torch.float64),
                                        torch.tensor(data_std, dtype=torch.float64))
    logit = p_data.log_prob(x) - p_g.log_prob(x)
    print("logit range", float(logit.detach().min()), float(logit.detach().max()))
    F.binary_cross_entropy_with_logits(logit, torch.zeros_like(logit)).neg().backward(retain_graph=True)
    g_sat = theta.grad.clone()
    theta.grad = None
    F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit)).backward()
    return g_sat.float(), theta.grad.float()


def grads_by_hand(mu, sigma, z, data_mean, data_std):
    """No autograd: the chain rule written out."""
    x = mu + sigma * z
    logit = _log_normal(x, data_mean, data_std) - _log_normal(x, mu, sigma)
    dlogit = -(x - data_mean) / data_std ** 2 + (x - mu) / sigma ** 2
    d_sat, d_ns = -torch.sigmoid(logit) * dlogit, -torch.sigmoid(-logit) * dlogit
    return torch.stack([d_sat.mean(), (d_sat * z).mean()]), torch.stack([d_ns.mean(), (d_ns * z).mean()])


GRAD_CORRECT = [grads_ref, grads_backward_float64, grads_by_hand]
GRAD_HIDDEN = [dict(seed=501, n=1000, mu=-1.0, sigma=1.5, data_mean=1.0, data_std=0.7),
               dict(seed=502, n=64, mu=2.2, sigma=0.3)]


@pytest.mark.parametrize("answer", GRAD_CORRECT, ids=lambda a: a.__name__)
@pytest.mark.parametrize("kwargs", [{}, *GRAD_HIDDEN], ids=["default", "hidden-1", "hidden-2"])
def test_generator_gradients_correct_answers_pass(answer, kwargs, capsys):
    check_generator_gradients_at_optimum(answer, **kwargs)
    assert "[passed]" in capsys.readouterr().out


def _wrong_grads(variant):
    """A wrong answer of the exercise: the usual mistakes."""
    def answer(mu, sigma, z, data_mean, data_std):
        log_sigma_t = torch.tensor(math.log(sigma), requires_grad=True)
        mu_t = torch.tensor(mu, requires_grad=True)
        sigma_t = log_sigma_t.exp() if variant == "log sigma" else torch.tensor(sigma, requires_grad=True)
        leaves = (mu_t, log_sigma_t if variant == "log sigma" else sigma_t)
        x = mu_t + sigma_t * z
        x_d = x.detach() if variant == "zero" else x
        g_mu, g_sigma = (mu_t, sigma_t) if variant.startswith("not detached") else (mu, sigma)
        if variant == "not detached":
            log_p_g = _log_normal_torch(x_d, g_mu, g_sigma)
        elif variant == "p_g variance":
            log_p_g = _log_normal(x_d, g_mu, math.sqrt(g_sigma))
        elif variant in ("p_g unnormalised", "unnormalised"):
            log_p_g = -0.5 * ((x_d - g_mu) / g_sigma) ** 2
        else:
            log_p_g = _log_normal(x_d, g_mu, g_sigma)
        if variant == "p_data variance":
            log_p_data = _log_normal(x_d, data_mean, math.sqrt(data_std))
        elif variant == "unnormalised":
            log_p_data = -0.5 * ((x_d - data_mean) / data_std) ** 2
        else:
            log_p_data = _log_normal(x_d, data_mean, data_std)
        logit = log_p_data - log_p_g
        if variant == "inverted D*":
            logit = -logit
        if variant in ("naive", "clamp"):
            d = torch.exp(log_p_data) / (torch.exp(log_p_data) + torch.exp(log_p_g))
            floor = 1e-30 if variant == "clamp" else 0.0
            log_d, log_1md = torch.log(d.clamp(min=floor)), torch.log((1 - d).clamp(min=floor))
        else:
            log_d, log_1md = F.logsigmoid(logit), F.logsigmoid(-logit)
        reduce = torch.sum if variant == "sum" else torch.mean
        saturating, non_saturating = reduce(log_1md), -reduce(log_d)
        if variant == "swapped logs":
            saturating, non_saturating = reduce(log_d), -reduce(log_1md)
        if variant == "sign":
            saturating, non_saturating = -saturating, -non_saturating
        if variant == "losses":
            return saturating, non_saturating
        if variant == "zero":
            return torch.zeros(2), torch.zeros(2)   # what autograd gives with allow_unused, as zeros
        g_sat = torch.autograd.grad(saturating, leaves, retain_graph=True)
        g_ns = torch.autograd.grad(non_saturating, leaves)
        if variant == "unstacked":
            return g_sat, g_ns
        g_sat, g_ns = torch.stack(g_sat), torch.stack(g_ns)
        return (g_ns, g_sat) if variant == "order" else (g_sat, g_ns)
    return answer


GRAD_WRONG = [
    ("not detached", "the discriminator is not held fixed"),
    ("not detached, math.log", "the discriminator is not held fixed"),
    ("zero", "the gradients are zero"),
    ("order", "wrong order"),
    ("swapped logs", "log D\\* and log\\(1 - D\\*\\) are swapped"),
    ("inverted D*", "log D\\* and log\\(1 - D\\*\\) are swapped"),
    ("sign", "sign is flipped"),
    ("sum", "summed over the samples"),
    ("log sigma", "with respect to log sigma"),
    ("p_g variance", "p_g's density treats sigma as the variance"),
    ("p_data variance", "p_data's density treats data_std as the variance"),
    ("p_g unnormalised", "p_g's log-density lacks -log sigma"),
    ("unnormalised", "lack their normalising terms"),
    ("naive", "nan or inf for a generator far from the data"),
    ("clamp", "right near the data but wrong for a generator far from the data"),
    ("losses", "did you return the loss itself"),
    ("unstacked", "pair of tensors"),
]


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")   # math.log of a tensor
@pytest.mark.parametrize("variant, message", GRAD_WRONG, ids=[v for v, _ in GRAD_WRONG])
@pytest.mark.parametrize("kwargs", [{}, *GRAD_HIDDEN], ids=["default", "hidden-1", "hidden-2"])
def test_generator_gradients_mistakes(variant, message, kwargs):
    with pytest.raises(CheckFailed, match=message):
        check_generator_gradients_at_optimum(_wrong_grads(variant), **kwargs)


@pytest.mark.parametrize("detach", ["D*", "x"])
def test_generator_gradients_without_a_graph(detach):
    """All of D*(G(z)) detached, or x computed from the numbers: autograd raises; the check says why."""
    def answer(mu, sigma, z, data_mean, data_std):
        mu_t, sigma_t = torch.tensor(mu, requires_grad=True), torch.tensor(sigma, requires_grad=True)
        x = (mu_t + sigma_t * z).detach() if detach == "x" else mu_t + sigma_t * z
        d = torch.sigmoid(_log_normal(x, data_mean, data_std) - _log_normal(x, mu, sigma))
        if detach == "D*":
            d = d.detach()
        g_sat = torch.autograd.grad(torch.log(1 - d).mean(), (mu_t, sigma_t))
        g_ns = torch.autograd.grad(-torch.log(d).mean(), (mu_t, sigma_t))
        return torch.stack(g_sat), torch.stack(g_ns)
    with pytest.raises(CheckFailed, match="Hold the discriminator fixed, not its input"):
        check_generator_gradients_at_optimum(answer)


def test_generator_gradients_none():
    def answer(mu, sigma, z, data_mean, data_std):
        mu_t, sigma_t = torch.tensor(mu), torch.tensor(sigma, requires_grad=True)
        (mu_t + sigma_t * z).mean().backward()
        return mu_t.grad, sigma_t.grad
    with pytest.raises(CheckFailed, match="is None"):
        check_generator_gradients_at_optimum(answer)


def test_generator_gradients_refuse_the_references():
    """The library's function, the check's own helpers, and the quadrature expectations of the book
    (gaussian_generator_gradients: the expectations, not these samples' averages) do not pass."""
    from genedu.checks import ch04
    for ref in ("genedu.gan_theory.generator_gradients_at_optimum", "genedu.checks.ch04._gradients_closed_form",
                "genedu.checks.ch04._gradients_variant"):
        assert ref in ch04.REFERENCES
    with pytest.raises(CheckFailed, match="reference implementation"):
        check_generator_gradients_at_optimum(gan_theory.generator_gradients_at_optimum)
    with pytest.raises(CheckFailed, match="reference implementation"):
        check_generator_gradients_at_optimum(lambda mu, sigma, z, m, s: ch04._gradients_closed_form(mu, sigma, z, m, s))

    def expectation(mu, sigma, z, data_mean, data_std):
        g = gan_theory.gaussian_generator_gradients(mu, sigma, data_mean, data_std)
        return g["saturating"].float(), g["non_saturating"].float()
    for kwargs in ({}, *GRAD_HIDDEN):
        with pytest.raises(CheckFailed, match="differs from the correct value"):
            check_generator_gradients_at_optimum(expectation, **kwargs)


# --- the library's generator_gradients_at_optimum ---------------------------------------------------

def _quantiles(n):
    """z at n evenly spaced quantiles of N(0, 1): sample averages become accurate integrals."""
    return torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)


@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (2.0, 1.0), (2.0, 0.25), (1.0, 0.6)])
def test_library_gradients_follow_the_divergences(mu, sigma):
    """Arjovsky & Bottou's Theorem 2.5: with many z the averages' gradients are those of 2 JSD and of
    KL(p_g || p_data) - 2 JSD (computed by quadrature, the JSD on an x grid, the KL in closed form)."""
    sat, ns = gan_theory.generator_gradients_at_optimum(mu, sigma, _quantiles(200_000))
    ref = gan_theory.gaussian_generator_gradients(mu, sigma)
    torch.testing.assert_close(sat, ref["two_jsd"], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(ns, ref["kl_minus_two_jsd"], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(sat + ns, ref["reverse_kl"], rtol=1e-3, atol=1e-4)


def test_library_gradients_match_the_chain_rule():
    z = torch.randn(300, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for args in ((0.5, 0.8, 2.0, 0.5), (-1.0, 1.5, 1.0, 0.7)):
        mu, sigma, m, s = args
        sat, ns = gan_theory.generator_gradients_at_optimum(mu, sigma, z, m, s)
        ref_sat, ref_ns = grads_by_hand(mu, sigma, z, m, s)
        torch.testing.assert_close(sat, ref_sat)
        torch.testing.assert_close(ns, ref_ns)
        assert sat.dtype == torch.float64 and sat.shape == (2,)
    sat32, _ = gan_theory.generator_gradients_at_optimum(0.5, 0.8, z.float())
    assert sat32.dtype == torch.float32


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sigma=0.0), ValueError, "sigma"),
    (dict(sigma=-1.0), ValueError, "sigma"),
    (dict(data_std=0.0), ValueError, "data_std"),
    (dict(mu="0"), TypeError, "mu"),
    (dict(mu=float("nan")), TypeError, "mu"),
    (dict(data_mean=None), TypeError, "data_mean"),
    (dict(z=torch.zeros(4, 2)), ValueError, "z"),
    (dict(z=torch.zeros(4, dtype=torch.long)), TypeError, "z"),
    (dict(z=torch.zeros(0)), ValueError, "z"),
    (dict(z=[0.0, 1.0]), TypeError, "z"),
])
def test_library_gradients_bad_arguments(kwargs, error, match):
    args = dict(mu=0.0, sigma=1.0, z=torch.randn(8), data_mean=2.0, data_std=0.5) | kwargs
    with pytest.raises(error, match=match):
        gan_theory.generator_gradients_at_optimum(**args)
