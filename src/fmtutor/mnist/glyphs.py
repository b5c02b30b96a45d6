"""Ten font digits and their exact class-conditional velocity: a ground truth for guidance.

The data are ten 28 x 28 templates m_0 .. m_9 (the digits drawn in DejaVu Sans Bold, in [-1, 1])
blurred by Gaussian noise of standard deviation ``std``: x1 | y = k ~ N(m_k, std^2 I), each class
equally likely. Under a Gaussian path x_t = alpha_t x1 + beta_t x0 every velocity is known in
closed form (``fmtutor.marginals.MarginalField``):

    v(x, t | k)    = the velocity of the single Gaussian N(m_k, std^2 I)      (label k)
    v(x, t | null) = the velocity of the mixture of all ten                   (label NULL_LABEL)

``GlyphField`` is called like the trained networks, ``model(x, t, y)``, so guidance, samplers,
panels and tests can run on it without any training: with w = 1 the samples of class k are draws
of N(m_k, std^2 I) up to the solver's error.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn

from .._validate import check_positive
from ..distributions import GaussianMixture
from ..marginals import MarginalField
from ..paths import GaussianPath
from .conditioning import IMAGE_SHAPE, NULL_LABEL, NUM_CLASSES, check_inputs

__all__ = ["glyph_templates", "GlyphField"]


@lru_cache(maxsize=4)
def _render(size: int, fontsize: float) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = []
    for digit in range(NUM_CLASSES):
        fig = Figure(figsize=(1, 1), dpi=size, facecolor="black")
        canvas = FigureCanvasAgg(fig)
        fig.text(
            0.5,
            0.5,
            str(digit),
            ha="center",
            va="center",
            color="white",
            family="DejaVu Sans",
            weight="bold",
            fontsize=fontsize * 72 / size,
        )
        canvas.draw()
        images.append(np.asarray(canvas.buffer_rgba())[..., 0].astype(np.float32) / 255.0)
    return np.stack(images)


def glyph_templates(fontsize: float = 22.0) -> Tensor:
    """The digits 0..9 rendered white on black: (10, 1, 28, 28) float32 in [-1, 1] (like ``load_mnist``).

    ``fontsize`` is the nominal text size in pixels (22 fills about 16 of the 28 rows, like MNIST).
    """
    check_positive(fontsize, "fontsize")
    return torch.from_numpy(_render(IMAGE_SHAPE[-1], float(fontsize))).mul(2).sub(1).unsqueeze(1)


class GlyphField(nn.Module):
    """The exact velocity ``model(x, t, y)`` of ten blurred font digits under ``path`` (default linear).

    x (B, 1, 28, 28), t float or (B,) in [0, 1), y long (B,) in 0..9 or ``NULL_LABEL`` (or None).
    ``std`` > 0 keeps every field finite up to t = 1 (the marginal variance stays >= std^2).
    """

    def __init__(self, std: float = 0.1, path: GaussianPath | None = None, templates: Tensor | None = None):
        super().__init__()
        check_positive(std, "std")
        templates = glyph_templates() if templates is None else templates
        if tuple(templates.shape) != (NUM_CLASSES, *IMAGE_SHAPE):
            raise ValueError(f"templates must have shape (10, 1, 28, 28), got {tuple(templates.shape)}")
        self.templates = nn.Parameter(templates.clone(), requires_grad=False)
        self.std, self.path = float(std), path or GaussianPath("linear")
        flat = self.templates.detach().reshape(NUM_CLASSES, -1)
        self.fields = [MarginalField(GaussianMixture(flat[k : k + 1], self.std), self.path) for k in range(NUM_CLASSES)]
        self.fields.append(MarginalField(GaussianMixture(flat, self.std), self.path))  # index NULL_LABEL

    def forward(self, x: Tensor, t: Tensor | float, y: Tensor | None = None) -> Tensor:
        """The exact velocity ``(B, 1, 28, 28)`` at ``x`` and ``t`` for data made of the glyphs of the labels
        ``y`` (of all ten digits for ``NULL_LABEL`` or ``None``)."""
        x, t, y = check_inputs(x, t, y)
        flat, out = x.reshape(x.shape[0], -1), torch.empty_like(x).reshape(x.shape[0], -1)
        for label in torch.unique(y).tolist():
            rows = y == label
            out[rows] = self.fields[label].velocity(flat[rows], t[rows]).to(out)
        return out.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"std={self.std}, path={self.path!r}, null label {NULL_LABEL}"
