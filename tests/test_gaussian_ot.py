"""Closed forms between Gaussians: the OT map and W2 against known answers, the coupling fields against
the mixture kernel and against the OT displacement, and straight constant-speed paths for OT only."""

from __future__ import annotations

import pytest
import torch

from fmtutor.distributions import GaussianMixture
from fmtutor.gaussian_ot import Gaussian, GaussianCouplingField, gaussian_ot_map, gaussian_w2, _sqrtm_psd
from fmtutor.marginals import MarginalField
from fmtutor.paths import GaussianPath
from fmtutor.solvers import solve_ode, time_grid

F64 = torch.float64
M0, S0 = torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64)
M1 = torch.tensor([2.0, -1.0], dtype=F64)
S1 = torch.tensor([[2.0, 0.9], [0.9, 0.6]], dtype=F64)
S0_FULL = torch.tensor([[1.0, -0.3], [-0.3, 0.5]], dtype=F64)


def test_sqrtm_psd_squares_back():
    root = _sqrtm_psd(S1)
    assert torch.allclose(root @ root, S1, atol=1e-12) and torch.allclose(root, root.T)
    with pytest.raises(ValueError, match="positive semi-definite"):
        _sqrtm_psd(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))


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
        GaussianCouplingField(M0, S0, M1, S1, torch.zeros(3, 3))
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
