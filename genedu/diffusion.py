"""Denoising diffusion models (chapter 7): noise schedules, the forward process, the loss, samplers.

Notation follows Ho et al. (2020), "Denoising Diffusion Probabilistic Models" (DDPM):

- the forward process adds Gaussian noise in ``T`` steps, q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I);
- alpha_t = 1 - beta_t and alpha_bar_t = prod_{s <= t} alpha_s (``alphas_cumprod``), so that in closed form
  q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)  (:func:`q_sample`);
- a network eps_theta(x_t, t) predicts the noise; the simple loss is E ||eps - eps_theta(x_t, t)||^2
  (Algorithm 1, :func:`diffusion_loss`); ancestral sampling runs the reverse chain (Algorithm 2,
  :func:`p_sample_step`, :func:`ddpm_sample`); DDIM (Song et al. 2021) samples deterministically with
  fewer steps (:func:`ddim_sample`).

**Time indexing.** As in Ho et al.'s code and in diffusers, timesteps are *array indices*
``t = 0, ..., T - 1``: index ``t`` is the paper's step ``t + 1``. So ``betas[0]`` is the paper's beta_1,
``alphas_cumprod[t]`` is alpha_bar_{t+1}, the last reverse step is ``t = 0`` (the paper's t = 1, where no
noise is added), and ``alphas_cumprod_prev[0] = 1`` (alpha_bar_0 = 1: x_0 is the data).

- :func:`linear_beta_schedule`, :func:`cosine_beta_schedule`  the betas of Ho et al. and of Nichol & Dhariwal
- :func:`make_schedule` -> :class:`Schedule`  every derived quantity, under the papers' names
- :func:`q_sample`, :func:`q_posterior_mean_variance`, :func:`predict_x0_from_eps`
- :func:`diffusion_loss`  the simple epsilon-prediction loss (Algorithm 1); :func:`train_denoiser` its training loop
- :func:`p_mean_variance`, :func:`p_sample_step`, :func:`ddpm_sample` (Algorithm 2), :func:`ddim_sample`
- :func:`gaussian_optimal_eps`  the exact optimal noise predictor for Gaussian data (tests the samplers
  without any training)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from genedu import _validate as v

__all__ = ["Schedule", "linear_beta_schedule", "cosine_beta_schedule", "make_schedule", "extract", "q_sample",
           "q_posterior_mean_variance", "predict_x0_from_eps", "diffusion_loss", "p_mean_variance",
           "p_sample_step", "ddpm_sample", "ddim_timesteps", "ddim_sample", "gaussian_optimal_eps", "snr",
           "train_denoiser"]

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --- schedules -----------------------------------------------------------------------------------------

def linear_beta_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """The linear schedule of Ho et al. (2020): beta_t evenly spaced from ``beta_start`` to ``beta_end``.

    Args:
        T: number of diffusion steps (default 1000, as in the paper).
        beta_start, beta_end: the first and last beta (defaults 1e-4 and 0.02, the paper's).

    Returns:
        betas: (T,) float64 tensor.
    """
    T = v.positive_int(T, "T")
    beta_start = v.positive_float(beta_start, "beta_start")
    beta_end = v.positive_float(beta_end, "beta_end")
    if not beta_start <= beta_end < 1:
        raise ValueError(f"need beta_start <= beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}")
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_beta_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """The cosine schedule of Nichol & Dhariwal (2021), eq. 17.

    alpha_bar(t) = f(t) / f(0) with f(t) = cos^2(((t / T + s) / (1 + s)) * pi / 2) for t = 0, ..., T, and
    beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1) for t = 1, ..., T, clipped at ``max_beta`` (the last beta
    would otherwise be 1: alpha_bar(T) = 0). The offset ``s`` keeps beta_1 from being tiny near t = 0.

    Args:
        T: number of diffusion steps; s: the offset (default 0.008); max_beta: the clip (default 0.999).

    Returns:
        betas: (T,) float64 tensor (``betas[i]`` is the paper's beta_{i+1}).
    """
    T = v.positive_int(T, "T")
    s = v.positive_float(s, "s", allow_zero=True)
    max_beta = v.positive_float(max_beta, "max_beta")
    if max_beta > 1:
        raise ValueError(f"max_beta must be in (0, 1], got {max_beta}")
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


@dataclass(frozen=True)
class Schedule:
    """A noise schedule and every quantity derived from it, as (T,) float64 tensors (Ho et al. 2020).

    Index ``t`` (0 <= t < T) is the paper's step t + 1. Build one with :func:`make_schedule`.

    Attributes:
        betas: beta_t, the variance of the noise added at step t.
        alphas: alpha_t = 1 - beta_t.
        alphas_cumprod: alpha_bar_t = prod_{s <= t} alpha_s.
        alphas_cumprod_prev: alpha_bar_{t-1}, with alpha_bar before the first step = 1.
        sqrt_alphas_cumprod, sqrt_one_minus_alphas_cumprod: sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t).
        posterior_variance: beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t (eq. 7; 0 at t = 0).
        posterior_mean_coef1: sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t), the weight of x_0 in eq. 7.
        posterior_mean_coef2: sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t), the weight of x_t.
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_mean_coef1: torch.Tensor
    posterior_mean_coef2: torch.Tensor

    @property
    def T(self) -> int:
        """The number of diffusion steps."""
        return len(self.betas)

    def __repr__(self) -> str:
        return (f"Schedule(T={self.T}, beta from {float(self.betas[0]):.3g} to {float(self.betas[-1]):.3g}, "
                f"alpha_bar_T={float(self.alphas_cumprod[-1]):.3g})")


