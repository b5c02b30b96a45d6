"""The likelihood panel: extremes draw finite images, the exact map is the closed form, the estimate's
error shrinks with the NFE and with exact divergences, probes add noise, bad settings are refused."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fmtutor.panels.likelihoods import LikelihoodPanel  # noqa: E402


@pytest.fixture(scope="module")
def panel() -> LikelihoodPanel:
    return LikelihoodPanel(n_grid=16, max_nfe=32, max_probes=4)


def _arrays(panel):
    return [np.asarray(image.get_array()) for image in panel.images]


def _weighted_error(panel, **values) -> float:
    panel.update(**values)
    return float(panel.axes[2].get_title().split("=")[-1].split()[0])


def test_extremes_draw_finite_images(panel):
    for values in panel.extremes():
        panel.update(**values)
        panel.fig.canvas.draw()
        exact, estimate, error = _arrays(panel)
        for array in (exact, estimate):
            assert array.shape == (16, 16) and np.isfinite(array).all(), values
        assert np.isfinite(error[exact >= -14.0]).all() and np.isnan(error[exact < -14.0]).all(), values


def test_the_exact_map_is_the_mixture_log_density_and_the_error_is_their_difference(panel):
    panel.update(t=1.0, nfe=8, probes=0)
    exact, estimate, error = _arrays(panel)
    expected = panel.field.mixture.log_density(panel.points).numpy().reshape(16, 16)
    np.testing.assert_allclose(exact, expected, rtol=1e-5, atol=1e-5)
    shown = exact >= -14.0
    assert shown.sum() > 50 and (~shown).sum() > 20
    np.testing.assert_allclose(error[shown], (estimate - exact)[shown], atol=1e-5)


def test_error_falls_with_nfe_and_probes_add_noise(panel):
    coarse, fine = _weighted_error(panel, t=1.0, nfe=2, probes=0), _weighted_error(panel, t=1.0, nfe=32, probes=0)
    assert fine < coarse / 4
    assert _weighted_error(panel, t=1.0, nfe=32, probes=1) > fine
    assert "euler x 32 (NFE 32), 1 probe" in panel.axes[1].get_title()


def test_time_changes_the_exact_map(panel):
    panel.update(t=1.0, nfe=8, probes=0)
    data_end = _arrays(panel)[0].copy()
    panel.update(t=0.3, nfe=8, probes=0)
    assert not np.allclose(data_end, _arrays(panel)[0])


def test_refusals(panel):
    with pytest.raises(ValueError, match=r"t must lie in \(0, 1\]"):
        panel.update(t=0.0, nfe=8, probes=0)
    with pytest.raises(ValueError, match="probes must lie in 0..4"):
        panel.update(t=1.0, nfe=8, probes=5)
    with pytest.raises(ValueError, match="must be a Gaussian mixture"):
        LikelihoodPanel(data="moons")


def test_the_nfe_slider_offers_whole_steps_and_the_solver_layer_counts_them():
    heun = LikelihoodPanel(method="heun", n_grid=8, max_nfe=9, max_probes=1)
    slider = heun.controls()["nfe"]
    assert (slider.min, slider.max, slider.step) == (2, 8, 2)
    heun.update(t=1.0, nfe=6, probes=0)
    assert heun.axes[1].get_title().startswith("heun x 3 (NFE 6), exact div")
    with pytest.raises(ValueError, match=r"^nfe must be a positive multiple of 2 for solver 'heun', got 5$"):
        heun.update(t=1.0, nfe=5, probes=0)
    with pytest.raises(ValueError, match=r"^unknown method 'rk5'; expected one of 'euler', 'midpoint', 'heun', 'rk4'$"):
        LikelihoodPanel(method="rk5")
