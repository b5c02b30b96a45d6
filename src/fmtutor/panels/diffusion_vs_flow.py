"""Chapter 6's live figure: flow matching and diffusion side by side, at the same time t and NFE.

Left: the flow-matching velocity u_t on a 20 x 20 grid; right: the diffusion model's
probability-flow velocity (its epsilon converted on the VP path, ``TrainedModel.velocity``), not
the raw epsilon. Arrows have unit length and are coloured by speed. Over each field, 500 particles
generated from the *same* noise with the chosen number of network evaluations (NFE) and sampler
(flow matching: Euler or Heun; diffusion: ancestral, DDIM or the probability-flow ODE with Euler or
Heun), shown at time t, linear between the sampler's grid times (Heun's grid has NFE / 2 steps).
The fields are the exact ones of the mixture (``generators.exact_model``) or trained networks.
Sample paths are computed once per (fields, method, sampler, NFE) and cached, so moving t costs
two field evaluations on the grid and one redraw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .._validate import check_choice
from ..generators import KINDS, SAMPLERS, TrainedModel, exact_model
from ..distributions import GaussianMixture, StandardGaussian
from ..solvers import Solution
from ..toy_data import get_dataset
from ..viz import FieldPanel, to_numpy
from . import Panel

__all__ = ["DiffusionVsFlowPanel", "NFE_OPTIONS"]

NFE_OPTIONS = (2, 4, 8, 16, 32, 64)
LABEL = {"flow-matching": "flow matching", "diffusion": "diffusion"}


class DiffusionVsFlowPanel(Panel):
    """Flow matching (left) and diffusion (right): fields and particles at time ``t``.

    Sliders: ``t`` in [0, 1], ``nfe``, ``fm_sampler``, ``diffusion_sampler`` and ``source``:
    'exact' fields of the mixture ``data``, or 'learned' when ``models`` maps both kinds
    ('flow-matching', 'diffusion') to a ``TrainedModel``.
    """

    def __init__(
        self,
        data: str = "three-clusters",
        models: Mapping[str, TrainedModel] | None = None,
        n_particles: int = 500,
        nfe_options: Sequence[int] = NFE_OPTIONS,
        seed: int = 0,
        lim: float = 4.5,
        n_grid: int = 20,
        figsize: tuple[float, float] = (5.8, 3.1),
    ):
        mixture = get_dataset(data)
        if not isinstance(mixture, GaussianMixture):
            raise ValueError(f"data must be a Gaussian mixture ('eight-gaussians' or 'three-clusters'), got {data!r}")
        self.models: dict[str, dict[str, TrainedModel]] = {"exact": {k: exact_model(k, mixture) for k in KINDS}}
        if models is not None:
            if set(models) != set(KINDS) or not all(isinstance(m, TrainedModel) for m in models.values()):
                raise ValueError(f"models must map both {KINDS} to a TrainedModel, got keys {sorted(models)}")
            self.models["learned"] = {k: models[k] for k in KINDS}
        self.nfe_options = tuple(int(n) for n in nfe_options)
        if any(n < 2 or n % 2 for n in self.nfe_options):
            raise ValueError(f"nfe_options must be even numbers >= 2 (Heun spends 2 per step), got {self.nfe_options}")
        self.seed = seed
        self.x0 = StandardGaussian(2).sample(n_particles, torch.Generator().manual_seed(seed))
        self._paths: dict[tuple[str, str, str, int], Solution] = {}
        self.fig, axes = plt.subplots(1, 2, figsize=figsize)
        self.views = {
            k: FieldPanel(lim=lim, n_grid=n_grid, ax=ax, particle_color="tab:red") for k, ax in zip(KINDS, axes)
        }
        means = to_numpy(mixture.means)
        for view in self.views.values():
            view.ax.scatter(means[:, 0], means[:, 1], marker="+", s=40, c="k", linewidths=1, zorder=3)
            view.ax.set_xticks([])
            view.ax.set_yticks([])
        self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.87, wspace=0.04)

    def controls(self) -> dict:
        import ipywidgets as w

        default_nfe = 8 if 8 in self.nfe_options else self.nfe_options[0]
        return {
            "t": w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="t"),
            "nfe": w.SelectionSlider(options=self.nfe_options, value=default_nfe, description="NFE"),
            "fm_sampler": w.Dropdown(options=SAMPLERS["flow-matching"], value="euler", description="FM"),
            "diffusion_sampler": w.Dropdown(options=SAMPLERS["diffusion"], value="ddim", description="diffusion"),
            "source": w.Dropdown(options=tuple(self.models), value="exact", description="fields"),
        }

    def trajectory(self, source: str, kind: str, sampler: str, nfe: int) -> Solution:
        """The particles' path from noise to data (cached): ``path`` ``(steps + 1, N, 2)`` at ``times``."""
        model = self.models[check_choice("source", source, self.models)][check_choice("kind", kind, KINDS)]
        key = (source, kind, sampler, int(nfe))
        if key not in self._paths:
            self._paths[key] = model.sample(
                self.x0, int(nfe), sampler, keep_path=True, generator=torch.Generator().manual_seed(self.seed + 1)
            )
        return self._paths[key]

    def particles_at(self, t: float, source: str, kind: str, sampler: str, nfe: int) -> Tensor:
        """Positions at time ``t`` (clamped to the sampler's grid), linear between its grid times."""
        return self.trajectory(source, kind, sampler, nfe).at(t)

    def update(
        self,
        t: float = 1.0,
        nfe: int = 8,
        fm_sampler: str = "euler",
        diffusion_sampler: str = "ddim",
        source: str = "exact",
    ) -> None:
        models = self.models[check_choice("source", source, self.models)]
        for kind, sampler in (("flow-matching", fm_sampler), ("diffusion", diffusion_sampler)):
            field_t = min(max(float(t), 0.0), models[kind].t_max)
            particles = self.particles_at(t, source, kind, sampler, nfe)
            with torch.no_grad():
                alpha = float(models[kind].path.schedule(torch.tensor(field_t)).alpha)
                self.views[kind].update(
                    models[kind].velocity,
                    field_t,
                    particles,
                    title=f"{LABEL[kind]} ({sampler}), NFE {int(nfe)}\nt = {float(t):.2f}, α_t = {alpha:.2f}",
                )
            self.views[kind].ax.title.set_fontsize(8)

    @classmethod
    def demo(cls) -> DiffusionVsFlowPanel:
        panel = cls()
        panel.update(**panel.defaults())
        return panel
