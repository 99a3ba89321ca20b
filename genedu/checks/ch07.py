"""Checks for chapter 7: denoising diffusion models.

Each ``check_*`` takes the student's function plus a seed and sizes: the notebook's visible self-check
calls it with the defaults, the hidden tests with other seeds and shapes.

- the schedule, ``q_sample`` and one reverse step are deterministic: compared with independent
  computations, with the values of the usual mistakes (alpha for alpha_bar, a missing square root,
  beta_t for the posterior variance, t off by one, noise at the last step, a flipped sign, no clip,
  no offset s) recognised and explained;
- the loss draws t and eps itself: the check's network records what it is called with, recovers the
  noise behind each x_t, and tests that the noise is standard normal, that t is uniform, and that the
  loss is the mean squared error against that very noise;
- the samplers are run with the exact noise predictor of Gaussian data (:class:`_OptimalEps`, the
  check's own module computing :func:`genedu.diffusion.gaussian_optimal_eps`): their output is Gaussian,
  with a mean and covariance the check computes exactly by propagating the moments through the
  (linear-Gaussian) chain.

When graded, the answers run in the grader's sandbox: the check's networks travel there as copies (so that
the loss's gradient reaches the recorder's weight and the samplers need no round trip per step), and what
they record comes back through a callback (the recorder, the step model) or a buffer (``_OptimalEps.calls``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from genedu import diffusion as _diffusion
from genedu.checks._core import call, close, compare, expect_seeded, expect_tensor, fail, passed

# The genedu functions that answer this chapter's exercises: the grader's sandbox provides none of them (so
# the notebook's answers and try-it cells use the student's own functions instead: the loss makes x_t itself,
# the samplers take their own steps, the digits are drawn with the student's DDIM).
# The private ones are the unchecked internals the public functions call (the closed form, the reverse step, the
# DDIM step, the sampling loop and its set-ups): each answers an exercise as well as its public face does.
REFERENCES = ("genedu.diffusion.cosine_beta_schedule", "genedu.diffusion.q_sample", "genedu.diffusion.diffusion_loss",
              "genedu.diffusion.train_denoiser", "genedu.diffusion.p_sample_step", "genedu.diffusion.p_mean_variance",
              "genedu.diffusion.ddim_step", "genedu.diffusion.ddpm_sample", "genedu.diffusion.ddpm_trajectory",
              "genedu.diffusion.ddim_sample", "genedu.diffusion.ddim_trajectory", "genedu.diffusion._q_sample",
              "genedu.diffusion._reverse_mean", "genedu.diffusion._p_sample_step", "genedu.diffusion._ddim_step",
              "genedu.diffusion._sample_loop", "genedu.diffusion._ddpm", "genedu.diffusion._ddim")

# References bound at import time: replacing genedu.diffusion.* later does not change them.
_cosine_ref = _diffusion.cosine_beta_schedule
_q_sample_ref = _diffusion.q_sample
_loss_ref = _diffusion.diffusion_loss
_train_ref = _diffusion.train_denoiser
_step_ref = _diffusion.p_sample_step
_mean_var_ref = _diffusion.p_mean_variance
_ddim_step_ref = _diffusion.ddim_step
_ddpm_ref = _diffusion.ddpm_sample
_ddpm_traj_ref = _diffusion.ddpm_trajectory
_ddim_ref = _diffusion.ddim_sample
_ddim_traj_ref = _diffusion.ddim_trajectory
_internals = (_diffusion._q_sample, _diffusion._reverse_mean, _diffusion._p_sample_step, _diffusion._ddim_step,
              _diffusion._sample_loop, _diffusion._ddpm, _diffusion._ddim)
_linear = _diffusion.linear_beta_schedule
_ddim_timesteps = _diffusion.ddim_timesteps
_Schedule = _diffusion.Schedule
_inv, _cov = torch.linalg.inv, torch.cov


def _forbidden(*own):
    """The references an answer must not call (in the notebook's self-check): its own first (they name the
    expected signature), then the chapter's other ones, which the grader's sandbox does not provide either."""
    every = (_cosine_ref, _q_sample_ref, _loss_ref, _train_ref, _step_ref, _mean_var_ref, _ddim_step_ref, _ddpm_ref,
             _ddpm_traj_ref, _ddim_ref, _ddim_traj_ref) + _internals
    return own + tuple(r for r in every if r not in own)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fmt(t: torch.Tensor) -> list[float]:
    return [round(float(a), 3) for a in t.flatten()]


def _schedule(kind: str, T: int) -> _Schedule:
    if kind == "linear":  # Ho et al.'s betas, rescaled to T steps as in Nichol & Dhariwal
        return _Schedule(_linear(T, 1e-4 * 1000 / T, 0.02 * 1000 / T))
    return _Schedule(_cosine_ref(T))


# --- 1. the cosine schedule ---------------------------------------------------------------------------------

def _cosine_loop(T: int, s: float, clip: float | None = 0.999, square: bool = True) -> torch.Tensor:
    """Nichol & Dhariwal's eq. 17, written with math and a loop (float64)."""
    def f(t):
        c = math.cos((t / T + s) / (1 + s) * math.pi / 2)
        return c * c if square else c
    out = []
    for i in range(1, T + 1):
        beta = 1 - f(i) / f(i - 1) if f(i - 1) != 0 else 1.0
        out.append(min(beta, clip) if clip is not None else beta)
    return torch.tensor(out, dtype=torch.float64)


