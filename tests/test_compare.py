"""Diffusion vs flow matching: fair training, one sampling interface, exact-field limits."""
import pytest
import torch

from fmtutor.compare import (SAMPLERS, TrainedModel, exact_model, nfe_to_reach, plateau, sliced_w2_spread,
                             sliced_w2_vs_nfe, solver_error_vs_nfe, steps_for_nfe, train_model)
from fmtutor.metrics import noise_floor
from fmtutor.toy_data import three_clusters


@pytest.fixture(scope="module")
def mixture():
    return three_clusters()


@pytest.fixture(scope="module")
def reference(mixture):
    return mixture.sample(2000, torch.Generator().manual_seed(1))


@pytest.mark.parametrize("kind,sampler,nfe", [("flow-matching", "euler", 128), ("flow-matching", "heun", 64),
                                              ("diffusion", "ddim", 200), ("diffusion", "pf-heun", 128),
                                              ("diffusion", "ancestral", 250)])
def test_exact_models_reach_the_data_within_twice_the_noise_floor(mixture, reference, kind, sampler, nfe):
    floor = float(noise_floor(mixture, len(reference), repeats=5, generator=torch.Generator().manual_seed(2)))
    w2 = sliced_w2_vs_nfe(exact_model(kind, mixture), sampler, [nfe], reference)[nfe]
    assert w2 < 2 * floor, f"{kind}/{sampler} at NFE {nfe}: sliced W2 {w2:.3f}, floor {floor:.3f}"


def test_one_step_is_far_worse_than_many(mixture, reference):
    curve = sliced_w2_vs_nfe(exact_model("diffusion", mixture), "ddim", [1, 100], reference)
    assert curve[1] > 3 * curve[100]


def test_both_kinds_train_the_same_network_for_the_same_steps():
    data = three_clusters().sample(256, torch.Generator().manual_seed(0))
    fm = train_model("flow-matching", data, n_epochs=3, batch_size=64, progress=False)
    df = train_model("diffusion", data, n_epochs=3, batch_size=64, progress=False)
    assert len(fm.losses) == len(df.losses) == 3 * 4
    shapes = lambda m: [p.shape for p in m.model.parameters()]  # noqa: E731
    assert shapes(fm) == shapes(df)


def test_training_is_reproducible_from_the_seed():
    data = three_clusters().sample(128, torch.Generator().manual_seed(0))
    a, b = (train_model("diffusion", data, n_epochs=2, batch_size=32, seed=5, progress=False) for _ in range(2))
    assert a.losses == b.losses


@pytest.mark.parametrize("kind", SAMPLERS)
def test_every_sampler_returns_the_path_and_the_nfe(mixture, kind):
    model = exact_model(kind, mixture)
    x0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    for sampler in SAMPLERS[kind]:
        sol = model.sample(x0, 8, sampler, generator=torch.Generator().manual_seed(0), keep_path=True)
        steps = 4 if sampler.endswith("heun") else 8
        assert sol.nfe == 8 and sol.path.shape == (steps + 1, 16, 2)
        assert torch.equal(sol.path[-1], sol.final) and torch.equal(sol.path[0], x0)


def test_bad_sampler_and_odd_heun_nfe_are_refused(mixture):
    x0 = torch.randn(4, 2)
    with pytest.raises(ValueError, match="unknown sampler for flow-matching 'ddim'"):
        exact_model("flow-matching", mixture).sample(x0, 4, "ddim")
    with pytest.raises(ValueError, match="nfe must be a positive even integer for heun"):
        exact_model("flow-matching", mixture).sample(x0, 3, "heun")
    with pytest.raises(ValueError, match="unknown kind 'gan'"):
        train_model("gan", x0)


@pytest.mark.parametrize("sampler, nfe, steps", [("euler", 7, 7), ("heun", 8, 4), ("pf-heun", 2, 1), ("ddim", 5, 5),
                                                 ("ancestral", 1, 1), ("pf-euler", 3, 3)])
def test_steps_for_nfe_spends_exactly_the_nfe(sampler, nfe, steps):
    assert steps_for_nfe(sampler, nfe) == steps


def test_steps_for_nfe_refuses_what_cannot_be_matched():
    with pytest.raises(ValueError, match="nfe must be a positive even integer for pf-heun, got 5"):
        steps_for_nfe("pf-heun", 5)
    with pytest.raises(ValueError, match="nfe must be a positive integer for euler, got 0"):
        steps_for_nfe("euler", 0)
    with pytest.raises(ValueError, match="unknown sampler 'rk4'"):
        steps_for_nfe("rk4", 4)


def test_a_sampler_calls_the_network_exactly_nfe_times(mixture):
    calls = []
    exact = exact_model("diffusion", mixture).model

    def counted(x, t):
        calls.append(1)
        return exact(x, t)

    model = TrainedModel("diffusion", counted)
    for sampler in SAMPLERS["diffusion"]:
        calls.clear()
        model.sample(torch.randn(8, 2), 12, sampler, generator=torch.Generator().manual_seed(0))
        assert len(calls) == 12, sampler


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


def test_ema_returns_the_averaged_weights():
    data = three_clusters().sample(256, torch.Generator().manual_seed(0))
    raw = train_model("flow-matching", data, n_epochs=2, batch_size=64, progress=False)
    ema = train_model("flow-matching", data, n_epochs=2, batch_size=64, progress=False, ema_decay=0.9)
    assert raw.losses == ema.losses  # the same training run
    x, t = torch.randn(16, 2), torch.full((16,), 0.5)
    with torch.no_grad():
        assert not torch.allclose(raw.model(x, t), ema.model(x, t))


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
