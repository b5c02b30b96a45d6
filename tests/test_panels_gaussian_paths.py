"""Chapter 3's panel: every extreme slider setting draws finite artists, updates really change them,
the cached particle paths are the solver's (solved only as far as the time shown, then
extended bit for bit), and vp's t = 1 is clamped to t_max and says so."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.panels.gaussian_paths import MarginalPathPanel  # noqa: E402
from fmtutor.sampling import sample_ode  # noqa: E402
from fmtutor.schedules import VPSchedule  # noqa: E402


@pytest.fixture(scope="module")
def panel() -> MarginalPathPanel:
    return MarginalPathPanel(n_particles=200, max_steps=40)


def _state(panel: MarginalPathPanel) -> tuple[np.ndarray, ...]:
    q = panel.view.quiver
    return (np.array(q.U), np.array(q.V), np.array(panel.view.dots.get_offsets()), np.array(panel.image.get_array()))


def test_extremes_draw_without_error_or_nan(panel):
    cases = panel.extremes()
    names = {(k, v) for case in cases for k, v in case.items() if v != panel.defaults()[k]}
    assert {("t", 0.0), ("t", 1.0), ("steps", 1), ("steps", 40), ("schedule", "vp"), ("solver", "rk4")} <= names
    for values in cases + [
        {**panel.defaults(), "schedule": "vp", "t": 1.0, "steps": 1},
        {**panel.defaults(), "schedule": "vp", "t": 0.0, "solver": "rk4", "steps": 40},
    ]:
        panel.update(**values)
        panel.fig.canvas.draw()
        for array in _state(panel):
            assert np.isfinite(array).all(), values
        assert panel.view.dots.get_offsets().shape == (200, 2)


@pytest.mark.parametrize(
    "name, a, b", [("t", 0.2, 0.8), ("schedule", "linear", "vp"), ("steps", 1, 30), ("solver", "euler", "rk4")]
)
def test_each_control_changes_the_picture(panel, name, a, b):
    settings = {**panel.defaults(), "t": 0.6, "steps": 3}
    panel.update(**{**settings, name: a})
    before = _state(panel)
    panel.update(**{**settings, name: b})
    after = _state(panel)
    changed = [not np.allclose(x, y) for x, y in zip(before, after)]
    if name in ("t", "schedule"):
        assert changed[0] or changed[1], "the quiver did not change"
        assert changed[3], "the density did not change"
    assert changed[2], "the particles did not move"


def test_particles_follow_the_cached_solver_path(panel):
    sol = panel.trajectory("cosine", "heun", 4)
    assert panel.trajectory("cosine", "heun", 4) is sol  # cached, not re-solved
    torch.testing.assert_close(panel.particles_at(0.0, "cosine", "heun", 4), panel.x0)
    torch.testing.assert_close(panel.particles_at(0.5, "cosine", "heun", 4), sol.path[2])
    torch.testing.assert_close(panel.particles_at(1.0, "cosine", "heun", 4), sol.final)
    torch.testing.assert_close(panel.particles_at(0.625, "cosine", "heun", 4), 0.5 * (sol.path[2] + sol.path[3]))


@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_the_path_is_solved_as_far_as_the_time_shown_and_extended_bit_for_bit(solver):
    panel = MarginalPathPanel(n_particles=40, n_density=8, n_grid=4)
    full = sample_ode(panel.fields["cosine"], panel.x0, n_steps=10, method=solver, keep_path=True)
    shown = [panel.particles_at(t, "cosine", solver, 10) for t in (0.25, 0.3, 0.75, 0.1, 1.0)]
    solved = []
    for t in (0.25, 0.3, 0.75):  # 0.25 needs times[2] and times[3]; 0.3 too; 0.75 needs up to times[8]
        panel._paths.clear()
        solved.append(len(panel.trajectory("cosine", solver, 10, until=t).times))
    assert solved == [4, 4, 9]
    path = panel.trajectory("cosine", solver, 10)  # extended from times[8] to the end
    assert torch.equal(path.path, full.path) and torch.equal(path.times, full.times) and path.nfe == full.nfe
    assert all(torch.equal(x, full.at(t)) for x, t in zip(shown, (0.25, 0.3, 0.75, 0.1, 1.0)))


def test_exact_field_with_many_steps_lands_on_the_data(panel):
    """With RK4 x 40 on the exact field the particles sit on the eight means (radius 4, std 0.3);
    one Euler step from t = 0 of the linear path lands on E[x1] = 0 instead."""
    radius = panel.particles_at(1.0, "linear", "rk4", 40).norm(dim=1)
    assert abs(radius.mean().item() - 4.0) < 0.1 and radius.std().item() < 0.4
    one_step = panel.particles_at(1.0, "linear", "euler", 1)
    assert one_step.norm(dim=1).max().item() < 0.2


def test_vp_at_t_1_is_clamped_and_the_title_says_so(panel):
    panel.update(t=1.0, schedule="vp", solver="euler", steps=5)
    assert f"t clamped to t_max = {VPSchedule.t_max:g}" in panel.ax.get_title()
    torch.testing.assert_close(panel.particles_at(1.0, "vp", "euler", 5), panel.trajectory("vp", "euler", 5).final)
    panel.update(t=1.0, schedule="linear", solver="euler", steps=5)
    assert "clamped" not in panel.ax.get_title() and "t = 1.00" in panel.ax.get_title()


def test_refuses_unknown_names_and_non_mixture_data(panel):
    with pytest.raises(ValueError, match="unknown schedule 'ddpm'; expected one of 'linear', 'cosine', 'vp'"):
        panel.update(t=0.5, schedule="ddpm", solver="euler", steps=3)
    with pytest.raises(ValueError, match="unknown solver 'leapfrog'"):
        panel.trajectory("linear", "leapfrog", 3)
    with pytest.raises(ValueError, match="data must be a Gaussian mixture"):
        MarginalPathPanel(data="moons")


def test_a_vanishing_field_draws_no_arrows(panel):
    """Cosine at t = 0: u_0 = (pi / 2) E[x1] = 0 for eight centred Gaussians; rounding noise must not
    be blown up into unit arrows (the quiver normalises directions)."""
    panel.update(t=0.0, schedule="cosine", solver="euler", steps=5)
    assert np.abs(panel.view.quiver.U).max() == 0 and np.abs(panel.view.quiver.V).max() == 0
    panel.update(t=0.0, schedule="linear", solver="euler", steps=5)  # u_0 = E[x1] - x: unit arrows
    np.testing.assert_allclose(np.hypot(panel.view.quiver.U, panel.view.quiver.V), 1.0, rtol=1e-5)