def check_cosine_beta_schedule(cosine_beta_schedule, seed: int = 0, T: int = 1000, s: float = 0.008) -> None:
    """Check ``cosine_beta_schedule(T, s=0.008) -> betas (T,)``: Nichol & Dhariwal's cosine schedule,
    beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1), t = 1..T, clipped at 0.999. Called with ``s`` and without it."""
    name = "cosine_beta_schedule"
    expected = _cosine_loop(T, s)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    abar = torch.tensor([f(t) / f(0) for t in range(T + 1)], dtype=torch.float64)
    mistakes = [
        (_cosine_loop(T, s, clip=None), "the last beta is 1 (alpha_bar(T) = 0): clip the betas at 0.999, e.g. "
                                        "betas.clamp(max=0.999), as Nichol & Dhariwal do."),
        (_cosine_loop(T, 0.0), "the offset s is missing: f(t) = cos^2(((t / T + s) / (1 + s)) * pi / 2)."),
        (_cosine_loop(T, s, square=False), "f(t) is the *square* of the cosine: cos^2(...)."),
        (_cosine_loop(T, s, clip=None, square=False), "f(t) is the *square* of the cosine, and the betas are clipped at 0.999."),
        (abar[1:], "these are alpha_bar_t = f(t) / f(0); return the betas, 1 - alpha_bar_t / alpha_bar_{t-1}."),
        (1 - abar[1:], "these are 1 - alpha_bar_t; beta_t = 1 - alpha_bar_t / alpha_bar_{t-1} (a ratio of "
                       "consecutive alpha_bars)."),
        (1 - _cosine_loop(T, s), "these are the alphas, 1 - beta_t; return the betas."),
        ((1 - abar[:-1] / abar[1:]).clamp(max=0.999), "the ratio is upside down: beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}."),
    ]
    out = call(cosine_beta_schedule, name, (T, s), reference=_forbidden(_cosine_ref))
    hints = {(T + 1,): "you returned T + 1 values: alpha_bar has T + 1 values (t = 0..T), the betas T (t = 1..T).",
             (T - 1,): "you returned T - 1 values: evaluate f at t = 0, 1, ..., T (T + 1 points) to get T betas."}
    betas = expect_tensor(out, name, "betas", (T,), hints)
    compare(betas, expected, name, "the betas tensor", mistakes, rtol=5e-4, atol=1e-7)  # float32 answers pass
    default = call(cosine_beta_schedule, name, (T,), reference=_forbidden(_cosine_ref))
    default = expect_tensor(default, name, "betas with the default s", (T,))
    if not close(default, _cosine_loop(T, 0.008), rtol=5e-4, atol=1e-7):
        fail(name, "called without s, the result differs from s = 0.008: the default of s should be 0.008.")
    passed(name, f"matches Nichol & Dhariwal's formula for T = {T}, s = {s}; the last beta is clipped at 0.999.")


# --- 2. q_sample --------------------------------------------------------------------------------------------

