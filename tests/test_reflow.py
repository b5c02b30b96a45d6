"""Reflow and distillation: pairs are the flow's end points, distillation visits only the sampler's grid,
and reflow straightens a known curved flow into one that a single Euler step follows."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor.train2d import train_2d
from fmtutor.couplings import coupled_cfm_loss
from fmtutor.reflow import distillation_loss, distillation_times, reflow_pairs
from fmtutor.solvers import solve_ode, time_grid

F64 = torch.float64


def rotation(x, t):
    """dx/dt = pi/2 J x: a quarter turn in unit time; x1 = (-x0_y, x0_x) exactly, on a circular arc."""
    return math.pi / 2 * torch.stack([-x[:, 1], x[:, 0]], dim=1)


def test_reflow_pairs_are_the_flow_end_points(gen):
    x0 = torch.randn(300, 2, generator=gen, dtype=F64)
    keep = x0.clone()
    pairs = reflow_pairs(rotation, x0, n_steps=64, method="heun", chunk=128)
    assert torch.equal(x0, keep), "x0 is not modified"
    p = pairs.pairs
    assert torch.equal(p[:, 0], x0)
    assert torch.allclose(p[:, 1], torch.stack([-x0[:, 1], x0[:, 0]], 1), atol=1e-3)
    assert torch.equal(p[:, 1], solve_ode(rotation, x0, time_grid(64, dtype=F64), "heun").final)


@pytest.mark.parametrize("k, expected", [(1, [0.0]), (2, [0.0, 0.5]), (4, [0.0, 0.25, 0.5, 0.75])])
def test_distillation_times(k, expected):
    assert distillation_times(k).tolist() == expected


def test_distillation_loss_at_one_step_is_the_regression_at_t0(gen):
    pairs = torch.randn(128, 2, 2, generator=gen, dtype=F64)
    model = lambda x, t: x * (1 + t[:, None])  # noqa: E731
    x0, x1 = pairs[:, 0], pairs[:, 1]
    expected = (x0 - (x1 - x0)).pow(2).mean()
    assert distillation_loss(1)(model, pairs, gen).item() == pytest.approx(expected.item(), rel=1e-12)
    with pytest.raises(ValueError, match="positive integer"):
        distillation_loss(0)


def test_reflow_straightens_a_rotation():
    # Pairs from the rotation's flow are related by a fixed linear map R; rectifying them gives the
    # straight field x1 - x0 = (R - I) x0, so one Euler step lands where the rotation does.
    g = torch.Generator().manual_seed(0)
    pairs = reflow_pairs(rotation, torch.randn(4096, 2, generator=g), n_steps=32)
    model = train_2d(
        pairs,
        train_steps=600,
        batch_size=256,
        hidden=64,
        depth=2,
        lr=3e-3,
        seed=0,
        objective=coupled_cfm_loss,
        progress=False,
    ).model
    x0 = torch.randn(500, 2, generator=torch.Generator().manual_seed(1)) * 0.7
    target = torch.stack([-x0[:, 1], x0[:, 0]], 1)
    with torch.no_grad():
        one_step = solve_ode(model, x0, time_grid(1)).final
        rotation_one_step = solve_ode(rotation, x0, time_grid(1)).final
    err_reflow = (one_step - target).norm(dim=1).mean().item()
    err_rotation = (rotation_one_step - target).norm(dim=1).mean().item()
    assert err_reflow < 0.25 * err_rotation
