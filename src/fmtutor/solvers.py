"""ODE and SDE solvers: pure functions of a field and a time grid, with no hidden state.

A field is a callable ``field(x, t, **cond) -> tensor like x`` with ``x`` of shape ``(B, *D)`` and
``t`` of shape ``(B,)``. A time grid is a 1-D tensor t_0, ..., t_N, increasing or decreasing; the
solvers step from t_0 to t_N and never assume t lies in [0, 1].

    Euler:     x' = x + h u(x, t)                                         (order 1)
    Midpoint:  x' = x + h u(x + h/2 u(x, t), t + h/2)                      (order 2)
    Heun:      k1 = u(x, t), k2 = u(x + h k1, t + h), x' = x + h (k1 + k2) / 2   (order 2)
    RK4:       the classical fourth-order Runge-Kutta method                (order 4)
    Euler-Maruyama for dX = f(X, t) dt + g(t) dW:  x' = x + h f(x, t) + g(t) sqrt(|h|) z,  z ~ N(0, I)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ._validate import (all_finite, broadcast_time, check_batch, check_callable, check_choice, check_finite,
                        check_positive, check_real)

__all__ = ["Field", "Solution", "time_grid", "euler_step", "midpoint_step", "heun_step", "rk4_step",
           "STEPPERS", "NFE_PER_STEP", "solve_ode", "euler_maruyama"]

Field = Callable[..., Tensor]


@dataclass(frozen=True)
class Solution:
    """What a solver returns: the grid, the end state, the function evaluations used, and,
    when asked for with ``keep_path=True``, every state ``path`` of shape ``(N + 1, B, *D)``."""

    times: Tensor
    final: Tensor
    nfe: int
    path: Tensor | None = None


def time_grid(n_steps: int, t_start: float = 0.0, t_end: float = 1.0,
              device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """``n_steps + 1`` evenly spaced times from ``t_start`` to ``t_end`` (either direction)."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    check_real(t_start, "t_start")
    check_real(t_end, "t_end")
    if t_start == t_end:
        raise ValueError(f"t_start and t_end must differ, both are {t_start}")
    return torch.linspace(t_start, t_end, n_steps + 1, device=device, dtype=dtype)


def _at(t: Tensor, x: Tensor) -> Tensor:
    return t.to(x).expand(x.shape[0])


def euler_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    return x + h * field(x, _at(t, x), **cond)


def midpoint_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    x_mid = x + 0.5 * h * field(x, _at(t, x), **cond)
    return x + h * field(x_mid, _at(t + 0.5 * h, x), **cond)


def heun_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    k1 = field(x, _at(t, x), **cond)
    k2 = field(x + h * k1, _at(t + h, x), **cond)
    return x + 0.5 * h * (k1 + k2)


def rk4_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    k1 = field(x, _at(t, x), **cond)
    k2 = field(x + 0.5 * h * k1, _at(t + 0.5 * h, x), **cond)
    k3 = field(x + 0.5 * h * k2, _at(t + 0.5 * h, x), **cond)
    k4 = field(x + h * k3, _at(t + h, x), **cond)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


STEPPERS: dict[str, Callable[..., Tensor]] = {
    "euler": euler_step, "midpoint": midpoint_step, "heun": heun_step, "rk4": rk4_step}
NFE_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


def _check_grid(times: Tensor) -> Tensor:
    if not isinstance(times, Tensor) or times.ndim != 1 or times.numel() < 2:
        raise ValueError("times must be a 1-D tensor of at least two times (use time_grid)")
    check_finite(times, "times")
    steps = times.diff()
    if not ((steps > 0).all() or (steps < 0).all()):
        raise ValueError("times must be strictly increasing or strictly decreasing")
    return times


def _shape_checked(field: Field) -> Field:
    """Wrap ``field`` so that an output not shaped like ``x`` raises before it can broadcast."""
    check_callable(field, "field", "field(x, t, **cond)")

    def checked(x: Tensor, t: Tensor, **cond) -> Tensor:
        v = field(x, t, **cond)
        if not isinstance(v, Tensor) or v.shape != x.shape:
            shape = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"the field returned shape {shape} for x of shape {tuple(x.shape)}")
        return v

    return checked


def _check_output(v: Tensor, x: Tensor, step: int, t: Tensor) -> Tensor:
    if v.shape != x.shape:
        raise ValueError(f"the field returned shape {tuple(v.shape)} for x of shape {tuple(x.shape)}")
    if not torch.isfinite(v).all():
        raise ValueError(f"the solution became non-finite at step {step} (t = {t.item():.4g}); "
                         "the step is too large for this field or the field is singular there")
    return v


def solve_ode(field: Field, x: Tensor, times: Tensor, method: str = "euler",
              keep_path: bool = False, progress: bool = False, **cond) -> Solution:
    """Integrate dx/dt = field(x, t, **cond) from ``times[0]`` to ``times[-1]`` starting at ``x``."""
    stepper = STEPPERS[check_choice("method", method, STEPPERS)]
    x, times, field = check_batch(x, "x"), _check_grid(times), _shape_checked(field)
    path = [x] if keep_path else None
    for i in tqdm(range(len(times) - 1), disable=not progress, desc=f"{method} steps"):
        t, h = times[i], times[i + 1] - times[i]
        x = _check_output(stepper(field, x, t, h, **cond), x, i, t)
        if keep_path:
            path.append(x)
    nfe = NFE_PER_STEP[method] * (len(times) - 1)
    return Solution(times=times, final=x, nfe=nfe, path=torch.stack(path) if keep_path else None)


def _check_diffusion(g: object, t: Tensor) -> None:
    if not isinstance(g, Tensor) or g.shape != t.shape:
        shape = tuple(g.shape) if isinstance(g, Tensor) else type(g).__name__
        raise ValueError(f"diffusion(t) must return shape {tuple(t.shape)} (a scale per sample), got {shape}")
    if not all_finite(g) or (g < 0).any():
        raise ValueError(f"the diffusion coefficient g(t) must be finite and >= 0, got {g[0].item():.4g} "
                         f"at t = {t[0].item():.4g}")


def euler_maruyama(drift: Field, diffusion: Callable[[Tensor], Tensor] | float, x: Tensor, times: Tensor,
                   generator: torch.Generator | None = None, keep_path: bool = False,
                   progress: bool = False, **cond) -> Solution:
    """Simulate dX = drift(X, t) dt + g(t) dW with Euler-Maruyama.

    ``diffusion`` is the diffusion coefficient g(t): a float, or a callable mapping ``(B,)`` times to
    ``(B,)`` scales. It returns a scale, never noise; the noise z ~ N(0, I) is drawn here from
    ``generator``. With a decreasing grid the noise still scales with sqrt(|h|).
    """
    x, times, drift = check_batch(x, "x"), _check_grid(times), _shape_checked(drift)
    if not callable(diffusion):
        check_positive(diffusion, "diffusion", allow_zero=True)
    path = [x] if keep_path else None
    for i in tqdm(range(len(times) - 1), disable=not progress, desc="Euler-Maruyama steps"):
        t, h = times[i], times[i + 1] - times[i]
        tb = _at(t, x)
        g = diffusion(tb) if callable(diffusion) else torch.full_like(tb, float(diffusion))
        _check_diffusion(g, tb)
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_new = x + h * drift(x, tb, **cond) + broadcast_time(g, x) * h.abs().sqrt() * z
        x = _check_output(x_new, x, i, t)
        if keep_path:
            path.append(x)
    return Solution(times=times, final=x, nfe=len(times) - 1, path=torch.stack(path) if keep_path else None)
