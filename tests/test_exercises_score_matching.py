"""Chapter 5 checkers: the reference solutions pass; typical wrong ones are caught with the right words."""

from __future__ import annotations

import pytest
import torch

from fmtutor.exercises.score_matching import (
    check_ddim_eta_step,
    check_ddim_step,
    check_dsm_loss,
    check_score_to_velocity,
    check_sde_drift,
)
from wrong_solutions import not_attempted, returns_none


# --- reference solutions (the notebook's "solution" cells) ---------------------------------------


def _shaped(c, like):
    return c.reshape(-1, *([1] * (like.ndim - 1)))


def score_to_velocity(score, x, t, schedule):
    v = schedule(t)
    alpha, beta, d_alpha, d_beta = (_shaped(c, x) for c in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    eps = -beta * score
    x1_hat = (x - beta * eps) / alpha
    return d_alpha * x1_hat + d_beta * eps


def dsm_loss(score_model, x1, x0, t, schedule):
    v = schedule(t)
    alpha, beta = _shaped(v.alpha, x1), _shaped(v.beta, x1)
    x_t = alpha * x1 + beta * x0
    return (score_model(x_t, t) + x0 / beta).pow(2).mean()


def ddim_step(eps_model, x, n, n_prev, ddpm):
    a, a_prev = ddpm.alpha_bars[n].to(x), ddpm.alpha_bars[n_prev].to(x)
    t = torch.full((x.shape[0],), 1 - n / ddpm.T, dtype=x.dtype)
    eps = eps_model(x, t)
    x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
    return a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps


def sde_drift(velocity, score, x, t, sigma):
    return velocity(x, t) + sigma**2 / 2 * score(x, t)


# --- wrong solutions --------------------------------------------------------------------------------


def velocity_sign(score, x, t, schedule):
    return score_to_velocity(-score, x, t, schedule)


def velocity_beta_squared(score, x, t, schedule):
    beta = _shaped(schedule(t).beta, x)
    return score_to_velocity(beta * score, x, t, schedule)  # eps = -beta^2 score


def velocity_from_x(score, x, t, schedule):
    v = schedule(t)
    beta, d_alpha, d_beta = (_shaped(c, x) for c in (v.beta, v.d_alpha, v.d_beta))
    return d_alpha * x - d_beta * beta * score


def velocity_linear_formula(score, x, t, schedule):
    t = _shaped(t, x)
    return (x + (1 - t) * score) / t


def velocity_no_broadcast(score, x, t, schedule):
    v = schedule(t)
    eps = -v.beta[:, None] * score
    return v.d_alpha[:, None] * (x - v.beta[:, None] * eps) / v.alpha[:, None] + v.d_beta[:, None] * eps


def _dsm_with_target(score_model, x1, x0, t, schedule, sign, power):
    v = schedule(t)
    alpha, beta = _shaped(v.alpha, x1), _shaped(v.beta, x1)
    x_t = alpha * x1 + beta * x0
    return (score_model(x_t, t) - sign * x0 / beta**power).pow(2).mean()


def dsm_target_sign(score_model, x1, x0, t, schedule):
    return _dsm_with_target(score_model, x1, x0, t, schedule, +1, 1)


def dsm_beta_squared(score_model, x1, x0, t, schedule):
    return _dsm_with_target(score_model, x1, x0, t, schedule, -1, 2)


def dsm_sum(score_model, x1, x0, t, schedule):
    return dsm_loss(score_model, x1, x0, t, schedule) * x1.numel()


def dsm_swapped(score_model, x1, x0, t, schedule):
    v = schedule(t)
    alpha, beta = _shaped(v.alpha, x1), _shaped(v.beta, x1)
    return (score_model(beta * x1 + alpha * x0, t) + x0 / beta).pow(2).mean()


def dsm_item(score_model, x1, x0, t, schedule):
    return dsm_loss(score_model, x1, x0, t, schedule).detach()


def ddim_alpha_bar(eps_model, x, n, n_prev, ddpm):
    a, a_prev = ddpm.alpha_bars[n].to(x), ddpm.alpha_bars[n_prev].to(x)
    eps = eps_model(x, torch.full((x.shape[0],), 1 - n / ddpm.T, dtype=x.dtype))
    x0_hat = (x - (1 - a) * eps) / a
    return a_prev * x0_hat + (1 - a_prev) * eps


def ddim_off_by_one(eps_model, x, n, n_prev, ddpm):
    a, a_prev = ddpm.alpha_bars[n - 1].to(x), ddpm.alpha_bars[max(n_prev - 1, 0)].to(x)
    eps = eps_model(x, torch.full((x.shape[0],), 1 - n / ddpm.T, dtype=x.dtype))
    x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
    return a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps


def ddim_ddpm_time(eps_model, x, n, n_prev, ddpm):
    a, a_prev = ddpm.alpha_bars[n].to(x), ddpm.alpha_bars[n_prev].to(x)
    eps = eps_model(x, torch.full((x.shape[0],), n / ddpm.T, dtype=x.dtype))
    x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
    return a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps


def ddim_hardcoded_T(eps_model, x, n, n_prev, ddpm):
    a, a_prev = ddpm.alpha_bars[n].to(x), ddpm.alpha_bars[n_prev].to(x)
    eps = eps_model(x, torch.full((x.shape[0],), 1 - n / 1000, dtype=x.dtype))
    x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
    return a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps


def ddim_two_calls(eps_model, x, n, n_prev, ddpm):
    eps_model(x, torch.full((x.shape[0],), 1 - n / ddpm.T, dtype=x.dtype))
    return ddim_step(eps_model, x, n, n_prev, ddpm)


def ddim_in_place(eps_model, x, n, n_prev, ddpm):
    out = ddim_step(eps_model, x, n, n_prev, ddpm)
    x.copy_(out)
    return x


def drift_no_half(velocity, score, x, t, sigma):
    return velocity(x, t) + sigma**2 * score(x, t)


def drift_no_square(velocity, score, x, t, sigma):
    return velocity(x, t) + sigma / 2 * score(x, t)


def drift_minus_u(velocity, score, x, t, sigma):
    return -velocity(x, t) + sigma**2 / 2 * score(x, t)


def drift_no_correction(velocity, score, x, t, sigma):
    return velocity(x, t)


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, fn, n_checks",
    [
        (check_score_to_velocity, score_to_velocity, 21),
        (check_dsm_loss, dsm_loss, 12),
        (check_ddim_step, ddim_step, 25),
        (check_sde_drift, sde_drift, 12),
    ],
)
def test_reference_solutions_pass(check, fn, n_checks):
    report = check(fn)
    assert report.passed, str(report)
    assert str(report).endswith(f"all {n_checks} checks passed.")


