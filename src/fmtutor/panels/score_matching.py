"""Chapter 5's live figure: the family of SDEs that share the marginals of a Gaussian path,

    dX_t = [u_t(X_t) + sigma^2 / 2 * score_t(X_t)] dt + sigma dW_t,   X_0 ~ N(0, I),

one member per diffusion coefficient sigma >= 0 (sigma = 0 is the probability-flow ODE).

At time ``t`` the panel shows the drift u_t + sigma^2/2 score_t on a 20 x 20 grid (unit arrows,
coloured by size) and 500 particles simulated by Euler-Maruyama (``solvers.euler_maruyama``) from the
same noise with the same seeded generator, from t = 0 to the schedule's ``t_max`` (0.999 for VP,
where d_beta is infinite at t = 1). The fields are either exact (``MarginalField`` of the mixture)
or a trained epsilon network converted with ``GaussianPath.convert`` (score = -eps / beta_t).
Particle paths are simulated once per (fields, sigma, NFE) and cached, so moving ``t`` costs one
evaluation of the drift on the grid and one redraw. A simulation that blows up (a learned score
times a large sigma^2 / 2 with too few steps) is reported in the title instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .._validate import check_choice, check_positive
from ..distributions import GaussianMixture, StandardGaussian
from ..marginals import MarginalField
from ..paths import GaussianPath
from ..sampling import converted_field, joint_sde_drift
from ..schedules import Schedule, VPSchedule
from ..solvers import DivergenceError, Field, Solution, euler_maruyama, time_grid
from ..toy_data import get_dataset
from ..viz import FieldPanel, to_numpy
from . import Panel

__all__ = ["MarginalPreservingSDEPanel", "NFE_OPTIONS"]

NFE_OPTIONS = (10, 25, 50, 100, 200)


class MarginalPreservingSDEPanel(Panel):
    """Particles of the marginal-preserving SDE with diffusion coefficient ``sigma`` at time ``t``.

    Sliders: ``sigma`` in [0, 2], ``t`` in [0, 1] (shown at ``t_max`` beyond it), ``nfe`` (Euler-
    Maruyama steps, one drift evaluation each) and ``source``: 'exact' fields of the mixture
    ``data``, or 'learned' when an ``eps_model(x, t)`` (an epsilon predictor in the book's time) is
    given. ``schedule`` defaults to VP, the continuous limit of DDPM's schedule.
    """

    def __init__(
        self,
        data: str = "eight-gaussians",
        eps_model: Field | None = None,
        schedule: Schedule | None = None,
        n_particles: int = 500,
        nfe_options: Sequence[int] = NFE_OPTIONS,
        seed: int = 0,
        lim: float = 4.5,
        n_grid: int = 20,
        figsize: tuple[float, float] = (4.0, 4.0),
    ):
        mixture = get_dataset(data)
        if not isinstance(mixture, GaussianMixture):
            raise ValueError(f"data must be a Gaussian mixture ('eight-gaussians' or 'three-clusters'), got {data!r}")
        self.path = GaussianPath(schedule if schedule is not None else VPSchedule())
        self.t_max = self.path.t_max
        exact = MarginalField(mixture, self.path)
        # velocity and score at once (one posterior for both): each drift is evaluated once per step
        self.fields: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {"exact": exact.velocity_and_score}
        if eps_model is not None:
            velocity = converted_field(eps_model, self.path, "epsilon", "velocity")
            score = converted_field(eps_model, self.path, "epsilon", "score")
            self.fields["learned"] = lambda x, t: (velocity(x, t), score(x, t))
        self.nfe_options, self.seed = tuple(int(n) for n in nfe_options), seed
        self.x0 = StandardGaussian(2).sample(n_particles, torch.Generator().manual_seed(seed))
        self._paths: dict[tuple[str, float, int], Solution | None] = {}
        self.view = FieldPanel(lim=lim, n_grid=n_grid, figsize=figsize, particle_color="tab:red")
        self.fig, self.ax = self.view.fig, self.view.ax
        self.view.dots.set_sizes([6.0])
        means = to_numpy(mixture.means)
        self.ax.scatter(means[:, 0], means[:, 1], marker="+", s=40, c="k", linewidths=1, zorder=3)
        self.ax.set_xticks([])
        self.ax.set_yticks([])
        self.fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92)

    def controls(self) -> dict:
        import ipywidgets as w

        default_nfe = 100 if 100 in self.nfe_options else self.nfe_options[-1]
        return {
            "sigma": w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.25, description="σ"),
            "t": w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.02, description="t"),
            "nfe": w.SelectionSlider(options=self.nfe_options, value=default_nfe, description="NFE"),
            "source": w.Dropdown(options=tuple(self.fields), value="exact", description="fields"),
        }

    def trajectory(self, source: str, sigma: float, nfe: int) -> Solution | None:
        """Euler-Maruyama paths from t = 0 to t_max (cached): ``path`` is ``(nfe + 1, N, 2)``;
        ``None`` when the simulation became non-finite."""
        check_choice("source", source, self.fields)
        check_positive(float(sigma), "sigma", allow_zero=True)
        key = (source, float(sigma), int(nfe))
        if key not in self._paths:
            times = time_grid(int(nfe), 0.0, self.t_max, dtype=self.x0.dtype)
            try:
                with torch.no_grad():
                    self._paths[key] = euler_maruyama(
                        self.drift(source, sigma),
                        float(sigma),
                        self.x0,
                        times,
                        generator=torch.Generator().manual_seed(self.seed + 1),
                        keep_path=True,
                    )
            except DivergenceError:
                self._paths[key] = None
        return self._paths[key]

    def particles_at(self, t: float, source: str, sigma: float, nfe: int) -> Tensor | None:
        """The particles at the grid time nearest to ``t`` (clamped to [0, t_max])."""
        sol = self.trajectory(source, sigma, nfe)
        return None if sol is None else sol.nearest(t)

    def drift(self, source: str, sigma: float) -> Field:
        """The SDE's drift u_t + sigma^2/2 score_t for these fields."""
        return joint_sde_drift(self.fields[check_choice("source", source, self.fields)], float(sigma))

    def update(self, sigma: float = 1.0, t: float = 1.0, nfe: int = 100, source: str = "exact") -> None:
        shown = min(max(float(t), 0.0), self.t_max)
        particles = self.particles_at(shown, source, sigma, nfe)
        when = f"t={shown:.2f}" if float(t) <= self.t_max else f"t=t_max={self.t_max:g}"
        title = f"{source}, σ={float(sigma):.2f}, NFE={int(nfe)}, {when}"
        if particles is None:
            title = f"{source}, σ={float(sigma):.2f}, NFE={int(nfe)}: diverged"
        with torch.no_grad():
            self.view.update(self.drift(source, sigma), shown, particles, title=title)

    @classmethod
    def demo(cls) -> MarginalPreservingSDEPanel:
        panel = cls()
        panel.update(**panel.defaults())
        return panel
