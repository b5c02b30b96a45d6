"""Adapted time grids: known quantiles of a given profile, the acceleration of known fields, and a lower
Euler error than the even grid where the velocity changes unevenly."""

from __future__ import annotations

import pytest
import torch

from fmtutor.solvers import solve_ode, time_grid
from fmtutor.time_grids import GridSampler, acceleration_profile, adapted_grid, grid_from_profile

F64 = torch.float64


def test_a_constant_profile_gives_the_even_grid():
    edges = time_grid(10, dtype=F64)
    assert torch.allclose(grid_from_profile(edges, torch.full((10,), 3.0, dtype=F64), 4), time_grid(4, dtype=F64))


def test_two_level_profile_by_hand():
    # sqrt(a) = 1 on [0, 1/2] and 2 on [1/2, 1]: mass 0.5 + 1.0; thirds at 0.5 and 1.0 -> t = 0.5, 0.75.
    edges = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    grid = grid_from_profile(edges, torch.tensor([1.0, 4.0], dtype=F64), 3, floor=0.0)
    assert torch.allclose(grid, torch.tensor([0.0, 0.5, 0.75, 1.0], dtype=F64))


def test_power_profile_quantiles():
    # a(t) = t: integral of sqrt(s) is (2/3) t^1.5, so the grid is t_i = (i / n)^(2/3).
    edges = time_grid(4000, dtype=F64)
    mids = 0.5 * (edges[1:] + edges[:-1])
    grid = grid_from_profile(edges, mids, 5, floor=0.0)
    assert torch.allclose(grid, (torch.arange(6, dtype=F64) / 5) ** (2 / 3), atol=1e-4)


def test_acceleration_of_known_fields(gen):
    x0 = torch.randn(64, 2, generator=gen, dtype=F64)
    edges, accel = acceleration_profile(lambda x, t: torch.ones_like(x) * 3.0, x0, n_fine=16)
    assert edges.shape == (17,) and torch.allclose(accel, torch.zeros(16, dtype=F64))
    # v = (t^2, 0) along any path: a = 2t; the difference quotient on [t_k, t_k+1] is t_k + t_k+1 exactly.
    _, accel = acceleration_profile(lambda x, t: torch.stack([t**2, 0 * t], 1), x0, n_fine=8)
    edges = time_grid(8, dtype=F64)
    assert torch.allclose(accel, edges[1:] + edges[:-1])


def late_turn(x, t):
    """Still until t = 0.7, then a fast turn: most of the acceleration sits late."""
    w = 20 * torch.sigmoid((t - 0.85) * 40)[:, None]
    return w * torch.stack([-x[:, 1], x[:, 0]], 1) + 0.3


def test_adapted_grid_beats_the_even_grid_on_a_late_turn(gen):
    x0 = torch.randn(256, 2, generator=gen, dtype=F64)
    fine = solve_ode(late_turn, x0, time_grid(4000, dtype=F64), "rk4").final
    grid = adapted_grid(late_turn, x0, 8, n_fine=200)
    assert grid[0] == 0 and grid[-1] == 1 and bool((grid.diff() > 0).all())
    assert grid[4] > 0.6, "half of the steps go to the late turn"
    err = {
        name: (solve_ode(late_turn, x0, g).final - fine).norm(dim=1).mean().item()
        for name, g in (("even", time_grid(8, dtype=F64)), ("adapted", grid))
    }
    assert err["adapted"] < 0.5 * err["even"]


def test_bad_profiles_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        grid_from_profile(time_grid(2, dtype=F64), torch.tensor([1.0, -1.0], dtype=F64), 2)
    with pytest.raises(ValueError, match=r"accel must have one value per interval of edges, shape \(M,\) = \(2,\)"):
        grid_from_profile(time_grid(2, dtype=F64), torch.ones(3, dtype=F64), 2)
    with pytest.raises(ValueError, match="edges must be at least two increasing times"):
        grid_from_profile(time_grid(2, dtype=F64).flip(0), torch.ones(2, dtype=F64), 2)


def test_grid_sampler_runs_euler_on_the_fitted_grid(gen):
    x0 = torch.randn(64, 2, generator=gen, dtype=F64)
    sampler = GridSampler.fit(late_turn, x0, n_fine=100)
    grid = grid_from_profile(sampler.edges, sampler.accel, 6)
    assert torch.equal(sampler.sample(x0, 6).final, solve_ode(late_turn, x0, grid).final)
    with pytest.raises(ValueError, match="Euler"):
        sampler.sample(x0, 6, "heun")
