"""Gaussian conditional probability paths p_t(x | x1) = N(alpha_t x1, beta_t^2 I).

A path builds x_t and the training targets from a schedule; it knows nothing about solvers.
Shapes: data ``x1`` and states ``x`` are ``(B, *D)``; times ``t`` are ``(B,)`` or a scalar.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import as_time, broadcast_time, check_batch, check_choice, check_like, check_same_kind
from .schedules import Schedule, ScheduleValues, get_schedule

__all__ = ["PathSample", "GaussianPath", "PREDICTIONS"]

PREDICTIONS = ("x1", "epsilon", "velocity", "score")


@dataclass(frozen=True)
class PathSample:
    """One draw from the conditional path: x_t = alpha_t x1 + beta_t x0 and its velocity target.

    ``velocity`` is d/dt x_t = d_alpha x1 + d_beta x0, the regression target of flow matching.
    """

    t: Tensor
    x0: Tensor
    x1: Tensor
    x_t: Tensor
    velocity: Tensor


class GaussianPath:
    """The Gaussian path of a schedule: sample x_t, conditional field and score, conversions."""

    def __init__(self, schedule: Schedule | str = "linear"):
        if not isinstance(schedule, (Schedule, str)):
            raise TypeError(f"schedule must be a Schedule or a schedule name, got {type(schedule).__name__}")
        self.schedule = get_schedule(schedule) if isinstance(schedule, str) else schedule

    def __repr__(self) -> str:
        return f"GaussianPath({self.schedule!r})"

    @property
    def t_max(self) -> float:
        """The last time the path is defined at: 1, or the schedule's t_max below it (VP: 0.999)."""
        return self.schedule.t_max

    def coefficients(self, t: Tensor | float, x: Tensor) -> ScheduleValues:
        """Schedule values at ``t`` (scalar or ``(B,)``), each shaped ``(B, 1, ..., 1)`` to broadcast with ``x``."""
        return self._broadcast_values(as_time(t, x.shape[0], x), x)

    def _broadcast_values(self, t: Tensor, x: Tensor) -> ScheduleValues:
        """``coefficients`` for a ``t`` that ``as_time`` has already checked (the schedule checks t_max)."""
        return self.schedule(broadcast_time(t, x))  # elementwise, so the values come out shaped (B, 1, ..., 1)

    def sample(
        self,
        x1: Tensor,
        t: Tensor | float | None = None,
        x0: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> PathSample:
        """Draw x_t ~ p_t(. | x1). ``t`` defaults to U[0, t_max]; ``x0`` to fresh N(0, I) noise."""
        x1 = check_batch(x1, "x1")
        if t is None:
            t = torch.rand(x1.shape[0], generator=generator, device=x1.device, dtype=x1.dtype)
            t = t * self.t_max
        t = as_time(t, x1.shape[0], x1)
        if x0 is None:
            x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
        else:
            check_like(x0, x1, "x0", "x1")
        return self._combine(t, x0, x1, self._broadcast_values(t, x1))

    def sample_given(self, x1: Tensor, t: Tensor, x0: Tensor) -> PathSample:
        """x_t = alpha_t x1 + beta_t x0 at times and noise the caller has drawn: ``sample`` without its
        input checks, for a loss that checked ``x1`` ``(B, *D)`` and drew ``t`` ``(B,)`` in [0, t_max]
        and ``x0`` like ``x1`` itself (the checks would cost a device sync per training step)."""
        return self._combine(t, x0, x1, self.schedule.values(broadcast_time(t, x1)))

    @staticmethod
    def _combine(t: Tensor, x0: Tensor, x1: Tensor, c: ScheduleValues) -> PathSample:
        return PathSample(
            t=t,
            x0=x0,
            x1=x1,
            x_t=torch.addcmul(c.alpha * x1, c.beta, x0),  # alpha x1 + beta x0
            velocity=torch.addcmul(c.d_alpha * x1, c.d_beta, x0),
        )  # d_alpha x1 + d_beta x0

    def mean_std(self, x1: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """Mean alpha_t x1 and standard deviation beta_t (broadcast) of p_t(. | x1)."""
        c = self.coefficients(t, check_batch(x1, "x1"))
        return c.alpha * x1, c.beta.expand_as(x1)

    def conditional_velocity(self, x: Tensor, x1: Tensor, t: Tensor | float) -> Tensor:
        """u_t(x | x1) = (d_alpha - d_beta alpha / beta) x1 + (d_beta / beta) x. Needs beta_t > 0."""
        x, x1 = _pair(x, x1)
        c = self.coefficients(t, x)
        _require_positive(c.beta, "beta_t", "the conditional vector field u_t(x | x1)")
        return (c.d_alpha - c.d_beta * c.alpha / c.beta) * x1 + (c.d_beta / c.beta) * x

    def conditional_score(self, x: Tensor, x1: Tensor, t: Tensor | float) -> Tensor:
        """grad_x log p_t(x | x1) = -(x - alpha_t x1) / beta_t^2. Needs beta_t > 0."""
        x, x1 = _pair(x, x1)
        c = self.coefficients(t, x)
        _require_positive(c.beta, "beta_t", "the conditional score")
        return -(x - c.alpha * x1) / c.beta**2

    def convert(
        self, prediction: Tensor, x: Tensor, t: Tensor | float, source: str, target: str, validate: bool = True
    ) -> Tensor:
        """Convert a prediction at (x, t) between 'x1', 'epsilon', 'velocity' and 'score'.

        With x = alpha x1 + beta eps (eps the noise x0): score = -eps / beta and
        velocity = d_alpha x1 + d_beta eps. From a velocity, (x1, eps) solve the 2x2 system
        [[alpha, beta], [d_alpha, d_beta]] (x1, eps) = (x, v). A conversion that divides by a
        coefficient that is zero at ``t`` (alpha at t = 0, beta at t = 1) raises ``ValueError``.
        ``validate=False`` skips the checks of the inputs' values (finite, t in range), for a field
        called at every step of a solver that checked them once at its start.
        """
        check_choice("source", source, PREDICTIONS)
        check_choice("target", target, PREDICTIONS)
        if validate:
            x, prediction = _pair(x, prediction, names=("x", "prediction"))
        elif x.shape != prediction.shape:
            raise ValueError(
                f"x and prediction must have the same shape, got {tuple(x.shape)} and {tuple(prediction.shape)}"
            )
        if source == target:
            return prediction
        if validate:
            c = self.coefficients(t, x)
        else:
            c = self._broadcast_values(torch.as_tensor(t).to(x).expand(x.shape[0]), x)
        what = f"'{source}' to '{target}'"
        if source == "velocity":
            det = c.alpha * c.d_beta - c.beta * c.d_alpha
            _require_positive(det.abs(), "alpha_t d_beta - beta_t d_alpha", what)
            x1 = (c.d_beta * x - c.beta * prediction) / det
            eps = (c.alpha * prediction - c.d_alpha * x) / det
        elif source == "x1":
            x1 = prediction
            _require_positive(c.beta, "beta_t", what)
            eps = (x - c.alpha * x1) / c.beta
        else:
            eps = prediction if source == "epsilon" else -c.beta * prediction
            x1 = None
            if target in ("x1", "velocity"):
                _require_positive(c.alpha, "alpha_t", what)
                x1 = (x - c.beta * eps) / c.alpha
        if target == "x1":
            return x1
        if target == "epsilon":
            return eps
        if target == "velocity":
            return c.d_alpha * x1 + c.d_beta * eps
        _require_positive(c.beta, "beta_t", what)
        return -eps / c.beta


def _pair(a: Tensor, b: Tensor, names: tuple[str, str] = ("x", "x1")) -> tuple[Tensor, Tensor]:
    check_batch(a, names[0])
    check_batch(b, names[1])
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a, check_same_kind(b, a, names[1], names[0])


def _require_positive(value: Tensor, name: str, what: str) -> None:
    if (value <= 0).any():
        raise ValueError(
            f"{name} is 0 at some of the given times, so {what} is undefined there "
            f"(alpha_t = 0 at t = 0 and beta_t = 0 at t = 1 for most schedules); "
            f"use times strictly inside (0, 1)"
        )
