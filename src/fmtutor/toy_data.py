"""Two-dimensional toy data sets, each a seedable Sampleable.

``get_dataset(name)`` returns one of: 'eight-gaussians', 'three-clusters' (both Gaussian mixtures,
so their exact marginal fields are known), 'moons', 'checkerboard', 'spirals'.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ._validate import check_choice, check_n_samples, check_positive
from .distributions import GaussianMixture

__all__ = [
    "eight_gaussians",
    "three_clusters",
    "two_moons",
    "checkerboard",
    "spirals",
    "SampleFn",
    "get_dataset",
    "DATASETS",
]


def eight_gaussians(radius: float = 4.0, std: float = 0.3) -> GaussianMixture:
    """Eight equal Gaussians with standard deviation ``std`` spaced evenly on a circle of ``radius``."""
    check_positive(radius, "radius")
    angles = torch.arange(8) * (2 * math.pi / 8)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture(means, std)


def three_clusters(std: float = 0.4) -> GaussianMixture:
    """Three unequal Gaussian clusters (the diffusion-vs-flow comparison's data set)."""
    means = torch.tensor([[-2.5, -1.5], [2.5, -1.5], [0.0, 2.5]])
    return GaussianMixture(means, std, weights=torch.tensor([0.3, 0.3, 0.4]))


class SampleFn:
    """Wrap a function ``(n, generator) -> (n, 2)`` as a Sampleable with a name."""

    dim = 2

    def __init__(self, name: str, fn: Callable[[int, torch.Generator | None], Tensor]):
        self.name, self._fn = name, fn

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self._fn(check_n_samples(n), generator)

    def __repr__(self) -> str:
        return f"SampleFn({self.name!r})"


def _two_moons(n: int, generator: torch.Generator | None, noise: float = 0.1) -> Tensor:
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 2.0
    return pts + noise * torch.randn(n, 2, generator=generator)


def _checkerboard(n: int, generator: torch.Generator | None, size: float = 4.0) -> Tensor:
    """Uniform on the black squares of a 4x4 board spanning [-size, size]^2."""
    cell = 2 * size / 4
    u = torch.rand(n, 2, generator=generator) * 4
    col, row = u.floor()[:, 0], u.floor()[:, 1]
    row = torch.where((col + row) % 2 == 1, row, (row + 1) % 4)  # move to a black square
    return (torch.stack([col, row], 1) + u.frac()) * cell - size


def _spirals(n: int, generator: torch.Generator | None, noise: float = 0.1) -> Tensor:
    """Two interleaved Archimedean spirals, radius up to about 4."""
    r = torch.sqrt(torch.rand(n, generator=generator)) * 3 * math.pi
    arm = (torch.rand(n, generator=generator) < 0.5).to(r.dtype) * math.pi
    pts = torch.stack([r * torch.cos(r + arm), r * torch.sin(r + arm)], 1) / 2.5
    return pts + noise * torch.randn(n, 2, generator=generator)


def two_moons(noise: float = 0.1) -> SampleFn:
    """Two interleaved half circles (scikit-learn's moons, scaled), with Gaussian ``noise``."""
    check_positive(noise, "noise", allow_zero=True)
    return SampleFn("moons", lambda n, g: _two_moons(n, g, noise))


def checkerboard(size: float = 4.0) -> SampleFn:
    """Uniform on the black squares of a 4 x 4 board spanning [-size, size]^2."""
    check_positive(size, "size")
    return SampleFn("checkerboard", lambda n, g: _checkerboard(n, g, size))


def spirals(noise: float = 0.1) -> SampleFn:
    """Two interleaved Archimedean spirals (radius up to about 4) with Gaussian ``noise``."""
    check_positive(noise, "noise", allow_zero=True)
    return SampleFn("spirals", lambda n, g: _spirals(n, g, noise))


DATASETS: dict[str, Callable[[], object]] = {
    "eight-gaussians": eight_gaussians,
    "three-clusters": three_clusters,
    "moons": two_moons,
    "checkerboard": checkerboard,
    "spirals": spirals,
}


def get_dataset(name: str):
    """A 2D data set by name (see ``DATASETS``); mixtures also have exact marginal fields."""
    return DATASETS[check_choice("data set", name, DATASETS)]()
