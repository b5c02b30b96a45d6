"""Checkers for chapter 6 (diffusion vs flow matching): the noise prediction hidden in a velocity,
a sampler that spends exactly a given number of network evaluations, and the straightness ratio
of trajectories.

Each runs the learner's function on fresh cases (four schedules and both ends of time, Euler and Heun
on two grids, straight, circular, random and real sampler paths), compares with the kernels in
``fmtutor`` (``GaussianPath.convert``, ``solve_ode`` with ``solvers.steps_for_nfe``,
``trajectories.straightness_ratio``) and names the common mistakes: a flipped sign, a formula of the
linear schedule only, Heun at NFE n with n steps, an off-by-one grid, the grid's end ignored, the
ratio upside down or with squared lengths.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .._validate import broadcast_time
from ..generators import exact_model
from ..marginals import MarginalField
from ..paths import GaussianPath
from ..schedules import CosineSchedule, LinearSchedule, PolynomialSchedule, Schedule, VPSchedule
from ..solvers import solve_ode, steps_for_nfe, time_grid
from ..toy_data import eight_gaussians, three_clusters
from ..trajectories import straightness_ratio
from ._checker import Checker, CountedField, Report

__all__ = ["check_velocity_to_epsilon", "check_sample_at_nfe", "check_straightness"]

F64 = torch.float64


def _randn(seed: int, *shape: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# -- 1. the noise prediction hidden in a velocity ---------------------------------------------------


def check_velocity_to_epsilon(fn: Callable[[Tensor, Tensor, Tensor, Schedule], Tensor]) -> Report:
    """``fn(v, x, t, schedule)``: eps = (alpha_t v - d_alpha x) / (alpha_t d_beta - beta_t d_alpha);
    v, x (B, *D), t (B,)."""
    report = Checker("velocity to epsilon")
    vp = VPSchedule()
    cases = [
        (LinearSchedule(), (16, 2), 0.0, 1.0),
        (LinearSchedule(), (6, 2), 0.0, 0.0),
        (LinearSchedule(), (6, 2), 1.0, 1.0),
        (CosineSchedule(), (8, 3), 0.0, 1.0),
        (vp, (16, 2), 0.05, 0.95),
        (vp, (6, 2), 0.0, 0.0),
        (vp, (6, 2), vp.t_max, vp.t_max),
        (PolynomialSchedule(2.0), (4, 1, 3, 3), 0.2, 0.9),
    ]
    for seed, (schedule, shape, t_low, t_high) in enumerate(cases):
        v, x = 2 * _randn(10 + seed, *shape), 2 * _randn(30 + seed, *shape)
        t = t_low + (t_high - t_low) * torch.rand(shape[0], generator=torch.Generator().manual_seed(seed), dtype=F64)
        c = schedule(t)
        a, b, da, db = (broadcast_time(k, x) for k in (c.alpha, c.beta, c.d_alpha, c.d_beta))
        det = a * db - b * da
        reference = GaussianPath(schedule).convert(v, x, t, "velocity", "epsilon")
        tt = broadcast_time(t, x)
        mistakes = (
            (
                -reference,
                "the sign is flipped: the determinant is alpha_t d_beta - beta_t d_alpha "
                "(negative for every schedule here)",
            ),
            (
                (db * x - b * v) / det,
                "that is x1_hat, the data estimate; the noise estimate is "
                "(alpha_t v - d_alpha x) / (alpha_t d_beta - beta_t d_alpha)",
            ),
            (x - tt * v, "x - t v is the noise of the linear schedule only; use alpha_t, beta_t and their derivatives"),
            (a * v - da * x, "divide by the determinant alpha_t d_beta - beta_t d_alpha of the 2 x 2 system"),
        )
        where = f"t = {t_low:g}" if t_low == t_high else f"t in [{t_low:g}, {t_high:g}]"
        value = report.call(fn, v, x, t, schedule, case=f"{schedule.name}, {where}")
        report.close(
            value,
            reference,
            f"epsilon ({schedule.name}, shape {shape}, {where})",
            atol=1e-6,
            rtol=1e-4,
            mistakes=mistakes,
        )
    linear = GaussianPath("linear")
    exact = MarginalField(eight_gaussians(), linear)
    x, t = 3 * _randn(50, 64, 2), torch.linspace(0.05, 0.95, 64, dtype=F64)
    value = report.call(fn, exact.velocity(x, t), x, t, LinearSchedule(), case="the exact velocity of eight Gaussians")
    report.close(
        value,
        -broadcast_time(1 - t, x) * exact.score(x, t),
        "epsilon made from the exact flow-matching "
        "velocity of eight Gaussians (it should be the exact noise prediction -beta_t * score)",
        atol=1e-6,
        rtol=1e-4,
    )
    return report.report()


# -- 2. sampling at a matched number of network evaluations -----------------------------------------


def _field(x: Tensor, t: Tensor) -> Tensor:
    """The field u(x, t) = sin(x) (1 + t) - x / 2."""
    return torch.sin(x) * (1 + broadcast_time(t, x)) - x / 2


def _counted() -> CountedField:
    return CountedField(_field)


def _solve(method: str, x0: Tensor, steps: int, t_end: float) -> Tensor:
    return solve_ode(_counted(), x0, time_grid(steps, 0.0, t_end, dtype=x0.dtype), method=method).final


def _check_odd_heun(report: Checker, fn: Callable) -> None:
    """Heun at an odd NFE cannot spend exactly that many evaluations: the learner's function must refuse."""
    report.n_checks += 1
    try:
        fn(_counted(), _randn(1, 4, 2), 5, "heun", 1.0)
    except NotImplementedError:
        report.fail("not attempted yet (Heun at NFE 5): the function still raises NotImplementedError")
    except ValueError:
        return
    except Exception as err:  # a learner's bug is reported, not raised
        report.fail(
            f"Heun at NFE 5 should raise ValueError (5 evaluations are not a whole number of Heun steps), "
            f"got {type(err).__name__}: {err}"
        )
    else:
        report.fail("Heun at NFE 5 should raise ValueError: 5 evaluations are not a whole number of Heun steps")


