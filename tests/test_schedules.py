"""Schedules: closed forms against autograd, boundary values, and the refusals."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from schedule_cases import all_schedules
from fmtutor.schedules import (
    SCHEDULES,
    CosineSchedule,
    LinearSchedule,
    NoisyLinearSchedule,
    PolynomialSchedule,
    ScheduleValues,
    VPSchedule,
    get_schedule,
)


def _interior(schedule, n: int = 101) -> torch.Tensor:
    return torch.linspace(1e-3, schedule.t_max - 1e-3, n, dtype=torch.float64)


@pytest.mark.parametrize("schedule", all_schedules())
def test_derivatives_match_autograd(schedule):
    t = _interior(schedule).requires_grad_(True)
    v = schedule(t)
    (d_alpha,) = torch.autograd.grad(v.alpha.sum(), t, retain_graph=True)
    (d_beta,) = torch.autograd.grad(v.beta.sum(), t)
    torch.testing.assert_close(v.d_alpha, d_alpha, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(v.d_beta, d_beta, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("schedule", all_schedules())
def test_boundary_values(schedule):
    ends = schedule.values(torch.tensor([0.0, 1.0], dtype=torch.float64))
    if isinstance(schedule, VPSchedule):  # alpha_0 = exp(-(b_min + (b_max - b_min) / 2) / 2), not 0
        integral = schedule.beta_min + 0.5 * (schedule.beta_max - schedule.beta_min)
        assert ends.alpha[0].item() == pytest.approx(math.exp(-0.5 * integral), rel=1e-12)
        assert ends.beta[0].item() == pytest.approx(math.sqrt(1 - math.exp(-integral)), rel=1e-12)
    else:
        assert ends.alpha[0].item() == 0.0 and ends.beta[0].item() == 1.0
    assert ends.alpha[1].item() == pytest.approx(1.0, abs=1e-15)
    assert ends.beta[1].item() == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("schedule", all_schedules())
def test_alpha_increases_and_beta_decreases(schedule):
    v = schedule(_interior(schedule))
    assert (v.alpha.diff() > 0).all() and (v.beta.diff() < 0).all()
    assert (v.d_alpha > 0).all() and (v.d_beta < 0).all()


@pytest.mark.parametrize("schedule", [CosineSchedule(), VPSchedule(), VPSchedule(0.5, 5.0)])
def test_variance_preserving(schedule):
    v = schedule(_interior(schedule))
    torch.testing.assert_close(v.alpha**2 + v.beta**2, torch.ones_like(v.alpha), rtol=0, atol=1e-12)


@given(st.floats(0.0, 1.0))
def test_linear_is_polynomial_one_and_noisy_zero(t):
    t = torch.tensor([t], dtype=torch.float64)
    lin = LinearSchedule()(t)
    for other in (PolynomialSchedule(1.0)(t), NoisyLinearSchedule(0.0)(t)):
        for a, b in zip(vars(lin).values(), vars(other).values()):
            torch.testing.assert_close(a, b)


def test_noisy_linear_beta_is_the_std_of_both_noise_terms():
    """x_t - t x1 = (1 - t) x0 + sigma sqrt(t (1 - t)) eps has std beta_t (checked by sampling)."""
    g = torch.Generator().manual_seed(1)
    sigma, t, n = 0.7, 0.4, 200_000
    x0, eps = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
    noise = (1 - t) * x0 + sigma * math.sqrt(t * (1 - t)) * eps
    beta = NoisyLinearSchedule(sigma)(t).beta.item()
    assert noise.std().item() == pytest.approx(beta, rel=1e-2)  # 4 standard errors: 4 / sqrt(2n) = 0.6 %


def test_vp_default_matches_the_documented_alpha_0():
    assert VPSchedule()(0.0).alpha.item() == pytest.approx(math.exp(-5.025), rel=1e-6)


def test_values_keep_shape_and_dtype():
    t = torch.rand(3, 4, dtype=torch.float64)
    v = CosineSchedule()(t)
    assert isinstance(v, ScheduleValues)
    for c in (v.alpha, v.beta, v.d_alpha, v.d_beta):
        assert c.shape == (3, 4) and c.dtype == torch.float64
    assert LinearSchedule()(0.25).alpha.dtype == torch.get_default_dtype()
    assert LinearSchedule()(torch.tensor([1])).alpha.dtype == torch.get_default_dtype()


@pytest.mark.parametrize("schedule", [VPSchedule(), NoisyLinearSchedule(0.1)])
def test_t_max_refusal(schedule):
    assert schedule.t_max == pytest.approx(1 - 1e-3)
    schedule(torch.tensor([schedule.t_max]))  # allowed
    with pytest.raises(
        ValueError,
        match=rf"^{schedule.name} schedule: d_beta is infinite at t = 1, "
        rf"where beta_t = 0; end time grids at t = 0\.999 \(the schedule's t_max\)$",
    ):
        schedule(torch.tensor([0.5, 1.0]))


def test_schedules_without_singularity_accept_t_1():
    for schedule in (LinearSchedule(), CosineSchedule(), PolynomialSchedule(2.0), NoisyLinearSchedule(0.0)):
        assert schedule.t_max == 1.0
        assert torch.isfinite(torch.stack(list(vars(schedule(1.0)).values()))).all()


@pytest.mark.parametrize("t", [-0.1, 1.5])
def test_time_outside_unit_interval_is_refused(t):
    with pytest.raises(ValueError, match=r"^t must lie in \[0, 1\] \(0 = noise, 1 = data\), got values from"):
        LinearSchedule()(torch.tensor([0.5, t]))


def test_nan_time_is_refused():
    with pytest.raises(ValueError, match=r"^t has 1 non-finite value\(s\) \(NaN or inf\); expected finite numbers$"):
        CosineSchedule()(torch.tensor([0.2, float("nan")]))


def test_get_schedule_by_name_and_kwargs():
    for name, cls in SCHEDULES.items():
        schedule = get_schedule(name)
        assert type(schedule) is cls and schedule.name == name
    vp = get_schedule("vp", beta_min=0.2, beta_max=10.0)
    assert (vp.beta_min, vp.beta_max) == (0.2, 10.0)
    assert repr(vp) == "VPSchedule(beta_min=0.2, beta_max=10.0)"
    assert get_schedule("polynomial", n=3.0).n == 3.0


def test_unknown_schedule_name():
    with pytest.raises(
        ValueError,
        match=r"^unknown schedule 'sigmoid'; expected one of 'linear', 'cosine', "
        r"'vp', 'polynomial', 'noisy-linear'$",
    ):
        get_schedule("sigmoid")


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"^beta_max must be >= beta_min, got 1.0 < 2.0$"):
        VPSchedule(beta_min=2.0, beta_max=1.0)
    with pytest.raises(ValueError, match=r"^beta_min must be > 0, got 0.0$"):
        VPSchedule(beta_min=0.0)
    with pytest.raises(ValueError, match=r"^n must be > 0, got -1$"):
        PolynomialSchedule(-1)
    with pytest.raises(ValueError, match=r"^sigma must be >= 0, got -0.1$"):
        NoisyLinearSchedule(-0.1)
    with pytest.raises(ValueError, match=r"^n must be > 0, got nan$"):
        PolynomialSchedule(float("nan"))
