"""viz.live: controls beside a sharp, fitted PNG of the figure, redrawn for the latest setting only."""

from __future__ import annotations

import struct
import threading
import time

import matplotlib

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fmtutor.live_panel import MAX_CSS, SPLIT_BYTES, Latest, LiveView, fast_png, zlib_stream  # noqa: E402
from fmtutor.viz import live  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert bytes(data).startswith(PNG)
    return struct.unpack(">II", bytes(data)[16:24])


def test_live_shows_controls_beside_the_image_and_redraws_on_each_change(capsys):
    fig, ax = plt.subplots(figsize=(2, 2), dpi=80)
    (line,) = ax.plot([0, 1], [0, 0])
    seen = []

    def update(a: float, kind: str) -> None:
        seen.append((a, kind))
        line.set_ydata([0, a])

    slider, menu = ipywidgets.FloatSlider(value=0.5, min=0, max=1), ipywidgets.Dropdown(options=["x", "y"])
    panel = live(update, fig, a=slider, kind=menu)
    column, image = panel.children
    assert isinstance(panel, ipywidgets.HBox) and list(column.children[:2]) == [slider, menu]
    assert isinstance(image, ipywidgets.Image) and seen == [(0.5, "x")]
    assert fig.number not in plt.get_fignums()
    first = bytes(image.value)
    slider.value = 1.0
    assert panel.wait(10)
    menu.value = "y"
    assert panel.wait(10)
    assert seen == [(0.5, "x"), (1.0, "x"), (1.0, "y")]
    assert bytes(image.value) != first and png_size(image.value) == png_size(first)


def test_the_picture_is_shown_at_figure_size_with_two_pixels_per_css_pixel():
    fig = plt.figure(figsize=(4, 3), dpi=80)
    view = LiveView(lambda: None, fig)
    assert view.css_size == (320, 240)
    assert png_size(view.png()) == (640, 480)
    plt.close(fig)


def test_the_live_picture_has_the_pixels_savefig_would_write():
    import io

    import numpy as np
    from PIL import Image

    fig, ax = plt.subplots(figsize=(3, 2), dpi=80)
    ax.plot([0, 1, 2], [0, 1, 0.5], color="tab:red")
    ax.set_title("a title")
    view = LiveView(lambda: None, fig)
    live = np.asarray(Image.open(io.BytesIO(view.png())))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=view.dpi)
    assert live.shape == (320, 480, 3)  # an opaque figure is sent without its alpha channel
    saved = np.asarray(Image.open(buffer))
    assert (saved[:, :, 3] == 255).all()
    np.testing.assert_array_equal(live, saved[:, :, :3])
    plt.close(fig)


