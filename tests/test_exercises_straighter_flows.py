"""Chapter 8 checkers: the reference solutions pass; typical wrong ones are caught with the right words."""

from __future__ import annotations

import pytest
import torch

from fmtutor.exercises.straighter_flows import (
    check_bridge_cross,
    check_ot_pairing,
    check_reflow_pairs,
    check_straightness_deviation,
)
from fmtutor.solvers import solve_ode, time_grid

# --- reference solutions (the notebook's "solution" cells) ---------------------------------------


def _assignment(cost):
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.numpy())
    return torch.as_tensor(cols[rows.argsort()])


def ot_pairing(x0, x1):
    return x1[_assignment(torch.cdist(x0, x1) ** 2)]


def reflow(velocity, x0, n_steps, method="heun", t0=0.0, t1=1.0):
    x1 = solve_ode(velocity, x0, time_grid(n_steps, t0, t1, dtype=x0.dtype), method=method).final
    return torch.stack([x0, x1], dim=1)


def straightness(path, times):
    h = times.diff()
    span = times[-1] - times[0]
    v = path.diff(dim=0) / h[:, None, None]
    d = (path[-1] - path[0]) / span
    return (h[:, None] * (v - d).pow(2).sum(-1)).sum(0) / span


def _matrix_sqrt(m):
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def bridge_cross(cov1, sigma, power=2, shift=True, sign=1.0):
    eye = torch.eye(cov1.shape[0], dtype=cov1.dtype)
    root = _matrix_sqrt(4 * cov1 + sigma ** (2 * power) * eye)
    return (sign * root - (sigma**power * eye if shift else 0 * eye)) / 2


def _text(report) -> str:
    return str(report)


def test_references_pass():
    for report in (
        check_ot_pairing(ot_pairing),
        check_reflow_pairs(reflow),
        check_straightness_deviation(straightness),
        check_bridge_cross(bridge_cross),
    ):
        assert report.passed, str(report)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda x0, x1: x1, "independent pairing"),
        (lambda x0, x1: x1[_assignment(torch.cdist(x0, x1) ** 2).argsort()], "wrong way round"),
        (lambda x0, x1: x1[_assignment(torch.cdist(x0, x1))], "squared distance"),
        (lambda x0, x1: x1[_assignment(-(torch.cdist(x0, x1) ** 2))], "maximises"),
        (lambda x0, x1: x1[torch.zeros(len(x1), dtype=torch.long)], "exactly once"),
        (lambda x0, x1: None, "forget `return`"),
    ],
)
def test_pairing_mistakes_are_named(wrong, words):
    report = check_ot_pairing(wrong)
    assert not report.passed and words in _text(report)


def _euler(velocity, x0, n):
    return reflow(velocity, x0, n, method="euler")


def _in_place(velocity, x0, n):
    x1 = reflow(velocity, x0, n)[:, 1]
    start = x0.clone()
    x0.zero_()
    return torch.stack([start, x1], 1)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda v, x0, n: reflow(v, x0, n).flip(1), "swapped"),
        (_euler, "Euler"),
        (lambda v, x0, n: reflow(v, x0, n, t0=1.0, t1=0.0), "backwards"),
        (lambda v, x0, n: reflow(v, x0, n + 1), "off by one"),
        (lambda v, x0, n: torch.stack([x0, reflow(v, x0, n)[:, 1].roll(1, 0)], 1), "wrong noise points"),
        (_in_place, "in place"),
    ],
)
def test_reflow_mistakes_are_named(wrong, words):
    report = check_reflow_pairs(wrong)
    assert not report.passed and words in _text(report)


def _displacements(path, times):
    span = times[-1] - times[0]
    d = (path[-1] - path[0]) / span
    return (times.diff()[:, None] * (path.diff(dim=0) - d).pow(2).sum(-1)).sum(0) / span


@pytest.mark.parametrize(
    "wrong, words",
    [
        (_displacements, "not the displacements"),
        (
            lambda p, t: (
                ((p.diff(dim=0) / t.diff()[:, None, None] - (p[-1] - p[0]) / (t[-1] - t[0])) ** 2).sum(-1).mean(0)
            ),
            "weight each step",
        ),
        (lambda p, t: straightness(p, t).sqrt(), "no square root"),
        (lambda p, t: straightness(p, t) * (t[-1] - t[0]), "divide by the time span"),
        (lambda p, t: straightness(p, t).mean(), "shape"),
        (lambda p, t: (_ for _ in ()).throw(NotImplementedError), "not attempted"),
    ],
)
def test_straightness_mistakes_are_named(wrong, words):
    report = check_straightness_deviation(wrong)
    assert not report.passed and words in _text(report)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda c, s: bridge_cross(c, 0.0), "OT coupling"),
        (lambda c, s: bridge_cross(c, 2**0.5 * s), "eps = 2 sigma^2"),
        (lambda c, s: bridge_cross(c, s, power=1), "sigma appears squared"),
        (lambda c, s: bridge_cross(c, s, shift=False), "shift is missing"),
        (lambda c, s: bridge_cross(c, s, sign=-1.0), "negative root"),
        (
            lambda c, s: (
                (
                    (4 * c + s**4 * torch.eye(len(c), dtype=c.dtype)).clamp(min=0).sqrt()
                    - s**2 * torch.eye(len(c), dtype=c.dtype)
                )
                / 2
            ),
            "matrix square root",
        ),
        (lambda c, s: bridge_cross(c, s)[0], "shape"),
        (lambda c, s: (_ for _ in ()).throw(NotImplementedError), "not attempted"),
    ],
)
def test_bridge_cross_mistakes_are_named(wrong, words):
    report = check_bridge_cross(wrong)
    assert not report.passed and words in _text(report)
