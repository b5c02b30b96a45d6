"""Checkers for the likelihoods chapter: the divergence by autograd, one Hutchinson probe, and the
log-likelihood by integrating from data back to noise, with Euler's method and with Heun's.

Each runs the learner's function on fields whose answers are known (linear fields, a nonlinear field
with a closed-form divergence, the exact Gaussian-mixture fields, image-shaped batches), compares with
``fmtutor.likelihood`` and names the common mistakes: the sum of every Jacobian entry instead of its
trace, a mean instead of a sum, a flipped sign, the probe dotted with the velocity instead of with
its Jacobian-vector product, the integral's sign, a forgotten or misplaced prior, the wrong direction.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..distributions import StandardGaussian
from ..likelihood import divergence, draw_probes, hutchinson_divergence, log_likelihood
from ..marginals import MarginalField
from ..paths import GaussianPath
from ..solvers import time_grid
from ..toy_data import eight_gaussians, three_clusters
from ._checker import Checker, Report

__all__ = ["check_divergence", "check_hutchinson_probe", "check_log_likelihood", "check_log_likelihood_heun"]

F64 = torch.float64
ROTATE = torch.tensor([[-0.4, 1.0], [-1.5, 0.3]], dtype=F64)


def _randn(seed: int, *shape: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _linear(x: Tensor, t: Tensor) -> Tensor:
    """u_t(x) = A x with A = [[-0.4, 1], [-1.5, 0.3]]: div = -0.1, the sum of all entries -0.6."""
    return x @ ROTATE.T


def _wavy(x: Tensor, t: Tensor) -> Tensor:
    """u = (sin(x1 x2), t x0^2, -x2^3 + x0): div = -3 x2^2."""
    return torch.stack([torch.sin(x[:, 1] * x[:, 2]), t * x[:, 0] ** 2, -(x[:, 2] ** 3) + x[:, 0]], dim=1)


def _squash(x: Tensor, t: Tensor) -> Tensor:
    """An image field u = tanh(x) (1 + t) - roll(x): every pixel's derivative is its own."""
    return torch.tanh(x) * (1 + t.reshape(-1, 1, 1, 1)) - torch.roll(x, 1, dims=-1)


def _cases() -> list[tuple[str, Callable, Tensor, Tensor]]:
    mix = MarginalField(eight_gaussians(), GaussianPath("linear"))
    vp = MarginalField(three_clusters(), GaussianPath("vp"))
    return [
        ("a linear field in 2-D", _linear, _randn(1, 16, 2), torch.full((16,), 0.5, dtype=F64)),
        ("a nonlinear field in 3-D", _wavy, _randn(2, 16, 3), torch.linspace(0, 1, 16, dtype=F64)),
        ("images (B, 1, 4, 4)", _squash, _randn(3, 4, 1, 4, 4), torch.full((4,), 0.3, dtype=F64)),
        ("the exact eight-Gaussian field", mix, 3 * _randn(4, 32, 2), torch.linspace(0.05, 1, 32, dtype=F64)),
        ("the exact three-cluster field, VP path", vp, 2 * _randn(5, 32, 2), torch.linspace(0.05, 0.9, 32, dtype=F64)),
    ]


def _all_entries(field: Callable, x: Tensor, t: Tensor) -> Tensor:
    """sum_ij du_i/dx_j: the Jacobian's entries summed, what grad(u.sum()) summed over x gives."""
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(field(xg, t).sum(), xg)
    return g.reshape(x.shape[0], -1).sum(1)


# -- 1. the divergence by autograd ------------------------------------------------------------------


def check_divergence(fn: Callable[[Callable, Tensor, Tensor], Tensor]) -> Report:
    """``fn(field, x, t)``: div u_t(x) = sum_i du_i/dx_i for x ``(B, *D)``, t ``(B,)``; returns ``(B,)``."""
    report = Checker("divergence by autograd")
    for case, field, x, t in _cases():
        reference = divergence(field, x, t)
        n = x[0].numel()
        mistakes = (
            (
                _all_entries(field, x, t),
                "that sums every entry of the Jacobian (the gradient of u.sum()); "
                "the divergence is its trace, sum_i du_i/dx_i only",
            ),
            (-reference, "the sign is flipped"),
            (reference / n, f"that is the mean of the diagonal; the divergence is its sum over the {n} dimensions"),
        )
        value = report.call(fn, field, x.clone(), t, case=case)
        report.close(value, reference, f"the divergence ({case})", atol=1e-6, rtol=1e-5, mistakes=mistakes)
    return report.report()


