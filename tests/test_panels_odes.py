"""Chapter 1 panel: every slider extreme draws, moves change the artists, trajectories are cached."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fmtutor.panels.odes import SolverFlowPanel  # noqa: E402
from fmtutor.solvers import solve_ode, time_grid  # noqa: E402


@pytest.fixture(scope="module")
def panel():
    p = SolverFlowPanel.demo()
    yield p
    matplotlib.pyplot.close(p.fig)


def _state(panel):
    return (
        np.array(panel.view.quiver.U),
        np.array(panel.view.quiver.V),
        np.array(panel.view.dots.get_offsets()),
        np.array(panel.exact_dots.get_offsets()),
    )


def test_every_extreme_draws_finite_artists(panel):
    cases = panel.extremes()
    assert {c["steps"] for c in cases} >= {1, 64} and {c["t"] for c in cases} >= {0.0, 1.0}
    assert {c["solver"] for c in cases} >= {"euler", "rk4"}
    for values in cases:
        panel.update(**values)
        panel.fig.canvas.draw()
        for array in _state(panel):
            assert array.shape[0] > 0 and np.isfinite(array).all(), values
        assert len(panel.view.dots.get_offsets()) == 500


def test_time_moves_arrows_and_particles(panel):
    panel.update(solver="heun", steps=8, t=0.0)
    u0, v0, dots0, exact0 = _state(panel)
    panel.update(solver="heun", steps=8, t=1.0)
    u1, v1, dots1, exact1 = _state(panel)
    assert np.abs(u1 - u0).max() > 0.1 and np.abs(v1 - v0).max() > 0.1  # the field depends on t
    assert np.abs(dots1 - dots0).max() > 0.5 and np.abs(exact1 - exact0).max() > 0.5
    np.testing.assert_allclose(dots0, panel.x0.numpy(), atol=1e-6)  # t = 0: the start
    np.testing.assert_allclose(exact0, panel.x0.numpy(), atol=1e-6)


def test_particles_are_the_solver_output_against_the_exact_flow(panel):
    panel.update(solver="euler", steps=1, t=1.0)
    one_step = panel.x0 + panel.ode.field(panel.x0, 0.0)
    np.testing.assert_allclose(_state(panel)[2], one_step.numpy(), atol=1e-5)
    panel.update(solver="rk4", steps=64, t=1.0)
    np.testing.assert_allclose(_state(panel)[2], _state(panel)[3], atol=1e-4)
    assert "rk4, 64 steps (NFE 256), t = 1.00" in panel.view.ax.get_title()


def test_trajectories_are_cached_per_solver_and_steps(panel):
    first = panel.trajectories("midpoint", 5)
    assert panel.trajectories("midpoint", 5) is first
    assert first.path.shape == (6, 500, 2)
    direct = solve_ode(panel.ode.field, panel.x0, time_grid(5), method="midpoint", keep_path=True).path
    np.testing.assert_allclose(first.path.numpy(), direct.numpy(), atol=1e-6)
