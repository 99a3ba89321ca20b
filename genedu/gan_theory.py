"""The theory of the GAN game (chapter 4): the optimal discriminator, the value at the optimum, the
Jensen-Shannon divergence, the 1D game of Goodfellow et al.'s Figure 1 and the bilinear game.

For a fixed generator with density p_g, the discriminator maximising V(D, G) is (Goodfellow et al., 2014,
Proposition 1)

    D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data(x) - log p_g(x)),

and the value of the game at that discriminator is (Theorem 1)

    V(G, D*) = -log 4 + 2 JSD(p_data || p_g),

minimal (-log 4) exactly when p_g = p_data. Densities are passed as log-densities, either as values on
a grid of points x (a tensor) or as callables ``log_p(x)``; integrals over x are computed with the
trapezoidal rule on a 1-D grid. The densities of the examples (``normal_log_density``,
``kde_log_density``) are in ``genedu.density``.

- :func:`optimal_discriminator`   D*(x) on a grid                                      -> (M,)
- :func:`gan_value`               V(G, D) = int p_data log D + p_g log(1 - D) dx       -> scalar
- :func:`value_at_optimum`        V(G, D*)                                             -> scalar
- :func:`jensen_shannon`          JSD(p || q) in nats                                  -> scalar
- :func:`game_1d`                 the 1D game on ``genedu.data.gaussian_1d``, its players from
  ``genedu.gan.mlp_players``, trained with ``genedu.gan.train_gan``
- :func:`bilinear_game`           gradient play on min_x max_y xy: why a saddle point search can diverge
- :func:`gaussian_generator_gradients`  the generator's gradients against a fixed optimal discriminator,
  next to the gradients of the divergences they follow (2 JSD; KL(p_g || p_data) - 2 JSD)
- :func:`generator_gradients_at_optimum`  the same two generator gradients, as Monte-Carlo averages over
  given noise samples z                                                              -> (2,), (2,)
"""
from __future__ import annotations

import math
from typing import Callable, Sequence, Union

import torch
from torch import nn

from genedu import _validate as v
from genedu.runtime import make_generator, randn
from genedu.data import gaussian_1d
from genedu.density import kde_log_density, normal_log_density
from genedu.gan import mlp_players, train_gan

__all__ = ["optimal_discriminator", "gan_value", "value_at_optimum", "jensen_shannon", "game_1d", "bilinear_game",
           "gaussian_generator_gradients", "generator_gradients_at_optimum"]

LogDensity = Union[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]


def _grid(x, name: str = "x") -> torch.Tensor:
    v.float_tensor(x, name, ndim=1)
    if len(x) < 2:
        raise ValueError(f"{name} must hold at least 2 grid points, got {len(x)}")
    if not bool((x[1:] > x[:-1]).all()):
        raise ValueError(f"{name} must be increasing (a 1-D grid of points)")
    return x


