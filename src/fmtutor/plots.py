"""Figures for the side-by-side comparison of diffusion and flow matching (numpy starts here), and
the picture of a marginal path (its density under its field) that chapter 3 draws for every schedule.

Every function takes already computed tensors (samples, solver paths ``(S + 1, B, 2)``, fields) and
returns a matplotlib figure, so the chapter and the command line draw the very same pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation, ticker
from torch import Tensor

from ._validate import check_choice
from .marginals import MarginalField
from .viz import field_grid, quiver_by_speed, scatter, speed_colorbar, to_numpy

__all__ = [
    "plot_samples",
    "plot_trajectories",
    "plot_snapshots",
    "plot_fields",
    "draw_density",
    "draw_marginal",
    "plot_quality",
    "generation_animation",
    "write_gif",
]

LIM = 5.0
MAX_WIDTH = 8.0  # inches: at the book's 100 dpi a figure fits the text column without being shrunk


def _row(n: int, size: float = 3.2) -> tuple[plt.Figure, np.ndarray]:
    size = min(size, MAX_WIDTH / n)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size), squeeze=False)
    return fig, axes[0]


def plot_samples(samples: Mapping[str, Tensor], lim: float = LIM) -> plt.Figure:
    """One scatter per entry, e.g. {"data": x, "flow matching": y, "diffusion": z}."""
    fig, axes = _row(len(samples))
    for ax, (name, x) in zip(axes, samples.items()):
        scatter(ax, x, lim=lim, s=3)
        ax.set_title(name)
    fig.tight_layout()
    return fig


def plot_trajectories(paths: Mapping[str, Tensor], n_show: int = 60, lim: float = LIM) -> plt.Figure:
    """Trajectories of the first ``n_show`` particles of each path ``(S + 1, B, 2)``: start dots grey,
    end dots coloured. Flow matching's are nearly straight; diffusion's bend and jitter."""
    fig, axes = _row(len(paths))
    for ax, (name, path) in zip(axes, paths.items()):
        p = to_numpy(path[:, :n_show])
        ax.plot(p[:, :, 0], p[:, :, 1], lw=0.7, alpha=0.6, color="tab:blue")
        ax.scatter(p[0, :, 0], p[0, :, 1], s=6, color="grey", zorder=3)
        ax.scatter(p[-1, :, 0], p[-1, :, 1], s=6, color="tab:red", zorder=3)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=name)
    fig.tight_layout()
    return fig


def plot_snapshots(
    paths: Mapping[str, Tensor], fractions: Sequence[float] = (0, 0.25, 0.5, 0.75, 1), lim: float = LIM
) -> plt.Figure:
    """A grid: one row per method, one column per fraction of the way from noise to data."""
    size = min(2.4, MAX_WIDTH / len(fractions))
    fig, axes = plt.subplots(
        len(paths), len(fractions), figsize=(size * len(fractions), size * len(paths)), squeeze=False
    )
    for row, (name, path) in zip(axes, paths.items()):
        for ax, f in zip(row, fractions):
            scatter(ax, path[round(f * (len(path) - 1))], lim=lim)
            ax.set_title(f"{name}: {f:.0%}", fontsize=8 if size < 2 else 9)
            ax.set(xticks=[], yticks=[])
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_fields(
    fields: Mapping[str, Callable[[Tensor, Tensor], Tensor]],
    ts: Sequence[float],
    lim: float = 4.0,
    n_grid: int = 15,
    size: float = 2.4,
    vmax: float | None = None,
    density: Callable[[Tensor, float], Tensor] | None = None,
) -> plt.Figure:
    """Quivers of each velocity field (rows) at times ``ts`` (columns): unit arrows coloured by speed
    on one scale for the whole figure (``vmax``, default the largest speed shown) with its colour
    bar, each panel ``size`` inches square. ``density(x, t)`` (e.g. ``MarginalField.density``), when
    given, is drawn in grey behind the arrows, so that the arrows can be read against the mass they move.
    Arrows are drawn without antialiasing, which makes the PNG of a many-panel figure about three
    times smaller.
    """
    grid = field_grid(lim, n_grid)
    vectors = {(name, t): f(grid, torch.full((len(grid),), float(t))) for name, f in fields.items() for t in ts}
    top = vmax if vmax is not None else max(float(v.norm(dim=1).max()) for v in vectors.values())
    fig, axes = plt.subplots(
        len(fields), len(ts), figsize=(size * len(ts) + 0.8, size * len(fields)), squeeze=False, layout="constrained"
    )
    for row, name in zip(axes, fields):
        for ax, t in zip(row, ts):
            if density is not None:
                draw_density(ax, density, t, lim + 0.4)
            quiver_by_speed(ax, grid, vectors[name, t], vmax=top, scale=1.3 * n_grid, width=0.006, antialiased=False)
            ax.set(
                xticks=[],
                yticks=[],
                aspect="equal",
                xlim=(-lim - 0.4, lim + 0.4),
                ylim=(-lim - 0.4, lim + 0.4),
                title=f"{name}, t = {t:.2f}",
            )
    speed_colorbar(fig, axes, top)
    return fig


def draw_density(ax: plt.Axes, density: Callable[[Tensor, float], Tensor], t: float, lim: float, n: int = 64) -> None:
    """The density ``density(x, t)`` (e.g. ``MarginalField.density``) on an ``n x n`` grid over [-lim, lim]^2,
    in greys (the densest cell at 1 / 1.4 of black)."""
    p = to_numpy(density(field_grid(lim, n), t)).reshape(n, n)
    ax.imshow(p, origin="lower", extent=(-lim, lim, -lim, lim), cmap="Greys", vmax=1.4 * p.max())


def draw_marginal(
    ax: plt.Axes,
    field: MarginalField,
    t: float,
    kind: str = "velocity",
    vmax: float = 8.0,
    lim: float = 5.5,
    n_density: int = 72,
    arrows: Tensor | None = None,
) -> float:
    """One time of a marginal path on ``ax``: p_t in grey (``draw_density`` over [-lim, lim]^2) under unit
    arrows of the field's ``velocity`` u_t or ``score`` grad log p_t at ``arrows`` ``(N, 2)`` (default a
    10 x 10 grid over [-4.6, 4.6]^2), coloured by length on [0, ``vmax``] (``quiver_by_speed``; no arrow
    where the length is below 1e-6). ``t`` is clamped to ``field.t_max``; returns the time drawn."""
    check_choice("kind", kind, ("velocity", "score"))
    t = min(float(t), field.t_max)
    draw_density(ax, field.density, t, lim, n_density)
    points = field_grid(4.6, 10) if arrows is None else arrows
    quiver_by_speed(ax, points, getattr(field, kind)(points, t), zero_below=1e-6, vmax=vmax, scale=15, width=0.006)
    ax.set(xticks=[], yticks=[])
    return t


def plot_quality(
    curves: Mapping[str, Mapping[int, float]],
    floor: float | None = None,
    title: str = "sample quality against cost",
    spread: Mapping[str, Mapping[int, float]] | None = None,
) -> plt.Figure:
    """Sliced W2 against NFE on log-log axes, one line per method; a curve whose name contains
    "exact" (an exact-field limit) is dashed, in the colour of the trained curve it belongs to.
    ``spread`` (name -> NFE -> standard deviation over seeds, see ``quality.sliced_w2_spread``) adds
    error bars of one standard deviation to the curves it names."""
    fig, ax = plt.subplots(figsize=(7.0, 3.8), layout="constrained")
    colours: dict[str, str] = {}
    for name, curve in curves.items():
        nfe = sorted(curve)
        base = name.split(", exact")[0].split(" (exact")[0]
        colour = colours.setdefault(base, f"C{len(colours) % 10}")
        style = "--" if "exact" in name else "-"
        bars = [spread[name][n] for n in nfe] if spread and name in spread else None
        ax.errorbar(
            nfe, [curve[n] for n in nfe], yerr=bars, fmt=style, marker="o", ms=3, capsize=2, color=colour, label=name
        )
    if floor is not None:
        ax.axhline(floor, color="grey", lw=1, ls=":", label="noise floor")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted({n for curve in curves.values() for n in curve}))
    ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set(xlabel="NFE (network evaluations)", ylabel="sliced W2 to data", title=title)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def generation_animation(
    paths: Mapping[str, Tensor], n_frames: int = 21, lim: float = LIM, interval_ms: int = 120
) -> animation.FuncAnimation:
    """Side-by-side particles moving from noise to data; save with ``.save("x.gif")`` or embed with
    ``to_jshtml``. Each path ``(S + 1, B, 2)`` is sampled at
    ``n_frames`` evenly spaced steps, so methods with different step counts stay in step."""
    return _animated(paths, n_frames, lim, interval_ms)[1]


def _animated(
    paths: Mapping[str, Tensor], n_frames: int, lim: float, interval_ms: int
) -> tuple[plt.Figure, animation.FuncAnimation]:
    """``generation_animation`` and the figure it draws on."""
    fig, axes = _row(len(paths), size=3.0)
    dots, frames = [], {}
    for ax, (name, path) in zip(axes, paths.items()):
        idx = np.linspace(0, len(path) - 1, n_frames).round().astype(int)
        frames[name] = to_numpy(path)[idx]
        dots.append(ax.scatter(*frames[name][0].T, s=2, alpha=0.5, linewidths=0))
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[], title=name)
    fig.tight_layout()

    def draw(i: int):
        for dot, name in zip(dots, frames):
            dot.set_offsets(frames[name][i])
        fig.suptitle(f"{i / (n_frames - 1):.0%} of the way from noise to data", fontsize=9)
        return dots

    return fig, animation.FuncAnimation(fig, draw, frames=n_frames, interval=interval_ms)


def write_gif(
    paths: Mapping[str, Tensor], filename: str | Path, n_frames: int = 21, fps: int = 8, dpi: int = 72
) -> Path:
    """Save ``generation_animation(paths)`` as an animated GIF (Pillow) and close its figure."""
    fig, anim = _animated(paths, n_frames, LIM, 120)
    filename = Path(filename)
    try:
        anim.save(filename, writer="pillow", fps=fps, dpi=dpi)
    finally:
        plt.close(fig)
    return filename
