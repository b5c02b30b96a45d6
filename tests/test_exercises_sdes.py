"""Chapter 2 checkers: the reference solutions pass, typical wrong solutions are caught by name."""

from __future__ import annotations

import math
import re

import pytest
import torch

from fmtutor.exercises.sdes import check_brownian_paths, check_em_step, check_simulate_ou
from fmtutor.sdes import OrnsteinUhlenbeck, brownian_paths
from fmtutor.solvers import time_grid
from wrong_solutions import not_attempted


def problems(report) -> str:
    return "\n".join(report.problems)


# --- Brownian paths --------------------------------------------------------------------------------


def bm_reference(n_paths, times, generator):
    return brownian_paths(n_paths, times, generator)[..., 0]


def bm_by_hand(n_paths, times, generator):
    z = torch.randn(len(times) - 1, n_paths, generator=generator, dtype=times.dtype)
    dw = times.diff().sqrt()[:, None] * z
    return torch.cat([torch.zeros(1, n_paths, dtype=times.dtype), dw.cumsum(0)])


def bm_no_sqrt(n_paths, times, generator):
    z = torch.randn(len(times) - 1, n_paths, generator=generator, dtype=times.dtype)
    return torch.cat([torch.zeros(1, n_paths, dtype=times.dtype), (times.diff()[:, None] * z).cumsum(0)])


def bm_no_scale(n_paths, times, generator):
    z = torch.randn(len(times) - 1, n_paths, generator=generator, dtype=times.dtype)
    return torch.cat([torch.zeros(1, n_paths, dtype=times.dtype), z.cumsum(0)])


def bm_uniform_dt(n_paths, times, generator):
    dt = (times[-1] - times[0]) / (len(times) - 1)
    z = torch.randn(len(times) - 1, n_paths, generator=generator, dtype=times.dtype)
    return torch.cat([torch.zeros(1, n_paths, dtype=times.dtype), (dt.sqrt() * z).cumsum(0)])


def bm_no_cumsum(n_paths, times, generator):
    z = torch.randn(len(times) - 1, n_paths, generator=generator, dtype=times.dtype)
    return torch.cat([torch.zeros(1, n_paths, dtype=times.dtype), times.diff().sqrt()[:, None] * z])


def bm_same_noise(n_paths, times, generator):
    z = torch.randn(1, n_paths, generator=generator, dtype=times.dtype)
    return torch.cat([torch.zeros(1, n_paths, dtype=times.dtype), (times.diff().sqrt()[:, None] * z).cumsum(0)])


def bm_no_generator(n_paths, times, generator):
    return bm_by_hand(n_paths, times, None)


def bm_starts_at_noise(n_paths, times, generator):
    z = torch.randn(len(times), n_paths, generator=generator, dtype=times.dtype)
    dt = torch.cat([times[:1] + 0.01, times.diff()])
    return (dt.sqrt()[:, None] * z).cumsum(0)


@pytest.mark.parametrize("solution", [bm_reference, bm_by_hand])
def test_brownian_checker_accepts_correct_solutions(solution):
    report = check_brownian_paths(solution)
    assert report.passed, problems(report)
    assert str(report).startswith("✓ Brownian paths: all")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (bm_no_sqrt, r"variance t\[k\+1\] - t\[k\].*did you use dt instead of sqrt\(dt\)"),
        (bm_no_scale, r"did you forget sqrt\(dt\)\? z alone has variance 1"),
        (bm_uniform_dt, r"each step needs its own length"),
        (bm_no_cumsum, r"Var W_t at t = 2 should be 2.*torch.cumsum"),
        (bm_same_noise, r"successive increments should be independent"),
        (bm_no_generator, r"seeded alike gave different results"),
        (bm_starts_at_noise, r"W_0 = 0"),
        (lambda n, times, g: None, r"should be a torch.Tensor, got NoneType \(did you forget `return`\?\)"),
        (
            lambda n, times, g: bm_by_hand(n, times, g).T,
            r"shape \(len\(times\), n_paths\)\) should have shape \(8, 8000\)",
        ),
    ],
)
def test_brownian_checker_catches(wrong, message):
    report = check_brownian_paths(wrong)
    assert not report.passed
    assert any(re.search(message, p) for p in report.problems), problems(report)


def test_checkers_report_not_attempted():
    for check in (check_brownian_paths, check_em_step, check_simulate_ou):
        report = check(not_attempted)
        assert not report.passed and len(report.problems) == 1
        assert report.problems[0].startswith("not attempted yet (")


