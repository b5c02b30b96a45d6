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

from ._validate import as_time, check_batch, check_choice, check_positive
from .distributions import StandardGaussian
from .solvers import Field, solve_ode

__all__ = ["PROBES", "ESTIMATORS", "jacobian", "divergence", "hutchinson_divergence", "draw_probes",
           "hutchinson_variance", "LogLikelihood", "log_likelihood", "dequantize", "bits_per_dim"]

PROBES = ("rademacher", "gaussian")
ESTIMATORS = ("exact",) + PROBES


def _value_and_grad_fn(field: Field, x: Tensor, t: Tensor, cond: dict) -> tuple[Tensor, Tensor, Callable]:
    """Evaluate ``field`` at a copy of ``x`` that tracks gradients; return (x', v, vjp(w) = w^T dv/dx)."""
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        v = field(xg, t, **cond)
    if not isinstance(v, Tensor) or v.shape != x.shape:
        shape = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
        raise ValueError(f"the field returned shape {shape} for x of shape {tuple(x.shape)}")

    def vjp(w: Tensor, retain: bool) -> Tensor:
        if not v.requires_grad:  # a field that does not depend on x has a zero Jacobian
            return torch.zeros_like(x)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(v, xg, w, retain_graph=retain, allow_unused=True)
        return torch.zeros_like(x) if g is None else g

    return xg, v, vjp


def _exact(field: Field, x: Tensor, t: Tensor, cond: dict) -> tuple[Tensor, Tensor]:
    """(u_t(x), div u_t(x)) with the trace summed from D backward passes (row i of the Jacobian each)."""
    _, v, vjp = _value_and_grad_fn(field, x, t, cond)
    n = v[0].numel()
    div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(n):
        e = torch.zeros(x.shape[0], n, dtype=x.dtype, device=x.device)
        e[:, i] = 1.0
        div = div + vjp(e.reshape(x.shape), retain=i < n - 1).reshape(x.shape[0], -1)[:, i]
    return v.detach(), div


def _hutchinson(field: Field, x: Tensor, t: Tensor, probes: Tensor, cond: dict) -> tuple[Tensor, Tensor]:
    """(u_t(x), mean over probes of eps^T (du/dx) eps), one vector-Jacobian product per probe."""
    _, v, vjp = _value_and_grad_fn(field, x, t, cond)
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for k, eps in enumerate(probes):
        total = total + (vjp(eps, retain=k < len(probes) - 1) * eps).reshape(x.shape[0], -1).sum(1)
    return v.detach(), total / len(probes)


def _check_probes(probes: Tensor, x: Tensor) -> Tensor:
    if not isinstance(probes, Tensor) or probes.ndim != x.ndim + 1 or probes.shape[1:] != x.shape or len(probes) < 1:
        shape = tuple(probes.shape) if isinstance(probes, Tensor) else type(probes).__name__
        raise ValueError(f"probes must have shape (P, {', '.join(map(str, x.shape))}) with P >= 1, got {shape}")
    return probes.to(x)


def jacobian(field: Field, x: Tensor, t: Tensor | float, **cond) -> Tensor:
    """The Jacobian du_t/dx at each point of a flat batch ``x`` ``(B, D)``: ``(B, D, D)``, row i = grad u_i."""
    x = check_batch(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, D) for a Jacobian, got {tuple(x.shape)}")
    _, _, vjp = _value_and_grad_fn(field, x, as_time(t, x.shape[0], x), cond)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return torch.stack([vjp(eye[i].expand_as(x), retain=i < x.shape[1] - 1) for i in range(x.shape[1])], dim=1)


def divergence(field: Field, x: Tensor, t: Tensor | float, **cond) -> Tensor:
    """div u_t(x) = sum_i d u_i / d x_i exactly, by autograd: ``(B,)``. Costs D backward passes."""
    x = check_batch(x, "x")
    return _exact(field, x, as_time(t, x.shape[0], x), cond)[1]


def hutchinson_divergence(field: Field, x: Tensor, t: Tensor | float, probes: Tensor, **cond) -> Tensor:
    """Hutchinson's estimate (1/P) sum_p eps_p^T (du/dx) eps_p of div u_t(x) for the probes
    ``(P, B, *D)`` (see ``draw_probes``): ``(B,)``, unbiased when E[eps eps^T] = I. Costs P backward passes."""
    x = check_batch(x, "x")
    return _hutchinson(field, x, as_time(t, x.shape[0], x), _check_probes(probes, x), cond)[1]


