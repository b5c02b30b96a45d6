"""Exact marginal density, velocity and score for a Gaussian-mixture target under a Gaussian path.

With data x1 ~ sum_k w_k N(mu_k, diag(s_k^2)) and x_t = alpha_t x1 + beta_t x0, each component
stays Gaussian: x_t | k ~ N(m_k, diag(v_k)) with m_k = alpha_t mu_k, v_k = alpha_t^2 s_k^2 + beta_t^2.
Then, with responsibilities r_k(x) = w_k N(x; m_k, v_k) / p_t(x),

    p_t(x)     = sum_k w_k N(x; m_k, v_k)
    score_t(x) = sum_k r_k(x) * (-(x - m_k) / v_k)
    u_t(x)     = sum_k r_k(x) * (d_alpha mu_k + (dv_k/dt) / (2 v_k) * (x - m_k)),

where dv_k/dt / 2 = alpha d_alpha s_k^2 + beta d_beta. u_t is E[d_alpha x1 + d_beta x0 | x_t = x],
the field that flow matching learns. These are the ground truth for every learned 2D model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._validate import as_time, check_batch
from .distributions import GaussianMixture
from .paths import GaussianPath

__all__ = ["MarginalField"]


class MarginalField:
    """The exact marginal path of ``mixture`` under ``path``; call it as a velocity field ``(x, t)``."""

    def __init__(self, mixture: GaussianMixture, path: GaussianPath):
        if not isinstance(mixture, GaussianMixture):
            raise TypeError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
        if not isinstance(path, GaussianPath):
            raise TypeError(f"path must be a GaussianPath, got {type(path).__name__}")
        self.mixture, self.path = mixture, path

    def __repr__(self) -> str:
        return f"MarginalField({self.mixture!r}, {self.path!r})"

    @property
    def t_max(self) -> float:
        """The last time the field is defined at: the path's ``t_max``."""
        return self.path.t_max

    def _moments(self, x: Tensor, t: Tensor | float):
        """Per-component mean m, variance v and half-derivative dv/2 ``(B, K, D)``, and log-weights."""
        x = check_batch(x, "x", self.mixture.dim)
        t = as_time(t, x.shape[0], x)
        c = self.path.schedule(t)
        a, b, da, db = (v[:, None, None] for v in (c.alpha, c.beta, c.d_alpha, c.d_beta))
        mu, s2 = self.mixture.means.to(x)[None], (self.mixture.stds.to(x) ** 2)[None]
        var = a**2 * s2 + b**2
        if (var <= 0).any():
            raise ValueError("the marginal variance is 0 at some t (a point-mass component at t = 1?)")
        return x, a * mu, var, a * da * s2 + b * db, da * mu

    def _log_components(self, x: Tensor, m: Tensor, var: Tensor) -> Tensor:
        d = x.shape[-1]
        quad = ((x[:, None, :] - m) ** 2 / var).sum(-1)
        log_n = -0.5 * quad - 0.5 * torch.log(var).sum(-1) - 0.5 * d * math.log(2 * math.pi)
        return log_n + torch.log(self.mixture.weights.to(x))

    def log_density(self, x: Tensor, t: Tensor | float) -> Tensor:
        """log p_t(x): ``(B,)``."""
        x, m, var, _, _ = self._moments(x, t)
        return torch.logsumexp(self._log_components(x, m, var), dim=-1)

    def density(self, x: Tensor, t: Tensor | float) -> Tensor:
        """p_t(x): ``(B,)``."""
        return self.log_density(x, t).exp()

    def _posterior(self, x: Tensor, t: Tensor | float):
        """The moments of ``_moments`` and the responsibilities r ``(B, K)``."""
        x, m, var, half_dvar, drift_mean = self._moments(x, t)
        return x, m, var, half_dvar, drift_mean, torch.softmax(self._log_components(x, m, var), dim=-1)

    def responsibilities(self, x: Tensor, t: Tensor | float) -> Tensor:
        """r_k(x) = P(component k | x_t = x): ``(B, K)``."""
        return self._posterior(x, t)[-1]

    def score(self, x: Tensor, t: Tensor | float) -> Tensor:
        """grad_x log p_t(x): ``(B, D)``."""
        return _score(*self._posterior(x, t))

    def velocity(self, x: Tensor, t: Tensor | float) -> Tensor:
        """The marginal vector field u_t(x) = E[d_alpha x1 + d_beta x0 | x_t = x]: ``(B, D)``."""
        return _velocity(*self._posterior(x, t))

    def velocity_and_score(self, x: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """``(velocity(x, t), score(x, t))`` from one posterior, at about the cost of one of them (the
        drift of an SDE needs both): ``(B, D)`` each, equal to the two calls bit for bit."""
        posterior = self._posterior(x, t)
        return _velocity(*posterior), _score(*posterior)

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        return self.velocity(x, t)


def _velocity(x: Tensor, m: Tensor, var: Tensor, half_dvar: Tensor, drift_mean: Tensor, r: Tensor) -> Tensor:
    """sum_k r_k (d_alpha mu_k + (dv_k/dt) / (2 v_k) (x - m_k)): ``(B, D)``."""
    return (r[..., None] * (drift_mean + half_dvar / var * (x[:, None, :] - m))).sum(1)


def _score(x: Tensor, m: Tensor, var: Tensor, half_dvar: Tensor, drift_mean: Tensor, r: Tensor) -> Tensor:
    """sum_k r_k (-(x - m_k) / v_k): ``(B, D)``."""
    return (r[..., None] * (-(x[:, None, :] - m) / var)).sum(1)
