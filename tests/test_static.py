"""fmtutor.static: a panel's frames over a grid of all its controls, drawn by its own update, named by
their values, written once and re-drawn only when something they depend on changed."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from fmtutor.panels import Panel  # noqa: E402
from fmtutor.static import CSS_DPI, FRAMES_ENV, PIXEL_RATIO, frame_name, frames_root, slug  # noqa: E402


class LinePanel(Panel):
    """y = gain * x**power, coloured by kind: every control changes the picture."""

    def __init__(self, offset: float = 0.0):
        self.offset, self.calls = offset, []
        self.fig, self.ax = plt.subplots(figsize=(2.0, 1.5))
        (self.line,) = self.ax.plot([], [])
        self.ax.set(xlim=(0, 1), ylim=(-1, 3))

    def controls(self) -> dict:
        return {
            "gain": w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.5, description="gain"),
            "power": w.IntSlider(value=2, min=1, max=9, description="p"),
            "kind": w.Dropdown(options=[("solid red", "r"), ("solid blue", "b")], value="r", description="kind"),
            "n": w.SelectionSlider(options=(4, 16, 64), value=16, description="points"),
        }

    def update(self, gain: float = 1.0, power: int = 2, kind: str = "r", n: int = 16) -> None:
        self.calls.append((gain, power, kind, n))
        x = np.linspace(0, 1, n)
        self.line.set_data(x, gain * x**power + self.offset)
        self.line.set_color(kind)

    @classmethod
    def demo(cls) -> LinePanel:
        return cls()


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A book root (it holds _config.yml) whose chapters run in book/, as the notebooks do."""
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path / "book")
    monkeypatch.delenv(FRAMES_ENV, raising=False)
    return tmp_path


GRID = {"n": [4, 64], "gain": [0.5, 1.0, 2.0], "kind": ["r", "b"]}


def test_names_spell_the_values():
    assert slug(0.5) == "0.5" and slug(2) == "2" and slug("pf-heun") == "pf-heun" and slug("a b/c") == "a-b-c"
    assert frame_name({"solver": "heun", "steps": 4, "t": 1.0}) == "solver-heun_steps-4_t-1.0.webp"


def test_frames_go_to_the_book_roots_static_folder(book, monkeypatch, tmp_path):
    assert frames_root() == book / "_static" / "frames"
    monkeypatch.setenv(FRAMES_ENV, str(tmp_path / "elsewhere"))
    assert frames_root() == tmp_path / "elsewhere"


def test_default_grid_takes_every_option_and_spaced_slider_values():
    grid = LinePanel().static_grid(points=5)
    assert grid == {
        "gain": (0.0, 0.5, 1.0, 1.5, 2.0),
        "power": (1, 2, 3, 5, 7, 9),  # 2: the default
        "kind": ("r", "b"),
        "n": (4, 16, 64),
    }


def test_one_frame_per_combination_drawn_by_update_at_twice_the_css_size(book):
    panel = LinePanel()
    twin = panel.static(GRID)
    assert list(twin.grid) == ["gain", "kind", "n"]  # the live panel's order
    names = sorted(p.name for p in twin.directory.glob("*.webp"))
    expected = sorted(f"gain-{g!r}_kind-{k}_n-{n}.webp" for g in GRID["gain"] for k in GRID["kind"] for n in GRID["n"])
    assert names == expected and len(names) == 12
    assert {c[1] for c in panel.calls} == {2}  # the control not on the grid stays at its default
    size = Image.open(twin.directory / names[0]).size
    assert size == (2.0 * CSS_DPI * PIXEL_RATIO, 1.5 * CSS_DPI * PIXEL_RATIO) == tuple(2 * s for s in twin.css_size())
    pixels = {name: np.asarray(Image.open(twin.directory / name).convert("RGB"), dtype=float) for name in names}
    for a in names:  # every control changes the frame
        for b in names:
            if a != b:
                assert np.abs(pixels[a] - pixels[b]).mean() > 0.05, (a, b)
    panel.update(gain=2.0, power=2, kind="b", n=64)  # the file is the figure update draws
    buffer = io.BytesIO()
    panel.fig.savefig(buffer, format="png", dpi=CSS_DPI * PIXEL_RATIO)
    drawn = np.asarray(Image.open(buffer).convert("RGB"), dtype=float)
    assert np.abs(drawn - pixels["gain-2.0_kind-b_n-64.webp"]).mean() < 2.0  # WebP's loss only


