"""Toy 2D data sets: shapes, seeding, and the geometry each one promises."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor.distributions import GaussianMixture, Sampleable
from fmtutor.toy_data import DATASETS, eight_gaussians, get_dataset, three_clusters

N = 20_000


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_is_a_seeded_2d_sampleable(name):
    data = get_dataset(name)
    assert isinstance(data, Sampleable) and data.dim == 2
    a = data.sample(500, torch.Generator().manual_seed(1))
    b = data.sample(500, torch.Generator().manual_seed(1))
    c = data.sample(500, torch.Generator().manual_seed(2))
    assert a.shape == (500, 2) and a.dtype == torch.get_default_dtype() and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() < 6  # every set lives in the book's plotting window [-6, 6]^2


def test_eight_gaussians_geometry(gen):
    data = eight_gaussians()
    assert isinstance(data, GaussianMixture)
    angles = torch.arange(8) * math.pi / 4
    torch.testing.assert_close(data.means, 4 * torch.stack([angles.cos(), angles.sin()], 1))
    assert data.stds.eq(0.3).all()
    x = data.sample(N, gen)
    nearest = torch.cdist(x, data.means).argmin(1)
    torch.testing.assert_close(torch.bincount(nearest).float() / N, torch.full((8,), 1 / 8), rtol=0, atol=0.01)
    residual = x - data.means[nearest]
    torch.testing.assert_close(residual.std(0), torch.full((2,), 0.3), rtol=0.03, atol=0)


def test_three_clusters_weights(gen):
    data = three_clusters()
    x = data.sample(N, gen)
    nearest = torch.cdist(x, data.means).argmin(1)
    freq = torch.bincount(nearest).float() / N
    torch.testing.assert_close(freq, torch.tensor([0.3, 0.3, 0.4]), rtol=0, atol=0.015)


def test_checkerboard_is_uniform_on_black_squares(gen):
    x = get_dataset("checkerboard").sample(N, gen)
    assert x.min() >= -4 and x.max() <= 4
    cell = ((x + 4) / 2).floor().long().clamp(max=3)
    col, row = cell[:, 0], cell[:, 1]
    assert ((col + row) % 2 == 1).all()
    counts = torch.bincount(col * 4 + row, minlength=16).float() / N
    black = counts[((torch.arange(16) // 4 + torch.arange(16) % 4) % 2) == 1]
    torch.testing.assert_close(black, torch.full((8,), 1 / 8), rtol=0, atol=0.01)


def test_moons_two_arcs(gen):
    x = get_dataset("moons").sample(N, gen)
    assert x.mean(0).abs().max() < 0.05  # centred by construction
    # Undo the centring and scaling: each point is within noise of a unit half-circle.
    p = x / 2 + torch.tensor([0.5, 0.25])
    upper = (p[:, 0] ** 2 + p[:, 1] ** 2).sqrt()
    lower = ((p[:, 0] - 1) ** 2 + (p[:, 1] - 0.5) ** 2).sqrt()
    dist = torch.minimum((upper - 1).abs(), (lower - 1).abs())
    assert dist.median() < 0.05  # noise 0.1 before the factor 2 scaling -> 0.05 in these units


def test_spirals_radius(gen):
    r = get_dataset("spirals").sample(N, gen).norm(dim=1)
    assert r.max() < 3 * math.pi / 2.5 + 0.5
    # radius r = sqrt(U) 3 pi / 2.5: r^2 is uniform, so its median is half the largest.
    assert (r**2).median().item() == pytest.approx(0.5 * (3 * math.pi / 2.5) ** 2, rel=0.05)


def test_unknown_name_and_bad_n():
    with pytest.raises(
        ValueError,
        match=r"^unknown data set 'swiss-roll'; expected one of 'eight-gaussians', "
        r"'three-clusters', 'moons', 'checkerboard', 'spirals'$",
    ):
        get_dataset("swiss-roll")
    with pytest.raises(ValueError, match=r"^n must be a positive integer number of samples, got -3$"):
        get_dataset("moons").sample(-3)
    assert repr(get_dataset("spirals")) == "SampleFn('spirals')"
