"""Diffusion vs flow matching: fair training, one sampling interface, exact-field limits."""
import pytest
import torch

from fmtutor.compare import SAMPLERS, exact_model, sliced_w2_vs_nfe, train_model
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
