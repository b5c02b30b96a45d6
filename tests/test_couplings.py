"""Couplings: exact assignments on hand-made batches, Sinkhorn's closed form on two points, its limits,
the pairs the couplings draw, and the coupled flow matching loss against its formula."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from fmtutor.couplings import (
    IndependentCoupling,
    MinibatchOTCoupling,
    PairedData,
    coupled_cfm_loss,
    exact_assignment,
    ot_pair,
    sample_plan_rows,
    sinkhorn_plan,
    split_pairs,
    squared_distances,
)
from fmtutor.distributions import StandardGaussian
from fmtutor.toy_data import eight_gaussians

F64 = torch.float64


def _brute_force(cost: torch.Tensor) -> float:
    n = cost.shape[0]
    return min(sum(cost[i, p[i]].item() for i in range(n)) for p in itertools.permutations(range(n)))


def test_squared_distances_is_the_formula(gen):
    x0, x1 = torch.randn(5, 3, generator=gen, dtype=F64), torch.randn(7, 3, generator=gen, dtype=F64)
    expected = torch.stack([torch.stack([(a - b).pow(2).sum() for b in x1]) for a in x0])
    assert torch.allclose(squared_distances(x0, x1), expected)


def test_assignment_on_a_hand_made_batch():
    # Three points on a line and the same points shifted by 10 and listed in reverse: the optimal
    # pairing is the shift (cost 3 * 100), not the listed order (crossing pairs).
    x0 = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], dtype=F64)
    x1 = torch.tensor([[12.0, 0.0], [11.0, 0.0], [10.0, 0.0]], dtype=F64)
    perm = exact_assignment(squared_distances(x0, x1))
    assert perm.tolist() == [2, 1, 0]
    assert torch.equal(ot_pair(x0, x1), x0 + torch.tensor([10.0, 0.0], dtype=F64))


def test_assignment_on_a_square_prefers_short_sides():
    # Corners of a unit square: x0 on the left side, x1 on the right side listed crosswise.
    x0 = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    x1 = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert exact_assignment(squared_distances(x0, x1)).tolist() == [1, 0]


@pytest.mark.parametrize("n", [2, 4, 6, 7])
def test_assignment_matches_brute_force(n, gen):
    cost = squared_distances(torch.randn(n, 2, generator=gen, dtype=F64), torch.randn(n, 2, generator=gen, dtype=F64))
    perm = exact_assignment(cost)
    assert sorted(perm.tolist()) == list(range(n))
    assert cost[torch.arange(n), perm].sum().item() == pytest.approx(_brute_force(cost), rel=1e-12)


def test_sinkhorn_two_points_closed_form():
    # C = [[0, c], [c, 0]]: by symmetry P = [[a, b], [b, a]] with a / b = exp(c / reg) and a + b = 1/2.
    c, reg = 1.3, 0.7
    plan = sinkhorn_plan(torch.tensor([[0.0, c], [c, 0.0]], dtype=F64), reg, tol=1e-12)
    e = math.exp(-c / reg)
    expected = torch.tensor([[1, e], [e, 1]], dtype=F64) / (2 * (1 + e))
    assert torch.allclose(plan, expected, atol=1e-10)


@pytest.mark.parametrize("n, m", [(16, 16), (12, 20)])
def test_sinkhorn_marginals(n, m, gen):
    cost = squared_distances(
        torch.randn(n, 2, generator=gen, dtype=F64), 2 * torch.randn(m, 2, generator=gen, dtype=F64)
    )
    plan = sinkhorn_plan(cost, reg=0.5, tol=1e-10, n_iter=5000)
    assert torch.allclose(plan.sum(1), torch.full((n,), 1 / n, dtype=F64), atol=1e-9)
    assert torch.allclose(plan.sum(0), torch.full((m,), 1 / m, dtype=F64), atol=1e-12)


def test_sinkhorn_limits_exact_and_independent(gen):
    n = 10
    cost = squared_distances(torch.randn(n, 2, generator=gen, dtype=F64), torch.randn(n, 2, generator=gen, dtype=F64))
    perm = exact_assignment(cost)
    sharp = sinkhorn_plan(cost, reg=1e-3, n_iter=20000, tol=1e-9)
    assert torch.equal(sharp.argmax(1), perm)
    assert (sharp * cost).sum().item() == pytest.approx(cost[torch.arange(n), perm].mean().item(), rel=1e-3)
    flat = sinkhorn_plan(cost, reg=1e6)
    assert torch.allclose(flat, torch.full((n, n), 1 / n**2, dtype=F64), rtol=1e-4)


def test_sample_plan_rows_follows_each_row(gen):
    plan = torch.tensor([[0.0, 1.0, 0.0], [0.3, 0.0, 0.7]], dtype=F64).repeat(2000, 1)
    j = sample_plan_rows(plan, gen).reshape(2000, 2)
    assert (j[:, 0] == 1).all()
    assert set(j[:, 1].tolist()) == {0, 2}
    assert (j[:, 1] == 2).double().mean().item() == pytest.approx(0.7, abs=0.04)


def test_ot_pair_entropic_pairs_are_drawn_from_x1_and_cost_less_than_random(gen):
    x0, x1 = torch.randn(64, 2, generator=gen, dtype=F64), 2 * torch.randn(64, 2, generator=gen, dtype=F64)
    paired = ot_pair(x0, x1, reg=0.2, generator=gen)
    assert all(any(torch.equal(p, q) for q in x1) for p in paired)
    cost = lambda y: (y - x0).pow(2).sum(1).mean().item()  # noqa: E731
    assert cost(paired) < 0.6 * cost(x1), "a row sample may reuse a point, so it can even beat the exact plan"


def test_minibatch_ot_pairs_cost_less_than_independent_pairs(gen):
    source, target = StandardGaussian(2), eight_gaussians()
    ind = IndependentCoupling(source, target).sample(512, torch.Generator().manual_seed(1))
    ot = MinibatchOTCoupling(source, target).sample(512, torch.Generator().manual_seed(1))
    assert ind.shape == ot.shape == (512, 2, 2)
    assert torch.equal(ind[:, 0], ot[:, 0]), "the same draws, only re-paired"
    assert torch.equal(ind[:, 1].sort(0).values, ot[:, 1].sort(0).values)
    cost = lambda p: (p[:, 1] - p[:, 0]).pow(2).sum(1).mean().item()  # noqa: E731
    assert cost(ot) < 0.5 * cost(ind)


def test_minibatch_ot_chunks_when_the_ot_batch_is_smaller(gen):
    coupling = MinibatchOTCoupling(StandardGaussian(2), eight_gaussians(), ot_batch=64)
    pairs = coupling.sample(200, gen)
    assert pairs.shape == (200, 2, 2)
    big = MinibatchOTCoupling(StandardGaussian(2), eight_gaussians(), ot_batch=1000).sample(100, gen)
    assert big.shape == (100, 2, 2)


def test_paired_data_keeps_pairs_together(gen):
    x0 = torch.randn(50, 2, generator=gen)
    pairs = PairedData(x0, 3 * x0 + 1).sample(400, gen)
    assert torch.allclose(pairs[:, 1], 3 * pairs[:, 0] + 1)
    with pytest.raises(ValueError, match="same shape"):
        PairedData(x0, x0[:10])


def test_coupled_cfm_loss_is_the_formula(gen):
    pairs = torch.randn(64, 2, 2, generator=gen, dtype=F64)
    model = lambda x, t: torch.sin(x) * t[:, None]  # noqa: E731
    loss = coupled_cfm_loss(model, pairs, torch.Generator().manual_seed(3))
    t = torch.rand(64, generator=torch.Generator().manual_seed(3), dtype=F64)
    x0, x1 = pairs[:, 0], pairs[:, 1]
    x_t = t[:, None] * x1 + (1 - t[:, None]) * x0
    assert loss.item() == pytest.approx((model(x_t, t) - (x1 - x0)).pow(2).mean().item(), rel=1e-12)


def test_coupled_cfm_loss_on_a_grid_only_visits_grid_times(gen):
    seen = []
    model = lambda x, t: seen.append(t) or torch.zeros_like(x)  # noqa: E731
    coupled_cfm_loss(model, torch.randn(256, 2, 2, generator=gen), gen, times=torch.tensor([0.0, 0.5]))
    assert set(seen[0].tolist()) == {0.0, 0.5}


def test_coupled_cfm_loss_with_noise_is_minimised_by_the_pathwise_target(gen):
    # One pair, sigma > 0: a model that predicts x1 - x0 exactly is off by the noise term only.
    pairs = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]], dtype=F64).repeat(4096, 1, 1)
    straight = lambda x, t: torch.tensor([2.0, 0.0], dtype=F64).expand_as(x)  # noqa: E731
    assert coupled_cfm_loss(straight, pairs, gen) == 0
    assert coupled_cfm_loss(straight, pairs, gen, sigma=0.5) > 0


def test_split_pairs_refuses_other_shapes():
    with pytest.raises(ValueError, match=r"pairs must have shape \(B, 2, D\)"):
        split_pairs(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="square"):
        exact_assignment(torch.zeros(3, 4))
