"""The comparison figures: quivers of several fields on one speed scale with one colour bar and the
density behind them; quality curves with error bars where a spread over seeds is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.marginals import MarginalField  # noqa: E402
from fmtutor.paths import GaussianPath  # noqa: E402
from fmtutor.plots import draw_marginal, plot_fields, plot_quality  # noqa: E402
from fmtutor.toy_data import get_dataset  # noqa: E402
from fmtutor.viz import field_grid  # noqa: E402


@torch.no_grad()
def test_plot_fields_shares_one_scale_the_fastest_arrow_and_draws_its_colour_bar():
    slow = lambda x, t: 0.5 * x  # noqa: E731
    fast = lambda x, t: 2.0 * x  # noqa: E731
    fig = plot_fields({"slow": slow, "fast": fast}, ts=(0.0, 1.0), lim=2.0, n_grid=5)
    quivers = [c for ax in fig.axes for c in ax.collections if hasattr(c, "set_UVC")]
    top = float((2.0 * field_grid(2.0, 5)).norm(dim=1).max())
    assert len(quivers) == 4 and all(q.get_clim() == pytest.approx((0.0, top)) for q in quivers)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and bars[0].get_ylim() == pytest.approx((0.0, top))
    plt.close(fig)


def test_plot_fields_draws_the_density_behind_the_arrows():
    calls = []

    def density(x, t):
        calls.append(t)
        return torch.exp(-(x**2).sum(1))

    fig = plot_fields({"f": lambda x, t: x}, ts=(0.25, 0.75), density=density, n_grid=4, vmax=1.0)
    assert calls == [0.25, 0.75]
    assert all(len(ax.images) == 1 for ax in fig.axes if ax.get_label() != "<colorbar>")
    plt.close(fig)


def test_plot_quality_draws_error_bars_only_where_a_spread_is_given():
    curves = {"FM euler": {2: 1.0, 4: 0.5}, "FM euler, exact": {2: 0.8, 4: 0.3}}
    fig = plot_quality(curves, 0.2, spread={"FM euler": {2: 0.1, 4: 0.05}})
    bars = {c.get_label(): c for c in fig.axes[0].containers}
    assert bars["FM euler"].has_yerr and not bars["FM euler, exact"].has_yerr
    segments = bars["FM euler"].lines[2][0].get_segments()
    assert [s[1, 1] - s[0, 1] for s in segments] == pytest.approx([0.2, 0.1])  # +- one sd
    plt.close(fig)


@torch.no_grad()
@pytest.mark.parametrize("schedule, kind", [("linear", "velocity"), ("vp", "score")])
def test_draw_marginal_shows_p_t_under_the_fields_arrows_at_the_clamped_time(schedule, kind):
    field = MarginalField(get_dataset("eight-gaussians"), GaussianPath(schedule))
    fig, ax = plt.subplots()
    shown = draw_marginal(ax, field, 1.0, kind, vmax=6.0, lim=5.0, n_density=20)
    assert shown == field.t_max  # 1 for linear, below 1 for VP
    image = ax.get_images()[0]
    expected = field.density(field_grid(5.0, 20), shown).reshape(20, 20).numpy()
    assert (image.get_array() == expected).all() and image.get_clim()[1] == pytest.approx(1.4 * expected.max())
    (quiver,) = [c for c in ax.collections if hasattr(c, "set_UVC")]
    speed = getattr(field, kind)(field_grid(4.6, 10), shown).norm(dim=1).numpy()
    assert quiver.get_clim() == (0.0, 6.0)
    np.testing.assert_allclose(quiver.get_array(), speed, rtol=1e-5)
    with pytest.raises(ValueError, match=r"^unknown kind 'x1'; expected one of 'velocity', 'score'$"):
        draw_marginal(ax, field, 0.5, "x1")
    plt.close(fig)
