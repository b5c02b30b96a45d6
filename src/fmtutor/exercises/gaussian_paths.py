"""Checkers for chapter 3 (Gaussian probability paths).

Each checker runs the learner's function on fresh cases (other seeds, shapes and schedules, the
ends t = 0 and t near 1), compares it with ``fmtutor.paths.GaussianPath`` and, where the mistake is
a common one (a flipped sign, beta for beta squared, beta for d_beta, a formula that only holds for
the linear schedule), says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..paths import GaussianPath
from ..schedules import CosineSchedule, LinearSchedule, PolynomialSchedule, Schedule, VPSchedule
from ..training import seeded
from ._checker import Checker, Report, seeded_draws

__all__ = [
    "check_poly_conditional_velocity",
    "check_conditional_score",
    "check_epsilon_to_velocity",
    "check_sample_conditional",
]

F64 = torch.float64


def _draws(seed: int, batch: int, dim: int, t_low: float, t_high: float) -> tuple[Tensor, Tensor, Tensor]:
    """x (B, D), x1 (B, D), both of scale 2, and t (B,) in [t_low, t_high], all float64, from ``seed``."""
    return seeded_draws(seed, (batch, dim), t_low, t_high, scales=(2.0, 2.0))


TOL = {"atol": 1e-6, "rtol": 1e-4}  # float64 kernels: a right answer is far closer than this


def _coefficients(schedule: Schedule, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    v = schedule(t)
    return tuple(c[:, None] for c in (v.alpha, v.beta, v.d_alpha, v.d_beta))


def check_poly_conditional_velocity(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Report:
    """``fn(x, x1, t)``: u_t(x | x1) for alpha_t = t^2, beta_t = 1 - t^2; x, x1 (B, D), t (B,)."""
    report = Checker("conditional field of alpha_t = t^2, beta_t = 1 - t^2")
    schedule = PolynomialSchedule(2.0)
    path = GaussianPath(schedule)
    for seed, batch, dim in [(1, 64, 2), (2, 7, 3)]:
        x, x1, t = _draws(seed, batch, dim, 0.0, 0.95)
        a, b, da, db = _coefficients(schedule, t)
        mistakes = (
            (-path.conditional_velocity(x, x1, t), "the sign is flipped"),
            ((x1 - x) / (1 - t[:, None]), "that is the linear schedule's field (x1 - x) / (1 - t)"),
            (
                (da - b * db) * x1 + b * db * x,
                "that is the misprinted (d_alpha - beta d_beta) x1 + beta d_beta x; divide by beta_t instead",
            ),
            (da * x1 + db * x, "that is d_alpha x1 + d_beta x: the noise x0 is (x - alpha_t x1) / beta_t, not x"),
        )
        value = report.call(fn, x, x1, t, case=f"B = {batch}, D = {dim}")
        report.close(
            value,
            path.conditional_velocity(x, x1, t),
            f"u_t(x | x1) for B = {batch}, D = {dim}",
            **TOL,
            mistakes=mistakes,
        )
    x, x1, _ = _draws(3, 5, 2, 0.0, 1.0)
    zero = torch.zeros(5, dtype=F64)
    value = report.call(fn, x, x1, zero, case="t = 0")
    report.close(value, torch.zeros_like(x), "u_t at t = 0 (both derivatives vanish there, so u_0 = 0)", **TOL)
    x0, x1, t = _draws(4, 32, 2, 0.05, 0.9)
    t = t.requires_grad_(True)
    x_t = schedule(t).alpha[:, None] * x1 + schedule(t).beta[:, None] * x0
    dx_dt = torch.stack([torch.autograd.grad(x_t[:, d].sum(), t, retain_graph=True)[0] for d in range(2)], 1)
    value = report.call(fn, x_t.detach(), x1, t.detach(), case="along the path")
    report.close(value, dx_dt, "u_t(x_t | x1) against d x_t / dt (autograd) along x_t = t^2 x1 + (1 - t^2) x0", **TOL)
    return report.report()


def _schedules() -> list[Schedule]:
    return [LinearSchedule(), CosineSchedule(), VPSchedule()]


def check_conditional_score(fn: Callable[[Tensor, Tensor, Tensor, Schedule], Tensor]) -> Report:
    """``fn(x, x1, t, schedule)``: grad_x log N(x; alpha_t x1, beta_t^2 I); x, x1 (B, D), t (B,)."""
    report = Checker("conditional score")
    for seed, schedule in enumerate(_schedules()):
        x, x1, t = _draws(10 + seed, 16, 2 + seed, 0.0, 0.9)
        a, b, _, _ = _coefficients(schedule, t)
        reference = GaussianPath(schedule).conditional_score(x, x1, t)
        mistakes = (
            (-reference, "the sign is flipped: the score points from x towards the mean alpha_t x1"),
            (-(x - a * x1) / b, "divide by the variance beta_t^2, not by beta_t"),
            (-(x - x1) / b**2, "the mean of p_t(x | x1) is alpha_t x1, not x1"),
        )
        value = report.call(fn, x, x1, t, schedule, case=f"{schedule.name} schedule")
        report.close(value, reference, f"the score ({schedule.name} schedule)", **TOL, mistakes=mistakes)
    x, x1, _ = _draws(20, 8, 2, 0.0, 1.0)
    value = report.call(fn, x, x1, torch.zeros(8, dtype=F64), LinearSchedule(), case="t = 0")
    report.close(value, -x, "the score at t = 0 (p_0 = N(0, I), whose score is -x)", **TOL)
    x, x1, t = _draws(21, 8, 3, 0.1, 0.9)
    x = x.requires_grad_(True)
    a, b, _, _ = _coefficients(CosineSchedule(), t)
    log_p = (-((x - a * x1) ** 2).sum(-1) / (2 * b[:, 0] ** 2)).sum()
    (grad,) = torch.autograd.grad(log_p, x)
    value = report.call(fn, x.detach(), x1, t, CosineSchedule(), case="autograd")
    report.close(value, grad, "the score against autograd of log N(x; alpha_t x1, beta_t^2 I)", **TOL)
    return report.report()


def check_epsilon_to_velocity(fn: Callable[[Tensor, Tensor, Tensor, Schedule], Tensor]) -> Report:
    """``fn(eps, x, t, schedule)``: the velocity d_alpha x1_hat + d_beta eps with x1_hat = (x - beta eps) / alpha."""
    report = Checker("epsilon prediction to velocity")
    cases = [(s, 0.05, 0.95) for s in _schedules()] + [
        (LinearSchedule(), 1e-3, 1e-3),
        (VPSchedule(), 0.0, 0.0),
        (VPSchedule(), VPSchedule.t_max, VPSchedule.t_max),
    ]
    for seed, (schedule, t_low, t_high) in enumerate(cases):
        eps, x, t = _draws(30 + seed, 12, 2, t_low, t_high)
        a, b, da, db = _coefficients(schedule, t)
        reference = GaussianPath(schedule).convert(eps, x, t, "epsilon", "velocity")
        x1_hat = (x - b * eps) / a
        mistakes = (
            (da * x1_hat - db * eps, "the sign of the d_beta eps term is flipped"),
            (da * x1_hat + b * eps, "use d_beta (the time derivative of beta_t), not beta_t, in front of eps"),
            (
                (x - (1 - t[:, None]) * eps) / t[:, None] - eps,
                "(x - (1 - t) eps) / t - eps is the velocity of the linear schedule only; use d_alpha and d_beta",
            ),
            (da * x + db * eps, "x is not x1: first recover x1_hat = (x - beta_t eps) / alpha_t"),
        )
        where = f"t = {t_low:g}" if t_low == t_high else f"t in [{t_low:g}, {t_high:g}]"
        value = report.call(fn, eps, x, t, schedule, case=f"{schedule.name}, {where}")
        near = (
            " (near t = 0, where alpha_t is small: divide by alpha_t exactly, do not clamp it)" if t_high < 0.01 else ""
        )
        report.close(value, reference, f"the velocity ({schedule.name}, {where}){near}", **TOL, mistakes=mistakes)
    return report.report()


def _group_moments(x_t: Tensor, groups: int) -> tuple[Tensor, Tensor]:
    per = x_t.reshape(groups, -1, x_t.shape[-1])
    return per.mean(1), per.std(1)


def check_sample_conditional(fn: Callable[[Tensor, Tensor, Schedule, torch.Generator], Tensor]) -> Report:
    """``fn(x1, t, schedule, generator)``: one draw x_t ~ N(alpha_t x1, beta_t^2 I) per row; x1 (B, D), t (B,)."""
    report = Checker("sampling the conditional path")
    n, times = 20_000, torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=F64)
    centres = torch.tensor([[1.5, -2.0], [-1.0, 0.5], [3.0, 1.0], [0.5, 2.5]], dtype=F64)
    for schedule in (LinearSchedule(), VPSchedule()):
        ts = times.clamp(max=schedule.t_max)
        x1, t = centres.repeat_interleave(n, 0), ts.repeat_interleave(n)
        x_t = report.call(fn, x1, t, schedule, torch.Generator().manual_seed(7), case=schedule.name)
        if not report.tensor(x_t, tuple(x1.shape), f"x_t ({schedule.name})"):
            continue
        mean, std = _group_moments(x_t.to(F64), len(ts))
        v = schedule(ts)
        alpha, beta = v.alpha[:, None], v.beta[:, None].expand_as(mean)
        for k, tk in enumerate(ts.tolist()):
            tol_m, tol_s = 5 * beta[k, 0] / math.sqrt(n) + 1e-6, 5 * beta[k, 0] / math.sqrt(2 * n) + 1e-6
            report.check(
                bool(((mean[k] - alpha[k] * centres[k]).abs() <= tol_m).all()),
                f"{schedule.name}, t = {tk:g}: the mean of x_t should be alpha_t x1 = "
                f"{(alpha[k] * centres[k]).numpy().round(3)}, got {mean[k].numpy().round(3)}",
            )
            hint = ""
            if beta[k, 0] > 0.1 and (std[k] < 1e-6).all():
                hint = " (every row with the same x1 got the same noise: draw noise of shape x1.shape)"
            elif beta[k, 0] > 0.1 and torch.allclose(std[k], beta[k] ** 2, rtol=0.03):
                hint = " (that is beta_t^2: the standard deviation is beta_t, not the variance)"
            report.check(
                bool(((std[k] - beta[k]).abs() <= tol_s).all()),
                f"{schedule.name}, t = {tk:g}: the standard deviation of x_t should be beta_t = "
                f"{beta[k, 0].item():.3f}, got {std[k].numpy().round(3)}{hint}",
            )
    x1, t = centres, torch.full((4,), 0.5, dtype=F64)
    first = report.call(fn, x1, t, CosineSchedule(), torch.Generator().manual_seed(3), case="seeded twice")
    with seeded(12345):  # a different global state must not change a seeded draw
        second = report.call(fn, x1, t, CosineSchedule(), torch.Generator().manual_seed(3), case="seeded twice")
    if isinstance(first, Tensor) and isinstance(second, Tensor):
        report.check(
            first.shape == second.shape and torch.equal(first, second),
            "the same generator seed gave different draws: pass generator=generator to torch.randn",
        )
    return report.report()
