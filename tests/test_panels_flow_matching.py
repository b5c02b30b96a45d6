"""Chapter 4's panel: extremes draw finite artists, updates move them, caches hold, the demo model learned."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.nets import MLPField  # noqa: E402
from fmtutor.panels.flow_matching import FlowMatchingPanel  # noqa: E402


@pytest.fixture(scope="module")
def panel():
    torch.manual_seed(0)
    p = FlowMatchingPanel(MLPField(hidden=16).eval(), n_particles=200)
    yield p
    plt.close(p.fig)


def _artists(p):
    out = {}
    for name, view in p.views.items():
        out[name] = (np.array(view.quiver.U), np.array(view.quiver.V), np.array(view.dots.get_offsets()))
    return out


def test_extremes_draw_finite(panel):
    for values in panel.extremes():
        panel.update(**values)
        panel.fig.canvas.draw()
        for name, (u, v, dots) in _artists(panel).items():
            assert u.shape == v.shape == (400,), name
            assert np.isfinite(u).all() and np.isfinite(v).all(), (name, values)
            assert dots.shape == (200, 2) and np.isfinite(dots).all(), (name, values)
        assert f"t = {values['t']:.2f}" in panel.label.get_text()
        assert f"{values['solver']} {values['nfe']} NFE" in panel.label.get_text()


def test_update_moves_arrows_and_particles(panel):
    panel.update(t=0.2, nfe=16, solver="euler")
    early = _artists(panel)
    panel.update(t=0.8, nfe=16, solver="euler")
    late = _artists(panel)
    for name in ("learned", "exact"):
        assert not np.allclose(early[name][0], late[name][0]), name
        assert not np.allclose(early[name][2], late[name][2]), name
    panel.update(t=0.8, nfe=2, solver="euler")
    assert not np.allclose(_artists(panel)["learned"][2], late["learned"][2])


def test_exact_particles_run_from_noise_to_data(panel):
    panel.update(t=0.0, nfe=16, solver="heun")
    for name in ("learned", "exact"):
        np.testing.assert_allclose(_artists(panel)[name][2], panel.x0.numpy(), atol=1e-6)
    panel.update(t=1.0, nfe=16, solver="heun")
    np.testing.assert_allclose(_artists(panel)["exact"][2], panel.x1.numpy(), atol=1e-6)


def test_trajectories_are_cached_per_solver_and_nfe(panel):
    first = panel.trajectory("heun", 16)
    assert panel.trajectory("heun", 16) is first
    assert first.path.shape == (9, 200, 2) and first.nfe == 16  # Heun: 2 evaluations per step
    assert panel.trajectory("euler", 16).path.shape == (17, 200, 2)
    assert panel.trajectory("heun", 2).path.shape == (2, 200, 2)


def test_refusals():
    model = MLPField(hidden=8)
    with pytest.raises(ValueError, match="data must be a Gaussian mixture"):
        FlowMatchingPanel(model, data="moons")
    with pytest.raises(ValueError, match=r"nfe_options must be even numbers >= 2 .* got \(1, 4\)"):
        FlowMatchingPanel(model, nfe_options=(1, 4))
    p = FlowMatchingPanel(model, n_particles=10)
    with pytest.raises(ValueError, match="unknown solver 'rk4'"):
        p.update(solver="rk4")
    plt.close(p.fig)


def test_demo_model_learned_the_modes():
    """demo() trains a small model: at t = 1 (Heun, NFE 64) most particles sit near one of the eight
    centres (radius 4), far closer than the untrained field puts them."""
    p = FlowMatchingPanel.demo()
    p.update(t=1.0, nfe=64, solver="heun")
    p.fig.canvas.draw()
    x = torch.as_tensor(p.views["learned"].dots.get_offsets(), dtype=torch.float32)
    d = torch.cdist(x, p.exact.mixture.means).min(1).values
    assert (d < 1.0).float().mean() > 0.8
    plt.close(p.fig)
