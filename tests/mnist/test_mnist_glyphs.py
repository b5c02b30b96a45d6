"""GlyphField: the exact class-conditional velocity of ten blurred font digits (a ground truth for guidance)."""

from __future__ import annotations

import pytest
import torch

from fmtutor.mnist import NULL_LABEL, sample
from fmtutor.mnist.glyphs import GlyphField, glyph_templates


def test_templates_look_like_mnist_pixels():
    m = glyph_templates()
    assert m.shape == (10, 1, 28, 28) and m.dtype == torch.float32
    assert m.min().item() == -1.0 and m.max().item() == 1.0
    lit = (m > 0).flatten(1).sum(1)
    assert lit[1] < lit[8] and lit.min() > 20  # a "1" has fewer bright pixels than an "8"
    assert torch.cdist(m.flatten(1), m.flatten(1)).add(torch.eye(10) * 1e3).min() > 5  # all distinct


@pytest.fixture(scope="module")
def field() -> GlyphField:
    return GlyphField(std=0.1)


def test_labelled_velocity_is_the_single_gaussian_closed_form(field):
    """Linear path (alpha = t, beta = 1 - t): v = m + (t s^2 - (1 - t)) / (t^2 s^2 + (1 - t)^2) (x - t m)."""
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(6, 1, 28, 28, generator=g), torch.tensor([0.0, 0.2, 0.5, 0.8, 0.95, 1.0])
    y = torch.tensor([0, 3, 3, 7, 9, 1])
    m, s2 = field.templates[y], 0.01
    tt = t[:, None, None, None]
    expected = m + (tt * s2 - (1 - tt)) / (tt**2 * s2 + (1 - tt) ** 2) * (x - tt * m)
    torch.testing.assert_close(field(x, t, y), expected, rtol=1e-4, atol=1e-4)


def test_null_label_is_the_mixture(field):
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    null = torch.full((4,), NULL_LABEL)
    # at t = 0 x_t is pure noise: v = E[x1] - x0 with E[x1] the mean of the ten templates
    torch.testing.assert_close(field(x, 0.0, null), field.templates.mean(0) - x, rtol=1e-4, atol=1e-4)
    # late in the path the mixture's velocity is that of the nearest template's Gaussian
    near = 0.9 * field.templates[[2, 5, 5, 8]] + 0.1 * x
    torch.testing.assert_close(
        field(near, 0.9, null), field(near, 0.9, torch.tensor([2, 5, 5, 8])), rtol=1e-4, atol=1e-4
    )
    torch.testing.assert_close(field(x, 0.3, None), field(x, 0.3, null))


def test_conditional_samples_are_the_requested_digits(field):
    labels = torch.arange(10).repeat(3)
    images = sample(field, labels, w=1.0, nfe=20, generator=torch.Generator().manual_seed(0))
    rms = (images - field.templates[labels]).pow(2).flatten(1).mean(1).sqrt()
    assert rms.max() < 0.12  # the blur std is 0.1; clamping to [-1, 1] only shrinks the error
    nearest = torch.cdist(images.flatten(1), field.templates.flatten(1)).argmin(1)
    assert torch.equal(nearest, labels)


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="std must be > 0, got 0.0"):
        GlyphField(std=0.0)
    with pytest.raises(ValueError, match=r"templates must have shape \(10, 1, 28, 28\), got \(9, 1, 28, 28\)"):
        GlyphField(templates=torch.zeros(9, 1, 28, 28))