def draw_probes(x: Tensor, n: int = 1, kind: str = "rademacher", generator: torch.Generator | None = None) -> Tensor:
    """``n`` probes per sample shaped like ``x``: ``(n, B, *D)``, with E[eps eps^T] = I.

    'rademacher': independent signs +-1; 'gaussian': independent N(0, 1) entries.
    """
    x = check_batch(x, "x")
    check_choice("probe kind", kind, PROBES)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer number of probes, got {n!r}")
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
    if not isinstance(jacobian, Tensor) or jacobian.ndim != 3 or jacobian.shape[1] != jacobian.shape[2]:
        shape = getattr(jacobian, "shape", type(jacobian).__name__)
        raise ValueError(f"jacobian must have shape (B, D, D), got {shape}")
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
        raise ValueError("times must be a strictly decreasing 1-D grid from the data time to the noise time "
                         "(e.g. time_grid(n, 1.0, 0.0)): the likelihood integrates from data back to noise")
    return times


def log_likelihood(field: Field, x: Tensor, times: Tensor, method: str = "rk4", estimator: str = "exact",
                   n_probes: int = 1, generator: torch.Generator | None = None,
                   prior: Callable[[Tensor], Tensor] | None = None, **cond) -> LogLikelihood:
    """log p(x) under the flow of ``field`` by integrating from ``times[0]`` (data) to ``times[-1]`` (noise).

    ``estimator`` 'exact' uses ``divergence``; 'rademacher' or 'gaussian' draws ``n_probes`` probes per
    sample once from ``generator`` and keeps them along the path (Hutchinson). ``prior`` maps the noise
    ``(B, *D)`` to log p_0 ``(B,)`` (default N(0, I)). ``method`` is any ``solve_ode`` method.
    """
    x, times = check_batch(x, "x"), _check_backward(times)
    check_choice("estimator", estimator, ESTIMATORS)
    probes = None if estimator == "exact" else draw_probes(x, n_probes, estimator, generator)
    shape, b = x.shape, x.shape[0]

    def augmented(z: Tensor, t: Tensor, **kw) -> Tensor:
        state = z[:, :-1].reshape(shape)
        v, div = _exact(field, state, t, kw) if probes is None else _hutchinson(field, state, t, probes, kw)
        return torch.cat([v.reshape(b, -1), div[:, None]], dim=1)

    start = torch.cat([x.reshape(b, -1), torch.zeros(b, 1, dtype=x.dtype, device=x.device)], dim=1)
    sol = solve_ode(augmented, start, times.to(x), method=method, **cond)
    noise, delta = sol.final[:, :-1].reshape(shape), sol.final[:, -1]
    log_p0 = StandardGaussian(noise[0].numel()).log_density(noise.reshape(b, -1)) if prior is None else prior(noise)
    return LogLikelihood(log_p=log_p0 + delta, log_p0=log_p0, delta=delta, noise=noise, nfe=sol.nfe,
                         estimator=estimator, n_probes=0 if probes is None else len(probes))


def dequantize(x: Tensor, generator: torch.Generator | None = None, levels: int = 256, low: float = -1.0,
               high: float = 1.0) -> Tensor:
    """Uniform dequantization: pixel level k (stored as low + (high - low) k / (levels - 1)) becomes
    y = low + (high - low) (k + u) / levels with u ~ U[0, 1), a point of the level's bin of width
    (high - low) / levels. Returns y shaped like ``x``."""
    x = check_batch(x, "x")
    k = torch.round((x - low) / (high - low) * (levels - 1)).clamp(0, levels - 1)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return low + (high - low) * (k + u) / levels


def bits_per_dim(log_p: Tensor, n_dims: int, bin_width: float) -> Tensor:
    """Bits per dimension of the discrete data from the log-density ``(B,)`` of its dequantized values:
    -(log p(y) + D log(bin_width)) / (D log 2), a bound on -log2 P(k) / D (Theis et al. 2016)."""
    check_positive(bin_width, "bin_width")
    check_positive(n_dims, "n_dims")
    return -(log_p + n_dims * math.log(bin_width)) / (n_dims * math.log(2.0))
