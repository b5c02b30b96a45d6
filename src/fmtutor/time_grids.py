"""Time grids fitted to a flow: where the velocity changes fastest, take the smallest steps.

One Euler step of size h from x(t) misses the exact solution by about h^2 / 2 * |a(t)|, with
a(t) = d/dt v(x(t), t) the acceleration *along the path* (zero on a straight line walked at constant
speed). Spreading N steps with a density rho(t) (step size h = 1 / (N rho)), the total error is about
(1 / 2N) * integral a(t) / rho(t) dt; minimising it under integral rho = 1 gives

    rho(t) proportional to sqrt(a(t)),

so the grid times sit at equal quantiles of integral_0^t sqrt(a(s)) ds. ``acceleration_profile``
measures the mean |a| of a field over particles on a fine grid; ``grid_from_profile`` turns a
profile into an N-step grid. A small floor keeps a step where the profile vanishes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import check_batch, check_callable, check_count, check_finite, check_positive
from .solvers import Field, Solution, solve_ode, time_grid

__all__ = ["acceleration_profile", "grid_from_profile", "adapted_grid", "GridSampler"]


@torch.no_grad()
def acceleration_profile(velocity: Field, x0: Tensor, n_fine: int = 64) -> tuple[Tensor, Tensor]:
    """``(edges, accel)``: a fine even grid ``(n_fine + 1,)`` on [0, 1] and the mean over the particles
    ``x0`` ``(B, D)`` of |v(x_{k+1}, t_{k+1}) - v(x_k, t_k)| / h on each interval, ``(n_fine,)``,
    along a Heun solve on that grid."""
    check_callable(velocity, "velocity", "velocity(x, t)")
    x0 = check_batch(x0, "x0")
    edges = time_grid(check_count(n_fine, "n_fine"), 0.0, 1.0, dtype=x0.dtype, device=x0.device)
    path = solve_ode(velocity, x0, edges, method="heun", keep_path=True).path
    v = torch.stack([velocity(x, t.expand(x.shape[0])) for x, t in zip(path, edges)])
    accel = (v[1:] - v[:-1]).flatten(2).norm(dim=-1).mean(dim=-1) / edges.diff()
    return edges, accel


def grid_from_profile(edges: Tensor, accel: Tensor, n_steps: int, floor: float = 0.05) -> Tensor:
    """An ``n_steps`` grid ``(n_steps + 1,)`` from 0 to 1 at equal quantiles of integral sqrt(a).

    ``accel`` ``(M,)`` is constant on each interval of ``edges`` ``(M + 1,)``; the density is
    sqrt(a) + ``floor`` * mean sqrt(a) (the floor keeps a step where a vanishes). A constant profile
    gives the even grid.
    """
    n_steps, floor = check_count(n_steps, "n_steps"), check_positive(floor, "floor", allow_zero=True)
    for name, value in (("edges", edges), ("accel", accel)):
        if not isinstance(value, Tensor) or not value.is_floating_point() or value.ndim != 1:
            got = (
                f"shape {tuple(value.shape)}, dtype {value.dtype}"
                if isinstance(value, Tensor)
                else type(value).__name__
            )
            raise TypeError(f"{name} must be a 1-D floating tensor, got {got}")
        check_finite(value, name)
    if edges.shape[0] < 2 or not bool((edges.diff() > 0).all()):
        raise ValueError(f"edges must be at least two increasing times, got {edges.tolist()}")
    if accel.shape != (edges.shape[0] - 1,):
        raise ValueError(
            f"accel must have one value per interval of edges, shape (M,) = ({edges.shape[0] - 1},), "
            f"got {tuple(accel.shape)}"
        )
    if bool((accel < 0).any()):
        raise ValueError(f"accel must be non-negative, its smallest value is {accel.min().item():.3g}")
    root = accel.double().sqrt()
    density = root + floor * root.mean() + (1e-12 if float(root.max()) == 0 else 0.0)
    mass = torch.cat([density.new_zeros(1), torch.cumsum(density * edges.double().diff(), 0)])
    targets = torch.linspace(0, float(mass[-1]), n_steps + 1, dtype=torch.float64)
    k = torch.searchsorted(mass, targets, right=True).clamp(1, len(density)) - 1
    grid = edges.double()[k] + (targets - mass[k]) / density[k]
    grid[0], grid[-1] = float(edges[0]), float(edges[-1])
    return grid.to(edges.dtype)


def adapted_grid(velocity: Field, x0: Tensor, n_steps: int, n_fine: int = 64, floor: float = 0.05) -> Tensor:
    """``grid_from_profile(*acceleration_profile(velocity, x0, n_fine), n_steps, floor)``."""
    return grid_from_profile(*acceleration_profile(velocity, x0, n_fine), n_steps, floor=floor)


@dataclass(frozen=True)
class GridSampler:
    """A sampler on grids fitted to ``velocity``'s measured profile (``acceleration_profile``), with the
    ``sample(x0, nfe, sampler)`` call of ``generators.TrainedModel`` so quality curves treat it alike."""

    velocity: Field
    edges: Tensor
    accel: Tensor

    @classmethod
    def fit(cls, velocity: Field, x0: Tensor, n_fine: int = 64) -> GridSampler:
        return cls(velocity, *acceleration_profile(velocity, x0, n_fine))

    @torch.no_grad()
    def sample(
        self,
        x0: Tensor,
        nfe: int,
        sampler: str = "euler",
        generator: torch.Generator | None = None,
        keep_path: bool = False,
    ) -> Solution:
        """Euler (one evaluation per step) with ``nfe`` steps on the fitted grid; ``generator`` is unused."""
        if sampler != "euler":
            raise ValueError(f"GridSampler fits grids for Euler's method, got sampler {sampler!r}")
        grid = grid_from_profile(self.edges, self.accel, nfe).to(x0)
        return solve_ode(self.velocity, x0, grid, keep_path=keep_path)
