"""Checkers for chapter 4 (conditional flow matching): the conditional-OT loss, the conditional-OT
velocity u_t(x | x1), the correct target of the noisy linear path, and an Euler sampling loop.

Each runs the learner's function on fresh cases (other seeds and dimensions, the ends t = 0 and
t = 1), compares it with the kernels in ``fmtutor`` (``losses.cfm_loss``, ``GaussianPath.
conditional_velocity``, ``noisy_path.NoisyLinearPath``, ``sampling.sample_ode``) and names the
common mistakes: the target x0 - x1, regressing on x_t, t and 1 - t swapped, a sum for a mean, the
naive target x1 - x0 on the noisy path, one step too few, the field read at the end of a step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..losses import cfm_loss
from ..marginals import MarginalField
from ..noisy_path import NoisyLinearPath
from ..paths import GaussianPath
from ..sampling import sample_ode
from ..toy_data import eight_gaussians
from ._checker import Checker, CountedField, Report, seeded_draws

__all__ = ["check_cfm_loss", "check_conditional_velocity", "check_noisy_target", "check_euler_sampler"]

F64 = torch.float64
LINEAR = GaussianPath("linear")


def _col(t: Tensor) -> Tensor:
    return t[:, None]


def _mse(v: Tensor) -> Tensor:
    return (v**2).mean()


# -- 1. the conditional flow matching loss on the conditional-OT path --------------------------------


class _VelocityNet(nn.Module):
    """A small differentiable velocity model v(x, t) = w x (0.5 + t) + c sin(x) - t, for (B, D) inputs."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(-0.7, dtype=F64))
        self.c = nn.Parameter(torch.tensor(0.4, dtype=F64))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """A small velocity ``(B, D)`` for ``x`` ``(B, D)`` and ``t`` ``(B,)``."""
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1).expand(x.shape[0], 1)  # (B,), (B, 1) or a float
        return self.w * x * (0.5 + t) + self.c * torch.sin(x) - t


def check_cfm_loss(fn: Callable[[Callable, Tensor, Tensor, Tensor], Tensor]) -> Report:
    """``fn(model, x1, x0, t)``: the mean over batch and coordinates of (model(x_t, t) - (x1 - x0))^2
    with x_t = t x1 + (1 - t) x0; x1, x0 of shape (B, D), t of shape (B,). Compared with
    ``fmtutor.losses.cfm_loss`` on the linear path, fed the same x0 through a seeded generator."""
    report = Checker("conditional flow matching loss")
    model = _VelocityNet()
    cases = [((256, 2), 0.0, 1.0), ((64, 3), 0.0, 1.0), ((32, 2), 0.0, 0.0), ((32, 2), 1.0, 1.0), ((8, 5), 0.2, 0.7)]
    for seed, (shape, t_low, t_high) in enumerate(cases):
        x1, _, t = seeded_draws(10 + seed, shape, t_low, t_high)
        x0 = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)
        with torch.no_grad():
            reference = cfm_loss(model, x1, LINEAR, generator=torch.Generator().manual_seed(seed), t=t)
            x_t, swapped = _col(t) * x1 + (1 - _col(t)) * x0, _col(t) * x0 + (1 - _col(t)) * x1
            v = model(x_t, t)
            mistakes = (
                (_mse(v - (x0 - x1)), "the target is x1 - x0 (data minus noise): the sign is flipped"),
                (_mse(v - x_t), "the target is the velocity x1 - x0, not the point x_t itself"),
                (_mse(v - x1), "the target is the velocity x1 - x0, not the data point x1"),
                (
                    _mse(model(swapped, t) - (x1 - x0)),
                    "x_t = t x1 + (1 - t) x0: t multiplies the data (t = 1 is data), 1 - t the noise",
                ),
                (((v - (x1 - x0)) ** 2).sum(), "take the mean over batch and coordinates, not the sum"),
                (
                    ((v - (x1 - x0)) ** 2).sum(1).mean(),
                    "the book's losses average over the coordinates too (a mean, not a sum per sample)",
                ),
            )
        where = f"x of shape {shape}, t in [{t_low:g}, {t_high:g}]"
        value = report.call(fn, model, x1, x0, t, case=where)
        if report.close(value, reference, f"the loss ({where})", atol=1e-8, rtol=1e-6, mistakes=mistakes):
            report.differentiable(value, f"the loss ({where})")
    return report.report()


