"""Chapter 2's panel: 500 particles driven by an SDE, over a quiver of its drift.

Sliders: the diffusion coefficient sigma, the time t in [0, 1], the number of Euler-Maruyama steps
and the target. Langevin targets use the drift sigma^2 / 2 grad log p (so sigma sets both the pull
and the noise); the Ornstein-Uhlenbeck target keeps the drift -theta x fixed and only the noise
changes. One simulation, with a fixed seed, is cached per (target, sigma, steps): moving t only
picks another saved state, so it scrubs through one fixed set of paths.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import Tensor

from .._validate import check_choice
from ..distributions import Density
from ..sdes import OrnsteinUhlenbeck, langevin_drift
from ..solvers import Field, Solution, euler_maruyama, time_grid
from ..toy_data import get_dataset
from ..viz import FieldPanel, field_grid, to_numpy
from . import Panel

__all__ = ["SDEPanel", "TARGET_LAWS"]

TARGET_LAWS = {
    "eight-gaussians": "Langevin: eight Gaussians",
    "three-clusters": "Langevin: three clusters",
    "ornstein-uhlenbeck": "Ornstein-Uhlenbeck, theta = 2",
}
OU_THETA = 2.0


class SDEPanel(Panel):
    """Quiver of the drift (20 x 20) plus ``n_particles`` Euler-Maruyama particles on t in [0, 1].

    Particles start from N(0, I) for Langevin and from N((2.5, 2.5), 0.3^2 I) for Ornstein-Uhlenbeck;
    the grey background is the target density (for OU its stationary law N(0, sigma^2/(2 theta) I)).
    """

    def __init__(
        self,
        n_particles: int = 500,
        seed: int = 0,
        lim: float = 4.0,
        n_grid: int = 20,
        figsize: tuple[float, float] = (4.0, 4.0),
        cache_size: int = 48,
    ):
        self.n_particles, self.seed, self.lim, self.cache_size = n_particles, seed, lim, cache_size
        self.view = FieldPanel(lim=lim, n_grid=n_grid, figsize=figsize)
        self.fig, self.ax = self.view.fig, self.view.ax
        self._pixels = field_grid(lim + 0.5, 64)
        self.image = self.ax.imshow(
            np.zeros((64, 64)),
            extent=(-lim - 0.5, lim + 0.5, -lim - 0.5, lim + 0.5),
            origin="lower",
            cmap="Greys",
            vmin=0,
            vmax=1,
            zorder=0,
            interpolation="nearest",
        )
        self._cache: OrderedDict[tuple, Solution] = OrderedDict()
        self._shown: tuple | None = None
        self.fig.set_dpi(80)
        self.ax.set(xticks=[], yticks=[], title="sigma")  # ticks cost more to draw than the data
        self.fig.tight_layout()

    @classmethod
    def demo(cls) -> SDEPanel:
        return cls()

    def controls(self) -> dict:
        import ipywidgets as w

        return {
            "sigma": w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="sigma"),
            "t": w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.02, description="t"),
            "steps": w.IntSlider(value=100, min=10, max=200, step=10, description="steps"),
            "target": w.Dropdown(
                options=[(label, key) for key, label in TARGET_LAWS.items()],
                value="eight-gaussians",
                description="target",
            ),
        }

    def density(self, target: str, sigma: float) -> Density | None:
        """The law the particles should approach: the mixture, or OU's stationary Gaussian."""
        if target == "ornstein-uhlenbeck":
            return OrnsteinUhlenbeck(OU_THETA, sigma).stationary(2) if sigma > 0 else None
        return get_dataset(target)

    def drift(self, target: str, sigma: float) -> Field:
        """-theta x for OU, sigma^2 / 2 grad log p for a Langevin target."""
        if check_choice("target", target, TARGET_LAWS) == "ornstein-uhlenbeck":
            return OrnsteinUhlenbeck(OU_THETA, sigma).drift
        return langevin_drift(self.density(target, sigma), sigma)

    def start(self, target: str) -> Tensor:
        """The fixed starting particles ``(n_particles, 2)`` (same seed for every setting)."""
        z = torch.randn(self.n_particles, 2, generator=torch.Generator().manual_seed(self.seed))
        return torch.tensor([2.5, 2.5]) + 0.3 * z if target == "ornstein-uhlenbeck" else z

    @torch.no_grad()
    def simulate(self, target: str, sigma: float, steps: int) -> Solution:
        """The simulation on t in [0, 1], with all states ``path`` ``(steps + 1, n_particles, 2)``, cached per setting."""
        key = (target, round(float(sigma), 6), int(steps))
        if key not in self._cache:
            gen = torch.Generator().manual_seed(self.seed + 1)
            sol = euler_maruyama(
                self.drift(target, sigma),
                float(sigma),
                self.start(target),
                time_grid(int(steps)),
                generator=gen,
                keep_path=True,
            )
            self._cache[key] = sol
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def _background(self, target: str, sigma: float) -> None:
        if self._shown == (target, sigma):
            return
        p = self.density(target, sigma)
        if p is None:
            img = np.zeros((64, 64))
        else:
            dens = p.log_density(self._pixels).exp()
            img = to_numpy(0.45 * dens / dens.max()).reshape(64, 64)  # light grey, opaque: cheap to draw
        self.image.set_data(img)
        self._shown = (target, sigma)

    @torch.no_grad()
    def update(self, sigma: float = 1.0, t: float = 0.5, steps: int = 100, target: str = "eight-gaussians") -> None:
        """Show the drift and the particles X_t of one fixed simulation."""
        sol = self.simulate(target, sigma, steps)
        self._background(target, float(sigma))
        title = f"sigma = {sigma:.1f}, t = {t:.2f} ({steps} steps)"
        self.view.update(self.drift(target, sigma), t, sol.nearest(t), title=title)
