"""ODE/SDE solvers: convergence orders on closed-form ODEs, Euler-Maruyama moments, bookkeeping, refusals."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor.solvers import (
    NFE_PER_STEP,
    SOLVERS,
    DivergenceError,
    Solution,
    euler_maruyama,
    solve_ode,
    steps_for_nfe,
    time_grid,
)

F64 = torch.float64
ORDERS = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


def forced_decay(x, t):
    """dx/dt = -x + sin t; x(t) = C e^{-t} + (sin t - cos t) / 2."""
    return -x + torch.sin(t)[:, None]


def forced_decay_exact(x0, t0, t1):
    particular = lambda t: (math.sin(t) - math.cos(t)) / 2  # noqa: E731
    return (x0 - particular(t0)) * math.exp(t0 - t1) + particular(t1)


def spinning(x, t):
    """dx/dt = (1 + t) J x, J the quarter turn: x rotates by theta(t) = t + t^2 / 2."""
    return (1 + t)[:, None] * torch.stack([-x[:, 1], x[:, 0]], 1)


def spinning_exact(x0, t0, t1):
    a = (t1 + t1**2 / 2) - (t0 + t0**2 / 2)
    c, s = math.cos(a), math.sin(a)
    return torch.stack([c * x0[:, 0] - s * x0[:, 1], s * x0[:, 0] + c * x0[:, 1]], 1)


PROBLEMS = {"forced-decay": (forced_decay, forced_decay_exact), "spinning": (spinning, spinning_exact)}


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("method", list(SOLVERS))
def test_convergence_order(method, direction, problem):
    """The slope of log(error) against log(step) is the method's order (within 0.2)."""
    field, exact = PROBLEMS[problem]
    t0, t1 = (0.0, 2.0) if direction == "forward" else (2.0, 0.0)
    x0 = torch.tensor([[1.0, -0.5], [0.3, 2.0]], dtype=F64)
    steps = [16, 32, 64, 128]
    errors = []
    for n in steps:
        sol = solve_ode(field, x0, time_grid(n, t0, t1, dtype=F64), method=method)
        errors.append((sol.final - exact(x0, t0, t1)).abs().max().item())
    log_h = torch.log(torch.tensor([abs(t1 - t0) / n for n in steps], dtype=F64))
    log_e = torch.log(torch.tensor(errors, dtype=F64))
    slope = ((log_h - log_h.mean()) * (log_e - log_e.mean())).sum() / ((log_h - log_h.mean()) ** 2).sum()
    assert slope.item() == pytest.approx(ORDERS[method], abs=0.2), errors
    last = math.log2(errors[-2] / errors[-1])  # the finest halving is close to asymptotic
    assert last == pytest.approx(ORDERS[method], abs=0.1), errors


@pytest.mark.parametrize("method", list(SOLVERS))
def test_nfe_counts_field_calls_and_path_is_kept(method):
    calls = []

    def field(x, t, scale):
        calls.append(t.shape)
        assert t.shape == (x.shape[0],)
        return scale * x

    x = torch.ones(3, 2)
    sol = solve_ode(field, x, time_grid(5), method=method, keep_path=True, scale=-1.0)
    assert isinstance(sol, Solution)
    assert sol.nfe == len(calls) == 5 * NFE_PER_STEP[method]
    assert sol.path.shape == (6, 3, 2)
    assert torch.equal(sol.path[0], x) and torch.equal(sol.path[-1], sol.final)
    assert sol.final.sub(math.exp(-1)).abs().max() < 0.1  # x' = -x from 1 over unit time
    assert solve_ode(field, x, time_grid(5), method=method, scale=-1.0).path is None


