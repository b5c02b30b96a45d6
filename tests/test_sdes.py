"""Brownian motion, Ornstein-Uhlenbeck and Langevin: closed forms, moment equations, stationarity."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fmtutor import GaussianMixture, get_dataset, noise_floor, sliced_wasserstein
from fmtutor.sdes import OrnsteinUhlenbeck, brownian_paths, langevin, langevin_drift
from fmtutor.solvers import euler_maruyama, time_grid

F64 = torch.float64


# --- Brownian motion -----------------------------------------------------------------------------


def test_brownian_covariance_is_min_of_times(gen):
    """W_0 = 0, Var(W_t - W_s) = t - s on an uneven grid, Cov(W_s, W_t) = min(s, t); 5 standard errors."""
    times = torch.tensor([0.0, 0.1, 0.15, 0.5, 1.2, 3.0], dtype=F64)
    n = 20_000
    w = brownian_paths(n, times, gen, dim=2)
    assert w.shape == (6, n, 2) and w.dtype == F64 and torch.equal(w[0], torch.zeros(n, 2, dtype=F64))
    dw = w.diff(dim=0)
    rel = 5 * math.sqrt(2 / (2 * n))
    torch.testing.assert_close(dw.var(dim=(1, 2)) / times.diff(), torch.ones(5, dtype=F64), rtol=0, atol=rel)
    flat = w[1:].reshape(5, -1)
    cov = flat @ flat.T / flat.shape[1]
    expected = torch.minimum(times[1:, None], times[None, 1:])
    assert (
        (cov - expected).abs()
        <= 5 * expected.diagonal().sqrt()[:, None] * expected.diagonal().sqrt() * math.sqrt(2 / flat.shape[1]) + 1e-12
    ).all()


def test_brownian_is_seeded_and_refuses_bad_grids():
    a, b = (brownian_paths(3, time_grid(4), torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match=r"^times must start at 0 \(W_0 = 0\), got times\[0\] = 0.5$"):
        brownian_paths(3, torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"^times must be strictly increasing$"):
        brownian_paths(3, torch.tensor([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError, match=r"^n_paths must be a positive integer, got 0$"):
        brownian_paths(0, time_grid(4))


# --- Ornstein-Uhlenbeck --------------------------------------------------------------------------


def test_ou_simulation_matches_closed_form(gen):
    """Mean x0 e^{-theta t}, variance sigma^2/(2 theta)(1 - e^{-2 theta t}) recomputed from the formula;
    tolerance 5 standard errors plus Euler-Maruyama's O(h) bias."""
    theta, sigma, t1, steps, n = 1.3, 0.9, 1.5, 300, 20_000
    x0 = torch.tensor([[2.0, -0.5]], dtype=F64).expand(n, 2)
    ou = OrnsteinUhlenbeck(theta, sigma)
    sol = ou.simulate(x0, time_grid(steps, 0.0, t1, dtype=F64), gen, keep_path=True)
    for k in (steps // 3, steps):
        t = t1 * k / steps
        mean = x0[0] * math.exp(-theta * t)
        var = sigma**2 / (2 * theta) * (1 - math.exp(-2 * theta * t))
        m = ou.moments(x0[:1], t)
        torch.testing.assert_close(m.mean[0], mean)
        assert m.variance.item() == pytest.approx(var, rel=1e-12)
        bias = theta * t1 / steps
        x = sol.path[k]
        assert ((x.mean(0) - mean).abs() <= 5 * math.sqrt(var / n) + bias * mean.abs()).all()
        assert ((x.var(0) / var - 1).abs() <= 5 * math.sqrt(2 / n) + 2 * bias).all()


@given(theta=st.floats(0.1, 5.0), sigma=st.floats(0.0, 3.0), t=st.floats(0.0, 4.0))
def test_ou_moments_solve_the_moment_equations(theta, sigma, t):
    """d mean/dt = -theta mean and d var/dt = -2 theta var + sigma^2 (Ito), by autograd."""
    ou = OrnsteinUhlenbeck(theta, sigma)
    tt = torch.tensor(t, dtype=F64, requires_grad=True)
    m = ou.moments(torch.ones(1, 1, dtype=F64), tt)
    (dm,) = torch.autograd.grad(m.mean.sum(), tt, retain_graph=True)
    (dv,) = torch.autograd.grad(m.variance, tt)
    assert dm.item() == pytest.approx(-theta * m.mean.item(), rel=1e-9, abs=1e-12)
    assert dv.item() == pytest.approx(-2 * theta * m.variance.item() + sigma**2, rel=1e-9, abs=1e-12)
    assert m.variance.item() <= ou.stationary_variance + 1e-12


@given(theta=st.floats(0.1, 3.0), sigma=st.floats(0.0, 2.0), n_steps=st.integers(1, 40), h=st.floats(0.01, 0.5))
def test_em_moments_follow_the_recursion(theta, sigma, n_steps, h):
    """Mean a^N x0 and variance from v' = a^2 v + sigma^2 h, a = 1 - theta h, step by step."""
    mean, var, a = 1.7, 0.0, 1 - theta * h
    for _ in range(n_steps):
        mean, var = a * mean, a * a * var + sigma**2 * h
    m = OrnsteinUhlenbeck(theta, sigma).em_moments(torch.full((1, 1), 1.7, dtype=F64), h, n_steps)
    assert m.mean.item() == pytest.approx(mean, rel=1e-9, abs=1e-300)
    assert m.variance.item() == pytest.approx(var, rel=1e-9, abs=1e-300)


def test_em_moments_converge_to_closed_form_at_order_one():
    ou, x0, t1 = OrnsteinUhlenbeck(2.0, 1.0), torch.ones(1, 1, dtype=F64), 1.0
    exact = ou.moments(x0, t1)
    errors = [abs(ou.em_moments(x0, t1 / n, n).variance - exact.variance).item() for n in (50, 100, 200, 400)]
    orders = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(p - 1) < 0.05 for p in orders), orders