def _values(log_p: LogDensity, x: torch.Tensor | None, name: str) -> torch.Tensor:
    """Log-density values: the tensor itself, or the callable evaluated at x."""
    if callable(log_p) and not isinstance(log_p, torch.Tensor):
        if x is None:
            raise ValueError(f"x is needed when {name} is a callable (the points to evaluate it at)")
        out = log_p(x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise ValueError(f"{name}(x) must return a tensor of shape {tuple(x.shape)}, got "
                             f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
        return out
    v.float_tensor(log_p, name)
    if x is not None and log_p.shape != x.shape:
        raise ValueError(f"{name} must have the shape of x {tuple(x.shape)}, got {tuple(log_p.shape)}")
    if bool(torch.isnan(log_p).any()) or bool((log_p == math.inf).any()):
        raise ValueError(f"{name} must be log-densities (finite or -inf), got nan or +inf")
    return log_p


def optimal_discriminator(log_p_data: LogDensity, log_p_g: LogDensity, x: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """The optimal discriminator D*(x) = p_data(x) / (p_data(x) + p_g(x)) for a fixed generator.

    Computed as sigmoid(log p_data - log p_g), which stays accurate where both densities underflow.
    Where both densities are exactly zero D* is not determined; it is set to 1/2 there.

    Args:
        log_p_data: log-density of the data, as a tensor of values (any shape, e.g. (M,) on a grid)
            or a callable ``log_p(x)``.
        log_p_g: log-density of the generator, the same way (the same shape as ``log_p_data``'s values).
        x: the points, needed when a log-density is a callable (default None).

    Returns:
        D*(x), same shape as the log-density values, in [0, 1].
    """
    a, b = _values(log_p_data, x, "log_p_data"), _values(log_p_g, x, "log_p_g")
    if a.shape != b.shape:
        raise ValueError(f"log_p_data and log_p_g must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    both_zero = (a == -math.inf) & (b == -math.inf)
    d = torch.sigmoid(torch.where(both_zero, torch.zeros_like(a), a - b))
    return d


def gan_value(log_p_data: LogDensity, log_p_g: LogDensity, d: torch.Tensor | Callable, x: torch.Tensor
              ) -> torch.Tensor:
    """The value V(G, D) = int p_data(x) log D(x) dx + int p_g(x) log(1 - D(x)) dx on a 1-D grid.

    (With x = G(z), the second term is E_z[log(1 - D(G(z)))].) The integrals use the trapezoidal rule;
    0 log 0 counts as 0.

    Args:
        log_p_data: (M,) log-density values of the data on the grid, or a callable.
        log_p_g: (M,) log-density values of the generator on the grid, or a callable.
        d: (M,) discriminator outputs D(x) in [0, 1] on the grid, or a callable.
        x: (M,) increasing grid points covering (nearly all) the mass of both densities.

    Returns:
        a scalar tensor (<= 0).
    """
    x = _grid(x)
    p_data, p_g = _values(log_p_data, x, "log_p_data").exp(), _values(log_p_g, x, "log_p_g").exp()
    d = d(x) if callable(d) and not isinstance(d, torch.Tensor) else d
    v.float_tensor(d, "d", shape=tuple(x.shape))
    if bool(((d < 0) | (d > 1) | torch.isnan(d)).any()):
        raise ValueError("d must hold discriminator outputs D(x) in [0, 1]")
    integrand = torch.xlogy(p_data, d) + torch.xlogy(p_g, 1 - d)
    return torch.trapezoid(integrand, x)


def value_at_optimum(log_p_data: LogDensity, log_p_g: LogDensity, x: torch.Tensor) -> torch.Tensor:
    """V(G, D*) with the optimal discriminator, on a 1-D grid (equal to -log 4 + 2 JSD(p_data || p_g)).

    Args:
        log_p_data: (M,) log-density values of the data on the grid, or a callable.
        log_p_g: (M,) log-density values of the generator on the grid, or a callable.
        x: (M,) increasing grid points.

    Returns:
        a scalar tensor in [-log 4, 0].
    """
    x = _grid(x)
    a, b = _values(log_p_data, x, "log_p_data"), _values(log_p_g, x, "log_p_g")
    log_sum = torch.logaddexp(a, b)
    # p log D* = p (log p - log(p + q)), computed in the log domain; 0 where p = 0
    integrand = (torch.where(a > -math.inf, a.exp() * (a - log_sum), torch.zeros_like(a))
                 + torch.where(b > -math.inf, b.exp() * (b - log_sum), torch.zeros_like(b)))
    return torch.trapezoid(integrand, x)


def jensen_shannon(log_p: LogDensity, log_q: LogDensity, x: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon divergence JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, in nats.

    Args:
        log_p: (M,) log-density values of p on the grid, or a callable.
        log_q: (M,) log-density values of q on the grid, or a callable.
        x: (M,) increasing grid points.

    Returns:
        a scalar tensor in [0, log 2].
    """
    x = _grid(x)
    a, b = _values(log_p, x, "log_p"), _values(log_q, x, "log_q")
    log_m = torch.logaddexp(a, b) - math.log(2)
    kl_p = torch.where(a > -math.inf, a.exp() * (a - log_m), torch.zeros_like(a))
    kl_q = torch.where(b > -math.inf, b.exp() * (b - log_m), torch.zeros_like(b))
    return 0.5 * torch.trapezoid(kl_p + kl_q, x)


# --------------------------------------------------------------------------------------------------
# the 1D game of Goodfellow et al.'s Figure 1
# --------------------------------------------------------------------------------------------------

def game_1d(steps: int = 1500, snapshot_every: int = 50, k: int = 1, generator_loss: str | Callable = "non-saturating",
            lr: float = 1e-3, batch_size: int = 128, mean: float = 2.0, std: float = 0.5,
            hidden: Sequence[int] = (32, 32),
            x_range: tuple[float, float] = (-2.0, 5.0), n_grid: int = 400, n_samples: int = 4000,
            seed: int = 0, progress: bool = True) -> dict:
    """Train the 1D game with :func:`genedu.gan.train_gan` and record what Goodfellow et al.'s Figure 1 shows.

    p_data = N(mean, std^2); z ~ N(0, 1); G (1 -> hidden... -> 1, ReLU) and D (1 -> hidden... -> 1
    logit, LeakyReLU 0.2) from :func:`genedu.gan.mlp_players`. At step 0 and every
    ``snapshot_every`` generator steps, the frame records p_g (a kernel density estimate of ``n_samples``
    samples from a fixed noise batch), D(x) on the grid, the optimal D* for that p_g, the JSD, and the
    map z -> G(z) at a few quantiles of z.

    Args:
        steps: generator steps, passed to ``train_gan`` (Adam with betas (0.5, 0.999)) (default 1500).
        snapshot_every: generator steps between frames, passed to ``train_gan`` (default 50).
        k: discriminator steps per generator step, passed to ``train_gan`` (default 1).
        generator_loss: passed to ``train_gan`` (default "non-saturating").
        lr: Adam's learning rate of both players, passed to ``train_gan`` (default 1e-3).
        batch_size: passed to ``train_gan`` (default 128).
        mean: the mean of the data distribution (default 2: N(2, 0.5^2)).
        std: the standard deviation of the data distribution (default 0.5).
        hidden: the widths of both players' hidden layers (default (32, 32)).
        x_range: the grid's interval (default [-2, 5]).
        n_grid: the number of grid points (default 400).
        n_samples: generator samples per frame for the density estimate.
        seed: seeds the data, the models and the training.
        progress: show a progress bar.

    Returns:
        {"x": (M,) grid, "log_p_data": (M,), "frames": list of dicts with "step", "log_p_g" (M,),
        "d" (M,), "d_star" (M,), "jsd" (float), "z" (Q,) and "g_of_z" (Q,), "history": train_gan's history}.
    """
    if not (isinstance(x_range, (tuple, list)) and len(x_range) == 2 and x_range[0] < x_range[1]):
        raise ValueError(f"x_range must be a pair (low, high) with low < high, got {x_range!r}")
    x = torch.linspace(float(x_range[0]), float(x_range[1]), v.positive_int(n_grid, "n_grid", minimum=2))
    log_p_data = normal_log_density(mean, std)(x)
    data = gaussian_1d(max(20 * batch_size, 5000), mean, std, seed=seed)
    hidden = v.widths(hidden)
    generator, discriminator = mlp_players([1, *hidden, 1], [1, *hidden, 1], seed=seed)
    z_lines = torch.linspace(-2.0, 2.0, 9)[:, None]
    frames: list[dict] = []

    @torch.no_grad()
    def frame(step: int, samples: torch.Tensor) -> None:
        log_p_g = kde_log_density(samples.reshape(-1), x)
        d = torch.sigmoid(discriminator(x[:, None].to(_device(discriminator))).reshape(-1)).cpu()
        g_of_z = generator(z_lines.to(_device(generator))).reshape(-1).cpu()
        frames.append({"step": step, "log_p_g": log_p_g, "d": d,
                       "d_star": optimal_discriminator(log_p_data, log_p_g),
                       "jsd": float(jensen_shannon(log_p_data, log_p_g, x)),
                       "z": z_lines.reshape(-1), "g_of_z": g_of_z})

    def callback(step, g, d, history):
        if history["snapshots"] and history["snapshots"][-1][0] == step:
            was = g.training
            g.eval()
            frame(step, history["snapshots"][-1][1])
            g.train(was)

    with torch.no_grad():
        generator.eval()
        # the same fixed noise train_gan draws first for its snapshots
        first = generator(randn((n_samples, 1), generator=make_generator(seed)))
    frame(0, first)
    history = train_gan(generator, discriminator, data, latent_dim=1, steps=steps, k=k, batch_size=batch_size,
                        lr=lr, generator_loss=generator_loss, snapshot_every=snapshot_every,
                        n_snapshot=n_samples, callback=callback, seed=seed, progress=progress, device="cpu")
    return {"x": x, "log_p_data": log_p_data, "frames": frames, "history": history,
            "generator": generator, "discriminator": discriminator}


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def bilinear_game(steps: int = 100, lr: float = 0.1, start: tuple[float, float] = (1.0, 1.0),
                  alternating: bool = False) -> torch.Tensor:
    """Gradient play on the bilinear game min_x max_y V(x, y) = x y, whose only equilibrium (a saddle
    point of V) is (0, 0).

    Simultaneous updates, x <- x - lr y and y <- y + lr x, multiply the distance to the equilibrium by
    sqrt(1 + lr^2) at every step: the players spiral away from the saddle point for any learning rate.
    Alternating updates (y uses the new x, as Algorithm 1 does) stay on a bounded cycle around it
    (for lr < 2) but never converge.

    Args:
        steps: number of updates (default 100).
        lr: the learning rate of both players (default 0.1).
        start: the initial (x, y) (default (1, 1)).
        alternating: update x first, then y with the new x (default False: simultaneous).

    Returns:
        (steps + 1, 2) float64 tensor of the iterates (x_t, y_t), the start included.
    """
    steps = v.positive_int(steps, "steps")
    lr = v.positive_float(lr, "lr")
    if not (isinstance(start, (tuple, list)) and len(start) == 2):
        raise ValueError(f"start must be a pair (x, y), got {start!r}")
    x, y = float(start[0]), float(start[1])
    path = [(x, y)]
    for _ in range(steps):
        if alternating:
            x = x - lr * y
            y = y + lr * x
        else:
            x, y = x - lr * y, y + lr * x
        path.append((x, y))
    return torch.tensor(path, dtype=torch.float64)


# --------------------------------------------------------------------------------------------------
# which divergence each generator loss follows (Arjovsky & Bottou, 2017)
# --------------------------------------------------------------------------------------------------

def _normal_log_pdf(x: torch.Tensor, mean, std) -> torch.Tensor:
    """log N(x; mean, std^2), differentiable in mean and std (tensors or floats)."""
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(torch.as_tensor(std, dtype=x.dtype)) - 0.5 * math.log(2 * math.pi)


def gaussian_generator_gradients(mu: float, sigma: float, data_mean: float = 2.0, data_std: float = 0.5,
                                 n_grid: int = 8001, width: float = 12.0) -> dict[str, torch.Tensor]:
    """The gradients of both generator losses against the optimal discriminator, and of the divergences
    they follow, for the generator G(z) = mu + sigma z, z ~ N(0, 1) (so p_g = N(mu, sigma^2)) and
    p_data = N(data_mean, data_std^2). All gradients are taken with respect to theta = (mu, sigma) at the
    given point theta_0, with the discriminator D* = p_data / (p_data + p_g_theta_0) held fixed.

    With that discriminator (Arjovsky & Bottou, 2017, Theorem 2.5 and the envelope argument before it):

    - the minimax (saturating) loss:  E_z grad log(1 - D*(G(z)))  = grad 2 JSD(p_data || p_g);
    - the non-saturating loss:        E_z grad -log D*(G(z))      = grad [KL(p_g || p_data) - 2 JSD].

    The expectations over z are integrals against the N(0, 1) density, on a grid of ``n_grid`` points
    of z in [-width, width] (trapezoidal rule); KL between two Gaussians is in closed form; the JSD is
    :func:`jensen_shannon` on a grid of x covering both densities. Every gradient is computed by
    autograd, in float64.

    Args:
        mu: the generator's mean (theta_0's first entry).
        sigma: the generator's standard deviation, > 0 (theta_0's second entry).
        data_mean: the data's mean (default 2).
        data_std: the data's standard deviation, > 0 (default 0.5).
        n_grid: grid points of the integrals (default 8001).
        width: half-width of the z grid, in standard deviations; the x grid spans ``width`` standard
            deviations of both densities (default 12).

    Returns:
        a dict of (2,) float64 tensors (d/d mu, d/d sigma): "saturating", "two_jsd", "non_saturating",
        "kl_minus_two_jsd", and "reverse_kl" (the gradient of KL(p_g || p_data) alone).
    """
    mu, data_mean = float(mu), float(data_mean)
    sigma, data_std = v.positive_float(sigma, "sigma"), v.positive_float(data_std, "data_std")
    n_grid = v.positive_int(n_grid, "n_grid", minimum=3)
    width = v.positive_float(width, "width")
    dt = torch.float64

    # D* of theta_0, fixed: log D* = -softplus(log p_g0 - log p_data), log(1 - D*) = -softplus(-(...))
    def log_ratio(x):                                   # log p_g0(x) - log p_data(x)
        return _normal_log_pdf(x, mu, sigma) - _normal_log_pdf(x, data_mean, data_std)

    theta = torch.tensor([mu, sigma], dtype=dt, requires_grad=True)
    z = torch.linspace(-width, width, n_grid, dtype=dt)
    w = _normal_log_pdf(z, 0.0, 1.0).exp()
    x = theta[0] + theta[1] * z                         # G(z), differentiable in theta
    sat = torch.trapezoid(w * -torch.nn.functional.softplus(-log_ratio(x)), z)
    non_sat = torch.trapezoid(w * torch.nn.functional.softplus(log_ratio(x)), z)
    (g_sat,) = torch.autograd.grad(sat, theta, retain_graph=True)
    (g_non_sat,) = torch.autograd.grad(non_sat, theta)

    lo = min(mu - width * sigma, data_mean - width * data_std)
    hi = max(mu + width * sigma, data_mean + width * data_std)
    grid = torch.linspace(lo, hi, n_grid, dtype=dt)
    theta = torch.tensor([mu, sigma], dtype=dt, requires_grad=True)
    # the JSD written out as jensen_shannon computes it (the graded notebooks' sandbox, whose try-it cells call
    # this function, has jensen_shannon stubbed out: it is an exercise there)
    log_p, log_q = _normal_log_pdf(grid, data_mean, data_std), _normal_log_pdf(grid, theta[0], theta[1])
    log_m = torch.logaddexp(log_p, log_q) - math.log(2)
    jsd = 0.5 * torch.trapezoid(log_p.exp() * (log_p - log_m) + log_q.exp() * (log_q - log_m), grid)
    # KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
    kl = (math.log(data_std) - torch.log(theta[1])
          + (theta[1] ** 2 + (theta[0] - data_mean) ** 2) / (2 * data_std ** 2) - 0.5)
    (g_jsd,) = torch.autograd.grad(2 * jsd, theta, retain_graph=True)
    (g_kl,) = torch.autograd.grad(kl, theta)
    return {"saturating": g_sat, "two_jsd": g_jsd, "non_saturating": g_non_sat,
            "kl_minus_two_jsd": g_kl - g_jsd, "reverse_kl": g_kl}


def generator_gradients_at_optimum(mu: float, sigma: float, z: torch.Tensor, data_mean: float = 2.0,
                                   data_std: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients of the Monte-Carlo generator losses against the optimal discriminator, held fixed,
    for the generator G(z) = mu + sigma z (p_g = N(mu, sigma^2)) and p_data = N(data_mean, data_std^2).

    D* = p_data / (p_data + p_g) is the optimal discriminator of the generator at theta_0 = (mu, sigma);
    it is held fixed while theta moves, so that only x = G_theta(z) depends on theta. Its logit is
    l(x) = log p_data(x) - log p_g(x), so log D* = logsigmoid(l) and log(1 - D*) = logsigmoid(-l)
    (stable where D* underflows). The losses are

    - saturating (minimax):  (1/N) sum_j log(1 - D*(G_theta(z_j))),
    - non-saturating:        -(1/N) sum_j log D*(G_theta(z_j)),

    and their gradients are taken by autograd at theta = theta_0. For many z they approach the
    gradients of 2 JSD(p_data || p_g) and of KL(p_g || p_data) - 2 JSD (Arjovsky & Bottou, 2017,
    Theorem 2.5; see :func:`gaussian_generator_gradients`).

    Args:
        mu: the generator's mean (a number).
        sigma: the generator's standard deviation, > 0.
        z: (N,) noise samples, z ~ N(0, 1); the gradients have its dtype.
        data_mean: the data's mean (default 2).
        data_std: the data's standard deviation, > 0 (default 0.5).

    Returns:
        (grad_saturating, grad_non_saturating), two (2,) tensors (d/d mu, d/d sigma).
    """
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not math.isfinite(mu):
        raise TypeError(f"mu must be a finite number, got {mu!r}")
    if isinstance(data_mean, bool) or not isinstance(data_mean, (int, float)) or not math.isfinite(data_mean):
        raise TypeError(f"data_mean must be a finite number, got {data_mean!r}")
    sigma, data_std = v.positive_float(sigma, "sigma"), v.positive_float(data_std, "data_std")
    v.nonempty_float_tensor(z, "z")
    v.float_tensor(z, "z", ndim=1)
    z = z.detach()
    theta = torch.tensor([float(mu), sigma], dtype=z.dtype, device=z.device, requires_grad=True)
    x = theta[0] + theta[1] * z                         # G_theta(z)
    # D*'s logit, with p_g at theta_0: plain numbers, so no gradient flows through the discriminator
    logit = _normal_log_pdf(x, float(data_mean), data_std) - _normal_log_pdf(x, float(mu), sigma)
    saturating = torch.nn.functional.logsigmoid(-logit).mean()
    non_saturating = -torch.nn.functional.logsigmoid(logit).mean()
    (g_sat,) = torch.autograd.grad(saturating, theta, retain_graph=True)
    (g_non_sat,) = torch.autograd.grad(non_saturating, theta)
    return g_sat, g_non_sat
