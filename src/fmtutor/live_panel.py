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
  ends instead of after a replay of every intermediate position.
- **Drawing ahead**: while the reader looks, the pictures one step further along the control they
  moved (and one step back) are drawn into a small cache, so stepping with the arrow keys shows the
  next picture without waiting for matplotlib.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from .png import fast_png

__all__ = ["MAX_CSS", "LiveView", "Pictures", "ahead", "along", "live", "quick_switching", "setting_key"]

SETTLE = 0.08  # s after a picture is shown before the worker draws ahead
STEP_QUIET = 0.1  # s without a move before drawing ahead after a step (the arrow keys)
SWITCH = 0.0005  # s: the interpreter's switch interval while drawing (Python's default is 0.005), so that
# the kernel reads the next control value while a picture is drawn instead of after it
MAX_CSS = (560, 480)  # the largest picture (width, height) in CSS pixels: beside ~300 px of controls


_switching = {"drawers": 0, "interval": 0.0}
_switching_lock = threading.Lock()


@contextmanager
def quick_switching():
    """Within: the interpreter's switch interval is at most ``SWITCH``; the first of overlapping
    users (panels drawing at once) sets it and the last puts the one before back."""
    with _switching_lock:
        if _switching["drawers"] == 0:
            _switching["interval"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switching["interval"], SWITCH))
        _switching["drawers"] += 1
    try:
        yield
    finally:
        with _switching_lock:
            _switching["drawers"] -= 1
            if _switching["drawers"] == 0:
                sys.setswitchinterval(_switching["interval"])


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
        if self.fig.dpi != self.dpi:  # set here, not once: closing a pyplot figure resets its dpi
            self.fig.set_dpi(self.dpi)
        self.update(**values)
        canvas = self.fig.canvas
        if not hasattr(canvas, "buffer_rgba"):  # a front end's own canvas without pixels: draw with Agg
            canvas = FigureCanvasAgg(self.fig)
        canvas.draw()  # one draw, encoded straight from the canvas: savefig's extra work cost ~30 %
        return fast_png(np.asarray(canvas.buffer_rgba()))


def setting_key(values: dict) -> tuple | None:
    """A hashable key for a panel's setting, or None if a value cannot be hashed. Floats are rounded to
    9 decimals: a slider's value and the same position computed here (value + step) can differ in the
    last bit."""
    key = tuple((name, round(v, 9) if isinstance(v, float) else v) for name, v in sorted(values.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


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


class Pictures:
    """A live panel's pictures, drawn on a worker thread: ``draw(values)`` returns a picture, ``show``
    puts it on screen, ``fail(text)`` shows an error in its place.

    ``request(values, next_values)`` asks for the picture of ``values``. If it is in the cache (the
    ``size`` most recent pictures), it is shown at once; otherwise it is drawn next. Requests made while
    a picture is being drawn replace each other, so a drag draws the latest position only, and a
    finished picture is shown unless a newer one is on screen already. While nothing is requested the
    worker draws ``next_values`` (the neighbouring positions, see ``ahead``) into the cache, so that a
    step to one of them shows its picture without waiting for a draw (or for the rest of its draw, if
    it is being drawn ahead when it is asked for). Drawing ahead starts ``SETTLE`` s after the last
    picture was shown and ``delay`` s after the last request (a reader still moving a control would
    otherwise wait behind a picture drawn ahead). ``wait`` blocks until idle.
    """

    def __init__(
        self,
        draw: Callable[[dict], bytes],
        show: Callable[[bytes], None],
        fail: Callable[[str], None],
        size: int = 32,
    ):
        self._draw, self._show, self._fail, self._size = draw, show, fail, size
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock, self._idle = threading.Lock(), threading.Event()
        self._wanted: tuple[int, dict] | None = None  # (request number, values) not yet drawn
        self._next: list[dict] = []
        self._asked = self._shown = 0  # numbers of the latest request and of the one on screen
        self._busy, self._since, self._ahead_at, self._wake = False, 0.0, 0.0, threading.Event()
        self._idle.set()

    def request(self, values: dict, next_values: list[dict] = (), delay: float = 0.0) -> None:
        key = setting_key(values)
        with self._lock:
            self._asked += 1
            self._next, self._ahead_at = list(next_values), time.monotonic() + delay
            if key in self._cache:
                self._cache.move_to_end(key)
                self._wanted, self._shown, self._since = None, self._asked, time.monotonic()
                self._show(self._cache[key])
            else:
                self._wanted = (self._asked, values)
            self._wake.set()
            if self._busy or (self._wanted is None and not self._next):
                return
            self._busy = True
            self._idle.clear()
        threading.Thread(target=self._run, daemon=True, name="fmtutor-live").start()

    def _job(self) -> tuple[int, dict] | None:
        """The next picture to draw (under the lock): the request waiting, else a neighbour not cached
        (numbered 0: it is not shown)."""
        if self._wanted is not None:
            job, self._wanted = self._wanted, None
            return job
        while self._next:
            values = self._next.pop(0)
            if setting_key(values) not in self._cache:
                return 0, values
        return None

    def _run(self) -> None:
        while True:
            while self._wanted is None and self._next and self._settle():  # only drawing ahead is left
                pass
            with self._lock:
                job = self._job()
                if job is None:
                    self._busy = False
                    self._idle.set()
                    return
            number, values = job
            try:
                with quick_switching():
                    picture = self._draw(values)
            except Exception:  # shown to the reader: a worker thread's traceback would go nowhere
                with self._lock:
                    if number > self._shown:
                        self._fail(traceback.format_exc(limit=3))
                continue
            with self._lock:
                self.remember(values, picture)
                if number == 0 and self._wanted is not None and setting_key(self._wanted[1]) == setting_key(values):
                    (number, _), self._wanted = self._wanted, None  # asked for while drawn ahead
                if number > self._shown:
                    self._shown, self._since = number, time.monotonic()
                    self._show(picture)

    def _settle(self) -> bool:
        """Wait (or until a new request) until ``SETTLE`` s after the last picture was shown (drawing at
        once would hold the interpreter while that picture is on its way to the page) and until the
        last request's ``delay`` has passed."""
        self._wake.clear()
        wait = max(self._since + SETTLE, self._ahead_at) - time.monotonic()
        if wait > 0 and self._wanted is None:
            return self._wake.wait(wait)  # True: woken by a request, whose delay starts again
        return False

    def remember(self, values: dict, picture: bytes) -> None:
        """Keep ``picture`` as the picture of ``values`` (the least recently used beyond ``size`` go)."""
        key = setting_key(values)
        if key is None:
            return
        self._cache[key] = picture
        self._cache.move_to_end(key)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    def wait(self, timeout: float | None = None) -> bool:
        """True once nothing is requested or being drawn (False if ``timeout`` passed first)."""
        return self._idle.wait(timeout)


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

    pictures = Pictures(lambda values: view.png(**values), show, fail)

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
