"""Chapter 3 checkers: the reference solutions pass, typical wrong ones are caught with the right words."""

from __future__ import annotations

import pytest
import torch

from fmtutor.exercises.gaussian_paths import (
    check_conditional_score,
    check_epsilon_to_velocity,
    check_poly_conditional_velocity,
    check_sample_conditional,
)
from wrong_solutions import not_attempted


# --- reference solutions (the notebook's "solution" cells) -------------------------------------


def poly_velocity(x, x1, t):
    t = t[:, None]
    return 2 * t * (x1 - x) / (1 - t**2)


def conditional_score(x, x1, t, schedule):
    v = schedule(t)
    alpha, beta = v.alpha[:, None], v.beta[:, None]
    return -(x - alpha * x1) / beta**2


def epsilon_to_velocity(eps, x, t, schedule):
    v = schedule(t)
    alpha, beta, d_alpha, d_beta = (c[:, None] for c in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    x1_hat = (x - beta * eps) / alpha
    return d_alpha * x1_hat + d_beta * eps


def sample_conditional(x1, t, schedule, generator):
    v = schedule(t)
    x0 = torch.randn(x1.shape, generator=generator, dtype=x1.dtype)
    return v.alpha[:, None] * x1 + v.beta[:, None] * x0


def _verdict(check, fn) -> str:
    return str(check(fn))


@pytest.mark.parametrize(
    "check, fn, n_checks",
    [
        (check_poly_conditional_velocity, poly_velocity, 12),
        (check_conditional_score, conditional_score, 15),
        (check_epsilon_to_velocity, epsilon_to_velocity, 18),
        (check_sample_conditional, sample_conditional, 23),
    ],
)
def test_reference_solutions_pass(check, fn, n_checks):
    report = check(fn)
    assert report.passed, str(report)
    assert str(report).endswith(f"all {n_checks} checks passed.")


@pytest.mark.parametrize(
    "check",
    [check_poly_conditional_velocity, check_conditional_score, check_epsilon_to_velocity, check_sample_conditional],
)
def test_not_attempted_and_none_are_reported_not_raised(check):
    assert "not attempted yet" in _verdict(check, not_attempted)
    text = _verdict(check, lambda *args: None)
    assert "got NoneType (did you forget `return`?)" in text and not check(lambda *a: None).passed


POLY_WRONG = [
    (lambda x, x1, t: -poly_velocity(x, x1, t), "the sign is flipped"),
    (lambda x, x1, t: (x1 - x) / (1 - t[:, None]), "linear schedule's field"),
    (lambda x, x1, t: 2 * t[:, None] * x1 - 2 * t[:, None] * x, "d_alpha x1 + d_beta x"),
    (
        lambda x, x1, t: (
            (2 * t[:, None] + 2 * t[:, None] * (1 - t[:, None] ** 2)) * x1 - 2 * t[:, None] * (1 - t[:, None] ** 2) * x
        ),
        "misprinted",
    ),
    (lambda x, x1, t: 2 * t[:, None] * (x1 - x) / (1 - t[:, None]), "is off: largest error"),
    (lambda x, x1, t: poly_velocity(x, x1, t)[:, :2], "should have shape (7, 3), got (7, 2)"),
]


@pytest.mark.parametrize("fn, message", POLY_WRONG)
def test_poly_velocity_mistakes_are_named(fn, message):
    report = check_poly_conditional_velocity(fn)
    assert not report.passed and message in str(report), str(report)


def test_poly_velocity_that_ignores_the_path_fails_the_autograd_check():
    report = check_poly_conditional_velocity(lambda x, x1, t: 2 * t[:, None] * (x1 - x))  # forgot / (1 - t^2)
    assert "against d x_t / dt (autograd)" in str(report)
    assert "u_t at t = 0" not in str(report)  # it does vanish at t = 0: that check passes


SCORE_WRONG = [
    (lambda x, x1, t, s: -conditional_score(x, x1, t, s), "the sign is flipped"),
    (lambda x, x1, t, s: -(x - s(t).alpha[:, None] * x1) / s(t).beta[:, None], "not by beta_t"),
    (lambda x, x1, t, s: -(x - x1) / s(t).beta[:, None] ** 2, "the mean of p_t(x | x1) is alpha_t x1"),
    (lambda x, x1, t, s: -(x - t[:, None] * x1) / (1 - t[:, None]) ** 2, "(cosine schedule) is off"),
]


@pytest.mark.parametrize("fn, message", SCORE_WRONG)
def test_score_mistakes_are_named(fn, message):
    report = check_conditional_score(fn)
    assert not report.passed and message in str(report), str(report)


def _clamped(eps, x, t, schedule):
    v = schedule(t)
    alpha, beta, d_alpha, d_beta = (c[:, None] for c in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    return d_alpha * (x - beta * eps) / alpha.clamp(min=0.01) + d_beta * eps


def _linear_only(eps, x, t, schedule):
    return (x - (1 - t[:, None]) * eps) / t[:, None] - eps


def _beta_not_d_beta(eps, x, t, schedule):
    v = schedule(t)
    return v.d_alpha[:, None] * (x - v.beta[:, None] * eps) / v.alpha[:, None] + v.beta[:, None] * eps


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda eps, x, t, s: epsilon_to_velocity(-eps, x, t, s), "is off"),
        (_beta_not_d_beta, "not beta_t, in front of eps"),
        (_linear_only, "the velocity of the linear schedule only"),
        (_clamped, "near t = 0, where alpha_t is small"),
        (lambda eps, x, t, s: s(t).d_alpha[:, None] * x + s(t).d_beta[:, None] * eps, "x is not x1"),
    ],
)
def test_epsilon_to_velocity_mistakes_are_named(fn, message):
    report = check_epsilon_to_velocity(fn)
    assert not report.passed and message in str(report), str(report)