def make_schedule(betas: torch.Tensor) -> Schedule:
    """Every quantity the forward process, the loss and the samplers need, from the betas.

    Args:
        betas: (T,) tensor of values in (0, 1], e.g. from :func:`linear_beta_schedule`.

    Returns:
        a :class:`Schedule` of (T,) float64 tensors.
    """
    v.float_tensor(betas, "betas", ndim=1)
    betas = betas.detach().double().cpu()
    if len(betas) == 0 or bool((betas <= 0).any()) or bool((betas > 1).any()):
        raise ValueError("betas must be a non-empty tensor of values in (0, 1]")
    alphas = 1 - betas
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    return Schedule(
        betas=betas,
        alphas=alphas,
        alphas_cumprod=alphas_cumprod,
        alphas_cumprod_prev=alphas_cumprod_prev,
        sqrt_alphas_cumprod=alphas_cumprod.sqrt(),
        sqrt_one_minus_alphas_cumprod=(1 - alphas_cumprod).sqrt(),
        posterior_variance=betas * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod),
        posterior_mean_coef1=betas * alphas_cumprod_prev.sqrt() / (1 - alphas_cumprod),
        posterior_mean_coef2=(1 - alphas_cumprod_prev) * alphas.sqrt() / (1 - alphas_cumprod),
    )


def snr(schedule: Schedule) -> torch.Tensor:
    """The signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) of q(x_t | x_0), (T,)."""
    _check_schedule(schedule)
    return schedule.alphas_cumprod / (1 - schedule.alphas_cumprod)


# --- helpers -------------------------------------------------------------------------------------------

def _check_schedule(schedule) -> None:
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a genedu.diffusion.Schedule (from make_schedule), got {type(schedule).__name__}")


