"""Chapter 8's panel: finite artists at every extreme, the particles are Euler's own states (one exact OT
step lands on the map), each control changes what it should, and unknown settings are refused by name."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.couplings import IndependentCoupling  # noqa: E402
from fmtutor.distributions import StandardGaussian  # noqa: E402
from fmtutor.gaussian_ot import gaussian_ot_map  # noqa: E402
from fmtutor.panels.straighter_flows import OT_CFM, StraighterFlowsPanel  # noqa: E402
from fmtutor.toy_data import eight_gaussians  # noqa: E402


@pytest.fixture(scope="module")
def demo() -> StraighterFlowsPanel:
    return StraighterFlowsPanel.demo()


@pytest.fixture(scope="module")
def with_ot() -> StraighterFlowsPanel:
    target = eight_gaussians()
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    shift = lambda x, t: torch.ones_like(x)  # noqa: E731
    models = {"independent CFM": zero}
    couplings = {"independent CFM": IndependentCoupling(StandardGaussian(2), target)}
    return StraighterFlowsPanel(models, couplings, target, ot_models={16: shift, 64: zero}, n_particles=50)


def _state(panel):
    q = panel.view.quiver
    return (np.array(q.U), np.array(q.V), np.array(panel.view.dots.get_offsets()), np.array(panel.lines.get_segments()))


def test_extremes_draw_finite_artists(demo, with_ot):
    for panel in (demo, with_ot):
        for values in panel.extremes():
            panel.update(**values)
            panel.fig.canvas.draw()
            for array in _state(panel):
                assert np.isfinite(array).all(), values


def test_one_euler_step_of_the_exact_ot_field_lands_on_the_map(demo):
    demo.update(t=1.0, method="exact OT", nfe=1)
    mean, cov = torch.tensor([2.0, 1.0]), torch.tensor([[3.0, 1.2], [1.2, 0.8]])
    expected = gaussian_ot_map(torch.zeros(2), torch.eye(2), mean, cov)(demo.x0)
    assert np.allclose(demo.view.dots.get_offsets(), expected.numpy(), atol=1e-5)


def test_ot_batch_switches_the_ot_model_and_its_pairs(with_ot):
    with_ot.update(t=1.0, method=OT_CFM, nfe=1, ot_batch=16)
    a = _state(with_ot)
    with_ot.update(t=1.0, method=OT_CFM, nfe=1, ot_batch=64)
    b = _state(with_ot)
    assert np.allclose(a[2], with_ot.x0.numpy() + 1) and np.allclose(b[2], with_ot.x0.numpy())
    assert not np.allclose(a[3], b[3]), "other OT batch, other pairs"


def test_t_moves_particles_and_nfe_changes_the_path(demo):
    demo.update(t=0.3, method="independent", nfe=4)
    a = _state(demo)
    demo.update(t=0.7, method="independent", nfe=4)
    b = _state(demo)
    demo.update(t=0.7, method="independent", nfe=16)
    c = _state(demo)
    assert not np.allclose(a[2], b[2]) and not np.allclose(b[2], c[2])
    assert np.allclose(a[3], b[3]), "the pairs do not depend on t"


def test_pairs_cross_less_under_ot(demo):
    length = {}
    for method in ("independent", "exact OT"):
        x0, x1 = demo.pairs(method, 0).unbind(1)
        length[method] = (x1 - x0).norm(dim=1).mean().item()
    assert length["exact OT"] < length["independent"]


def test_bad_settings_are_refused(demo):
    with pytest.raises(ValueError, match="unknown method"):
        demo.update(method="reflow")
    with pytest.raises(ValueError, match="must name the same methods"):
        StraighterFlowsPanel({"a": None}, {}, eight_gaussians())