def test_clamping_alpha_only_fails_near_t_0():
    problems = check_epsilon_to_velocity(_clamped).problems
    assert len(problems) == 2 and "linear, t = 0.001" in problems[0] and "vp, t = 0)" in problems[1]
    assert all("near t = 0, where alpha_t is small" in p for p in problems)


def _global_rng(x1, t, schedule, generator):
    v = schedule(t)
    return v.alpha[:, None] * x1 + v.beta[:, None] * torch.randn_like(x1)


def _shared_noise(x1, t, schedule, generator):
    v = schedule(t)
    return v.alpha[:, None] * x1 + v.beta[:, None] * torch.randn(1, x1.shape[1], generator=generator, dtype=x1.dtype)


def _variance_as_scale(x1, t, schedule, generator):
    v = schedule(t)
    return v.alpha[:, None] * x1 + v.beta[:, None] ** 2 * torch.randn(x1.shape, generator=generator, dtype=x1.dtype)


def _swapped(x1, t, schedule, generator):
    v = schedule(t)
    return v.beta[:, None] * x1 + v.alpha[:, None] * torch.randn(x1.shape, generator=generator, dtype=x1.dtype)


@pytest.mark.parametrize(
    "fn, message",
    [
        (_global_rng, "pass generator=generator"),
        (_shared_noise, "got the same noise: draw noise of shape x1.shape"),
        (_variance_as_scale, "the standard deviation is beta_t, not the variance"),
        (_swapped, "the mean of x_t should be alpha_t x1"),
        (lambda x1, t, s, g: sample_conditional(x1, t[:1].expand_as(t), s, g), "t = 1: the mean of x_t"),
    ],
)
def test_sampling_mistakes_are_named(fn, message):
    report = check_sample_conditional(fn)
    assert not report.passed and message in str(report), str(report)


def test_global_rng_draw_passes_the_moments_but_not_the_seed_check():
    problems = check_sample_conditional(_global_rng).problems
    assert len(problems) == 1 and "same generator seed" in problems[0]


def test_checker_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_sample_conditional(sample_conditional)
    torch.testing.assert_close(torch.rand(3), expected)
