"""The noisy linear path: its two correct targets agree in conditional expectation, the naive target
x1 - x0 does not, and the field that the naive target trains does not reproduce the path's marginals."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmtutor import GaussianMixture, GaussianPath, MarginalField, cfm_loss, sample_ode
from fmtutor.noisy_path import NoisyLinearPath, naive_minimizer, noisy_cfm_loss
from fmtutor.toy_data import eight_gaussians


def _linear(x, t):
    return 0.5 * x - t[:, None]


@settings(max_examples=10)
@given(sigma=st.floats(0.0, 2.0), t=st.floats(0.05, 0.95))
def test_gaussian_form_is_a_gaussian_path_sample(sigma, t):
    gen = torch.Generator().manual_seed(1)
    path = NoisyLinearPath(sigma)
    x1 = torch.randn(16, 2, generator=gen)
    s = path.sample(x1, t, generator=gen)
    same = path.gaussian_path.sample(x1, t, x0=s.z)
    torch.testing.assert_close(same.x_t, s.x_t)
    torch.testing.assert_close(same.velocity, s.gaussian)


@pytest.mark.parametrize("t", [0.1, 0.5, 0.8])
def test_pathwise_target_is_the_time_derivative(t):
    gen = torch.Generator().manual_seed(2)
    path = NoisyLinearPath(0.7)
    x1, x0, eps = (torch.randn(8, 2, generator=gen, dtype=torch.float64) for _ in range(3))
    h = 1e-6
    ahead, behind = (path.sample(x1, t + d, x0=x0, eps=eps).x_t for d in (h, -h))
    torch.testing.assert_close(
        path.sample(x1, t, x0=x0, eps=eps).pathwise, (ahead - behind) / (2 * h), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("sigma,t", [(1.0, 0.25), (0.5, 0.6), (2.0, 0.1)])
def test_targets_agree_in_conditional_expectation(sigma, t):
    """pathwise - gaussian is uncorrelated with (x1, z), so E[. | x_t] agree; naive - gaussian has
    covariance -sigma^2 (1 - 2t) / (2 beta_t) with z."""
    gen = torch.Generator().manual_seed(3)
    n = 400_000
    path = NoisyLinearPath(sigma)
    s = path.sample(torch.randn(n, 1, generator=gen, dtype=torch.float64), t, generator=gen)
    beta = math.sqrt((1 - t) ** 2 + sigma**2 * t * (1 - t))
    tol = 5 / math.sqrt(n) * (1 + sigma / math.sqrt(t * (1 - t)))
    d_path, d_naive = s.pathwise - s.gaussian, s.naive - s.gaussian
    for covariate in (s.z, s.x1):
        assert abs((d_path * covariate).mean().item()) < tol
    assert abs(d_path.mean().item()) < tol
    assert (d_naive * s.z).mean().item() == pytest.approx(-(sigma**2) * (1 - 2 * t) / (2 * beta), abs=tol)


def test_naive_minimizer_matches_regression_on_gaussian_data():
    """Data N(0, s^2): E[x1 - x0 | x_t = x] = (t s^2 - (1 - t)) / v_t * x with v_t = t^2 s^2 + beta_t^2,
    and a least-squares fit of the naive target on x_t finds that slope."""
    s_data, sigma, t = 0.5, 1.0, 0.3
    mixture = GaussianMixture(torch.zeros(1, 1, dtype=torch.float64), s_data)
    path = NoisyLinearPath(sigma)
    exact = MarginalField(mixture, path.gaussian_path)
    field = naive_minimizer(exact.velocity, exact.score, sigma)
    v_t = t**2 * s_data**2 + (1 - t) ** 2 + sigma**2 * t * (1 - t)
    slope = (t * s_data**2 - (1 - t)) / v_t
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    torch.testing.assert_close(field(x, torch.full((7,), t, dtype=torch.float64)), slope * x)
    gen = torch.Generator().manual_seed(4)
    sample = path.sample(s_data * torch.randn(200_000, 1, generator=gen, dtype=torch.float64), t, generator=gen)
    fitted = ((sample.naive * sample.x_t).mean() / (sample.x_t**2).mean()).item()
    assert fitted == pytest.approx(slope, abs=0.01)


def test_naive_flow_misses_the_marginals_of_gaussian_data():
    """Data N(0, 0.5^2): the exact flow reaches std sqrt(v_{t_max}); the naive one ends 25% too wide."""
    mixture = GaussianMixture(torch.zeros(1, 2, dtype=torch.float64), 0.5)
    path = NoisyLinearPath(1.0)
    exact = MarginalField(mixture, path.gaussian_path)
    x0 = torch.ones(1, 2, dtype=torch.float64)  # linear fields: x(t) / x(0) is the std ratio
    end = {
        name: sample_ode(f, x0, 50, "rk4", t_end=path.t_max).final[0, 0].item()
        for name, f in (("exact", exact), ("naive", naive_minimizer(exact.velocity, exact.score, 1.0)))
    }
    t = path.t_max
    assert end["exact"] == pytest.approx(math.sqrt(t**2 * 0.25 + (1 - t) ** 2 + t * (1 - t)), rel=1e-4)
    assert end["naive"] > 1.2 * end["exact"]


def test_naive_flow_blurs_eight_gaussians():
    """On 8 Gaussians (std 0.3, sigma = 1) the exact flow's modes have the data's spread (mean squared
    distance to the nearest centre 2 * 0.3^2); the naive field's modes come out twice as wide or more."""
    gen = torch.Generator().manual_seed(5)
    data = eight_gaussians()
    path = NoisyLinearPath(1.0)
    exact = MarginalField(data, path.gaussian_path)
    x0 = torch.randn(2000, 2, generator=gen)
    spread = {}
    for name, f in (("exact", exact), ("naive", naive_minimizer(exact.velocity, exact.score, 1.0))):
        x = sample_ode(f, x0, 40, "heun", t_end=path.t_max).final
        spread[name] = (torch.cdist(x, data.means).min(1).values ** 2).mean().item()
    assert spread["exact"] == pytest.approx(2 * 0.3**2, rel=0.15)
    assert spread["naive"] > 2 * spread["exact"]


@pytest.mark.parametrize("target", ["gaussian", "pathwise", "naive"])
def test_sigma_zero_reduces_to_linear_cfm(target):
    x1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(6))
    ours = noisy_cfm_loss(_linear, x1, NoisyLinearPath(0.0), target, generator=torch.Generator().manual_seed(7))
    ref = cfm_loss(_linear, x1, GaussianPath("linear"), generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(ours, ref)


def test_losses_differ_only_by_target():
    x1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(8))
    path = NoisyLinearPath(1.0)
    s = path.sample(x1, generator=torch.Generator().manual_seed(9))
    for target in ("gaussian", "naive"):
        loss = noisy_cfm_loss(_linear, x1, path, target, generator=torch.Generator().manual_seed(9))
        torch.testing.assert_close(loss, (_linear(s.x_t, s.t) - getattr(s, target)).pow(2).mean())


def test_refusals():
    path = NoisyLinearPath(1.0)
    x1 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="unknown target 'x0'"):
        noisy_cfm_loss(_linear, x1, path, "x0")
    with pytest.raises(ValueError, match=r"t must lie in \[0.0, 0.999\]"):
        path.sample(x1, 1.0)
    with pytest.raises(ValueError, match=r"eps must have the shape of x1 \(4, 2\), got \(4, 3\)"):
        path.sample(x1, 0.5, eps=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        NoisyLinearPath(-1.0)
