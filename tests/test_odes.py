"""Closed-form ODEs: the flows solve their ODEs, compose, and measure the solvers' orders."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fmtutor.odes import (
    ConvergenceStudy,
    GrowthODE,
    LinearODE,
    SqrtODE,
    convergence_order,
    convergence_study,
    global_error,
)
from fmtutor.solvers import solve_ode, time_grid

F64 = torch.float64


def _time_derivative(flow, x, t, eps=1e-6):
    """Central difference of t -> flow(x, t) in float64."""
    return (flow(x, t + eps) - flow(x, t - eps)) / (2 * eps)


def _commuting_pair(gen):
    """A = P diag(a) P^-1, B = P diag(b) P^-1 share eigenvectors, so AB = BA (3 x 3, float64)."""
    P = torch.randn(3, 3, generator=gen, dtype=F64) + 3 * torch.eye(3, dtype=F64)
    a, b = torch.randn(3, generator=gen, dtype=F64), torch.randn(3, generator=gen, dtype=F64)
    Pi = torch.linalg.inv(P)
    return P @ torch.diag(a) @ Pi, P @ torch.diag(b) @ Pi


@pytest.mark.parametrize("make", ["spiral", "commuting-3d", "autonomous"])
@pytest.mark.parametrize("t0, t1", [(0.0, 1.0), (0.3, 0.7), (1.0, 0.0), (-0.5, 2.0)])
def test_linear_flow_solves_the_ode(make, t0, t1, gen):
    """d/dt flow(x, t, t0) = u(flow(x, t, t0), t), and flow(x, t0, t0) = x."""
    if make == "spiral":
        ode = LinearODE.spiral()
        ode = LinearODE(ode.A.to(F64), ode.B.to(F64))
    elif make == "commuting-3d":
        ode = LinearODE(*_commuting_pair(gen))
    else:
        ode = LinearODE(torch.randn(3, 3, generator=gen, dtype=F64))
    x = torch.randn(5, ode.dim, generator=gen, dtype=F64)
    assert torch.allclose(ode.flow(x, t0, t0), x, atol=1e-12)
    flow = lambda y, t: ode.flow(y, t, t0)  # noqa: E731
    xt = flow(x, t1)
    assert torch.allclose(_time_derivative(flow, x, t1), ode.field(xt, t1), atol=1e-6, rtol=1e-6)


def test_linear_flow_composes_and_inverts(gen):
    ode = LinearODE(*_commuting_pair(gen))
    x = torch.randn(4, 3, generator=gen, dtype=F64)
    via = ode.flow(ode.flow(x, 0.4, 0.1), 0.9, 0.4)
    assert torch.allclose(via, ode.flow(x, 0.9, 0.1), atol=1e-10)
    assert torch.allclose(ode.flow(ode.flow(x, 0.9, 0.1), 0.1, 0.9), x, atol=1e-10)


def test_spiral_turns_and_shrinks_as_stated():
    """exp(a t + b t^2 / 2) R(omega t): radius exp(0.5 - 1) and angle 3 rad at t = 1."""
    y = LinearODE.spiral().flow(torch.tensor([[1.0, 0.0]], dtype=F64), 1.0)
    assert y.norm().item() == pytest.approx(math.exp(-0.5), rel=1e-10)
    assert math.atan2(y[0, 1], y[0, 0]) == pytest.approx(3.0, abs=1e-10)


def test_per_sample_times_match_scalar_times(gen):
    ode = LinearODE.spiral()
    x = torch.randn(3, 2, generator=gen)
    t = torch.tensor([0.0, 0.5, 1.0])
    rows = torch.cat([ode.flow(x[i : i + 1], float(t[i])) for i in range(3)])
    assert torch.allclose(ode.flow(x, t), rows, atol=1e-6)
    assert torch.allclose(ode.field(x, t)[1], ode.field(x[1:2], 0.5)[0])


def test_linear_refusals():
    with pytest.raises(ValueError, match="A and B must commute"):
        LinearODE(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"A must be a square matrix \(D, D\), got shape \(2, 3\)"):
        LinearODE(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="B must be a floating-point torch.Tensor"):
        LinearODE(torch.eye(2), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"B must have the shape of A \(2, 2\), got \(3, 3\)"):
        LinearODE(torch.eye(2), torch.eye(3))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\), got \(4, 3\)"):
        LinearODE.spiral().field(torch.zeros(4, 3), 0.0)
    with pytest.raises(ValueError, match="t must be a scalar or have shape"):
        LinearODE.spiral().field(torch.zeros(4, 2), torch.zeros(3))


@given(omega=st.floats(0.5, 8.0), t0=st.floats(-1.0, 1.0), t1=st.floats(-1.0, 2.0))
def test_growth_flow_solves_the_ode(omega, t0, t1):
    ode = GrowthODE(omega)
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=F64)
    flow = lambda y, t: ode.flow(y, t, t0)  # noqa: E731
    assert torch.allclose(_time_derivative(flow, x, t1), ode.field(flow(x, t1), t1), atol=1e-5, rtol=1e-6)
    assert torch.allclose(ode.flow(x, t0, t0), x)


def test_growth_accepts_image_batches():
    x = torch.ones(2, 1, 3, 3)
    y = GrowthODE(5.0).flow(x, torch.tensor([0.0, 1.0]))
    assert torch.allclose(y[0], x[0]) and torch.allclose(y[1], x[1] * math.exp(math.sin(5.0)))


def test_sqrt_solutions_solve_the_ode_and_are_not_unique():
    ode, t = SqrtODE(), torch.linspace(0.05, 1.0, 40, dtype=F64)
    for x0, wait in [(0.0, 0.0), (0.0, 0.3), (0.0, 0.7), (0.25, 0.0)]:
        x = lambda s: SqrtODE.solution(s, x0, wait)[:, None]  # noqa: E731, B023
        deriv = (x(t + 1e-7) - x(t - 1e-7)) / 2e-7
        assert torch.allclose(deriv, ode.field(x(t), 0.0), atol=1e-5), (x0, wait)
    assert SqrtODE.solution(torch.tensor(0.0), 0.0, 0.5) == 0
    assert SqrtODE.solution(torch.tensor(1.0), 0.0, 0.0) == 0.25  # two different solutions from 0


def test_sqrt_euler_from_zero_never_leaves():
    sol = solve_ode(SqrtODE().field, torch.zeros(1, 1), time_grid(50))
    assert sol.final.item() == 0.0
    with pytest.raises(ValueError, match="from x0 > 0 the solution is unique"):
        SqrtODE.solution(torch.tensor(1.0), 1.0, 0.5)


@given(p=st.floats(0.5, 6.0), c=st.floats(1e-3, 1e3))
def test_order_of_an_exact_power_law(p, c):
    n = [4, 8, 16, 32, 64]
    assert convergence_order(n, [c * k**-p for k in n]) == pytest.approx(p, abs=1e-9)


def test_order_is_the_least_squares_slope():
    """Noisy data: the fit equals the normal-equation solution, not a two-point estimate."""
    n = torch.tensor([8.0, 16.0, 32.0, 64.0], dtype=F64)
    e = 1 / n**2 * torch.tensor([1.0, 1.3, 0.8, 1.1], dtype=F64)
    X = torch.stack([torch.ones(4, dtype=F64), n.log()], 1)
    slope = torch.linalg.lstsq(X, e.log()[:, None]).solution[1, 0]
    assert convergence_order(n, e) == pytest.approx(-slope.item(), abs=1e-12)


def test_order_refusals():
    with pytest.raises(ValueError, match="the same length"):
        convergence_order([1, 2, 3], [1.0, 0.5])
    with pytest.raises(ValueError, match="at least two different values"):
        convergence_order([4, 4], [1.0, 0.5])
    with pytest.raises(ValueError, match="an error of exactly 0 has no logarithm"):
        convergence_order([4, 8], [1.0, 0.0])


def test_convergence_study_measures_the_orders():
    """On the spiral ODE in float64 the fitted orders are 1, 2, 2, 4 within 0.1."""
    x0 = torch.tensor([[1.0, 0.5], [-2.0, 1.0]], dtype=F64)
    study = convergence_study(LinearODE.spiral(), x0, n_steps=(4, 16, 32, 64, 128), fit_last=4)
    assert isinstance(study, ConvergenceStudy)
    for method, order in {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}.items():
        assert study.orders[method] == pytest.approx(order, abs=0.1)
    assert study.nfe["heun"] == (8, 32, 64, 128, 256)
    assert study.errors["euler"][1] == global_error(LinearODE.spiral(), x0, "euler", 16)
    with pytest.raises(ValueError, match="unknown method 'rk5'"):
        convergence_study(LinearODE.spiral(), x0, methods=("rk5",))
