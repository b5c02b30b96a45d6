"""Exact log-likelihoods of a flow: the instantaneous change of variables and its divergence.

If u_t generates the path p_t (continuity equation d_t p_t + div(p_t u_t) = 0), then along every
solution of dX_t/dt = u_t(X_t)

    d/dt log p_t(X_t) = -div u_t(X_t)                      (Chen et al. 2018)

so log p_1(x) = log p_0(X_0) - int_0^1 div u_t(X_t) dt, with X_t the solution through X_1 = x.
``log_likelihood`` integrates the pair (X_t, l_t), dX/dt = u_t(X), dl/dt = div u_t(X), from the data
time back to the noise time with ``solve_ode`` (l starts at 0 and ends at delta = -int div dt).

The divergence tr(du/dx) is computed exactly by autograd (one backward pass per dimension D), or
estimated by Hutchinson's trace estimator with probes eps, E[eps eps^T] = I:

    div u = E[eps^T (du/dx) eps],   one vector-Jacobian product per probe   (Hutchinson 1989)

For images, ``dequantize`` spreads each pixel level over its bin and ``bits_per_dim`` turns a
density of the dequantized image into the bits per dimension of the discrete one.
Shapes: ``x`` ``(B, *D)``, ``t`` ``(B,)`` or a scalar, probes ``(P, B, *D)``, results ``(B,)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import (
    as_time,
    check_batch,
    check_callable,
    check_choice,
    check_count,
    check_finite,
    check_positive,
    check_real,
    check_same_kind,
)
from .distributions import StandardGaussian
from .solvers import Field, solve_ode

__all__ = [
    "PROBES",
    "ESTIMATORS",
    "jacobian",
    "divergence",
    "hutchinson_divergence",
    "draw_probes",
    "hutchinson_variance",
    "LogLikelihood",
    "log_likelihood",
    "dequantize",
    "bits_per_dim",
]

PROBES = ("rademacher", "gaussian")
ESTIMATORS = ("exact",) + PROBES


def _value_and_grad_fn(
    field: Field, x: Tensor, t: Tensor, cond: dict, finite: bool = False
) -> tuple[Tensor, Tensor, Callable]:
    """Evaluate ``field`` at a copy of ``x`` that tracks gradients; return (x', v, vjp(w) = w^T dv/dx).

    With ``finite`` a non-finite output is refused here (inside ``solve_ode`` the solver does it once)."""
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        v = field(xg, t, **cond)
    if not isinstance(v, Tensor) or v.shape != x.shape:
        shape = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
        raise ValueError(f"the field returned shape {shape} for x of shape {tuple(x.shape)}")
    if finite:
        check_finite(v.detach(), "the field's output u_t(x)")

    def vjp(w: Tensor, retain: bool) -> Tensor:
        if not v.requires_grad:  # a field that does not depend on x has a zero Jacobian
            return torch.zeros_like(x)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(v, xg, w, retain_graph=retain, allow_unused=True)
        return torch.zeros_like(x) if g is None else g

    return xg, v, vjp


def _exact(field: Field, x: Tensor, t: Tensor, cond: dict, finite: bool = False) -> tuple[Tensor, Tensor]:
    """(u_t(x), div u_t(x)) with the trace summed from D backward passes (row i of the Jacobian each)."""
    _, v, vjp = _value_and_grad_fn(field, x, t, cond, finite)
    n = v[0].numel()
    div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(n):
        e = torch.zeros(x.shape[0], n, dtype=x.dtype, device=x.device)
        e[:, i] = 1.0
        div = div + vjp(e.reshape(x.shape), retain=i < n - 1).reshape(x.shape[0], -1)[:, i]
    return v.detach(), div


def _hutchinson(
    field: Field, x: Tensor, t: Tensor, probes: Tensor, cond: dict, finite: bool = False
) -> tuple[Tensor, Tensor]:
    """(u_t(x), mean over probes of eps^T (du/dx) eps), one vector-Jacobian product per probe."""
    _, v, vjp = _value_and_grad_fn(field, x, t, cond, finite)
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for k, eps in enumerate(probes):
        total = total + (vjp(eps, retain=k < len(probes) - 1) * eps).reshape(x.shape[0], -1).sum(1)
    return v.detach(), total / len(probes)


def _check_probes(probes: Tensor, x: Tensor) -> Tensor:
    """Probes ``(P, *x.shape)``, P >= 1, finite, in ``x``'s dtype and device (never converted)."""
    if not isinstance(probes, Tensor) or probes.ndim != x.ndim + 1 or probes.shape[1:] != x.shape or len(probes) < 1:
        shape = tuple(probes.shape) if isinstance(probes, Tensor) else type(probes).__name__
        raise ValueError(f"probes must have shape (P, {', '.join(map(str, x.shape))}) with P >= 1, got {shape}")
    return check_finite(check_same_kind(probes, x, "probes", "x"), "probes")


def _start(field: Field, x: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
    """The checked ``x`` and ``t`` of a call at one time (``field`` must be callable)."""
    check_callable(field, "field", "field(x, t, **cond)")
    x = check_batch(x, "x")
    return x, as_time(t, x.shape[0], x)


def jacobian(field: Field, x: Tensor, t: Tensor | float, **cond) -> Tensor:
    """The Jacobian du_t/dx at each point of a flat batch ``x`` ``(B, D)``: ``(B, D, D)``, row i = grad u_i."""
    x, t = _start(field, x, t)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, D) for a Jacobian, got {tuple(x.shape)}")
    _, _, vjp = _value_and_grad_fn(field, x, t, cond, finite=True)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return torch.stack([vjp(eye[i].expand_as(x), retain=i < x.shape[1] - 1) for i in range(x.shape[1])], dim=1)


def divergence(field: Field, x: Tensor, t: Tensor | float, **cond) -> Tensor:
    """div u_t(x) = sum_i d u_i / d x_i exactly, by autograd: ``(B,)``. Costs D backward passes."""
    x, t = _start(field, x, t)
    return _exact(field, x, t, cond, finite=True)[1]


def hutchinson_divergence(field: Field, x: Tensor, t: Tensor | float, probes: Tensor, **cond) -> Tensor:
    """Hutchinson's estimate (1/P) sum_p eps_p^T (du/dx) eps_p of div u_t(x) for the probes
    ``(P, B, *D)`` (see ``draw_probes``): ``(B,)``, unbiased when E[eps eps^T] = I. Costs P backward passes."""
    x, t = _start(field, x, t)
    return _hutchinson(field, x, t, _check_probes(probes, x), cond, finite=True)[1]


def draw_probes(x: Tensor, n: int = 1, kind: str = "rademacher", generator: torch.Generator | None = None) -> Tensor:
    """``n`` probes per sample shaped like ``x``: ``(n, B, *D)``, with E[eps eps^T] = I.

    'rademacher': independent signs +-1; 'gaussian': independent N(0, 1) entries.
    """
    x = check_batch(x, "x")
    check_choice("probe kind", kind, PROBES)
    n = check_count(n, "n", "a positive integer number of probes")
    shape = (n, *x.shape)
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)
    signs = torch.randint(0, 2, shape, generator=generator, device=x.device)
    return (2 * signs - 1).to(x.dtype)