# -- 2. one Hutchinson probe ------------------------------------------------------------------------


def check_hutchinson_probe(fn: Callable[[Callable, Tensor, Tensor, Tensor], Tensor]) -> Report:
    """``fn(field, x, t, eps)``: eps^T (du/dx) eps for one probe ``eps`` shaped like x; returns ``(B,)``.
    Averaged over many probes it must approach the divergence."""
    report = Checker("one Hutchinson probe")
    for seed, (case, field, x, t) in enumerate(_cases()):
        kind = ("rademacher", "gaussian")[seed % 2]
        eps = draw_probes(x, 1, kind, torch.Generator().manual_seed(40 + seed))[0]
        reference = hutchinson_divergence(field, x, t, eps[None])
        n = x[0].numel()
        mistakes = (
            (
                (field(x, t) * eps).reshape(len(x), -1).sum(1),
                "that is eps . u, the probe dotted with the "
                "velocity; dot it with the Jacobian-vector product eps^T (du/dx) "
                "(autograd.grad of (u * eps).sum())",
            ),
            (_all_entries(field, x, t), "that uses a vector of ones, not the probe eps"),
            (-reference, "the sign is flipped"),
            (reference / n, f"sum over the {n} dimensions, not the mean"),
        )
        value = report.call(fn, field, x.clone(), t, eps.clone(), case=f"{case}, a {kind} probe")
        report.close(
            value, reference, f"eps^T (du/dx) eps ({case}, {kind} probe)", atol=1e-6, rtol=1e-5, mistakes=mistakes
        )
    x, n = _randn(9, 2, 3), 20000
    many, t = x.repeat(n, 1), torch.full((2 * n,), 0.4, dtype=F64)  # 20,000 probes for each of 2 points, one call
    eps = draw_probes(many, 1, "rademacher", torch.Generator().manual_seed(50))[0]
    value = report.call(fn, _wavy, many, t, eps, case="20,000 probes at once")
    if isinstance(value, Tensor) and value.shape == (2 * n,):
        value = value.detach().reshape(n, 2)
        mean, truth, spread = value.mean(0), divergence(_wavy, x, t[:2]), value.std(0) / n**0.5
        report.check(
            bool(((mean - truth).abs() <= 5 * spread + 1e-9).all()),
            f"averaged over {n:,} Rademacher probes your estimate is {[round(m, 3) for m in mean.tolist()]}, "
            f"but the divergence is {[round(m, 3) for m in truth.tolist()]}: an unbiased estimator's "
            "average approaches it",
        )
    return report.report()


# -- 3. the log-likelihood by integrating back to noise -------------------------------------------------


def _likelihood_cases() -> list[tuple[str, Callable, Tensor, int]]:
    """(description, field, data points x, n_steps): a linear field and the exact fields of two mixtures."""
    mix8, mix3 = eight_gaussians(), three_clusters()
    return [
        ("a linear field", _linear, _randn(20, 16, 2), 10),
        (
            "the exact eight-Gaussian field",
            MarginalField(mix8, GaussianPath("linear")),
            mix8.sample(64, torch.Generator().manual_seed(21)).double(),
            20,
        ),
        (
            "the exact three-cluster field",
            MarginalField(mix3, GaussianPath("linear")),
            mix3.sample(64, torch.Generator().manual_seed(22)).double(),
            7,
        ),
    ]


def _pieces(field: Callable, x: Tensor, n_steps: int) -> dict[str, Tensor]:
    """The reference Euler log-likelihood and the values of the usual mistakes."""
    ref = log_likelihood(field, x, time_grid(n_steps, 1.0, 0.0, dtype=F64), method="euler")
    gauss = StandardGaussian(x.shape[1])

    def reversed_field(z: Tensor, s: Tensor) -> Tensor:  # Euler forward in t from 0 to 1, written backward in s
        return -field(z, 1 - s)

    fwd = log_likelihood(reversed_field, x, time_grid(n_steps, 1.0, 0.0, dtype=F64), method="euler")
    extra = log_likelihood(field, x, time_grid(n_steps + 1, 1.0, 0.0, dtype=F64), method="euler")
    return {
        "reference": ref.log_p,
        "sign": ref.log_p0 - ref.delta,
        "no prior": ref.delta,
        "prior at x": gauss.log_density(x) + ref.delta,
        "forward": gauss.log_density(x) - fwd.delta,
        "steps": extra.log_p,
    }