# -- 2. the conditional-OT velocity u_t(x | x1) -------------------------------------------------------


def check_conditional_velocity(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Report:
    """``fn(x, x1, t)``: u_t(x | x1) = (x1 - x) / (1 - t) for t in [0, 1); x, x1 (B, D), t (B,).
    Compared with ``GaussianPath('linear').conditional_velocity``; at x = x_t it must give x1 - x0."""
    report = Checker("conditional-OT velocity")
    cases = [((64, 2), 0.0, 0.95), ((16, 3), 0.0, 0.0), ((16, 2), 0.99, 0.99), ((8, 4), 0.3, 0.6)]
    for seed, (shape, t_low, t_high) in enumerate(cases):
        x1, x, t = seeded_draws(20 + seed, shape, t_low, t_high)
        x = 3 * x
        reference = LINEAR.conditional_velocity(x, x1, t)
        s = _col(t)
        mistakes = (
            ((x - x1) / (1 - s), "u_t(x | x1) = (x1 - x) / (1 - t) points from x towards x1: the sign is flipped"),
            (x1 - x, "the remaining way x1 - x must be covered in the remaining time 1 - t: divide by 1 - t"),
            ((x1 - x) / s.clamp_min(1e-12), "divide by the time left, 1 - t, not by t"),
            ((x1 - x) * (1 - s), "divide by the time left, 1 - t, do not multiply"),
        )
        where = f"x of shape {shape}, t in [{t_low:g}, {t_high:g}]"
        value = report.call(fn, x, x1, t, case=where)
        report.close(value, reference, f"u_t(x | x1) ({where})", atol=1e-8, rtol=1e-6, mistakes=mistakes)
    x1, x0, t = seeded_draws(30, (32, 2), 0.05, 0.95)
    value = report.call(fn, _col(t) * x1 + (1 - _col(t)) * x0, x1, t, case="x on the path")
    report.close(
        value, x1 - x0, "u_t(x_t | x1) at x_t = t x1 + (1 - t) x0 (it should be x1 - x0)", atol=1e-8, rtol=1e-6
    )
    return report.report()


# -- 3. the target of the noisy linear path -----------------------------------------------------------


def check_noisy_target(fn: Callable[[Tensor, Tensor, Tensor, Tensor, float], Tensor]) -> Report:
    """``fn(x0, x1, eps, t, sigma)``: d/dt of x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) eps at
    fixed (x0, x1, eps), i.e. x1 - x0 + sigma (1 - 2t) / (2 sqrt(t (1 - t))) eps, for t in (0, 1)."""
    report = Checker("noisy-path target")
    cases = [
        (1.0, (64, 2), 0.05, 0.95),
        (0.5, (16, 3), 0.1, 0.4),
        (2.0, (16, 2), 0.6, 0.9),
        (1.0, (8, 2), 0.5, 0.5),
        (0.0, (8, 2), 0.05, 0.95),
    ]
    for seed, (sigma, shape, t_low, t_high) in enumerate(cases):
        x1, x0, t = seeded_draws(40 + seed, shape, t_low, t_high)
        eps = torch.randn(shape, generator=torch.Generator().manual_seed(140 + seed), dtype=F64)
        sample = NoisyLinearPath(sigma).sample(x1, t, x0=x0, eps=eps)
        s, root = _col(t), torch.sqrt(_col(t) * (1 - _col(t)))
        mistakes = (
            (
                x1 - x0,
                "x1 - x0 is the naive target (the common mistake shown in the text): the noise term "
                "sigma sqrt(t (1 - t)) eps changes with t too, so its derivative belongs in the target",
            ),
            (
                x1 - x0 - sigma * (1 - 2 * s) / (2 * root) * eps,
                "d/dt sqrt(t (1 - t)) = (1 - 2t) / (2 sqrt(t (1 - t))): the sign of the noise term is flipped",
            ),
            (
                x1 - x0 + sigma * (1 - 2 * s) / root * eps,
                "d/dt sqrt(t (1 - t)) = (1 - 2t) / (2 sqrt(t (1 - t))): the factor 1/2 is missing",
            ),
            (x1 - x0 + sigma**2 * (1 - 2 * s) / (2 * root) * eps, "the noise term scales with sigma, not sigma^2"),
            (
                x1 - x0 + sigma * (1 - 2 * s) * root * eps,
                "d/dt sqrt(t (1 - t)) = (1 - 2t) / (2 sqrt(t (1 - t))): divide by the square root, do not multiply",
            ),
            (
                sample.gaussian,
                "this is d_alpha x1 + d_beta z, the Gaussian form: it has the same conditional "
                "expectation, but the exercise asks for d/dt x_t at fixed (x0, x1, eps)",
            ),
        )
        where = f"sigma = {sigma:g}, x of shape {shape}, t in [{t_low:g}, {t_high:g}]"
        value = report.call(fn, x0, x1, eps, t, sigma, case=where)
        report.close(
            value,
            sample.pathwise,
            f"the target ({where})",
            atol=1e-8,
            rtol=1e-6,
            mistakes=mistakes if sigma > 0 and t_low != 0.5 else (),
        )
    return report.report()


# -- 4. Euler sampling from a velocity field ---------------------------------------------------------


def _time_varying(x: Tensor, t: Tensor) -> Tensor:
    """v(x, t) = -x (1 + 2t) + 3t: a field that changes with t."""
    return -x * (1 + 2 * _col(t)) + 3 * _col(t)


def _euler(field: Callable, x: Tensor, times: list[float]) -> Tensor:
    for t, t_next in zip(times[:-1], times[1:]):
        x = x + (t_next - t) * field(x, torch.full((x.shape[0],), t, dtype=x.dtype))
    return x


def _late_euler(field: Callable, x: Tensor, n: int) -> Tensor:
    for i in range(n):
        x = x + field(x, torch.full((x.shape[0],), (i + 1) / n, dtype=x.dtype)) / n
    return x


def check_euler_sampler(fn: Callable[[Callable, Tensor, int], Tensor]) -> Report:
    """``fn(field, x0, n_steps)``: n_steps Euler steps of size h = 1 / n_steps from t = 0 to t = 1,
    x <- x + h field(x, t_i) with t_i = i h; x0 (B, D). Compared with ``sample_ode(..., 'euler')``."""
    report = Checker("Euler sampler")
    exact = MarginalField(eight_gaussians(), LINEAR)
    for seed, (n, shape, use_exact) in enumerate(
        [(10, (32, 2), False), (1, (8, 3), False), (7, (16, 2), False), (20, (256, 2), True)]
    ):
        x0 = torch.randn(shape, generator=torch.Generator().manual_seed(60 + seed), dtype=F64)
        base = exact if use_exact else CountedField(_time_varying)
        reference = sample_ode(base, x0, n, "euler").final
        grid = [i / n for i in range(n + 1)]
        mistakes = (
            (_late_euler(base, x0, n), "read the field at the start of each step, t_i = i / n, not at its end"),
            (_euler(base, x0, grid[:-1]), "one step too few: n steps take the grid 0, 1/n, ..., 1 from end to end"),
            (_euler(base, x0, [i / (n + 1) for i in range(n + 1)]), "the step size is h = 1 / n, not 1 / (n + 1)"),
            (_euler(lambda x, t: base(x, torch.zeros_like(t)), x0, grid), "advance the time: t = i / n at step i"),  # noqa: B023
            (_euler(base, x0, grid[::-1]), "integrate from noise at t = 0 to data at t = 1, not backwards"),
        )
        field, x_in = CountedField(exact if use_exact else _time_varying), x0.clone()
        where = f"{'the exact field of 8 Gaussians' if use_exact else 'v = -x (1 + 2t) + 3t'}, n_steps = {n}"
        value = report.call(fn, field, x_in, n, case=where)
        if report.close(value, reference, f"x at t = 1 ({where})", atol=1e-8, rtol=1e-6, mistakes=mistakes):
            report.check(
                len(field.times) == n,
                f"{where}: Euler evaluates the field once per step, your loop called it {len(field.times)} times",
            )
            report.check(
                all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(field.times, grid)),
                f"{where}: the field should be read at t = 0, 1/n, ..., (n - 1)/n",
            )
        if isinstance(value, Tensor):
            report.check(torch.equal(x_in, x0), f"{where}: your loop changed x0 in place; use x = x + h * v")
    return report.report()
