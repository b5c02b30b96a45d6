"""The linear path with extra noise, and the regression target that is correct for it.

    x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) eps,      x0, eps ~ N(0, I) independent.

*Gaussian form.* The two noise terms add to one Gaussian, so x_t = alpha_t x1 + beta_t z with
alpha_t = t, beta_t = sqrt((1 - t)^2 + sigma^2 t (1 - t)) (``NoisyLinearSchedule``) and the
standardised total noise z = ((1 - t) x0 + sigma sqrt(t (1 - t)) eps) / beta_t ~ N(0, I). Its target is

    gaussian target  = d_alpha x1 + d_beta z.

*Pathwise form.* Conditioning on (x0, x1, eps), the target is the time derivative of x_t:

    pathwise target  = x1 - x0 + sigma (1 - 2t) / (2 sqrt(t (1 - t))) eps.

The two differ by a term independent of (x1, z), hence of x_t: same conditional expectation, same
marginal field u_t. The *naive* target x1 - x0 forgets the noise term; its regression minimiser is

    E[x1 - x0 | x_t = x] = u_t(x) + sigma^2 (1 - 2t) / 2 * grad log p_t(x),

whose flow does not carry N(0, I) to the data (``naive_minimizer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import as_time, broadcast_time, check_batch, check_callable, check_choice, check_like, check_positive
from .losses import regression_loss
from .paths import GaussianPath
from .schedules import NoisyLinearSchedule
from .solvers import Field

__all__ = ["NoisySample", "NoisyLinearPath", "REGRESSION_TARGETS", "noisy_cfm_loss", "naive_minimizer"]

REGRESSION_TARGETS = ("gaussian", "pathwise", "naive")


@dataclass(frozen=True)
class NoisySample:
    """One draw of the noisy linear path, all ``(B, *D)`` except ``t`` ``(B,)``.

    ``z`` is the standardised total noise, so that x_t = t x1 + beta_t z. The three targets:
    ``gaussian`` = d_alpha x1 + d_beta z, ``pathwise`` = d/dt x_t at fixed (x0, x1, eps),
    ``naive`` = x1 - x0 (wrong for sigma > 0).
    """

    t: Tensor
    x0: Tensor
    x1: Tensor
    eps: Tensor
    x_t: Tensor
    z: Tensor
    gaussian: Tensor
    pathwise: Tensor
    naive: Tensor


class NoisyLinearPath:
    """x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) eps, with its Gaussian form ``gaussian_path``."""

    def __init__(self, sigma: float = 1.0):
        self.sigma = float(check_positive(sigma, "sigma", allow_zero=True))
        self.gaussian_path = GaussianPath(NoisyLinearSchedule(self.sigma))

    def __repr__(self) -> str:
        return f"NoisyLinearPath(sigma={self.sigma})"

    @property
    def t_max(self) -> float:
        """Latest usable time: d_beta (and the pathwise target) is infinite at t = 1 when sigma > 0."""
        return self.gaussian_path.t_max

    def sample(
        self,
        x1: Tensor,
        t: Tensor | float | None = None,
        x0: Tensor | None = None,
        eps: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> NoisySample:
        """Draw x_t and its targets. ``t`` defaults to U[0, t_max]; ``x0``, ``eps`` to fresh N(0, I).

        Draw order from ``generator``: t, then x0, then eps. The pathwise target is infinite at
        t = 0 (and t = 1) when sigma > 0; use times strictly inside (0, 1) to read it.
        """
        x1 = check_batch(x1, "x1")
        if t is None:
            t = self.t_max * torch.rand(x1.shape[0], generator=generator, device=x1.device, dtype=x1.dtype)
        t = as_time(t, x1.shape[0], x1, high=self.t_max)
        x0, eps = (_noise_like(x1, n, name, generator) for n, name in ((x0, "x0"), (eps, "eps")))
        c = self.gaussian_path.coefficients(t, x1)
        tb = broadcast_time(t, x1)
        spread = torch.sqrt(tb * (1 - tb))
        x_t = (1 - tb) * x0 + tb * x1 + self.sigma * spread * eps
        z = (x_t - c.alpha * x1) / c.beta
        pathwise = x1 - x0
        if self.sigma > 0:  # infinite at t = 0 and t = 1, where sqrt(t (1 - t)) = 0
            pathwise = pathwise + self.sigma * (1 - 2 * tb) / (2 * spread) * eps
        return NoisySample(
            t=t,
            x0=x0,
            x1=x1,
            eps=eps,
            x_t=x_t,
            z=z,
            gaussian=c.d_alpha * x1 + c.d_beta * z,
            pathwise=pathwise,
            naive=x1 - x0,
        )


def _noise_like(x1: Tensor, given: Tensor | None, name: str, generator: torch.Generator | None) -> Tensor:
    if given is None:
        return torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    return check_like(given, x1, name, "x1")


def noisy_cfm_loss(
    model: Field,
    x1: Tensor,
    path: NoisyLinearPath,
    target: str = "gaussian",
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    **cond,
) -> Tensor:
    """Mean of || v_theta(x_t, t) - target ||^2 on the noisy path, target one of ``REGRESSION_TARGETS``.

    'gaussian' equals ``cfm_loss`` on ``path.gaussian_path`` for the same draws of t and noise.
    'pathwise' has the same minimiser but an infinite-variance target as t -> 0.
    'naive' (x1 - x0) is the mistake: it trains the wrong field (see ``naive_minimizer``).
    """
    check_choice("target", target, REGRESSION_TARGETS)
    if not isinstance(path, NoisyLinearPath):
        raise TypeError(f"path must be a NoisyLinearPath, got {type(path).__name__}")
    s = path.sample(check_batch(x1, "x1"), t, generator=generator)
    return regression_loss(model, s.x_t, s.t, getattr(s, target), cond)


def naive_minimizer(velocity: Field, score: Field, sigma: float) -> Field:
    """The field that the naive target x1 - x0 trains on the noisy path:

        v_naive(x, t) = u_t(x) + sigma^2 (1 - 2t) / 2 * score_t(x),

    from the marginal ``velocity`` u_t and ``score`` grad log p_t of the same path (e.g. a
    ``MarginalField``'s ``velocity`` and ``score``). It equals u_t only when sigma = 0.
    """
    check_positive(sigma, "sigma", allow_zero=True)
    check_callable(velocity, "velocity", "velocity(x, t)")
    check_callable(score, "score", "score(x, t)")

    def field(x: Tensor, t: Tensor, **cond) -> Tensor:
        t = as_time(t, x.shape[0], x)
        return velocity(x, t, **cond) + 0.5 * sigma**2 * broadcast_time(1 - 2 * t, x) * score(x, t, **cond)

    field.__name__ = "naive_minimizer"
    return field
