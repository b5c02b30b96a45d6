"""Generating samples: ODE sampling from a velocity, SDE sampling from a velocity and a score,
and converting a network's prediction (epsilon, x1, score) into the field a solver needs.

For any diffusion coefficient sigma_t >= 0, the SDE

    dX_t = [u_t(X_t) + sigma_t^2 / 2 * score_t(X_t)] dt + sigma_t dW_t,   X_0 ~ N(0, I)

has the same marginals p_t as the ODE dX_t = u_t(X_t) dt (Fokker-Planck), so at t = 1 both give
the data distribution. sigma_t = 0 is the probability-flow ODE.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._validate import check_batch, check_callable, check_choice, check_positive
from .paths import PREDICTIONS, GaussianPath
from .solvers import Field, Solution, euler_maruyama, solve_ode, time_grid

__all__ = ["converted_field", "sde_drift", "joint_sde_drift", "sample_ode", "sample_sde", "probability_flow"]


def converted_field(model: Field, path: GaussianPath, source: str, target: str = "velocity") -> Field:
    """Wrap ``model`` (predicting ``source``) as a field that returns ``target`` via ``path.convert``.

    The names are checked here; the values are not checked at each call (a solver checks its inputs
    once, and a non-finite result surfaces as its ``DivergenceError``).
    """

    check_callable(model, "model", f"model(x, t) predicting {source!r}")
    if not isinstance(path, GaussianPath):
        raise TypeError(f"path must be a GaussianPath, got {type(path).__name__}")
    check_choice("source", source, PREDICTIONS)
    check_choice("target", target, PREDICTIONS)

    def field(x: Tensor, t: Tensor, **cond) -> Tensor:
        return path.convert(model(x, t, **cond), x, t, source=source, target=target, validate=False)

    field.__name__ = f"{source}_to_{target}"
    return field


def probability_flow(score: Field, path: GaussianPath) -> Field:
    """The probability-flow ODE's velocity from a score model: u = d_alpha x1_hat + d_beta eps_hat,
    with eps_hat = -beta_t * score. Undefined where alpha_t = 0; start such grids at t > 0."""
    return converted_field(score, path, source="score", target="velocity")


def sde_drift(velocity: Field, score: Field, sigma: Callable[[Tensor], Tensor] | float) -> Field:
    """The drift u_t(x) + sigma_t^2 / 2 * score_t(x) of the SDE that keeps the marginals p_t."""

    check_callable(velocity, "velocity", "velocity(x, t)")
    check_callable(score, "score", "score(x, t)")

    def velocity_and_score(x: Tensor, t: Tensor, **cond) -> tuple[Tensor, Tensor]:
        return velocity(x, t, **cond), score(x, t, **cond)

    return joint_sde_drift(velocity_and_score, sigma)


def joint_sde_drift(
    velocity_and_score: Callable[..., tuple[Tensor, Tensor]], sigma: Callable[[Tensor], Tensor] | float
) -> Field:
    """``sde_drift`` from one callable ``(x, t, **cond) -> (u_t(x), score_t(x))`` that computes both
    together, such as ``MarginalField.velocity_and_score`` (one posterior for the two)."""

    check_callable(velocity_and_score, "velocity_and_score", "velocity_and_score(x, t) -> (velocity, score)")
    if not callable(sigma):
        check_positive(sigma, "sigma", allow_zero=True)

    def drift(x: Tensor, t: Tensor, **cond) -> Tensor:
        g = sigma(t) if callable(sigma) else torch.full_like(t, float(sigma))
        g2 = (g**2).reshape(-1, *([1] * (x.ndim - 1)))
        both = velocity_and_score(x, t, **cond)
        if not isinstance(both, tuple) or len(both) != 2:
            raise ValueError(f"velocity_and_score must return a pair (velocity, score), got {type(both).__name__}")
        for out, name in zip(both, ("velocity", "score")):
            if not isinstance(out, Tensor) or out.shape != x.shape:
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"the {name} field returned {shape} for x of shape {tuple(x.shape)}")
        return both[0] + 0.5 * g2 * both[1]

    return drift


def sample_ode(
    velocity: Field,
    x0: Tensor,
    n_steps: int = 100,
    method: str = "euler",
    t_start: float = 0.0,
    t_end: float = 1.0,
    keep_path: bool = False,
    progress: bool = False,
    **cond,
) -> Solution:
    """Transport noise ``x0`` to data along dX/dt = velocity(X, t) on an even grid of ``n_steps``."""
    x0 = check_batch(x0, "x0")
    times = time_grid(n_steps, t_start, t_end, device=x0.device, dtype=x0.dtype)
    return solve_ode(velocity, x0, times, method=method, keep_path=keep_path, progress=progress, **cond)


def sample_sde(
    velocity: Field,
    score: Field,
    sigma: Callable[[Tensor], Tensor] | float,
    x0: Tensor,
    n_steps: int = 100,
    generator: torch.Generator | None = None,
    t_start: float = 0.0,
    t_end: float = 1.0,
    keep_path: bool = False,
    progress: bool = False,
    **cond,
) -> Solution:
    """Euler-Maruyama on dX = [u + sigma^2/2 score] dt + sigma dW from noise ``x0`` at ``t_start``.

    ``sigma`` is the diffusion coefficient: a float or a callable from ``(B,)`` times to ``(B,)``.
    The last step adds noise of size sigma sqrt(h); a final deterministic step is left to the caller.
    """
    x0 = check_batch(x0, "x0")
    times = time_grid(n_steps, t_start, t_end, device=x0.device, dtype=x0.dtype)
    return euler_maruyama(
        sde_drift(velocity, score, sigma),
        sigma,
        x0,
        times,
        generator=generator,
        keep_path=keep_path,
        progress=progress,
        **cond,
    )
