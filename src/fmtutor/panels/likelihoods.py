"""The likelihoods chapter's live figure: log p_t on a grid, exact and by the backward integration.

At time ``t`` the panel shows the exact log p_t of a Gaussian mixture under the linear path
(``MarginalField.log_density``), the estimate obtained by carrying every grid point from t back to
0 along the exact field with ``nfe`` evaluations of a solver, log N(X_0; 0, I) - int_0^t div u_s ds
(``likelihood.log_likelihood``), and their difference. ``probes`` = 0 uses the exact divergence;
P > 0 uses Hutchinson's estimator with P Rademacher probes per point (drawn from a fixed seed).
The error map is blank where log p_t < -14 (no mass to speak of); its title gives the mean absolute
error weighted by p_t, i.e. E_{x ~ p_t}|error|.
Estimates are cached per (t, nfe, probes).
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from ..distributions import GaussianMixture
from ..likelihood import log_likelihood
from ..marginals import MarginalField
from ..paths import GaussianPath
from .._validate import check_choice
from ..solvers import NFE_PER_STEP, steps_for_nfe, time_grid
from ..toy_data import get_dataset
from ..viz import field_grid, to_numpy
from . import Panel

__all__ = ["LikelihoodPanel"]

FLOOR = -14.0  # log-densities below this are drawn as the colour map's bottom


class LikelihoodPanel(Panel):
    """Exact and estimated log p_t of ``data`` on an ``n_grid`` x ``n_grid`` grid, and the error.

    Sliders: ``t`` in (0, 1], ``nfe`` (a whole number of ``method`` steps up to ``max_nfe``: Euler
    1, 2, 3, ..., Heun and midpoint 2, 4, ..., RK4 4, 8, ...) and ``probes`` (0 = exact divergence,
    else Hutchinson with that many Rademacher probes).
    """

    def __init__(
        self,
        data: str = "eight-gaussians",
        method: str = "euler",
        lim: float = 5.5,
        n_grid: int = 40,
        max_nfe: int = 64,
        max_probes: int = 16,
        seed: int = 0,
        figsize: tuple[float, float] = (8.4, 2.6),
    ):
        mixture = get_dataset(data)
        if not isinstance(mixture, GaussianMixture):
            raise ValueError(f"data must be a Gaussian mixture ('eight-gaussians' or 'three-clusters'), got {data!r}")
        check_choice("method", method, NFE_PER_STEP)
        self.field, self.method, self.seed = MarginalField(mixture, GaussianPath("linear")), method, seed
        self.max_nfe, self.max_probes, self.n = max_nfe, max_probes, n_grid
        self.points = field_grid(lim, n_grid)
        self._cache: dict[tuple[float, int, int], Tensor] = {}
        # A figure outside pyplot: show_live and scrub draw it themselves, so no blank copy under the cell.
        self.fig = Figure(figsize=figsize)
        FigureCanvasAgg(self.fig)
        self.axes = self.fig.subplots(1, 3)
        extent = (-lim, lim, -lim, lim)
        blank = np.zeros((n_grid, n_grid))
        styles = [("viridis", FLOOR, 0.0), ("viridis", FLOOR, 0.0), ("RdBu_r", -1.0, 1.0)]
        self.images = [
            ax.imshow(blank, origin="lower", extent=extent, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
            for ax, (cmap, lo, hi) in zip(self.axes, styles)
        ]
        for ax in self.axes:
            ax.set_xticks([])
            ax.set_yticks([])
        self.fig.subplots_adjust(left=0.01, right=0.92, bottom=0.03, top=0.9, wspace=0.3)
        self.fig.colorbar(self.images[1], ax=self.axes[:2].tolist(), fraction=0.04, pad=0.02)
        self.fig.colorbar(self.images[2], ax=self.axes[2], fraction=0.08, pad=0.03)

    def controls(self) -> dict:
        import ipywidgets as w

        per_step = NFE_PER_STEP[self.method]
        return {
            "t": w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="t"),
            "nfe": w.IntSlider(
                value=8,
                min=per_step,
                max=max(per_step, self.max_nfe - self.max_nfe % per_step),
                step=per_step,
                description="NFE",
            ),
            "probes": w.IntSlider(value=0, min=0, max=self.max_probes, description="probes"),
        }

    def estimate(self, t: float, nfe: int, probes: int) -> Tensor:
        """log p_t on the grid by the backward integration from t to 0 (cached): ``(n_grid ** 2,)``."""
        if not 0.0 < float(t) <= 1.0:
            raise ValueError(f"t must lie in (0, 1], got {t!r}")
        if not 0 <= int(probes) <= self.max_probes:
            raise ValueError(f"probes must lie in 0..{self.max_probes}, got {probes!r}")
        key = (round(float(t), 6), steps_for_nfe(self.method, int(nfe)), int(probes))
        if key not in self._cache:
            estimator = "exact" if key[2] == 0 else "rademacher"
            result = log_likelihood(
                self.field,
                self.points,
                time_grid(key[1], key[0], 0.0),
                method=self.method,
                estimator=estimator,
                n_probes=max(1, key[2]),
                generator=torch.Generator().manual_seed(self.seed),
            )
            self._cache[key] = result.log_p
        return self._cache[key]

    def update(self, t: float = 1.0, nfe: int = 8, probes: int = 0) -> None:
        estimate = self.estimate(t, nfe, probes)
        exact = self.field.log_density(self.points, float(t))
        error = estimate - exact
        weights = exact.exp() / exact.exp().sum()
        mean_error = float((weights * error.abs()).sum())
        shown_error = torch.where(exact >= FLOOR, error, torch.full_like(error, float("nan")))
        for image, values in zip(self.images, (exact, estimate, shown_error)):
            image.set_data(to_numpy(values).reshape(self.n, self.n))
        how = "exact div" if int(probes) == 0 else f"{int(probes)} probe{'s' if int(probes) > 1 else ''}"
        steps = steps_for_nfe(self.method, int(nfe))
        self.axes[0].set_title(f"exact log p_t, t = {float(t):.2f}", fontsize=8)
        self.axes[1].set_title(f"{self.method} x {steps} (NFE {int(nfe)}), {how}", fontsize=8)
        self.axes[2].set_title(f"error (nats), E_p|err| = {mean_error:.3f}", fontsize=8)

    @classmethod
    def demo(cls) -> LikelihoodPanel:
        panel = cls()
        panel.update(**panel.defaults())
        return panel