@pytest.mark.parametrize("check", [check_score_to_velocity, check_dsm_loss, check_ddim_step, check_sde_drift])
def test_not_attempted_and_none_are_reported_not_raised(check):
    assert "not attempted yet" in str(check(not_attempted))
    report = check(returns_none)
    assert not report.passed and "got NoneType (did you forget `return`?)" in str(report)


@pytest.mark.parametrize(
    "check, fn, message",
    [
        (check_score_to_velocity, velocity_sign, "the sign is flipped: eps = -beta_t * score"),
        (check_score_to_velocity, velocity_beta_squared, "multiply by beta_t, not by beta_t^2"),
        (check_score_to_velocity, velocity_from_x, "x is not x1"),
        (
            check_score_to_velocity,
            velocity_linear_formula,
            "(x + (1 - t) score) / t holds for the linear schedule only",
        ),
        (check_score_to_velocity, velocity_no_broadcast, "your function raised RuntimeError (cosine, t in [0.2, 0.8])"),
        (check_dsm_loss, dsm_target_sign, "the target is -x0 / beta_t: the sign is flipped"),
        (check_dsm_loss, dsm_beta_squared, "the target is -x0 / beta_t, not -x0 / beta_t^2"),
        (check_dsm_loss, dsm_sum, "take the mean over batch and coordinates, not the sum"),
        (check_dsm_loss, dsm_swapped, "alpha_t and beta_t are swapped"),
        (check_dsm_loss, dsm_item, "must stay differentiable in the model's parameters"),
        (check_ddim_step, ddim_alpha_bar, "the coefficients are sqrt(abar_n) and sqrt(1 - abar_n), not abar_n"),
        (check_ddim_step, ddim_off_by_one, "off by one: ddpm.alpha_bars[n] is abar_n"),
        (
            check_ddim_step,
            ddim_ddpm_time,
            "the network takes the book's time t = 1 - n / T (t = 0 is noise), not n / T",
        ),
        (check_ddim_step, ddim_hardcoded_T, "with this DDPM's T (ddpm.T), not 1 - n / 1000"),
        (check_ddim_step, ddim_two_calls, "DDIM evaluates the network once per step, your step called it 2 times"),
        (check_ddim_step, ddim_in_place, "your step changed x in place"),
        (check_sde_drift, drift_no_half, "the factor 1/2 is missing"),
        (check_sde_drift, drift_no_square, "sigma must be squared"),
        (check_sde_drift, drift_minus_u, "the velocity enters as +u_t"),
        (check_sde_drift, drift_no_correction, "the drift needs the correction sigma^2 / 2 * score"),
    ],
)
def test_wrong_solutions_are_caught_with_the_right_message(check, fn, message):
    report = check(fn)
    assert not report.passed
    assert message in str(report), str(report)


