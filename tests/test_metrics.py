"""Sample metrics: sliced W2 of a translation, energy distance against brute force and a closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fmtutor.distributions import GaussianMixture, StandardGaussian
from fmtutor.metrics import (
    _mean_distance,
    energy_distance,
    max_relative_error,
    noise_floor,
    rms_norm,
    sliced_wasserstein,
)

F64 = torch.float64


def _directions(d: int, p: int, seed: int) -> torch.Tensor:
    w = torch.randn(d, p, generator=torch.Generator().manual_seed(seed))
    return w / w.norm(dim=0, keepdim=True)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_sliced_w2_of_a_translation(d, gen):
    """Sorting commutes with a shift, so SW2^2(x, x + c) = mean_w (w.c)^2 exactly, and E_w (w.c)^2 = |c|^2 / D."""
    x = torch.randn(400, d, generator=gen, dtype=F64)
    c = torch.arange(1, d + 1, dtype=F64)
    sw = sliced_wasserstein(x, x + c, n_projections=1024, generator=torch.Generator().manual_seed(3))
    w = _directions(d, 1024, 3).to(F64)
    assert sw.item() == pytest.approx(((c @ w) ** 2).mean().sqrt().item(), rel=1e-7)
    assert sw.item() == pytest.approx(c.norm().item() / math.sqrt(d), rel=0.05)


def test_sliced_w2_in_one_dimension_is_w2(gen):
    x, y = torch.randn(300, 1, generator=gen, dtype=F64), 2 * torch.rand(300, 1, generator=gen, dtype=F64)
    expected = np.sqrt(np.mean((np.sort(x.numpy()[:, 0]) - np.sort(y.numpy()[:, 0])) ** 2))
    assert sliced_wasserstein(x, y, n_projections=8).item() == pytest.approx(expected, rel=1e-12)


def test_sliced_w2_identity_symmetry_and_unequal_sizes(gen):
    x, y = torch.randn(500, 2, generator=gen), torch.randn(800, 2, generator=gen) + torch.tensor([3.0, 0.0])
    assert sliced_wasserstein(x, x).item() == 0.0
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert sliced_wasserstein(x, y, generator=g()).item() == pytest.approx(
        sliced_wasserstein(y, x, generator=g()).item(), rel=1e-6
    )
    assert sliced_wasserstein(x, y, n_projections=2048, generator=g()).item() == pytest.approx(
        3 / math.sqrt(2), rel=0.1
    )


def _energy_numpy(x: np.ndarray, y: np.ndarray) -> float:
    dist = lambda a, b: np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean()  # noqa: E731
    return 2 * dist(x, y) - dist(x, x) - dist(y, y)


def test_energy_distance_matches_brute_force(gen):
    x, y = torch.randn(37, 3, generator=gen, dtype=F64), torch.rand(53, 3, generator=gen, dtype=F64)
    assert energy_distance(x, y).item() == pytest.approx(_energy_numpy(x.numpy(), y.numpy()), rel=1e-8)
    brute = np.sqrt(((x.numpy()[:, None] - y.numpy()[None]) ** 2).sum(-1)).mean()
    assert _mean_distance(x, y, chunk=5).item() == pytest.approx(brute, rel=1e-12)  # chunks of 5 rows


def test_energy_distance_zero_for_identical_sets_and_positive_otherwise(gen):
    x = torch.randn(200, 2, generator=gen)
    assert energy_distance(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert energy_distance(x, torch.randn(300, 2, generator=gen) * 2).item() > 0.05


def test_energy_distance_of_shifted_gaussians_in_1d(gen):
    """N(0, 1) vs N(mu, 1): 2 E|Z| with Z ~ N(mu, 2), minus 2 * 2 / sqrt(pi). The points are the
    n quantiles of each law (no sampling noise), so only the O(1/n) bias of the estimate is left."""
    mu, n = 1.0, 2000
    x = torch.special.ndtri((torch.arange(n, dtype=F64) + 0.5) / n)[:, None]
    y = x + mu
    s = math.sqrt(2)
    e_abs = s * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * s**2)) + mu * math.erf(mu / (s * math.sqrt(2)))
    expected = 2 * e_abs - 2 * (2 / math.sqrt(math.pi))
    assert energy_distance(x, y).item() == pytest.approx(expected, abs=5e-3)


def test_noise_floor_is_the_average_over_fresh_draws():
    data = GaussianMixture(torch.tensor([[0.0, 0.0], [3.0, 0.0]]), 0.5)
    floor = noise_floor(data, 500, repeats=3, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    manual = sum(sliced_wasserstein(data.sample(500, g), data.sample(500, g), generator=g) for _ in range(3)) / 3
    assert floor.item() == pytest.approx(manual.item(), rel=1e-6)
    bigger = noise_floor(data, 8000, repeats=3, generator=torch.Generator().manual_seed(1))
    assert 2 < floor / bigger < 8  # about sqrt(16) = 4 times smaller (16 times the points)
    e = noise_floor(StandardGaussian(), 300, metric=energy_distance, generator=torch.Generator().manual_seed(0))
    assert 0 < e.item() < 0.05


def test_bad_inputs():
    with pytest.raises(
        ValueError, match=r"^x and y must be \(N, D\) and \(M, D\) with the same D, got \(4, 2\) and \(4, 3\)$"
    ):
        sliced_wasserstein(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"^x and y must be \(N, D\) and \(M, D\) with the same D, got \(4, 2, 2\)"):
        energy_distance(torch.zeros(4, 2, 2), torch.zeros(4, 2, 2))
    with pytest.raises(ValueError, match=r"^y has 1 non-finite value"):
        energy_distance(torch.zeros(4, 2), torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor of shape \(B, \*D\), got ndarray$"):
        sliced_wasserstein(np.zeros((4, 2)), torch.zeros(4, 2))


def test_unequal_sizes_use_linear_quantiles(gen):
    """The smaller size n, quantile levels (i + 1/2) / n, linear interpolation as in torch.quantile."""
    x, y = torch.randn(50, 2, generator=gen, dtype=F64), torch.rand(173, 2, generator=gen, dtype=F64)
    w = _directions(2, 16, 4).to(F64)
    q = (torch.arange(50, dtype=F64) + 0.5) / 50
    px, py = torch.quantile(x @ w, q, dim=0), torch.quantile(y @ w, q, dim=0)
    expected = ((px - py) ** 2).mean().sqrt()
    got = sliced_wasserstein(x, y, n_projections=16, generator=torch.Generator().manual_seed(4))
    assert got.item() == pytest.approx(expected.item(), rel=1e-7)


@pytest.mark.parametrize("shape", [(4, 2), (4, 3, 2, 2)])
def test_rms_norm_and_max_relative_error_of_rows_with_known_lengths(shape):
    # rows of lengths 1, 2, 3, 4 (a scaled unit vector each): RMS = sqrt((1 + 4 + 9 + 16) / 4)
    unit = torch.ones(shape, dtype=F64) / math.sqrt(math.prod(shape[1:]))
    lengths = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64).reshape(-1, *[1] * (len(shape) - 1))
    v = lengths * unit
    assert rms_norm(v).item() == pytest.approx(math.sqrt(7.5), rel=1e-12)
    # a = v with row 1 off by 0.5 (length 2 -> 2.5): the largest error 0.5 over the largest row 4
    a = v.clone()
    a[1] = 2.5 * unit[1]
    assert max_relative_error(a, v).item() == pytest.approx(0.5 / 4, rel=1e-12)
    assert max_relative_error(v, v).item() == 0.0


def test_max_relative_error_refuses_a_zero_reference():
    with pytest.raises(
        ValueError, match=r"^b must have a row that is not zero: the error is relative to the largest row of b$"
    ):
        max_relative_error(torch.ones(3, 2), torch.zeros(3, 2))
