"""Closed forms between Gaussians: the OT map and W2 against known answers, the coupling fields against
the mixture kernel and against the OT displacement, straight constant-speed paths for OT only, and the
Schrodinger bridge: its cross-covariance (1-D root, Brownian cross term, limits, Sinkhorn on samples),
its noisy field against the mixture kernel, and its flow through its marginals."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor.couplings import sinkhorn_plan, squared_distances
from fmtutor.distributions import GaussianMixture
from fmtutor.gaussian_ot import (
    Gaussian,
    GaussianCouplingField,
    sqrtm_psd,
    bridge_cross_covariance,
    field_distance,
    gaussian_ot_map,
    gaussian_w2,
)
from fmtutor.marginals import MarginalField
from fmtutor.paths import GaussianPath
from fmtutor.schedules import NoisyLinearSchedule
from fmtutor.solvers import solve_ode, time_grid

F64 = torch.float64
M0, S0 = torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64)
M1 = torch.tensor([2.0, -1.0], dtype=F64)
S1 = torch.tensor([[2.0, 0.9], [0.9, 0.6]], dtype=F64)
S0_FULL = torch.tensor([[1.0, -0.3], [-0.3, 0.5]], dtype=F64)


def test_sqrtm_psd_squares_back():
    root = sqrtm_psd(S1)
    assert torch.allclose(root @ root, S1, atol=1e-12) and torch.allclose(root, root.T)
    with pytest.raises(ValueError, match="positive semi-definite"):
        sqrtm_psd(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_sqrtm_psd_is_the_rotated_root_of_the_eigenvalues_in_the_input_dtype(dtype):
    # a = Q diag(4, 9, 0) Q^T has the root Q diag(2, 3, 0) Q^T (a zero eigenvalue: semi-definite)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=F64))
    a = (q @ torch.diag(torch.tensor([4.0, 9.0, 0.0], dtype=F64)) @ q.T).to(dtype)
    root = sqrtm_psd(a)
    expected = (q @ torch.diag(torch.tensor([2.0, 3.0, 0.0], dtype=F64)) @ q.T).to(dtype)
    assert root.dtype == dtype
    torch.testing.assert_close(root, expected, atol=1e-3 if dtype == torch.float32 else 1e-7, rtol=0)


@pytest.mark.parametrize(
    "a, kind, message",
    [
        (torch.zeros(2, 3), ValueError, r"^a must be a non-empty square matrix \(D, D\), got shape \(2, 3\)$"),
        (torch.eye(2, dtype=torch.long), TypeError, r"^a must be a floating-point tensor, got torch.int64$"),
        (torch.tensor([[1.0, 2.0], [0.0, 1.0]]), ValueError, r"^a must be symmetric$"),
    ],
)
def test_sqrtm_psd_refuses_what_has_no_symmetric_root(a, kind, message):
    with pytest.raises(kind, match=message):
        sqrtm_psd(a)


def test_ot_map_between_diagonal_gaussians_scales_each_axis():
    # Commuting covariances: A = S1^1/2 S0^-1/2 axis by axis.
    t = gaussian_ot_map(
        M0, torch.diag(torch.tensor([4.0, 1.0], dtype=F64)), M1, torch.diag(torch.tensor([1.0, 9.0], dtype=F64))
    )
    assert torch.allclose(t.matrix, torch.diag(torch.tensor([0.5, 3.0], dtype=F64)))
    assert torch.allclose(t(torch.tensor([[2.0, 1.0]], dtype=F64)), M1 + torch.tensor([1.0, 3.0], dtype=F64))


@pytest.mark.parametrize("cov0", [S0, S0_FULL])
def test_ot_map_pushes_the_source_onto_the_target_with_a_symmetric_positive_matrix(cov0):
    t = gaussian_ot_map(M0, cov0, M1, S1)
    a = t.matrix
    assert torch.allclose(a, a.T) and bool((torch.linalg.eigvalsh(a) > 0).all())
    assert torch.allclose(a @ cov0 @ a.T, S1, atol=1e-10)


@pytest.mark.parametrize("cov0", [S0, S0_FULL])
def test_w2_is_the_cost_of_the_map(cov0):
    a = gaussian_ot_map(M0, cov0, M1, S1).matrix
    eye = torch.eye(2, dtype=F64)
    cost = (M1 - M0).pow(2).sum() + torch.trace((a - eye) @ cov0 @ (a - eye).T)
    assert gaussian_w2(M0, cov0, M1, S1).item() ** 2 == pytest.approx(cost.item(), rel=1e-10)


def test_w2_of_isotropic_gaussians():
    # N(0, I) to N(m, s^2 I) in 2-D: W2^2 = |m|^2 + 2 (s - 1)^2.
    assert gaussian_w2(M0, S0, M1, 9 * S0).item() ** 2 == pytest.approx(5 + 2 * 4, rel=1e-12)


def test_independent_field_equals_the_mixture_kernel(gen):
    # Source N(0, I), target one Gaussian with diagonal covariance: MarginalField knows this field.
    stds = torch.tensor([1.5, 0.4], dtype=F64)
    mixture = GaussianMixture(M1[None], stds[None])
    exact = MarginalField(mixture, GaussianPath("linear"))
    field = GaussianCouplingField.independent(M0, S0, M1, torch.diag(stds**2))
    x, t = 3 * torch.randn(200, 2, generator=gen, dtype=F64), torch.rand(200, generator=gen, dtype=F64) * 0.98
    assert torch.allclose(field(x, t), exact.velocity(x, t), atol=1e-10)


@pytest.mark.parametrize("cov0", [S0, S0_FULL])
def test_optimal_field_is_the_displacement_velocity(cov0, gen):
    ot = gaussian_ot_map(M0, cov0, M1, S1)
    field = GaussianCouplingField.optimal(M0, cov0, M1, S1)
    x = torch.randn(100, 2, generator=gen, dtype=F64)
    for t in (0.0, 0.3, 0.9, 1.0):
        x_t = (1 - t) * x + t * ot(x)
        assert torch.allclose(field(x_t, t), ot(x) - x, atol=1e-10)


def test_one_euler_step_is_exact_for_ot_and_collapses_for_independent(gen):
    x0 = torch.randn(500, 2, generator=gen, dtype=F64)
    one = time_grid(1, dtype=F64)
    ot = GaussianCouplingField.optimal(M0, S0, M1, S1)
    assert torch.allclose(solve_ode(ot, x0, one).final, gaussian_ot_map(M0, S0, M1, S1)(x0), atol=1e-10)
    ind = GaussianCouplingField.independent(M0, S0, M1, S1)
    assert torch.allclose(solve_ode(ind, x0, one).final, M1.expand_as(x0), atol=1e-10), "x + u_0(x) = E[x1]"


def test_independent_flow_also_ends_at_the_target(gen):
    # Every coupling's flow has the right marginals: the fine solve of the independent field ends with
    # the target's moments (S0 = I commutes with S1, so here it even ends at the OT map).
    x0 = torch.randn(20000, 2, generator=gen, dtype=F64)
    x1 = solve_ode(GaussianCouplingField.independent(M0, S0, M1, S1), x0, time_grid(200, dtype=F64), "rk4").final
    assert torch.allclose(x1.mean(0), M1, atol=0.03)
    assert torch.allclose(torch.cov(x1.T), S1, atol=0.05)
    assert torch.allclose(x1, gaussian_ot_map(M0, S0, M1, S1)(x0), atol=1e-6)


def test_sample_path_has_the_stated_moments(gen):
    field = GaussianCouplingField.independent(M0, S0_FULL, M1, S1)
    x = field.sample_path(40000, 0.4, gen)
    mean, cov = field.moments(0.4)
    assert torch.allclose(x.mean(0), mean, atol=0.02) and torch.allclose(torch.cov(x.T), cov, atol=0.03)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="cross must be"):
        GaussianCouplingField(M0, S0, M1, S1, torch.zeros(3, 3, dtype=F64))
    with pytest.raises(TypeError, match="cross has dtype torch.float32 and cov0 dtype torch.float64"):
        GaussianCouplingField(M0, S0, M1, S1, torch.zeros(2, 2))
    with pytest.raises(
        ValueError, match=r"mean0 must be \(D,\) and cov0 \(D, D\) with D >= 1, got \(3,\) and \(2, 2\)"
    ):
        gaussian_ot_map(torch.zeros(3), S0, M1, S1)
    with pytest.raises(ValueError, match="cov1 must be symmetric"):
        gaussian_w2(M0, S0, M1, torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=F64))
    with pytest.raises(ValueError, match="mean0 has 1 non-finite"):
        gaussian_w2(torch.tensor([float("nan"), 0.0], dtype=F64), S0, M1, S1)
    with pytest.raises(TypeError, match="cov must be a tensor"):
        Gaussian(M1, "identity")
    with pytest.raises(TypeError, match="cov1 has dtype torch.float32 and mean1 dtype torch.float64"):
        gaussian_w2(M0, S0, M1, S1.float())


def test_gaussian_sampler_has_its_moments(gen):
    x = Gaussian(M1, S1).sample(40000, gen)
    assert torch.allclose(x.mean(0), M1, atol=0.03) and torch.allclose(torch.cov(x.T), S1, atol=0.05)


# -- the Schrodinger bridge between Gaussians ---------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_bridge_cross_covariance_in_one_dimension(sigma):
    # 1-D: the plan's density exp(-(x - y)^2 / (2 sigma^2)) f(x) g(y) makes c / (ab - c^2) = 1 / sigma^2,
    # the positive root c = (sqrt(sigma^4 + 4 a b) - sigma^2) / 2.
    a, b = 1.7, 0.4
    k = bridge_cross_covariance(torch.tensor([[a]], dtype=F64), torch.tensor([[b]], dtype=F64), sigma)
    assert k.item() == pytest.approx((math.sqrt(sigma**4 + 4 * a * b) - sigma**2) / 2, rel=1e-12)


@pytest.mark.parametrize("cov0", [S0, S0_FULL])
@pytest.mark.parametrize("sigma", [0.2, 0.7, 2.0])
def test_bridge_plan_density_has_the_brownian_cross_term(cov0, sigma):
    # Joint precision of (x0, x1): its off-diagonal block is -I / sigma^2, so the density is
    # exp(x0 . x1 / sigma^2) times functions of x0 and of x1 alone: the entropic plan for eps = 2 sigma^2.
    k = bridge_cross_covariance(cov0, S1, sigma)
    joint = torch.cat([torch.cat([cov0, k], 1), torch.cat([k.T, S1], 1)])
    precision = torch.linalg.inv(joint)
    assert torch.allclose(precision[:2, 2:], -torch.eye(2, dtype=F64) / sigma**2, atol=1e-9)
    assert bool((torch.linalg.eigvalsh(joint) > 0).all()), "a valid joint covariance"


@pytest.mark.parametrize("cov0", [S0, S0_FULL])
def test_bridge_limits_are_the_ot_and_the_independent_coupling(cov0):
    ot = GaussianCouplingField.optimal(M0, cov0, M1, S1).cross
    assert torch.allclose(bridge_cross_covariance(cov0, S1, 0.0), ot, atol=1e-12)
    assert torch.allclose(bridge_cross_covariance(cov0, S1, 1e-4), ot, atol=1e-7)
    assert bridge_cross_covariance(cov0, S1, 30.0).abs().max() < 3e-3


def test_sinkhorn_plans_of_samples_approach_the_bridge_coupling(gen):
    # The cross-covariance of POT's entropic plan between 1,500 draws of each Gaussian, reg = 2 sigma^2,
    # against the closed form (and far from the OT coupling's).
    sigma, n = 1.0, 1500
    x0, x1 = Gaussian(M0, S0_FULL).sample(n, gen), Gaussian(M1, S1).sample(n, gen)
    plan = sinkhorn_plan(squared_distances(x0, x1), reg=2 * sigma**2, tol=1e-10, n_iter=10000)
    c0, c1 = x0 - x0.mean(0), x1 - x1.mean(0)
    empirical = c0.T @ plan @ c1
    expected = bridge_cross_covariance(S0_FULL, S1, sigma)
    assert torch.allclose(empirical, expected, atol=0.06)
    assert (GaussianCouplingField.optimal(M0, S0_FULL, M1, S1).cross - expected).abs().max() > 0.2


def test_noisy_independent_field_equals_the_mixture_kernel_on_the_noisy_path(gen):
    # K = 0 with the bridge's noise: x_t = t x1 + beta_t z on NoisyLinearSchedule, MarginalField's field.
    stds, sigma = torch.tensor([1.5, 0.4], dtype=F64), 0.8
    exact = MarginalField(GaussianMixture(M1[None], stds[None]), GaussianPath(NoisyLinearSchedule(sigma)))
    field = GaussianCouplingField(M0, S0, M1, torch.diag(stds**2), torch.zeros(2, 2, dtype=F64), sigma)
    x, t = 3 * torch.randn(200, 2, generator=gen, dtype=F64), torch.rand(200, generator=gen, dtype=F64) * 0.98
    assert torch.allclose(field(x, t), exact.velocity(x, t), atol=1e-10)


@pytest.mark.parametrize("cov0", [S0, S0_FULL])
def test_bridge_flow_carries_the_source_through_the_bridge_marginals(cov0, gen):
    field = GaussianCouplingField.bridge(M0, cov0, M1, S1, sigma=0.8)
    x0 = Gaussian(M0, cov0).sample(40000, gen)
    half = solve_ode(field, x0, time_grid(100, 0.0, 0.5, dtype=F64), "rk4").final
    end = solve_ode(field, half, time_grid(100, 0.5, 1.0, dtype=F64), "rk4").final
    for x, t in ((half, 0.5), (end, 1.0)):
        mean, cov = field.moments(t)
        assert torch.allclose(x.mean(0), mean, atol=0.03) and torch.allclose(torch.cov(x.T), cov, atol=0.05)
    assert torch.allclose(field.moments(1.0)[1], S1)
    ot_half = GaussianCouplingField.optimal(M0, cov0, M1, S1).moments(0.5)[1]
    assert torch.trace(field.moments(0.5)[1]) > torch.trace(ot_half) + 0.05, "wider than the OT path in between"


def test_field_distance_is_zero_to_itself_and_the_rms_formula(gen):
    ot = GaussianCouplingField.optimal(M0, S0, M1, S1)
    ind = GaussianCouplingField.independent(M0, S0, M1, S1)
    assert field_distance(ot, ot, n=500, generator=gen) == 0
    got = field_distance(ind, ot, times=(0.25, 0.75), n=300, generator=torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    sq = []
    for t in (0.25, 0.75):
        x = ot.sample_path(300, t, g)
        sq.append((ind(x, t) - ot(x, t)).pow(2).sum(1).mean())
    assert got == pytest.approx(torch.stack(sq).mean().sqrt().item(), rel=1e-12)
    on_ind = field_distance(ind, ot, times=(0.25, 0.75), n=300, generator=torch.Generator().manual_seed(4), on=ind)
    assert on_ind != pytest.approx(got, rel=1e-3), "points from the path of `on`"
