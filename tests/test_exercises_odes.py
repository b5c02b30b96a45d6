"""Chapter 1 checkers: the reference solutions pass, typical wrong attempts are caught and named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fmtutor.exercises.odes import (
    check_convergence_order,
    check_euler_solve,
    check_euler_step,
    check_heun_step,
    check_richardson,
)
from fmtutor.odes import LinearODE
from fmtutor.solvers import time_grid
from wrong_solutions import not_attempted, returns_none


def _failed_with(report, fragment: str) -> None:
    assert not report.passed
    assert any(fragment in p for p in report.problems), str(report)


# ---------------------------------------------------------------- Euler step
def euler_step(field, x, t, h):
    return x + h * field(x, t)


WRONG_EULER = {
    "slope at the end": (lambda f, x, t, h: x + h * f(x, t + h), "end of the step"),
    "forgot h": (lambda f, x, t, h: x + f(x, t), "forgot to multiply the slope by h"),
    "sign": (lambda f, x, t, h: x - h * f(x, t), "wrong sign"),
    "increment only": (lambda f, x, t, h: h * f(x, t), "increment"),
    "returns None": (returns_none, "forget `return`"),
    "wrong shape": (lambda f, x, t, h: (x + h * f(x, t))[0], "should have shape"),
    "not attempted": (not_attempted, "not attempted"),
    "crashes": (lambda f, x, t, h: x @ torch.ones(7, 7), "raised RuntimeError"),
    "NaN": (lambda f, x, t, h: x * float("nan"), "NaN"),
}


def test_euler_step_reference_passes():
    report = check_euler_step(euler_step)
    assert report.passed and report.n_checks >= 12
    assert str(report).startswith("✓ Euler step: all")


@pytest.mark.parametrize("name", list(WRONG_EULER))
def test_euler_step_mistakes_are_named(name):
    wrong, fragment = WRONG_EULER[name]
    _failed_with(check_euler_step(wrong), fragment)


def test_euler_step_in_place_update_is_caught():
    def in_place(field, x, t, h):
        x += h * field(x, t)
        return x

    _failed_with(check_euler_step(in_place), "in place")


# ---------------------------------------------------------------- Heun step
def heun_step(field, x, t, h):
    k1 = field(x, t)
    k2 = field(x + h * k1, t + h)
    return x + h * (k1 + k2) / 2


def _heun_variant(second_time, weight_sum=0.5):
    def step(f, x, t, h):
        k1 = f(x, t)
        k2 = f(x + h * k1, second_time(t, h))
        return x + weight_sum * h * (k1 + k2)

    return step


WRONG_HEUN = {
    "euler": (euler_step, "this is an Euler step"),
    "k2 at t": (_heun_variant(lambda t, h: t), "k2 is evaluated at time t"),
    "no halving": (_heun_variant(lambda t, h: t + h, 1.0), "forgot to halve"),
    "k2 only": (lambda f, x, t, h: x + h * f(x + h * f(x, t), t + h), "use only k2"),
    "midpoint": (lambda f, x, t, h: x + h * f(x + h / 2 * f(x, t), t + h / 2), "midpoint method"),
    "sign": (lambda f, x, t, h: x - h * (f(x, t) + f(x + h * f(x, t), t + h)) / 2, "field 3 times"),
}


def test_heun_step_reference_passes():
    assert check_heun_step(heun_step).passed


@pytest.mark.parametrize("name", list(WRONG_HEUN))
def test_heun_step_mistakes_are_named(name):
    wrong, fragment = WRONG_HEUN[name]
    _failed_with(check_heun_step(wrong), fragment)


def test_heun_step_counts_evaluations():
    def three_evaluations(f, x, t, h):
        f(x, t)
        return heun_step(f, x, t, h)

    report = check_heun_step(three_evaluations)
    _failed_with(report, "evaluated the field 3 times")
    assert all("3 times" in p for p in report.problems)  # the values themselves are right


# ---------------------------------------------------------------- convergence order
def convergence_order(n_steps, errors):
    x, y = torch.log(n_steps), torch.log(errors)
    x, y = x - x.mean(), y - y.mean()
    return -float((x * y).sum() / (x * x).sum())


def test_order_reference_passes():
    report = check_convergence_order(convergence_order)
    assert report.passed and report.n_checks == 14


def test_order_numpy_polyfit_passes():
    """Any correct least-squares fit passes, whatever library computes it."""
    assert check_convergence_order(lambda n, e: -np.polyfit(np.log(n.numpy()), np.log(e.numpy()), 1)[0]).passed


WRONG_ORDER = {
    "sign": (lambda n, e: -convergence_order(n, e), "wrong sign"),
    "last two points": (lambda n, e: math.log(e[-2] / e[-1]) / math.log(n[-1] / n[-2]), "only two points"),
    "log bases": (lambda n, e: convergence_order(n, e) * math.log(10), "logarithm bases"),
    "slope against n": (lambda n, e: -float(np.polyfit(n.numpy(), np.log(e.numpy()), 1)[0]), "expected order"),
    "returns a string": (lambda n, e: "2", "as a number, got str"),
    "returns a list": (lambda n, e: [1.0], "as a number"),
}


@pytest.mark.parametrize("name", list(WRONG_ORDER))
def test_order_mistakes_are_named(name):
    wrong, fragment = WRONG_ORDER[name]
    report = check_convergence_order(wrong)
    assert not report.passed
    if fragment is not None:
        _failed_with(report, fragment)


# ---------------------------------------------------------------- Euler solve
def euler_solve(field, x0, times):
    x = x0
    for i in range(len(times) - 1):
        x = x + (times[i + 1] - times[i]) * field(x, times[i])
    return x


def _one_short(field, x0, times):
    x = x0
    for i in range(len(times) - 2):  # "for i = 1..n-1"
        x = x + (times[i + 1] - times[i]) * field(x, times[i])
    return x


def _fixed_h(field, x0, times):
    n = len(times) - 1
    x = x0
    for i in range(n):
        x = x + (1 / n) * field(x, times[i])
    return x


def _right_end(field, x0, times):
    x = x0
    for i in range(len(times) - 1):
        x = x + (times[i + 1] - times[i]) * field(x, times[i + 1])
    return x


def _path(field, x0, times):
    xs = [x0]
    for i in range(len(times) - 1):
        xs.append(xs[-1] + (times[i + 1] - times[i]) * field(xs[-1], times[i]))
    return torch.stack(xs)


def _in_place(field, x0, times):
    for i in range(len(times) - 1):
        x0 += (times[i + 1] - times[i]) * field(x0, times[i])
    return x0


def test_euler_solve_reference_passes():
    report = check_euler_solve(euler_solve)
    assert report.passed, str(report)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (_one_short, "your solver stops at t = 0.9, one step short of t_end = 1"),
        (_one_short, "your solver stops at t = 0.125, one step short of t_end = 0:"),
        (_fixed_h, "do not follow the grid"),
        (_right_end, "end of each step"),
        (_path, "should have shape (6, 2), got (11, 6, 2)"),
        (_in_place, "changed x0 in place"),
    ],
    ids=["n-1 steps", "n-1 steps backward", "fixed h", "right end", "returns path", "in place"],
)
def test_euler_solve_mistakes_are_named(wrong, fragment):
    _failed_with(check_euler_solve(wrong), fragment)


def test_fixed_h_is_caught_on_both_special_grids():
    problems = check_euler_solve(_fixed_h).problems
    assert any("for a decreasing grid" in p for p in problems)
    assert any("for an uneven grid" in p for p in problems)
    assert not any("the spiral field on time_grid(10)" in p for p in problems)


# ---------------------------------------------------------------- Richardson extrapolation
def _halve(times):
    mid = (times[:-1] + times[1:]) / 2
    return torch.stack([times[:-1], mid], 1).reshape(-1).tolist() + [times[-1].item()]


def richardson(field, x0, times, combine=lambda fine, coarse: 2 * fine - coarse, fine_grid=None):
    """Euler on the grid and on the grid with each interval halved, combined."""
    fine_times = torch.tensor(fine_grid(times) if fine_grid else _halve(times), dtype=times.dtype)
    return combine(euler_solve(field, x0, fine_times), euler_solve(field, x0, times))


def _even_fine_grid(times):
    return torch.linspace(times[0].item(), times[-1].item(), 2 * (len(times) - 1) + 1).tolist()


def test_richardson_reference_passes_and_is_second_order():
    report = check_richardson(richardson)
    assert report.passed and str(report).endswith("all 16 checks passed."), str(report)
    ode, x0 = LinearODE.spiral(), torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    ns = [16, 32, 64, 128]
    errors = [(richardson(ode, x0, time_grid(n, dtype=torch.float64)) - ode.flow(x0, 1.0)).norm().item() for n in ns]
    assert convergence_order(torch.tensor(ns, dtype=torch.float64), torch.tensor(errors)) == pytest.approx(2, abs=0.1)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda f, x0, t: richardson(f, x0, t, combine=lambda fine, coarse: fine), "the fine Euler solve alone"),
        (lambda f, x0, t: richardson(f, x0, t, combine=lambda fine, coarse: 2 * coarse - fine), "weights are swapped"),
        (lambda f, x0, t: richardson(f, x0, t, combine=lambda fine, coarse: (fine + coarse) / 2), "averaging"),
        (lambda f, x0, t: richardson(f, x0, t, fine_grid=_even_fine_grid), "your fine grid is evenly spaced"),
        (lambda f, x0, t: richardson(f, x0, t) + 0 * f(x0, t[0]), "evaluated the field 31 times; the two Euler"),
        (euler_solve, "evaluated the field 10 times"),
        (not_attempted, "not attempted yet"),
    ],
    ids=["fine only", "swapped", "average", "even fine grid", "extra call", "euler only", "not attempted"],
)
def test_richardson_mistakes_are_named(wrong, fragment):
    _failed_with(check_richardson(wrong), fragment)
