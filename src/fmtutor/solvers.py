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

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ._validate import (
    all_finite,
    broadcast_time,
    check_batch,
    check_callable,
    check_choice,
    check_finite,
    check_positive,
    check_real,
)

__all__ = [
    "Field",
    "Solution",
    "DivergenceError",
    "time_grid",
    "euler_step",
    "midpoint_step",
    "heun_step",
    "rk4_step",
    "SOLVERS",
    "NFE_PER_STEP",
    "steps_for_nfe",
    "solve_ode",
    "euler_maruyama",
]

Field = Callable[..., Tensor]


class DivergenceError(ValueError):
    """A solution became non-finite (NaN or inf): the step is too large for the field, or the field is
    singular there. A ``ValueError``, so callers that catch those keep working."""


@dataclass(frozen=True)
class Solution:
    """What a solver (ODE, SDE or DDPM's reverse chain) returns: the grid ``times`` ``(N + 1,)``, the
    end state ``final`` ``(B, *D)``, the function evaluations used, and, when asked for with
    ``keep_path=True``, every state ``path`` of shape ``(N + 1, B, *D)`` (``path[k]`` at ``times[k]``)."""

    times: Tensor
    final: Tensor
    nfe: int
    path: Tensor | None = None

    def _interval(self, t: float) -> tuple[int, float]:
        """(k, w): ``t``, clamped to the grid, lies a fraction w of the way from times[k] to times[k + 1]."""
        if self.path is None:
            raise ValueError("this solution kept no path; solve with keep_path=True to ask for states at any t")
        times = self.times.tolist()
        sign = 1.0 if times[-1] > times[0] else -1.0  # a decreasing grid is an increasing one in -t
        keys = [sign * time for time in times]
        s = min(max(sign * float(t), keys[0]), keys[-1])
        k = min(max(bisect.bisect_right(keys, s) - 1, 0), len(keys) - 2)
        return k, (s - keys[k]) / (keys[k + 1] - keys[k])

    def index(self, t: float) -> int:
        """The index k of the grid interval [times[k], times[k + 1]) holding ``t`` (clamped to the grid)."""
        return self._interval(t)[0]

    def at(self, t: float) -> Tensor:
        """The state at time ``t`` ``(B, *D)`` on the piecewise-linear path through the grid states
        (Euler's polygon for Euler), with ``t`` clamped to the grid: (1 - w) path[k] + w path[k + 1]."""
        k, w = self._interval(t)
        return torch.lerp(self.path[k], self.path[k + 1], w)

    def nearest(self, t: float) -> Tensor:
        """The state at the grid time nearest to ``t`` ``(B, *D)``: for a stochastic path, where a line
        between two states would smooth away the noise between them."""
        k, w = self._interval(t)
        return self.path[k + 1] if w > 0.5 else self.path[k]


