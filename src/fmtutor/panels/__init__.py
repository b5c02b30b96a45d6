"""Interactive figures, one module per chapter. A ``Panel`` owns a matplotlib figure and redraws it
in place from slider values; the live ipywidgets version and the static twin of the HTML book
both call the same ``update``, and ``benchmarks/widgets.py`` times that very function.

A subclass defines ``controls()`` (the ipywidgets, keyed by ``update``'s keyword names),
``update(**values)``, and ``demo()`` (a classmethod building the panel the chapter shows, used by
the benchmark and tests). Then:

    panel.show_live()                                   # sliders that redraw (needs a kernel)
    panel.static({"solver": ["euler", "heun"], "steps": [4, 8], "t": [0.0, 0.5, 1.0]})
    panel.static()                                      # the default grid: static_grid()
    panel.scrub("t", [0.0, 0.5, 1.0], steps=8)          # one control; the others fixed

``static`` renders a frame per combination of the grid's values with ``update`` and returns a
``fmtutor.static.StaticTwin`` that a notebook shows as a control row (sliders and dropdowns) over
the frame of the current values; see ``fmtutor.static`` for where the frames go.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import matplotlib.pyplot as plt

from ..static import StaticTwin, build
from ..viz import live

__all__ = ["Panel"]


class Panel(ABC):
    fig: plt.Figure

    @abstractmethod
    def controls(self) -> dict:
        """ipywidgets controls keyed by the keyword names of ``update``; their values are the defaults."""

    @abstractmethod
    def update(self, **values) -> None:
        """Redraw the figure in place for these slider values."""

    @classmethod
    @abstractmethod
    def demo(cls) -> Panel:
        """The panel as the chapter shows it."""

    def defaults(self) -> dict:
        return {name: w.value for name, w in self.controls().items()}

    def extremes(self) -> list[dict]:
        """Slider settings at every control's ends (min/max, or first/last option), others default."""
        cases = []
        for name, w in self.controls().items():
            ends = (w.min, w.max) if hasattr(w, "min") else (w.options[0], w.options[-1])
            for value in ends:
                value = value[1] if isinstance(value, tuple) else value
                cases.append({**self.defaults(), name: value})
        return cases

    def show_live(self):
        """Display the live panel (needs a Jupyter kernel)."""
        return live(self.update, self.fig, **self.controls())

    def static_grid(self, points: int = 6) -> dict[str, tuple]:
        """The default grid of ``static``: every option of a dropdown or selection slider, and for a
        numeric slider ``points`` evenly spaced values from min to max (on its step) plus its default."""
        grid = {}
        for name, w in self.controls().items():
            if hasattr(w, "options"):
                grid[name] = tuple(o[1] if isinstance(o, tuple) else o for o in w.options)
                continue
            step = w.step or 1
            ticks = {w.min + round(k * (w.max - w.min) / (points - 1) / step) * step for k in range(points)}
            cast = int if isinstance(w.value, int) else (lambda v: round(float(v), 10))
            grid[name] = tuple(sorted({cast(v) for v in ticks | {w.value}}))
        return grid

    def static(self, grid: dict[str, Sequence] | None = None, name: str | None = None, **fixed) -> StaticTwin:
        """The kernel-free twin over ``grid`` (control name -> values; default ``self.static_grid()``), the
        controls not in it at ``fixed`` or their default. Renders the frames (or finds them cached)
        with this panel's ``update``. ``name`` prefixes the frames' folder: give one when two twins
        of the same class, grid and fixed values show different data."""
        twin = build(self, self.static_grid() if grid is None else grid, fixed, name)
        twin.render()
        plt.close(self.fig)  # the notebook shows the twin, not the figure a second time
        return twin

    def scrub(self, name: str, values: Sequence, **fixed) -> StaticTwin:
        """A twin over ``values`` of one control, the others at ``fixed`` or default."""
        return self.static({name: values}, **fixed)
