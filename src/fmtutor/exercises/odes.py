"""Checkers for chapter 1 (ODEs): an Euler step, a Heun step, a convergence-order estimate, a
full Euler solve over a time grid and Richardson extrapolation of two Euler solves.

Each runs the learner's function on fields and grids they have not seen (a time-dependent spiral,
a time-dependent scalar growth on image-shaped batches, t = 0 and t = 1 ends, backward and uneven
grids), compares with ``fmtutor.solvers`` / ``fmtutor.odes``, and names typical mistakes (slope at
the wrong time, forgotten h, n - 1 steps, wrong sign of an order) in plain words.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
from torch import Tensor

from ..odes import GrowthODE, LinearODE, convergence_order, global_error
from ..solvers import SOLVERS, solve_ode, time_grid
from ._checker import NOT_RUN, Checker, CountedField, Report

__all__ = ["check_euler_step", "check_heun_step", "check_convergence_order", "check_euler_solve", "check_richardson"]

_F64 = torch.float64


def _step_cases() -> list[tuple[str, Callable[..., Tensor], Tensor, float, float]]:
    """(description, field, x, t, h): 2D spiral, a backward step from t = 1, image-shaped batches."""
    gen = torch.Generator().manual_seed(1)
    spiral, growth = LinearODE.spiral(), GrowthODE(omega=4.0)
    return [
        ("the spiral field at t = 0, h = 0.1", spiral, torch.randn(5, 2, generator=gen), 0.0, 0.1),
        ("a backward step from t = 1, h = -0.25", spiral, torch.randn(3, 2, generator=gen), 1.0, -0.25),
        ("dx/dt = 4 cos(4t) x at t = 0.3, h = 0.05", growth, torch.randn(4, 3, generator=gen), 0.3, 0.05),
        ("image-shaped x (2, 1, 4, 4) at t = 0.7", growth, torch.randn(2, 1, 4, 4, generator=gen), 0.7, 0.2),
    ]


def _run_step(report: Checker, step: Callable, field, x: Tensor, t: float, h: float, case: str):
    """Call the learner's step on a copy of ``x``; flag a change of ``x`` in place."""
    x_in = x.clone()
    value = report.call(step, field, x_in, t, h, case=case)
    if value is not NOT_RUN:
        report.check(
            torch.equal(x_in, x),
            f"{case}: your step changed the input x in place (x += ...); "
            "return a new tensor, since a solver keeps the old state",
        )
    return value


def check_euler_step(euler_step: Callable) -> Report:
    """Check ``euler_step(field, x, t, h) -> x + h * field(x, t)`` (``t``, ``h`` floats)."""
    report = Checker("Euler step")
    for case, field, x, t, h in _step_cases():
        value = _run_step(report, euler_step, field, x, t, h, case)
        u, u_end = field(x, t), field(x, t + h)
        expected = SOLVERS["euler"](field, x, torch.tensor(t), torch.tensor(h))
        report.close(
            value,
            expected,
            f"x_next for {case}",
            mistakes=[
                (
                    x + h * u_end,
                    "you evaluate the field at the end of the step, u(x, t + h); Euler uses the "
                    "slope at the start, u(x, t)",
                ),
                (x + u, "you forgot to multiply the slope by h: the step is x + h * u(x, t)"),
                (x - h * u, "wrong sign: Euler moves along the field, x + h * u(x, t), not against it"),
                (h * u, "you return the increment h * u(x, t), not the new state x + h * u(x, t)"),
            ],
        )
    return report.report()


def check_heun_step(heun_step: Callable) -> Report:
    """Check ``heun_step(field, x, t, h)``: k1 = u(x, t), k2 = u(x + h k1, t + h), x + h (k1 + k2) / 2."""
    report = Checker("Heun step")
    for case, field, x, t, h in _step_cases():
        counted = CountedField(field)
        value = _run_step(report, heun_step, counted, x, t, h, case)
        if value is not NOT_RUN:
            report.check(
                counted.calls == 2,
                f"{case}: your step evaluated the field {counted.calls} times; "
                "Heun needs exactly 2 evaluations (k1 and k2), and each one costs an NFE",
            )
        k1 = field(x, t)
        k2, k2_at_t = field(x + h * k1, t + h), field(x + h * k1, t)
        midpoint = x + h * field(x + 0.5 * h * k1, t + 0.5 * h)
        expected = SOLVERS["heun"](field, x, torch.tensor(t), torch.tensor(h))
        report.close(
            value,
            expected,
            f"x_next for {case}",
            mistakes=[
                (x + h * k1, "this is an Euler step; Heun averages k1 = u(x, t) with k2 = u(x + h k1, t + h)"),
                (x + 0.5 * h * (k1 + k2_at_t), "k2 is evaluated at time t; the predictor x + h k1 lives at t + h"),
                (x + h * (k1 + k2), "you forgot to halve the sum: the step is x + h (k1 + k2) / 2"),
                (x + h * k2, "you use only k2; Heun averages it with k1: x + h (k1 + k2) / 2"),
                (midpoint, "this is the midpoint method (also order 2), not Heun's average of two slopes"),
                (x - 0.5 * h * (k1 + k2), "wrong sign: the step is x + h (k1 + k2) / 2"),
            ],
        )
    return report.report()


