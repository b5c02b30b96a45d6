"""Chapter 8's live figure: what a coupling does to the flow and to a sampler with few steps.

Left: the chosen method's velocity field at time t on a 20 x 20 grid (unit arrows coloured by speed)
and 400 particles carried from the *same* noise by Euler's method with the chosen NFE, shown at t
(linear between the sampler's grid times). Right: 60 training pairs of the method's coupling drawn as
segments x0 -> x1: independent pairs cross everywhere, minibatch-OT pairs (from plans of the chosen
OT batch size) and reflow pairs hardly cross. The OT batch size picks the OT-CFM model and its pairs.
Paths and pairs are computed once per setting and cached, so moving t costs one field evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import LineCollection
from torch import Tensor

from .._validate import check_choice
from ..couplings import IndependentCoupling, MinibatchOTCoupling, split_pairs
from ..distributions import Sampleable, StandardGaussian
from ..gaussian_ot import Gaussian, GaussianCouplingField
from ..solvers import Field, Solution, solve_ode, time_grid
from ..viz import FieldPanel, to_numpy
from . import Panel

__all__ = ["StraighterFlowsPanel", "OT_CFM"]

OT_CFM = "OT-CFM"


class StraighterFlowsPanel(Panel):
    """Sliders ``t``, ``method`` (the keys of ``models``, plus 'OT-CFM' when ``ot_models`` is given),
    ``nfe`` and ``ot_batch`` (the keys of ``ot_models``).

    ``models`` maps a method's name to its velocity field, ``couplings`` maps it to the Sampleable of
    pairs ``(n, 2, D)`` it trains on (``couplings`` module); OT-CFM's pairs are made here from
    ``target`` with the chosen OT batch size.
    """

    def __init__(
        self,
        models: Mapping[str, Field],
        couplings: Mapping[str, Sampleable],
        target: Sampleable,
        ot_models: Mapping[int, Field] | None = None,
        n_particles: int = 400,
        n_pairs: int = 60,
        nfe_options: Sequence[int] = (1, 2, 4, 8, 16),
        seed: int = 0,
        lim: float = 5.0,
        figsize: tuple[float, float] = (6.4, 3.3),
    ):
        if set(models) != set(couplings):
            raise ValueError(
                f"models and couplings must name the same methods, got {sorted(models)} and {sorted(couplings)}"
            )
        self.models, self.couplings, self.target = dict(models), dict(couplings), target
        self.ot_models = {int(n): f for n, f in (ot_models or {}).items()}
        self.methods = tuple(self.models) + ((OT_CFM,) if self.ot_models else ())
        self.nfe_options = tuple(int(n) for n in nfe_options)
        self.seed, self.n_pairs = seed, n_pairs
        self.x0 = StandardGaussian(target.dim).sample(n_particles, torch.Generator().manual_seed(seed))
        self._paths: dict[tuple[str, int, int], Solution] = {}
        self._pairs: dict[tuple[str, int], Tensor] = {}
        self.fig, (left, self.ax_pairs) = plt.subplots(1, 2, figsize=figsize)
        self.view = FieldPanel(lim=lim, n_grid=20, ax=left, particle_color="tab:red")
        self.lines = LineCollection([], colors="tab:blue", linewidths=0.6, alpha=0.5)
        self.ax_pairs.add_collection(self.lines)
        self.ends = self.ax_pairs.scatter([], [], s=6, c=[], cmap="coolwarm", vmin=0, vmax=1, linewidths=0)
        self.ax_pairs.set(xlim=(-lim - 0.5, lim + 0.5), ylim=(-lim - 0.5, lim + 0.5), aspect="equal")
        for ax in (left, self.ax_pairs):
            ax.set_xticks([])
            ax.set_yticks([])
        self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.86, wspace=0.04)

    def controls(self) -> dict:
        import ipywidgets as w

        batches = tuple(self.ot_models) or (0,)
        return {
            "t": w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="t"),
            "method": w.Dropdown(options=self.methods, value=self.methods[0], description="method"),
            "nfe": w.SelectionSlider(
                options=self.nfe_options, value=self.nfe_options[min(2, len(self.nfe_options) - 1)], description="NFE"
            ),
            "ot_batch": w.SelectionSlider(options=batches, value=batches[-1], description="OT batch"),
        }

    def field(self, method: str, ot_batch: int) -> Field:
        check_choice("method", method, self.methods)
        if method == OT_CFM:
            batch = check_choice("ot_batch", str(ot_batch), map(str, self.ot_models))
            return self.ot_models[int(batch)]
        return self.models[method]

    def trajectory(self, method: str, nfe: int, ot_batch: int) -> Solution:
        """Euler from the panel's noise with ``nfe`` steps (cached): ``path`` ``(nfe + 1, N, D)``."""
        key = (method, int(nfe), int(ot_batch) if method == OT_CFM else 0)
        if key not in self._paths:
            with torch.no_grad():
                self._paths[key] = solve_ode(self.field(method, ot_batch), self.x0, time_grid(int(nfe)), keep_path=True)
        return self._paths[key]

    def pairs(self, method: str, ot_batch: int) -> Tensor:
        """``n_pairs`` training pairs ``(n, 2, D)`` of the method's coupling (cached, seeded)."""
        key = (method, int(ot_batch) if method == OT_CFM else 0)
        if key not in self._pairs:
            source = StandardGaussian(self.target.dim)
            coupling = (
                MinibatchOTCoupling(source, self.target, ot_batch=int(ot_batch))
                if method == OT_CFM
                else self.couplings[method]
            )
            self._pairs[key] = coupling.sample(self.n_pairs, torch.Generator().manual_seed(self.seed + 1))
        return self._pairs[key]

    def update(self, t: float = 1.0, method: str | None = None, nfe: int = 4, ot_batch: int = 0) -> None:
        method = self.methods[0] if method is None else method
        particles = self.trajectory(method, nfe, ot_batch).at(t)
        label = f"{method}, batch {int(ot_batch)}" if method == OT_CFM else method
        with torch.no_grad():
            self.view.update(
                self.field(method, ot_batch),
                min(max(float(t), 0.0), 1.0),
                particles,
                title=f"{label}\nEuler, NFE {int(nfe)}, t = {float(t):.2f}",
            )
        x0, x1 = (to_numpy(p) for p in split_pairs(self.pairs(method, ot_batch)))
        self.lines.set_segments(np.stack([x0, x1], axis=1))
        self.ends.set_offsets(np.concatenate([x0, x1]))
        self.ends.set_array(np.r_[np.zeros(len(x0)), np.ones(len(x1))])
        self.ax_pairs.set_title(f"training pairs x0 → x1\n{label}")
        for ax in (self.view.ax, self.ax_pairs):
            ax.title.set_fontsize(8)

    @classmethod
    def demo(cls) -> StraighterFlowsPanel:
        """Exact fields between N(0, I) and an elongated Gaussian: independent and OT couplings."""
        mean, cov = torch.tensor([2.0, 1.0]), torch.tensor([[3.0, 1.2], [1.2, 0.8]])
        target = Gaussian(mean, cov)
        eye, zero = torch.eye(2), torch.zeros(2)
        models = {
            "independent": GaussianCouplingField.independent(zero, eye, mean, cov),
            "exact OT": GaussianCouplingField.optimal(zero, eye, mean, cov),
        }
        source = StandardGaussian(2)
        couplings = {
            "independent": IndependentCoupling(source, target),
            "exact OT": MinibatchOTCoupling(source, target, ot_batch=1024),
        }
        panel = cls(models, couplings, target)
        panel.update(**panel.defaults())
        return panel
