"""Couplings: exact assignments on hand-made batches, Sinkhorn's closed form on two points, its limits,
the pairs the couplings draw, the coupled flow matching loss against its formula, and Schrodinger-bridge
CFM: its loss is minimised by the closed-form bridge field between Gaussians."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from fmtutor.couplings import (
    IndependentCoupling,
    MinibatchOTCoupling,
    PairedData,
    bridge_cfm_loss,
    coupled_cfm_loss,
    exact_assignment,
    ot_pair,
    sample_plan_rows,
    sinkhorn_plan,
    split_pairs,
    squared_distances,
)
from fmtutor.distributions import StandardGaussian
from fmtutor.gaussian_ot import GaussianCouplingField, sqrtm_psd
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


def test_plans_of_one_point_are_independent_pairs():
    source, target = StandardGaussian(2), eight_gaussians()
    pairs = MinibatchOTCoupling(source, target, ot_batch=1).sample(5, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    assert torch.equal(pairs, torch.cat([IndependentCoupling(source, target).sample(1, g) for _ in range(5)]))


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


# -- Schrodinger-bridge CFM -----------------------------------------------------------------------------


def _exact_pairs(field: GaussianCouplingField, n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws of (x0, x1) from the jointly Gaussian coupling of ``field`` ``(n, 2, D)``."""
    joint = torch.cat([torch.cat([field.cov0, field.cross], 1), torch.cat([field.cross.T, field.cov1], 1)])
    z = torch.randn(n, joint.shape[0], generator=generator, dtype=joint.dtype) @ sqrtm_psd(
        joint
    )  # OT (sigma = 0) is degenerate
    return (z + torch.cat([field.mean0, field.mean1])).reshape(n, 2, -1)


def _loss_gradient(field, pairs, sigma, generator) -> torch.Tensor:
    """d loss / d c at c = 0 for the model field + c * h, h = (x, 1, t x): zero in expectation exactly
    when ``field`` is the loss's minimiser E[target | x_t, t]."""
    c = torch.zeros(3, dtype=F64, requires_grad=True)

    def model(x, t):
        return field(x, t) + c[0] * x + c[1] + c[2] * t[:, None] * x

    coupled_cfm_loss(model, pairs, generator, sigma=sigma).backward()
    return c.grad


@pytest.mark.parametrize("sigma", [0.0, 0.6])
def test_the_bridge_field_minimises_the_sb_cfm_loss(sigma):
    # Pairs from the exact (Gaussian) bridge coupling with the bridge's noise on the path: the closed-form
    # field's residual is orthogonal to every test direction (mean gradient within 4 standard errors of 0);
    # the OT field (sigma = 0) and the noiseless bridge coupling's field are not.
    m1, s1 = torch.tensor([2.0, -1.0], dtype=F64), torch.tensor([[2.0, 0.9], [0.9, 0.6]], dtype=F64)
    m0, s0 = torch.zeros(2, dtype=F64), torch.tensor([[1.0, -0.3], [-0.3, 0.5]], dtype=F64)
    exact = GaussianCouplingField.bridge(m0, s0, m1, s1, sigma)
    wrong = (
        GaussianCouplingField.independent(m0, s0, m1, s1)
        if sigma == 0
        else GaussianCouplingField(m0, s0, m1, s1, exact.cross)  # the bridge's pairs without the path's noise
    )
    g = torch.Generator().manual_seed(5)
    grads = {"exact": [], "wrong": []}
    for _ in range(16):
        pairs = _exact_pairs(exact, 20000, g)
        for name, field in (("exact", exact), ("wrong", wrong)):
            grads[name].append(_loss_gradient(field, pairs, sigma, torch.Generator().manual_seed(len(grads[name]))))
    exact_g, wrong_g = torch.stack(grads["exact"]), torch.stack(grads["wrong"])
    standard_error = lambda g_: g_.std(0) / len(g_) ** 0.5  # noqa: E731
    assert bool((exact_g.mean(0).abs() < 4 * standard_error(exact_g) + 1e-10).all()), exact_g.mean(0)
    assert (wrong_g.mean(0).abs() / standard_error(wrong_g)).max() > 10, wrong_g.mean(0)


def test_bridge_coupling_and_loss_are_the_entropic_plan_and_the_noisy_loss(gen):
    source, target = StandardGaussian(2), eight_gaussians()
    sb = MinibatchOTCoupling.bridge(source, target, sigma=0.5, ot_batch=32)
    assert (sb.reg, sb.ot_batch) == (0.5, 32)
    pairs = torch.randn(64, 2, 2, generator=gen)
    model = lambda x, t: torch.cos(x) * t[:, None]  # noqa: E731
    expected = coupled_cfm_loss(model, pairs, torch.Generator().manual_seed(2), sigma=0.3)
    assert bridge_cfm_loss(0.3)(model, pairs, torch.Generator().manual_seed(2)) == expected
    with pytest.raises(ValueError, match="sigma must be > 0, got 0"):
        bridge_cfm_loss(0)


def test_coupled_cfm_loss_with_noise_is_the_pathwise_formula(gen):
    pairs = torch.randn(64, 2, 2, generator=gen, dtype=F64)
    model = lambda x, t: torch.sin(x) * t[:, None]  # noqa: E731
    sigma = 0.7
    loss = coupled_cfm_loss(model, pairs, torch.Generator().manual_seed(3), sigma=sigma)
    g = torch.Generator().manual_seed(3)
    t = torch.rand(64, generator=g, dtype=F64).clamp(1e-4, 1 - 1e-3)[:, None]
    eps = torch.randn(64, 2, generator=g, dtype=F64)
    x0, x1 = pairs[:, 0], pairs[:, 1]
    x_t = t * x1 + (1 - t) * x0 + sigma * (t * (1 - t)).sqrt() * eps
    target = x1 - x0 + sigma * (1 - 2 * t) / (2 * (t * (1 - t)).sqrt()) * eps
    assert loss.item() == pytest.approx((model(x_t, t[:, 0]) - target).pow(2).mean().item(), rel=1e-12)