def _check_t(t: torch.Tensor, batch: int, T: int, name: str = "t") -> torch.Tensor:
    v.int_tensor(t, name, ndim=1)
    if len(t) != batch:
        raise ValueError(f"{name} must hold one timestep per example ({batch}), got shape {tuple(t.shape)}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= T):
        raise ValueError(f"{name} must lie in 0 .. T - 1 = {T - 1}, got values from {int(t.min())} to {int(t.max())}")
    return t


def extract(a: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``a[t]`` shaped to broadcast against ``x``: (T,), (B,) -> (B, 1, ..., 1), in x's dtype and device."""
    out = a.to(x.device)[t.to(x.device)].to(x.dtype)
    return out.reshape(len(t), *([1] * (x.dim() - 1)))


def _int_t(t, T: int) -> int:
    if isinstance(t, torch.Tensor) and t.dim() == 0 and not t.is_floating_point():
        t = int(t)
    t = v.positive_int(t, "t", minimum=0)
    if t >= T:
        raise ValueError(f"t must lie in 0 .. T - 1 = {T - 1}, got {t}")
    return t


# --- the forward process ---------------------------------------------------------------------------------

def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """A sample of q(x_t | x_0) in closed form: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise
    (Ho et al. 2020, eq. 4).

    Args:
        x0: (B, ...) data; t: (B,) integer timesteps in 0 .. T - 1; noise: standard normal, shaped like x0.
        schedule: from :func:`make_schedule`.

    Returns:
        x_t: shaped like x0.
    """
    _check_schedule(schedule)
    v.float_tensor(x0, "x0")
    v.float_tensor(noise, "noise", shape=tuple(x0.shape))
    _check_t(t, len(x0), schedule.T)
    return extract(schedule.sqrt_alphas_cumprod, t, x0) * x0 + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * noise


def q_posterior_mean_variance(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward-process posterior q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde I) (Ho et al., eqs. 6-7):

    mu_tilde = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t,
    beta_tilde = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.

    Args:
        x0, x_t: (B, ...); t: (B,) integer timesteps.

    Returns:
        mean: shaped like x_t; variance: (B, 1, ..., 1), broadcastable against it.
    """
    _check_schedule(schedule)
    v.float_tensor(x_t, "x_t")
    v.float_tensor(x0, "x0", shape=tuple(x_t.shape))
    _check_t(t, len(x_t), schedule.T)
    mean = extract(schedule.posterior_mean_coef1, t, x_t) * x0 + extract(schedule.posterior_mean_coef2, t, x_t) * x_t
    return mean, extract(schedule.posterior_variance, t, x_t)


def predict_x0_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """Invert :func:`q_sample` for x_0 given the noise: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t).

    Args:
        x_t, eps: (B, ...); t: (B,) integer timesteps. Returns: x0 shaped like x_t.
    """
    _check_schedule(schedule)
    v.float_tensor(x_t, "x_t")
    v.float_tensor(eps, "eps", shape=tuple(x_t.shape))
    _check_t(t, len(x_t), schedule.T)
    return (x_t - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t) * eps) / extract(schedule.sqrt_alphas_cumprod, t, x_t)


# --- training ------------------------------------------------------------------------------------------

def diffusion_loss(eps_model: EpsModel, x0: torch.Tensor, schedule: Schedule,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """The simple loss of Ho et al. (2020), Algorithm 1: with t ~ Uniform{0, ..., T - 1} and eps ~ N(0, I)
    drawn per example, the mean over the batch and over every coordinate of (eps - eps_theta(x_t, t))^2,
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.

    Args:
        eps_model: called as ``eps_model(x_t, t)`` with x_t (B, ...) and t (B,) int64; returns (B, ...).
        x0: (B, ...) data; generator: optional, draws t and eps (on the CPU).

    Returns:
        the scalar loss (differentiable in the model's parameters).
    """
    _check_schedule(schedule)
    v.float_tensor(x0, "x0")
    if not callable(eps_model):
        raise TypeError(f"eps_model must be callable as eps_model(x_t, t), got {type(eps_model).__name__}")
    t = torch.randint(schedule.T, (len(x0),), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    x_t = q_sample(x0, t, noise, schedule)
    return ((noise - eps_model(x_t, t)) ** 2).mean()


# --- sampling ------------------------------------------------------------------------------------------

def _variance(schedule: Schedule, variance: str) -> torch.Tensor:
    if variance == "beta":
        return schedule.betas
    if variance == "posterior":
        return schedule.posterior_variance
    raise ValueError(f"variance must be 'beta' (sigma_t^2 = beta_t) or 'posterior' (beta_tilde_t), got {variance!r}")


def p_mean_variance(eps_model: EpsModel, x_t: torch.Tensor, t: int, schedule: Schedule, variance: str = "beta"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The reverse step's Gaussian p(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I) (Ho et al., eq. 11):

    mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t).

    Args:
        eps_model: ``eps_model(x_t, t)`` with t a (B,) int64 tensor; x_t: (B, ...); t: one int in 0 .. T - 1.
        variance: "beta" (sigma_t^2 = beta_t, default) or "posterior" (sigma_t^2 = beta_tilde_t); Ho et al.
            report similar results with both.

    Returns:
        mean: shaped like x_t; variance: a 0-d tensor sigma_t^2.
    """
    _check_schedule(schedule)
    v.float_tensor(x_t, "x_t")
    t = _int_t(t, schedule.T)
    tt = torch.full((len(x_t),), t, dtype=torch.long, device=x_t.device)
    eps = eps_model(x_t, tt)
    beta, alpha = float(schedule.betas[t]), float(schedule.alphas[t])
    mean = (x_t - beta / math.sqrt(1 - float(schedule.alphas_cumprod[t])) * eps) / math.sqrt(alpha)
    return mean, _variance(schedule, variance)[t].to(x_t.dtype)


def p_sample_step(eps_model: EpsModel, x_t: torch.Tensor, t: int, schedule: Schedule, z: torch.Tensor,
                  variance: str = "beta") -> torch.Tensor:
    """One step of ancestral sampling (Ho et al. 2020, Algorithm 2, line 4):
    x_{t-1} = mu_theta(x_t, t) + sigma_t z, with no noise at the last step (t = 0 here, the paper's t = 1).

    Args:
        eps_model: ``eps_model(x_t, t)``; x_t: (B, ...); t: one int in 0 .. T - 1.
        z: standard normal noise shaped like x_t (ignored at t = 0).
        variance: "beta" (sigma_t^2 = beta_t, default) or "posterior" (beta_tilde_t).

    Returns:
        x_{t-1}: shaped like x_t.
    """
    v.float_tensor(x_t, "x_t")
    v.float_tensor(z, "z", shape=tuple(x_t.shape))
    mean, var = p_mean_variance(eps_model, x_t, t, schedule, variance)
    if int(t) == 0:
        return mean
    return mean + var.sqrt() * z


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(v.positive_int(s, "shape[i]") for s in shape)
    if len(shape) < 2:
        raise ValueError(f"shape must be (n, ...) with a batch size and the data's shape, got {shape}")
    return shape


def _frames_at(steps: int, frames: int) -> set[int]:
    """Which of ``steps`` sampling steps to record (after each), evenly spaced, the last included."""
    return {round(i * steps / frames) - 1 for i in range(1, frames + 1)}


@torch.no_grad()
def ddpm_sample(eps_model: EpsModel, shape: Sequence[int], schedule: Schedule, generator: torch.Generator | None = None,
                variance: str = "beta", device: torch.device | str | None = None, progress: bool = True,
                frames: int = 0):
    """Ancestral sampling, DDPM Algorithm 2: x_T ~ N(0, I), then T reverse steps :func:`p_sample_step`.

    Args:
        eps_model: ``eps_model(x_t, t)`` (a module is switched to eval mode).
        shape: (n, ...) the shape of the batch to generate, e.g. (2000, 2) or (16, 1, 28, 28).
        generator: draws x_T and every z (on the CPU); variance: "beta" (default) or "posterior".
        device: where to run (default: the model's device, else CPU); progress: show a progress bar.
        frames: if > 0, also return that many intermediate states, evenly spaced in the T steps.

    Returns:
        x_0: ``shape``; with ``frames``: (x_0, xs, ts), xs (frames + 1, *shape) the states x_T, ..., x_0
        on the CPU and ts (frames + 1,) their timesteps (T for pure noise, 0 for the samples).
    """
    _check_schedule(schedule)
    shape = _shape(shape)
    frames = v.positive_int(frames, "frames", minimum=0)
    device = _device(eps_model, device)
    _eval(eps_model)
    x = torch.randn(shape, generator=generator).to(device)
    keep = _frames_at(schedule.T, frames) if frames else set()
    xs, ts = [x.cpu()], [schedule.T]
    for i, t in enumerate(tqdm(range(schedule.T - 1, -1, -1), desc="DDPM sampling", disable=not progress, leave=False)):
        z = torch.randn(shape, generator=generator).to(device) if t > 0 else torch.zeros(shape, device=device)
        x = p_sample_step(eps_model, x, t, schedule, z, variance)
        if i in keep:
            xs.append(x.cpu())
            ts.append(t)
    if frames:
        return x, torch.stack(xs), torch.tensor(ts)
    return x


def ddim_timesteps(T: int, steps: int) -> torch.Tensor:
    """The increasing subsequence tau of ``steps`` timesteps in 0 .. T - 1 that DDIM visits: evenly spaced,
    from 0 to T - 1 (both included when steps >= 2).

    Returns:
        (steps,) int64 tensor.
    """
    T = v.positive_int(T, "T")
    steps = v.positive_int(steps, "steps")
    if steps > T:
        raise ValueError(f"steps must be at most T = {T}, got {steps}")
    return torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long()


@torch.no_grad()
def ddim_sample(eps_model: EpsModel, shape: Sequence[int], schedule: Schedule, steps: int = 50, eta: float = 0.0,
                generator: torch.Generator | None = None, device: torch.device | str | None = None,
                progress: bool = True, frames: int = 0, clip_x0: bool = False):
    """DDIM sampling (Song et al. 2021, eq. 12) over ``steps`` timesteps tau_S > ... > tau_1 of :func:`ddim_timesteps`:

    x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t),
    x_prev = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps + sigma z,

    with alpha_bar_prev that of the previous timestep in tau (1 after the last), and
    sigma = eta sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_prev).
    ``eta = 0`` (default) is deterministic given x_T; ``eta = 1`` with all T steps is DDPM with sigma^2 = beta_tilde.

    Args:
        eps_model, shape, schedule, generator, device, progress, frames: as in :func:`ddpm_sample`.
        steps: the number of network evaluations (default 50); eta: the noise level (default 0).
        clip_x0: clip x0_hat to [-1, 1] (data scaled to [-1, 1], e.g. images) and recompute eps from it, as Ho et
            al.'s code does for images (default False).

    Returns:
        x_0, or (x_0, xs, ts) with ``frames``: as in :func:`ddpm_sample`.
    """
    _check_schedule(schedule)
    shape = _shape(shape)
    eta = v.positive_float(eta, "eta", allow_zero=True)
    frames = v.positive_int(frames, "frames", minimum=0)
    device = _device(eps_model, device)
    _eval(eps_model)
    taus = ddim_timesteps(schedule.T, steps).tolist()
    abar = schedule.alphas_cumprod
    x = torch.randn(shape, generator=generator).to(device)
    keep = _frames_at(len(taus), frames) if frames else set()
    xs, ts = [x.cpu()], [schedule.T]
    for i in tqdm(range(len(taus) - 1, -1, -1), desc="DDIM sampling", disable=not progress, leave=False):
        t = taus[i]
        a_t = float(abar[t])
        a_prev = float(abar[taus[i - 1]]) if i > 0 else 1.0
        eps = eps_model(x, torch.full((shape[0],), t, dtype=torch.long, device=device))
        x0_hat = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        if clip_x0:
            x0_hat = x0_hat.clamp(-1.0, 1.0)
            eps = (x - math.sqrt(a_t) * x0_hat) / math.sqrt(1 - a_t)
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        x = math.sqrt(a_prev) * x0_hat + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * torch.randn(shape, generator=generator).to(device)
        if len(taus) - 1 - i in keep:
            xs.append(x.cpu())
            ts.append(taus[i - 1] if i > 0 else 0)
    if frames:
        return x, torch.stack(xs), torch.tensor(ts)
    return x


def _device(eps_model, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(eps_model, torch.nn.Module):
        p = next(eps_model.parameters(), None)
        if p is not None:
            return p.device
    return torch.device("cpu")


def _eval(eps_model) -> None:
    if not callable(eps_model):
        raise TypeError(f"eps_model must be callable as eps_model(x_t, t), got {type(eps_model).__name__}")
    if isinstance(eps_model, torch.nn.Module):
        eps_model.eval()


# --- the exact denoiser for Gaussian data ----------------------------------------------------------------

def gaussian_optimal_eps(mean: torch.Tensor, cov: torch.Tensor, schedule: Schedule) -> EpsModel:
    """The optimal noise predictor for data x_0 ~ N(mean, cov), in closed form.

    With x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, x_t and eps are jointly Gaussian, and the
    minimiser of the simple loss is the conditional mean

    E[eps | x_t] = sqrt(1 - alpha_bar_t) (alpha_bar_t cov + (1 - alpha_bar_t) I)^{-1} (x_t - sqrt(alpha_bar_t) mean).

    A sampler run with it must reproduce N(mean, cov) (up to the discretisation error of its steps), so it
    tests samplers without any training.

    Args:
        mean: (D,); cov: (D, D) symmetric positive definite.

    Returns:
        ``eps_model(x_t, t)`` for x_t (B, D) (or (B, ...) with D elements per example) and t (B,) int64,
        returning a tensor shaped like x_t, in its dtype.
    """
    _check_schedule(schedule)
    v.float_tensor(mean, "mean", ndim=1)
    d = len(mean)
    v.float_tensor(cov, "cov", shape=(d, d))
    v.symmetric_positive_definite(cov, "cov")
    mean64, cov64 = mean.detach().double().cpu(), cov.detach().double().cpu()
    eye = torch.eye(d, dtype=torch.float64)
    abar = schedule.alphas_cumprod
    # one D x D gain matrix per timestep: K_t = sqrt(1 - abar_t) (abar_t cov + (1 - abar_t) I)^{-1}
    gains = (1 - abar).sqrt()[:, None, None] * torch.linalg.inv(abar[:, None, None] * cov64 + (1 - abar)[:, None, None] * eye)
    sqrt_abar = abar.sqrt()

    def eps_model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v.float_tensor(x_t, "x_t")
        _check_t(t, len(x_t), schedule.T)
        x = x_t.reshape(len(x_t), -1)
        if x.shape[1] != d:
            raise ValueError(f"x_t must have {d} values per example, got shape {tuple(x_t.shape)}")
        tc = t.cpu()
        centred = x.detach().double().cpu() - sqrt_abar[tc][:, None] * mean64
        eps = torch.einsum("bij,bj->bi", gains[tc], centred)
        return eps.to(dtype=x_t.dtype, device=x_t.device).reshape(x_t.shape)

    return eps_model


# --- training ------------------------------------------------------------------------------------------

def train_denoiser(eps_model: torch.nn.Module, x0: torch.Tensor, schedule: Schedule, steps: int = 2000,
                   batch_size: int = 256, lr: float = 1e-3, ema_decay: float | None = None, seed: int | None = 0,
                   device: torch.device | str | None = None, progress: bool = True, log_every: int = 50) -> dict:
    """Ho et al.'s Algorithm 1: ``steps`` Adam steps on :func:`diffusion_loss`, each on a minibatch drawn
    uniformly (with replacement) from ``x0``.

    Diffusion models are trained for a number of *steps* rather than epochs, on random minibatches, and
    usually sampled from an exponential moving average (EMA) of the weights (Ho et al. use decay 0.9999
    over 800k steps); ``ema_decay`` (e.g. 0.995 for a few thousand steps) copies that average into the
    model at the end. ``genedu.train.train`` works too, with ``loss_fn = lambda m, x: diffusion_loss(m, x, s)``.

    Args:
        eps_model: the network, called as ``eps_model(x_t, t)``; trained in place.
        x0: (N, ...) training data; schedule: from :func:`make_schedule`.
        steps, batch_size, lr: the usual (defaults 2000, 256, 1e-3); lr decays to 0 along a cosine.
        ema_decay: None (default: no averaging) or a decay in (0, 1).
        seed: seeds the minibatches, t and eps; device: default ``genedu.device()``; progress: a progress bar.
        log_every: record the mean loss of every ``log_every`` steps.

    Returns:
        history: {"loss": the mean loss of each block of ``log_every`` steps, "step": the step at each block's end}.
    """
    from genedu import device as default_device

    _check_schedule(schedule)
    v.float_tensor(x0, "x0")
    if not isinstance(eps_model, torch.nn.Module):
        raise TypeError(f"eps_model must be a torch.nn.Module, got {type(eps_model).__name__}")
    steps = v.positive_int(steps, "steps")
    batch_size = v.positive_int(batch_size, "batch_size")
    lr = v.positive_float(lr, "lr")
    log_every = v.positive_int(log_every, "log_every")
    if ema_decay is not None and not 0 < float(ema_decay) < 1:
        raise ValueError(f"ema_decay must be None or in (0, 1), got {ema_decay}")
    device = torch.device(device) if device is not None else default_device()
    eps_model.to(device).train()
    data = x0.to(device)
    g = v.generator(v.optional_seed(seed))
    opt = torch.optim.Adam(eps_model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    ema = [p.detach().clone() for p in eps_model.parameters()] if ema_decay is not None else None
    history: dict[str, list] = {"loss": [], "step": []}
    running, count = 0.0, 0
    bar = tqdm(range(steps), desc="training", disable=not progress, leave=False)
    for step in bar:
        batch = data[torch.randint(len(data), (batch_size,), generator=g).to(device)]
        loss = diffusion_loss(eps_model, batch, schedule, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema, eps_model.parameters()):
                    e.lerp_(p.detach(), 1 - float(ema_decay))
        running += loss.item()
        count += 1
        if count == log_every or step == steps - 1:
            history["loss"].append(running / count)
            history["step"].append(step + 1)
            bar.set_postfix(loss=f"{running / count:.4f}")
            running, count = 0.0, 0
    if ema is not None:
        with torch.no_grad():
            for e, p in zip(ema, eps_model.parameters()):
                p.copy_(e)
    eps_model.eval()
    return history