def _bcast(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return a.reshape(len(a), *([1] * (x.dim() - 1)))


def check_q_sample(q_sample, seed: int = 0, batch: int = 16, shape: tuple = (2,), T: int = 1000,
                   kind: str = "linear") -> None:
    """Check ``q_sample(x0, t, noise, schedule) -> x_t``, x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise,
    for x0 of shape (batch, *shape) and timesteps t (batch,) including 0 and T - 1."""
    name = "q_sample"
    g = _gen(seed)
    sched = _schedule(kind, T)
    x0 = 1.5 * torch.randn(batch, *shape, generator=g)
    noise = torch.randn(batch, *shape, generator=g)
    t = torch.randint(1, T - 1, (batch,), generator=g)
    t[0], t[-1] = 0, T - 1
    x064, n64 = x0.double(), noise.double()

    def combo(a_sig, a_noise):
        return _bcast(a_sig, x064) * x064 + _bcast(a_noise, x064) * n64

    ab, al = sched.alphas_cumprod, sched.alphas
    expected = combo(ab[t].sqrt(), (1 - ab[t]).sqrt())
    tm, tp = (t - 1).clamp(min=0), (t + 1).clamp(max=T - 1)
    mistakes = [
        (combo(al[t].sqrt(), (1 - al[t]).sqrt()), "you used alpha_t = 1 - beta_t; q(x_t | x_0) needs the cumulative "
                                                 "product alpha_bar_t = schedule.alphas_cumprod[t]."),
        (combo(ab[t], 1 - ab[t]), "the square roots are missing: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise "
                                  "(alpha_bar_t and 1 - alpha_bar_t are variances)."),
        (combo(ab[t].sqrt(), 1 - ab[t]), "the noise's coefficient is sqrt(1 - alpha_bar_t), the square root is missing."),
        (combo(ab[t], (1 - ab[t]).sqrt()), "x_0's coefficient is sqrt(alpha_bar_t), the square root is missing."),
        (combo((1 - ab[t]).sqrt(), ab[t].sqrt()), "the coefficients are swapped: sqrt(alpha_bar_t) multiplies x_0 and "
                                                 "sqrt(1 - alpha_bar_t) the noise."),
        (combo(ab[tm].sqrt(), (1 - ab[tm]).sqrt()), "t is off by one: index t is used as is, alphas_cumprod[t] (the "
                                                   "schedule's arrays are indexed 0..T-1)."),
        (combo(ab[tp].sqrt(), (1 - ab[tp]).sqrt()), "t is off by one: index t is used as is, alphas_cumprod[t]."),
        (combo((1 - sched.betas[t]).sqrt(), sched.betas[t].sqrt()), "this is one step of q(x_t | x_{t-1}); in closed "
                                                                     "form q(x_t | x_0) uses alpha_bar_t = alphas_cumprod[t]."),
        (combo(ab[t].sqrt(), (1 - ab[t]).sqrt() * 0), "the noise is missing."),
    ]
    out = call(q_sample, name, (x0.clone(), t.clone(), noise.clone(), sched), reference=_forbidden(_q_sample_ref))
    hints = {(batch, batch, *shape[1:]): "alpha_bar[t] of shape (B,) broadcast against the wrong axis: reshape it "
                                         "to (B, 1, ..., 1), e.g. with genedu.diffusion.extract(a, t, x0)."}
    if len(shape) == 1:
        hints[(batch, batch)] = hints[(batch, batch, *shape[1:])]
    xt = expect_tensor(out, name, "x_t", (batch, *shape), hints)
    compare(xt, expected, name, "x_t", mistakes, rtol=1e-4, atol=1e-5)
    if xt.dtype != x0.dtype:
        fail(name, f"x_t has dtype {xt.dtype}, but x0 has {x0.dtype}: the schedule's tensors are float64; convert "
                   "the coefficients with .to(x0.dtype) (genedu.diffusion.extract does it for you).")
    passed(name, f"matches sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise on a batch of {batch} x {tuple(shape)}.")


# --- 3. the training loss -----------------------------------------------------------------------------------

class _Recorder(nn.Module):
    """A fixed, differentiable stand-in for eps_theta that records its inputs.

    It runs where the answer runs (in the grader's sandbox it travels as a copy, so that the loss's gradient
    reaches its weight); each call is reported to ``record``, a function of the check (in the sandbox a
    callback into the grader), which appends to ``calls``."""

    def __init__(self, dim: int, T: int, g: torch.Generator):
        super().__init__()
        self.weight = nn.Parameter(0.5 * torch.randn(dim, dim, generator=g))
        self.T = T
        calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.calls = calls
        self.record = lambda x_t, t: calls.append((x_t, t))

    def fn(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        phase = torch.sin(3.0 * t.double() / self.T).to(x_t.dtype)[:, None]
        return torch.tanh(x_t @ self.weight) + 0.5 * phase

    def forward(self, x_t, t):
        if not isinstance(x_t, torch.Tensor) or not isinstance(t, torch.Tensor):
            raise TypeError(f"eps_model must be called as eps_model(x_t, t) with two tensors, got "
                            f"{type(x_t).__name__} and {type(t).__name__}")
        self.record(x_t.detach().clone(), t.detach().clone())
        return self.fn(x_t, t)


def check_diffusion_loss(diffusion_loss, seed: int = 0, batch: int = 6000, dim: int = 2, T: int = 100,
                         kind: str = "cosine") -> None:
    """Check ``diffusion_loss(eps_model, x0, schedule, generator=None) -> scalar``, Ho et al.'s Algorithm 1.

    The check's network records its inputs: t must be (B,) integers drawn uniformly from 0..T-1; the noise
    behind each x_t, (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t), must be standard normal; and the
    loss must be the squared error (noise - eps_model(x_t, t))^2 averaged over the batch and either averaged
    (Ho et al.'s code, a plain .mean()) or summed (the formula's squared norm) over the coordinates, with a
    gradient. The two forms differ by the constant factor d, the number of coordinates.
    """
    name = "diffusion_loss"
    g = _gen(seed)
    sched = _schedule(kind, T)
    x0 = torch.randn(batch, dim, generator=g) * torch.linspace(0.5, 2.0, dim) + 1.0
    model = _Recorder(dim, T, g)

    def run(s):
        model.calls.clear()
        model.zero_grad()
        out = call(diffusion_loss, name, (model, x0.clone(), sched), {"generator": _gen(s)}, reference=_forbidden(_loss_ref, _train_ref))
        if isinstance(out, tuple):
            fail(name, "return the loss alone, a scalar tensor (not a tuple).")
        return expect_tensor(out, name, "the loss", (), {(batch,): "you returned one loss per example; average them "
                                                                   "(.mean()) into one scalar.",
                                                         (batch, dim): "reduce the squared errors to one scalar with .mean()."})

    loss = run(seed + 1000)
    if len(model.calls) != 1:
        fail(name, f"eps_model was called {len(model.calls)} times; call it once, on the whole batch: eps_model(x_t, t).")
    xt, t = model.calls[0]
    if t.is_floating_point() or t.dtype == torch.bool:
        fail(name, f"t has dtype {t.dtype}; draw integer timesteps, torch.randint(T, (B,), generator=generator).")
    if tuple(t.shape) != (batch,):
        fail(name, f"t has shape {tuple(t.shape)}; draw one timestep per example, shape (B,) = ({batch},).")
    if tuple(xt.shape) != tuple(x0.shape):
        fail(name, f"x_t has shape {tuple(xt.shape)}, expected that of x0 {tuple(x0.shape)}.")
    if int(t.min()) < 0 or int(t.max()) > T - 1:
        fail(name, f"t ranges from {int(t.min())} to {int(t.max())}; timesteps are indices 0..T-1 = {T - 1}: "
                   "torch.randint(T, (B,)) (the paper's t = 1..T is our index t - 1).")
    if int(t.min()) == int(t.max()):
        fail(name, "every example got the same t; draw one t per example, torch.randint(T, (B,), generator=generator).")
    tt = t.long()
    mean_t, se_t = float(tt.double().mean()), math.sqrt((T**2 - 1) / 12 / batch)
    if int(t.min()) > 0 or int(t.max()) < T - 1 or abs(mean_t - (T - 1) / 2) > 5 * se_t:
        fail(name, f"t should be uniform on 0..T-1 = {T - 1}; yours ranges from {int(t.min())} to {int(t.max())} "
                   f"with mean {mean_t:.1f} (expected about {(T - 1) / 2:.1f}).")
    ab = sched.alphas_cumprod[tt][:, None]
    xt64, x064 = xt.double(), x0.double()

    def standard(e):
        return abs(float(e.mean())) < 5 / math.sqrt(e.numel()) and abs(float(e.var()) - 1) < 6 * math.sqrt(2 / e.numel())

    eps = (xt64 - ab.sqrt() * x064) / (1 - ab).sqrt()
    if not standard(eps):
        al = sched.alphas[tt][:, None]
        alternatives = [
            ((xt64 - al.sqrt() * x064) / (1 - al).sqrt(), "x_t was made with alpha_t; use alpha_bar_t = alphas_cumprod[t]."),
            ((xt64 - ab * x064) / (1 - ab), "x_t was made without the square roots: sqrt(alpha_bar_t) x0 + "
                                            "sqrt(1 - alpha_bar_t) eps."),
            ((xt64 - (1 - ab).sqrt() * x064) / ab.sqrt(), "x_t was made with the coefficients swapped."),
        ]
        for alt, why in alternatives:
            if standard(alt):
                fail(name, f"the network was not given x_t ~ q(x_t | x_0): {why}")
        fail(name, f"the noise behind your x_t, (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t), has mean "
                   f"{float(eps.mean()):.3f} and variance {float(eps.var()):.3f}, expected 0 and 1: make x_t with "
                   "q_sample(x0, t, eps, schedule) and eps ~ N(0, I) (torch.randn(x0.shape, generator=generator)).")
    with torch.no_grad():
        pred = model.fn(xt, tt).double()
    squared = (eps - pred) ** 2
    forms = {"mean over the batch and the coordinates": squared.mean(),
             "squared norm over the coordinates, mean over the batch": squared.reshape(batch, -1).sum(1).mean()}
    mistakes = [(squared.sum(), "you summed the squared errors over the batch too; average over the examples (the "
                                "expectation over x_0, t and eps), and sum or average over the coordinates.")]
    for errors, why in [((x064 - pred) ** 2, "the target is the noise eps, not x0: the network predicts the noise."),
                        ((xt64 - pred) ** 2, "the target is the noise eps, not x_t."),
                        ((eps - pred).abs(), "this is the absolute error; the simple loss is the *squared* error."),
                        ((eps + pred) ** 2, "the sign is flipped: (eps - eps_model(x_t, t))^2.")]:
        mistakes += [(errors.mean(), why), (errors.reshape(batch, -1).sum(1).mean(), why)]
    form = next((label for label, value in forms.items() if close(loss, value, rtol=1e-4, atol=1e-6)), None)
    if form is None:
        for wrong, why in mistakes:
            if close(loss, wrong, rtol=1e-4, atol=1e-6):
                fail(name, f"the loss is wrong: {why}")
        expected = forms["mean over the batch and the coordinates"]
        fail(name, f"the loss is {float(loss.detach()):.4f}, but the mean of (eps - eps_model(x_t, t))^2 with the noise "
                   f"eps behind your x_t is {float(expected):.4f} ({float(expected) * squared[0].numel():.4f} "
                   "summed over the coordinates): the loss does not compare the prediction with the "
                   "noise used to make x_t. Draw eps once, make x_t from it, and use that same eps as the target.")
    if not loss.requires_grad:
        fail(name, "the loss carries no gradient: don't detach it, call .item() or wrap the computation in no_grad.")
    loss.backward()
    if model.weight.grad is None or float(model.weight.grad.abs().sum()) == 0:
        fail(name, "no gradient reaches the network's parameters.")
    expect_seeded(run, loss, seed + 1000, name, "losses",
                  "draw t and eps with the `generator` argument (torch.randint(..., generator=generator), "
                  "torch.randn(..., generator=generator)).")
    passed(name, f"t uniform on 0..{T - 1}, x_t ~ q(x_t | x_0), loss = (eps - eps_theta)^2 as the {form} "
                 f"({batch} examples).")


# --- 4. one reverse step ----------------------------------------------------------------------------------

class _StepModel:
    """A fixed nonlinear noise predictor that checks how it is called; the timesteps it is called with are
    reported to ``record`` (in the grader's sandbox a callback into the grader), which appends to ``ts``."""

    def __init__(self, dim: int, T: int, g: torch.Generator):
        self.weight = torch.randn(dim, dim, generator=g, dtype=torch.float64) / math.sqrt(dim)
        self.T = T
        ts: list = []
        self.ts = ts
        self.record = lambda t: ts.append(t)

    def __call__(self, x_t, t):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"eps_model expects t as a (B,) int64 tensor, got {type(t).__name__}: "
                            "torch.full((B,), t, dtype=torch.long)")
        if t.is_floating_point() or tuple(t.shape) != (len(x_t),):
            raise TypeError(f"eps_model expects t as a (B,) = ({len(x_t)},) int64 tensor, got dtype {t.dtype} and shape "
                            f"{tuple(t.shape)}: torch.full((B,), t, dtype=torch.long)")
        self.record(t.clone())
        flat = x_t.reshape(len(x_t), -1).double()
        out = torch.tanh(flat @ self.weight) + torch.cos(7.0 * t.double() / self.T)[:, None]
        return out.to(x_t.dtype).reshape(x_t.shape)


def check_reverse_step(reverse_step, seed: int = 0, batch: int = 8, dim: int = 3, T: int = 1000,
                       kind: str = "linear") -> None:
    """Check ``reverse_step(eps_model, x_t, t, schedule, z) -> x_{t-1}``, Ho et al.'s Algorithm 2, line 4, with
    sigma_t^2 = beta_t: x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sigma_t z, and
    no noise at t = 0. Tried at t = 0, 1, a middle t and T - 1."""
    name = "reverse_step"
    g = _gen(seed)
    sched = _schedule(kind, T)
    model = _StepModel(dim, T, g)
    b, a, ab, pv = sched.betas, sched.alphas, sched.alphas_cumprod, sched.posterior_variance
    for t in (1, T // 2 + seed % 7, T - 1, 0):
        x = 1.3 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
        z = torch.randn(batch, dim, generator=g, dtype=torch.float64)
        tt = torch.full((batch,), t, dtype=torch.long)
        eps = model(x, tt)
        model.ts.clear()
        bt, at, abt = float(b[t]), float(a[t]), float(ab[t])
        mean = (x - bt / math.sqrt(1 - abt) * eps) / math.sqrt(at)
        sigma = math.sqrt(bt) if t > 0 else 0.0
        expected = mean + sigma * z
        mistakes = [
            (mean + math.sqrt(bt) * z, "no noise is added at the last step (t = 0 here, the paper's t = 1): return "
                                       "the mean, so that the samples are not blurred by noise."),
            (mean + math.sqrt(float(pv[t])) * z, "sigma_t^2 = beta_t here; you used the posterior variance beta_tilde_t "
                                                 "(the other choice of Ho et al., not the one asked for)."),
            (mean + bt * z, "sigma_t is the square root of beta_t: add sqrt(beta_t) * z."),
            ((x - bt / math.sqrt(1 - abt) * eps) / math.sqrt(abt) + sigma * z,
             "divide by sqrt(alpha_t), not sqrt(alpha_bar_t): the step undoes one step of noise, alpha_t = 1 - beta_t."),
            ((x - bt / (1 - abt) * eps) / math.sqrt(at) + sigma * z,
             "the noise's coefficient is beta_t / sqrt(1 - alpha_bar_t): the square root is missing."),
            ((x - bt / math.sqrt(1 - at) * eps) / math.sqrt(at) + sigma * z,
             "the noise's coefficient is beta_t / sqrt(1 - alpha_bar_t), with alpha_bar_t, not alpha_t."),
            ((x + bt / math.sqrt(1 - abt) * eps) / math.sqrt(at) + sigma * z,
             "the sign is flipped: subtract the predicted noise, x_t - beta_t / sqrt(1 - alpha_bar_t) eps."),
            ((x - math.sqrt(1 - abt) * eps) / math.sqrt(abt), "this is the prediction of x_0, not a step to x_{t-1}."),
            ((x - bt / math.sqrt(1 - abt) * eps) * math.sqrt(at) + sigma * z, "divide by sqrt(alpha_t); don't multiply."),
            (x - bt / math.sqrt(1 - abt) * eps + sigma * z, "the division by sqrt(alpha_t) is missing."),
        ]
        if t >= 1:
            p = t - 1
            mistakes.append(((x - float(b[p]) / math.sqrt(1 - float(ab[p])) * eps) / math.sqrt(float(a[p]))
                             + (math.sqrt(float(b[p])) if p > 0 else 0.0) * z,
                             "t is off by one: use the schedule at index t itself (betas[t], alphas[t], "
                             "alphas_cumprod[t]); the arrays are indexed 0..T-1 like the timesteps."))
        out = call(reverse_step, name, (model, x.clone(), t, sched, z.clone()), reference=_forbidden(_step_ref, _mean_var_ref))
        out = expect_tensor(out, name, f"x_(t-1) at t = {t}", (batch, dim))
        if not model.ts:
            fail(name, "eps_model was not called: predict the noise with eps = eps_model(x_t, t_batch).")
        if any(not bool((tb == t).all()) for tb in model.ts):
            got = sorted({int(v) for tb in model.ts for v in tb.flatten()})
            fail(name, f"at t = {t} eps_model was called with timesteps {got[:5]}; call it with t itself: "
                       "torch.full((B,), t, dtype=torch.long).")
        model.ts.clear()
        compare(out, expected, name, f"x_(t-1) at t = {t}", mistakes, rtol=1e-4, atol=1e-5)
    passed(name, "matches Algorithm 2 at t = 0, 1, a middle step and T - 1 (sigma_t^2 = beta_t, no noise at t = 0).")


# --- 5-6. the samplers, with the exact denoiser of Gaussian data -------------------------------------------

class _OptimalEps(nn.Module):
    """The exact noise predictor of Gaussian data N(mean, cov) (as :func:`genedu.diffusion.gaussian_optimal_eps`),
    as a module of this file: in the grader it travels into the sandbox as a copy and runs next to the answer
    (no round trip per network evaluation), and its buffers come back after the call: ``calls`` counts the
    evaluations."""

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, sched: _Schedule):
        super().__init__()
        mean64, cov64 = mean.detach().double(), cov.detach().double()
        eye = torch.eye(len(mean64), dtype=torch.float64)
        abar = sched.alphas_cumprod
        self.register_buffer("gains", (1 - abar).sqrt()[:, None, None]
                             * _inv(abar[:, None, None] * cov64 + (1 - abar)[:, None, None] * eye))
        self.register_buffer("shift", abar.sqrt()[:, None] * mean64)  # sqrt(alpha_bar_t) mean, (T, D)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.T, self.d = sched.T, len(mean64)

    def forward(self, x_t, t):
        if not isinstance(x_t, torch.Tensor) or not x_t.is_floating_point():
            raise TypeError(f"eps_model expects x_t as a float tensor, got {type(x_t).__name__}")
        if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.dtype == torch.bool \
                or tuple(t.shape) != (len(x_t),):
            got = f"dtype {t.dtype} and shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"eps_model expects t as a (B,) = ({len(x_t)},) int64 tensor, got {got}: "
                            "torch.full((B,), t, dtype=torch.long)")
        if len(t) and (int(t.min()) < 0 or int(t.max()) >= self.T):
            raise ValueError(f"t must hold timesteps in 0..T-1 = {self.T - 1}, got values from {int(t.min())} to "
                             f"{int(t.max())}")
        x = x_t.reshape(len(x_t), -1)
        if x.shape[1] != self.d:
            raise ValueError(f"x_t must have {self.d} values per example, got shape {tuple(x_t.shape)}")
        with torch.no_grad():
            self.calls += 1
        tc = t.long().cpu()
        eps = torch.einsum("bij,bj->bi", self.gains[tc], x.detach().double().cpu() - self.shift[tc])
        return eps.to(dtype=x_t.dtype, device=x_t.device).reshape(x_t.shape)


