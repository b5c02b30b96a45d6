"""Chapter 7's guidance panel, on the exact field of ten font digits (no training): every extreme
setting draws finite pixels, each slider changes the picture, all grids share one noise, w = 1 gives
the digits asked for, w = 0 ignores the label, and a slider move reuses the cached samples."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fmtutor.mnist import NULL_LABEL, make_grid  # noqa: E402
from fmtutor.mnist.glyphs import GlyphField  # noqa: E402
from fmtutor.panels.mnist import GuidancePanel  # noqa: E402


class Counting(GlyphField):
    """GlyphField that counts its calls."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, t, y=None):
        self.calls += 1
        return super().forward(x, t, y)


@pytest.fixture(scope="module")
def panel() -> GuidancePanel:
    return GuidancePanel(Counting(), ws=(0.0, 1.0, 4.0), nfes=(1, 3, 6), per_class=2)


def _pixels(panel: GuidancePanel) -> np.ndarray:
    return np.array(panel.image.get_array())


def _nearest_template(panel: GuidancePanel, images: torch.Tensor) -> torch.Tensor:
    return torch.cdist(images.flatten(1), panel.model.templates.flatten(1)).argmin(1)


def test_extremes_draw_without_error_or_nan(panel):
    cases = panel.extremes()
    names = {(k, v) for case in cases for k, v in case.items()}
    assert {("w", 0.0), ("w", 4.0), ("nfe", 1), ("nfe", 6)} <= names
    for values in cases:
        panel.update(**values)
        panel.fig.canvas.draw()
        pixels = _pixels(panel)
        assert pixels.shape == (10 * 30 + 2, 2 * 30 + 2) and np.isfinite(pixels).all()
        assert pixels.min() >= 0.0 and pixels.max() <= 1.0


@pytest.mark.parametrize("name, a, b", [("w", 0.0, 4.0), ("nfe", 1, 6)])
def test_each_slider_changes_the_picture(panel, name, a, b):
    settings = {"w": 1.0, "nfe": 3}
    panel.update(**{**settings, name: a})
    before, title = _pixels(panel), panel.ax.get_title()
    panel.update(**{**settings, name: b})
    assert not np.allclose(before, _pixels(panel))
    assert title != panel.ax.get_title()


def test_one_step_of_the_conditional_field_lands_on_the_templates(panel):
    """At t = 0 the conditional velocity is m_y - x0, so one Euler step from x0 gives exactly m_y."""
    torch.testing.assert_close(panel.images(1.0, 1), panel.model.templates[panel.labels].clamp(-1, 1))
    panel.update(w=1.0, nfe=1)
    np.testing.assert_allclose(_pixels(panel), make_grid(panel.model.templates[panel.labels], nrow=2), atol=1e-6)


def test_w1_gives_the_digit_asked_for_and_w0_ignores_it(panel):
    assert torch.equal(_nearest_template(panel, panel.images(1.0, 6)), panel.labels)
    unconditional = _nearest_template(panel, panel.images(0.0, 6))
    assert not torch.equal(unconditional, panel.labels) and len(set(unconditional.tolist())) >= 4


def test_every_grid_starts_from_the_same_noise():
    model = Counting()
    a = GuidancePanel(model, ws=(0.0, 2.0), nfes=(2,), per_class=1, seed=3)
    b = GuidancePanel(model, ws=(0.0, 2.0), nfes=(2,), per_class=1, seed=3)
    torch.testing.assert_close(a.images(2.0, 2), b.images(2.0, 2))
    x0 = torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    null = torch.full((10,), NULL_LABEL)
    half = x0 + 0.5 * model(x0, 0.0, null)  # the first of two Euler steps of the unconditional field
    expected = half + 0.5 * model(half, 0.5, null)
    torch.testing.assert_close(a.images(0.0, 2), expected.clamp(-1, 1), rtol=1e-5, atol=1e-5)


def test_slider_moves_reuse_the_cache(panel):
    panel.precompute()
    calls = panel.model.calls
    for values in [panel.defaults(), *panel.extremes()] * 2:
        panel.update(**values)
    assert panel.model.calls == calls
    assert panel.images(4.0, 3) is panel.images(4.0, 3)


def test_settings_and_refusals(panel):
    assert panel.cross(4.0, 6) == [(0.0, 6), (1.0, 6), (4.0, 6), (4.0, 1), (4.0, 3)]
    with pytest.raises(ValueError, match=r"w must be one of \(0.0, 1.0, 4.0\), got 2.5"):
        panel.update(w=2.5, nfe=3)
    with pytest.raises(ValueError, match=r"nfe must be one of \(1, 3, 6\), got 50"):
        panel.images(1.0, 50)
    with pytest.raises(ValueError, match="per_class must be a positive integer, got 0"):
        GuidancePanel(panel.model, per_class=0)
    with pytest.raises(ValueError, match=r"must name controls of GuidancePanel \(w, nfe\), got \['t'\]"):
        panel.scrub("t", [0.0, 1.0])


