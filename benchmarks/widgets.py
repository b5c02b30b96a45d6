"""Latency of every live panel's update (the function the sliders call), in milliseconds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/widgets.py

For each ``fmtutor.panels`` panel: the median and 90th percentile over its default and extreme
slider settings (repeated), counting the in-place update and one full redraw of the figure.
Target: under 50 ms median for a 20x20 quiver plus 500 particles.
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


def discover() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(panels.__path__):
        module = importlib.import_module(f"fmtutor.panels.{info.name}")
        found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                  if issubclass(c, panels.Panel) and c is not panels.Panel and c.__module__ == module.__name__]
    return found


def time_panel(cls: type, repeats: int = 5) -> list[float]:
    panel = cls.demo()
    cases = [panel.defaults(), *panel.extremes()]
    panel.update(**cases[0])
    panel.fig.canvas.draw()
    times = []
    for _ in range(repeats):
        for values in cases:
            start = time.perf_counter()
            panel.update(**values)
            panel.fig.canvas.draw()
            times.append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'panel':40s} {'median ms':>10s} {'p90 ms':>8s} {'n':>4s}")
    for cls in discover():
        times = sorted(time_panel(cls))
        p90 = times[int(0.9 * (len(times) - 1))]
        print(f"{cls.__module__.split('.')[-1] + '.' + cls.__name__:40s} {statistics.median(times):10.1f} {p90:8.1f} {len(times):4d}")


if __name__ == "__main__":
    main()
