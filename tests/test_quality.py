"""Quality against NFE: exact-field limits at the noise floor, where a curve levels off, solver error."""

import pytest
import torch

from fmtutor.generators import exact_model
from fmtutor.metrics import noise_floor
from fmtutor.metrics import sliced_w2_to
from fmtutor.quality import nfe_to_reach, plateau, sliced_w2_spread, sliced_w2_vs_nfe, solver_error_vs_nfe
from fmtutor.time_grids import GridSampler


@pytest.mark.parametrize(
    "kind,sampler,nfe",
    [
        ("flow-matching", "euler", 128),
        ("flow-matching", "heun", 64),
        ("diffusion", "ddim", 200),
        ("diffusion", "pf-heun", 128),
        ("diffusion", "ancestral", 250),
    ],
)
def test_exact_models_reach_the_data_within_twice_the_noise_floor(mixture, reference, kind, sampler, nfe):
    floor = float(noise_floor(mixture, len(reference), repeats=5, generator=torch.Generator().manual_seed(2)))
    w2 = sliced_w2_vs_nfe(exact_model(kind, mixture), sampler, [nfe], reference)[nfe]
    assert w2 < 2 * floor, f"{kind}/{sampler} at NFE {nfe}: sliced W2 {w2:.3f}, floor {floor:.3f}"


def test_nfe_to_reach_counts_from_where_the_curve_stays_below():
    curve = {1: 3.0, 2: 0.5, 4: 1.0, 8: 0.4, 16: 0.3}
    assert nfe_to_reach(curve, 0.6) == 8  # NFE 2 dips below, NFE 4 does not confirm it
    assert nfe_to_reach(curve, 5.0) == 1
    assert nfe_to_reach(curve, 0.1) is None
    assert plateau(curve) == 0.4 and plateau(curve, n_last=2) == 0.35
    with pytest.raises(ValueError, match="at least 6 points"):
        plateau(curve, n_last=6)


def test_solver_error_shrinks_at_the_solvers_order(mixture):
    """Against a fine solve from the same noise: Euler's error halves when the NFE doubles (order 1),
    Heun's falls about four-fold (order 2)."""
    model = exact_model("flow-matching", mixture)
    x0 = torch.randn(200, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    limit = model.sample(x0, 1024, "heun").final
    euler = solver_error_vs_nfe(model, "euler", [32, 64], x0, limit)
    heun = solver_error_vs_nfe(model, "heun", [32, 64], x0, limit)
    assert 1.6 < euler[32] / euler[64] < 2.4, euler
    assert 3.0 < heun[32] / heun[64] < 5.0, heun
    with pytest.raises(ValueError, match="needs a deterministic sampler"):
        solver_error_vs_nfe(exact_model("diffusion", mixture), "ancestral", [4], x0, limit)


def test_the_spread_over_seeds_is_the_sd_of_the_seeded_curves_and_about_the_noise_floors(mixture, reference):
    """The error bar of a quality curve: the standard deviation over seeds of the same measurement; for
    an exact sampler it is the sampling noise of the metric, a fraction of the noise floor."""
    model = exact_model("flow-matching", mixture)
    spread = sliced_w2_spread(model, "heun", [2, 32], reference, seeds=(0, 1, 2))
    runs = [sliced_w2_vs_nfe(model, "heun", [2, 32], reference, seed=s) for s in (0, 2, 4)]
    for nfe in (2, 32):
        assert spread[nfe] == pytest.approx(float(torch.tensor([r[nfe] for r in runs]).std()))
    floor = float(noise_floor(mixture, len(reference), generator=torch.Generator().manual_seed(0)))
    assert 0 < spread[32] < floor


def test_the_spread_needs_two_seeds(mixture, reference):
    with pytest.raises(ValueError, match=r"seeds: need at least 2 seeds for a spread, got \[3\]"):
        sliced_w2_spread(exact_model("flow-matching", mixture), "euler", [4], reference, seeds=(3,))


def test_refusals_name_the_argument(mixture):
    model, x0 = exact_model("flow-matching", mixture), torch.zeros(3, 2)
    with pytest.raises(
        TypeError,
        match=r"^model must be a fmtutor TrainedModel \(e.g. from train_2d\) or another model with "
        r"sample\(x0, nfe, sampler, generator=\), got str$",
    ):
        sliced_w2_vs_nfe("model", "euler", [4], x0)
    with pytest.raises(ValueError, match=r"^nfes must be a non-empty sequence of integers >= 1, got \(\)$"):
        sliced_w2_vs_nfe(model, "euler", [], x0)
    with pytest.raises(ValueError, match=r"^nfes\[1\] must be a positive integer, got 0$"):
        solver_error_vs_nfe(model, "euler", [4, 0], x0, x0)
    with pytest.raises(TypeError, match=r"^seeds must be a non-empty sequence of integers >= 0, got 3$"):
        sliced_w2_spread(model, "euler", [4], x0, seeds=3)
    with pytest.raises(ValueError, match=r"^limit must have the shape of x0 \(3, 2\), got \(2, 2\)$"):
        solver_error_vs_nfe(model, "euler", [4], x0, x0[:2])


def test_a_grid_sampler_is_measured_like_a_trained_model(mixture, reference):
    """Chapter 8's fitted-grid sampler has the TrainedModel's sampling call: its curve is the sliced W2
    of its own samples from the curve's seeded noise, and it refuses a sampler it lacks itself."""
    exact = exact_model("flow-matching", mixture)
    grids = GridSampler.fit(exact.velocity, torch.randn(256, 2, generator=torch.Generator().manual_seed(0)))
    curve = sliced_w2_vs_nfe(grids, "euler", [4, 8], reference, seed=3)
    for nfe in (4, 8):
        x0 = torch.randn(reference.shape, generator=torch.Generator().manual_seed(3))
        assert curve[nfe] == pytest.approx(sliced_w2_to(reference, seed=4)(grids.sample(x0, nfe).final))
    with pytest.raises(ValueError, match=r"GridSampler fits grids for Euler's method, got sampler 'heun'"):
        sliced_w2_vs_nfe(grids, "heun", [4], reference)
    with pytest.raises(TypeError, match=r"^sampler must be the str name of a sampler, got int$"):
        sliced_w2_vs_nfe(grids, 3, [4], reference)
