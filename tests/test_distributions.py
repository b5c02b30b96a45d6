"""StandardGaussian and GaussianMixture: scores against autograd, normalisation, sample moments."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor.distributions import Density, GaussianMixture, Sampleable, StandardGaussian

F64 = torch.float64


@pytest.fixture
def mixture() -> GaussianMixture:
    """Three components, per-coordinate stds, unequal weights (not normalised on purpose)."""
    means = torch.tensor([[-2.0, 0.0], [1.5, 1.0], [0.5, -2.5]])
    stds = torch.tensor([[0.5, 0.8], [0.3, 0.3], [1.0, 0.4]])
    return GaussianMixture(means, stds, weights=torch.tensor([2.0, 1.0, 1.0]))


def _grid(lo: float = -8.0, hi: float = 8.0, step: float = 0.04) -> tuple[torch.Tensor, float]:
    ax = torch.arange(lo + step / 2, hi, step, dtype=torch.get_default_dtype())
    xx, yy = torch.meshgrid(ax, ax, indexing="ij")
    return torch.stack([xx.ravel(), yy.ravel()], 1), step**2


def test_mixture_score_is_gradient_of_log_density(mixture, gen):
    x = (3 * torch.randn(200, 2, generator=gen)).requires_grad_(True)
    (grad,) = torch.autograd.grad(mixture.log_density(x).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach()), grad, rtol=1e-4, atol=1e-5)


def test_mixture_log_density_matches_a_direct_sum(mixture, gen):
    x = torch.randn(50, 2, generator=gen, dtype=F64)
    m, s, w = mixture.means.double(), mixture.stds.double(), mixture.weights.double()
    dens = sum(
        w[k] * torch.exp(-0.5 * (((x - m[k]) / s[k]) ** 2).sum(1)) / (2 * math.pi * s[k].prod()) for k in range(3)
    )
    torch.testing.assert_close(mixture.log_density(x), dens.log().to(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dist", ["mixture", "gaussian"])
def test_density_integrates_to_one(dist, mixture):
    d = mixture if dist == "mixture" else StandardGaussian(2)
    x, cell = _grid()
    assert (d.log_density(x).exp().sum() * cell).item() == pytest.approx(1.0, abs=1e-3)


def test_mixture_sample_moments(mixture, gen):
    """Mean sum_k w_k mu_k and covariance sum_k w_k (S_k + mu_k mu_k^T) - mean mean^T."""
    n = 100_000
    x = mixture.sample(n, gen).double()
    w, m, s2 = mixture.weights.double(), mixture.means.double(), mixture.stds.double() ** 2
    mean = (w[:, None] * m).sum(0)
    cov = (w[:, None, None] * (torch.diag_embed(s2) + m[:, :, None] * m[:, None, :])).sum(0) - torch.outer(mean, mean)
    torch.testing.assert_close(x.mean(0), mean, rtol=0, atol=5 * cov.diag().max().sqrt().item() / math.sqrt(n))
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0, atol=0.05)  # about 5 standard errors


def test_mixture_component_frequencies(mixture, gen):
    x = mixture.sample(40_000, gen)
    nearest = torch.softmax(mixture.component_log_probs(x), -1).argmax(-1)
    freq = torch.bincount(nearest, minlength=3).float() / len(x)
    torch.testing.assert_close(freq, torch.tensor([0.5, 0.25, 0.25]), rtol=0, atol=0.03)


def test_standard_gaussian(gen):
    g = StandardGaussian(3)
    x = g.sample(50_000, gen)
    assert x.shape == (50_000, 3)
    torch.testing.assert_close(x.mean(0), torch.zeros(3), rtol=0, atol=0.025)
    torch.testing.assert_close(torch.cov(x.T), torch.eye(3), rtol=0, atol=0.03)
    y = torch.randn(7, 3, generator=gen)
    expected = -0.5 * (y**2).sum(1) - 1.5 * math.log(2 * math.pi)
    torch.testing.assert_close(g.log_density(y), expected)
    torch.testing.assert_close(g.score(y), -y)


def test_single_component_mixture_equals_gaussian(gen):
    one = GaussianMixture(torch.zeros(1, 2))
    x = torch.randn(20, 2, generator=gen)
    torch.testing.assert_close(one.log_density(x), StandardGaussian(2).log_density(x))
    torch.testing.assert_close(one.score(x), -x)


def test_stds_shapes_expand(gen):
    means = torch.zeros(2, 3)
    per_component = GaussianMixture(means, torch.tensor([0.5, 2.0]))
    assert per_component.stds.shape == (2, 3)
    torch.testing.assert_close(per_component.stds[:, 0], torch.tensor([0.5, 2.0]))
    assert GaussianMixture(means, 0.7).stds.eq(0.7).all()
    assert GaussianMixture(means).weights.eq(0.5).all()


def test_protocols_and_seeding():
    mixture = GaussianMixture(torch.eye(2))
    assert isinstance(mixture, Sampleable) and isinstance(mixture, Density)
    assert isinstance(StandardGaussian(), Sampleable) and isinstance(StandardGaussian(), Density)
    a = mixture.sample(100, torch.Generator().manual_seed(5))
    b = mixture.sample(100, torch.Generator().manual_seed(5))
    c = mixture.sample(100, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"^means must have shape \(K, D\) with K, D >= 1, got \(3,\)$"):
        GaussianMixture(torch.zeros(3))
    with pytest.raises(ValueError, match=r"^stds must be > 0$"):
        GaussianMixture(torch.zeros(2, 2), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"^weights must be 2 non-negative numbers with a positive sum"):
        GaussianMixture(torch.zeros(2, 2), weights=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"^weights must be 2 non-negative numbers"):
        GaussianMixture(torch.zeros(2, 2), weights=torch.ones(3))
    mixture = GaussianMixture(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"^n must be a positive integer number of samples, got 0$"):
        mixture.sample(0)
    with pytest.raises(ValueError, match=r"^n must be a positive integer number of samples, got 2.5$"):
        StandardGaussian().sample(2.5)
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 2\), got \(4, 3\)$"):
        mixture.log_density(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"^x has 1 non-finite value\(s\)"):
        mixture.score(torch.tensor([[0.0, float("inf")]]))
    with pytest.raises(ValueError, match=r"^dim must be a positive integer, got 0$"):
        StandardGaussian(0)
