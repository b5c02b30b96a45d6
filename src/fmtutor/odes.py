"""ODEs with closed-form solutions, and the convergence study that measures a solver's order.

    Linear:       dx/dt = (A + t B) x with AB = BA   ->   x(t) = exp((t - s) A + (t^2 - s^2)/2 B) x(s)
    Growth:       dx/dt = w cos(w t) x               ->   x(t) = x(s) exp(sin(w t) - sin(w s))
    Square root:  dx/dt = sqrt(|x|), not Lipschitz at 0: from x(0) = x0 >= 0,
                  x(t) = (sqrt(x0) + max(t - c, 0) / 2)^2, unique (c = 0) when x0 > 0,
                  one solution for every waiting time c >= 0 when x0 = 0
    Order:        error(n) ~ C n^(-p)  ->  p = minus the least-squares slope of log error on log n

Batch first: ``x`` is ``(B, D)`` for the linear ODE and ``(B, *D)`` for the scalar ones; times are
floats or ``(B,)`` tensors, any real value (solvers may run backwards or beyond [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from ._validate import (
    as_time,
    broadcast_time,
    check_batch,
    check_choice,
    check_finite,
    check_positive,
    check_real,
    check_same_kind,
)
from .solvers import NFE_PER_STEP, SOLVERS, solve_ode, time_grid

__all__ = [
    "ClosedFormODE",
    "LinearODE",
    "GrowthODE",
    "SqrtODE",
    "convergence_order",
    "global_error",
    "ConvergenceStudy",
    "convergence_study",
]

_ANY = float("inf")


def _times(t: float | Tensor, x: Tensor, name: str) -> Tensor:
    """A time as a ``(B,)`` tensor like ``x``; any finite real value is allowed."""
    return as_time(t, x.shape[0], x, name, low=-_ANY, high=_ANY)


class ClosedFormODE(Protocol):
    """An ODE whose exact flow is known: ``field(x, t)`` and ``flow(x, t_end, t_start)``."""

    def field(self, x: Tensor, t: float | Tensor) -> Tensor: ...

    def flow(self, x: Tensor, t_end: float | Tensor, t_start: float | Tensor = 0.0) -> Tensor: ...


def _square(m: object, name: str) -> Tensor:
    if not isinstance(m, Tensor) or not m.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {type(m).__name__}")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix (D, D), got shape {tuple(m.shape)}")
    return check_finite(m, name)


@dataclass(frozen=True)
class LinearODE:
    """dx/dt = (A + t B) x with commuting ``A`` and ``B`` ``(D, D)``; batch first: u(x, t) = x (A + t B)^T.

    Because A and B commute, the flow from time s to t is the matrix exponential
    x(t) = exp((t - s) A + (t^2 - s^2) / 2 B) x(s). ``B = None`` means B = 0 (an autonomous field).
    """

    A: Tensor
    B: Tensor | None = None

    def __post_init__(self) -> None:
        A = _square(self.A, "A")
        B = torch.zeros_like(A) if self.B is None else check_same_kind(_square(self.B, "B"), A, "B", "A")
        if B.shape != A.shape:
            raise ValueError(f"B must have the shape of A {tuple(A.shape)}, got {tuple(B.shape)}")
        scale = 1.0 + A.abs().max() * B.abs().max()
        if ((A @ B - B @ A).abs().max() > 1e-6 * scale).item():
            raise ValueError("A and B must commute (AB = BA); otherwise exp(tA + t^2/2 B) is not the flow")
        object.__setattr__(self, "B", B)

    @classmethod
    def spiral(cls, omega: float = 3.0, rate: float = 0.5, rate_slope: float = -2.0) -> LinearODE:
        """u(x, t) = ((a + b t) I + omega J) x in 2D, J the quarter turn: particles turn at angular
        speed omega while their radius grows at rate a + b t (outwards, then inwards if b < 0)."""
        for value, name in ((omega, "omega"), (rate, "rate"), (rate_slope, "rate_slope")):
            check_real(value, name)
        eye, quarter = torch.eye(2), torch.tensor([[0.0, -1.0], [1.0, 0.0]])
        return cls(rate * eye + omega * quarter, rate_slope * eye)

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    def field(self, x: Tensor, t: float | Tensor) -> Tensor:
        """u(x, t) = x A^T + t x B^T for ``x`` ``(B, D)``: a tensor like ``x``."""
        x = check_batch(x, "x", self.dim)
        t = _times(t, x, "t")
        return x @ self.A.to(x).T + t[:, None] * (x @ self.B.to(x).T)

    __call__ = field

    def flow(self, x: Tensor, t_end: float | Tensor, t_start: float | Tensor = 0.0) -> Tensor:
        """The exact solution at ``t_end`` of the ODE started at ``x`` ``(B, D)`` at ``t_start``."""
        x = check_batch(x, "x", self.dim)
        t1, t0 = _times(t_end, x, "t_end"), _times(t_start, x, "t_start")
        exponent = (t1 - t0)[:, None, None] * self.A.to(x) + ((t1**2 - t0**2) / 2)[:, None, None] * self.B.to(x)
        return torch.einsum("bij,bj->bi", torch.linalg.matrix_exp(exponent), x)


@dataclass(frozen=True)
class GrowthODE:
    """dx/dt = omega cos(omega t) x, entrywise on ``x`` ``(B, *D)``: x(t) = x(s) exp(sin(omega t) - sin(omega s)).

    A scalar test problem whose field depends on time (so a solver that evaluates it at the wrong
    time shows); with omega = 4 the solution rises to e x(0) at t = pi/8 and ends near 0.47 x(0).
    """

    omega: float = 4.0

    def field(self, x: Tensor, t: float | Tensor) -> Tensor:
        x = check_batch(x, "x")
        t = _times(t, x, "t")
        return broadcast_time(self.omega * torch.cos(self.omega * t), x) * x

    __call__ = field

    def flow(self, x: Tensor, t_end: float | Tensor, t_start: float | Tensor = 0.0) -> Tensor:
        x = check_batch(x, "x")
        t1, t0 = _times(t_end, x, "t_end"), _times(t_start, x, "t_start")
        return x * broadcast_time(torch.exp(torch.sin(self.omega * t1) - torch.sin(self.omega * t0)), x)


class SqrtODE:
    """dx/dt = sqrt(|x|): continuous but not Lipschitz at x = 0, so solutions from 0 are not unique."""

    def field(self, x: Tensor, t: float | Tensor) -> Tensor:
        x = check_batch(x, "x")
        _times(t, x, "t")
        return x.abs().sqrt()

    __call__ = field

    @staticmethod
    def solution(t: Tensor, x0: float = 0.0, wait: float = 0.0) -> Tensor:
        """x(t) = (sqrt(x0) + max(t - wait, 0) / 2)^2 for t >= 0, from x(0) = x0 >= 0.

        For x0 > 0 this is the only solution (``wait`` must be 0); from x0 = 0 the particle may rest
        at 0 for any time ``wait`` >= 0 and then leave along a parabola: each one solves the ODE.
        """
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise TypeError(f"t must be a floating-point tensor of times, got {type(t).__name__}")
        check_finite(t, "t")
        check_positive(x0, "x0", allow_zero=True)
        check_positive(wait, "wait", allow_zero=True)
        if x0 < 0 or wait < 0:
            raise ValueError(f"x0 and wait must be >= 0, got x0 = {x0}, wait = {wait}")
        if x0 > 0 and wait > 0:
            raise ValueError("from x0 > 0 the solution is unique: wait must be 0")
        return (math.sqrt(x0) + (t - wait).clamp(min=0) / 2) ** 2


def convergence_order(n_steps: Sequence[int] | Tensor, errors: Sequence[float] | Tensor) -> float:
    """The order p in error ~ C n^(-p): minus the least-squares slope of log(error) against log(n)."""
    n, e = _numbers(n_steps, "n_steps"), _numbers(errors, "errors")
    if n.ndim != 1 or e.shape != n.shape or len(n) < 2:
        raise ValueError(
            f"n_steps and errors must be 1-D of the same length >= 2, got {tuple(n.shape)} and {tuple(e.shape)}"
        )
    if not (n > 0).all() or len(set(n.tolist())) < 2:
        raise ValueError("n_steps must be positive with at least two different values")
    if not (torch.isfinite(e).all() and (e > 0).all()):
        raise ValueError("errors must be finite and > 0 (an error of exactly 0 has no logarithm)")
    x, y = n.log(), e.log()
    x, y = x - x.mean(), y - y.mean()
    return -float((x * y).sum() / (x * x).sum())


def _numbers(values: object, name: str) -> Tensor:
    """A sequence of real numbers as a float64 tensor, or a TypeError naming ``name``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, Tensor)):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    try:
        return torch.as_tensor(values, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from e


def _check_ode(ode: object, x0: object) -> Tensor:
    if not (callable(getattr(ode, "field", None)) and callable(getattr(ode, "flow", None))):
        raise TypeError(
            f"ode must have field(x, t) and flow(x, t_end, t_start) (a ClosedFormODE), got {type(ode).__name__}"
        )
    return check_batch(x0, "x0")


def global_error(
    ode: ClosedFormODE, x0: Tensor, method: str, n_steps: int, t_start: float = 0.0, t_end: float = 1.0
) -> float:
    """max |x_n - x(t_end)| after ``n_steps`` even steps of ``method`` from ``x0`` at ``t_start``."""
    x0 = _check_ode(ode, x0)
    times = time_grid(n_steps, t_start, t_end, device=x0.device, dtype=x0.dtype)
    final = solve_ode(ode.field, x0, times, method=method).final
    return float((final - ode.flow(x0, t_end, t_start)).abs().max())


@dataclass(frozen=True)
class ConvergenceStudy:
    """Errors at ``t_end`` for each method and step count, the cost in NFE, and the fitted orders."""

    n_steps: tuple[int, ...]
    errors: dict[str, tuple[float, ...]]
    nfe: dict[str, tuple[int, ...]]
    orders: dict[str, float]


def convergence_study(
    ode: ClosedFormODE,
    x0: Tensor,
    methods: Sequence[str] = tuple(SOLVERS),
    n_steps: Sequence[int] = (8, 16, 32, 64, 128),
    t_start: float = 0.0,
    t_end: float = 1.0,
    fit_last: int | None = None,
) -> ConvergenceStudy:
    """Measure every method's error against the exact flow, and fit each order on the last
    ``fit_last`` step counts (all by default): the order is a statement about small steps, so fit
    where the log-log lines are straight. Use float64 ``x0``: in float32 round-off (about 1e-7)
    hides RK4's error long before 128 steps."""
    x0 = _check_ode(ode, x0)
    if isinstance(methods, str) or not isinstance(methods, Sequence):
        raise TypeError(f"methods must be a sequence of method names, got {type(methods).__name__}")
    if not isinstance(n_steps, Sequence) or not all(isinstance(n, int) for n in n_steps):
        raise TypeError(f"n_steps must be a sequence of integers, got {n_steps!r}")
    for m in methods:
        check_choice("method", m, SOLVERS)
    errors = {m: tuple(global_error(ode, x0, m, n, t_start, t_end) for n in n_steps) for m in methods}
    nfe = {m: tuple(NFE_PER_STEP[m] * n for n in n_steps) for m in methods}
    k = len(n_steps) if fit_last is None else fit_last
    orders = {m: convergence_order(list(n_steps)[-k:], list(errors[m])[-k:]) for m in methods}
    return ConvergenceStudy(tuple(n_steps), errors, nfe, orders)
