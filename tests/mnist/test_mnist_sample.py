"""Guidance, epsilon conversion, solvers at a given NFE, and image grids."""

from __future__ import annotations

import matplotlib.image
import pytest
import torch
from torch import nn

from fmtutor.mnist import (
    NULL_LABEL,
    class_labels,
    clipped_velocity,
    guided_field,
    make_grid,
    sample,
    save_grid,
    velocity_field,
)
from fmtutor.paths import GaussianPath


class LabelShift(nn.Module):
    """A fake network with a constant field per label: model(x, t, y) = c[y] (an image per label)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.randn(11, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
        self.calls = []

    def forward(self, x, t, y):
        self.calls.append(len(x))
        return self.c[y] + 0 * x


@pytest.mark.parametrize("w", [0.0, 1.0, 2.5])
def test_guided_field_is_the_cfg_formula(w):
    model = LabelShift()
    x, t, y = torch.randn(4, 1, 28, 28), torch.rand(4), torch.tensor([0, 3, 3, 9])
    with torch.no_grad():
        expected = model.c[NULL_LABEL] + w * (model.c[y] - model.c[NULL_LABEL])
        torch.testing.assert_close(guided_field(model, w)(x, t, y=y), expected)
    assert model.calls == ([4] if w in (0.0, 1.0) else [8])  # one batched call of 2B for the mix


def test_guiding_epsilon_then_converting_equals_converting_then_guiding():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 784), nn.Unflatten(1, (1, 28, 28)))
    embed = nn.Embedding(11, 784)

    def model(x, t, y):  # a nonlinear, label- and time-dependent epsilon network
        return torch.tanh(net(x) * (1 + t[:, None, None, None]) + embed(y).reshape(-1, 1, 28, 28))

    path = GaussianPath("cosine")
    x, t, y, w = torch.randn(3, 1, 28, 28), torch.tensor([0.2, 0.5, 0.9]), torch.tensor([1, 4, 7]), 3.0
    with torch.no_grad():

        def v(label):
            return path.convert(model(x, t, label), x, t, "epsilon", "velocity")

        expected = v(torch.full_like(y, NULL_LABEL)) + w * (v(y) - v(torch.full_like(y, NULL_LABEL)))
        torch.testing.assert_close(velocity_field(model, w, "epsilon", path)(x, t, y=y), expected)


@pytest.mark.parametrize("source", ["velocity", "epsilon"])
def test_clipping_changes_only_what_leaves_the_pixel_range(source):
    path = GaussianPath("cosine")
    gen = torch.Generator().manual_seed(2)
    t = torch.tensor([0.3, 0.6, 0.9])
    x1 = torch.rand(3, 1, 28, 28, generator=gen) * 1.8 - 0.9  # inside [-1, 1]
    eps = torch.randn(3, 1, 28, 28, generator=gen)
    c = path.coefficients(t, x1)
    x = c.alpha * x1 + c.beta * eps
    exact = c.d_alpha * x1 + c.d_beta * eps
    truth = exact if source == "velocity" else eps

    def field(x_, t_):
        return truth

    torch.testing.assert_close(clipped_velocity(field, path, source)(x, t), exact)  # nothing to clip
    x1_out = x1 * 3  # now mostly outside [-1, 1]
    x_out = c.alpha * x1_out + c.beta * eps
    truth = c.d_alpha * x1_out + c.d_beta * eps if source == "velocity" else eps
    x1c = x1_out.clamp(-1, 1)
    expected = c.d_alpha * x1c + c.d_beta * (x_out - c.alpha * x1c) / c.beta
    torch.testing.assert_close(clipped_velocity(field, path, source)(x_out, t), expected)


def test_clipped_velocity_is_finite_at_t_one():
    path = GaussianPath("linear")
    x, v = torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    out = clipped_velocity(lambda x_, t_: v, path, "velocity")(x, torch.ones(2))
    # at t = 1: x1_hat = x + (1 - t) v = x, clipped; the noise is the predicted one, x1_hat - v
    torch.testing.assert_close(out, x.clamp(-1, 1) - (x - v))


@pytest.mark.parametrize("solver,nfe,steps", [("euler", 7, 7), ("heun", 8, 4), ("rk4", 8, 2)])
def test_sample_integrates_a_constant_field_exactly(solver, nfe, steps):
    model, w = LabelShift(), 2.0
    labels = torch.tensor([0, 1, 2, 3])
    gen = torch.Generator().manual_seed(5)
    out = sample(model, labels, w=w, nfe=nfe, solver=solver, generator=gen)
    x0 = torch.randn((4, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        v = model.c[NULL_LABEL] + w * (model.c[labels] - model.c[NULL_LABEL])
    torch.testing.assert_close(out, (x0 + v).clamp(-1, 1))  # X_1 = X_0 + v over unit time
    assert len(model.calls) == nfe


def test_epsilon_sampling_starts_after_zero():
    model = LabelShift()
    labels = class_labels(3)
    out = sample(model, labels, w=1.0, nfe=4, prediction="epsilon", generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="alpha_t is 0 at some of the given times"):
        sample(model, labels, w=1.0, nfe=4, prediction="epsilon", t_start=0.0)


def test_sample_argument_checks():
    model = LabelShift()
    with pytest.raises(ValueError, match="nfe must be a positive multiple of 2 for solver 'heun', got 5"):
        sample(model, class_labels(2), nfe=5, solver="heun")
    with pytest.raises(ValueError, match="unknown solver 'adams'"):
        sample(model, class_labels(2), solver="adams")
    with pytest.raises(ValueError, match="unknown prediction 'score'"):
        sample(model, class_labels(2), prediction="score")
    with pytest.raises(ValueError, match=r"labels must be a long tensor of shape \(N,\)"):
        sample(model, 3)


def test_grid_layout_and_png(tmp_path):
    images = torch.linspace(-1, 1, 12).reshape(12, 1, 1, 1).expand(12, 1, 28, 28)
    grid = make_grid(images, nrow=5, pad=2)
    assert grid.shape == (3 * 30 + 2, 5 * 30 + 2)
    assert grid[2, 2] == 0.0 and grid[2 + 30, 2 + 30 * 1] == pytest.approx(6 / 11)  # image 6 at row 1, col 1
    png = matplotlib.image.imread(save_grid(images, tmp_path / "g.png", nrow=5))
    assert png.shape[:2] == grid.shape
