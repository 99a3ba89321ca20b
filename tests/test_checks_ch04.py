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
                                check_generator_loss_nonsaturating, check_generator_loss_saturating,
                                check_optimal_discriminator, check_value_at_optimum)

# --- correct answers, written in different ways ----------------------------------------------------


def d_loss_softplus(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def d_loss_bce(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def d_loss_logsigmoid(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def sat_logsigmoid(fake_logits):
    return F.logsigmoid(-fake_logits).mean()


def sat_softplus(fake_logits):
    return -F.softplus(fake_logits).mean()


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
    (check_generator_loss_saturating, sat_logsigmoid), (check_generator_loss_saturating, sat_softplus),
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
    """The arguments the notebook's hidden tests use."""
    check_discriminator_loss(d_loss_softplus, seed=101, batch=5, fake_batch=50)
    check_discriminator_loss(d_loss_softplus, seed=102, batch=64, fake_batch=64)
    check_generator_loss_saturating(sat_logsigmoid, seed=201, batch=3)
    check_generator_loss_nonsaturating(ns_softplus, seed=301, batch=100)
    check_optimal_discriminator(dstar_sigmoid, seed=401, n_grid=97)
    for answer in (value_logsigmoid, value_riemann_logs, value_from_jsd):
        check_value_at_optimum(answer, seed=501, n_grid=1501)
        check_value_at_optimum(answer, disjoint=True)
    for answer in (iteration_ref, iteration_detach_zero_first, iteration_freeze_d):
        check_gan_training_iteration(answer, seed=601, optimizer="adam", lr=0.01, batch=9, latent_dim=3, dim=1)
        check_gan_training_iteration(answer, seed=602, batch=32, latent_dim=1, dim=3)
    assert capsys.readouterr().out.count("[passed]") == 17


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


SAT_WRONG = [
    (lambda f: F.softplus(f).mean(), "sign is flipped"),
    (lambda f: F.softplus(-f).mean(), "non-saturating"),
    (lambda f: F.logsigmoid(f).mean(), "mean log D"),
    (lambda f: F.logsigmoid(-f).sum(), "summed"),
    (lambda f: torch.log(1 - torch.sigmoid(f)).mean(), "nan or inf for large logits"),
    (lambda f: (1 - torch.sigmoid(f)).mean(), "log is missing"),
]


@pytest.mark.parametrize("answer, message", SAT_WRONG)
def test_generator_loss_saturating_mistakes(answer, message):
    with pytest.raises(CheckFailed, match=message):
        check_generator_loss_saturating(answer)


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
