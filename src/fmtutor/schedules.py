"""Noise schedules: the scalars alpha_t, beta_t of a Gaussian path and their time derivatives.

The book's convention: t = 0 is noise, t = 1 is data, and

    x_t = alpha_t * x1 + beta_t * x0,    x0 ~ N(0, I),

so every schedule has alpha_0 = 0 (or nearly), beta_0 = 1 and alpha_1 = 1, beta_1 = 0.
A schedule knows nothing about data or solvers: it maps times to ``ScheduleValues``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import check_choice, check_finite, check_positive, within

__all__ = [
    "ScheduleValues",
    "Schedule",
    "LinearSchedule",
    "CosineSchedule",
    "VPSchedule",
    "PolynomialSchedule",
    "NoisyLinearSchedule",
    "get_schedule",
    "SCHEDULES",
]


@dataclass(frozen=True)
class ScheduleValues:
    """alpha_t, beta_t, d(alpha_t)/dt and d(beta_t)/dt, each shaped like the times asked for."""

    alpha: Tensor
    beta: Tensor
    d_alpha: Tensor
    d_beta: Tensor


class Schedule(ABC):
    """A pair of differentiable scalars (alpha_t, beta_t) on t in [0, 1].

    ``t_max`` is the latest time at which every value is finite (1.0 unless d_beta blows up
    at t = 1, where beta_1 = 0); sampling grids for such a schedule end there.
    """

    name: str = "schedule"
    t_max: float = 1.0

    def __call__(self, t: Tensor | float) -> ScheduleValues:
        """Evaluate at times ``t`` (a tensor of any shape, values in [0, 1])."""
        if isinstance(t, bool) or not isinstance(t, (int, float, Tensor)):
            raise TypeError(f"t must be a float or a tensor of times in [0, 1], got {type(t).__name__}")
        t = torch.as_tensor(t, dtype=torch.get_default_dtype() if not isinstance(t, Tensor) else None)
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        if within(t, 0.0, self.t_max):  # the fast path; below, the exact reason
            return self.values(t)
        check_finite(t, "t")
        if (t < 0).any() or (t > 1).any():
            raise ValueError(
                f"t must lie in [0, 1] (0 = noise, 1 = data), got values from "
                f"{t.min().item():.4g} to {t.max().item():.4g}"
            )
        if (t > self.t_max).any():
            raise ValueError(
                f"{self.name} schedule: d_beta is infinite at t = 1, where beta_t = 0; "
                f"end time grids at t = {self.t_max} (the schedule's t_max)"
            )
        return self.values(t)

    @abstractmethod
    def values(self, t: Tensor) -> ScheduleValues:
        """The closed forms, without input checks."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearSchedule(Schedule):
    """Conditional optimal transport (rectified flow): alpha_t = t, beta_t = 1 - t."""

    name = "linear"

    def values(self, t: Tensor) -> ScheduleValues:
        one = torch.ones_like(t)
        return ScheduleValues(alpha=t, beta=one - t, d_alpha=one, d_beta=-one)  # one - t: no scalar op


class CosineSchedule(Schedule):
    """Variance-preserving cosine path: alpha_t = sin(pi t / 2), beta_t = cos(pi t / 2)."""

    name = "cosine"

    def values(self, t: Tensor) -> ScheduleValues:
        h = 0.5 * math.pi
        return ScheduleValues(
            alpha=torch.sin(h * t), beta=torch.cos(h * t), d_alpha=h * torch.cos(h * t), d_beta=-h * torch.sin(h * t)
        )