def hutchinson_variance(jacobian: Tensor, kind: str = "rademacher") -> Tensor:
    """The variance of one probe's estimate eps^T A eps for Jacobians A ``(B, D, D)``: ``(B,)``.

    With S = (A + A^T) / 2: Gaussian probes 2 ||S||_F^2; Rademacher probes 2 (||S||_F^2 - sum_i S_ii^2),
    which drops the diagonal (a diagonal Jacobian is estimated exactly by signs).
    """
    check_choice("probe kind", kind, PROBES)
    jacobian = check_batch(jacobian, "jacobian")
    if jacobian.ndim != 3 or jacobian.shape[1] != jacobian.shape[2]:
        raise ValueError(f"jacobian must have shape (B, D, D), got {tuple(jacobian.shape)}")
    s = 0.5 * (jacobian + jacobian.transpose(1, 2))
    frob = s.pow(2).sum((1, 2))
    return 2 * frob if kind == "gaussian" else 2 * (frob - torch.diagonal(s, dim1=1, dim2=2).pow(2).sum(1))


@dataclass(frozen=True)
class LogLikelihood:
    """log p_1(x) = log p_0(noise) + delta, where ``noise`` is x carried back to the noise time and
    delta = -int div u_t(X_t) dt is the log-volume change. ``nfe`` counts field evaluations;
    ``estimator`` is 'exact' or the probe kind, with ``n_probes`` probes per sample (0 for exact)."""

    log_p: Tensor
    log_p0: Tensor
    delta: Tensor
    noise: Tensor
    nfe: int
    estimator: str
    n_probes: int


def _check_backward(times: Tensor) -> Tensor:
    if not isinstance(times, Tensor) or times.ndim != 1 or times.numel() < 2 or not bool((times.diff() < 0).all()):
        raise ValueError(
            "times must be a strictly decreasing 1-D grid from the data time to the noise time "
            "(e.g. time_grid(n, 1.0, 0.0)): the likelihood integrates from data back to noise"
        )
    return check_finite(times, "times")