def check_sample_at_nfe(fn: Callable[[Callable, Tensor, int, str, float], Tensor]) -> Report:
    """``fn(velocity, x0, nfe, method, t_end)``: the end state of ``method`` ('euler' or 'heun') on an even
    grid from t = 0 to ``t_end`` that calls ``velocity(x, t)`` exactly ``nfe`` times."""
    report = Checker("sampling at a given NFE")
    cases = [
        ("euler", 1, 1.0, (8, 2)),
        ("euler", 7, 1.0, (16, 2)),
        ("euler", 12, VPSchedule.t_max, (8, 3)),
        ("heun", 2, 1.0, (8, 2)),
        ("heun", 10, 1.0, (16, 2)),
        ("heun", 16, VPSchedule.t_max, (8, 3)),
    ]
    for seed, (method, nfe, t_end, shape) in enumerate(cases):
        x0 = _randn(60 + seed, *shape)
        steps = steps_for_nfe(method, nfe)
        reference = _solve(method, x0, steps, t_end)
        mistakes = (
            (_solve(method, x0, nfe, t_end), "Heun evaluates the field twice per step: NFE n means n / 2 steps"),
            (_solve(method, x0, steps, 1.0), f"the grid must end at t_end = {t_end:g}, not at 1"),
            (_solve(method, x0, steps + 1, t_end), f"off by one: {steps} steps, not {steps + 1}"),
        )
        if steps > 1:
            mistakes += (
                (
                    _solve(method, x0, steps - 1, t_end),
                    f"off by one: {steps} steps, not {steps - 1} (a grid of {steps} steps has {steps + 1} times)",
                ),
            )
        where = f"{method}, NFE {nfe}, t_end = {t_end:g}, x0 of shape {shape}"
        velocity, x_in = _counted(), x0.clone()
        value = report.call(fn, velocity, x_in, nfe, method, t_end, case=where)
        report.close(
            value,
            reference,
            f"the sample ({where})",
            atol=1e-6,
            rtol=1e-5,
            mistakes=mistakes if method == "heun" else mistakes[1:],
        )
        if isinstance(value, Tensor):
            hint = " (Heun: two evaluations per step, NFE / 2 steps)" if method == "heun" else ""
            report.check(
                velocity.calls == nfe,
                f"{where}: the field should be called exactly {nfe} times, "
                f"your sampler called it {velocity.calls} times{hint}",
            )
            report.check(
                bool(velocity.times) and abs(velocity.times[0]) < 1e-12,
                f"{where}: the first evaluation should be at t = 0 (the noise end)",
            )
            report.check(
                max(velocity.times, default=0.0) <= t_end + 1e-9,
                f"{where}: the field was evaluated after t_end = {t_end:g} (the VP schedule is undefined there)",
            )
            report.check(torch.equal(x_in, x0), f"{where}: your sampler changed x0 in place; return a new tensor")
    _check_odd_heun(report, fn)
    return report.report()


