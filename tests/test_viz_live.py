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

from fmtutor.live_panel import MAX_CSS, LiveView, ahead, along  # noqa: E402
from fmtutor.live_pictures import SWITCH, Pictures, quick_switching, setting_key  # noqa: E402
from fmtutor.png import SPLIT_BYTES, fast_png, zlib_stream  # noqa: E402
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
    # the jump from 0.5 to 1.0 draws nothing ahead; after the menu's step, "y" is its last option and
    # (1.0, "x"), the step back, is cached already
    assert seen == [(0.5, "x"), (1.0, "x"), (1.0, "y")]
    assert bytes(image.value) != first and png_size(image.value) == png_size(first)


def test_a_step_to_a_neighbouring_position_shows_its_picture_drawn_ahead_without_drawing_again():
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    seen = []

    def update(a: int) -> None:
        seen.append(a)
        ax.set_title(str(a))

    slider = ipywidgets.IntSlider(value=1, min=0, max=5)
    reference = LiveView(update, fig)  # made before live() sets the figure's dpi to its rendering dpi
    panel = live(update, fig, a=slider)
    image = panel.children[1]
    slider.value = 2
    assert panel.wait(10) and seen == [1, 2, 3]  # 3 is drawn ahead; 1, the step back, is cached
    slider.value = 3  # shown at once, by the change itself
    shown = bytes(image.value)
    assert panel.wait(10) and seen == [1, 2, 3, 4]  # 3 was not drawn again; 4 is drawn ahead
    assert shown == reference.png(a=3)
    slider.value = 0  # a jump, as in a drag: nothing is drawn ahead
    assert panel.wait(10) and seen == [1, 2, 3, 4, 3, 0]


def test_a_superseded_picture_is_updated_but_neither_drawn_nor_encoded():
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    seen, draws = [], []
    fig.canvas.mpl_connect("draw_event", lambda event: draws.append(event))
    view = LiveView(lambda a: seen.append(a) or ax.set_title(str(a)), fig)
    assert view.picture({"a": 1}, lambda: True) is None and seen == [1] and draws == []
    assert view.picture({"a": 2}, lambda: False) == view.png(a=2) and seen == [1, 2, 2] and len(draws) == 2
    plt.close(fig)


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


class Recorder:
    """A ``Pictures`` whose pictures are the values' own text; what it draws and shows is recorded.
    Drawing the value ``block`` waits for ``release`` (as a figure's update would take its time) and
    then drops the picture if ``superseded()``."""

    def __init__(self, block: int | None = None, bad: int | None = None):
        self.drawn, self.shown, self.failed = [], [], []
        self.started, self.release, self.block, self.bad = threading.Event(), threading.Event(), block, bad
        self.pictures = Pictures(self.draw, self.shown.append, self.failed.append)

    def draw(self, values: dict) -> bytes | None:
        if values["a"] == self.block:  # the figure's update, then the picture is dropped if superseded
            self.started.set()
            assert self.release.wait(10)
            if self.pictures.superseded():
                return None
        if values["a"] == self.bad:
            raise ValueError(f"a must not be {self.bad}")
        self.drawn.append(values["a"])
        return str(values["a"]).encode()


def test_pictures_skip_settings_asked_for_while_drawing_and_end_on_the_last():
    r = Recorder(block=0)
    r.pictures.request({"a": 0})
    assert r.started.wait(10)
    for value in range(1, 20):  # a drag: all arrive while the first picture is drawn
        r.pictures.request({"a": value})
    assert not r.pictures.wait(0.05)
    r.release.set()
    assert r.pictures.wait(10)
    assert r.drawn == [0, 19] and r.shown == [b"0", b"19"]


def test_a_position_passed_while_its_figure_was_updated_is_not_drawn(monkeypatch):
    monkeypatch.setattr("fmtutor.live_pictures.GAP", 60.0)  # a picture was shown less than GAP ago
    r = Recorder(block=2)
    r.pictures.request({"a": 1})
    assert r.pictures.wait(10)
    r.pictures.request({"a": 2})
    assert r.started.wait(10)
    r.pictures.request({"a": 3})  # the drag has moved on while 2 was being updated
    r.release.set()
    assert r.pictures.wait(10)
    assert r.drawn == [1, 3] and r.shown == [b"1", b"3"]
    r.pictures.request({"a": 2})  # 2 was dropped, not kept: asked for again, it is drawn
    assert r.pictures.wait(10) and r.drawn == [1, 3, 2] and r.shown[-1] == b"2"


def test_a_passed_position_is_still_drawn_when_nothing_was_shown_for_the_gap(monkeypatch):
    monkeypatch.setattr("fmtutor.live_pictures.GAP", 0.0)  # a slow drag still shows pictures as it goes
    r = Recorder(block=2)
    r.pictures.request({"a": 1})
    assert r.pictures.wait(10)
    r.pictures.request({"a": 2})
    assert r.started.wait(10)
    r.pictures.request({"a": 3})
    r.release.set()
    assert r.pictures.wait(10)
    assert r.drawn == [1, 2, 3] and r.shown == [b"1", b"2", b"3"]


def test_a_picture_drawn_ahead_is_dropped_for_a_request_of_another_setting(monkeypatch):
    monkeypatch.setattr("fmtutor.live_pictures.GAP", 0.0)  # dropped whatever the time since the last picture
    r = Recorder(block=2)
    r.pictures.request({"a": 1}, [{"a": 2}])
    assert r.started.wait(10)  # 2 is being drawn ahead
    r.pictures.request({"a": 5})
    r.release.set()
    assert r.pictures.wait(10)
    assert r.drawn == [1, 5] and r.shown == [b"1", b"5"]


