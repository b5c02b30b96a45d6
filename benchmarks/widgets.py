"""Latency of every live panel's update (the function the sliders call), in milliseconds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/widgets.py

For each ``fmtutor.panels`` panel: the median and 90th percentile over its default and extreme
slider settings (repeated), counting the in-place update and one full redraw of the figure, in wall
time and in this process's CPU time (on a shared, loaded machine the wall time also counts waiting
for a core; the CPU time is what the update costs). The first call of each setting fills the
panel's caches (a new simulation or solve) and is timed too. "live frame" is one picture of the
live panel (update, draw and PNG at its live size, see fmtutor.live_panel), in wall time, and
its median CPU time ("frame CPU"). Target: under 50 ms median for a
20x20 quiver plus 500 particles.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import statistics
import time

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

import fmtutor.panels as panels  # noqa: E402
from fmtutor.live_panel import LiveView  # noqa: E402


def discover() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(panels.__path__):
        module = importlib.import_module(f"fmtutor.panels.{info.name}")
        found += [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, panels.Panel) and c is not panels.Panel and c.__module__ == module.__name__
        ]
    return found


def time_live_frames(cls: type, repeats: int = 3) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of one live picture (``LiveView.png``: update, draw, PNG at the live
    size with two pixels per CSS pixel) over every setting: what the kernel spends per slider move."""
    panel = cls.demo()
    view = LiveView(panel.update, panel.fig)
    cases = [panel.defaults(), *panel.extremes()]
    view.png(**cases[0])
    wall, cpu = [], []
    for _ in range(repeats):
        for values in cases:
            w0, c0 = time.perf_counter(), time.process_time()
            view.png(**values)
            wall.append(1000 * (time.perf_counter() - w0))
            cpu.append(1000 * (time.process_time() - c0))
    return wall, cpu


def time_panel(cls: type, repeats: int = 5) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of ``update`` + ``canvas.draw()`` over every setting, ``repeats`` times."""
    panel = cls.demo()
    cases = [panel.defaults(), *panel.extremes()]
    panel.update(**cases[0])
    panel.fig.canvas.draw()
    wall, cpu = [], []
    for _ in range(repeats):
        for values in cases:
            w0, c0 = time.perf_counter(), time.process_time()
            panel.update(**values)
            panel.fig.canvas.draw()
            wall.append(1000 * (time.perf_counter() - w0))
            cpu.append(1000 * (time.process_time() - c0))
    return wall, cpu


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))]


def main() -> None:
    torch.set_num_threads(1)
    print(
        f"{'panel':34s} {'wall median':>11s} {'wall p90':>9s} {'CPU median':>11s} {'CPU p90':>8s} {'n':>4s}"
        f" {'live frame':>10s} {'p90':>6s} {'frame CPU':>9s}  (ms)"
    )
    for cls in discover():
        wall, cpu = time_panel(cls)
        frames, frames_cpu = time_live_frames(cls)
        name = cls.__module__.split(".")[-1] + "." + cls.__name__
        print(
            f"{name:34s} {statistics.median(wall):11.1f} {_p90(wall):9.1f} {statistics.median(cpu):11.1f} "
            f"{_p90(cpu):8.1f} {len(wall):4d} {statistics.median(frames):10.1f} {_p90(frames):6.1f}"
            f" {statistics.median(frames_cpu):9.1f}"
        )


if __name__ == "__main__":
    main()