# -- 3. the straightness ratio of trajectories --------------------------------------------------------


def _straight(seed: int, steps: int, batch: int, dim: int) -> Tensor:
    """Straight segments walked with uneven steps: every ratio is exactly 1."""
    start, end = 2 * _randn(seed, batch, dim), 2 * _randn(seed + 1, batch, dim)
    s = torch.rand(steps - 1, generator=torch.Generator().manual_seed(seed), dtype=F64).sort().values
    s = torch.cat([s.new_zeros(1), s, s.new_ones(1)])[:, None, None]
    return (1 - s) * start + s * end


def _arcs(steps: int, radii: Tensor) -> Tensor:
    """Half circles of the given radii as polylines of ``steps`` chords (ratio steps sin(pi / 2 steps))."""
    angle = torch.linspace(0, math.pi, steps + 1, dtype=F64)[:, None]
    return torch.stack([radii * torch.cos(angle), radii * torch.sin(angle)], dim=-1)


def _fm_paths() -> Tensor:
    model = exact_model("flow-matching", three_clusters())
    return model.sample(_randn(70, 32, 2), 16, "euler", keep_path=True).path.to(F64)


def check_straightness(fn: Callable[[Tensor], Tensor]) -> Report:
    """``fn(path)``: for ``path`` (S + 1, B, D) the ratio (sum_k |x_{k+1} - x_k|) / |x_S - x_0| per particle, (B,)."""
    report = Checker("straightness ratio")
    walks = torch.cumsum(_randn(80, 21, 32, 3), dim=0)
    cases = [
        ("straight segments walked unevenly (ratio 1)", _straight(81, 10, 16, 2)),
        ("one step (ratio 1)", _straight(83, 1, 4, 2)),
        ("half circles of 64 chords", _arcs(64, torch.tensor([0.5, 1.0, 3.0], dtype=F64))),
        ("random walks in 3-D", walks),
        ("flow-matching paths, Euler with NFE 16", _fm_paths()),
    ]
    for what, path in cases:
        reference = straightness_ratio(path)
        steps = path.diff(dim=0).norm(dim=-1)
        chord = (path[-1] - path[0]).norm(dim=-1)
        mistakes = (
            (1 / reference, "the ratio is upside down: path length / chord, which is >= 1"),
            (steps.pow(2).sum(0) / chord**2, "add the step lengths |x_{k+1} - x_k|, not their squares"),
            (steps.pow(2).sum(0) / chord, "add the step lengths |x_{k+1} - x_k|, not their squares"),
            (
                steps.sum(0) / (path[-1] - path[1]).norm(dim=-1),
                "off by one: the chord runs from the first state path[0] to the last path[-1]",
            ),
            (steps[:-1].sum(0) / chord, "off by one: there are S steps between the S + 1 states"),
        )
        value = report.call(fn, path.clone(), case=what)
        report.close(
            value,
            reference,
            f"the ratio ({what}, path of shape {tuple(path.shape)})",
            atol=1e-8,
            rtol=1e-6,
            mistakes=mistakes,
        )
    return report.report()