class VPSchedule(Schedule):
    """Variance preserving: the continuous limit of DDPM's linear beta schedule (Song et al. 2021).

    With s = 1 - t (DDPM's direction of time) and b(s) = b_min + s (b_max - b_min),

        alpha_t = exp(-1/2 * integral_0^s b) = exp(-(b_min s + (b_max - b_min) s^2 / 2) / 2),
        beta_t  = sqrt(1 - alpha_t^2),
        d_alpha = alpha_t * b(s) / 2,    d_beta = -alpha_t * d_alpha / beta_t.

    DDPM's betas 1e-4 .. 0.02 over T = 1000 steps give b_min = 0.1, b_max = 20. alpha_0 is
    exp(-5.025), about 0.0066, not exactly 0. d_beta is infinite at t = 1, so ``t_max = 1 - 1e-3``.
    """

    name = "vp"
    t_max = 1.0 - 1e-3

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        check_positive(beta_min, "beta_min")
        check_positive(beta_max, "beta_max")
        if beta_max < beta_min:
            raise ValueError(f"beta_max must be >= beta_min, got {beta_max} < {beta_min}")
        self.beta_min, self.beta_max = beta_min, beta_max

    def values(self, t: Tensor) -> ScheduleValues:
        s = 1 - t
        integral = self.beta_min * s + 0.5 * (self.beta_max - self.beta_min) * s**2
        alpha = torch.exp(-0.5 * integral)
        beta = torch.sqrt(-torch.expm1(-integral))
        d_alpha = 0.5 * alpha * (self.beta_min + s * (self.beta_max - self.beta_min))
        return ScheduleValues(alpha=alpha, beta=beta, d_alpha=d_alpha, d_beta=-alpha * d_alpha / beta)

    def __repr__(self) -> str:
        return f"VPSchedule(beta_min={self.beta_min}, beta_max={self.beta_max})"


class PolynomialSchedule(Schedule):
    """A convex family: alpha_t = t^n, beta_t = 1 - t^n (n = 1 is the linear schedule)."""

    name = "polynomial"

    def __init__(self, n: float = 2.0):
        self.n = check_positive(n, "n")

    def values(self, t: Tensor) -> ScheduleValues:
        d = self.n * t ** (self.n - 1) if self.n != 1 else torch.ones_like(t)
        return ScheduleValues(alpha=t**self.n, beta=1 - t**self.n, d_alpha=d, d_beta=-d)

    def __repr__(self) -> str:
        return f"PolynomialSchedule(n={self.n})"


class NoisyLinearSchedule(Schedule):
    """The linear path with extra noise: x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) eps.

    The two noise terms add to one Gaussian, so this is a Gaussian path with
    alpha_t = t and beta_t = sqrt((1 - t)^2 + sigma^2 t (1 - t)), whose derivative is
    d_beta = (sigma^2 (1 - 2t) - 2 (1 - t)) / (2 beta_t): infinite at t = 1 when sigma > 0.
    """

    name = "noisy-linear"

    def __init__(self, sigma: float = 0.1):
        self.sigma = check_positive(sigma, "sigma", allow_zero=True)
        self.t_max = 1.0 - 1e-3 if sigma > 0 else 1.0

    def values(self, t: Tensor) -> ScheduleValues:
        if self.sigma == 0:  # the linear path; the general d_beta would be 0/0 at t = 1
            return LinearSchedule().values(t)
        s2 = self.sigma**2
        beta = torch.sqrt((1 - t) ** 2 + s2 * t * (1 - t))
        d_beta = (s2 * (1 - 2 * t) - 2 * (1 - t)) / (2 * beta)
        return ScheduleValues(alpha=t, beta=beta, d_alpha=torch.ones_like(t), d_beta=d_beta)

    def __repr__(self) -> str:
        return f"NoisyLinearSchedule(sigma={self.sigma})"


SCHEDULES: dict[str, type[Schedule]] = {
    "linear": LinearSchedule,
    "cosine": CosineSchedule,
    "vp": VPSchedule,
    "polynomial": PolynomialSchedule,
    "noisy-linear": NoisyLinearSchedule,
}


def get_schedule(name: str, **kwargs: float) -> Schedule:
    """Build a schedule by name: 'linear', 'cosine', 'vp', 'polynomial' or 'noisy-linear'."""
    return SCHEDULES[check_choice("schedule", name, SCHEDULES)](**kwargs)