def test_time_grid():
    g = time_grid(4)
    torch.testing.assert_close(g, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    torch.testing.assert_close(time_grid(2, 1.0, 0.0, dtype=F64), torch.tensor([1.0, 0.5, 0.0], dtype=F64))
    assert time_grid(3, dtype=F64).dtype == F64
    with pytest.raises(ValueError, match=r"^n_steps must be a positive integer, got 0$"):
        time_grid(0)
    with pytest.raises(ValueError, match=r"^n_steps must be a positive integer, got 2.0$"):
        time_grid(2.0)
    with pytest.raises(ValueError, match=r"^t_start and t_end must differ, both are 0.5$"):
        time_grid(3, 0.5, 0.5)


def test_ou_process_mean_and_variance():
    """dX = -theta X dt + sigma dW from X_0 = x0: mean x0 e^{-theta t}, var sigma^2 (1 - e^{-2 theta t}) / (2 theta).

    Tolerances: 5 standard errors plus the O(h) bias of Euler-Maruyama (h theta / 2 relative).
    """
    theta, sigma, n, t1, steps = 2.0, 0.8, 40_000, 1.0, 200
    x0 = torch.full((n, 1), 1.5, dtype=F64)
    g = torch.Generator().manual_seed(0)
    sol = euler_maruyama(lambda x, t: -theta * x, sigma, x0, time_grid(steps, 0.0, t1, dtype=F64), generator=g)
    mean = 1.5 * math.exp(-theta * t1)
    var = sigma**2 * (1 - math.exp(-2 * theta * t1)) / (2 * theta)
    bias = theta * t1 / steps
    assert sol.nfe == steps
    assert sol.final.mean().item() == pytest.approx(mean, abs=5 * math.sqrt(var / n) + bias * mean)
    assert sol.final.var().item() == pytest.approx(var, rel=5 * math.sqrt(2 / n) + bias)


def test_brownian_motion_on_a_decreasing_grid():
    """With drift 0 and g = 0.5 from t = 1 down to 0, X_0 - X_1 ~ N(0, 0.25): noise scales with sqrt(|h|)."""
    x = torch.zeros(40_000, 2)
    sol = euler_maruyama(
        lambda x, t: torch.zeros_like(x), 0.5, x, time_grid(50, 1.0, 0.0), generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(sol.final.var(0), torch.full((2,), 0.25), rtol=0.04, atol=0)


def test_time_dependent_diffusion_is_taken_at_the_left_point():
    """g(t) = t on [0, 1] in N steps: Var X_1 = sum_i (i / N)^2 / N (the left Riemann sum of t^2)."""
    n_steps, n = 20, 40_000
    sol = euler_maruyama(
        lambda x, t: torch.zeros_like(x),
        lambda t: t,
        torch.zeros(n, 1, dtype=F64),
        time_grid(n_steps, dtype=F64),
        generator=torch.Generator().manual_seed(2),
    )
    expected = sum((i / n_steps) ** 2 for i in range(n_steps)) / n_steps
    assert sol.final.var().item() == pytest.approx(expected, rel=5 * math.sqrt(2 / n))


def test_euler_maruyama_is_seeded_and_keeps_path():
    run = lambda seed: euler_maruyama(
        lambda x, t: -x,
        1.0,
        torch.zeros(10, 2),
        time_grid(7),  # noqa: E731
        generator=torch.Generator().manual_seed(seed),
        keep_path=True,
    )
    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a.final, b.final) and not torch.equal(a.final, c.final)
    assert a.path.shape == (8, 10, 2) and torch.equal(a.path[-1], a.final)


def test_euler_maruyama_without_noise_is_euler():
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    em = euler_maruyama(spinning, 0.0, x, time_grid(10))
    torch.testing.assert_close(em.final, solve_ode(spinning, x, time_grid(10)).final)


def test_bad_inputs():
    x, grid = torch.ones(2, 2), time_grid(4)
    with pytest.raises(ValueError, match=r"^unknown method 'rk5'; expected one of 'euler', 'midpoint', 'heun', 'rk4'$"):
        solve_ode(spinning, x, grid, method="rk5")
    with pytest.raises(ValueError, match=r"^times must be a 1-D tensor of at least two times \(use time_grid\)$"):
        solve_ode(spinning, x, torch.tensor([0.0]))
    with pytest.raises(ValueError, match=r"^times must be strictly increasing or strictly decreasing$"):
        solve_ode(spinning, x, torch.tensor([0.0, 0.5, 0.4, 1.0]))
    with pytest.raises(ValueError, match=r"^times has 1 non-finite value"):
        euler_maruyama(spinning, 1.0, x, torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match=r"^x must have shape \(B, \*D\)"):
        solve_ode(spinning, torch.ones(2), grid)
    with pytest.raises(ValueError, match=r"^the field returned shape \(2, 3\) for x of shape \(2, 2\)$"):
        solve_ode(lambda x, t: torch.ones(2, 3), x, grid)
    with pytest.raises(ValueError, match=r"^the field returned shape \(2, 1\) for x of shape \(2, 2\)$"):
        solve_ode(lambda x, t: x[:, :1], x, grid, method="heun")  # would broadcast silently
    with pytest.raises(ValueError, match=r"^the field returned shape \(2, 1\) for x of shape \(2, 2\)$"):
        euler_maruyama(lambda x, t: x[:, :1], 1.0, x, grid)
    with pytest.raises(
        ValueError, match=r"^diffusion\(t\) must return shape \(2,\) \(a scale per sample\), got \(2, 1\)$"
    ):
        euler_maruyama(spinning, lambda t: t[:, None], x, grid)


def test_blowup_is_reported_with_step_and_time():
    """dx/dt = x^2 from x = 1e3 overflows float32 within a few large steps."""
    with pytest.raises(
        ValueError,
        match=r"^the solution became non-finite at step 1 \(t = 0.25\); "
        r"the step is too large for this field or the field is singular there$",
    ):
        solve_ode(lambda x, t: x**2 * 1e10, torch.full((1, 1), 1e3), time_grid(4))
    with pytest.raises(ValueError, match=r"^the solution became non-finite at step"):
        euler_maruyama(lambda x, t: x**2 * 1e10, 0.1, torch.full((1, 1), 1e3), time_grid(4))


@pytest.mark.parametrize("method, nfe, steps", [("euler", 7, 7), ("heun", 8, 4), ("midpoint", 2, 1), ("rk4", 12, 3)])
def test_steps_for_nfe_spends_exactly_the_nfe(method, nfe, steps):
    assert steps_for_nfe(method, nfe) == steps
    field = lambda x, t: -x  # noqa: E731
    assert solve_ode(field, torch.ones(2, 1), time_grid(steps), method=method).nfe == nfe


def test_steps_for_nfe_refuses_what_cannot_be_matched():
    with pytest.raises(ValueError, match="nfe must be a positive multiple of 2 for solver 'heun', got 5"):
        steps_for_nfe("heun", 5)
    with pytest.raises(ValueError, match="nfe must be a positive multiple of 1 for solver 'euler', got 0"):
        steps_for_nfe("euler", 0)
    with pytest.raises(ValueError, match="nfe must be a positive multiple of 4 for solver 'rk4', got 2"):
        steps_for_nfe("rk4", 2)
    with pytest.raises(ValueError, match="unknown solver 'ddim'"):
        steps_for_nfe("ddim", 4)


@pytest.mark.parametrize("increasing", [True, False])
def test_solution_at_any_time_is_linear_between_grid_states(increasing):
    """On a grid (either direction) the state at t is the line between the two grid states around it,
    the grid state itself at a grid time, and the end state beyond the grid; nearest picks a grid state."""
    times = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    times = times if increasing else times.flip(0)
    path = torch.stack([torch.full((3, 2), float(10 * k)) for k in range(4)]).double()
    sol = Solution(times=times, final=path[-1], nfe=3, path=path)
    value = lambda t: float(sol.at(t)[0, 0])  # noqa: E731
    on_grid = {float(t): 10.0 * k for k, t in enumerate(times)}
    for t, expected in on_grid.items():
        assert value(t) == expected
    k = 2 if increasing else 0  # the interval [0.5, 1.0]
    assert value(0.75) == pytest.approx((10 * k + 10 * (k + 1)) / 2)
    assert sol.index(0.75) == k
    assert value(5.0) == on_grid[1.0] and value(-5.0) == on_grid[0.0]
    assert float(sol.nearest(0.3)[0, 0]) == on_grid[0.25] and float(sol.nearest(0.9)[0, 0]) == on_grid[1.0]


def test_solution_without_a_path_says_how_to_keep_one():
    sol = solve_ode(lambda x, t: -x, torch.ones(2, 1), time_grid(4))
    with pytest.raises(ValueError, match="keep_path=True"):
        sol.at(0.5)


def test_divergence_raises_its_own_error_type():
    blow_up = lambda x, t: x**3  # noqa: E731  finite-time blow-up, which Euler's big steps overshoot to inf
    with pytest.raises(DivergenceError, match="non-finite at step"):
        solve_ode(blow_up, torch.full((1, 1), 10.0), time_grid(4, 0.0, 10.0))
    assert issubclass(DivergenceError, ValueError)
