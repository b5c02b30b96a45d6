"""Interactive figures, one module per chapter. A ``Panel`` owns a matplotlib figure and redraws it
in place from slider values; the live ipywidgets version and the static scrubber of the HTML book
both call the same ``update``, and ``benchmarks/widgets.py`` times that very function.

A subclass defines ``controls()`` (the ipywidgets, keyed by ``update``'s keyword names),
``update(**values)``, and ``demo()`` (a classmethod building the panel the chapter shows, used by
the benchmark and tests).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import matplotlib.pyplot as plt

from ..viz import live, scrubber

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

    def scrub(self, name: str, values: Sequence, **fixed) -> object:
        """A kernel-free scrubber over ``values`` of one control, the others at ``fixed`` or default."""
        settings = {**self.defaults(), **fixed}
        return scrubber(self.fig, lambda i: self.update(**{**settings, name: values[i]}), len(values))