def _gaussian_problem(seed: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed + 77)
    mean = 2 * torch.rand(dim, generator=g) - 1 + torch.linspace(-1.0, 1.0, dim)
    a = torch.randn(dim, dim, generator=g)
    cov = a @ a.T / dim + 0.3 * torch.eye(dim)
    return mean, cov


def _chain_moments(sched: _Schedule, mean, cov, order="reverse", start=1.0, noise=True, alpha_for_abar=False):
    """Mean and covariance of the DDPM chain run with the optimal predictor (a linear-Gaussian chain), and of
    its usual wrong variants."""
    d = len(mean)
    mean, cov, eye = mean.double(), cov.double(), torch.eye(d, dtype=torch.float64)
    m, P = torch.zeros(d, dtype=torch.float64), start * eye
    ts = range(sched.T - 1, -1, -1) if order == "reverse" else range(sched.T)
    for t in ts:
        a, b, ab = float(sched.alphas[t]), float(sched.betas[t]), float(sched.alphas_cumprod[t])
        K = math.sqrt(1 - ab) * _inv(ab * cov + (1 - ab) * eye)
        root = math.sqrt(ab if alpha_for_abar else a)
        A = (eye - b / math.sqrt(1 - ab) * K) / root
        c = b / math.sqrt(1 - ab) * K @ (math.sqrt(ab) * mean) / root
        var = b if (t > 0 and noise) else 0.0
        m, P = A @ m + c, A @ P @ A.T + var * eye
    return m, P


