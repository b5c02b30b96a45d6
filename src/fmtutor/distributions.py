"""Distributions the book samples from and evaluates: a standard Gaussian and Gaussian mixtures.

Vocabulary (after MIT 6.S184): a *Sampleable* draws ``sample(n, generator) -> (n, dim)``;
a *Density* evaluates ``log_density(x) -> (B,)`` and its ``score(x) = grad_x log p(x)``.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from ._validate import check_batch, check_count, check_finite, check_n_samples

__all__ = ["Sampleable", "Density", "StandardGaussian", "GaussianMixture"]


@runtime_checkable
class Sampleable(Protocol):
    """Anything that draws ``(n, dim)`` samples, seeded by an optional ``torch.Generator``."""

    dim: int

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Density(Protocol):
    """A distribution with a log-density ``(B, dim) -> (B,)`` and a score ``(B, dim) -> (B, dim)``."""

    def log_density(self, x: Tensor) -> Tensor: ...

    def score(self, x: Tensor) -> Tensor: ...


def _parameter(value: object, name: str, dtype: torch.dtype | None = None) -> Tensor:
    """A mixture parameter as a finite floating tensor (numbers and nested lists are accepted)."""
    if isinstance(value, bool) or not isinstance(value, (Tensor, int, float, list, tuple)):
        raise TypeError(f"{name} must be a tensor or numbers, got {type(value).__name__}")
    try:
        value = torch.as_tensor(value, dtype=dtype or torch.get_default_dtype())
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be a tensor or numbers, got {value!r}") from e
    return check_finite(value, name)


class StandardGaussian:
    """N(0, I) in ``dim`` dimensions: the source p_0 of every path in the book."""

    def __init__(self, dim: int = 2):
        self.dim = check_count(dim, "dim")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(check_n_samples(n), self.dim, generator=generator)

    def log_density(self, x: Tensor) -> Tensor:
        x = check_batch(x, "x", self.dim)
        return -0.5 * (x**2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)

    def score(self, x: Tensor) -> Tensor:
        return -check_batch(x, "x", self.dim)


class GaussianMixture:
    """sum_k w_k N(mu_k, diag(s_k^2)) with means ``(K, D)``, stds ``(K, D)``, ``(K,)`` or a float.

    The score is analytic: grad log p(x) = sum_k r_k(x) * (-(x - mu_k) / s_k^2), where
    r_k(x) = w_k N(x; mu_k, s_k^2) / p(x) are the posterior responsibilities.
    """

    def __init__(self, means: Tensor, stds: Tensor | float = 1.0, weights: Tensor | None = None):
        means = _parameter(means, "means")
        if means.ndim != 2 or means.numel() == 0:
            raise ValueError(f"means must have shape (K, D) with K, D >= 1, got {tuple(means.shape)}")
        k, d = means.shape
        stds = _parameter(stds, "stds", means.dtype)
        if stds.shape not in ((), (k,), (k, d), (1,), (1, d), (d,)):
            raise ValueError(f"stds must be a float or have shape ({k},) or ({k}, {d}), got {tuple(stds.shape)}")
        stds = stds.reshape(k, 1).expand(k, d) if stds.shape == (k,) else stds.expand(k, d)
        if (stds <= 0).any():
            raise ValueError("stds must be > 0")
        weights = torch.full((k,), 1.0 / k) if weights is None else _parameter(weights, "weights", means.dtype)
        if weights.shape != (k,) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers with a positive sum, got {weights}")
        self.means, self.stds = means, stds.clone()
        self.weights = weights / weights.sum()
        self.dim = d

    def __repr__(self) -> str:
        return f"GaussianMixture(K={len(self.weights)}, dim={self.dim})"

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        k = torch.multinomial(self.weights, check_n_samples(n), replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator)
        return self.means[k] + self.stds[k] * eps

    def component_log_probs(self, x: Tensor) -> Tensor:
        """log(w_k N(x; mu_k, s_k^2)) for every component: ``(B, K)``."""
        x = check_batch(x, "x", self.dim)
        m, s = self.means.to(x), self.stds.to(x)
        z = (x[:, None, :] - m[None]) / s[None]
        log_norm = -0.5 * (z**2).sum(-1) - torch.log(s).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)
        return log_norm + torch.log(self.weights.to(x))

    def log_density(self, x: Tensor) -> Tensor:
        return torch.logsumexp(self.component_log_probs(x), dim=-1)

    def score(self, x: Tensor) -> Tensor:
        r = torch.softmax(self.component_log_probs(x), dim=-1)
        m, s = self.means.to(x), self.stds.to(x)
        return (r[..., None] * (-(x[:, None, :] - m) / s**2)).sum(1)
