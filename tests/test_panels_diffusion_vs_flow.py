"""Chapter 6's side-by-side panel: every extreme setting draws finite artists, each control changes
its side of the picture, the right-hand arrows are the probability-flow velocity (not epsilon), the
particles are the samplers' own paths (cached, from the shared noise), and bad settings are refused."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.generators import TrainedModel, exact_model  # noqa: E402
from fmtutor.panels.diffusion_vs_flow import DiffusionVsFlowPanel  # noqa: E402
from fmtutor.toy_data import three_clusters  # noqa: E402

NFE = (2, 8, 32)
SETTINGS = {"t": 0.6, "nfe": 8, "fm_sampler": "euler", "diffusion_sampler": "ddim", "source": "exact"}


def _zero_models() -> dict[str, TrainedModel]:
    """'Learned' models that predict zero velocity and zero noise: clearly not the exact fields."""
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    return {"flow-matching": TrainedModel("flow-matching", zero), "diffusion": TrainedModel("diffusion", zero)}


@pytest.fixture(scope="module")
def panel() -> DiffusionVsFlowPanel:
    return DiffusionVsFlowPanel(models=_zero_models(), n_particles=120, nfe_options=NFE)


def _state(panel: DiffusionVsFlowPanel, kind: str) -> tuple[np.ndarray, ...]:
    view = panel.views[kind]
    return (
        np.array(view.quiver.U),
        np.array(view.quiver.V),
        np.array(view.quiver.get_array()),
        np.array(view.dots.get_offsets()),
    )


def test_extremes_draw_without_error_or_nan(panel):
    cases = panel.extremes()
    names = {(k, v) for case in cases for k, v in case.items() if v != panel.defaults()[k]}
    assert {
        ("t", 0.0),
        ("nfe", 2),
        ("nfe", 32),
        ("fm_sampler", "heun"),
        ("diffusion_sampler", "ancestral"),
        ("diffusion_sampler", "pf-heun"),
        ("source", "learned"),
    } <= names
    for values in cases + [
        {**SETTINGS, "t": 0.0, "nfe": 2, "diffusion_sampler": "pf-euler"},
        {**SETTINGS, "t": 1.0, "nfe": 2, "fm_sampler": "heun", "source": "learned"},
    ]:
        panel.update(**values)
        panel.fig.canvas.draw()
        for kind in panel.views:
            for array in _state(panel, kind):
                assert np.isfinite(array).all(), (values, kind)
            assert panel.views[kind].dots.get_offsets().shape == (120, 2)


def _changes(panel, name, a, b):
    panel.update(**{**SETTINGS, name: a})
    before = {k: _state(panel, k) for k in panel.views}
    panel.update(**{**SETTINGS, name: b})
    after = {k: _state(panel, k) for k in panel.views}
    arrows = {k: not (np.allclose(before[k][0], after[k][0]) and np.allclose(before[k][1], after[k][1])) for k in after}
    dots = {k: not np.allclose(before[k][3], after[k][3]) for k in after}
    return arrows, dots


def test_t_moves_arrows_and_particles_on_both_sides(panel):
    arrows, dots = _changes(panel, "t", 0.3, 0.8)
    assert all(arrows.values()) and all(dots.values())


@pytest.mark.parametrize(
    "name, a, b, side",
    [
        ("fm_sampler", "euler", "heun", "flow-matching"),
        ("diffusion_sampler", "ddim", "ancestral", "diffusion"),
        ("diffusion_sampler", "pf-euler", "pf-heun", "diffusion"),
    ],
)
def test_a_sampler_moves_only_its_own_particles(panel, name, a, b, side):
    arrows, dots = _changes(panel, name, a, b)
    assert dots[side] and not any(dots[k] for k in dots if k != side)
    assert not any(arrows.values()), "the fields do not depend on the sampler"


def test_nfe_moves_particles_and_source_switches_fields(panel):
    arrows, dots = _changes(panel, "nfe", 2, 32)
    assert all(dots.values()) and not any(arrows.values())
    arrows, dots = _changes(panel, "source", "exact", "learned")
    assert all(arrows.values()) and all(dots.values())


def test_the_right_arrows_are_the_probability_flow_velocity_not_epsilon(panel):
    panel.update(**SETTINGS)
    model = exact_model("diffusion", three_clusters())
    grid, t = panel.views["diffusion"].grid, torch.full((400,), SETTINGS["t"])
    unit = lambda v: (v / v.norm(dim=1, keepdim=True)).numpy()  # noqa: E731
    u, v = _state(panel, "diffusion")[:2]
    shown = np.stack([u, v], axis=1)
    np.testing.assert_allclose(shown, unit(model.velocity(grid, t)), atol=1e-5)
    assert not np.allclose(shown, unit(model.model(grid, t)), atol=0.1)


def test_particles_are_the_samplers_paths_from_the_shared_noise(panel):
    sol = panel.trajectory("exact", "diffusion", "ancestral", 8)
    assert panel.trajectory("exact", "diffusion", "ancestral", 8) is sol  # cached, not sampled again
    model = exact_model("diffusion", three_clusters())
    again = model.sample(panel.x0, 8, "ancestral", generator=torch.Generator().manual_seed(panel.seed + 1))
    torch.testing.assert_close(panel.particles_at(1.0, "exact", "diffusion", "ancestral", 8), again.final)
    for kind, sampler in (("flow-matching", "heun"), ("diffusion", "pf-euler")):
        torch.testing.assert_close(panel.particles_at(0.0, "exact", kind, sampler, 8), panel.x0)
    heun = panel.trajectory("exact", "flow-matching", "heun", 8)
    assert heun.path.shape == (5, 120, 2) and heun.nfe == 8  # NFE 8 = 4 Heun steps


def test_particles_between_grid_times_are_interpolated(panel):
    sol = panel.trajectory("exact", "flow-matching", "euler", 2)  # grid 0, 0.5, 1
    mid = panel.particles_at(0.25, "exact", "flow-matching", "euler", 2)
    torch.testing.assert_close(mid, 0.5 * (sol.path[0] + sol.path[1]))


def test_exact_fields_land_on_the_clusters():
    """Three clusters of std 0.4: with the exact fields and NFE 32 the particles' RMS distance to the
    nearest mean is close to 0.4 * sqrt(2) = 0.57."""
    panel = DiffusionVsFlowPanel(n_particles=300, nfe_options=(32,))
    means = three_clusters().means
    for kind, sampler in (("flow-matching", "heun"), ("diffusion", "ddim"), ("diffusion", "ancestral")):
        x = panel.particles_at(1.0, "exact", kind, sampler, 32)
        rms = torch.cdist(x, means).min(dim=1).values.pow(2).mean().sqrt().item()
        assert rms < 0.7, (kind, sampler, rms)


def test_refusals(panel):
    with pytest.raises(ValueError, match="unknown source 'ddpm'; expected one of 'exact', 'learned'"):
        panel.update(**{**SETTINGS, "source": "ddpm"})
    with pytest.raises(ValueError, match="unknown sampler for flow-matching 'ddim'"):
        panel.update(**{**SETTINGS, "fm_sampler": "ddim"})
    with pytest.raises(ValueError, match="models must map both"):
        DiffusionVsFlowPanel(models={"flow-matching": _zero_models()["flow-matching"]})
    with pytest.raises(ValueError, match="nfe_options must be even numbers"):
        DiffusionVsFlowPanel(nfe_options=(3, 8))
    with pytest.raises(ValueError, match="data must be a Gaussian mixture"):
        DiffusionVsFlowPanel(data="moons")