def test_only_the_wrong_cases_fail():
    """A DDIM step with DDPM's index as the network's time passes n -> n_prev only where 1 - n/T = n/T."""
    report = check_ddim_step(ddim_ddpm_time)
    assert "n = 500 -> 499" not in str(report)  # t = 0.5 either way
    assert "n = 1000 -> 980" in str(report)


def test_checker_close_names_a_known_mistake_only_when_the_answer_is_wrong():
    from fmtutor.exercises import Checker

    expected, wrong = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0])
    report = Checker("demo")
    assert report.close(expected.clone(), expected, "y", mistakes=((expected.clone(), "never shown"),))
    assert not report.close(wrong, expected, "y", mistakes=((wrong, "the sign is flipped"),))
    assert not report.close(torch.tensor([5.0, 5.0]), expected, "y", mistakes=((wrong, "the sign is flipped"),))
    assert report.report().problems == (
        "y is wrong: the sign is flipped",
        "y is off: largest error 4 (expected 1, got 5)",
    )


# --- DDIM with noise ---------------------------------------------------------------------------------


def ddim_eta_step(
    eps_model, x, n, n_prev, ddpm, eta, noise, *, full_eps=False, eta_one=False, variance=False, half=False
):
    """The reference step written out; the keywords make the mistakes the checker names."""
    a, a_prev = ddpm.alpha_bars[n].to(x), ddpm.alpha_bars[n_prev].to(x)
    eps = eps_model(x, torch.full((x.shape[0],), 1 - n / ddpm.T, dtype=x.dtype))
    x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
    last = 1 - a / a_prev
    s = (1.0 if eta_one else eta) * ((1 - a_prev) / (1 - a)).sqrt() * (last if half else last.sqrt())
    keep = (1 - a_prev) if full_eps else (1 - a_prev - s**2).clamp(min=0)
    return a_prev.sqrt() * x0_hat + keep.sqrt() * eps + (s**2 if variance else s) * noise


def _eta_wrong(**kind):
    return lambda *args: ddim_eta_step(*args, **kind)


def test_ddim_eta_reference_passes_and_a_plain_ddim_step_fails_where_eta_is_positive():
    report = check_ddim_eta_step(ddim_eta_step)
    assert report.passed and str(report).endswith("all 30 checks passed."), str(report)
    ddim_only = check_ddim_eta_step(lambda m, x, n, n_prev, ddpm, eta, noise: ddim_step(m, x, n, n_prev, ddpm))
    failed = "\n".join(ddim_only.problems)
    assert "eta = 1" in failed and "eta = 0.5" in failed
    assert "T = 50, n = 50 -> 40, eta = 0" not in failed  # DDIM is the eta = 0 case
    assert "n = 20 -> 0" not in failed  # the last step adds no noise: s = 0 when abar_prev = 1


@pytest.mark.parametrize(
    "fn, message",
    [
        (_eta_wrong(full_eps=True), "the eps term's coefficient is sqrt(1 - abar_prev - s^2)"),
        (_eta_wrong(eta_one=True), "your step ignores eta"),
        (_eta_wrong(variance=True), "add s * noise, not s^2 * noise"),
        (_eta_wrong(half=True), "both factors of s are square roots"),
        (lambda m, x, n, p, d, eta, z: ddim_eta_step(m, x, n, p, d, eta, z) + 0 * m(x, torch.zeros(len(x))), "made 2"),
        (not_attempted, "not attempted yet"),
        (returns_none, "did you forget `return`?"),
    ],
)
def test_ddim_eta_mistakes_are_named(fn, message):
    report = check_ddim_eta_step(fn)
    assert not report.passed and message in str(report), str(report)
