"""Chapter 7's live figure: digits from one class-conditional MNIST generator, from FIXED noise, as the
guidance scale w and the number of function evaluations (NFE) change.

Every grid solves dX/dt = v_w(X, t | y) with v_w = v(x, t | null) + w (v(x, t | y) - v(x, t | null))
(``fmtutor.mnist.sample``, Euler by default) from the same starting noise X_0, so two grids differ
only by w and NFE. Row k shows the first ``shown`` of the ``per_class`` samples of digit k. Each (w, NFE) grid is sampled once
and cached (``precompute`` fills the cache ahead), so a slider move costs one ``set_data`` and one
redraw; an uncached setting is sampled on first use (seconds for a small network on a CPU).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn

from .._validate import check_choice
from ..guidance import GuidedField, grid_density, two_class_mixture
from ..mnist.conditioning import NUM_CLASSES
from ..mnist.glyphs import GlyphField
from ..mnist.sample import make_grid, sample
from ..paths import GaussianPath
from ..sampling import sample_ode
from . import Panel

__all__ = ["GuidancePanel", "GuidedMixturePanel", "W_OPTIONS", "NFE_OPTIONS"]

W_OPTIONS = (0.0, 1.0, 2.0, 3.0, 5.0)
NFE_OPTIONS = (1, 2, 4, 8, 16)


class GuidancePanel(Panel):
    """A grid of generated digits (row k: digit k) for guidance scale ``w`` and ``nfe`` solver evaluations.

    ``model(x, t, y)`` is a trained MNIST network (or ``GlyphField``) predicting ``prediction``
    ('velocity' or 'epsilon') on ``path``. All grids start from the noise drawn by a generator
    seeded with ``seed``; ``images(w, nfe)`` returns all ``10 * per_class`` samples (for scoring), the
    grid shows ``shown`` per digit (default ``min(per_class, 10)``). Sliders: ``w`` over ``ws`` and
    ``nfe`` over ``nfes`` (both cached).
    """

    def __init__(
        self,
        model: nn.Module,
        ws: Sequence[float] = W_OPTIONS,
        nfes: Sequence[int] = NFE_OPTIONS,
        per_class: int = 10,
        prediction: str = "velocity",
        path: GaussianPath | None = None,
        solver: str = "euler",
        seed: int = 0,
        shown: int | None = None,
        figsize: tuple[float, float] = (4.0, 4.3),
    ):
        if not ws or not nfes:
            raise ValueError("ws and nfes must each hold at least one value")
        if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
            raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
        self.model, self.prediction, self.path, self.solver, self.seed = model, prediction, path, solver, seed
        self.ws, self.nfes = tuple(float(w) for w in ws), tuple(int(n) for n in nfes)
        self.labels = torch.arange(NUM_CLASSES).repeat_interleave(per_class)
        self.per_class, self.shown = per_class, min(per_class, 10) if shown is None else int(shown)
        if not 1 <= self.shown <= per_class:
            raise ValueError(f"shown must lie in 1..{per_class} (per_class), got {shown!r}")
        self._images: dict[tuple[float, int], Tensor] = {}
        self._grids: dict[tuple[float, int], np.ndarray] = {}
        # A figure outside pyplot, so a notebook does not show it (a blank grid) under the cell that
        # builds the panel; show_live and static draw it themselves. Agg draws it, as for any panel.
        self.fig = Figure(figsize=figsize)
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.subplots()
        blank = make_grid(torch.full((NUM_CLASSES * self.shown, 1, 28, 28), -1.0), nrow=self.shown)
        self.image = self.ax.imshow(blank, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        self.ax.set_xticks([])
        self.ax.set_yticks([])  # row labels as plain texts: tick labels cost ~3x more per redraw
        for k in range(NUM_CLASSES):
            self.ax.text(-4, 16 + 30 * k, str(k), ha="right", va="center", fontsize=8)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.02, top=0.93)

    def _key(self, w: float, nfe: int) -> tuple[float, int]:
        key = (float(w), int(nfe))
        if key[0] not in self.ws:
            raise ValueError(f"w must be one of {self.ws}, got {w!r}")
        if key[1] not in self.nfes:
            raise ValueError(f"nfe must be one of {self.nfes}, got {nfe!r}")
        return key

    def images(self, w: float, nfe: int) -> Tensor:
        """The (N, 1, 28, 28) samples at (w, nfe) from the panel's fixed noise (cached)."""
        key = self._key(w, nfe)
        if key not in self._images:
            self._images[key] = sample(
                self.model,
                self.labels,
                w=key[0],
                nfe=key[1],
                solver=self.solver,
                prediction=self.prediction,
                path=self.path,
                generator=torch.Generator().manual_seed(self.seed),
            )
        return self._images[key]

    def grid(self, w: float, nfe: int) -> np.ndarray:
        """``make_grid`` of the first ``shown`` samples of each digit at (w, nfe), one row per digit (cached)."""
        key = self._key(w, nfe)
        if key not in self._grids:
            images = self.images(*key).reshape(NUM_CLASSES, self.per_class, 1, 28, 28)[:, : self.shown]
            self._grids[key] = make_grid(images.reshape(-1, 1, 28, 28), nrow=self.shown)
        return self._grids[key]

    def precompute(self, pairs: Iterable[tuple[float, int]] | None = None) -> GuidancePanel:
        """Sample the grids of ``pairs`` (default: every (w, nfe) of the sliders) ahead of the sliders."""
        for w, nfe in pairs if pairs is not None else [(w, n) for w in self.ws for n in self.nfes]:
            self.grid(w, nfe)
        return self

    def cross(self, w: float, nfe: int) -> list[tuple[float, int]]:
        """A cross of settings through (w, nfe): every w at ``nfe`` and every NFE at ``w``."""
        return [(v, int(nfe)) for v in self.ws] + [(float(w), n) for n in self.nfes if n != int(nfe)]

    def controls(self) -> dict:
        import ipywidgets as widgets

        w, nfe = self.opening()
        return {
            "w": widgets.SelectionSlider(options=self.ws, value=w, description="w"),
            "nfe": widgets.SelectionSlider(options=self.nfes, value=nfe, description="NFE"),
        }

    def opening(self) -> tuple[float, int]:
        """The setting the sliders open on: w = 3 (or the largest w) at the NFE with the most
        precomputed grids (ties: the larger NFE), so that the first moves need no sampling; the
        largest NFE when nothing is precomputed."""
        ready = {n: sum((v, n) in self._grids for v in self.ws) for n in self.nfes}
        nfe = max(self.nfes, key=lambda n: (ready[n], n))
        w = 3.0 if 3.0 in self.ws else self.ws[-1]
        if ready[nfe] and (w, nfe) not in self._grids:
            w = max(v for v in self.ws if (v, nfe) in self._grids)
        return w, nfe

    def update(self, w: float = 3.0, nfe: int = 16) -> None:
        self.image.set_data(self.grid(w, nfe))
        kind = {0.0: "unconditional", 1.0: "conditional"}.get(float(w), "guided")
        self.ax.set_title(f"w = {float(w):g} ({kind}), NFE = {int(nfe)} ({self.solver})", fontsize=9)

    @classmethod
    def demo(cls) -> GuidancePanel:
        """The panel on the exact field of ten font digits (``GlyphField``): no training needed."""
        panel = cls(GlyphField(), per_class=5).precompute()
        panel.update(**panel.defaults())
        return panel


