"""The live panel: controls beside a sharp picture of the figure, redrawn for the latest setting only.

``live(update, fig, **controls)`` (re-exported as ``fmtutor.viz.live``) shows the controls in a
column with the figure's picture to their right. Four things make it pleasant in JupyterLab and
Notebook 7:

- **Size**: the picture is shown at the figure's own size in CSS pixels (its inches times its dpi),
  scaled down to fit ``MAX_CSS`` so that controls and picture fit together on a 1366 x 768 screen,
  and never stretched to the notebook's width.
- **Sharpness**: the PNG holds ``pixel_ratio`` (2) device pixels per CSS pixel.
- **Coalescing**: a drag sends many values; the picture is drawn on a worker thread for the most
  recent setting only, so the figure for the last position arrives one or two draws after the drag
  ends instead of after a replay of every intermediate position. A position passed while its figure
  was being updated is not drawn at all (unless the screen has shown nothing for
  ``live_pictures.GAP`` s).
- **Drawing ahead**: while the reader looks, the pictures one step further along the control they
  moved (and one step back) are drawn into a small cache, so stepping with the arrow keys shows the
  next picture without waiting for matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from .live_pictures import Pictures
from .png import fast_png

__all__ = ["MAX_CSS", "STEP_QUIET", "LiveView", "ahead", "along", "live"]

STEP_QUIET = 0.1  # s without a move before drawing ahead after a step (the arrow keys)
MAX_CSS = (560, 480)  # the largest picture (width, height) in CSS pixels: beside ~300 px of controls


class LiveView:
    """The picture of ``fig`` after ``update(**values)``, as PNG bytes for the live panel.

    ``css_size`` is the size the picture is shown at (width, height in CSS pixels); the PNG has
    ``pixel_ratio`` times as many pixels in each direction. The figure's dpi is set once to the
    rendering dpi, so each frame is one draw of the canvas and one fast PNG encoding of its pixels.
    """

    def __init__(
        self, update: Callable[..., None], fig: plt.Figure, pixel_ratio: float = 2.0, max_css: tuple[int, int] = MAX_CSS
    ):
        if pixel_ratio <= 0:
            raise ValueError(f"pixel_ratio must be positive, got {pixel_ratio!r}")
        self.update, self.fig = update, fig
        width, height = fig.get_size_inches() * fig.dpi
        scale = min(1.0, max_css[0] / width, max_css[1] / height)
        self.css_size = (round(width * scale), round(height * scale))
        self.dpi = fig.dpi * scale * pixel_ratio

    def png(self, **values) -> bytes:
        """Update the figure to ``values`` and return its PNG (``css_size`` times ``pixel_ratio``)."""
        return self.picture(values, lambda: False)

    def picture(self, values: dict, superseded: Callable[[], bool]) -> bytes | None:
        """``png(**values)``, or None without drawing if ``superseded()`` is true once the figure is
        updated (the reader has moved on: the draw and the encoding are most of a picture's time)."""
        if self.fig.dpi != self.dpi:  # set here, not once: closing a pyplot figure resets its dpi
            self.fig.set_dpi(self.dpi)
        self.update(**values)
        if superseded():
            return None
        canvas = self.fig.canvas
        if not hasattr(canvas, "buffer_rgba"):  # a front end's own canvas without pixels: draw with Agg
            canvas = FigureCanvasAgg(self.fig)
        canvas.draw()  # one draw, encoded straight from the canvas: savefig's extra work cost ~30 %
        return fast_png(np.asarray(canvas.buffer_rgba()))


def along(widget: object, value: object, direction: int) -> object | None:
    """The value one step from ``value`` on a control (``direction`` +1 or -1): the next option of a
    dropdown or selection slider, ``value +- step`` on a number slider; None past either end or for a
    control without steps."""
    options = getattr(widget, "_options_values", None)
    if options is not None:
        index = options.index(value) + direction if value in options else -1
        return options[index] if 0 <= index < len(options) else None
    step, low, high = (getattr(widget, name, None) for name in ("step", "min", "max"))
    if type(widget).__name__ == "FloatLogSlider" or not all(
        isinstance(v, (int, float)) for v in (value, step, low, high)
    ):
        return None
    moved = value + direction * step
    moved = round(moved, 9) if isinstance(moved, float) else moved
    return moved if low <= moved <= high and moved != value else None


def ahead(controls: dict, values: dict, moved: str, old: object) -> list[dict]:
    """The settings a reader is likely to ask for next after moving control ``moved`` from ``old`` to
    ``values[moved]``: one step further the same way, then one step back."""
    widget, new = controls[moved], values[moved]
    options = getattr(widget, "_options_values", None)
    try:
        forward = options.index(new) >= options.index(old) if options is not None else new >= old
    except (TypeError, ValueError):
        forward = True
    steps = (along(widget, new, d) for d in ((1, -1) if forward else (-1, 1)))
    return [{**values, moved: value} for value in steps if value is not None]


def live(update: Callable[..., None], fig: plt.Figure, **controls):
    """An ipywidgets panel: each control change calls ``update(**values)`` and shows ``fig`` again.

    ``controls`` maps the keyword names of ``update`` to ipywidgets controls. The figure is shown as
    a PNG in an ``ipywidgets.Image`` (a figure inside an ``Output`` widget can stall notebook
    executors until the cell's timeout). The first picture is drawn before this returns; later ones
    on a worker thread (see ``Pictures``): the latest setting first, then, after a reader moves a
    control by one step (as the arrow keys do), the positions one step further and one step back,
    once no move has come for ``STEP_QUIET`` s, so that the next step shows at once. After a jump (a
    drag, a click on the track) nothing is drawn ahead: on two cores it would slow the picture of
    the last position on its way to the page, and the next position is no neighbour anyway. An error in
    ``update`` is shown under the controls. Returns the ``HBox`` (controls column, picture) after
    displaying it, with ``wait()`` to block until nothing is being drawn; in a notebook write
    ``_ = live(...)``.
    """
    import ipywidgets
    from IPython.display import display

    view = LiveView(update, fig)
    width, height = view.css_size
    image = ipywidgets.Image(
        format="png",
        layout=ipywidgets.Layout(
            width=f"{width}px", height=f"{height}px", max_width="100%", object_fit="contain", flex="0 0 auto"
        ),
    )
    error = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="320px"))

    def show(picture: bytes) -> None:
        image.value, error.value = picture, ""

    def fail(text: str) -> None:
        error.value = f"<pre style='color:#b00;white-space:pre-wrap'>{text}</pre>"

    pictures = Pictures(lambda values: view.picture(values, pictures.superseded), show, fail)

    def changed(change: dict) -> None:
        values = {name: w.value for name, w in controls.items()}
        moved = next(name for name, w in controls.items() if w is change["owner"])
        step = values[moved] in (along(change["owner"], change["old"], d) for d in (1, -1))
        pictures.request(values, ahead(controls, values, moved, change["old"]) if step else [], delay=STEP_QUIET)

    first = {name: w.value for name, w in controls.items()}
    image.value = view.png(**first)
    pictures.remember(first, image.value)
    for control in controls.values():
        control.observe(changed, names="value")
    plt.close(fig)
    column = ipywidgets.VBox([*controls.values(), error], layout=ipywidgets.Layout(flex="0 1 auto"))
    panel = ipywidgets.HBox([column, image], layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start"))
    panel.add_class("fmtutor-live")
    panel.wait = pictures.wait
    display(panel)
    return panel
