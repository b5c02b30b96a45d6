"""The Fréchet distance against closed forms, and the classifier's interface."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmtutor.mnist import (
    MNIST,
    Classifier,
    accuracy,
    class_labels,
    evaluate,
    features,
    frechet_distance,
    frechet_gaussians,
    gaussian_stats,
    sample,
    score,
    sqrtm_psd,
)
from fmtutor.mnist.glyphs import GlyphField


def _spd(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10_000))
def test_sqrtm_squares_back(d, seed):
    a = _spd(d, seed)
    root = sqrtm_psd(a)
    torch.testing.assert_close(root @ root, a)
    torch.testing.assert_close(root, root.T)


def test_one_dimensional_closed_form():
    # W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2
    fd = frechet_gaussians(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-2.0]), torch.tensor([[0.25]]))
    assert fd.item() == pytest.approx(9 + (2 - 0.5) ** 2, rel=1e-12)


def test_commuting_covariances_closed_form():
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    l1 = torch.tensor([1.0, 2, 3, 4, 5], dtype=torch.float64)
    l2 = torch.tensor([0.5, 2, 1, 9, 0.1], dtype=torch.float64)
    mu1, mu2 = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    fd = frechet_gaussians(mu1, q @ torch.diag(l1) @ q.T, mu2, q @ torch.diag(l2) @ q.T)
    expected = 5 + ((l1.sqrt() - l2.sqrt()) ** 2).sum()
    assert fd.item() == pytest.approx(expected.item(), rel=1e-10)


@pytest.mark.parametrize("d", [2, 7, 30])
def test_general_covariances_match_the_eigenvalues_of_the_product(d):
    # tr (S1^1/2 S2 S1^1/2)^1/2 equals the sum of square roots of the eigenvalues of S1 S2
    s1, s2 = _spd(d, 1), _spd(d, 2)
    mu = torch.randn(d, dtype=torch.float64)
    cross = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
    expected = mu.pow(2).sum() + s1.trace() + s2.trace() - 2 * cross
    zero = torch.zeros(d, dtype=torch.float64)
    assert frechet_gaussians(mu, s1, zero, s2).item() == pytest.approx(expected.item(), rel=1e-9)
    assert frechet_gaussians(zero, s2, mu, s1).item() == pytest.approx(expected.item(), rel=1e-9)  # symmetric
    assert frechet_gaussians(mu, s1, mu, s1).item() == pytest.approx(0.0, abs=1e-9)


def test_sample_estimate_converges_to_the_closed_form():
    gen = torch.Generator().manual_seed(3)
    s1, s2 = _spd(3, 4), _spd(3, 5)
    mu2 = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    n = 200_000
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(s1).T
    y = mu2 + torch.randn(n, 3, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(s2).T
    exact = frechet_gaussians(torch.zeros(3, dtype=torch.float64), s1, mu2, s2).item()
    assert frechet_distance(x, y).item() == pytest.approx(exact, rel=0.02)
    mean, cov = gaussian_stats(x)
    torch.testing.assert_close(cov, s1, atol=0.02, rtol=0.02)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\) with N >= 2"):
        gaussian_stats(torch.randn(1, 3))
    with pytest.raises(ValueError, match="means .* and covariances .* must agree"):
        frechet_gaussians(torch.zeros(2), torch.eye(2), torch.zeros(3), torch.eye(3))
    with pytest.raises(ValueError, match=r"^a must be a non-empty square matrix \(D, D\), got shape \(2, 3\)$"):
        sqrtm_psd(torch.zeros(2, 3))


def test_classifier_interface_and_accuracy():
    model = Classifier().eval()
    x = torch.randn(5, 1, 28, 28)
    assert model.features(x).shape == (5, Classifier.feature_dim) and model(x).shape == (5, 10)
    predicted = model(x).argmax(1)
    labels = predicted.clone()
    labels[:2] = (labels[:2] + 1) % 10
    assert accuracy(model, x, labels, batch_size=2) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\)"):
        model.features(torch.randn(5, 784))


def test_evaluate_scores_what_sample_draws_with_samples_defaults():
    torch.manual_seed(0)
    judge, field = Classifier((4, 4, 4)).eval(), GlyphField(std=0.1)
    test = MNIST(field.templates.repeat(2, 1, 1, 1), torch.arange(10).repeat(2))
    result = evaluate(field, judge, test, n=20, nfe=2, generator=torch.Generator().manual_seed(5))
    images = sample(field, class_labels(20), nfe=2, generator=torch.Generator().manual_seed(5))
    expected = score(judge, images, class_labels(20), features(judge, test.images)[0])
    assert (result.w, result.nfe, result.solver, result.n) == (3.0, 2, "euler", 20)  # w and solver: sample's defaults
    assert (result.accuracy, result.per_class) == (expected.accuracy, expected.per_class)
    assert result.frechet == pytest.approx(expected.frechet, rel=1e-12)
    message = r"^unknown sampling option\(s\) steps; expected keywords of fmtutor.mnist.sample: w, nfe, solver, "
    with pytest.raises(TypeError, match=message):
        evaluate(field, judge, test, n=20, steps=2)
    with pytest.raises(
        TypeError, match=r"^real must be an MNIST \(real digits for reference_frechet\) or None, got float$"
    ):
        evaluate(field, judge, test, 20, 3.0)  # w passed by position, where real stands