def test_an_unchanged_twin_is_not_drawn_again_and_a_changed_one_is(book):
    twin = LinePanel().static(GRID)
    frame = twin.directory / "gain-1.0_kind-r_n-64.webp"
    stamp, before = frame.stat().st_mtime_ns, frame.read_bytes()
    again = LinePanel()
    assert again.static(GRID).render() == 0 and frame.stat().st_mtime_ns == stamp
    assert len(again.calls) == 2  # the fingerprint's default frame only, and the twin's first frame
    moved = LinePanel(offset=0.5)  # other data, same grid: same folder, new pictures
    assert moved.static(GRID).directory == twin.directory and frame.read_bytes() != before
    frame.unlink()
    assert LinePanel(offset=0.5).static(GRID).render() == 0 and frame.is_file()  # a missing frame re-draws


def test_the_html_holds_a_control_per_grid_control_and_the_first_frames_address(book):
    twin = LinePanel().static(GRID, gain=2.0)
    page = twin._repr_html_()
    assert "base64" not in page and len(page) < 8000
    src = re.search(r'<img class="fmt-frame" src="([^"]+)"', page).group(1)
    assert src == f"../_static/frames/{twin.folder}/gain-2.0_kind-r_n-4.webp"
    assert (book / "book" / src).resolve().is_file()
    gain = re.search(
        r'<input type="range" id="[^"]+-gain" data-control="gain" min="0" max="2" step="1" value="2"', page
    )
    assert gain and '<output for="fmt-' in page and ">2.00</output>" in page  # the live readout's format
    assert re.search(
        r'<select id="[^"]+-kind" data-control="kind"><option value="0" selected>solid red</option>'
        r'<option value="1">solid blue</option></select>',
        page,
    )
    assert 'data-control="n" min="0" max="1" step="1" value="0"' in page  # 16 is not on the grid: its first value
    assert 'loading="lazy"' in page and f'width="{192}" height="{144}"' in page
    assert repr(twin) == "<static twin of LinePanel: 12 frames over gain (3) x kind (2) x n (2)>"


def test_the_frame_has_an_alt_text_with_the_figures_title_and_the_settings(book):
    panel = LinePanel()
    panel.ax.set_title("a power law")
    page = panel.static(GRID, gain=2.0)._repr_html_()
    alt = re.search(r'<img class="fmt-frame"[^>]* alt="([^"]+)"', page).group(1)
    assert alt == (
        "Figure drawn in advance for the settings of the controls above (a power law): "
        "gain 2.00, kind solid red, points 4"
    )
    assert 'img.alt = img.dataset.alt + ": "' in page  # the script keeps it in words as a control moves


def test_scrub_is_a_one_control_grid(book):
    panel = LinePanel()
    twin = panel.scrub("gain", [0.0, 2.0], kind="b")
    assert twin.grid == {"gain": (0.0, 2.0)} and twin.fixed == {"power": 2, "kind": "b", "n": 16}
    assert sorted(p.name for p in twin.directory.glob("*.webp")) == ["gain-0.0.webp", "gain-2.0.webp"]


def test_refusals_name_the_argument(book):
    panel = LinePanel()
    with pytest.raises(ValueError, match=r"must name controls of LinePanel \(gain, power, kind, n\), got \['t'\]"):
        panel.static({"t": [0.0]})
    with pytest.raises(ValueError, match=r"grid\['gain'\] must hold at least one value, got \(\)"):
        panel.static({"gain": []})
