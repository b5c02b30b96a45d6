"""Gaussian paths: sample moments, velocity and score against autograd, conversions, refusals."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from schedule_cases import all_schedules
from fmtutor.paths import PREDICTIONS, GaussianPath, PathSample
from fmtutor.schedules import CosineSchedule, LinearSchedule, VPSchedule

F64 = torch.float64


@pytest.mark.parametrize("schedule", all_schedules())
def test_sample_mean_and_std(schedule, gen):
    """x_t ~ N(alpha_t x1, beta_t^2 I): sample moments within 5 standard errors."""
    path, n, t = GaussianPath(schedule), 40_000, 0.6
    x1 = torch.tensor([[1.5, -2.0]], dtype=F64).expand(n, 2)
    s = path.sample(x1, t, generator=gen)
    v = schedule(torch.tensor(t, dtype=F64))
    alpha, beta = v.alpha.item(), v.beta.item()
    assert isinstance(s, PathSample) and s.x_t.shape == (n, 2) and s.t.shape == (n,)
    torch.testing.assert_close(s.x_t.mean(0), alpha * x1[0], rtol=0, atol=5 * beta / math.sqrt(n))
    torch.testing.assert_close(s.x_t.std(0), torch.full((2,), beta, dtype=F64), rtol=5 / math.sqrt(2 * n), atol=0)
    mean, std = path.mean_std(x1[:3], t)
    torch.testing.assert_close(mean, alpha * x1[:3])
    torch.testing.assert_close(std, torch.full((3, 2), beta, dtype=F64))


@pytest.mark.parametrize("schedule", all_schedules())
def test_velocity_is_time_derivative_of_x_t(schedule, gen):
    """PathSample.velocity and conditional_velocity both equal d/dt x_t with x0, x1 fixed."""
    path = GaussianPath(schedule)
    x1, x0 = torch.randn(16, 3, generator=gen, dtype=F64), torch.randn(16, 3, generator=gen, dtype=F64)
    t = torch.linspace(0.02, schedule.t_max - 0.02, 16, dtype=F64).requires_grad_(True)
    s = path.sample(x1, t, x0=x0)
    dxdt = torch.stack([torch.autograd.grad(s.x_t[:, d].sum(), t, retain_graph=True)[0] for d in range(3)], 1)
    torch.testing.assert_close(s.velocity.detach(), dxdt, rtol=1e-10, atol=1e-10)
    u = path.conditional_velocity(s.x_t.detach(), x1, t.detach())
    torch.testing.assert_close(u, dxdt, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("schedule", all_schedules())
def test_conditional_score_is_gradient_of_log_density(schedule, gen):
    path = GaussianPath(schedule)
    x1 = torch.randn(10, 2, generator=gen, dtype=F64)
    x = torch.randn(10, 2, generator=gen, dtype=F64).requires_grad_(True)
    t = torch.linspace(0.05, schedule.t_max - 0.05, 10, dtype=F64)
    v = schedule(t)
    alpha, beta = v.alpha[:, None], v.beta[:, None]
    log_p = (-0.5 * ((x - alpha * x1) / beta) ** 2 - torch.log(beta) - 0.5 * math.log(2 * math.pi)).sum()
    (grad,) = torch.autograd.grad(log_p, x)
    torch.testing.assert_close(path.conditional_score(x.detach(), x1, t), grad, rtol=1e-10, atol=1e-10)


def _truth(path: GaussianPath, t: torch.Tensor, g: torch.Generator):
    """x = alpha x1 + beta eps and the four predictions it is made of."""
    x1, eps = torch.randn(t.shape[0], 2, generator=g, dtype=F64), torch.randn(t.shape[0], 2, generator=g, dtype=F64)
    c = path.coefficients(t, x1)
    x = c.alpha * x1 + c.beta * eps
    return x, {"x1": x1, "epsilon": eps, "velocity": c.d_alpha * x1 + c.d_beta * eps, "score": -eps / c.beta}


@pytest.mark.parametrize("schedule", all_schedules())
@given(t=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_conversions_agree_for_every_pair(schedule, t, seed):
    path = GaussianPath(schedule)
    t = torch.full((4,), min(t, schedule.t_max), dtype=F64)
    x, truth = _truth(path, t, torch.Generator().manual_seed(seed))
    for source, target in itertools.product(PREDICTIONS, PREDICTIONS):
        got = path.convert(truth[source], x, t, source=source, target=target)
        torch.testing.assert_close(got, truth[target], rtol=1e-7, atol=1e-7, msg=f"{source} -> {target}")


@pytest.mark.parametrize("schedule", all_schedules())
def test_conversions_round_trip_with_per_sample_times(schedule, gen):
    path = GaussianPath(schedule)
    t = torch.linspace(0.05, min(0.95, schedule.t_max), 32, dtype=F64)
    x, truth = _truth(path, t, gen)
    for source, target in itertools.permutations(PREDICTIONS, 2):
        there = path.convert(truth[source], x, t, source=source, target=target)
        back = path.convert(there, x, t, source=target, target=source)
        torch.testing.assert_close(back, truth[source], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    "source,target,t,zero",
    [
        ("epsilon", "x1", 0.0, "alpha_t"),
        ("score", "velocity", 0.0, "alpha_t"),
        ("x1", "epsilon", 1.0, "beta_t"),
        ("x1", "score", 1.0, "beta_t"),
        ("epsilon", "score", 1.0, "beta_t"),
    ],
)
def test_conversion_refused_where_a_coefficient_vanishes(source, target, t, zero):
    path, x = GaussianPath("linear"), torch.ones(2, 2)
    with pytest.raises(
        ValueError,
        match=rf"^{zero} is 0 at some of the given times, so '{source}' to '{target}' "
        r"is undefined there .* use times strictly inside \(0, 1\)$",
    ):
        path.convert(torch.ones(2, 2), x, torch.tensor([0.5, t]), source=source, target=target)


def test_conversions_that_stay_defined_at_the_ends():
    """velocity -> x1 at t = 1 and velocity -> epsilon at t = 0 need only the 2x2 determinant."""
    path, x, v = GaussianPath("linear"), torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]])
    torch.testing.assert_close(path.convert(v, x, 1.0, "velocity", "x1"), x)  # x_1 = x1
    torch.testing.assert_close(path.convert(v, x, 0.0, "velocity", "epsilon"), x)  # x_0 = eps
    torch.testing.assert_close(path.convert(v, x, 0.0, "velocity", "x1"), x + v)


def test_conditional_fields_refused_at_t_1():
    path, x = GaussianPath(CosineSchedule()), torch.ones(3, 2)
    with pytest.raises(
        ValueError, match=r"^beta_t is 0 .* so the conditional vector field u_t\(x \| x1\) is undefined"
    ):
        path.conditional_velocity(x, x, 1.0)
    with pytest.raises(ValueError, match=r"^beta_t is 0 .* so the conditional score is undefined"):
        path.conditional_score(x, x, torch.tensor([0.2, 0.3, 1.0]))


def test_default_times_and_noise_are_seeded_and_below_t_max():
    path, x1 = GaussianPath(VPSchedule()), torch.zeros(5000, 2)
    a = path.sample(x1, generator=torch.Generator().manual_seed(3))
    b = path.sample(x1, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.x_t, b.x_t, rtol=0, atol=0)
    assert a.t.min() >= 0 and a.t.max() <= VPSchedule.t_max and a.t.max() > 0.99
    assert a.t.mean().item() == pytest.approx(VPSchedule.t_max / 2, abs=0.02)


def test_path_from_name_and_repr():
    path = GaussianPath("cosine")
    assert isinstance(path.schedule, CosineSchedule)
    assert repr(path) == "GaussianPath(CosineSchedule())"
    assert isinstance(GaussianPath().schedule, LinearSchedule)


def test_higher_dimensional_data_broadcasts_time(gen):
    path, x1 = GaussianPath("cosine"), torch.randn(4, 1, 5, 5, generator=gen)
    t = torch.tensor([0.1, 0.4, 0.6, 0.9])
    s = path.sample(x1, t, generator=gen)
    alpha = torch.sin(0.5 * math.pi * t).reshape(4, 1, 1, 1)
    beta = torch.cos(0.5 * math.pi * t).reshape(4, 1, 1, 1)
    torch.testing.assert_close(s.x_t, alpha * x1 + beta * s.x0)


def test_bad_inputs():
    path, x = GaussianPath("linear"), torch.zeros(4, 2)
    with pytest.raises(
        ValueError, match=r"^x1 must have shape \(B, \*D\) with a batch dimension first, got shape \(4,\)$"
    ):
        path.sample(torch.zeros(4))
    with pytest.raises(TypeError, match=r"^x1 must be a floating-point tensor, got dtype torch.int64$"):
        path.sample(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^x1 has 1 non-finite value\(s\)"):
        path.sample(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"^x0 must have the shape of x1 \(4, 2\), got \(4, 3\)$"):
        path.sample(x, 0.5, x0=torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"^t must lie in \[0.0, 1.0\], got values from -0.5 to -0.5$"):
        path.sample(x, -0.5)
    with pytest.raises(ValueError, match=r"^t must be a scalar or have shape \(4,\) to match the batch, got \(3,\)$"):
        path.sample(x, torch.rand(3))
    with pytest.raises(ValueError, match=r"^x and x1 must have the same shape, got \(4, 2\) and \(3, 2\)$"):
        path.conditional_velocity(x, torch.zeros(3, 2), 0.5)
    with pytest.raises(
        ValueError, match=r"^unknown source 'noise'; expected one of 'x1', 'epsilon', 'velocity', 'score'$"
    ):
        path.convert(x, x, 0.5, source="noise", target="x1")
    with pytest.raises(ValueError, match=r"^unknown target 'eps'"):
        path.convert(x, x, 0.5, source="x1", target="eps")
    with pytest.raises(ValueError, match=r"^x and prediction must have the same shape"):
        path.convert(torch.zeros(4, 3), x, 0.5, source="x1", target="score")


def test_sample_checks_x0_like_x1():
    path, x1 = GaussianPath("linear"), torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"^x0 has 1 non-finite value\(s\)"):
        path.sample(x1, 0.5, x0=torch.tensor([[0.0, float("nan")], [0.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(
        TypeError, match=r"^x0 has dtype torch.float64 and x1 dtype torch.float32; mixed dtypes are refused"
    ):
        path.sample(x1, 0.5, x0=torch.zeros(3, 2, dtype=torch.float64))
