"""Chapter 3's live figure: the exact marginal path of a Gaussian mixture, and particles riding it.

At time ``t`` the panel shows the marginal density p_t (heat map), the exact marginal velocity
u_t(x) = E[u_t(x | x1) | x_t = x] on a 20 x 20 grid (arrows of unit length, coloured by speed), and
500 particles carried from noise by a chosen ODE solver with the chosen number of steps. The
particle paths are solved once per (schedule, solver, steps), only as far as the time shown (and
extended when a later time is shown), and cached; between the solver's grid times the particles are
interpolated linearly. A schedule whose d_beta is infinite at t = 1 (vp) is shown at its ``t_max``
instead, and the title says so.
"""

from __future__ import annotations

import bisect

import numpy as np
import torch
from torch import Tensor

from .._validate import check_choice
from ..distributions import GaussianMixture, StandardGaussian
from ..marginals import MarginalField
from ..paths import GaussianPath
from ..solvers import SOLVERS, Solution, solve_ode, time_grid
from ..toy_data import get_dataset
from ..viz import FieldPanel, field_grid, to_numpy
from . import Panel

__all__ = ["MarginalPathPanel", "PANEL_SCHEDULES"]

PANEL_SCHEDULES = ("linear", "cosine", "vp")


class MarginalPathPanel(Panel):
    """Density, exact marginal velocity and ODE-transported particles of ``data`` at a time ``t``.

    Sliders: ``t`` in [0, 1], ``schedule`` ('linear', 'cosine', 'vp'), ``solver`` (Euler, midpoint,
    Heun, RK4) and ``steps`` (1 .. ``max_steps``). ``data`` must be a Gaussian mixture
    ('eight-gaussians' or 'three-clusters') so that the field is exact.
    """

    def __init__(
        self,
        data: str = "eight-gaussians",
        n_particles: int = 500,
        lim: float = 5.0,
        n_grid: int = 20,
        n_density: int = 60,
        max_steps: int = 100,
        seed: int = 0,
        figsize: tuple[float, float] = (4.0, 4.0),
    ):
        mixture = get_dataset(data)
        if not isinstance(mixture, GaussianMixture):
            raise ValueError(f"data must be a Gaussian mixture ('eight-gaussians' or 'three-clusters'), got {data!r}")
        self.data, self.max_steps = data, max_steps
        self.fields = {name: MarginalField(mixture, GaussianPath(name)) for name in PANEL_SCHEDULES}
        self.x0 = StandardGaussian(2).sample(n_particles, torch.Generator().manual_seed(seed))
        self._paths: dict[tuple[str, str, int], Solution] = {}
        self.view = FieldPanel(lim=lim, n_grid=n_grid, figsize=figsize, particle_color="tab:red")
        self.view.dots.set_sizes([5.0])
        self.fig, self.ax = self.view.fig, self.view.ax
        self.density_points = field_grid(lim + 0.5, n_density)
        self.image = self.ax.imshow(
            np.zeros((n_density, n_density)),
            origin="lower",
            cmap="Greys",
            extent=(-lim - 0.5, lim + 0.5, -lim - 0.5, lim + 0.5),
            interpolation="nearest",
            zorder=0,
        )
        self.ax.set_xticks([])
        self.ax.set_yticks([])
        self.fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.93)

    def controls(self) -> dict:
        import ipywidgets as w

        return {
            "t": w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.02, description="t"),
            "schedule": w.Dropdown(options=PANEL_SCHEDULES, value="linear", description="schedule"),
            "solver": w.Dropdown(options=tuple(SOLVERS), value="euler", description="solver"),
            "steps": w.IntSlider(value=20, min=1, max=self.max_steps, description="steps"),
        }

    def trajectory(self, schedule: str, solver: str, steps: int, until: float | None = None) -> Solution:
        """The particles' path from t = 0 on the even grid of ``steps`` steps to the schedule's t_max
        (cached): ``path`` is ``(k + 1, N, 2)``, the first k + 1 grid times, as far as ``at(until)``
        needs (all ``steps + 1`` without ``until``). A path asked for further later is extended from
        where it stopped, so it is the one ``sample_ode`` solves at once, bit for bit."""
        key = (check_choice("schedule", schedule, PANEL_SCHEDULES), check_choice("solver", solver, SOLVERS), int(steps))
        field, cached = self.fields[schedule], self._paths.get(key)
        times = time_grid(int(steps), 0.0, field.t_max, dtype=self.x0.dtype)
        # at(t) reads the states at times[k] and times[k + 1] around t
        last = int(steps) if until is None else min(max(bisect.bisect_right(times.tolist(), until), 1), int(steps))
        done = 0 if cached is None else len(cached.times) - 1
        if done < last:
            with torch.no_grad():
                start = self.x0 if cached is None else cached.final
                piece = solve_ode(field, start, times[done : last + 1], method=solver, keep_path=True)
            path = piece.path if cached is None else torch.cat([cached.path, piece.path[1:]])
            nfe = piece.nfe + (0 if cached is None else cached.nfe)
            self._paths[key] = Solution(times=times[: last + 1], final=path[-1], nfe=nfe, path=path)
        return self._paths[key]

    def particles_at(self, t: float, schedule: str, solver: str, steps: int) -> Tensor:
        """Particle positions at time ``t`` (clamped to t_max), linear between the solver's grid times;
        the path is solved only as far as ``t`` needs."""
        return self.trajectory(schedule, solver, steps, until=float(t)).at(t)

    def update(self, t: float = 0.5, schedule: str = "linear", solver: str = "euler", steps: int = 20) -> None:
        field = self.fields[check_choice("schedule", schedule, PANEL_SCHEDULES)]
        t_max = field.t_max
        shown = min(float(t), t_max)
        title = f"{schedule}, t = {shown:.2f}, {solver} x {steps}"
        if float(t) > t_max:
            title = f"{schedule}: t clamped to t_max = {t_max:g}, {solver} x {steps}"
        with torch.no_grad():
            p = field.density(self.density_points, shown)
            n = self.image.get_array().shape[0]
            self.image.set_data(to_numpy(p).reshape(n, n))
            self.image.set_clim(0.0, 1.5 * float(p.max()))  # the densest cell is mid-grey
            # a field that vanishes (cosine at t = 0: u_0 = (pi / 2) E[x1] = 0) must not show rounding noise
            self.view.set_vectors(field(self.view.grid, shown), zero_below=1e-6)
            self.view.set_particles(self.particles_at(shown, schedule, solver, steps))
        self.ax.set_title(title, fontsize=8, y=1.0)  # a fixed place: see FieldPanel.update

    @classmethod
    def demo(cls) -> MarginalPathPanel:
        panel = cls()
        panel.update(**panel.defaults())
        return panel
