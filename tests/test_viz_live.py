"""viz.live: the live panel shows the figure as a PNG image widget and redraws it on every control change."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from fmtutor.viz import live  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_live_redraws_the_image_on_each_change_and_closes_the_figure(capsys):
    fig, ax = plt.subplots(figsize=(2, 2))
    (line,) = ax.plot([0, 1], [0, 0])
    seen = []

    def update(a: float, kind: str) -> None:
        seen.append((a, kind))
        line.set_ydata([0, a])

    slider, menu = ipywidgets.FloatSlider(value=0.5, min=0, max=1), ipywidgets.Dropdown(options=["x", "y"])
    panel = live(update, fig, a=slider, kind=menu)
    image = panel.children[-1]
    assert isinstance(panel, ipywidgets.VBox) and list(panel.children[:2]) == [slider, menu]
    assert isinstance(image, ipywidgets.Image) and bytes(image.value).startswith(PNG)
    assert seen == [(0.5, "x")] and fig.number not in plt.get_fignums()
    first = image.value
    slider.value = 1.0
    menu.value = "y"
    assert seen == [(0.5, "x"), (1.0, "x"), (1.0, "y")]
    assert bytes(image.value).startswith(PNG) and bytes(image.value) != bytes(first)