def _decode(data: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("opaque", [True, False])
def test_fast_png_is_lossless_and_drops_alpha_only_when_every_pixel_is_opaque(opaque):
    import numpy as np

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    rgba[:, :, 3] = 255
    if not opaque:
        rgba[3, 2, 3] = 254  # one pixel not quite opaque: alpha must be kept
    decoded = _decode(fast_png(rgba))
    np.testing.assert_array_equal(decoded, rgba[:, :, :3] if opaque else rgba)


@pytest.mark.parametrize("size", [1, 2, 3, 1000, 100_003])
def test_a_stream_deflated_in_two_halves_inflates_to_the_data(size):
    import zlib

    import numpy as np

    data = np.random.default_rng(size).integers(0, 4, size=size, dtype=np.uint8).tobytes()  # compressible
    split = zlib_stream(memoryview(data), 1, split=True)
    assert zlib.decompress(split) == data == zlib.decompress(zlib_stream(memoryview(data), 1))


def test_a_picture_larger_than_the_split_size_is_still_lossless():
    import numpy as np

    side = int((SPLIT_BYTES / 3) ** 0.5) + 20  # RGB rows just over the split size
    rgba = np.full((side, side, 4), 255, np.uint8)
    rgba[:, :, :3] = np.random.default_rng(1).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    rgba[side // 2 :, : side // 3, :3] = (31, 119, 180)  # a flat block across the cut
    np.testing.assert_array_equal(_decode(fast_png(rgba)), rgba[:, :, :3])


def test_fast_png_names_the_shape_it_expected():
    import numpy as np

    with pytest.raises(ValueError, match=r"rgba must be an \(H, W, 4\) uint8 array, got shape \(4, 4, 3\)"):
        fast_png(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="dtype float64"):
        fast_png(np.zeros((4, 4, 4)))


@pytest.mark.parametrize("inches", [(12, 3), (4, 10)])
def test_a_large_figure_is_scaled_down_to_fit_beside_the_controls(inches):
    fig = plt.figure(figsize=inches, dpi=100)
    view = LiveView(lambda: None, fig)
    width, height = view.css_size
    scale = min(MAX_CSS[0] / (inches[0] * 100), MAX_CSS[1] / (inches[1] * 100))
    assert (width, height) == (round(inches[0] * 100 * scale), round(inches[1] * 100 * scale))
    assert width <= MAX_CSS[0] and height <= MAX_CSS[1]
    assert png_size(view.png()) == (2 * width, 2 * height)
    plt.close(fig)


def test_an_error_in_update_is_shown_under_the_controls_and_the_last_image_kept():
    fig, ax = plt.subplots(figsize=(2, 2))

    def update(a: int) -> None:
        if a == 3:
            raise ValueError("a must not be 3")
        ax.set_title(str(a))

    slider = ipywidgets.IntSlider(value=1, min=0, max=5)
    panel = live(update, fig, a=slider)
    error, image = panel.children[0].children[-1], panel.children[1]
    before = bytes(image.value)
    slider.value = 3
    assert panel.wait(10)
    assert "ValueError: a must not be 3" in error.value and bytes(image.value) == before
    slider.value = 4
    assert panel.wait(10)
    assert error.value == "" and bytes(image.value) != before


def test_latest_skips_values_submitted_while_working_and_ends_on_the_last():
    started, release, done = threading.Event(), threading.Event(), []

    def work(value: int) -> None:
        if value == 0:
            started.set()
            release.wait(10)
        done.append(value)

    latest = Latest(work)
    latest.submit(0)
    assert started.wait(10)
    for value in range(1, 20):  # a drag: all arrive while the first draw is running
        latest.submit(value)
    assert not latest.wait(0.05)
    release.set()
    assert latest.wait(10)
    assert done == [0, 19]


def test_latest_waits_for_slow_work_and_then_goes_idle():
    done = []
    latest = Latest(lambda v: (time.sleep(0.05), done.append(v)))
    latest.submit("a")
    assert latest.wait(10) and done == ["a"]
    latest.submit("b")
    assert latest.wait(10) and done == ["a", "b"]


def _chapter_panels() -> list:
    from fmtutor.panels import diffusion_vs_flow, flow_matching, gaussian_paths, odes, score_matching, sdes

    return [
        odes.SolverFlowPanel,
        sdes.SDEPanel,
        gaussian_paths.MarginalPathPanel,
        flow_matching.FlowMatchingPanel,
        score_matching.MarginalPreservingSDEPanel,
        diffusion_vs_flow.DiffusionVsFlowPanel,
    ]


@pytest.mark.parametrize("cls", _chapter_panels(), ids=lambda c: c.__name__)
def test_every_title_sits_above_its_axes_and_its_ticks_and_inside_the_picture(cls):
    """The panels pin their titles at y = 1 (matplotlib no longer places them on each draw): on
    every setting each title must still clear its axes and anything on top of them, and fit."""
    import numpy as np

    panel = cls.demo()
    view = LiveView(panel.update, panel.fig)
    titled = 0
    for values in [panel.defaults(), *panel.extremes()]:
        view.png(**values)
        renderer = panel.fig.canvas.get_renderer()
        for ax in panel.fig.axes:
            if not (ax.title.get_visible() and ax.title.get_text()):
                continue
            box = ax.title.get_window_extent(renderer)
            ticks = ax.xaxis.get_tightbbox(renderer)  # None without ticks
            below = max(ax.get_window_extent(renderer).y1, ticks.y1 if ticks is not None else -np.inf)
            assert box.y0 >= below - 0.5, (values, ax.title.get_text(), box.y0, below)
            assert box.y1 <= panel.fig.bbox.y1 + 0.5 and box.x0 >= -0.5 and box.x1 <= panel.fig.bbox.x1 + 0.5
            titled += 1
    plt.close(panel.fig)
    assert titled > 0 or cls.__name__ == "FlowMatchingPanel"  # chapter 4 labels its figure, not its axes