def _log_prior(prior: Callable[[Tensor], Tensor] | None, noise: Tensor) -> Tensor:
    """log p_0 of the noise ``(B, *D)``: N(0, I), or ``prior``'s output, checked to be finite ``(B,)``."""
    b = noise.shape[0]
    if prior is None:
        return StandardGaussian(noise[0].numel()).log_density(noise.reshape(b, -1))
    log_p0 = prior(noise)
    if not isinstance(log_p0, Tensor) or log_p0.shape != (b,):
        shape = tuple(log_p0.shape) if isinstance(log_p0, Tensor) else type(log_p0).__name__
        raise ValueError(f"prior must map the noise {tuple(noise.shape)} to log p_0 of shape ({b},), got {shape}")
    return check_finite(log_p0, "prior(noise), the log-density of the noise,")


def log_likelihood(
    field: Field,
    x: Tensor,
    times: Tensor,
    method: str = "rk4",
    estimator: str = "exact",
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    prior: Callable[[Tensor], Tensor] | None = None,
    **cond,
) -> LogLikelihood:
    """log p(x) under the flow of ``field`` by integrating from ``times[0]`` (data) to ``times[-1]`` (noise).

    ``estimator`` 'exact' uses ``divergence``; 'rademacher' or 'gaussian' draws ``n_probes`` probes per
    sample once from ``generator`` and keeps them along the path (Hutchinson). ``prior`` maps the noise
    ``(B, *D)`` to log p_0 ``(B,)`` (default N(0, I)). ``method`` is any ``solve_ode`` method.
    """
    check_callable(field, "field", "field(x, t, **cond)")
    x, times = check_batch(x, "x"), _check_backward(times)
    check_choice("estimator", estimator, ESTIMATORS)
    check_count(n_probes, "n_probes", "a positive integer number of probes per sample")
    if prior is not None:
        check_callable(prior, "prior", "prior(noise) -> log p_0 of shape (B,)")
    probes = None if estimator == "exact" else draw_probes(x, n_probes, estimator, generator)
    shape, b = x.shape, x.shape[0]

    def augmented(z: Tensor, t: Tensor, **kw) -> Tensor:
        state = z[:, :-1].reshape(shape)
        v, div = _exact(field, state, t, kw) if probes is None else _hutchinson(field, state, t, probes, kw)
        return torch.cat([v.reshape(b, -1), div[:, None]], dim=1)

    start = torch.cat([x.reshape(b, -1), torch.zeros(b, 1, dtype=x.dtype, device=x.device)], dim=1)
    sol = solve_ode(augmented, start, times.to(x), method=method, **cond)
    noise, delta = sol.final[:, :-1].reshape(shape), sol.final[:, -1]
    log_p0 = _log_prior(prior, noise)
    return LogLikelihood(
        log_p=log_p0 + delta,
        log_p0=log_p0,
        delta=delta,
        noise=noise,
        nfe=sol.nfe,
        estimator=estimator,
        n_probes=0 if probes is None else len(probes),
    )


def dequantize(
    x: Tensor, generator: torch.Generator | None = None, levels: int = 256, low: float = -1.0, high: float = 1.0
) -> Tensor:
    """Uniform dequantization: pixel level k (stored as low + (high - low) k / (levels - 1)) becomes
    y = low + (high - low) (k + u) / levels with u ~ U[0, 1), a point of the level's bin of width
    (high - low) / levels. Returns y shaped like ``x``."""
    x = check_batch(x, "x")
    levels = check_count(levels, "levels", "an integer number of pixel levels >= 2", minimum=2)
    low, high = check_real(low, "low"), check_real(high, "high")
    if not low < high:
        raise ValueError(f"low must be below high, got low = {low} and high = {high}")
    k = torch.round((x - low) / (high - low) * (levels - 1)).clamp(0, levels - 1)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return low + (high - low) * (k + u) / levels


def bits_per_dim(log_p: Tensor, n_dims: int, bin_width: float) -> Tensor:
    """Bits per dimension of the discrete data from the log-density ``(B,)`` of its dequantized values:
    -(log p(y) + D log(bin_width)) / (D log 2), a bound on -log2 P(k) / D (Theis et al. 2016)."""
    check_positive(bin_width, "bin_width")
    n_dims = check_count(n_dims, "n_dims", "a positive integer number of dimensions")
    if not isinstance(log_p, Tensor) or not log_p.is_floating_point():
        what = f"dtype {log_p.dtype}" if isinstance(log_p, Tensor) else type(log_p).__name__
        raise TypeError(f"log_p must be a floating-point tensor of shape (B,), got {what}")
    if log_p.ndim != 1 or len(log_p) == 0:
        raise ValueError(
            f"log_p must have shape (B,) with B >= 1, one log-density per sample, got {tuple(log_p.shape)}"
        )
    check_finite(log_p, "log_p")
    return -(log_p + n_dims * math.log(bin_width)) / (n_dims * math.log(2.0))