def _ddim_moments(sched: _Schedule, mean, cov, steps: int, last_step=True, use_alpha=False):
    d = len(mean)
    mean, cov, eye = mean.double(), cov.double(), torch.eye(d, dtype=torch.float64)
    m, P = torch.zeros(d, dtype=torch.float64), eye.clone()
    taus = _ddim_timesteps(sched.T, steps).tolist()
    arr = sched.alphas if use_alpha else sched.alphas_cumprod
    for i in range(len(taus) - 1, -1 if last_step else 0, -1):
        abt = float(sched.alphas_cumprod[taus[i]])
        ab, ap = float(arr[taus[i]]), (float(arr[taus[i - 1]]) if i else 1.0)
        K = math.sqrt(1 - abt) * _inv(abt * cov + (1 - abt) * eye)
        E = math.sqrt(1 - ap) - math.sqrt(ap) * math.sqrt(1 - ab) / math.sqrt(ab)
        A = math.sqrt(ap / ab) * eye + E * K
        c = -E * K @ (math.sqrt(abt) * mean)
        m, P = A @ m + c, A @ P @ A.T
    return m, P


def _matches(x: torch.Tensor, m: torch.Tensor, P: torch.Tensor, sigmas: float = 5.0) -> bool:
    """Whether samples ``x`` have mean ``m`` and covariance ``P`` within ``sigmas`` standard errors. A chain whose
    moments blow up (a wrong variant that diverges) matches nothing: its standard errors would accept anything."""
    if not (bool(torch.isfinite(m).all()) and bool(torch.isfinite(P).all())) or float(P.abs().max()) > 1e6:
        return False
    n = len(x)
    se_mean = (P.diagonal() / n).sqrt() + 1e-9
    se_cov = ((P.diagonal()[:, None] * P.diagonal()[None] + P**2) / n).sqrt() + 1e-9
    return bool(((x.mean(0) - m).abs() < sigmas * se_mean).all()) and bool(((_cov(x.T) - P).abs() < sigmas * se_cov).all())


