"""Chapter 1's live figure: particles carried by a numerical solver through a time-dependent
spiral field, drawn against the exact flow.

Sliders: the solver, the number of steps (1 to 64) and the time t. The quiver shows u(., t) on a
20 x 20 grid, orange dots the solver's particles at t, grey dots the exact flow at t, and a few
orange polylines the solver's trajectories so far. The trajectories of each (solver, steps) pair
are computed once and cached; a slider move only interpolates and redraws.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.collections import LineCollection
from torch import Tensor

from ..odes import LinearODE
from ..solvers import NFE_PER_STEP, SOLVERS, Solution, solve_ode, time_grid
from ..viz import FieldPanel, to_numpy
from . import Panel

__all__ = ["SolverFlowPanel"]


class SolverFlowPanel(Panel):
    """u(x, t) = ((a + b t) I + omega J) x with 500 particles: a solver's answer against the exact flow."""

    def __init__(
        self,
        ode: LinearODE,
        x0: Tensor,
        lim: float = 4.0,
        n_grid: int = 20,
        n_traces: int = 12,
        figsize: tuple[float, float] = (4.0, 4.0),
    ):
        self.ode, self.x0 = ode, x0
        self.view = FieldPanel(lim, n_grid, figsize=figsize)
        self.fig, ax = self.view.fig, self.view.ax
        self._cache: dict[tuple, object] = {}  # (solver, steps) -> Solution; ('exact', t) -> positions
        ts = torch.linspace(0.0, 1.0, 101, dtype=x0.dtype)
        starts = x0[:n_traces]
        exact = ode.flow(starts.repeat(len(ts), 1), ts.repeat_interleave(len(starts)))
        exact = to_numpy(exact).reshape(len(ts), len(starts), 2)
        ax.add_collection(LineCollection(exact.transpose(1, 0, 2), colors="0.55", linewidths=0.8, alpha=0.7, zorder=1))
        self.exact_dots = ax.scatter([], [], s=3, c="0.35", alpha=0.5, linewidths=0, zorder=2)
        self.view.dots.set_zorder(3)
        self.traces = ax.add_collection(LineCollection([], colors="tab:orange", linewidths=1.0, zorder=4))
        self.n_traces = len(starts)
        ax.set(xticks=[], yticks=[])  # positions carry no meaning here, and tick labels cost half a redraw
        self.fig.set_dpi(80)
        ax.set_title("solver\nerror")  # two lines, so that tight_layout leaves room for the real title
        self.fig.tight_layout()

    @classmethod
    def demo(cls) -> SolverFlowPanel:
        gen = torch.Generator().manual_seed(0)
        return cls(LinearODE.spiral(), 1.3 * torch.randn(500, 2, generator=gen))

    def controls(self) -> dict:
        return {
            "solver": widgets.Dropdown(options=list(SOLVERS), value="euler", description="solver"),
            "steps": widgets.IntSlider(value=8, min=1, max=64, description="steps"),
            "t": widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="t"),
        }

    def trajectories(self, solver: str, steps: int) -> Solution:
        """The solution on the grid of ``steps`` steps, with its states ``path`` ``(steps + 1, 500, 2)``, computed once."""
        key = (solver, int(steps))
        if key not in self._cache:
            times = time_grid(int(steps), dtype=self.x0.dtype)
            self._cache[key] = solve_ode(self.ode.field, self.x0, times, method=solver, keep_path=True)
        return self._cache[key]

    def exact(self, t: float) -> np.ndarray:
        """The exact flow of the 500 particles at ``t`` ``(500, 2)``, computed once per slider value."""
        key = ("exact", round(t, 9))
        if key not in self._cache:
            self._cache[key] = to_numpy(self.ode.flow(self.x0, t))
        return self._cache[key]

    @torch.no_grad()
    def update(self, solver: str = "euler", steps: int = 8, t: float = 1.0) -> None:
        sol = self.trajectories(solver, steps)
        x_t, i, path = to_numpy(sol.at(t)), sol.index(t), to_numpy(sol.path)
        exact = self.exact(float(t))
        error = float(np.linalg.norm(x_t - exact, axis=1).mean())
        plural = "s" * (steps != 1)
        title = (
            f"{solver}, {steps} step{plural} (NFE {NFE_PER_STEP[solver] * steps}), t = {t:.2f}\n"
            f"mean distance to exact: {error:.3g}"
        )
        self.view.update(self.ode.field, float(t), particles=x_t, title=title)
        self.exact_dots.set_offsets(exact)
        so_far = np.concatenate([path[: i + 1, : self.n_traces], x_t[None, : self.n_traces]])
        self.traces.set_segments(list(so_far.transpose(1, 0, 2)))
