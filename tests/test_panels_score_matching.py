"""Chapter 5's SDE panel: every extreme setting draws finite artists, each control changes the
picture, sigma = 0 is the probability-flow ODE, the exact fields land on the data for every sigma,
a learned epsilon model equal to the exact one reproduces the exact particles, and a simulation
that blows up is reported in the title instead of raising."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.marginals import MarginalField  # noqa: E402
from fmtutor.paths import GaussianPath  # noqa: E402
from fmtutor.panels.score_matching import MarginalPreservingSDEPanel  # noqa: E402
from fmtutor.sampling import converted_field, sample_ode, sample_sde  # noqa: E402
from fmtutor.schedules import VPSchedule  # noqa: E402
from fmtutor.toy_data import eight_gaussians  # noqa: E402

NFE = (5, 20, 60)


def _exact_eps():
    path = GaussianPath(VPSchedule())
    return converted_field(MarginalField(eight_gaussians(), path).score, path, "score", "epsilon")


@pytest.fixture(scope="module")
def panel() -> MarginalPreservingSDEPanel:
    return MarginalPreservingSDEPanel(eps_model=_exact_eps(), n_particles=150, nfe_options=NFE)


def _state(panel: MarginalPreservingSDEPanel) -> tuple[np.ndarray, ...]:
    q = panel.view.quiver
    return np.array(q.U), np.array(q.V), np.array(q.get_array()), np.array(panel.view.dots.get_offsets())


def test_extremes_draw_without_error_or_nan(panel):
    cases = panel.extremes()
    names = {(k, v) for case in cases for k, v in case.items() if v != panel.defaults()[k]}
    assert {("sigma", 0.0), ("sigma", 2.0), ("t", 0.0), ("nfe", 5), ("source", "learned")} <= names
    for values in cases + [
        {"sigma": 2.0, "t": 1.0, "nfe": 5, "source": "learned"},
        {"sigma": 0.0, "t": 0.0, "nfe": 60, "source": "exact"},
    ]:
        panel.update(**values)
        panel.fig.canvas.draw()
        for array in _state(panel):
            assert np.isfinite(array).all(), values
        assert panel.view.dots.get_offsets().shape == (150, 2)


@pytest.mark.parametrize("name, a, b", [("t", 0.3, 0.8), ("sigma", 0.0, 2.0), ("nfe", 5, 60)])
def test_each_control_changes_the_picture(panel, name, a, b):
    settings = {"sigma": 1.0, "t": 0.6, "nfe": 20, "source": "exact"}
    panel.update(**{**settings, name: a})
    before = _state(panel)
    panel.update(**{**settings, name: b})
    after = _state(panel)
    if name != "nfe":
        assert not (np.allclose(before[0], after[0]) and np.allclose(before[1], after[1])), "the quiver did not change"
    assert not np.allclose(before[3], after[3]), "the particles did not move"


def test_source_switches_fields():
    untrained = MarginalPreservingSDEPanel(eps_model=lambda x, t: torch.zeros_like(x), n_particles=50, nfe_options=NFE)
    untrained.update(sigma=1.0, t=0.5, nfe=20, source="exact")
    before = _state(untrained)
    untrained.update(sigma=1.0, t=0.5, nfe=20, source="learned")
    after = _state(untrained)
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[3], after[3])
    assert untrained.ax.get_title() == "learned, σ=1.00, NFE=20, t=0.50"


def test_sigma_zero_is_the_probability_flow_ode(panel):
    sde = panel.trajectory("exact", 0.0, 20)
    assert panel.trajectory("exact", 0.0, 20) is sde  # cached, not simulated again
    ode = sample_ode(
        MarginalField(eight_gaussians(), panel.path).velocity,
        panel.x0,
        n_steps=20,
        method="euler",
        t_end=VPSchedule.t_max,
    )
    torch.testing.assert_close(sde.final, ode.final)
    torch.testing.assert_close(panel.particles_at(1.0, "exact", 0.0, 20), sde.final)
    torch.testing.assert_close(panel.particles_at(0.0, "exact", 0.0, 20), panel.x0)


@pytest.mark.parametrize("sigma", [0.5, 1.75])
def test_the_particles_are_sample_sde_of_the_exact_velocity_and_score_bit_for_bit(panel, sigma):
    """The panel evaluates the posterior once a step for both fields; the paths are what sample_sde
    simulates from the two fields called one after the other, with the panel's seed."""
    exact = MarginalField(eight_gaussians(), panel.path)
    generator = torch.Generator().manual_seed(panel.seed + 1)
    expected = sample_sde(
        exact.velocity, exact.score, sigma, panel.x0, n_steps=20, generator=generator, t_end=panel.t_max, keep_path=True
    )
    sde = panel.trajectory("exact", sigma, 20)
    assert torch.equal(sde.path, expected.path) and torch.equal(sde.times, expected.times) and sde.nfe == 20


@pytest.mark.parametrize("sigma", [0.0, 2.0])
def test_exact_fields_land_on_the_data_for_every_sigma(panel, sigma):
    """Eight Gaussians of radius 4 and std 0.3: the particles' distance to the nearest mean has an RMS
    of about 0.3 * sqrt(2) = 0.42 (plus Euler-Maruyama error at 60 steps), and the radius is 4."""
    x = panel.particles_at(1.0, "exact", sigma, 60)
    nearest = torch.cdist(x, eight_gaussians().means).min(dim=1).values
    assert nearest.pow(2).mean().sqrt().item() < 0.55
    assert abs(x.norm(dim=1).mean().item() - 4.0) < 0.15


def test_a_learned_model_equal_to_the_exact_eps_reproduces_the_exact_particles(panel):
    exact, learned = panel.trajectory("exact", 1.0, 20), panel.trajectory("learned", 1.0, 20)
    torch.testing.assert_close(learned.path, exact.path, rtol=1e-3, atol=1e-3)


def test_a_blow_up_is_reported_in_the_title_not_raised():
    panel = MarginalPreservingSDEPanel(eps_model=lambda x, t: 1e10 * x, n_particles=20, nfe_options=(5,))
    panel.update(sigma=2.0, t=1.0, nfe=5, source="learned")
    panel.fig.canvas.draw()
    assert "diverged" in panel.ax.get_title()
    assert all(np.isfinite(a).all() for a in _state(panel))
    assert panel.view.dots.get_offsets().shape == (0, 2)
    assert panel.trajectory("learned", 2.0, 5) is None


def test_t_beyond_t_max_is_shown_at_t_max(panel):
    panel.update(sigma=0.5, t=1.0, nfe=20, source="exact")
    assert panel.ax.get_title().endswith(f"t=t_max={VPSchedule.t_max:g}")


def test_refuses_unknown_source_negative_sigma_and_non_mixture_data(panel):
    with pytest.raises(ValueError, match="unknown source 'ddpm'; expected one of 'exact', 'learned'"):
        panel.update(sigma=1.0, t=0.5, nfe=20, source="ddpm")
    with pytest.raises(ValueError, match="sigma must be >= 0, got -1.0"):
        panel.trajectory("exact", -1.0, 20)
    with pytest.raises(ValueError, match="data must be a Gaussian mixture"):
        MarginalPreservingSDEPanel(data="moons")