def test_ou_stationary_law_and_refusals():
    ou = OrnsteinUhlenbeck(2.0, 1.2)
    assert ou.stationary_variance == pytest.approx(0.36)
    p = ou.stationary(3)
    x = torch.randn(5, 3)
    torch.testing.assert_close(p.score(x), -x / 0.36)
    with pytest.raises(ValueError, match=r"^theta must be > 0, got 0.0$"):
        OrnsteinUhlenbeck(0.0, 1.0)
    with pytest.raises(ValueError, match=r"^sigma must be >= 0, got -1.0$"):
        OrnsteinUhlenbeck(1.0, -1.0)
    with pytest.raises(ValueError, match=r"^t must be finite and >= 0"):
        ou.moments(torch.ones(1, 1), -0.1)
    with pytest.raises(ValueError, match=r"point mass"):
        OrnsteinUhlenbeck(1.0, 0.0).stationary()


# --- Langevin --------------------------------------------------------------------------------------


def test_langevin_drift_is_half_sigma_squared_score():
    p = get_dataset("three-clusters")
    x = torch.randn(7, 2)
    torch.testing.assert_close(langevin_drift(p, 1.4)(x, torch.rand(7)), 0.98 * p.score(x))
    s = 0.5  # for N(0, s^2 I) Langevin is OU with theta = sigma^2 / (2 s^2)
    gauss = GaussianMixture(torch.zeros(1, 2), s)
    torch.testing.assert_close(
        langevin_drift(gauss, 0.8)(x, torch.zeros(7)), OrnsteinUhlenbeck(0.8**2 / (2 * s**2), 0.8).drift(x, None)
    )
    with pytest.raises(TypeError, match=r"^density must have log_density and score methods, got str$"):
        langevin_drift("eight-gaussians", 1.0)


def test_langevin_keeps_its_target_and_plain_noise_does_not(gen):
    """Start at p: Langevin stays within 2x the sliced-W2 noise floor; sigma dW alone leaves it (> 5x)."""
    p = GaussianMixture(torch.tensor([[-1.0, 0.0], [1.0, 0.5]]), 0.6, torch.tensor([0.3, 0.7]))
    n, times = 4000, time_grid(200)
    floor = noise_floor(p, n, repeats=5, generator=gen)
    kept = langevin(p, p.sample(n, gen), 1.0, times, gen).final
    spread = euler_maruyama(lambda x, t: torch.zeros_like(x), 1.0, p.sample(n, gen), times, generator=gen).final
    fresh = p.sample(n, gen)
    assert sliced_wasserstein(kept, fresh, generator=gen) < 2 * floor
    assert sliced_wasserstein(spread, fresh, generator=gen) > 5 * floor


def test_langevin_from_noise_reaches_eight_gaussians(gen):
    """From N(0, I) every mode gets 1/8 of the particles (5 standard errors) and the mean squared distance
    to the nearest mode is 2 s^2 / (1 - a/2), the Euler-Maruyama stationary variance, a = h sigma^2 / (2 s^2)."""
    p, n, steps, s = get_dataset("eight-gaussians"), 8000, 200, 0.3
    x = langevin(p, torch.randn(n, 2, generator=gen), 1.0, time_grid(steps), gen).final
    d2 = torch.cdist(x, p.means) ** 2
    counts = torch.bincount(d2.argmin(1), minlength=8) / n
    assert ((counts - 1 / 8).abs() < 5 * math.sqrt(1 / 8 * 7 / 8 / n)).all()
    a = (1 / steps) / (2 * s**2)
    assert d2.min(1).values.mean().item() == pytest.approx(2 * s**2 / (1 - a / 2), rel=0.05)
