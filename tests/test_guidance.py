"""Exact classifier-free guidance on a labelled mixture: closed forms, the tilted density, the gap."""

from __future__ import annotations

import pytest
import torch

from fmtutor.distributions import GaussianMixture
from fmtutor.guidance import (
    GuidedField,
    LabelledMixture,
    grid_density,
    guidance_gap,
    histogram,
    total_variation,
    two_class_mixture,
)
from fmtutor.marginals import MarginalField
from fmtutor.paths import GaussianPath

F64 = torch.float64


@pytest.fixture
def data() -> LabelledMixture:
    return two_class_mixture()


def _points(n: int = 64, seed: int = 0) -> torch.Tensor:
    return 2.5 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=F64)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("y", [0, 1])
def test_w1_is_the_conditional_field_and_w0_the_unconditional(data, schedule, y):
    path, x, t = GaussianPath(schedule), _points(), torch.linspace(0.05, 0.95, 64, dtype=F64)
    sub = GaussianMixture(
        data.mixture.means[data.labels == y],
        data.mixture.stds[data.labels == y],
        data.mixture.weights[data.labels == y],
    )
    torch.testing.assert_close(GuidedField(data, path, y, 1.0)(x, t), MarginalField(sub, path)(x, t))
    torch.testing.assert_close(GuidedField(data, path, y, 0.0)(x, t), MarginalField(data.mixture, path)(x, t))


@pytest.mark.parametrize("w", [-0.5, 2.0, 4.5])
def test_guided_field_is_affine_in_w(data, w):
    path, x, t = GaussianPath("linear"), _points(), torch.full((64,), 0.4, dtype=F64)
    v0, v1 = GuidedField(data, path, 1, 0.0)(x, t), GuidedField(data, path, 1, 1.0)(x, t)
    torch.testing.assert_close(GuidedField(data, path, 1, w)(x, t), (1 - w) * v0 + w * v1)


@pytest.mark.parametrize("w", [0.0, 1.0, 3.0])
@pytest.mark.parametrize("t", [0.3, 0.8, 1.0])
def test_guided_score_is_the_gradient_of_the_tilted_log_density(data, w, t):
    field = GuidedField(data, GaussianPath("linear"), 0, w)
    x = _points(32, seed=1).requires_grad_(True)
    (grad,) = torch.autograd.grad(field.tilted_log_density(x, t).sum(), x)
    torch.testing.assert_close(field.score(x.detach(), t), grad)


@pytest.mark.parametrize("w", [0.0, 2.0, 5.0])
def test_guided_velocity_is_the_velocity_of_the_tilted_score(data, w):
    """u = (d_alpha / alpha) x + beta (beta d_alpha / alpha - d_beta) score, the same affine map for
    every target: so the guided velocity is that map applied to the guided score."""
    path, x, t = GaussianPath("linear"), _points(), torch.full((64,), 0.6, dtype=F64)
    field = GuidedField(data, path, 1, w)
    torch.testing.assert_close(field(x, t), path.convert(field.score(x, t), x, t, source="score", target="velocity"))


def test_posterior_at_t1_matches_bayes(data):
    x = _points()
    logp = data.mixture.log_density(x)
    for y in range(2):
        joint = data.conditional(y).log_density(x) + torch.log(data.prior()[y])
        torch.testing.assert_close(data.log_posterior(x, y), joint - logp)
    torch.testing.assert_close(data.prior(), torch.tensor([2 / 3, 1 / 3]))


def test_tilted_density_on_the_grid_is_p_at_w0_and_the_class_at_w1(data):
    path = GaussianPath("linear")
    p = grid_density(data.mixture.log_density).mass
    torch.testing.assert_close(grid_density(GuidedField(data, path, 0, 0.0).tilted_log_density).mass, p)
    cond = grid_density(data.conditional(0).log_density).mass
    torch.testing.assert_close(grid_density(GuidedField(data, path, 0, 1.0).tilted_log_density).mass, cond)
    assert abs(float(p.sum()) - 1) < 1e-12


def test_grid_sampling_and_histogram_agree():
    target = grid_density(GaussianMixture(torch.tensor([[1.0, -2.0]]), 0.8).log_density, bins=20)
    draws = target.sample(200_000, torch.Generator().manual_seed(3))
    assert total_variation(histogram(draws, bins=20), target.mass) < 0.02
    torch.testing.assert_close(draws.mean(0), torch.tensor([1.0, -2.0], dtype=F64), atol=0.01, rtol=0)


def test_histogram_counts_cells_in_x_then_y_order():
    h = histogram(torch.tensor([[-4.9, 4.9], [4.9, -4.9], [9.0, 0.0]]), bins=2)
    assert h.tolist() == [[0.0, 1 / 3], [1 / 3, 0.0]]


def test_guided_ode_samples_the_tilted_density_only_at_w0_and_w1(data):
    gaps = guidance_gap(data, GaussianPath("linear"), 0, [0.0, 1.0, 4.0], n=8000, nfe=40, bins=30)
    for gap in gaps[:2]:  # exact fields: within twice the sampling noise of exact draws
        assert gap.tv_guided < 2 * gap.tv_exact, gap
    assert gaps[2].tv_guided > 3 * gaps[2].tv_exact, gaps[2]


@pytest.mark.parametrize("labels, message", [([0, 0], "3 non-negative"), ([0, 2, 2], "every class 0..2")])
def test_refusals(labels, message, data):
    with pytest.raises(ValueError, match=message):
        LabelledMixture(data.mixture, torch.tensor(labels))
    with pytest.raises(ValueError, match="y must be a class in 0..1, got 2"):
        GuidedField(data, GaussianPath("linear"), 2, 1.0)
