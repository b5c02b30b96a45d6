"""One call at the top of every chapter: a seeded generator, one CPU thread, and the book's figure defaults.

    from fmtutor.notebook import setup
    gen = setup(seed=0)

The figure defaults live here and nowhere else: every chapter gets the same text sizes and the same
sharpness. Figures are shown as "retina" PNGs: rendered at twice ``dpi`` and displayed at ``dpi``
(the PNG's width and height metadata say so), so that a figure of ``w`` inches has a natural width of
``2 * dpi * w`` pixels for a displayed width of at most ``dpi * w``: sharp on a screen with two device
pixels per CSS pixel, even when the page shrinks a wide figure.
"""

from __future__ import annotations

import matplotlib as mpl
import torch

from .training import seeded_generator

__all__ = ["setup", "FIGURE_STYLE"]

# Text sizes in points; at the display size of 100 dpi a point is 1.39 CSS pixels, so the smallest
# text (ticks, legends) is about 12 px, titles and labels about 14 px.
FIGURE_STYLE = {
    "figure.figsize": (5.0, 3.5),
    "axes.grid": False,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
}


def setup(seed: int = 0, threads: int = 1, dpi: int = 100) -> torch.Generator:
    """A ``torch.Generator`` seeded with ``seed``, ``threads`` CPU threads, and the figure defaults.

    Every random draw of the book takes a generator; the global random state is left alone. One
    thread is the fast choice for the book's small models on a laptop CPU (two threads made a tiny
    MLP about 80x slower on a loaded two-core machine). Figures are displayed at ``dpi`` and stored
    at twice that (see the module docstring).
    """
    torch.set_num_threads(threads)
    mpl.rcParams.update({**FIGURE_STYLE, "figure.dpi": dpi, "savefig.dpi": dpi})
    _retina_figures()
    return seeded_generator(seed)


def _retina_figures() -> None:
    """In an IPython kernel, show figures as PNGs of twice the resolution at the same display size."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing is displayed inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")