def time_grid(
    n_steps: int,
    t_start: float = 0.0,
    t_end: float = 1.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """``n_steps + 1`` evenly spaced times from ``t_start`` to ``t_end`` (either direction)."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    check_real(t_start, "t_start")
    check_real(t_end, "t_end")
    if t_start == t_end:
        raise ValueError(f"t_start and t_end must differ, both are {t_start}")
    return torch.linspace(t_start, t_end, n_steps + 1, device=device, dtype=dtype)


def _at(t: Tensor, x: Tensor) -> Tensor:
    """The 0-d time ``t`` as a ``(B,)`` tensor in ``x``'s dtype, for the field."""
    return t.to(x).expand(x.shape[0])


def euler_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    """One Euler step from ``x`` ``(B, *D)`` at the 0-d time ``t`` with step ``h``: x + h u(x, t) (1 NFE)."""
    return x + h * field(x, _at(t, x), **cond)


def midpoint_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    """One midpoint step: x + h u(x + h/2 u(x, t), t + h/2) (2 NFE, order 2)."""
    x_mid = x + 0.5 * h * field(x, _at(t, x), **cond)
    return x + h * field(x_mid, _at(t + 0.5 * h, x), **cond)


def heun_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    """One Heun step: k1 = u(x, t), k2 = u(x + h k1, t + h), x + h (k1 + k2) / 2 (2 NFE, order 2)."""
    k1 = field(x, _at(t, x), **cond)
    k2 = field(x + h * k1, _at(t + h, x), **cond)
    return x + 0.5 * h * (k1 + k2)


def rk4_step(field: Field, x: Tensor, t: Tensor, h: Tensor, **cond) -> Tensor:
    """One classical Runge-Kutta step: x + h (k1 + 2 k2 + 2 k3 + k4) / 6 (4 NFE, order 4)."""
    k1 = field(x, _at(t, x), **cond)
    k2 = field(x + 0.5 * h * k1, _at(t + 0.5 * h, x), **cond)
    k3 = field(x + 0.5 * h * k2, _at(t + 0.5 * h, x), **cond)
    k4 = field(x + h * k3, _at(t + h, x), **cond)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


SOLVERS: dict[str, Callable[..., Tensor]] = {
    "euler": euler_step,
    "midpoint": midpoint_step,
    "heun": heun_step,
    "rk4": rk4_step,
}
NFE_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


def steps_for_nfe(solver: str, nfe: int) -> int:
    """The number of steps of ``solver`` that spends exactly ``nfe`` field evaluations:
    ``nfe / NFE_PER_STEP[solver]`` (Euler: nfe, Heun and midpoint: nfe / 2, RK4: nfe / 4)."""
    per_step = NFE_PER_STEP[check_choice("solver", solver, SOLVERS)]
    if isinstance(nfe, bool) or not isinstance(nfe, int) or nfe < per_step or nfe % per_step:
        raise ValueError(f"nfe must be a positive multiple of {per_step} for solver {solver!r}, got {nfe!r}")
    return nfe // per_step


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


def _march(
    advance: Callable[[Tensor, int], Tensor], x: Tensor, times: Tensor, keep_path: bool, progress: bool, desc: str
) -> tuple[Tensor, Tensor | None]:
    """x_{i+1} = advance(x_i, i) over the grid; the final state and, with ``keep_path``, every state.

    Finiteness is recorded on the device at each step and read once at the end (a per-step check
    would stall a GPU at every step); a state that became non-finite raises ``DivergenceError``
    naming the first such step, as does a field that refuses a non-finite input on the way.
    """
    path, finite = ([x] if keep_path else None), []
    for i in tqdm(range(len(times) - 1), disable=not progress, desc=desc):
        try:
            x = advance(x, i)
        except ValueError as err:
            if isinstance(err, DivergenceError) or bool(torch.isfinite(x).all()):
                raise
            raise _diverged(finite, times) from err
        finite.append(torch.isfinite(x).all())
        if keep_path:
            path.append(x)
    if not bool(torch.stack(finite).all()):
        raise _diverged(finite, times)
    return x, torch.stack(path) if keep_path else None


def _diverged(finite: list[Tensor], times: Tensor) -> DivergenceError:
    """The error for a solution that became non-finite: at the first False of ``finite`` (or the last step)."""
    flags = torch.stack(finite).tolist() if finite else []
    step = flags.index(False) if False in flags else len(flags) - 1
    return DivergenceError(
        f"the solution became non-finite at step {step} (t = {times[step].item():.4g}); "
        "the step is too large for this field or the field is singular there"
    )


def solve_ode(
    field: Field,
    x: Tensor,
    times: Tensor,
    method: str = "euler",
    keep_path: bool = False,
    progress: bool = False,
    **cond,
) -> Solution:
    """Integrate dx/dt = field(x, t, **cond) from ``times[0]`` to ``times[-1]`` starting at ``x``
    ``(B, *D)`` with the one-step ``method`` on the grid ``times`` ``(N + 1,)``.

    Inputs are checked here, once; the steps run unchecked, and a solution that became non-finite
    raises ``DivergenceError`` (a ``ValueError``) at the end.
    """
    stepper = SOLVERS[check_choice("method", method, SOLVERS)]
    x, times, field = check_batch(x, "x"), _check_grid(times), _shape_checked(field)

    def advance(x: Tensor, i: int) -> Tensor:
        return stepper(field, x, times[i], times[i + 1] - times[i], **cond)

    final, path = _march(advance, x, times, keep_path, progress, f"{method} steps")
    return Solution(times=times, final=final, nfe=NFE_PER_STEP[method] * (len(times) - 1), path=path)


def _check_diffusion(g: object, t: Tensor) -> None:
    if not isinstance(g, Tensor) or g.shape != t.shape:
        shape = tuple(g.shape) if isinstance(g, Tensor) else type(g).__name__
        raise ValueError(f"diffusion(t) must return shape {tuple(t.shape)} (a scale per sample), got {shape}")
    if not all_finite(g) or (g < 0).any():
        raise ValueError(
            f"the diffusion coefficient g(t) must be finite and >= 0, got {g[0].item():.4g} at t = {t[0].item():.4g}"
        )


def euler_maruyama(
    drift: Field,
    diffusion: Callable[[Tensor], Tensor] | float,
    x: Tensor,
    times: Tensor,
    generator: torch.Generator | None = None,
    keep_path: bool = False,
    progress: bool = False,
    **cond,
) -> Solution:
    """Simulate dX = drift(X, t) dt + g(t) dW with Euler-Maruyama.

    ``diffusion`` is the diffusion coefficient g(t): a float, or a callable mapping ``(B,)`` times to
    ``(B,)`` scales. It returns a scale, never noise; the noise z ~ N(0, I) is drawn here from
    ``generator``. With a decreasing grid the noise still scales with sqrt(|h|).
    """
    x, times, drift = check_batch(x, "x"), _check_grid(times), _shape_checked(drift)
    if not callable(diffusion):
        check_positive(diffusion, "diffusion", allow_zero=True)

    def advance(x: Tensor, i: int) -> Tensor:
        t, h = times[i], times[i + 1] - times[i]
        tb = _at(t, x)
        g = diffusion(tb) if callable(diffusion) else torch.full_like(tb, float(diffusion))
        _check_diffusion(g, tb)
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + h * drift(x, tb, **cond) + broadcast_time(g, x) * h.abs().sqrt() * z

    final, path = _march(advance, x, times, keep_path, progress, "Euler-Maruyama steps")
    return Solution(times=times, final=final, nfe=len(times) - 1, path=path)
