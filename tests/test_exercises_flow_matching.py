"""Chapter 4 checkers: the reference solutions pass; typical wrong ones are caught with the right words."""

from __future__ import annotations

import pytest
import torch

from fmtutor.exercises.flow_matching import (
    check_cfm_loss,
    check_conditional_velocity,
    check_euler_sampler,
    check_noisy_target,
)
from wrong_solutions import not_attempted, returns_none


# --- reference solutions (the notebook's "solution" cells) ---------------------------------------


def cfm_loss(model, x1, x0, t):
    s = t[:, None]
    x_t = s * x1 + (1 - s) * x0
    return (model(x_t, t) - (x1 - x0)).pow(2).mean()


def conditional_velocity(x, x1, t):
    return (x1 - x) / (1 - t[:, None])


def noisy_target(x0, x1, eps, t, sigma):
    s = t[:, None]
    return x1 - x0 + sigma * (1 - 2 * s) / (2 * torch.sqrt(s * (1 - s))) * eps


def euler_sampler(field, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for i in range(n_steps):
        t = torch.full((x.shape[0],), i * h, dtype=x.dtype)
        x = x + h * field(x, t)
    return x


# --- wrong solutions --------------------------------------------------------------------------------


def loss_sign(model, x1, x0, t):
    s = t[:, None]
    return (model(s * x1 + (1 - s) * x0, t) - (x0 - x1)).pow(2).mean()


def loss_regress_x_t(model, x1, x0, t):
    s = t[:, None]
    x_t = s * x1 + (1 - s) * x0
    return (model(x_t, t) - x_t).pow(2).mean()


def loss_swapped_time(model, x1, x0, t):
    s = t[:, None]
    return (model(s * x0 + (1 - s) * x1, t) - (x1 - x0)).pow(2).mean()


def loss_no_mean(model, x1, x0, t):
    s = t[:, None]
    return (model(s * x1 + (1 - s) * x0, t) - (x1 - x0)).pow(2)


def loss_sum(model, x1, x0, t):
    return cfm_loss(model, x1, x0, t) * x1.numel()


def loss_detached(model, x1, x0, t):
    return cfm_loss(model, x1, x0, t).detach()


def velocity_sign(x, x1, t):
    return -conditional_velocity(x, x1, t)


def velocity_no_division(x, x1, t):
    return x1 - x


def velocity_divides_by_t(x, x1, t):
    return (x1 - x) / t[:, None]


def target_naive(x0, x1, eps, t, sigma):
    return x1 - x0


def target_no_half(x0, x1, eps, t, sigma):
    s = t[:, None]
    return x1 - x0 + sigma * (1 - 2 * s) / torch.sqrt(s * (1 - s)) * eps


def target_flipped(x0, x1, eps, t, sigma):
    return 2 * (x1 - x0) - noisy_target(x0, x1, eps, t, sigma)


def target_gaussian_form(x0, x1, eps, t, sigma):
    s = t[:, None]
    beta = torch.sqrt((1 - s) ** 2 + sigma**2 * s * (1 - s))
    z = ((1 - s) * x0 + sigma * torch.sqrt(s * (1 - s)) * eps) / beta
    d_beta = (sigma**2 * (1 - 2 * s) - 2 * (1 - s)) / (2 * beta)
    return x1 + d_beta * z


def euler_one_short(field, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for i in range(n_steps - 1):
        x = x + h * field(x, torch.full((x.shape[0],), i * h, dtype=x.dtype))
    return x


def euler_late_time(field, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for i in range(n_steps):
        x = x + h * field(x, torch.full((x.shape[0],), (i + 1) * h, dtype=x.dtype))
    return x


def euler_frozen_time(field, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for _ in range(n_steps):
        x = x + h * field(x, torch.zeros(x.shape[0], dtype=x.dtype))
    return x


def euler_in_place(field, x0, n_steps):
    h = 1.0 / n_steps
    for i in range(n_steps):
        x0 += h * field(x0, torch.full((x0.shape[0],), i * h, dtype=x0.dtype))
    return x0


def euler_float_time(field, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for i in range(n_steps):
        x = x + h * field(x, i * h)  # a float time broadcasts: also accepted
    return x


def euler_two_evaluations(field, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for i in range(n_steps):
        t = torch.full((x.shape[0],), i * h, dtype=x.dtype)
        field(x, t)
        x = x + h * field(x, t)
    return x


# --- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check,solution",
    [
        (check_cfm_loss, cfm_loss),
        (check_conditional_velocity, conditional_velocity),
        (check_noisy_target, noisy_target),
        (check_euler_sampler, euler_sampler),
        (check_euler_sampler, euler_float_time),
    ],
)
def test_reference_solutions_pass(check, solution):
    report = check(solution)
    assert report.passed, str(report)
    assert str(report).startswith("✓") and "checks passed" in str(report)


@pytest.mark.parametrize("check", [check_cfm_loss, check_conditional_velocity, check_noisy_target, check_euler_sampler])
def test_unattempted_and_none_are_reported(check):
    report = check(not_attempted)
    assert not report.passed and "not attempted yet" in str(report)
    report = check(returns_none)
    assert not report.passed and "did you forget `return`?" in str(report)


@pytest.mark.parametrize(
    "check,wrong,words",
    [
        (check_cfm_loss, loss_sign, "the sign is flipped"),
        (check_cfm_loss, loss_regress_x_t, "not the point x_t itself"),
        (check_cfm_loss, loss_swapped_time, "t multiplies the data"),
        (check_cfm_loss, loss_no_mean, "should have shape ()"),
        (check_cfm_loss, loss_sum, "not the sum"),
        (check_cfm_loss, loss_detached, "must stay differentiable"),
        (check_conditional_velocity, velocity_sign, "the sign is flipped"),
        (check_conditional_velocity, velocity_no_division, "divide by 1 - t"),
        (check_conditional_velocity, velocity_divides_by_t, "not by t"),
        (check_noisy_target, target_naive, "x1 - x0 is the naive target"),
        (check_noisy_target, target_no_half, "the factor 1/2 is missing"),
        (check_noisy_target, target_flipped, "the sign of the noise term is flipped"),
        (check_noisy_target, target_gaussian_form, "the Gaussian form"),
        (check_euler_sampler, euler_one_short, "one step too few"),
        (check_euler_sampler, euler_late_time, "at the start of each step"),
        (check_euler_sampler, euler_frozen_time, "advance the time"),
        (check_euler_sampler, euler_in_place, "changed x0 in place"),
        (check_euler_sampler, euler_two_evaluations, "once per step, your loop called it 20 times"),
    ],
)
def test_wrong_solutions_are_named(check, wrong, words):
    report = check(wrong)
    assert not report.passed
    assert words in str(report), str(report)


def test_a_crash_is_reported_not_raised():
    def broken(model, x1, x0, t):
        return model(x1 * t, t)  # (B, D) * (B,) does not broadcast

    report = check_cfm_loss(broken)
    assert not report.passed and "your function raised RuntimeError" in str(report)
