"""The 2D trainer: both kinds train the same network for the same steps, seeded, with EMA and hooks."""

from __future__ import annotations

import pytest
import torch

from fmtutor import GaussianPath
from fmtutor.toy_data import eight_gaussians, three_clusters, two_moons
from fmtutor.train2d import data_loss, train_2d


def test_train_2d_is_seeded_and_learns():
    data = eight_gaussians()
    runs = [train_2d(data, train_steps=120, batch_size=64, hidden=16, seed=s, progress=False) for s in (0, 0, 1)]
    assert runs[0].losses == runs[1].losses and runs[0].losses != runs[2].losses
    first, last = sum(runs[0].losses[:20]) / 20, sum(runs[0].losses[-20:]) / 20
    assert last < 0.8 * first
    assert runs[0].kind == "flow-matching" and len(runs[0].losses) == 120
    assert not runs[0].model.training


def test_ema_model_differs_from_raw_weights():
    data = two_moons()
    ema = train_2d(data, train_steps=30, batch_size=32, hidden=8, progress=False).model
    raw = train_2d(data, train_steps=30, batch_size=32, hidden=8, ema_decay=None, progress=False).model
    x, t = torch.zeros(4, 2), torch.full((4,), 0.5)
    assert not torch.allclose(ema(x, t), raw(x, t))


def test_refusals():
    data = eight_gaussians()
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        data_loss(data, 0, lambda m, x1, g: x1.sum())
    with pytest.raises(ValueError, match="give either path"):
        train_2d(data, train_steps=1, path=GaussianPath("linear"), objective=lambda m, x1, g: x1.sum())
    with pytest.raises(ValueError, match="unknown kind 'gan'"):
        train_2d(data, kind="gan")
    with pytest.raises(ValueError, match="train_steps must be a positive integer, got 0"):
        train_2d(data, 0)
    with pytest.raises(ValueError, match="path is for flow matching"):
        train_2d(data, 1, kind="diffusion", path=GaussianPath("linear"))
    with pytest.raises(
        TypeError, match=r"^data must be a Sampleable \(with sample\(n, generator\) and dim\) or a tensor"
    ):
        train_2d([[0.0, 1.0]], 1)
    with pytest.raises(
        TypeError, match=r"^objective must be a callable objective\(model, x1, generator\) -> scalar loss, got int$"
    ):
        data_loss(data, 4, 3)
    with pytest.raises(TypeError, match=r"^path must be a GaussianPath or None, got str$"):
        train_2d(data, 1, path="linear")


def test_a_point_set_trains_a_network_in_its_dtype():
    points = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = train_2d(points, train_steps=2, batch_size=4, hidden=8, depth=1, progress=False).model
    assert next(model.parameters()).dtype == torch.float64
    assert model(points[:3], torch.full((3,), 0.5, dtype=torch.float64)).dtype == torch.float64


def test_the_objective_hook_sees_every_batch_and_the_trainers_generator():
    """An objective gets (model, x1 of batch_size points, the trainer's generator) once per step, and
    its value is what is minimised: a loss pulling the output towards 3 ends near 0."""
    seen = []

    def objective(model, x1, generator):
        seen.append((tuple(x1.shape), isinstance(generator, torch.Generator)))
        t = torch.rand(len(x1), generator=generator)
        return (model(x1, t) - 3.0).pow(2).mean()

    run = train_2d(
        two_moons(), 60, objective=objective, batch_size=16, hidden=8, lr=3e-2, ema_decay=None, progress=False
    )
    assert seen == [((16, 2), True)] * 60
    assert run.losses[-1] < 0.05 * run.losses[0]


def test_a_fixed_point_set_is_drawn_with_replacement():
    points = torch.arange(10.0).repeat(2, 1).T  # (10, 2): the point k is (k, k)
    draws = []
    loss = data_loss(points, 64, lambda m, x1, g: draws.append(x1) or x1.sum())
    loss(None, torch.Generator().manual_seed(0))
    x1 = draws[0]
    assert x1.shape == (64, 2) and set(x1[:, 0].tolist()) <= set(range(10)) and len(set(x1[:, 0].tolist())) > 5


def test_both_kinds_train_the_same_network_for_the_same_steps():
    data = three_clusters().sample(256, torch.Generator().manual_seed(0))
    fm = train_2d(data, 12, kind="flow-matching", batch_size=64, progress=False)
    df = train_2d(data, 12, kind="diffusion", batch_size=64, progress=False)
    assert len(fm.losses) == len(df.losses) == 3 * 4
    shapes = lambda m: [p.shape for p in m.model.parameters()]  # noqa: E731
    assert shapes(fm) == shapes(df)


def test_training_is_reproducible_from_the_seed():
    data = three_clusters().sample(128, torch.Generator().manual_seed(0))
    a, b = (train_2d(data, 8, kind="diffusion", batch_size=32, seed=5, progress=False) for _ in range(2))
    assert a.losses == b.losses


def test_ema_returns_the_averaged_weights():
    data = three_clusters().sample(256, torch.Generator().manual_seed(0))
    raw = train_2d(data, 8, batch_size=64, ema_decay=None, progress=False)
    ema = train_2d(data, 8, batch_size=64, progress=False, ema_decay=0.9)
    assert raw.losses == ema.losses  # the same training run
    x, t = torch.randn(16, 2), torch.full((16,), 0.5)
    with torch.no_grad():
        assert not torch.allclose(raw.model(x, t), ema.model(x, t))