def check_log_likelihood(fn: Callable[[Callable, Tensor, int], Tensor]) -> Report:
    """``fn(field, x, n_steps)``: log p_1(x) from ``n_steps`` Euler steps of (X, l) from t = 1 to t = 0,
    dX/dt = u_t(X), dl/dt = div u_t(X), l(1) = 0, with the prior N(0, I) at t = 0: log N(X_0) + l(0)."""
    report = Checker("log-likelihood by the backward integration")
    cases = _likelihood_cases()
    hints = {
        "sign": "the integral enters with the wrong sign: d/dt log p_t(X_t) = -div u_t, so "
        "log p_1(x) = log p_0(X_0) - int_0^1 div dt (l(0) itself, integrated from 1 down to 0)",
        "no prior": "the prior term log N(X_0; 0, I) at the noise end is missing",
        "prior at x": "the prior is evaluated at the data point x; evaluate it at X_0, where x arrives at t = 0",
        "forward": "that integrates forward from t = 0 as if x were noise; start at x at t = 1 and step back to t = 0",
        "steps": "off by one: take exactly n_steps Euler steps of size 1 / n_steps",
    }
    for case, field, x, n in cases:
        pieces = _pieces(field, x, n)
        mistakes = tuple((pieces[name], hint) for name, hint in hints.items())
        value = report.call(fn, field, x.clone(), n, case=f"{case}, {n} steps")
        report.close(
            value, pieces["reference"], f"log p_1(x) ({case}, {n} Euler steps)", atol=1e-6, rtol=1e-6, mistakes=mistakes
        )
    return report.report()


# -- 4. the same integration with Heun's method -----------------------------------------------------------


def _heun_stale_divergence(field: Callable, x: Tensor, n_steps: int) -> Tensor:
    """Heun on X but Euler on l: the divergence taken only at the start of each step."""
    h, ell = 1.0 / n_steps, torch.zeros(x.shape[0], dtype=x.dtype)
    for k in range(n_steps):
        t, t_next = (torch.full((x.shape[0],), (n_steps - j) / n_steps, dtype=x.dtype) for j in (k, k + 1))
        v1 = field(x, t)
        ell = ell - h * divergence(field, x, t)
        x = x - h / 2 * (v1 + field(x - h * v1, t_next))
    return StandardGaussian(x.shape[1]).log_density(x) + ell


def check_log_likelihood_heun(fn: Callable[[Callable, Tensor, int], Tensor]) -> Report:
    """``fn(field, x, n_steps)``: log p_1(x) from ``n_steps`` Heun steps of the pair (X, l) from t = 1 to
    t = 0 (slopes (u, div u) at the start and at the Euler predictor of the pair), prior N(0, I) at t = 0."""
    report = Checker("log-likelihood with Heun's method")
    for case, field, x, n in _likelihood_cases():
        grid = time_grid(n, 1.0, 0.0, dtype=F64)
        ref = log_likelihood(field, x, grid, method="heun")
        mistakes = (
            (
                _heun_stale_divergence(field, x, n),
                "the divergence must be averaged like the velocity: (X, l) is one ODE, so take div u at the "
                "predicted point too, h/2 (div u(X, t) + div u(X_pred, t - h))",
            ),
            (log_likelihood(field, x, grid, method="euler").log_p, "this is the Euler estimate: add the corrector"),
            (ref.log_p0 - ref.delta, "the integral enters with the wrong sign: d/dt log p_t(X_t) = -div u_t"),
            (
                log_likelihood(field, x, time_grid(n, 1.0, 0.0, dtype=F64), method="midpoint").log_p,
                "this is the midpoint method; Heun averages the slopes at the start and at the Euler predictor",
            ),
        )
        value = report.call(fn, field, x.clone(), n, case=f"{case}, {n} steps")
        report.close(value, ref.log_p, f"log p_1(x) ({case}, {n} Heun steps)", atol=1e-6, rtol=1e-6, mistakes=mistakes)
    return report.report()