def _as_number(value: object) -> float | None:
    if isinstance(value, (str, bytes)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _order_verdict(p: float, expected: float, two_point: list[float], atol: float = 1e-4) -> str | None:
    """None when ``p`` is the least-squares order, else what is wrong with it."""
    if abs(p - expected) <= atol:
        return None
    if abs(p + expected) <= atol:
        return (
            f"your order has the wrong sign ({p:.3g}); errors shrink as n grows, so the order is "
            "MINUS the slope of log(error) against log(n)"
        )
    if any(abs(p - q) <= atol for q in two_point):
        return (
            "your estimate uses only two points; fit a straight line through ALL points (least "
            "squares), so that noise averages out"
        )
    if abs(p / expected - 2.302585) < 1e-3 or abs(expected / p - 2.302585) < 1e-3:
        return "you mix logarithm bases (log10 and ln): use the same logarithm on both axes"
    return f"expected order {expected:.4g} (least-squares fit through all points), got {p:.4g}"


@lru_cache(maxsize=1)
def _order_cases() -> tuple[tuple[str, Tensor, Tensor], ...]:
    """(description, n_steps, errors): exact power laws, noisy ones, and real solver output
    (computed once; the learner gets copies)."""
    gen = torch.Generator().manual_seed(2)
    n1, n2, n3 = (torch.tensor(v, dtype=_F64) for v in ([4, 8, 16, 32], [10, 20, 40, 80, 160], [5, 7, 12, 30]))
    noisy_n = torch.tensor([8, 16, 32, 64, 128], dtype=_F64)
    noise = torch.exp(0.3 * torch.randn(5, generator=gen, dtype=_F64))
    cases = [
        ("errors 3 / n", n1, 3 / n1),
        ("errors 0.5 / n^2", n2, 0.5 / n2**2),
        ("errors 20 / n^4 at uneven n", n3, 20 / n3**4),
        ("noisy errors around 2 / n^2", noisy_n, 2 / noisy_n**2 * noise),
    ]
    ode, x0, n_real = LinearODE.spiral(), torch.tensor([[1.0, 0.5]], dtype=_F64), [16, 32, 64, 128]
    for method in ("euler", "heun", "rk4"):
        errors = torch.tensor([global_error(ode, x0, method, n) for n in n_real], dtype=_F64)
        cases.append((f"{method} on the spiral ODE", torch.tensor(n_real, dtype=_F64), errors))
    return tuple(cases)


def check_convergence_order(order: Callable) -> Report:
    """Check ``order(n_steps, errors) -> p`` with errors ~ C n^(-p), fitted by least squares."""
    report = Checker("convergence order")
    for case, n, errors in _order_cases():
        value = report.call(order, n.clone(), errors.clone(), case=case)
        if value is NOT_RUN:
            continue
        p = _as_number(value)
        if p is None:
            report.check(False, f"{case}: return the order as a number, got {type(value).__name__}")
            continue
        pairs = [(0, 1), (-2, -1), (0, -1)]
        two_point = [convergence_order(n[[i, j]], errors[[i, j]]) for i, j in pairs]
        problem = _order_verdict(p, convergence_order(n, errors), two_point)
        report.check(problem is None, f"{case}: {problem}")
    return report.report()


def _euler_loop(field, x: Tensor, evals: Tensor, steps: Tensor) -> Tensor:
    """x <- x + steps[i] * field(x, evals[i]) for each i: the reference for wrong loops."""
    for t, h in zip(evals, steps):
        x = x + h * field(x, t)
    return x


def _solve_cases() -> list[tuple[str, Callable[..., Tensor], Tensor, Tensor]]:
    """(description, field, x0, times): forward, a single step, backward, uneven."""
    gen = torch.Generator().manual_seed(3)
    spiral, growth = LinearODE.spiral(), GrowthODE(omega=4.0)
    return [
        ("the spiral field on time_grid(10)", spiral, torch.randn(6, 2, generator=gen), time_grid(10)),
        ("a single step, time_grid(1)", growth, torch.randn(4, 1, generator=gen), time_grid(1)),
        (
            "a decreasing grid from t = 1 to 0 (8 steps)",
            growth,
            torch.randn(3, 2, generator=gen),
            time_grid(8, 1.0, 0.0),
        ),
        ("an uneven grid t_i = (i / 8)^2", spiral, torch.randn(5, 2, generator=gen), time_grid(8) ** 2),
    ]


def check_euler_solve(euler_solve: Callable) -> Report:
    """Check ``euler_solve(field, x0, times) -> x`` at ``times[-1]``: one Euler step per grid interval."""
    report = Checker("Euler solve")
    for case, field, x0, times in _solve_cases():
        x_in = x0.clone()
        value = report.call(euler_solve, field, x_in, times.clone(), case=case)
        if value is not NOT_RUN:
            report.check(torch.equal(x_in, x0), f"{case}: your solver changed x0 in place; work on a new tensor")
        n, h = len(times) - 1, times.diff()
        uniform = (times[-1] - times[0]) / n
        expected = solve_ode(field, x0, times, method="euler").final
        report.close(
            value,
            expected,
            f"x(t_end) for {case}",
            mistakes=[
                (
                    _euler_loop(field, x0, times[:-2], h[:-1]),
                    f"your solver stops at t = {times[-2].item():.3g}, one step short of t_end = "
                    f"{times[-1].item():.3g}: a grid of n + 1 times has n steps, range(len(times) - 1)",
                ),
                (
                    _euler_loop(field, x0, times[1:], h),
                    "you evaluate the field at the end of each step, times[i + 1]; Euler uses the start, times[i]",
                ),
                (
                    _euler_loop(field, x0, times[:-1], uniform.abs().expand(n)),
                    "your steps do not follow the grid: use h = times[i + 1] - times[i] (negative on a "
                    "decreasing grid, uneven on an uneven one)",
                ),
            ],
        )
    return report.report()


def _halved(times: Tensor) -> Tensor:
    """The grid with the midpoint of every interval added: 2n steps for the n of ``times``."""
    mid = (times[:-1] + times[1:]) / 2
    return torch.cat([torch.stack([times[:-1], mid], dim=1).reshape(-1), times[-1:]])


def check_richardson(fn: Callable) -> Report:
    """Check ``fn(field, x0, times) -> 2 x_fine - x_coarse``: Euler over ``times`` (x_coarse) and over the
    grid with every interval halved (x_fine), combined so that their order-1 errors cancel; 3n NFE."""
    report = Checker("Richardson extrapolation")
    for case, field, x0, times in _solve_cases():
        counted, n = CountedField(field), len(times) - 1
        value = report.call(fn, counted, x0.clone(), times.clone(), case=case)
        if value is not NOT_RUN:
            report.check(
                counted.calls == 3 * n,
                f"{case}: your method evaluated the field {counted.calls} times; the two Euler solves take "
                f"n + 2n = {3 * n} (n = {n} steps on the grid, 2n on the halved grid)",
            )
        coarse = solve_ode(field, x0, times, method="euler").final
        fine = solve_ode(field, x0, _halved(times), method="euler").final
        uniform = time_grid(2 * n, float(times[0]), float(times[-1]), dtype=times.dtype)
        report.close(
            value,
            2 * fine - coarse,
            f"the extrapolated x(t_end) for {case}",
            mistakes=[
                (fine, "this is the fine Euler solve alone; combine it with the coarse one: 2 x_fine - x_coarse"),
                (2 * coarse - fine, "the weights are swapped: the fine solve gets 2, the coarse one -1"),
                ((fine + coarse) / 2, "averaging the two solves keeps the order-1 error; take 2 x_fine - x_coarse"),
                (
                    2 * solve_ode(field, x0, uniform, method="euler").final - coarse,
                    "your fine grid is evenly spaced; halve each interval of the given grid instead",
                ),
            ],
        )
    return report.report()