def _sampler_result(out, name, n, dim):
    hints = {(dim, n): "you returned (dim, n); return one sample per row, (n, dim)."}
    x = expect_tensor(out, name, "the samples", (n, dim), hints)
    return x.detach().double()


def check_ddpm_sample(ddpm_sample, seed: int = 0, n: int = 8000, dim: int = 2, T: int = 200, kind: str = "linear") -> None:
    """Check ``ddpm_sample(eps_model, n, dim, schedule, generator=None) -> (n, dim)``, DDPM's Algorithm 2.

    Run with the exact noise predictor of Gaussian data N(mean, cov), the samples must have the mean and
    covariance of the chain's output (computed exactly, and within about 1 % of the data's), within five
    standard errors."""
    name = "ddpm_sample"
    sched = _schedule(kind, T)
    mean, cov = _gaussian_problem(seed, dim)
    eps_model = _OptimalEps(mean, cov, sched)
    m, P = _chain_moments(sched, mean, cov)

    def draw(s, size=n):
        return call(ddpm_sample, name, (eps_model, size, dim, sched), {"generator": _gen(s)}, reference=_forbidden(_ddpm_ref))

    x = _sampler_result(draw(seed + 1000), name, n, dim)
    if not _matches(x, m, P):
        wrong = [
            (_chain_moments(sched, mean, cov, order="forward"), "the loop runs forward in time; ancestral sampling "
                                                                "goes t = T-1, T-2, ..., 0 (reversed(range(T)))."),
            (_chain_moments(sched, mean, cov, noise=False), "no noise is added: each step but the last adds sigma_t z "
                                                           "with a fresh z ~ N(0, I)."),
            (_chain_moments(sched, mean, cov, alpha_for_abar=True), "the step divides by sqrt(alpha_bar_t); it should "
                                                                    "divide by sqrt(alpha_t)."),
        ]
        for (mw, Pw), why in wrong:
            if _matches(x, mw, Pw):
                fail(name, f"with the exact denoiser of a Gaussian, your samples have the wrong distribution: {why}")
        if float(_cov(x.T).diagonal().max()) < 1e-8:
            fail(name, "all the samples are equal: draw x_T of shape (n, dim).")
        fail(name, f"with the exact denoiser of N({_fmt(mean)}, {[_fmt(r) for r in cov]}), your {n} samples have mean "
                   f"{_fmt(x.mean(0))} and covariance {[_fmt(r) for r in _cov(x.T)]}; the sampler should give mean "
                   f"{_fmt(m)} and covariance {[_fmt(r) for r in P]} (within sampling error).")
    few = draw(seed + 2000, 5)                                   # the seeding is checked on a small batch
    _sampler_result(few, name, 5, dim)
    expect_seeded(lambda s: draw(s, 5), few, seed + 2000, name, "samples",
                  "draw x_T and every z with torch.randn(..., generator=generator).")
    passed(name, f"with the exact denoiser of a Gaussian, {n} samples have the data's mean and covariance "
                 f"(T = {T} steps).")


