"""The plotting edge: tensors become numpy here and nowhere else.

One figure serves both readers. ``FieldPanel`` draws a vector field on a grid plus particles and
``update`` changes the arrows and dots in place; a live ipywidgets slider (``live``) and the static
twin of the rendered book (``fmtutor.static``, frames drawn in advance over a grid of every control)
call the same update function, so what a reader picks in the HTML book is what the slider shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from .live_panel import live

__all__ = [
    "to_numpy",
    "field_grid",
    "SPEED_CMAP",
    "unit_arrows",
    "quiver_by_speed",
    "speed_colorbar",
    "FieldPanel",
    "live",
    "LossPlot",
    "scatter",
]

SPEED_CMAP = "viridis"  # the colour of an arrow is the speed |u_t(x)| on a scale fixed per figure


def to_numpy(x: Tensor | np.ndarray) -> np.ndarray:
    """Detach, move to the CPU and convert; numpy arrays pass through."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def field_grid(lim: float = 4.0, n: int = 20) -> Tensor:
    """An ``n x n`` grid of points on [-lim, lim]^2, flattened to ``(n * n, 2)``."""
    axis = torch.linspace(-lim, lim, n)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def unit_arrows(v: Tensor | np.ndarray, zero_below: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Vectors ``(N, 2)`` as unit arrows ``(N, 2)`` and their lengths ``(N,)``: the book draws a field's
    direction as an arrow and its speed as the arrow's colour. A vector shorter than ``zero_below``
    gets no arrow (a field that vanishes must not show the direction of its rounding noise)."""
    v = to_numpy(v)
    speed = np.linalg.norm(v, axis=1)
    unit = np.where((speed > zero_below)[:, None], v / np.maximum(speed, zero_below)[:, None], 0.0)
    return unit, speed


def quiver_by_speed(
    ax: plt.Axes,
    points: Tensor | np.ndarray,
    v: Tensor | np.ndarray,
    zero_below: float = 1e-12,
    *,
    vmax: float | None = None,
    **kwargs,
):
    """Draw ``v`` ``(N, 2)`` at ``points`` ``(N, 2)`` as unit arrows (``unit_arrows``) coloured by the
    speed ``|v|`` in ``SPEED_CMAP``; the keyword arguments go to ``ax.quiver`` (e.g. ``scale``, ``width``).

    With ``vmax`` the colour scale is fixed to [0, ``vmax``] (faster than ``vmax``: the top colour):
    every panel of a figure passes the same ``vmax`` so that one colour means one speed, and
    ``speed_colorbar`` draws the scale once per figure. Without it matplotlib spans the colours over
    the speeds drawn. Returns the ``Quiver``.
    """
    p = to_numpy(points)
    unit, speed = unit_arrows(v, zero_below)
    style = {"cmap": SPEED_CMAP, "angles": "xy", "pivot": "mid"}
    if vmax is not None:
        style["clim"] = (0.0, vmax)
    return ax.quiver(p[:, 0], p[:, 1], unit[:, 0], unit[:, 1], speed, **{**style, **kwargs})


def scatter(ax: plt.Axes, x: Tensor, lim: float | None = 4.5, **kwargs) -> None:
    """Scatter ``(N, 2)`` points on ``ax`` with small dots and equal axes."""
    p = to_numpy(x)
    ax.scatter(p[:, 0], p[:, 1], **{"s": 2, "alpha": 0.5, "linewidths": 0, **kwargs})
    ax.set_aspect("equal")
    if lim is not None:
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))


def speed_colorbar(fig: plt.Figure, axes, vmax: float, label: str = r"speed $\|u_t(x)\|$"):
    """One colour bar for every ``quiver_by_speed`` of ``fig`` drawn with ``vmax``, beside ``axes``."""
    mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0.0, vmax), cmap=SPEED_CMAP)
    return fig.colorbar(mappable, ax=axes, label=label, extend="max", fraction=0.03, pad=0.02)


class FieldPanel:
    """A quiver plot of a 2D field on a fixed grid, with optional particles, updated in place.

    ``update(field, t, particles)`` evaluates ``field(grid, t)`` and moves the arrows (normalised
    to unit length, coloured by magnitude) and the particle dots; nothing is re-created, so an
    update costs one field evaluation and one redraw. With ``vmax`` the colour scale is fixed to
    [0, vmax] (``colorbar()`` draws it), so that colours compare across updates and panels; without
    it each update rescales the colours to its own largest speed.
    """

    def __init__(
        self,
        lim: float = 4.0,
        n_grid: int = 20,
        ax: plt.Axes | None = None,
        figsize: tuple[float, float] = (4.5, 4.5),
        particle_color: str = "tab:orange",
        vmax: float | None = None,
    ):
        if ax is None:
            self.fig, self.ax = plt.subplots(figsize=figsize)
        else:
            self.fig, self.ax = ax.figure, ax
        self.grid = field_grid(lim, n_grid)
        g = to_numpy(self.grid)
        self.vmax = vmax
        self.quiver = quiver_by_speed(self.ax, g, np.zeros_like(g), vmax=vmax or 1.0, scale=n_grid * 1.3, width=0.004)
        self.dots = self.ax.scatter([], [], s=3, c=particle_color, alpha=0.6, linewidths=0)
        self.ax.set(xlim=(-lim - 0.5, lim + 0.5), ylim=(-lim - 0.5, lim + 0.5), aspect="equal")

    def set_vectors(self, v: Tensor | np.ndarray, zero_below: float = 1e-12) -> None:
        """Show vectors ``(n_grid**2, 2)`` at the grid points: direction as arrows, size as colour
        (``unit_arrows``: none for a vector shorter than ``zero_below``)."""
        unit, norm = unit_arrows(v, zero_below)
        self.quiver.set_UVC(unit[:, 0], unit[:, 1], norm)
        if self.vmax is None:
            self.quiver.set_clim(0, max(float(norm.max()), 1e-12))

    def colorbar(self, label: str = r"speed $\|u_t(x)\|$"):
        """The colour bar of a panel with a fixed scale (``vmax``)."""
        if self.vmax is None:
            raise ValueError("colorbar: this FieldPanel has no fixed colour scale; pass vmax=... to FieldPanel")
        return speed_colorbar(self.fig, self.ax, self.vmax, label)

    def set_particles(self, x: Tensor | np.ndarray | None) -> None:
        self.dots.set_offsets(np.empty((0, 2)) if x is None else to_numpy(x))

    @torch.no_grad()
    def update(
        self,
        field: Callable[[Tensor, Tensor], Tensor],
        t: float,
        particles: Tensor | None = None,
        title: str | None = None,
    ) -> None:
        """Evaluate ``field`` on the grid at time ``t`` and redraw arrows, particles and title."""
        self.set_vectors(field(self.grid, torch.full((len(self.grid),), float(t))))
        self.set_particles(particles)
        # y=1.0 pins the title where matplotlib puts it over axes without ticks on top; left to
        # place itself, it would measure the axes' decorations on every draw (a quarter of a frame)
        self.ax.set_title(title if title is not None else f"t = {t:.2f}", y=1.0)


class LossPlot:
    """A Trainer callback that redraws the loss curve (log scale) in place in a notebook."""

    def __init__(self, title: str = "training loss", smooth: int = 20, figsize: tuple[float, float] = (5, 3)):
        self.title, self.smooth, self.figsize = title, smooth, figsize
        self.handle = None

    def curve(self, losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Running mean over ``smooth`` steps: (steps, smoothed losses)."""
        y = np.asarray(losses, dtype=float)
        k = max(1, min(self.smooth, len(y)))
        smoothed = np.convolve(y, np.ones(k) / k, mode="valid")
        return np.arange(k, len(y) + 1), smoothed

    def figure(self, losses: Sequence[float] | Mapping[str, Sequence[float]]) -> plt.Figure:
        """The running-mean loss on a log scale; a mapping ``{name: losses}`` draws one labelled
        curve per entry on the same axes."""
        runs = losses if isinstance(losses, Mapping) else {"": losses}
        fig, ax = plt.subplots(figsize=self.figsize)
        for name, run in runs.items():
            ax.semilogy(*self.curve(run), label=name or None)
        if len(runs) > 1:
            ax.legend()
        ax.set(xlabel="step", ylabel="loss (running mean)", title=self.title)
        fig.tight_layout()
        plt.close(fig)
        return fig

    def __call__(self, trainer) -> None:
        from IPython.display import display

        fig = self.figure(trainer.losses)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
