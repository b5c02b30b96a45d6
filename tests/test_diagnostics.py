"""gradient_variance against closed forms: the mean of a batch has variance sigma^2 / B."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fmtutor.diagnostics import gradient_variance


class _Centre(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.w = nn.Parameter(torch.full((dim,), 0.5))


@pytest.mark.parametrize("batch, dim, scale", [(10, 1, 1.0), (4, 3, 2.0)])
def test_matches_the_closed_form_for_a_squared_error(batch, dim, scale, gen):
    """loss = mean_b sum_d (w_d - x_bd)^2 with x ~ N(0, scale^2): grad_d = 2 (w_d - mean_b x_bd),
    so the trace of the covariance is 4 dim scale^2 / batch."""
    model = _Centre(dim)

    def loss_fn(m, g):
        x = scale * torch.randn(batch, dim, generator=g)
        return ((m.w - x) ** 2).sum(1).mean()

    value = gradient_variance(loss_fn, model, n_batches=1500, generator=gen)
    expected = 4 * dim * scale**2 / batch
    assert value == pytest.approx(expected, rel=0.1)


def test_a_deterministic_loss_has_zero_variance():
    model = _Centre(2)
    assert gradient_variance(lambda m, g: (m.w**2).sum(), model, n_batches=3) == 0.0


def test_refusals():
    model = _Centre(2)
    with pytest.raises(ValueError, match="n_batches must be an integer >= 2"):
        gradient_variance(lambda m, g: (m.w**2).sum(), model, n_batches=1)
    with pytest.raises(ValueError, match="loss_fn must return a scalar tensor"):
        gradient_variance(lambda m, g: m.w**2, model, n_batches=2)
    frozen = _Centre(2).requires_grad_(False)
    with pytest.raises(ValueError, match="model has no parameters that require gradients"):
        gradient_variance(lambda m, g: (m.w**2).sum(), frozen, n_batches=2)
