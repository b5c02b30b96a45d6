"""Likelihood checkers: the reference solutions pass; typical wrong ones are caught with the right words."""

from __future__ import annotations

import math

import pytest
import torch

from wrong_solutions import not_attempted, returns_none

from fmtutor.exercises.likelihoods import (
    check_divergence,
    check_hutchinson_probe,
    check_log_likelihood,
    check_log_likelihood_heun,
)

# --- reference solutions (the notebook's "solution" cells) ---------------------------------------


def divergence(field, x, t):
    x = x.detach().requires_grad_(True)
    v = field(x, t).reshape(x.shape[0], -1)
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    for i in range(v.shape[1]):
        (g,) = torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)
        total = total + g.reshape(x.shape[0], -1)[:, i]
    return total


def hutchinson_probe(field, x, t, eps):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad((field(x, t) * eps).sum(), x)
    return (g * eps).reshape(x.shape[0], -1).sum(1)


def log_likelihood_euler(field, x, n_steps):
    h, logdet = 1.0 / n_steps, torch.zeros(x.shape[0], dtype=x.dtype)
    for k in range(n_steps):
        t = torch.full((x.shape[0],), 1.0 - k * h, dtype=x.dtype)
        v, div = field(x, t), divergence(field, x, t)
        x, logdet = (x - h * v).detach(), logdet - h * div
    prior = -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)
    return prior + logdet


# --- wrong solutions --------------------------------------------------------------------------------


def div_all_entries(field, x, t):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(field(x, t).sum(), x)
    return g.reshape(x.shape[0], -1).sum(1)


def div_mean(field, x, t):
    return divergence(field, x, t) / x[0].numel()


def div_diagonal(field, x, t):
    x = x.detach().requires_grad_(True)
    v = field(x, t).reshape(x.shape[0], -1)
    return torch.stack(
        [
            torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0].reshape(x.shape[0], -1)[:, i]
            for i in range(v.shape[1])
        ],
        1,
    )


def probe_dot_velocity(field, x, t, eps):
    return (field(x, t) * eps).reshape(x.shape[0], -1).sum(1)


def probe_ones(field, x, t, eps):
    return hutchinson_probe(field, x, t, torch.ones_like(eps))


def probe_fresh(field, x, t, eps):
    return hutchinson_probe(field, x, t, torch.randn_like(eps))


def probe_biased(field, x, t, eps):
    return hutchinson_probe(field, x, t, eps) + 0.5


def ll_sign(field, x, n_steps):
    h, logdet = 1.0 / n_steps, torch.zeros(x.shape[0], dtype=x.dtype)
    for k in range(n_steps):
        t = torch.full((x.shape[0],), 1.0 - k * h, dtype=x.dtype)
        v, div = field(x, t), divergence(field, x, t)
        x, logdet = (x - h * v).detach(), logdet + h * div
    return -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi) + logdet


def ll_no_prior(field, x, n_steps):
    x0_prior = log_likelihood_euler(field, x, n_steps)
    end = x
    for k in range(n_steps):
        end = (end - field(end, torch.full((x.shape[0],), 1.0 - k / n_steps, dtype=x.dtype)) / n_steps).detach()
    return x0_prior + 0.5 * (end**2).sum(1) + 0.5 * x.shape[1] * math.log(2 * math.pi)


def ll_forward(field, x, n_steps):
    h, logdet, start = 1.0 / n_steps, torch.zeros(x.shape[0], dtype=x.dtype), x
    for k in range(n_steps):
        t = torch.full((x.shape[0],), k * h, dtype=x.dtype)
        v, div = field(x, t), divergence(field, x, t)
        x, logdet = (x + h * v).detach(), logdet - h * div
    return -0.5 * (start**2).sum(1) - math.log(2 * math.pi) + logdet


def ll_extra_step(field, x, n_steps):
    return log_likelihood_euler(field, x, n_steps + 1)


# --- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "checker, solution",
    [
        (check_divergence, divergence),
        (check_hutchinson_probe, hutchinson_probe),
        (check_log_likelihood, log_likelihood_euler),
    ],
)
def test_reference_solutions_pass(checker, solution):
    report = checker(solution)
    assert report.passed, str(report)


@pytest.mark.parametrize("checker", [check_divergence, check_hutchinson_probe, check_log_likelihood])
def test_unattempted_and_missing_return(checker):
    assert "not attempted yet" in str(checker(not_attempted))
    assert "did you forget `return`" in str(checker(returns_none))


@pytest.mark.parametrize(
    "checker, wrong, words",
    [
        (check_divergence, div_all_entries, "sums every entry of the Jacobian"),
        (check_divergence, div_mean, "the mean of the diagonal"),
        (check_divergence, div_diagonal, "should have shape (16,), got (16, 2)"),
        (check_hutchinson_probe, probe_dot_velocity, "the probe dotted with the velocity"),
        (check_hutchinson_probe, probe_ones, "uses a vector of ones"),
        (check_hutchinson_probe, probe_fresh, "is off: largest error"),
        (check_hutchinson_probe, probe_biased, "an unbiased estimator's average approaches it"),
        (check_log_likelihood, ll_sign, "the integral enters with the wrong sign"),
        (check_log_likelihood, ll_no_prior, "the prior term log N(X_0; 0, I) at the noise end is missing"),
        (check_log_likelihood, ll_forward, "integrates forward from t = 0"),
        (check_log_likelihood, ll_extra_step, "off by one"),
    ],
)
def test_mistakes_are_named(checker, wrong, words):
    report = checker(wrong)
    assert not report.passed and words in str(report), str(report)


# --- the log-likelihood with Heun's method -----------------------------------------------------------


def log_likelihood_heun(field, x, n_steps, stale_divergence=False, sign=1.0, midpoint=False):
    """Heun on the pair (X, l) from t = 1 to 0 (the notebook's solution); the keywords make the mistakes."""
    h, ell = 1.0 / n_steps, torch.zeros(x.shape[0], dtype=x.dtype)
    for k in range(n_steps):
        t, t_next = (torch.full((x.shape[0],), (n_steps - j) / n_steps, dtype=x.dtype) for j in (k, k + 1))
        v1, d1 = field(x, t), divergence(field, x, t)
        if midpoint:
            xm = x - h / 2 * v1
            x, ell = x - h * field(xm, t - h / 2), ell - h * divergence(field, xm, t - h / 2)
            continue
        x_pred = x - h * v1
        v2, d2 = field(x_pred, t_next), divergence(field, x_pred, t_next)
        x, ell = x - h / 2 * (v1 + v2), ell - h * (d1 if stale_divergence else (d1 + d2) / 2)
    prior = -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)
    return prior + sign * ell


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda f, x, n: log_likelihood_heun(f, x, n, stale_divergence=True), "the divergence must be averaged"),
        (log_likelihood_euler, "this is the Euler estimate"),
        (lambda f, x, n: log_likelihood_heun(f, x, n, sign=-1.0), "the integral enters with the wrong sign"),
        (lambda f, x, n: log_likelihood_heun(f, x, n, midpoint=True), "this is the midpoint method"),
        (not_attempted, "not attempted yet"),
        (returns_none, "did you forget `return`?"),
    ],
    ids=["stale divergence", "euler", "sign", "midpoint", "not attempted", "none"],
)
def test_heun_log_likelihood_mistakes_are_named(fn, message):
    report = check_log_likelihood_heun(fn)
    assert not report.passed and message in str(report), str(report)


def test_heun_log_likelihood_reference_passes():
    report = check_log_likelihood_heun(log_likelihood_heun)
    assert report.passed and str(report).endswith("all 9 checks passed."), str(report)
