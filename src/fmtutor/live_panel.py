"""The live panel: controls beside a sharp picture of the figure, redrawn for the latest setting only.

``live(update, fig, **controls)`` (re-exported as ``fmtutor.viz.live``) shows the controls in a
column with the figure's picture to their right. Three things make it pleasant in JupyterLab and
Notebook 7:

- **Size**: the picture is shown at the figure's own size in CSS pixels (its inches times its dpi),
  scaled down to fit ``MAX_CSS`` so that controls and picture fit together on a 1366 x 768 screen,
  and never stretched to the notebook's width.
- **Sharpness**: the PNG holds ``pixel_ratio`` (2) device pixels per CSS pixel.
- **Coalescing**: a drag sends many values; the picture is drawn on a worker thread for the most
  recent setting only, so the figure for the last position arrives one or two draws after the drag
  ends instead of after a replay of every intermediate position.
"""

from __future__ import annotations

import os
import struct
import threading
import traceback
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

__all__ = ["MAX_CSS", "LiveView", "Latest", "live", "fast_png", "zlib_stream"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CSS = (560, 480)  # the largest picture (width, height) in CSS pixels: beside ~300 px of controls
SPLIT_BYTES = 1 << 18  # pictures larger than this (256 KiB of rows) are deflated in two halves at once


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


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=1)
def _helper() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmtutor-png")


def _deflate(data: memoryview, level: int, last: bool) -> bytes:
    """Raw deflate of ``data``; a segment that is not ``last`` ends on a full flush (byte-aligned, not
    final), so that the next segment's blocks can follow it in the same stream."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


def zlib_stream(data: memoryview, level: int = 1, split: bool = False) -> bytes:
    """The zlib stream of ``data`` (what ``zlib.compress`` returns, up to the choice of blocks). With
    ``split`` the two halves are deflated at the same time, the second on a helper thread (zlib
    releases the GIL), and joined into one stream: header, both segments, the Adler-32 of all."""
    if not split:
        return zlib.compress(data, level)
    cut = len(data) // 2
    second = _helper().submit(_deflate, data[cut:], level, True)
    first = _deflate(data[:cut], level, False)
    return b"\x78\x01" + first + second.result() + struct.pack(">I", zlib.adler32(data))


def fast_png(rgba: np.ndarray, level: int = 1) -> bytes:
    """A lossless PNG of the picture ``rgba`` ``(H, W, 4)`` (uint8), written for speed.

    The rows are stored unfiltered (PNG filter 0) and deflated at zlib ``level``; the picture is
    stored as RGB when every pixel is opaque (a figure's usual white background), else as RGBA.
    Pillow's PNG encoder, which filters every row, took two to three times as long at the same
    level on the live panels' pictures; their flat colours and thin lines compress as well unfiltered.
    On a machine with two cores or more a large picture's halves are deflated at once (``zlib_stream``).
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"rgba must be an (H, W, 4) uint8 array, got shape {rgba.shape} and dtype {rgba.dtype}")
    height, width, _ = rgba.shape
    opaque = bool((rgba[:, :, 3] == 255).all())
    channels = 3 if opaque else 4
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: filter type 0, then its pixels
    rows[:, 1:] = rgba[:, :, :channels].reshape(height, width * channels)
    split = rows.nbytes > SPLIT_BYTES and (os.cpu_count() or 1) > 1
    pixels = zlib_stream(memoryview(rows.reshape(-1)), level, split)
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0))
    return PNG_SIGNATURE + header + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


class Latest:
    """Run ``work(value)`` on a worker thread for the most recent ``submit``-ted value only.

    Values submitted while ``work`` runs replace each other; when it returns, the last of them is
    worked on next. ``wait`` blocks until nothing is pending or running.
    """

    def __init__(self, work: Callable[[object], None]):
        self._work, self._lock, self._pending, self._busy = work, threading.Lock(), None, False
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, value: object) -> None:
        with self._lock:
            self._pending = (value,)
            if self._busy:
                return
            self._busy = True
            self._idle.clear()
        threading.Thread(target=self._run, daemon=True, name="fmtutor-live").start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._busy = False
                    self._idle.set()
                    return
                (value,), self._pending = self._pending, None
            self._work(value)

    def wait(self, timeout: float | None = None) -> bool:
        """True once no value is pending or being worked on (False if ``timeout`` passed first)."""
        return self._idle.wait(timeout)


def live(update: Callable[..., None], fig: plt.Figure, **controls):
    """An ipywidgets panel: each control change calls ``update(**values)`` and shows ``fig`` again.

    ``controls`` maps the keyword names of ``update`` to ipywidgets controls. The figure is shown as
    a PNG in an ``ipywidgets.Image`` (a figure inside an ``Output`` widget can stall notebook
    executors until the cell's timeout). The first picture is drawn before this returns; later ones
    on a worker thread for the latest setting (see ``Latest``); an error in ``update`` is shown
    under the controls. Returns the ``HBox`` (controls column, picture) after displaying it, with
    ``wait()`` to block until the latest setting is drawn; in a notebook write ``_ = live(...)``.
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

    def draw(values: dict) -> None:
        try:
            image.value = view.png(**values)
            error.value = ""
        except Exception:  # shown to the reader: a worker thread's traceback would go nowhere
            error.value = f"<pre style='color:#b00;white-space:pre-wrap'>{traceback.format_exc(limit=3)}</pre>"

    latest = Latest(draw)

    def changed(change: object = None) -> None:
        latest.submit({name: w.value for name, w in controls.items()})

    image.value = view.png(**{name: w.value for name, w in controls.items()})
    for control in controls.values():
        control.observe(changed, names="value")
    plt.close(fig)
    column = ipywidgets.VBox([*controls.values(), error], layout=ipywidgets.Layout(flex="0 1 auto"))
    panel = ipywidgets.HBox([column, image], layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start"))
    panel.add_class("fmtutor-live")
    panel.wait = latest.wait
    display(panel)
    return panel