def test_a_cached_picture_is_shown_at_once_and_a_late_older_one_is_not_shown_over_it():
    r = Recorder(block=5)
    r.pictures.request({"a": 1})
    assert r.pictures.wait(10) and r.shown == [b"1"]
    r.pictures.request({"a": 5})
    assert r.started.wait(10)
    r.pictures.request({"a": 1})  # back to a cached picture while 5 is still being drawn
    assert r.shown == [b"1", b"1"]
    r.release.set()
    assert r.pictures.wait(10)
    assert r.drawn == [1, 5] and r.shown == [b"1", b"1"]  # 5 is kept, not shown over the newer 1
    r.pictures.request({"a": 5})
    assert r.shown[-1] == b"5" and r.drawn == [1, 5]


def test_pictures_draw_the_next_settings_ahead_and_show_only_what_was_asked_for():
    r = Recorder(bad=7)
    r.pictures.request({"a": 2}, [{"a": 3}, {"a": 7}, {"a": 1}])
    assert r.pictures.wait(10)
    assert r.drawn == [2, 3, 1] and r.shown == [b"2"] and r.failed == []  # 7's error is not shown
    r.pictures.request({"a": 3})
    assert r.shown == [b"2", b"3"] and r.drawn == [2, 3, 1]
    r.pictures.request({"a": 7})
    assert r.pictures.wait(10) and "ValueError: a must not be 7" in r.failed[0] and r.shown[-1] == b"3"


def test_a_setting_asked_for_while_it_is_drawn_ahead_is_shown_when_done_and_not_drawn_again():
    r = Recorder(block=2)
    r.pictures.request({"a": 1}, [{"a": 2}])
    assert r.started.wait(10)  # 2 is being drawn ahead
    r.pictures.request({"a": 2}, [{"a": 3}])
    assert r.shown == [b"1"]
    r.release.set()
    assert r.pictures.wait(10)
    assert r.drawn == [1, 2, 3] and r.shown == [b"1", b"2"]


def test_drawing_ahead_waits_until_no_request_has_come_for_the_delay():
    times = []
    pictures = Pictures(lambda v: times.append((v["a"], time.monotonic())) or b"", lambda p: None, lambda e: None)
    pictures.request({"a": 1}, [{"a": 2}], delay=0.3)
    time.sleep(0.15)
    pictures.request({"a": 5}, [{"a": 6}], delay=0.3)  # the reader moves on: 2 is no longer ahead
    last = time.monotonic()
    assert pictures.wait(10)
    assert [a for a, _ in times] == [1, 5, 6] and times[2][1] - last >= 0.3


def test_pictures_are_drawn_with_quick_thread_switching_and_the_interval_is_put_back():
    import sys

    before, inside = sys.getswitchinterval(), []
    pictures = Pictures(lambda v: inside.append(sys.getswitchinterval()) or b"", lambda p: None, lambda e: None)
    pictures.request({"a": 1})
    assert pictures.wait(10) and inside == [min(before, SWITCH)] and sys.getswitchinterval() == before


def test_overlapping_quick_switching_puts_the_first_interval_back_after_the_last_user():
    import sys

    before = sys.getswitchinterval()
    first, second = quick_switching(), quick_switching()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first panel ends its draw while the second still draws
    assert sys.getswitchinterval() == min(before, SWITCH)
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before


def test_the_cache_keeps_the_most_recently_used_pictures():
    drawn = []
    pictures = Pictures(lambda v: drawn.append(v["a"]) or b"", lambda p: None, lambda e: None, size=2)
    for a in (1, 2, 1, 3):  # 1 was used after 2, so 2 is the one that goes
        pictures.request({"a": a})
        assert pictures.wait(10)
    pictures.request({"a": 1})
    pictures.request({"a": 2})
    assert pictures.wait(10) and drawn == [1, 2, 3, 2]


def test_a_setting_s_key_rounds_floats_and_refuses_nothing_hashable():
    assert setting_key({"t": 0.1 + 0.05, "s": "x"}) == setting_key({"s": "x", "t": 0.15})
    assert setting_key({"t": 0.15}) != setting_key({"t": 0.2})
    assert setting_key({"x": [1, 2]}) is None


@pytest.mark.parametrize(
    ("widget", "value", "expected"),
    [
        (ipywidgets.IntSlider(min=1, max=64), 8, (9, 7)),
        (ipywidgets.IntSlider(min=1, max=64), 64, (None, 63)),
        (ipywidgets.FloatSlider(min=0.0, max=1.0, step=0.05), 0.1, (0.15, 0.05)),
        (ipywidgets.FloatSlider(min=0.0, max=1.0, step=0.05), 0.0, (0.05, None)),
        (ipywidgets.SelectionSlider(options=[("one", 1), ("two", 2), ("four", 4)]), 2, (4, 1)),
        (ipywidgets.Dropdown(options=["euler", "heun"]), "euler", ("heun", None)),
        (ipywidgets.Checkbox(), True, (None, None)),
    ],
)
def test_one_step_along_a_control_stays_on_it(widget, value, expected):
    assert (along(widget, value, 1), along(widget, value, -1)) == expected


def test_the_settings_ahead_continue_the_way_the_control_moved_then_step_back():
    controls = {"t": ipywidgets.FloatSlider(min=0.0, max=1.0, step=0.05), "n": ipywidgets.IntSlider(min=1, max=9)}
    assert ahead(controls, {"t": 0.5, "n": 3}, "t", 0.55) == [{"t": 0.45, "n": 3}, {"t": 0.55, "n": 3}]
    assert ahead(controls, {"t": 0.5, "n": 3}, "n", 2) == [{"t": 0.5, "n": 4}, {"t": 0.5, "n": 2}]
    assert ahead(controls, {"t": 0.5, "n": 9}, "n", 8) == [{"t": 0.5, "n": 8}]


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
