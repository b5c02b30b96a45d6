"""Likelihood kernels against answers known in advance: a linear field on a Gaussian (closed form),
the exact Gaussian-mixture field (closed-form log p_1), Hutchinson's estimator in expectation and its
variance formulas, dequantization and bits per dimension."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor import GaussianPath, MarginalField, time_grid
from fmtutor.likelihood import (
    bits_per_dim,
    dequantize,
    divergence,
    draw_probes,
    hutchinson_divergence,
    hutchinson_variance,
    jacobian,
    log_likelihood,
)
from fmtutor.toy_data import eight_gaussians, three_clusters

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


A = torch.tensor([[-0.3, 0.8, 0.1], [-0.5, 0.2, 0.0], [0.4, -0.2, 0.5]], dtype=F64)


def linear_field(x, t):
    """u_t(x) = A x: X_1 = expm(A) X_0, so p_1 = N(0, M M^T) with M = expm(A), div u = tr A."""
    return x @ A.T


def linear_log_p1(x):
    m = torch.linalg.matrix_exp(A)
    return torch.distributions.MultivariateNormal(torch.zeros(3, dtype=F64), m @ m.T).log_prob(x)


def wavy_field(x, t):
    """A nonlinear field with a known divergence: u = (sin(x1 x2), x0^2 t, -x2^3)."""
    return torch.stack([torch.sin(x[:, 1] * x[:, 2]), x[:, 0] ** 2 * t, -(x[:, 2] ** 3)], dim=1)


def wavy_divergence(x, t):
    return -3 * x[:, 2] ** 2


def linear_divergence(x, t):
    return torch.full((x.shape[0],), A.trace().item(), dtype=F64)


@pytest.mark.parametrize("field, expected", [(linear_field, linear_divergence), (wavy_field, wavy_divergence)])
def test_divergence_by_autograd_is_the_trace(field, expected):
    x, t = torch.randn(64, 3, generator=_gen(0), dtype=F64), torch.rand(64, generator=_gen(1), dtype=F64)
    torch.testing.assert_close(divergence(field, x, t), expected(x, t))


def test_divergence_of_images_and_of_a_constant_field():
    def scale(x, t):
        return -2.0 * x

    x = torch.randn(3, 1, 4, 4, generator=_gen(2), dtype=F64)
    torch.testing.assert_close(divergence(scale, x, 0.5), torch.full((3,), -32.0, dtype=F64))
    torch.testing.assert_close(divergence(lambda x, t: torch.ones_like(x), x, 0.5), torch.zeros(3, dtype=F64))


def test_divergence_of_the_mixture_field_matches_finite_differences():
    field = MarginalField(three_clusters(), GaussianPath("linear"))
    x, t = 2 * torch.randn(32, 2, generator=_gen(3), dtype=F64), torch.full((32,), 0.7, dtype=F64)
    h, fd = 1e-5, torch.zeros(32, dtype=F64)
    for i in range(2):
        e = torch.zeros(2, dtype=F64)
        e[i] = h
        fd += (field(x + e, t)[:, i] - field(x - e, t)[:, i]) / (2 * h)
    torch.testing.assert_close(divergence(field, x, t), fd, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased_with_the_closed_form_variance(kind):
    x = torch.randn(4, 3, generator=_gen(4), dtype=F64)
    many = x.repeat(50000, 1)  # 50,000 independent one-probe estimates per point, in one call
    one = hutchinson_divergence(wavy_field, many, 0.3, draw_probes(many, 1, kind, _gen(5))).reshape(50000, 4)
    jac = jacobian(wavy_field, x, 0.3)
    at = torch.tensor([0.3], dtype=F64)
    reference = torch.stack([torch.autograd.functional.jacobian(lambda z: wavy_field(z[None], at)[0], xi) for xi in x])
    torch.testing.assert_close(jac, reference)
    var = hutchinson_variance(jac, kind)
    exact = divergence(wavy_field, x, 0.3)
    assert ((one.mean(0) - exact).abs() <= 5 * (var / 50000).sqrt()).all()
    torch.testing.assert_close(one.var(0), var, rtol=0.1, atol=1e-9)


def test_rademacher_probes_are_exact_on_a_diagonal_jacobian_and_variances_differ_by_the_diagonal():
    def diag(x, t):
        return x * torch.tensor([1.0, -2.0, 3.0], dtype=F64)

    x = torch.randn(5, 3, generator=_gen(6), dtype=F64)
    probe = draw_probes(x, 1, "rademacher", _gen(7))
    torch.testing.assert_close(hutchinson_divergence(diag, x, 0.0, probe), torch.full((5,), 2.0, dtype=F64))
    jac = A.expand(2, 3, 3)
    sym = 0.5 * (A + A.T)
    gap = hutchinson_variance(jac, "gaussian") - hutchinson_variance(jac, "rademacher")
    torch.testing.assert_close(gap, 2 * torch.diagonal(sym).pow(2).sum().expand(2))


def test_probe_moments():
    x = torch.zeros(2000, 3, dtype=F64)
    for kind in ("rademacher", "gaussian"):
        eps = draw_probes(x, 1, kind, _gen(8))[0]
        second = eps.T @ eps / len(eps)
        torch.testing.assert_close(second, torch.eye(3, dtype=F64), atol=0.1, rtol=0)
    assert set(draw_probes(x, 2, "rademacher", _gen(9)).unique().tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("method, tol", [("euler", 0.05), ("heun", 1e-3), ("rk4", 1e-8)])
def test_linear_field_log_likelihood_is_the_closed_form(method, tol):
    x = torch.randn(200, 3, generator=_gen(10), dtype=F64)
    result = log_likelihood(linear_field, x, time_grid(100, 1.0, 0.0, dtype=F64), method=method)
    expected = linear_log_p1(x)
    assert (result.log_p - expected).abs().max() < tol
    torch.testing.assert_close(
        result.delta, torch.full((200,), -A.trace().item(), dtype=F64), atol=1e-12, rtol=0
    )  # delta = -int tr A dt, exact for every method
    torch.testing.assert_close(result.log_p, result.log_p0 + result.delta)
    assert result.nfe == 100 * {"euler": 1, "heun": 2, "rk4": 4}[method]
    assert (result.estimator, result.n_probes) == ("exact", 0)


def test_exact_mixture_field_reproduces_log_p1_with_rk4():
    mixture = eight_gaussians()
    field = MarginalField(mixture, GaussianPath("linear"))
    x = mixture.sample(500, _gen(11)).double()
    result = log_likelihood(field, x, time_grid(64, 1.0, 0.0, dtype=F64), method="rk4")
    assert (result.log_p - mixture.log_density(x)).abs().mean() < 0.01


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_convergence_order_on_the_exact_mixture_field(method, order):
    mixture = three_clusters()
    field = MarginalField(mixture, GaussianPath("linear"))
    x = mixture.sample(200, _gen(12)).double()
    truth = mixture.log_density(x)
    err = [
        (log_likelihood(field, x, time_grid(n, 1.0, 0.0, dtype=F64), method=method).log_p - truth).pow(2).mean().sqrt()
        for n in (64, 128)
    ]  # RMS error; the orders settle from about 64 steps on
    measured = math.log2(err[0] / err[1])
    assert abs(measured - order) < 0.5, f"{method}: measured order {measured:.2f}"


def test_hutchinson_log_likelihood_is_unbiased_around_the_exact_one():
    mixture = three_clusters()
    field = MarginalField(mixture, GaussianPath("linear"))
    x = mixture.sample(400, _gen(13)).double()
    grid = time_grid(20, 1.0, 0.0, dtype=F64)
    exact = log_likelihood(field, x, grid, method="heun")
    noisy = log_likelihood(field, x, grid, method="heun", estimator="rademacher", generator=_gen(14))
    gap = noisy.log_p - exact.log_p
    assert gap.mean().abs() < 4 * gap.std() / math.sqrt(len(gap))
    assert gap.std() > 0 and (noisy.estimator, noisy.n_probes) == ("rademacher", 1)


def test_conditioning_reaches_the_field_and_a_custom_prior_is_used():
    def shifted(x, t, shift):
        return x * 0 + shift

    x = torch.randn(6, 2, generator=_gen(15), dtype=F64)
    result = log_likelihood(
        shifted,
        x,
        time_grid(4, 1.0, 0.0, dtype=F64),
        method="euler",
        prior=lambda z: z.sum(1),
        shift=torch.ones(6, 2, dtype=F64),
    )
    torch.testing.assert_close(result.noise, x - 1)
    torch.testing.assert_close(result.log_p, (x - 1).sum(1))


def test_refusals_name_the_argument():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="strictly decreasing"):
        log_likelihood(linear_field, x, time_grid(4))
    with pytest.raises(ValueError, match="unknown estimator 'hutch'"):
        log_likelihood(linear_field, x, time_grid(4, 1.0, 0.0), estimator="hutch")
    with pytest.raises(ValueError, match="probes must have shape \\(P, 4, 2\\)"):
        hutchinson_divergence(lambda x, t: x, x, 0.5, torch.ones(4, 2))
    with pytest.raises(ValueError, match="returned shape \\(4,\\)"):
        divergence(lambda x, t: x.sum(1), x, 0.5)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        draw_probes(x, 0)
    with pytest.raises(ValueError, match="jacobian must have shape"):
        hutchinson_variance(torch.ones(2, 3))


def test_dequantize_stays_in_its_bin_and_bits_per_dim_of_a_uniform_density():
    levels = torch.arange(256, dtype=F64)
    x = (-1 + 2 * levels / 255).reshape(1, 256).expand(50, 256).contiguous()
    y = dequantize(x, _gen(16))
    k = torch.floor((y + 1) / 2 * 256)
    assert torch.equal(k, levels.expand(50, 256)) and y.min() >= -1 and y.max() < 1
    # the uniform density 1/2^D on [-1, 1]^D puts mass 1/256 on every bin: 8 bits per dimension
    d = 784
    torch.testing.assert_close(
        bits_per_dim(torch.tensor([-d * math.log(2.0)], dtype=F64), d, 2 / 256), torch.tensor([8.0], dtype=F64)
    )
