"""Stochastic processes of chapter 2: Brownian motion, the Ornstein-Uhlenbeck process and Langevin
dynamics, each simulated with ``solvers.euler_maruyama`` (never a private loop).

    Brownian motion:   W_0 = 0,  W_t - W_s ~ N(0, (t - s) I), independent increments
    Ornstein-Uhlenbeck: dX = -theta X dt + sigma dW,
                        X_t ~ N(x0 e^{-theta t}, sigma^2 / (2 theta) (1 - e^{-2 theta t}) I)
    Langevin:          dX = sigma^2 / 2 * grad log p(X) dt + sigma dW   (p is stationary)

Time here is the SDE's own clock, any t >= 0; it is not the noise-to-data time of the later chapters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import check_batch, check_count, check_positive
from .distributions import Density, GaussianMixture
from .sampling import sde_drift
from .solvers import Field, Solution, euler_maruyama

__all__ = ["brownian_paths", "Moments", "OrnsteinUhlenbeck", "langevin_drift", "langevin"]


def brownian_paths(n_paths: int, times: Tensor, generator: torch.Generator | None = None, dim: int = 1) -> Tensor:
    """``n_paths`` Brownian paths on the grid ``times`` (increasing, starting at 0).

    W_{t_{k+1}} = W_{t_k} + sqrt(t_{k+1} - t_k) z_k with z_k ~ N(0, I): Euler-Maruyama for dX = dW,
    which is exact on any grid. Returns ``(len(times), n_paths, dim)`` with ``W[0] = 0``.
    """
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive integer, got {n_paths!r}")
    if isinstance(times, Tensor) and times.ndim == 1 and times.numel() >= 2 and times[0] != 0:
        raise ValueError(f"times must start at 0 (W_0 = 0), got times[0] = {times[0].item():.4g}")
    if isinstance(times, Tensor) and times.ndim == 1 and (times.diff() <= 0).any():
        raise ValueError("times must be strictly increasing")
    dtype = times.dtype if isinstance(times, Tensor) and times.is_floating_point() else None
    w0 = torch.zeros(n_paths, check_count(dim, "dim"), dtype=dtype)
    return euler_maruyama(lambda x, t: torch.zeros_like(x), 1.0, w0, times, generator=generator, keep_path=True).path


@dataclass(frozen=True)
class Moments:
    """Mean (shaped like ``x0``) and variance per coordinate (a scalar tensor) of a Gaussian law."""

    mean: Tensor
    variance: Tensor


def _as_duration(t: float | Tensor, like: Tensor, name: str = "t") -> Tensor:
    """``t`` as a tensor on ``like``'s dtype and device, refusing negative or non-finite times."""
    if isinstance(t, bool) or not isinstance(t, (int, float, Tensor)):
        raise TypeError(f"{name} must be a number or a tensor of times >= 0, got {type(t).__name__}")
    t = torch.as_tensor(t).to(like)
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be finite and >= 0 (the SDE's clock starts at 0), got {t}")
    return t


@dataclass(frozen=True)
class OrnsteinUhlenbeck:
    """dX = -theta X dt + sigma dW: a pull to 0 at rate ``theta > 0`` plus noise of size ``sigma >= 0``.

    Solution: X_t = x0 e^{-theta t} + sigma int_0^t e^{-theta (t - s)} dW_s, a Gaussian with
    mean x0 e^{-theta t} and variance sigma^2 / (2 theta) (1 - e^{-2 theta t}) in every coordinate.
    """

    theta: float = 1.0
    sigma: float = 1.0

    def __post_init__(self):
        check_positive(self.theta, "theta")
        check_positive(self.sigma, "sigma", allow_zero=True)

    def drift(self, x: Tensor, t: Tensor) -> Tensor:
        """-theta x, for x of shape ``(B, *D)`` (independent of t)."""
        return -self.theta * x

    @property
    def stationary_variance(self) -> float:
        """sigma^2 / (2 theta): the variance as t -> infinity, whatever x0."""
        return self.sigma**2 / (2 * self.theta)

    def stationary(self, dim: int = 1) -> GaussianMixture:
        """The stationary law N(0, sigma^2 / (2 theta) I) as a one-component mixture (a Density)."""
        check_count(dim, "dim")
        if self.sigma == 0:
            raise ValueError("with sigma = 0 the stationary law is a point mass at 0, which has no density")
        return GaussianMixture(torch.zeros(1, dim), math.sqrt(self.stationary_variance))

    def moments(self, x0: Tensor, t: float | Tensor) -> Moments:
        """Exact mean x0 e^{-theta t} and variance sigma^2/(2 theta) (1 - e^{-2 theta t}) at a time t >= 0."""
        x0 = check_batch(x0, "x0")
        t = _as_duration(t, x0)
        decay = torch.exp(-self.theta * t)
        return Moments(x0 * decay, self.stationary_variance * (1 - decay**2))

    def em_moments(self, x0: Tensor, h: float, n_steps: int) -> Moments:
        """Exact moments after ``n_steps`` Euler-Maruyama steps of size h: with a = 1 - theta h,
        mean a^N x0 and variance sigma^2 h (1 - a^{2N}) / (1 - a^2) (sigma^2 h N when a^2 = 1)."""
        x0 = check_batch(x0, "x0")
        if isinstance(h, bool) or not isinstance(h, (int, float)):
            raise TypeError(f"h must be a number > 0, got {type(h).__name__}")
        bad_steps = isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0
        if bad_steps or not (math.isfinite(h) and h > 0):
            raise ValueError(f"h must be > 0 and n_steps a non-negative integer, got h = {h}, n_steps = {n_steps!r}")
        a = 1.0 - self.theta * h
        geometric = n_steps if a * a == 1.0 else (1 - a ** (2 * n_steps)) / (1 - a * a)
        return Moments(x0 * a**n_steps, torch.tensor(self.sigma**2 * h * geometric, dtype=x0.dtype, device=x0.device))

    def simulate(
        self, x0: Tensor, times: Tensor, generator: torch.Generator | None = None, keep_path: bool = False
    ) -> Solution:
        """Euler-Maruyama from ``x0`` ``(B, *D)`` on the grid ``times``."""
        return euler_maruyama(
            self.drift, self.sigma, check_batch(x0, "x0"), times, generator=generator, keep_path=keep_path
        )


def _zero_velocity(x: Tensor, t: Tensor) -> Tensor:
    return torch.zeros_like(x)


def langevin_drift(density: Density, sigma: float) -> Field:
    """The Langevin drift sigma^2 / 2 * grad log p(x), a time-independent field ``(B, D) -> (B, D)``.

    It is ``sampling.sde_drift`` with velocity u = 0 and a score that does not change in time: the
    marginal-preserving SDE of a density that stands still.
    """
    if not isinstance(density, Density):
        raise TypeError(f"density must have log_density and score methods, got {type(density).__name__}")
    check_positive(sigma, "sigma", allow_zero=True)
    return sde_drift(_zero_velocity, lambda x, t: density.score(x), float(sigma))


def langevin(
    density: Density,
    x0: Tensor,
    sigma: float,
    times: Tensor,
    generator: torch.Generator | None = None,
    keep_path: bool = False,
) -> Solution:
    """Simulate dX = sigma^2 / 2 grad log p(X) dt + sigma dW from ``x0`` ``(B, D)`` with Euler-Maruyama.

    For small steps the law of X_t tends to p as t grows (quickly within a mode, very slowly between
    well-separated modes). The step must stay below about 4 s^2 / sigma^2 for a mode of width s.
    """
    x0 = check_batch(x0, "x0", getattr(density, "dim", None))
    return euler_maruyama(
        langevin_drift(density, sigma), float(sigma), x0, times, generator=generator, keep_path=keep_path
    )