# --- one Euler-Maruyama step ---------------------------------------------------------------------


def em_reference(drift, sigma, x, t, h, generator):
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x + h * drift(x, t) + sigma * math.sqrt(h) * z


def em_variant(kind):
    def step(drift, sigma, x, t, h, generator):
        z = torch.randn(x.shape, generator=None if kind == "no-generator" else generator, dtype=x.dtype)
        scale = {"no-sqrt": sigma, "h": sigma * h, "sigma2": sigma**2 * math.sqrt(h)}.get(kind, sigma * math.sqrt(h))
        if kind == "uniform":
            z = (torch.rand(x.shape, generator=generator, dtype=x.dtype) - 0.5) * math.sqrt(12)
        if kind == "rand":
            z = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        drift_term = {"minus": -h * drift(x, t), "no-h": drift(x, t)}.get(kind, h * drift(x, t))
        out = x + drift_term + scale * z
        return out.reshape(x.shape[0], -1) if kind == "flatten" else out

    return step


def test_em_checker_accepts_reference():
    report = check_em_step(em_reference)
    assert report.passed, problems(report)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no-sqrt", r"standard deviation sigma \* sqrt\(h\) = 0.14, got 0.69.*did you forget sqrt\(h\)\?"),
        ("h", r"did you use h instead of sqrt\(h\)\?"),
        ("sigma2", r"did you use sigma\*\*2 instead of sigma\?"),
        ("no-generator", r"seeded alike gave different results"),
        ("minus", r"with sigma = 0 \(no noise\) the step x \+ h \* drift\(x, t\) is off"),
        ("no-h", r"with sigma = 0 \(no noise\) the step x \+ h \* drift\(x, t\) is off"),
        ("rand", r"the noise should have mean 0.*torch.randn"),
        ("flatten", r"image-shaped x of shape \(3, 1, 4, 4\) should have shape \(3, 1, 4, 4\), got \(3, 16\)"),
    ],
)
def test_em_checker_catches(kind, message):
    report = check_em_step(em_variant(kind))
    assert not report.passed
    assert any(re.search(message, p) for p in report.problems), problems(report)


def test_em_checker_names_a_crash():
    report = check_em_step(lambda drift, sigma, x, t, h, g: x + h * drift(x) + sigma)
    assert "your function raised TypeError (sigma = 0)" in problems(report)


# --- Ornstein-Uhlenbeck --------------------------------------------------------------------------


def ou_reference(x0, theta, sigma, t_end, n_steps, generator):
    return (
        OrnsteinUhlenbeck(theta, sigma)
        .simulate(x0, time_grid(n_steps, 0.0, t_end, dtype=x0.dtype), generator=generator)
        .final
    )


def ou_loop(x0, theta, sigma, t_end, n_steps, generator, kind=""):
    h = t_end / n_steps
    x = x0.clone()
    for _ in range(n_steps - (kind == "off-by-one")):
        z = torch.randn(x.shape, generator=None if kind == "no-generator" else generator, dtype=x.dtype)
        noise = {"no-sqrt": sigma * z, "h": sigma * h * z}.get(kind, sigma * math.sqrt(h) * z)
        x = x + h * (theta * x if kind == "sign" else -theta * x) + noise
    return x


@pytest.mark.parametrize("solution", [ou_reference, ou_loop])
def test_ou_checker_accepts_correct_solutions(solution):
    report = check_simulate_ou(solution)
    assert report.passed, problems(report)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("off-by-one", r"matches 7 steps of size 0.25, not 8"),
        ("sign", r"the drift must pull toward 0"),
        ("no-sqrt", r"variance at t_end .*did you forget sqrt\(h\)\?"),
        ("h", r"variance at t_end .*did you use h instead of sqrt\(h\)\?"),
        ("no-generator", r"seeded alike gave different results"),
    ],
)
def test_ou_checker_catches(kind, message):
    report = check_simulate_ou(lambda *args: ou_loop(*args, kind=kind))
    assert not report.passed
    assert any(re.search(message, p) for p in report.problems), problems(report)


def test_ou_checker_wants_the_final_state_not_the_path():
    def path(x0, theta, sigma, t_end, n_steps, generator):
        sol = OrnsteinUhlenbeck(theta, sigma).simulate(
            x0, time_grid(n_steps, 0.0, t_end, dtype=x0.dtype), generator=generator, keep_path=True
        )
        return sol.path

    report = check_simulate_ou(path)
    assert "should have shape (5, 2), got (9, 5, 2)" in problems(report)
