"""The plotting edge: tensors become numpy here and nowhere else.

One figure serves both readers. ``FieldPanel`` draws a vector field on a grid plus particles and
``update`` changes the arrows and dots in place; a live ipywidgets slider (``live``) and the static
scrubber of the rendered book (``scrubber``, frames precomputed and embedded by ``to_jshtml``) call
the same update function, so what a reader drags in the HTML book is what the slider shows.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation
from torch import Tensor

from .live_panel import live

# to_jshtml links Font Awesome 4 from a CDN for its button icons; the book (and Jupyter) already
# provide the icons, and a reader offline must not wait on the web, so the link is dropped.
_CDN_STYLESHEET = re.compile(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">\s*')

__all__ = ["to_numpy", "field_grid", "unit_arrows", "quiver_by_speed", "FieldPanel", "scrubber", "live", "LossPlot",
           "scatter"]


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


def quiver_by_speed(ax: plt.Axes, points: Tensor | np.ndarray, v: Tensor | np.ndarray, zero_below: float = 1e-12,
                    **kwargs):
    """Draw ``v`` ``(N, 2)`` at ``points`` ``(N, 2)`` as unit arrows coloured by speed (viridis); the
    keyword arguments go to ``ax.quiver`` (e.g. ``scale``, ``width``). Returns the ``Quiver``."""
    p = to_numpy(points)
    unit, speed = unit_arrows(v, zero_below)
    return ax.quiver(p[:, 0], p[:, 1], unit[:, 0], unit[:, 1], speed, **{"cmap": "viridis", "pivot": "mid", **kwargs})


def scatter(ax: plt.Axes, x: Tensor, lim: float | None = 4.5, **kwargs) -> None:
    """Scatter ``(N, 2)`` points on ``ax`` with small dots and equal axes."""
    p = to_numpy(x)
    ax.scatter(p[:, 0], p[:, 1], **{"s": 2, "alpha": 0.5, "linewidths": 0, **kwargs})
    ax.set_aspect("equal")
    if lim is not None:
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))


class FieldPanel:
    """A quiver plot of a 2D field on a fixed grid, with optional particles, updated in place.

    ``update(field, t, particles)`` evaluates ``field(grid, t)`` and moves the arrows (normalised
    to unit length, coloured by magnitude) and the particle dots; nothing is re-created, so an
    update costs one field evaluation and one redraw.
    """

    def __init__(self, lim: float = 4.0, n_grid: int = 20, ax: plt.Axes | None = None,
                 figsize: tuple[float, float] = (4.5, 4.5), particle_color: str = "tab:orange"):
        if ax is None:
            self.fig, self.ax = plt.subplots(figsize=figsize)
        else:
            self.fig, self.ax = ax.figure, ax
        self.grid = field_grid(lim, n_grid)
        g = to_numpy(self.grid)
        self.quiver = quiver_by_speed(self.ax, g, np.zeros_like(g), angles="xy", scale=n_grid * 1.3, width=0.004)
        self.dots = self.ax.scatter([], [], s=3, c=particle_color, alpha=0.6, linewidths=0)
        self.ax.set(xlim=(-lim - 0.5, lim + 0.5), ylim=(-lim - 0.5, lim + 0.5), aspect="equal")

    def set_vectors(self, v: Tensor | np.ndarray, zero_below: float = 1e-12) -> None:
        """Show vectors ``(n_grid**2, 2)`` at the grid points: direction as arrows, size as colour
        (``unit_arrows``: none for a vector shorter than ``zero_below``)."""
        unit, norm = unit_arrows(v, zero_below)
        self.quiver.set_UVC(unit[:, 0], unit[:, 1], norm)
        self.quiver.set_clim(0, max(float(norm.max()), 1e-12))

    def set_particles(self, x: Tensor | np.ndarray | None) -> None:
        self.dots.set_offsets(np.empty((0, 2)) if x is None else to_numpy(x))

    @torch.no_grad()
    def update(self, field: Callable[[Tensor, Tensor], Tensor], t: float,
               particles: Tensor | None = None, title: str | None = None) -> None:
        """Evaluate ``field`` on the grid at time ``t`` and redraw arrows, particles and title."""
        self.set_vectors(field(self.grid, torch.full((len(self.grid),), float(t))))
        self.set_particles(particles)
        self.ax.set_title(title if title is not None else f"t = {t:.2f}")


def scrubber(fig: plt.Figure, draw_frame: Callable[[int], None], n_frames: int,
             interval_ms: int = 150, dpi: int = 72, frame_format: str = "jpeg"):
    """A kernel-free slider over precomputed frames for the HTML book.

    Calls ``draw_frame(i)`` for i = 0..n_frames-1 (it should update ``fig`` in place), embeds each
    frame as an image with matplotlib's ``to_jshtml`` and returns an ``IPython.display.HTML``.
    Closes ``fig`` so the last frame is not shown twice. JPEG frames at 72 dpi keep 21 frames of a
    4-inch figure near 0.6 MB (PNG is about 2.5 times larger); keep the whole under ~1 MB.
    """
    from IPython.display import HTML

    old_dpi = fig.dpi
    fig.set_dpi(dpi)
    anim = animation.FuncAnimation(fig, draw_frame, frames=n_frames, interval=interval_ms, blit=False)
    with mpl.rc_context({"animation.frame_format": frame_format, "savefig.dpi": dpi}):
        html = _CDN_STYLESHEET.sub("", anim.to_jshtml(default_mode="once"))
    fig.set_dpi(old_dpi)
    plt.close(fig)
    return HTML(html)


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

    def figure(self, losses: Sequence[float]) -> plt.Figure:
        fig, ax = plt.subplots(figsize=self.figsize)
        ax.semilogy(*self.curve(losses))
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