def test_the_grid_shows_the_first_samples_of_each_digit():
    panel = GuidancePanel(GlyphField(), ws=(1.0,), nfes=(1,), per_class=3, shown=2)
    images = panel.images(1.0, 1)
    assert images.shape == (30, 1, 28, 28)
    rows = images.reshape(10, 3, 1, 28, 28)[:, :2].reshape(20, 1, 28, 28)
    np.testing.assert_allclose(panel.grid(1.0, 1), make_grid(rows, nrow=2))
    with pytest.raises(ValueError, match=r"shown must lie in 1..3 \(per_class\), got 4"):
        GuidancePanel(GlyphField(), per_class=3, shown=4)


def test_building_the_panel_shows_nothing_and_it_still_draws(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    panel = GuidancePanel(GlyphField(), ws=(0.0, 1.0), nfes=(1,), per_class=1)
    assert plt.get_fignums() == before  # no blank grid left for the notebook to show
    frames = []
    for w in panel.ws:  # what benchmarks/widgets.py times: update, then draw with Agg
        panel.update(w=w, nfe=1)
        panel.fig.canvas.draw()
        frames.append(np.asarray(panel.fig.canvas.buffer_rgba()).copy())
    assert frames[0].std() > 0 and not np.array_equal(frames[0], frames[1])
    monkeypatch.setenv("FMTUTOR_FRAMES_DIR", str(tmp_path))
    twin = panel.static()
    assert sorted(p.name for p in twin.directory.glob("*.webp")) == ["w-0.0_nfe-1.webp", "w-1.0_nfe-1.webp"]


def test_the_sliders_open_on_a_precomputed_setting():
    panel = GuidancePanel(GlyphField(), ws=(0.0, 1.0, 3.0), nfes=(1, 2, 4), per_class=1)
    assert panel.opening() == (3.0, 4)  # nothing computed yet: the largest NFE
    panel.precompute(panel.cross(3.0, 2))  # every w at NFE 2, every NFE at w = 3
    assert panel.opening() == (3.0, 2) and panel.defaults() == {"w": 3.0, "nfe": 2}
    other = GuidancePanel(GlyphField(), ws=(0.0, 1.0, 3.0), nfes=(1, 2, 4), per_class=1).precompute([(1.0, 1)])
    assert other.opening() == (1.0, 1)


# --- guidance on the labelled 2D mixture (exact fields) --------------------------------------------


@pytest.fixture(scope="module")
def mixture_panel():
    from fmtutor.panels.mnist import GuidedMixturePanel

    return GuidedMixturePanel(ws=(0.0, 1.0, 4.0), n_particles=300, steps=20, bins=40)


@pytest.mark.parametrize(
    "a, b", [({"w": 1.0, "t": 1.0}, {"w": 4.0, "t": 1.0}), ({"w": 4.0, "t": 0.2}, {"w": 4.0, "t": 0.9})]
)
def test_mixture_panel_sliders_change_density_and_particles(mixture_panel, a, b):
    pictures = []
    for setting in (a, b):
        mixture_panel.update(**setting)
        mixture_panel.fig.canvas.draw()
        pictures.append((mixture_panel.image.get_array().copy(), mixture_panel.dots.get_offsets().copy()))
    assert not np.allclose(pictures[0][0], pictures[1][0]) and not np.allclose(pictures[0][1], pictures[1][1])
    assert np.isfinite(pictures[1][0]).all() and abs(pictures[1][0].sum() - 1) < 1e-9


def test_mixture_panel_particles_start_as_noise_and_w1_lands_on_class(mixture_panel):
    from fmtutor.guidance import two_class_mixture

    torch.testing.assert_close(mixture_panel.particles(4.0, 0.0), mixture_panel.x0)
    data = two_class_mixture()
    at_one = mixture_panel.particles(1.0, 1.0)
    assert data.log_posterior(at_one, 0).exp().mean() > 0.9  # class 0 samples: p(y = 0 | x) near 1
    half = mixture_panel.particles(1.0, 0.525)  # between grid times 0.5 and 0.55: linear interpolation
    path = mixture_panel._paths[1.0]
    torch.testing.assert_close(half, 0.5 * (path[10] + path[11]))


def test_mixture_panel_refusals(mixture_panel):
    with pytest.raises(ValueError, match=r"w must be one of \(0.0, 1.0, 4.0\), got 2.0"):
        mixture_panel.update(w=2.0, t=1.0)
    with pytest.raises(ValueError, match="name"):
        mixture_panel.scrub("nfe", [1, 2])
