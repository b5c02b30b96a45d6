"""Chapter 2's panel: every extreme slider setting draws, t scrubs one cached simulation, sigma and
the target really change the picture."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fmtutor.panels.sdes import SDEPanel  # noqa: E402


@pytest.fixture(scope="module")
def panel() -> SDEPanel:
    return SDEPanel(n_particles=200)


def state(panel: SDEPanel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = panel.view.quiver
    return np.stack([q.U, q.V]), np.asarray(q.get_array()).copy(), panel.view.dots.get_offsets().copy()


def test_every_extreme_draws_without_nan(panel):
    cases = panel.extremes()
    assert len(cases) == 8 and {c["target"] for c in cases} == {"eight-gaussians", "ornstein-uhlenbeck"}
    for values in cases:
        panel.update(**values)
        panel.fig.canvas.draw()
        uv, c, dots = state(panel)
        assert dots.shape == (200, 2)
        assert np.isfinite(uv).all() and np.isfinite(c).all() and np.isfinite(dots).all(), values


def test_t_scrubs_one_cached_simulation(panel):
    d = panel.defaults()
    panel.update(**{**d, "t": 0.0})
    start = state(panel)[2]
    n_cached = len(panel._cache)
    panel.update(**{**d, "t": 1.0})
    end = state(panel)[2]
    assert len(panel._cache) == n_cached
    assert np.abs(end - start).mean() > 0.5
    np.testing.assert_allclose(start, panel.start(d["target"]).numpy())
    path = panel.simulate(d["target"], d["sigma"], d["steps"])
    np.testing.assert_allclose(end, path.final.numpy())
    np.testing.assert_allclose(state(panel)[2], panel.simulate(d["target"], d["sigma"], d["steps"]).final.numpy())


def test_sigma_scales_the_langevin_drift_and_zero_freezes_it(panel):
    d = panel.defaults()
    panel.update(**{**d, "sigma": 1.0})
    uv1, c1, _ = state(panel)
    panel.update(**{**d, "sigma": 2.0})
    uv2, c2, _ = state(panel)
    np.testing.assert_allclose(c2, 4 * c1, rtol=1e-5)  # sigma^2 / 2 * grad log p
    np.testing.assert_allclose(uv2, uv1, atol=1e-6)  # same directions
    panel.update(**{**d, "sigma": 0.0, "t": 1.0})
    _, c0, dots = state(panel)
    assert (c0 == 0).all()
    np.testing.assert_allclose(dots, panel.start(d["target"]).numpy())


def test_target_changes_field_and_ou_keeps_its_drift(panel):
    d = panel.defaults()
    panel.update(**d)
    uv_mix = state(panel)[0]
    panel.update(**{**d, "target": "ornstein-uhlenbeck", "sigma": 0.5})
    uv_ou, c_ou, _ = state(panel)
    img_small = np.asarray(panel.image.get_array()).copy()
    panel.update(**{**d, "target": "ornstein-uhlenbeck", "sigma": 1.5})
    img_wide = np.asarray(panel.image.get_array())
    assert np.abs(uv_mix - uv_ou).max() > 0.5
    np.testing.assert_allclose(state(panel)[1], c_ou)  # drift -theta x does not depend on sigma
    assert img_wide.mean() > 2 * img_small.mean()  # stationary N(0, sigma^2 / (2 theta))


def test_unknown_target_is_refused(panel):
    with pytest.raises(ValueError, match=r"^unknown target 'moons'; expected one of"):
        panel.update(**{**panel.defaults(), "target": "moons"})