class GuidedMixturePanel(Panel):
    """Classifier-free guidance with an exact answer (``fmtutor.guidance``): particles of the guided
    ODE dX/dt = v_w(X, t | y) at time ``t`` (red) over the tilted density p_t(x) p_t(y | x)^w (grey),
    for the labelled mixture ``two_class_mixture()`` and class ``y``. At t = 1 the grey is what
    guidance aims at; at w = 0 and w = 1 the particles follow it at every t, at other w they do not.

    Sliders: ``w`` over ``ws`` and ``t`` in [0, 1]. Each w's particle paths (RK4, ``steps`` steps,
    from one fixed noise draw) are solved once and cached; between grid times they are interpolated.
    """

    def __init__(
        self,
        ws: Sequence[float] = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0),
        y: int = 0,
        n_particles: int = 600,
        steps: int = 40,
        lim: float = 5.0,
        bins: int = 80,
        seed: int = 0,
        figsize: tuple[float, float] = (4.0, 4.0),
    ):
        self.data, self.path, self.y = two_class_mixture(), GaussianPath("linear"), y
        self.ws, self.steps, self.lim, self.bins = tuple(float(w) for w in ws), int(steps), lim, bins
        self.x0 = torch.randn(n_particles, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        self._paths: dict[float, Tensor] = {}
        self.fig = Figure(figsize=figsize)
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.subplots()
        self.image = self.ax.imshow(
            np.zeros((bins, bins)),
            origin="lower",
            cmap="Greys",
            interpolation="nearest",
            extent=(-lim, lim, -lim, lim),
            zorder=0,
        )
        self.dots = self.ax.scatter(np.zeros(n_particles), np.zeros(n_particles), s=4, c="tab:red", lw=0)
        self.ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[])
        self.fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92)

    def field(self, w: float):
        if float(w) not in self.ws:
            raise ValueError(f"w must be one of {self.ws}, got {w!r}")
        return GuidedField(self.data, self.path, self.y, float(w))

    def particles(self, w: float, t: float) -> Tensor:
        """The guided particles at time ``t`` (N, 2), linear between the RK4 grid times (paths cached per w)."""
        if float(w) not in self._paths:
            self._paths[float(w)] = sample_ode(self.field(w), self.x0, self.steps, "rk4", keep_path=True).path
        pos = min(max(float(t), 0.0), 1.0) * self.steps
        k = min(int(pos), self.steps - 1)
        path = self._paths[float(w)]
        return path[k] + (pos - k) * (path[k + 1] - path[k])

    def controls(self) -> dict:
        import ipywidgets as widgets

        w = 3.0 if 3.0 in self.ws else self.ws[-1]
        return {
            "w": widgets.SelectionSlider(options=self.ws, value=w, description="w"),
            "t": widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="t"),
        }

    def update(self, w: float = 3.0, t: float = 1.0) -> None:
        field, t = self.field(w), min(max(float(t), 0.0), 1.0)
        mass = grid_density(lambda x: field.tilted_log_density(x, t), -self.lim, self.lim, self.bins).mass
        self.image.set_data(mass.numpy())
        self.image.set_clim(0.0, 1.5 * float(mass.max()))
        self.dots.set_offsets(self.particles(w, t).numpy())
        self.ax.set_title(
            f"w = {float(w):g}, t = {t:.2f}: guided ODE (red), p_t(x) p_t(y={self.y} | x)^w (grey)", fontsize=8
        )

    def scrub(self, name: str, values: Sequence, **fixed) -> object:
        check_choice("name", name, ("w", "t"))
        return super().scrub(name, values, **fixed)

    @classmethod
    def demo(cls) -> GuidedMixturePanel:
        panel = cls()
        panel.update(**panel.defaults())
        return panel
