"""Checkers for chapter 8 (straighter flows): a minibatch OT pairing, reflow pairs, Liu et al.'s
straightness S, and the Schrodinger bridge's cross-covariance from N(0, I) to a Gaussian.

Each runs the learner's function on fresh cases (hand-made batches with a known pairing, random
batches in 2-D and 3-D; a rotation whose flow is known, a bending field and the exact field of eight
Gaussians; straight, unevenly walked, circular and random paths on uneven grids), compares with the
kernels (``couplings.ot_pair``, ``reflow.reflow_pairs``, ``trajectories.velocity_deviation``) and
names the usual mistakes: the independent pairing kept, a permutation applied the wrong way round,
the plain instead of the squared distance, a maximised cost; Euler for Heun, time run backwards,
swapped or shuffled pairs, an off-by-one grid; displacements for velocities, steps left unweighted, the
mean step velocity for the average one, a square root; for the bridge, the OT coupling (sigma
ignored), eps = 2 sigma^2 or sigma where sigma^2 belongs, the shift -sigma^2 I / 2 forgotten, the
negative root, an elementwise square root for the matrix one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..couplings import exact_assignment, ot_pair, squared_distances
from ..gaussian_ot import bridge_cross_covariance, sqrtm_psd
from ..marginals import MarginalField
from ..paths import GaussianPath
from ..solvers import solve_ode, time_grid
from ..toy_data import eight_gaussians
from ..trajectories import velocity_deviation
from ._checker import Checker, CountedField, Report

__all__ = ["check_ot_pairing", "check_reflow_pairs", "check_straightness_deviation", "check_bridge_cross"]

F64 = torch.float64


def _randn(seed: int, *shape: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# -- 1. the minibatch OT pairing -------------------------------------------------------------------


def _pairing_cases() -> list[tuple[str, Tensor, Tensor]]:
    line = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], dtype=F64)
    return [
        (
            "three points and the same points shifted by 10, listed in reverse",
            line,
            line.flip(0) + torch.tensor([10.0, 0.0], dtype=F64),
        ),
        (
            "8 noise points and 8 points of a ring",
            _randn(1, 8, 2),
            4 * torch.nn.functional.normalize(_randn(2, 8, 2), dim=1),
        ),
        ("32 points against 32 shifted ones", _randn(3, 32, 2), _randn(4, 32, 2) + 1.5),
        ("16 points in 3-D", _randn(5, 16, 3), 2 * _randn(6, 16, 3)),
    ]


def check_ot_pairing(fn: Callable[[Tensor, Tensor], Tensor]) -> Report:
    """``fn(x0, x1)``: ``x1`` ``(N, D)`` reordered so that x0[i] is paired with out[i] by the exact OT
    plan for the cost |x0_i - x1_j|^2 (the pairing of least total squared distance)."""
    report = Checker("minibatch OT pairing")
    for what, x0, x1 in _pairing_cases():
        cost = squared_distances(x0, x1)
        perm = exact_assignment(cost)
        reference = ot_pair(x0, x1)
        mistakes = (
            (x1, "x1 is unchanged: that is the independent pairing; solve the assignment for the cost |x0_i - x1_j|^2"),
            (
                x1[torch.argsort(perm)],
                "the permutation is applied the wrong way round: x0[i] goes with x1[col[i]] "
                "where col is the column matched to row i",
            ),
            (x1[exact_assignment(cost.sqrt())], "the cost must be the squared distance |x0 - x1|^2, not the distance"),
            (x1[exact_assignment(cost.max() - cost)], "this pairing maximises the total cost; the plan minimises it"),
        )
        value = report.call(fn, x0.clone(), x1.clone(), case=what)
        if report.tensor(value, tuple(x1.shape), f"the reordered x1 ({what})"):
            used = squared_distances(value.to(x1), x1).argmin(1)
            report.check(
                sorted(used.tolist()) == list(range(len(x1))),
                f"{what}: every point of x1 must be used exactly once (the exact plan is a permutation)",
            )
        report.close(value, reference, f"the reordered x1 ({what})", atol=1e-9, rtol=1e-9, mistakes=mistakes)
    return report.report()


# -- 2. reflow pairs ------------------------------------------------------------------------------


def _rotation(x: Tensor, t: Tensor) -> Tensor:
    return math.pi / 2 * torch.stack([-x[:, 1], x[:, 0]], dim=1)


def _bend(x: Tensor, t: Tensor) -> Tensor:
    return torch.sin(x.flip(1)) * (1 + t[:, None]) + 0.5


def _heun(field, x0: Tensor, steps: int, t0: float = 0.0, t1: float = 1.0, method: str = "heun") -> Tensor:
    return solve_ode(field, x0, time_grid(steps, t0, t1, dtype=x0.dtype), method=method).final


def check_reflow_pairs(fn: Callable[[Callable, Tensor, int], Tensor]) -> Report:
    """``fn(velocity, x0, n_steps)``: pairs ``(N, 2, D)``, [:, 0] = x0 and [:, 1] = where Heun's method
    with ``n_steps`` even steps from t = 0 to t = 1 carries each x0."""
    report = Checker("reflow pairs")
    eight = MarginalField(eight_gaussians(), GaussianPath("linear")).velocity
    cases = [
        ("a quarter turn", _rotation, _randn(10, 64, 2), 8),
        ("a bending field", _bend, _randn(11, 32, 2), 5),
        ("the exact field of eight Gaussians", eight, _randn(12, 48, 2), 12),
    ]
    for what, field, x0, steps in cases:
        x1 = _heun(field, x0, steps)
        reference = torch.stack([x0, x1], dim=1)
        mistakes = (
            (torch.stack([x1, x0], 1), "the pairs are swapped: [:, 0] is the noise x0, [:, 1] its end point"),
            (
                torch.stack([x0, _heun(field, x0, steps, method="euler")], 1),
                "that is Euler's method; use Heun's (two evaluations per step)",
            ),
            (
                torch.stack([x0, _heun(field, x0, steps, 1.0, 0.0)], 1),
                "time runs backwards: the flow goes from noise at t = 0 to data at t = 1",
            ),
            (torch.stack([x0, _heun(field, x0, steps + 1)], 1), f"off by one: {steps} steps, not {steps + 1}"),
            (torch.stack([x0, _heun(field, x0, steps - 1)], 1), f"off by one: {steps} steps, not {steps - 1}"),
            (
                torch.stack([x0, x1.roll(1, 0)], 1),
                "the end points are paired with the wrong noise points: keep the order",
            ),
        )
        counted, x_in = CountedField(field), x0.clone()
        value = report.call(fn, counted, x_in, steps, case=what)
        report.close(value, reference, f"the pairs ({what}, {steps} steps)", atol=1e-8, rtol=1e-6, mistakes=mistakes)
        if isinstance(value, Tensor):
            report.check(
                counted.calls == 2 * steps,
                f"{what}: Heun with {steps} steps evaluates the field "
                f"{2 * steps} times, yours called it {counted.calls} times",
            )
            report.check(torch.equal(x_in, x0), f"{what}: your function changed x0 in place; return new tensors")
    return report.report()


# -- 3. straightness S ----------------------------------------------------------------------------


def _uneven(seed: int, steps: int, t0: float = 0.0, t1: float = 1.0) -> Tensor:
    s = torch.rand(steps - 1, generator=torch.Generator().manual_seed(seed), dtype=F64).sort().values
    return t0 + (t1 - t0) * torch.cat([s.new_zeros(1), s, s.new_ones(1)])


def _straightness_cases() -> list[tuple[str, Tensor, Tensor]]:
    times = _uneven(20, 12)
    start, end = 2 * _randn(21, 16, 2), 2 * _randn(22, 16, 2)
    const = start + times[:, None, None] * (end - start)  # straight, constant speed: S = 0
    slow_fast = start + times[:, None, None] ** 3 * (end - start)  # straight, changing speed
    angle = math.pi * time_grid(40, dtype=F64)[:, None]
    radii = torch.tensor([0.5, 1.0, 3.0], dtype=F64)
    circle = torch.stack([radii * torch.cos(angle), radii * torch.sin(angle)], dim=-1)
    walk = torch.cumsum(_randn(23, 9, 24, 3), dim=0)
    return [
        ("straight lines at constant speed, uneven grid (S = 0)", const, times),
        ("straight lines with changing speed, uneven grid", slow_fast, times),
        ("half circles, grid from 0 to 1", circle, time_grid(40, dtype=F64)),
        ("random walks in 3-D, uneven grid from 0.2 to 0.9", walk, _uneven(24, 8, 0.2, 0.9)),
    ]


def check_straightness_deviation(fn: Callable[[Tensor, Tensor], Tensor]) -> Report:
    """``fn(path, times)``: for ``path`` (S + 1, B, D) at ``times`` (S + 1,), the straightness
    S = sum_k h_k |(x_{k+1} - x_k) / h_k - d|^2 / (t_S - t_0) per particle, d = (x_S - x_0) / (t_S - t_0)."""
    report = Checker("straightness S")
    for what, path, times in _straightness_cases():
        reference = velocity_deviation(path, times)
        h = times.diff()[:, None, None]
        span = times[-1] - times[0]
        step, v = path.diff(dim=0), path.diff(dim=0) / h
        d = (path[-1] - path[0]) / span
        weighted = lambda sq, h=h: (h[..., 0] * sq.sum(-1)).sum(0)  # noqa: E731
        mistakes = (
            (weighted((step - d) ** 2) / span, "use the step velocities (x_{k+1} - x_k) / h_k, not the displacements"),
            (((v - d) ** 2).sum(-1).mean(0), "weight each step by its length h_k (the grid is uneven)"),
            (
                weighted((v - v.mean(0)) ** 2) / span,
                "the average velocity is (x_S - x_0) / (t_S - t_0), not the mean of the step velocities",
            ),
            (reference.sqrt(), "S is the mean *squared* deviation: no square root"),
            (weighted((v - d) ** 2), "divide by the time span t_S - t_0"),
        )
        value = report.call(fn, path.clone(), times.clone(), case=what)
        report.close(
            value, reference, f"S ({what}, path of shape {tuple(path.shape)})", atol=1e-8, rtol=1e-6, mistakes=mistakes
        )
    return report.report()


# -- 4. the Schrodinger bridge's cross-covariance ----------------------------------------------------


def _bridge_cases() -> list[tuple[str, Tensor, float]]:
    a = _randn(30, 3, 3)
    return [
        ("one dimension, cov1 = [[0.4]], sigma = 0.5", torch.tensor([[0.4]], dtype=F64), 0.5),
        ("a diagonal cov1 in 2-D, sigma = 1", torch.diag(torch.tensor([3.0, 0.25], dtype=F64)), 1.0),
        ("a full cov1 in 2-D, sigma = 0.7", torch.tensor([[3.0, 1.2], [1.2, 0.8]], dtype=F64), 0.7),
        ("a full cov1 in 3-D, sigma = 1.5", a @ a.T + 0.3 * torch.eye(3, dtype=F64), 1.5),
        ("a full cov1 in 2-D, sigma = 0", torch.tensor([[2.0, -0.5], [-0.5, 1.0]], dtype=F64), 0.0),
    ]


def check_bridge_cross(fn: Callable[[Tensor, float], Tensor]) -> Report:
    """``fn(cov1, sigma)``: K = Cov(x0, x1) ``(D, D)`` of the entropic OT plan with eps = 2 sigma^2 from
    N(0, I) to N(m1, cov1), K = ((4 cov1 + sigma^4 I)^{1/2} - sigma^2 I) / 2."""
    report = Checker("Schrodinger bridge cross-covariance")
    for what, cov1, sigma in _bridge_cases():
        eye = torch.eye(cov1.shape[0], dtype=F64)
        reference = bridge_cross_covariance(eye, cov1, sigma)
        root = sqrtm_psd(4 * cov1 + sigma**4 * eye)
        mistakes = (
            (bridge_cross_covariance(eye, cov1, 0.0), "that is the OT coupling's (sigma = 0); the noise must enter"),
            (
                bridge_cross_covariance(eye, cov1, math.sqrt(2) * sigma),
                "you used eps = 2 sigma^2 where the formula has sigma^2 (the precision's block is -I / sigma^2)",
            ),
            (
                bridge_cross_covariance(eye, cov1, math.sqrt(sigma)),
                "sigma appears squared: sigma^2 K = cov1 - K^T K, so sigma^4 under the root and sigma^2 outside",
            ),
            (root / 2, "the shift is missing: K = (root - sigma^2 I) / 2"),
            (-(root + sigma**2 * eye) / 2, "that is the negative root: K must make the joint covariance positive"),
            (
                ((4 * cov1 + sigma**4 * eye).clamp(min=0).sqrt() - sigma**2 * eye) / 2,
                "torch.sqrt takes the square root of each entry; you need the matrix square root (e.g. by eigh)",
            ),
        )
        value = report.call(fn, cov1.clone(), sigma, case=what)
        report.close(value, reference, f"K ({what})", atol=1e-8, rtol=1e-6, mistakes=mistakes)
    return report.report()
