"""Training losses. Each draws its own t and noise from an optional generator and returns a scalar
(the mean over batch and coordinates of the squared error, computed by the fused ``F.mse_loss``).

    conditional flow matching:  E || v_theta(x_t, t) - (d_alpha x1 + d_beta x0) ||^2
    flow matching (known u_t):  E || v_theta(x_t, t) - u_t(x_t) ||^2
    denoising score matching:   E || s_theta(x_t, t) + x0 / beta_t ||^2        (unstable as beta_t -> 0)
    noise prediction:           E || eps_theta(x_t, t) - x0 ||^2                (= beta_t^2 times DSM)
    DDPM (discrete):            E_n || eps_theta(x_n, 1 - n/T) - eps ||^2, n ~ U{1..T}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validate import check_batch, check_callable, check_real
from .ddpm import DDPM
from .paths import GaussianPath
from .solvers import Field

__all__ = ["cfm_loss", "fm_loss", "dsm_loss", "noise_prediction_loss", "ddpm_loss", "regression_loss"]


def _draw(
    path: GaussianPath,
    x1: Tensor,
    generator: torch.Generator | None,
    t: Tensor | None,
    t_min: float = 0.0,
    t_max: float | None = None,
):
    """A path sample at the given ``t``, or at t ~ U[t_min, t_max] (default t_max: the schedule's).

    ``x1`` is checked by the caller. Times drawn here lie in [0, t_max] by construction, so they skip
    the checks that a time given by the caller goes through (the same draws in the same order).
    """
    _check_parts(path, "path", GaussianPath)
    hi = path.t_max if t_max is None else t_max
    if t is not None or not 0.0 <= t_min <= hi <= path.t_max:
        if t is None:  # an impossible range: let path.sample's checks name the problem
            t = t_min + (hi - t_min) * torch.rand(x1.shape[0], generator=generator, device=x1.device, dtype=x1.dtype)
        return path.sample(x1, t, generator=generator)
    t = torch.rand(x1.shape[0], generator=generator, device=x1.device, dtype=x1.dtype)
    if (t_min, hi) != (0.0, 1.0):  # U[t_min, hi]; U[0, 1] needs no arithmetic
        t = t_min + (hi - t_min) * t
    x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    return path.sample_given(x1, t, x0)


def _check_parts(value: object, name: str, kind: type) -> None:
    if not isinstance(value, kind):
        hint = f"; use {kind.__name__}({value!r})" if isinstance(value, str) and kind is GaussianPath else ""
        raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}{hint}")


def regression_loss(model: Field, x: Tensor, t: Tensor, target: Tensor, cond: dict) -> Tensor:
    """Mean squared error of ``model(x, t, **cond)`` against ``target`` (shaped like ``x``, ``(B, *D)``);
    an output shaped unlike ``x`` is refused (``F.mse_loss`` would broadcast it with only a warning)."""
    if not callable(model):
        raise TypeError(f"model must be a callable model(x, t, **cond), got {type(model).__name__}")
    out = model(x, t, **cond)
    if not isinstance(out, Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the model returned {shape} for x of shape {tuple(x.shape)}; expected the shape of x")
    return F.mse_loss(out, target)


def cfm_loss(
    model: Field,
    x1: Tensor,
    path: GaussianPath,
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    **cond,
) -> Tensor:
    """Conditional flow matching: regress the model on the conditional velocity of ``path``."""
    s = _draw(path, check_batch(x1, "x1"), generator, t)
    return regression_loss(model, s.x_t, s.t, s.velocity, cond)


def fm_loss(
    model: Field,
    field: Field,
    x1: Tensor,
    path: GaussianPath,
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
) -> Tensor:
    """The flow matching loss mean || model(x_t, t) - field(x_t, t) ||^2 against a known marginal
    ``field`` u_t (a ``MarginalField``), with x_t ~ p_t drawn as x_t = alpha_t x1 + beta_t x0 from
    ``x1`` ``(B, D)``. t ~ U[0, t_max] (or the given ``(B,)`` times) and x0 are drawn from
    ``generator`` in the order ``cfm_loss`` draws them, so the same seed gives both losses the same
    (t, x_t): the two differ by a constant that does not depend on the model.
    """
    _check_parts(path, "path", GaussianPath)
    check_callable(field, "field", "field(x, t)")
    s = path.sample(check_batch(x1, "x1"), t, generator=generator)
    return regression_loss(model, s.x_t, s.t, field(s.x_t, s.t), {})


def dsm_loss(
    model: Field,
    x1: Tensor,
    path: GaussianPath,
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    t_max: float = 0.999,
    **cond,
) -> Tensor:
    """Denoising score matching: target grad log p_t(x_t | x1) = -x0 / beta_t; t ~ U[0, t_max]."""
    check_real(t_max, "t_max", 0.0, 1.0, open_low=True)
    s = _draw(path, check_batch(x1, "x1"), generator, t, t_max=t_max)
    beta = path.coefficients(s.t, x1).beta
    if (beta <= 0).any():
        raise ValueError(
            "t must stay below 1 for dsm_loss: its target -x0 / beta_t is infinite where beta_t = 0 "
            "(t = 1 on most paths); use noise_prediction_loss, or times t < 1"
        )
    return regression_loss(model, s.x_t, s.t, -s.x0 / beta, cond)


def noise_prediction_loss(
    model: Field,
    x1: Tensor,
    path: GaussianPath,
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    **cond,
) -> Tensor:
    """Epsilon prediction on a continuous path: the DSM loss multiplied by beta_t^2, so it stays bounded."""
    s = _draw(path, check_batch(x1, "x1"), generator, t)
    return regression_loss(model, s.x_t, s.t, s.x0, cond)


def ddpm_loss(model: Field, x1: Tensor, ddpm: DDPM, generator: torch.Generator | None = None, **cond) -> Tensor:
    """DDPM's simple loss with n ~ U{1..T}; the network sees the book's t = 1 - n / T."""
    _check_parts(ddpm, "ddpm", DDPM)
    x1 = check_batch(x1, "x1")
    n = torch.randint(1, ddpm.T + 1, (x1.shape[0],), generator=generator, device=x1.device)
    eps = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    x_n = ddpm.q_sample(x1, n.cpu(), eps)
    t = ddpm.index_to_time(n.cpu()).to(x1)
    return regression_loss(model, x_n, t, eps, cond)