def check_ddim_sample(ddim_sample, seed: int = 0, n: int = 8000, dim: int = 2, T: int = 1000, steps: int = 20,
                      kind: str = "linear") -> None:
    """Check ``ddim_sample(eps_model, n, dim, schedule, steps, generator=None) -> (n, dim)``, DDIM with eta = 0 over
    the timesteps ``genedu.diffusion.ddim_timesteps(T, steps)``, starting from x_T = torch.randn(n, dim, generator=g).

    With the exact noise predictor of Gaussian data, the output is a deterministic function of x_T: compared
    with the check's own run from the same x_T; otherwise its mean and covariance are compared with the exact
    moments of the DDIM chain."""
    name = "ddim_sample"
    sched = _schedule(kind, T)
    mean, cov = _gaussian_problem(seed + 1, dim)
    eps_model = _OptimalEps(mean, cov, sched)
    m, P = _ddim_moments(sched, mean, cov, steps)
    run = _ddim_traj_ref(eps_model, (n, dim), sched, steps=steps, generator=_gen(seed + 1000), progress=False,
                         frames=steps)
    expected, before_last = run.x0.double(), run.xs[-2].double()
    eps_model.calls.zero_()
    out = call(ddim_sample, name, (eps_model, n, dim, sched, steps), {"generator": _gen(seed + 1000)},
               reference=_forbidden(_ddim_ref))
    x = _sampler_result(out, name, n, dim)
    calls = int(eps_model.calls)
    if calls != steps:
        fail(name, f"the network was evaluated {calls} times; DDIM with {steps} steps evaluates it once per "
                   f"timestep of ddim_timesteps(T, steps), {steps} times.")
    if close(x, expected, rtol=1e-3, atol=1e-3):
        passed(name, f"matches DDIM (eta = 0) from the same x_T, {steps} steps.")
        return
    if close(x, before_last, rtol=1e-3, atol=1e-3):
        fail(name, "the last step is missing: after the smallest timestep tau_1 = 0, step to alpha_bar_prev = 1, "
                   "which returns x0_hat.")
    if _matches(x, m, P):
        first = torch.randn(n, dim, generator=_gen(seed + 1000))
        fail(name, "your samples have the right distribution but not the values DDIM gives from x_T = "
                   f"torch.randn(n, dim, generator=generator) (first row {_fmt(first[0])}): draw x_T that way, "
                   "first, and add no other noise (eta = 0 is deterministic).")
    wrong = [
        (_ddim_moments(sched, mean, cov, steps, last_step=False), "the last step is missing: after the smallest "
                                                                  "timestep, step to alpha_bar_prev = 1 (x_0 = x0_hat)."),
        (_ddim_moments(sched, mean, cov, steps, use_alpha=True), "use alpha_bar = alphas_cumprod, not alphas."),
    ]
    for (mw, Pw), why in wrong:
        if _matches(x, mw, Pw):
            fail(name, f"your samples have the wrong distribution: {why}")
    fail(name, f"with the exact denoiser of N({_fmt(mean)}, {[_fmt(r) for r in cov]}), your samples have mean "
               f"{_fmt(x.mean(0))} and covariance {[_fmt(r) for r in _cov(x.T)]}; DDIM with {steps} steps gives mean "
               f"{_fmt(m)} and covariance {[_fmt(r) for r in P]}.")
