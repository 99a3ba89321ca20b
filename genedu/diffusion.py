"""Denoising diffusion models (chapter 7): noise schedules, the forward process, the loss, samplers.

Notation follows Ho et al. (2020), "Denoising Diffusion Probabilistic Models" (DDPM):

- the forward process adds Gaussian noise in ``T`` steps, q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I);
- alpha_t = 1 - beta_t and alpha_bar_t = prod_{s <= t} alpha_s (``alphas_cumprod``), so that in closed form
  q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)  (:func:`q_sample`);
- a network eps_theta(x_t, t) predicts the noise; the simple loss is E ||eps - eps_theta(x_t, t)||^2
  (Algorithm 1, :func:`diffusion_loss`); ancestral sampling runs the reverse chain (Algorithm 2,
  :func:`p_sample_step`, :func:`ddpm_sample`); DDIM (Song et al. 2021) samples deterministically with
  fewer steps (:func:`ddim_step`, :func:`ddim_sample`).

**Time indexing.** As in Ho et al.'s code and in diffusers, timesteps are *array indices*
``t = 0, ..., T - 1``: index ``t`` is the paper's step ``t + 1``. So ``betas[0]`` is the paper's beta_1,
``alphas_cumprod[t]`` is alpha_bar_{t+1}, the last reverse step is ``t = 0`` (the paper's t = 1, where no
noise is added), and ``alphas_cumprod_prev[0] = 1`` (alpha_bar_0 = 1: x_0 is the data).

**Samplers, as in diffusers.** A step function takes x_t and returns a :class:`StepOutput`, the previous
sample and the network's prediction of x_0 (diffusers' ``prev_sample`` and ``pred_original_sample``):
:func:`p_sample_step` (DDPM) and :func:`ddim_step` (DDIM). One loop runs either from x_T ~ N(0, I):
:func:`ddpm_sample` and :func:`ddim_sample` return the samples x_0, :func:`ddpm_trajectory` and
:func:`ddim_trajectory` also the states and predictions along the way (a :class:`Trajectory`).
Arguments are checked once, by the public functions; the loops call unchecked internals, so a
1000-step run does not validate 1000 times, and the training loss does not synchronise with the GPU
to check its timesteps.

**Randomness** follows :mod:`genedu.runtime`: every function that draws takes ``generator`` and draws on
the generator's device, then moves the numbers to where the model runs (None: torch's global generator of
that device).

- :func:`linear_beta_schedule`, :func:`cosine_beta_schedule`  the betas of Ho et al. and of Nichol & Dhariwal
- :class:`Schedule` ``(betas)``  the betas and every derived quantity, under the papers' names; :func:`snr`
- :func:`q_sample`, :func:`q_posterior_mean_variance`, :func:`predict_x0_from_eps`, :func:`extract`
- :func:`diffusion_loss`  the simple epsilon-prediction loss (Algorithm 1); :func:`train_denoiser` its training loop
- :func:`p_mean_variance`, :func:`p_sample_step`, :func:`ddim_step`  one reverse step
- :func:`ddpm_sample` (Algorithm 2), :func:`ddim_sample`, :func:`ddim_timesteps`; :func:`ddpm_trajectory`,
  :func:`ddim_trajectory`
- :func:`gaussian_optimal_eps`  the exact optimal noise predictor for Gaussian data (tests the samplers
  without any training)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

import torch
from tqdm.auto import tqdm

from genedu import _validate as v
from genedu import runtime
from genedu.train import loop

__all__ = ["Schedule", "StepOutput", "Trajectory", "linear_beta_schedule", "cosine_beta_schedule", "snr", "extract",
           "q_sample", "q_posterior_mean_variance", "predict_x0_from_eps", "diffusion_loss", "p_mean_variance",
           "p_sample_step", "ddim_step", "ddpm_sample", "ddpm_trajectory", "ddim_timesteps", "ddim_sample",
           "ddim_trajectory", "gaussian_optimal_eps", "train_denoiser"]

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --- schedules -----------------------------------------------------------------------------------------

def linear_beta_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """The linear schedule of Ho et al. (2020): beta_t evenly spaced from ``beta_start`` to ``beta_end``.

    Args:
        T: number of diffusion steps (default 1000, as in the paper).
        beta_start: the first beta (default 1e-4, the paper's).
        beta_end: the last beta (default 0.02, the paper's).

    Returns:
        the betas, a (T,) float64 tensor.
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
        T: number of diffusion steps (default 1000).
        s: the offset (default 0.008).
        max_beta: the clip (default 0.999).

    Returns:
        the betas, a (T,) float64 tensor (``betas[i]`` is the paper's beta_{i+1}).
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


_DERIVED = dict(init=False, repr=False)


@dataclass(frozen=True, eq=False)
class Schedule:
    """A noise schedule: the betas, and every quantity derived from them, as (T,) float64 CPU tensors
    (Ho et al. 2020; the names are those of their code and of diffusers).

    ``Schedule(betas)`` checks the betas and computes the rest once. Index ``t`` (0 <= t < T) is the
    paper's step t + 1.

    Args:
        betas: (T,) floating tensor of values in (0, 1], e.g. from :func:`linear_beta_schedule`; it is copied
            (as float64, on the CPU).

    Attributes:
        betas: beta_t, the variance of the noise added at step t.
        alphas: alpha_t = 1 - beta_t.
        alphas_cumprod: alpha_bar_t = prod_{s <= t} alpha_s.
        alphas_cumprod_prev: alpha_bar_{t-1}, with alpha_bar before the first step = 1.
        sqrt_alphas_cumprod: sqrt(alpha_bar_t).
        sqrt_one_minus_alphas_cumprod: sqrt(1 - alpha_bar_t).
        posterior_variance: beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t (eq. 7; 0 at t = 0).
        posterior_mean_coef1: sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t), the weight of x_0 in eq. 7.
        posterior_mean_coef2: sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t), the weight of x_t.

    Raises:
        TypeError: if ``betas`` is not a floating tensor.
        ValueError: if it is not one-dimensional, is empty, or has a value outside (0, 1].
    """

    betas: torch.Tensor
    alphas: torch.Tensor = field(**_DERIVED)
    alphas_cumprod: torch.Tensor = field(**_DERIVED)
    alphas_cumprod_prev: torch.Tensor = field(**_DERIVED)
    sqrt_alphas_cumprod: torch.Tensor = field(**_DERIVED)
    sqrt_one_minus_alphas_cumprod: torch.Tensor = field(**_DERIVED)
    posterior_variance: torch.Tensor = field(**_DERIVED)
    posterior_mean_coef1: torch.Tensor = field(**_DERIVED)
    posterior_mean_coef2: torch.Tensor = field(**_DERIVED)

    def __post_init__(self) -> None:
        v.float_tensor(self.betas, "betas", ndim=1)
        betas = self.betas.detach().to("cpu", torch.float64).clone()
        if len(betas) == 0 or not bool(((betas > 0) & (betas <= 1)).all()):
            raise ValueError("betas must be a non-empty tensor of values in (0, 1]")
        alphas = 1 - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        derived = {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": alphas_cumprod_prev,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - alphas_cumprod).sqrt(),
            "posterior_variance": betas * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod),
            "posterior_mean_coef1": betas * alphas_cumprod_prev.sqrt() / (1 - alphas_cumprod),
            "posterior_mean_coef2": (1 - alphas_cumprod_prev) * alphas.sqrt() / (1 - alphas_cumprod),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)   # frozen: set once, here

    @property
    def T(self) -> int:
        """The number of diffusion steps."""
        return len(self.betas)

    def __repr__(self) -> str:
        return (f"Schedule(T={self.T}, beta from {float(self.betas[0]):.3g} to {float(self.betas[-1]):.3g}, "
                f"alpha_bar_T={float(self.alphas_cumprod[-1]):.3g})")


def snr(schedule: Schedule) -> torch.Tensor:
    """The signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) of q(x_t | x_0).

    Args:
        schedule: a :class:`Schedule`.

    Returns:
        a (T,) float64 tensor.
    """
    _check_schedule(schedule)
    return schedule.alphas_cumprod / (1 - schedule.alphas_cumprod)


# --- what the steps return -----------------------------------------------------------------------------

class StepOutput(NamedTuple):
    """What one reverse step returns (diffusers' ``prev_sample`` and ``pred_original_sample``).

    Attributes:
        x_prev: the sample one step earlier in the chain, shaped like x_t.
        x0_pred: the network's prediction of x_0 from x_t, (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t),
            shaped like x_t.
    """

    x_prev: torch.Tensor
    x0_pred: torch.Tensor


class Trajectory(NamedTuple):
    """A sampling run with some of its intermediate states (:func:`ddpm_trajectory`, :func:`ddim_trajectory`).

    Attributes:
        x0: the samples, (n, ...) on the sampler's device (what the matching ``*_sample`` returns).
        xs: (F + 1, n, ...) the recorded states on the CPU, from the starting noise x_T to the samples x_0.
        ts: (F + 1,) int64, the timestep of each state, the paper's t: T for the noise, 0 for the samples
            (a state with timestep t has the noise level alpha_bar of index t - 1).
        x0_preds: (F + 1, n, ...) on the CPU, the network's prediction of x_0 from each state (the last one is
            the samples themselves).
    """

    x0: torch.Tensor
    xs: torch.Tensor
    ts: torch.Tensor
    x0_preds: torch.Tensor


# --- argument checks (at the boundary: the public functions) -------------------------------------------

def _check_schedule(schedule) -> None:
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a genedu.diffusion.Schedule (Schedule(betas)), got {type(schedule).__name__}")


def _check_t(t: torch.Tensor, batch: int, T: int, name: str = "t") -> torch.Tensor:
    """A (batch,) integer tensor of timesteps in 0 .. T - 1. The range check reads the values (one
    synchronisation on a GPU): public functions only, never a loop's internals."""
    v.int_tensor(t, name, ndim=1)
    if len(t) != batch:
        raise ValueError(f"{name} must hold one timestep per example ({batch}), got shape {tuple(t.shape)}")
    if len(t) and bool(((t < 0) | (t >= T)).any()):
        raise ValueError(f"{name} must lie in 0 .. T - 1 = {T - 1}, got values from {int(t.min())} to {int(t.max())}")
    return t


def _int_t(t, T: int, name: str = "t", minimum: int = 0) -> int:
    if isinstance(t, torch.Tensor) and t.dim() == 0 and not t.is_floating_point() and t.dtype != torch.bool:
        t = int(t)
    t = v.positive_int(t, name, minimum=minimum)
    if t >= T:
        raise ValueError(f"{name} must lie in {minimum} .. T - 1 = {T - 1}, got {t}")
    return t


def _check_model(eps_model) -> None:
    if not callable(eps_model):
        raise TypeError(f"eps_model must be callable as eps_model(x_t, t), got {type(eps_model).__name__}")


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _check_noise(z, x_t: torch.Tensor, name: str = "z") -> None:
    v.float_tensor(z, name, shape=tuple(x_t.shape))


# --- the forward process ---------------------------------------------------------------------------------

def extract(a: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``a[t]`` shaped to broadcast against ``x``, in x's dtype and on its device.

    Args:
        a: (T,) a schedule's tensor, e.g. ``schedule.alphas_cumprod``.
        t: (B,) integer timesteps in 0 .. T - 1 (not checked).
        x: (B, ...) the tensor the result multiplies.

    Returns:
        a (B, 1, ..., 1) tensor with as many dimensions as ``x``.
    """
    out = a.to(x.device)[t.to(x.device)].to(x.dtype)
    return out.reshape(len(t), *([1] * (x.dim() - 1)))


def _q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """:func:`q_sample` without its checks."""
    return extract(schedule.sqrt_alphas_cumprod, t, x0) * x0 + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * noise


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """A sample of q(x_t | x_0) in closed form: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise
    (Ho et al. 2020, eq. 4).

    Args:
        x0: (B, ...) data.
        t: (B,) integer timesteps in 0 .. T - 1, one per example.
        noise: standard normal noise, shaped like ``x0``.
        schedule: a :class:`Schedule`.

    Returns:
        x_t, shaped like ``x0``.

    Raises:
        TypeError, ValueError: for a wrong type, shape or range of an argument (named in the message).
    """
    _check_schedule(schedule)
    v.float_tensor(x0, "x0")
    v.float_tensor(noise, "noise", shape=tuple(x0.shape))
    _check_t(t, len(x0), schedule.T)
    return _q_sample(x0, t, noise, schedule)


def q_posterior_mean_variance(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward-process posterior q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde I) (Ho et al., eqs. 6-7).

    mu_tilde = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t,
    beta_tilde = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.

    Args:
        x0: (B, ...) clean data (or a prediction of it).
        x_t: (B, ...) noisy data at timesteps ``t``, shaped like ``x0``.
        t: (B,) integer timesteps in 0 .. T - 1.
        schedule: a :class:`Schedule`.

    Returns:
        the mean, shaped like ``x_t``, and the variance, (B, 1, ..., 1), broadcastable against it.
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
        x_t: (B, ...) noisy data.
        t: (B,) integer timesteps in 0 .. T - 1.
        eps: the noise (or the network's prediction of it), shaped like ``x_t``.
        schedule: a :class:`Schedule`.

    Returns:
        x_0, shaped like ``x_t``.
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

    The timesteps it draws are in range by construction: it checks no values (no GPU synchronisation).

    Args:
        eps_model: called as ``eps_model(x_t, t)`` with x_t (B, ...) and t (B,) int64; returns (B, ...).
        x0: (B, ...) data.
        schedule: a :class:`Schedule`.
        generator: draws t, then eps (on the generator's device, then moved to x0's; default None, the
            global generator of x0's device).

    Returns:
        the scalar loss, a 0-d tensor (differentiable in the model's parameters).
    """
    _check_schedule(schedule)
    v.float_tensor(x0, "x0")
    _check_model(eps_model)
    _check_generator(generator)
    t = runtime.randint(schedule.T, (len(x0),), generator=generator, device=x0.device)
    noise = runtime.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = _q_sample(x0, t, noise, schedule)
    return ((noise - eps_model(x_t, t)) ** 2).mean()


# --- one reverse step ----------------------------------------------------------------------------------

def _variance(schedule: Schedule, variance: str) -> torch.Tensor:
    if variance == "beta":
        return schedule.betas
    if variance == "posterior":
        return schedule.posterior_variance
    raise ValueError(f"variance must be 'beta' (sigma_t^2 = beta_t) or 'posterior' (beta_tilde_t), got {variance!r}")


def _eps(eps_model: EpsModel, x_t: torch.Tensor, t: int) -> torch.Tensor:
    return eps_model(x_t, torch.full((len(x_t),), t, dtype=torch.long, device=x_t.device))


# The internals below take the schedule's values at t as Python floats (beta_t, alpha_t, alpha_bar_t), which the
# loops read once per run (``tolist``): a step does no indexing of the schedule and no transfer to the device.

def _reverse_mean(x_t: torch.Tensor, eps: torch.Tensor, beta: float, alpha: float, abar: float) -> torch.Tensor:
    """mu_theta of Ho et al.'s eq. 11."""
    return (x_t - beta / math.sqrt(1 - abar) * eps) / math.sqrt(alpha)


def _x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, abar: float) -> torch.Tensor:
    """:func:`predict_x0_from_eps` for one timestep."""
    return (x_t - math.sqrt(1 - abar) * eps) / math.sqrt(abar)


def _p_sample_step(eps_model: EpsModel, x_t: torch.Tensor, t: int, beta: float, alpha: float, abar: float,
                   sigma, z: torch.Tensor | None) -> StepOutput:
    """:func:`p_sample_step` without its checks; ``sigma`` is sigma_t (a float or a 0-d tensor in x_t's dtype)."""
    eps = _eps(eps_model, x_t, t)
    mean = _reverse_mean(x_t, eps, beta, alpha, abar)
    x0_pred = _x0_from_eps(x_t, eps, abar)
    if t == 0:
        return StepOutput(mean, x0_pred)
    return StepOutput(mean + sigma * z, x0_pred)


def _at(schedule: Schedule, t: int) -> tuple[float, float, float]:
    return float(schedule.betas[t]), float(schedule.alphas[t]), float(schedule.alphas_cumprod[t])


def p_mean_variance(eps_model: EpsModel, x_t: torch.Tensor, t: int, schedule: Schedule, variance: str = "beta"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The reverse step's Gaussian p(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I) (Ho et al., eq. 11):

    mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t).

    Args:
        eps_model: ``eps_model(x_t, t)`` with t a (B,) int64 tensor.
        x_t: (B, ...) the current sample.
        t: one int in 0 .. T - 1.
        schedule: a :class:`Schedule`.
        variance: "beta" (sigma_t^2 = beta_t, default) or "posterior" (sigma_t^2 = beta_tilde_t); Ho et al.
            report similar results with both.

    Returns:
        the mean, shaped like ``x_t``, and the variance sigma_t^2, a 0-d tensor in x_t's dtype.
    """
    _check_schedule(schedule)
    v.float_tensor(x_t, "x_t")
    _check_model(eps_model)
    t = _int_t(t, schedule.T)
    variances = _variance(schedule, variance)
    mean = _reverse_mean(x_t, _eps(eps_model, x_t, t), *_at(schedule, t))
    return mean, variances[t].to(x_t.dtype)


def p_sample_step(eps_model: EpsModel, x_t: torch.Tensor, t: int, schedule: Schedule,
                  z: torch.Tensor | None = None, variance: str = "beta") -> StepOutput:
    """One step of ancestral sampling (Ho et al. 2020, Algorithm 2, line 4):
    x_{t-1} = mu_theta(x_t, t) + sigma_t z, with no noise at the last step (t = 0 here, the paper's t = 1).

    Args:
        eps_model: ``eps_model(x_t, t)`` with t a (B,) int64 tensor.
        x_t: (B, ...) the current sample.
        t: one int in 0 .. T - 1.
        schedule: a :class:`Schedule`.
        z: standard normal noise shaped like ``x_t``, needed when t > 0 (default None; ignored at t = 0).
        variance: "beta" (sigma_t^2 = beta_t, default) or "posterior" (beta_tilde_t).

    Returns:
        a :class:`StepOutput` ``(x_prev, x0_pred)``: x_{t-1} and the predicted x_0
        (:func:`predict_x0_from_eps` with the network's eps), both shaped like ``x_t``.
    """
    _check_schedule(schedule)
    v.float_tensor(x_t, "x_t")
    _check_model(eps_model)
    t = _int_t(t, schedule.T)
    if t > 0 or z is not None:
        if z is None:
            raise ValueError(f"z must be noise shaped like x_t {tuple(x_t.shape)} at t = {t} > 0, got None")
        _check_noise(z, x_t)
    sigma = _variance(schedule, variance)[t].to(x_t.dtype).sqrt()
    return _p_sample_step(eps_model, x_t, t, *_at(schedule, t), sigma, z)


def _ddim_sigma(a_t: float, a_prev: float, eta: float) -> float:
    return eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))


def _ddim_step(eps_model: EpsModel, x_t: torch.Tensor, t: int, a_t: float, a_prev: float, eta: float,
               z: torch.Tensor | None, clip_x0: bool) -> StepOutput:
    """:func:`ddim_step` without its checks, with alpha_bar_t and alpha_bar_prev as floats (``z`` is used
    only when sigma > 0)."""
    eps = _eps(eps_model, x_t, t)
    x0_hat = (x_t - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        eps = (x_t - math.sqrt(a_t) * x0_hat) / math.sqrt(1 - a_t)
    sigma = _ddim_sigma(a_t, a_prev, eta)
    x_prev = math.sqrt(a_prev) * x0_hat + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
    if sigma > 0:
        x_prev = x_prev + sigma * z
    return StepOutput(x_prev, x0_hat)


def ddim_step(eps_model: EpsModel, x_t: torch.Tensor, t: int, t_prev: int, schedule: Schedule, eta: float = 0.0,
              z: torch.Tensor | None = None, clip_x0: bool = False) -> StepOutput:
    """One DDIM step from timestep t to an earlier t_prev (Song et al. 2021, eq. 12):

    x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t),
    x_prev = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps + sigma z,

    with eps = eps_theta(x_t, t), alpha_bar_prev = alphas_cumprod[t_prev] (1 for t_prev = -1: the last step
    lands on the data) and sigma = eta sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_prev).
    ``eta = 0`` (default) is deterministic; ``eta = 1`` with t_prev = t - 1 is DDPM's step with sigma^2 = beta_tilde_t.

    Args:
        eps_model: ``eps_model(x_t, t)`` with t a (B,) int64 tensor.
        x_t: (B, ...) the current sample.
        t: one int in 0 .. T - 1.
        t_prev: the timestep to step to, in -1 .. t - 1 (-1: to the data, alpha_bar_prev = 1).
        schedule: a :class:`Schedule`.
        eta: the noise level, >= 0 (default 0).
        z: standard normal noise shaped like ``x_t``, needed when sigma > 0 (eta > 0 and t_prev >= 0).
        clip_x0: clip x0_hat to [-1, 1] (data scaled to [-1, 1], e.g. images) and recompute eps from it, as Ho et
            al.'s code does for images (default False).

    Returns:
        a :class:`StepOutput` ``(x_prev, x0_pred)``: the sample at t_prev and x0_hat (clipped with ``clip_x0``),
        both shaped like ``x_t``.
    """
    _check_schedule(schedule)
    v.float_tensor(x_t, "x_t")
    _check_model(eps_model)
    t = _int_t(t, schedule.T)
    t_prev = _int_t(t_prev, schedule.T, "t_prev", minimum=-1)
    if t_prev >= t:
        raise ValueError(f"t_prev must be earlier than t = {t} (-1 for the last step), got {t_prev}")
    eta = v.positive_float(eta, "eta", allow_zero=True)
    a_t = float(schedule.alphas_cumprod[t])
    a_prev = float(schedule.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
    if z is not None:
        _check_noise(z, x_t)
    elif _ddim_sigma(a_t, a_prev, eta) > 0:
        raise ValueError(f"z is needed: with eta = {eta} the step from t = {t} to t_prev = {t_prev} adds noise "
                         "(pass z = torch.randn_like(x_t), or eta = 0)")
    return _ddim_step(eps_model, x_t, t, a_t, a_prev, eta, z, bool(clip_x0))


# --- the sampling loop ---------------------------------------------------------------------------------

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


def _device(eps_model, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(eps_model, torch.nn.Module):
        p = next(eps_model.parameters(), None)
        if p is not None:
            return p.device
    return torch.device("cpu")


def _eval(eps_model) -> None:
    _check_model(eps_model)
    if isinstance(eps_model, torch.nn.Module):
        eps_model.eval()


def _sample_loop(step: Callable[[torch.Tensor, int, int], StepOutput], pairs: Sequence[tuple[int, int]],
                 shape: tuple[int, ...], T: int, generator: torch.Generator | None, device: torch.device,
                 progress: bool, frames: int, desc: str) -> Trajectory:
    """The one sampling loop: x_T ~ N(0, I), then ``x = step(x, t, t_prev).x_prev`` for each (t, t_prev) of
    ``pairs``. Nothing is checked here. With ``frames`` > 0 it records x_T and the state after ``frames`` of the
    steps (evenly spaced, the last included), each with the prediction of x_0 the next step makes from it;
    with 0 the trajectory's xs, ts and x0_preds are empty."""
    x = runtime.randn(shape, generator=generator, device=device)
    keep = _frames_at(len(pairs), frames) if frames else set()
    xs, ts, x0_preds = ([x.cpu()], [T], []) if frames else ([], [], [])
    pending = bool(frames)                # a recorded state waits for its prediction of x_0
    for i, (t, t_prev) in enumerate(tqdm(pairs, desc=desc, disable=not progress, leave=False)):
        x, x0_pred = step(x, t, t_prev)
        if pending:
            x0_preds.append(x0_pred.cpu())
            pending = False
        if i in keep:
            xs.append(x.cpu())
            ts.append(t_prev + 1)
            pending = True
    if pending:
        x0_preds.append(x.cpu())           # the samples are their own prediction
    if not frames:
        empty = torch.empty(0)
        return Trajectory(x, empty, torch.empty(0, dtype=torch.long), empty)
    return Trajectory(x, torch.stack(xs), torch.tensor(ts), torch.stack(x0_preds))


def _frames(frames, steps: int) -> int:
    """``frames`` checked against the number of steps; None (the samplers: record nothing) is 0."""
    if frames is None:
        return 0
    frames = v.positive_int(frames, "frames")
    if frames > steps:
        raise ValueError(f"frames must be at most the number of steps ({steps}), got {frames}")
    return frames


def _ddpm(eps_model, shape, schedule, generator, variance, device, progress, frames) -> Trajectory:
    """Checks the arguments of :func:`ddpm_sample` / :func:`ddpm_trajectory` once, then runs the loop."""
    _check_schedule(schedule)
    shape = _shape(shape)
    _check_generator(generator)
    variances = _variance(schedule, variance)
    frames = _frames(frames, schedule.T)
    device = _device(eps_model, device)
    _eval(eps_model)

    betas, alphas, abar = schedule.betas.tolist(), schedule.alphas.tolist(), schedule.alphas_cumprod.tolist()
    sigmas: dict[torch.dtype, list[float]] = {}        # sigma_t in each dtype x takes (rounded as in p_sample_step)

    def step(x, t, t_prev):
        z = runtime.randn(shape, generator=generator, device=device) if t > 0 else None
        if x.dtype not in sigmas:
            sigmas[x.dtype] = variances.to(x.dtype).sqrt().tolist()
        return _p_sample_step(eps_model, x, t, betas[t], alphas[t], abar[t], sigmas[x.dtype][t], z)

    pairs = [(t, t - 1) for t in range(schedule.T - 1, -1, -1)]
    return _sample_loop(step, pairs, shape, schedule.T, generator, device, progress, frames, "DDPM sampling")


@torch.no_grad()
def ddpm_sample(eps_model: EpsModel, shape: Sequence[int], schedule: Schedule, generator: torch.Generator | None = None,
                variance: str = "beta", device: torch.device | str | None = None, progress: bool = True) -> torch.Tensor:
    """Ancestral sampling, DDPM Algorithm 2: x_T ~ N(0, I), then T reverse steps :func:`p_sample_step`.

    Args:
        eps_model: ``eps_model(x_t, t)`` (a module is switched to eval mode).
        shape: (n, ...) the shape of the batch to generate, e.g. (2000, 2) or (16, 1, 28, 28).
        schedule: a :class:`Schedule`.
        generator: draws x_T, then z for every step but the last (on the generator's device; default None,
            the global generator of the model's device).
        variance: "beta" (sigma_t^2 = beta_t, default) or "posterior" (beta_tilde_t).
        device: where to run (default: the model's device, else the CPU).
        progress: show a progress bar (default True).

    Returns:
        the samples x_0, a ``shape`` tensor on ``device``.
    """
    return _ddpm(eps_model, shape, schedule, generator, variance, device, progress, None).x0


@torch.no_grad()
def ddpm_trajectory(eps_model: EpsModel, shape: Sequence[int], schedule: Schedule,
                    generator: torch.Generator | None = None, variance: str = "beta",
                    device: torch.device | str | None = None, progress: bool = True, frames: int = 10) -> Trajectory:
    """:func:`ddpm_sample`, recording ``frames`` intermediate states and their predictions of x_0.

    The same generator gives the same samples as :func:`ddpm_sample`.

    Args:
        eps_model: ``eps_model(x_t, t)`` (a module is switched to eval mode).
        shape: (n, ...) the shape of the batch to generate.
        schedule: a :class:`Schedule`.
        generator: as in :func:`ddpm_sample`.
        variance: "beta" (default) or "posterior".
        device: where to run (default: the model's device, else the CPU).
        progress: show a progress bar (default True).
        frames: how many states to record after x_T, evenly spaced in the T steps, the last being x_0
            (1 .. T, default 10).

    Returns:
        a :class:`Trajectory` ``(x0, xs, ts, x0_preds)``: the samples (``shape``, on ``device``), the states
        (frames + 1, *shape) from x_T to x_0 and the predictions of x_0 from each, on the CPU, and their
        timesteps (frames + 1,).
    """
    return _ddpm(eps_model, shape, schedule, generator, variance, device, progress, frames)


def ddim_timesteps(T: int, steps: int) -> torch.Tensor:
    """The increasing subsequence tau of ``steps`` timesteps in 0 .. T - 1 that DDIM visits: evenly spaced,
    from 0 to T - 1 (both included when steps >= 2).

    Args:
        T: the schedule's number of steps.
        steps: how many timesteps to visit, 1 .. T.

    Returns:
        a (steps,) int64 tensor.
    """
    T = v.positive_int(T, "T")
    steps = v.positive_int(steps, "steps")
    if steps > T:
        raise ValueError(f"steps must be at most T = {T}, got {steps}")
    return torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long()


def _ddim(eps_model, shape, schedule, steps, eta, generator, device, progress, clip_x0, frames) -> Trajectory:
    """Checks the arguments of :func:`ddim_sample` / :func:`ddim_trajectory` once, then runs the loop."""
    _check_schedule(schedule)
    shape = _shape(shape)
    eta = v.positive_float(eta, "eta", allow_zero=True)
    _check_generator(generator)
    taus = ddim_timesteps(schedule.T, steps).tolist()
    frames = _frames(frames, len(taus))
    device = _device(eps_model, device)
    _eval(eps_model)
    clip_x0 = bool(clip_x0)

    abar = schedule.alphas_cumprod.tolist()

    def step(x, t, t_prev):
        a_t, a_prev = abar[t], (abar[t_prev] if t_prev >= 0 else 1.0)
        z = runtime.randn(shape, generator=generator, device=device) if _ddim_sigma(a_t, a_prev, eta) > 0 else None
        return _ddim_step(eps_model, x, t, a_t, a_prev, eta, z, clip_x0)

    pairs = [(taus[i], taus[i - 1] if i > 0 else -1) for i in range(len(taus) - 1, -1, -1)]
    return _sample_loop(step, pairs, shape, schedule.T, generator, device, progress, frames, "DDIM sampling")


@torch.no_grad()
def ddim_sample(eps_model: EpsModel, shape: Sequence[int], schedule: Schedule, steps: int = 50, eta: float = 0.0,
                generator: torch.Generator | None = None, device: torch.device | str | None = None,
                progress: bool = True, clip_x0: bool = False) -> torch.Tensor:
    """DDIM sampling (Song et al. 2021): x_T ~ N(0, I), then one :func:`ddim_step` for each timestep
    tau_S > ... > tau_1 of :func:`ddim_timesteps`, to the previous one (after tau_1, to the data).

    ``eta = 0`` (default) is deterministic given x_T; ``eta = 1`` with all T steps is DDPM with sigma^2 = beta_tilde.

    Args:
        eps_model: ``eps_model(x_t, t)`` (a module is switched to eval mode).
        shape: (n, ...) the shape of the batch to generate.
        schedule: a :class:`Schedule`.
        steps: the number of network evaluations, 1 .. T (default 50).
        eta: the noise level, >= 0 (default 0).
        generator: draws x_T, then (when eta > 0) the noise of every step but the last (on the generator's
            device; default None, the global generator of the model's device).
        device: where to run (default: the model's device, else the CPU).
        progress: show a progress bar (default True).
        clip_x0: clip x0_hat to [-1, 1] (data scaled to [-1, 1], e.g. images) and recompute eps from it, as Ho et
            al.'s code does for images (default False).

    Returns:
        the samples x_0, a ``shape`` tensor on ``device``.
    """
    return _ddim(eps_model, shape, schedule, steps, eta, generator, device, progress, clip_x0, None).x0


@torch.no_grad()
def ddim_trajectory(eps_model: EpsModel, shape: Sequence[int], schedule: Schedule, steps: int = 50, eta: float = 0.0,
                    generator: torch.Generator | None = None, device: torch.device | str | None = None,
                    progress: bool = True, clip_x0: bool = False, frames: int = 10) -> Trajectory:
    """:func:`ddim_sample`, recording ``frames`` intermediate states and their predictions of x_0.

    The same generator gives the same samples as :func:`ddim_sample`.

    Args:
        eps_model: as in :func:`ddim_sample`.
        shape: as in :func:`ddim_sample`.
        schedule: as in :func:`ddim_sample`.
        steps: as in :func:`ddim_sample` (default 50).
        eta: as in :func:`ddim_sample` (default 0).
        generator: as in :func:`ddim_sample`.
        device: as in :func:`ddim_sample`.
        progress: show a progress bar (default True).
        clip_x0: as in :func:`ddim_sample` (default False).
        frames: how many states to record after x_T, evenly spaced in the steps, the last being x_0
            (1 .. steps, default 10).

    Returns:
        a :class:`Trajectory` ``(x0, xs, ts, x0_preds)``: the samples (``shape``, on ``device``), the states
        (frames + 1, *shape) from x_T to x_0 and the predictions of x_0 from each, on the CPU, and their
        timesteps (frames + 1,).
    """
    return _ddim(eps_model, shape, schedule, steps, eta, generator, device, progress, clip_x0, frames)


# --- the exact denoiser for Gaussian data ----------------------------------------------------------------

def gaussian_optimal_eps(mean: torch.Tensor, cov: torch.Tensor, schedule: Schedule) -> EpsModel:
    """The optimal noise predictor for data x_0 ~ N(mean, cov), in closed form.

    With x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, x_t and eps are jointly Gaussian, and the
    minimiser of the simple loss is the conditional mean

    E[eps | x_t] = sqrt(1 - alpha_bar_t) (alpha_bar_t cov + (1 - alpha_bar_t) I)^{-1} (x_t - sqrt(alpha_bar_t) mean).

    A sampler run with it must reproduce N(mean, cov) (up to the discretisation error of its steps), so it
    tests samplers without any training.

    Args:
        mean: (D,) the data's mean.
        cov: (D, D) the data's covariance, symmetric positive definite.
        schedule: a :class:`Schedule`.

    Returns:
        ``eps_model(x_t, t)`` for x_t (B, D) (or (B, ...) with D elements per example) and t (B,) integer
        timesteps, returning a tensor shaped like x_t, in its dtype and on its device (it computes in float64
        on the CPU).
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
    T = schedule.T

    def eps_model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v.float_tensor(x_t, "x_t")
        v.int_tensor(t, "t", ndim=1)
        x = x_t.reshape(len(x_t), -1)
        if x.shape[1] != d or len(t) != len(x_t):
            raise ValueError(f"x_t must have {d} values per example and t one timestep per example, got shapes "
                             f"{tuple(x_t.shape)} and {tuple(t.shape)}")
        tc = t.cpu()                               # computed on the CPU anyway: the range check costs no sync
        if len(tc) and bool(((tc < 0) | (tc >= T)).any()):
            raise ValueError(f"t must lie in 0 .. T - 1 = {T - 1}, got values from {int(tc.min())} to {int(tc.max())}")
        centred = x.detach().double().cpu() - sqrt_abar[tc][:, None] * mean64
        eps = torch.einsum("bij,bj->bi", gains[tc], centred)
        return eps.to(dtype=x_t.dtype, device=x_t.device).reshape(x_t.shape)

    return eps_model


# --- training ------------------------------------------------------------------------------------------

def train_denoiser(eps_model: torch.nn.Module, x0: torch.Tensor, schedule: Schedule, steps: int = 2000,
                   batch_size: int = 256, lr: float = 1e-3, ema_decay: float | None = None, seed: int | None = 0,
                   device: torch.device | str | None = None, progress: bool = True, log_every: int = 50,
                   callback: Callable | None = None) -> dict[str, list]:
    """Ho et al.'s Algorithm 1: ``steps`` Adam steps on :func:`diffusion_loss`, each on a minibatch drawn
    uniformly (with replacement) from ``x0``, one step of ``genedu.train.loop`` each.

    Diffusion models are trained for a number of *steps* rather than epochs, on random minibatches, and
    usually sampled from an exponential moving average (EMA) of the weights (Ho et al. use decay 0.9999
    over 800k steps); ``ema_decay`` (e.g. 0.995 for a few thousand steps) copies that average into the
    model at the end. ``genedu.train.train`` works too, with ``loss_fn = lambda m, x: diffusion_loss(m, x, s)``.

    Args:
        eps_model: the network, called as ``eps_model(x_t, t)``; trained in place.
        x0: (N, ...) training data.
        schedule: a :class:`Schedule`.
        steps: the number of Adam steps (default 2000).
        batch_size: examples per minibatch (default 256).
        lr: Adam's learning rate (default 1e-3), decayed to 0 along a cosine.
        ema_decay: None (default: no averaging) or a decay in (0, 1).
        seed: seeds the minibatches, t and eps (default 0; None: not seeded).
        device: default ``genedu.device()``.
        progress: show a progress bar (default True).
        log_every: record the mean loss of every ``log_every`` steps (default 50).
        callback: called as ``callback(step, eps_model, history)`` after each step (step = 1 .. steps).

    Returns:
        the history, {"loss": the mean loss of each block of ``log_every`` steps, "step": the step at each
        block's end}.
    """
    _check_schedule(schedule)
    v.float_tensor(x0, "x0")
    v.module(eps_model, "eps_model")
    steps, batch_size = v.positive_int(steps, "steps"), v.positive_int(batch_size, "batch_size")
    lr, log_every = v.positive_float(lr, "lr"), v.positive_int(log_every, "log_every")
    if ema_decay is not None and not 0 < float(ema_decay) < 1:
        raise ValueError(f"ema_decay must be None or in (0, 1), got {ema_decay}")
    v.optional_callable(callback, "callback", "callback(step, eps_model, history)")
    device = torch.device(device) if device is not None else runtime.device()
    eps_model.to(device).train()
    data = x0.to(device)
    g = runtime.make_generator(seed)
    opt = torch.optim.Adam(eps_model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    ema = [p.detach().clone() for p in eps_model.parameters()] if ema_decay is not None else None
    block: list[float] = []

    def step(i: int) -> dict[str, float]:
        batch = data[runtime.randint(len(data), (batch_size,), generator=g, device=device)]
        loss = diffusion_loss(eps_model, batch, schedule, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema, eps_model.parameters()):
                    e.lerp_(p.detach(), 1 - float(ema_decay))
        block.append(loss.item())
        if len(block) < log_every and i < steps:
            return {}
        logs = {"loss": sum(block) / len(block), "step": i}
        block.clear()
        return logs

    each = None if callback is None else (lambda i, h: callback(i, eps_model, h))
    history = loop(steps, step, "training", progress, each, history={"loss": [], "step": []})
    if ema is not None:
        with torch.no_grad():
            for e, p in zip(ema, eps_model.parameters()):
                p.copy_(e)
    eps_model.eval()
    return history
