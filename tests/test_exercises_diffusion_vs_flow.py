"""Chapter 6 checkers: the reference solutions pass; typical wrong ones are caught with the right words."""

from __future__ import annotations

import pytest
import torch

from fmtutor.exercises.diffusion_vs_flow import check_sample_at_nfe, check_straightness, check_velocity_to_epsilon
from fmtutor.solvers import solve_ode, time_grid
from wrong_solutions import not_attempted, returns_none

# --- reference solutions (the notebook's "solution" cells) ---------------------------------------


def _coefficients(schedule, t, like):
    v = schedule(t)
    shape = (-1,) + (1,) * (like.ndim - 1)
    return tuple(c.reshape(shape) for c in (v.alpha, v.beta, v.d_alpha, v.d_beta))


def velocity_to_epsilon(v, x, t, schedule):
    alpha, beta, d_alpha, d_beta = _coefficients(schedule, t, x)
    return (alpha * v - d_alpha * x) / (alpha * d_beta - beta * d_alpha)


def sample_at_nfe(velocity, x0, nfe, method, t_end):
    per_step = 2 if method == "heun" else 1
    if nfe < per_step or nfe % per_step:
        raise ValueError(f"NFE {nfe} is not a whole number of {method} steps")
    return solve_ode(velocity, x0, time_grid(nfe // per_step, 0.0, t_end, dtype=x0.dtype), method=method).final


def straightness(path):
    length = (path[1:] - path[:-1]).norm(dim=-1).sum(dim=0)
    return length / (path[-1] - path[0]).norm(dim=-1)


def sample_by_hand(velocity, x0, nfe, method, t_end):
    """The same sampler written out step by step, without fmtutor's solvers."""
    if method == "heun" and nfe % 2:
        raise ValueError("odd NFE")
    steps = nfe // 2 if method == "heun" else nfe
    h, x = t_end / steps, x0
    for k in range(steps):
        t = torch.full((x.shape[0],), k * h, dtype=x.dtype)
        k1 = velocity(x, t)
        if method == "euler":
            x = x + h * k1
        else:
            x = x + h / 2 * (k1 + velocity(x + h * k1, t + h))
    return x


# --- wrong solutions --------------------------------------------------------------------------------


def eps_sign(v, x, t, schedule):
    return -velocity_to_epsilon(v, x, t, schedule)


def eps_is_x1(v, x, t, schedule):
    alpha, beta, d_alpha, d_beta = _coefficients(schedule, t, x)
    return (d_beta * x - beta * v) / (alpha * d_beta - beta * d_alpha)


def eps_linear_only(v, x, t, schedule):
    return x - t.reshape(-1, *([1] * (x.ndim - 1))) * v


def eps_no_determinant(v, x, t, schedule):
    alpha, _, d_alpha, _ = _coefficients(schedule, t, x)
    return alpha * v - d_alpha * x


def eps_no_broadcast(v, x, t, schedule):
    c = schedule(t)
    return (c.alpha[:, None] * v - c.d_alpha[:, None] * x) / (c.alpha * c.d_beta - c.beta * c.d_alpha)[:, None]


def heun_nfe_steps(velocity, x0, nfe, method, t_end):
    return solve_ode(velocity, x0, time_grid(nfe, 0.0, t_end, dtype=x0.dtype), method=method).final


def ends_at_one(velocity, x0, nfe, method, t_end):
    return sample_at_nfe(velocity, x0, nfe, method, 1.0)


def one_step_too_many(velocity, x0, nfe, method, t_end):
    steps = (nfe // 2 if method == "heun" else nfe) + 1
    return solve_ode(velocity, x0, time_grid(steps, 0.0, t_end, dtype=x0.dtype), method=method).final


def heun_accepts_odd(velocity, x0, nfe, method, t_end):
    steps = max(nfe // 2, 1) if method == "heun" else nfe
    return solve_ode(velocity, x0, time_grid(steps, 0.0, t_end, dtype=x0.dtype), method=method).final


def heun_odd_type_error(velocity, x0, nfe, method, t_end):
    if method == "heun" and nfe % 2:
        raise TypeError("odd")
    return sample_at_nfe(velocity, x0, nfe, method, t_end)


def in_place(velocity, x0, nfe, method, t_end):
    out = sample_at_nfe(velocity, x0, nfe, method, t_end)
    x0.copy_(out)
    return x0


def ratio_upside_down(path):
    return 1 / straightness(path)


def ratio_squared_steps(path):
    return (path[1:] - path[:-1]).pow(2).sum(dim=-1).sum(dim=0) / (path[-1] - path[0]).pow(2).sum(dim=-1)


def ratio_chord_off_by_one(path):
    return (path[1:] - path[:-1]).norm(dim=-1).sum(dim=0) / (path[-1] - path[1]).norm(dim=-1)


def ratio_mean(path):
    return straightness(path).mean()


def ratio_wrong_axis(path):
    return (path[1:] - path[:-1]).norm(dim=1).sum(dim=0) / (path[-1] - path[0]).norm(dim=0)


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, fn, n_checks",
    [
        (check_velocity_to_epsilon, velocity_to_epsilon, 27),
        (check_sample_at_nfe, sample_at_nfe, 43),
        (check_sample_at_nfe, sample_by_hand, 43),
        (check_straightness, straightness, 15),
    ],
)
def test_reference_solutions_pass(check, fn, n_checks):
    report = check(fn)
    assert report.passed, str(report)
    assert str(report).endswith(f"all {n_checks} checks passed.")


@pytest.mark.parametrize("check", [check_velocity_to_epsilon, check_sample_at_nfe, check_straightness])
def test_not_attempted_and_none_are_reported_not_raised(check):
    assert "not attempted yet" in str(check(not_attempted))
    report = check(returns_none)
    assert not report.passed and "got NoneType (did you forget `return`?)" in str(report)


@pytest.mark.parametrize(
    "check, fn, message",
    [
        (
            check_velocity_to_epsilon,
            eps_sign,
            "the sign is flipped: the determinant is alpha_t d_beta - beta_t d_alpha",
        ),
        (check_velocity_to_epsilon, eps_is_x1, "that is x1_hat, the data estimate"),
        (check_velocity_to_epsilon, eps_linear_only, "x - t v is the noise of the linear schedule only"),
        (check_velocity_to_epsilon, eps_no_determinant, "divide by the determinant"),
        (
            check_velocity_to_epsilon,
            eps_no_broadcast,
            "your function raised RuntimeError (polynomial, t in [0.2, 0.9])",
        ),
        (check_sample_at_nfe, heun_nfe_steps, "Heun evaluates the field twice per step: NFE n means n / 2 steps"),
        (
            check_sample_at_nfe,
            heun_nfe_steps,
            "the field should be called exactly 10 times, your sampler called it 20 times",
        ),
        (check_sample_at_nfe, ends_at_one, "the grid must end at t_end = 0.999, not at 1"),
        (check_sample_at_nfe, ends_at_one, "the field was evaluated after t_end = 0.999"),
        (check_sample_at_nfe, one_step_too_many, "off by one: 7 steps, not 8"),
        (check_sample_at_nfe, heun_accepts_odd, "Heun at NFE 5 should raise ValueError"),
        (
            check_sample_at_nfe,
            heun_odd_type_error,
            "Heun at NFE 5 should raise ValueError (5 evaluations are not a whole "
            "number of Heun steps), got TypeError: odd",
        ),
        (check_sample_at_nfe, in_place, "your sampler changed x0 in place"),
        (check_straightness, ratio_upside_down, "the ratio is upside down"),
        (check_straightness, ratio_squared_steps, "add the step lengths |x_{k+1} - x_k|, not their squares"),
        (
            check_straightness,
            ratio_chord_off_by_one,
            "the chord runs from the first state path[0] to the last path[-1]",
        ),
        (check_straightness, ratio_mean, "should have shape (16,), got ()"),
        (check_straightness, ratio_wrong_axis, "should have shape (16,), got (2,)"),
    ],
)
def test_wrong_solutions_are_caught_with_the_right_message(check, fn, message):
    report = check(fn)
    assert not report.passed
    assert message in str(report), str(report)


def test_only_the_wrong_cases_fail():
    """The linear schedule's noise x - t v is right for the linear schedule and wrong for the others;
    a sampler that ends at 1 is right exactly where t_end = 1."""
    report = str(check_velocity_to_epsilon(eps_linear_only))
    assert "(linear," not in report and "(cosine," in report and "(vp," in report
    report = str(check_sample_at_nfe(ends_at_one))
    assert "t_end = 1," not in report and "t_end = 0.999" in report
