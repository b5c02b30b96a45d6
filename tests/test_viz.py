"""The plotting edge: one fixed colour scale for speeds (with its colour bar), several runs in one
loss plot, and the book's figure defaults (retina PNGs, text sizes)."""

from __future__ import annotations

import base64
import struct

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.notebook import FIGURE_STYLE, setup  # noqa: E402
from fmtutor.viz import SPEED_CMAP, FieldPanel, LossPlot, quiver_by_speed, speed_colorbar  # noqa: E402


def _rgba(quiver) -> np.ndarray:
    return quiver.to_rgba(quiver.get_array())


def test_one_speed_has_one_colour_in_every_panel():
    """Two panels with different fastest arrows: equal speeds get equal colours (no renormalising)."""
    fig, (a, b) = plt.subplots(1, 2)
    points = torch.zeros(2, 2)
    slow = quiver_by_speed(a, points, torch.tensor([[1.0, 0.0], [0.0, 2.0]]), vmax=4.0)
    fast = quiver_by_speed(b, points, torch.tensor([[0.0, 1.0], [3.0, 0.0]]), vmax=4.0)
    assert np.allclose(_rgba(slow)[0], _rgba(fast)[0])  # speed 1 in both
    assert slow.get_clim() == fast.get_clim() == (0.0, 4.0)
    expected = plt.get_cmap(SPEED_CMAP)(np.array([1.0, 2.0]) / 4.0)
    assert np.allclose(_rgba(slow), expected)
    plt.close(fig)


def test_arrows_have_unit_length_and_a_zero_vector_no_direction():
    fig, ax = plt.subplots()
    q = quiver_by_speed(ax, torch.zeros(3, 2), torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.0, -0.5]]), vmax=1.0)
    assert np.allclose(q.U, [0.6, 0.0, 0.0]) and np.allclose(q.V, [0.8, 0.0, -1.0])
    assert np.allclose(q.get_array(), [5.0, 0.0, 0.5])
    plt.close(fig)


def test_field_panel_with_vmax_keeps_its_scale_and_without_follows_each_update():
    field = lambda x, t: x * (1 + t[:, None])  # noqa: E731 - speeds grow with t
    fixed, free = FieldPanel(lim=2.0, n_grid=5, vmax=3.0), FieldPanel(lim=2.0, n_grid=5)
    for t in (0.0, 1.0):
        fixed.update(field, t)
        free.update(field, t)
        fastest = float(field(fixed.grid, torch.full((25,), t)).norm(dim=1).max())
        assert fixed.quiver.get_clim() == (0.0, 3.0)
        assert free.quiver.get_clim() == pytest.approx((0.0, fastest))
    bar = fixed.colorbar()
    assert bar.norm.vmin == 0.0 and bar.norm.vmax == 3.0 and bar.cmap.name == SPEED_CMAP
    with pytest.raises(ValueError, match="no fixed colour scale; pass vmax"):
        free.colorbar()
    plt.close("all")


def test_loss_plot_draws_one_labelled_curve_per_run():
    fig = LossPlot("losses", smooth=5).figure({"moons": [1.0] * 20, "checkerboard": [2.0] * 30})
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["moons", "checkerboard"]
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [16, 26]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["moons", "checkerboard"]
    single = LossPlot("one").figure([1.0] * 10)
    assert single.axes[0].get_legend() is None


def _png_width(data: bytes | str) -> int:
    raw = base64.b64decode(data) if isinstance(data, str) else data  # IPython may hand base64 text
    return struct.unpack(">I", raw[16:20])[0]  # the IHDR chunk


def test_setup_shows_figures_as_retina_pngs_with_readable_text():
    """In IPython a figure becomes a PNG twice as wide as its displayed width (sharp at DPR 2)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        setup(seed=0, dpi=100)
        assert matplotlib.rcParams["figure.dpi"] == 100
        assert min(matplotlib.rcParams[k] for k in ("font.size", "xtick.labelsize", "legend.fontsize")) >= 9
        assert {k: matplotlib.rcParams[k] for k in FIGURE_STYLE if k != "figure.figsize"} == {
            k: v for k, v in FIGURE_STYLE.items() if k != "figure.figsize"
        }
        fig, ax = plt.subplots(figsize=(4.0, 2.0))
        ax.plot([0, 1], [0, 1])
        data, metadata = shell.display_formatter.format(fig)
        natural = _png_width(data["image/png"])
        shown = metadata["image/png"]["width"]
        assert natural >= 1.5 * shown and shown == pytest.approx(natural / 2, abs=1)
        plt.close(fig)
    finally:
        InteractiveShell.clear_instance()


def test_speed_colorbar_labels_the_speed():
    fig, ax = plt.subplots()
    bar = speed_colorbar(fig, ax, 2.5)
    assert bar.ax.get_ylabel() == r"speed $\|u_t(x)\|$" and bar.extend == "max"
    plt.close(fig)
