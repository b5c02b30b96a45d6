"""The cost/benefit table: means and standard deviations over seeds, the NFE to reach a quality from each
seed's curve, distilled models measured only at their own grid, the printed table's cells, and the learned
field's distances to the closed forms between Gaussians."""

from __future__ import annotations

import pytest
import torch

from fmtutor.generators import TrainedModel
from fmtutor.cost_benefit import (
    Budget,
    Measured,
    Method,
    format_costs,
    format_table,
    gaussian_field_errors,
    measure,
    summarize,
)
from fmtutor.gaussian_ot import GaussianCouplingField, field_distance
from fmtutor.toy_data import eight_gaussians


def _run(cpu: float, curve: dict[int, float], s: float) -> tuple[dict, dict]:
    model = TrainedModel("flow-matching", lambda x, t: torch.zeros_like(x))
    return {"m": Method("m", model, cpu, 10)}, {"m": Measured(curve, s)}


def test_summarize_means_stds_and_reach():
    runs = [_run(1.0, {1: 0.9, 2: 0.5, 4: 0.2}, 2.0), _run(3.0, {1: 0.7, 2: 0.3, 4: 0.25}, 4.0)]
    (row,) = summarize(runs, quality=0.3)
    assert row.cpu_seconds == pytest.approx((2.0, 2**0.5))
    assert row.straightness == pytest.approx((3.0, 2**0.5))
    assert row.sliced_w2[1] == pytest.approx((0.8, 0.02**0.5))
    assert row.nfe_to_reach == (4, 2)
    text = format_table([row], [1, 2, 4])
    assert "0.800±0.141" in text and text.rstrip().endswith("4, 2") and "CPU" not in text
    costs = format_costs([row]).splitlines()
    assert costs[0].split() == ["method", "CPU", "s", "steps"] and costs[1].split() == ["m", "2.0±1.4", "10"]


def test_a_distilled_model_is_measured_on_its_own_grid_only():
    shift = TrainedModel("flow-matching", lambda x, t: torch.ones_like(x))
    method = Method("d", shift, 0.0, 1, grid_steps=2)
    reference = eight_gaussians().sample(500, torch.Generator().manual_seed(0))
    result = measure(method, reference, [1, 2, 4, 8], torch.randn(50, 2))
    assert list(result.curve) == [2] and result.straightness is None
    flow = measure(Method("f", shift, 0.0, 1), reference, [1, 2], torch.randn(50, 2))
    assert flow.straightness == pytest.approx(0.0, abs=1e-10), "a constant field walks straight at constant speed"


@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_gaussian_field_errors_measure_the_learned_field_against_the_closed_forms(sigma):
    m1, s1 = torch.tensor([1.0, -0.5]), torch.tensor([[2.0, 0.3], [0.3, 0.5]])
    zero, eye = torch.zeros(2), torch.eye(2)
    budget = Budget(steps=40, batch_size=64, hidden=16, ema_decay=None)
    (result,) = gaussian_field_errors(m1, s1, [8], budget, seed=3, sigma=sigma, n=200)
    ot = GaussianCouplingField.optimal(zero, eye, m1, s1)
    exact = GaussianCouplingField.bridge(zero, eye, m1, s1, sigma) if sigma else ot
    other = ot if sigma else GaussianCouplingField.independent(zero, eye, m1, s1)
    model = result.model.model
    assert result.ot_batch == 8 and result.cpu_seconds > 0
    assert result.to_exact == field_distance(model, exact, n=200, generator=torch.Generator().manual_seed(10))
    on_exact = field_distance(model, other, n=200, generator=torch.Generator().manual_seed(10), on=exact)
    assert result.to_other == on_exact
