"""Classifier-free guidance with an exact answer: a labelled 2D Gaussian mixture.

Every component k of a mixture p(x) = sum_k w_k N(mu_k, s_k^2) carries a class label c_k. Class y
is the sub-mixture of its components, p(x | y) = sum_{c_k = y} w_k N(mu_k, s_k^2) / p(y), with
p(y) = sum_{c_k = y} w_k. Under a Gaussian path both p_t(x) and p_t(x | y) are mixtures again, so the
unconditional field u_t(x) and the conditional field u_t(x | y) are exact (``MarginalField``), and so
is the classifier-free guided field

    v_w(x, t | y) = u_t(x) + w (u_t(x | y) - u_t(x)).

Because velocity and score are affine in each other with the same coefficients for every target,
v_w follows at each time t the score of the tilted density

    q_{t,w}(x | y)  proportional to  p_t(x) p_t(y | x)^w,     p_t(y | x) = sum_{c_k = y} r_k(x, t),

(``GuidedField.tilted_log_density``). At t = 1 this is the density guidance is meant to sample. The
guided ODE does not sample it for w != 0, 1: the tilted densities at different t are not the
marginals of one path, so the flow of v_w carries noise somewhere else. ``guidance_gap`` measures
how far, as a total variation on a grid against the sampling noise of exact draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import (
    check_batch,
    check_callable,
    check_count,
    check_finite,
    check_like,
    check_n_samples,
    check_positive,
    check_real,
)
from .distributions import GaussianMixture
from .marginals import MarginalField
from .paths import GaussianPath
from .sampling import sample_ode
from .solvers import steps_for_nfe

__all__ = [
    "LabelledMixture",
    "GuidedField",
    "GridDensity",
    "grid_density",
    "histogram",
    "total_variation",
    "GuidanceGap",
    "guidance_gap",
    "two_class_mixture",
]


class LabelledMixture:
    """A ``GaussianMixture`` whose K components carry integer class labels ``labels`` (K,) in 0..C-1."""

    def __init__(self, mixture: GaussianMixture, labels: Tensor):
        if not isinstance(mixture, GaussianMixture):
            raise TypeError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
        if (
            not isinstance(labels, Tensor)
            or labels.is_floating_point()
            or labels.is_complex()
            or labels.dtype == torch.bool
        ):
            what = f"dtype {labels.dtype}" if isinstance(labels, Tensor) else type(labels).__name__
            raise TypeError(f"labels must be an integer tensor of shape (K,), one class per component, got {what}")
        labels = labels.long()
        k = len(mixture.weights)
        if labels.shape != (k,) or (labels < 0).any():
            raise ValueError(f"labels must be {k} non-negative integers (one per component), got {labels.tolist()}")
        self.mixture, self.labels = mixture, labels
        self.classes = int(labels.max()) + 1
        if len(set(labels.tolist())) != self.classes:
            raise ValueError(f"every class 0..{self.classes - 1} needs a component, got labels {labels.tolist()}")

    def __repr__(self) -> str:
        return f"LabelledMixture(K={len(self.labels)}, classes={self.classes})"

    def _check_class(self, y: int) -> int:
        y = check_count(y, "y", f"a class in 0..{self.classes - 1}", minimum=0)
        if y >= self.classes:
            raise ValueError(f"y must be a class in 0..{self.classes - 1}, got {y!r}")
        return y

    def prior(self) -> Tensor:
        """p(y) for every class: ``(C,)``."""
        return torch.zeros(self.classes).index_add_(0, self.labels, self.mixture.weights)

    def conditional(self, y: int) -> GaussianMixture:
        """p(x | y): the components labelled y, their weights renormalised."""
        keep = self.labels == self._check_class(y)
        m = self.mixture
        return GaussianMixture(m.means[keep], m.stds[keep], m.weights[keep])

    def log_posterior(self, x: Tensor, y: int) -> Tensor:
        """log p(y | x) at the data (t = 1): ``(B,)``."""
        logp = self.mixture.component_log_probs(x)
        keep = self.labels == self._check_class(y)
        return torch.logsumexp(logp[:, keep], -1) - torch.logsumexp(logp, -1)


def two_class_mixture() -> LabelledMixture:
    """The chapter's example: class 0 two blobs on the left, class 1 one wide blob overlapping them."""
    means = torch.tensor([[-2.0, 1.5], [-2.0, -1.5], [1.0, 0.0]])
    return LabelledMixture(GaussianMixture(means, torch.tensor([0.5, 0.5, 1.2])), torch.tensor([0, 0, 1]))


class GuidedField:
    """The exact guided field v_w(x, t | y) = u_t(x) + w (u_t(x | y) - u_t(x)) of ``data`` under ``path``."""

    def __init__(self, data: LabelledMixture, path: GaussianPath, y: int, w: float):
        if not isinstance(data, LabelledMixture):
            raise TypeError(f"data must be a LabelledMixture, got {type(data).__name__}")
        self.data, self.path, self.y, self.w = data, path, data._check_class(y), check_real(w, "w")
        self.unconditional = MarginalField(data.mixture, path)
        self.conditional = MarginalField(data.conditional(y), path)

    def __repr__(self) -> str:
        return f"GuidedField({self.data!r}, y={self.y}, w={self.w:g})"

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        u = self.unconditional.velocity(x, t)
        return u + self.w * (self.conditional.velocity(x, t) - u)

    def score(self, x: Tensor, t: Tensor | float) -> Tensor:
        """grad log p_t(x) + w grad log p_t(y | x): ``(B, D)``."""
        s = self.unconditional.score(x, t)
        return s + self.w * (self.conditional.score(x, t) - s)

    def log_posterior(self, x: Tensor, t: Tensor | float) -> Tensor:
        """log p_t(y | x) = log sum_{c_k = y} r_k(x, t): ``(B,)``."""
        r = self.unconditional.responsibilities(x, t)
        return torch.log(r[:, self.data.labels == self.y].sum(-1))

    def tilted_log_density(self, x: Tensor, t: Tensor | float = 1.0) -> Tensor:
        """log p_t(x) + w log p_t(y | x), unnormalised: ``(B,)``; its gradient is ``score``."""
        return self.unconditional.log_density(x, t) + self.w * self.log_posterior(x, t)


@dataclass(frozen=True)
class GridDensity:
    """Probabilities ``mass`` (bins, bins) of the square cells of [lo, hi]^2; row i is the i-th y-interval."""

    mass: Tensor
    lo: float
    hi: float

    @property
    def bins(self) -> int:
        return self.mass.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """n exact draws ``(n, 2)`` of the piecewise-constant density: a cell by its mass, then uniform in it."""
        n = check_n_samples(n)
        cell = torch.multinomial(self.mass.flatten(), n, replacement=True, generator=generator)
        width = (self.hi - self.lo) / self.bins
        corner = torch.stack([cell % self.bins, cell // self.bins], -1).to(self.mass)
        return self.lo + width * (corner + torch.rand(n, 2, generator=generator, dtype=self.mass.dtype))


def grid_density(log_density, lo: float = -5.0, hi: float = 5.0, bins: int = 60) -> GridDensity:
    """The normalised cell masses of exp(log_density) on [lo, hi]^2 (midpoint rule); ``log_density``
    maps ``(N, 2)`` float64 points to ``(N,)``; -inf marks a cell of zero density."""
    check_callable(log_density, "log_density", "log_density(x) mapping (N, 2) points to (N,)")
    lo, hi, bins = _check_cells(lo, hi, bins)
    centres = torch.linspace(lo, hi, 2 * bins + 1, dtype=torch.float64)[1::2]
    yy, xx = torch.meshgrid(centres, centres, indexing="ij")
    logp = log_density(torch.stack([xx.flatten(), yy.flatten()], -1))
    if not isinstance(logp, Tensor) or logp.shape != (bins * bins,):
        shape = tuple(logp.shape) if isinstance(logp, Tensor) else type(logp).__name__
        raise ValueError(
            f"log_density must map the ({bins * bins}, 2) cell centres to shape ({bins * bins},), got {shape}"
        )
    if logp.isnan().any() or (logp == torch.inf).any() or (logp == -torch.inf).all():
        raise ValueError(
            "log_density returned NaN or +inf, or -inf in every cell; expected finite log-densities "
            "(-inf only where the density is zero)"
        )
    logp = logp.double().reshape(bins, bins)
    return GridDensity(torch.softmax(logp.flatten(), 0).reshape(bins, bins), lo, hi)


def histogram(x: Tensor, lo: float = -5.0, hi: float = 5.0, bins: int = 60) -> Tensor:
    """Fractions of the points ``x`` (N, 2) in each cell (bins, bins) of [lo, hi]^2 (points outside
    count in no cell, so the fractions then sum to less than 1)."""
    x = check_batch(x, "x", 2)
    lo, hi, bins = _check_cells(lo, hi, bins)
    idx = torch.floor((x - lo) / (hi - lo) * bins).long()
    inside = ((idx >= 0) & (idx < bins)).all(-1)
    flat = idx[inside, 1] * bins + idx[inside, 0]
    return torch.bincount(flat, minlength=bins * bins).reshape(bins, bins).double() / len(x)


def _check_cells(lo: float, hi: float, bins: int) -> tuple[float, float, int]:
    """The grid [lo, hi]^2 of bins x bins cells: lo < hi finite, bins a positive integer."""
    lo, hi, bins = check_real(lo, "lo"), check_real(hi, "hi"), check_count(bins, "bins")
    if not lo < hi:
        raise ValueError(f"lo must be below hi, got lo = {lo} and hi = {hi}")
    return lo, hi, bins


def _check_masses(p: object, name: str) -> Tensor:
    if not isinstance(p, Tensor) or not p.is_floating_point():
        what = f"dtype {p.dtype}" if isinstance(p, Tensor) else type(p).__name__
        raise TypeError(f"{name} must be a floating-point tensor of cell masses, got {what}")
    if p.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(p.shape)}); expected at least one cell")
    if (check_finite(p, name) < 0).any():
        raise ValueError(f"{name} has negative masses (smallest {p.min().item():.4g}); expected masses >= 0")
    return p


def total_variation(p: Tensor, q: Tensor) -> float:
    """Total variation 1/2 sum |p - q| of two arrays of cell masses (>= 0) of one shape, dtype and device."""
    p = _check_masses(p, "p")
    q = _check_masses(check_like(q, p, "q", "p"), "q")
    return 0.5 * float((p.double() - q.double()).abs().sum())


@dataclass(frozen=True)
class GuidanceGap:
    """At guidance ``w``: TV of ``n`` guided-ODE samples to the tilted density p(x) p(y|x)^w on the grid,
    the same for ``n`` exact draws of that density (the sampling-noise floor), and their mean
    log p(y | x) (how class-like the samples are)."""

    w: float
    tv_guided: float
    tv_exact: float
    log_posterior_guided: float
    log_posterior_exact: float


def _check_weights(ws: object) -> list[float]:
    if isinstance(ws, (str, bytes)) or not hasattr(ws, "__iter__"):
        raise TypeError(f"ws must be a sequence of guidance weights, got {type(ws).__name__}")
    ws = [check_real(w, "ws") for w in ws]
    if not ws:
        raise ValueError("ws is empty; expected at least one guidance weight")
    return ws


def guidance_gap(
    data: LabelledMixture,
    path: GaussianPath,
    y: int,
    ws,
    n: int = 20_000,
    nfe: int = 100,
    generator_seed: int = 0,
    bins: int = 60,
    lim: float = 5.0,
) -> list[GuidanceGap]:
    """``GuidanceGap`` for each w in ``ws``: guided ODE (RK4, ``nfe`` / 4 steps, float64) from n
    standard normal points, against n exact draws of the tilted density; the same seed for every w."""
    ws = _check_weights(ws)
    n, steps = check_n_samples(n), steps_for_nfe("rk4", nfe)
    generator_seed = check_count(generator_seed, "generator_seed", minimum=0)
    bins, lim = check_count(bins, "bins"), check_positive(lim, "lim")
    out = []
    for w in ws:
        field = GuidedField(data, path, y, float(w))
        target = grid_density(field.tilted_log_density, -lim, lim, bins)
        g = torch.Generator().manual_seed(generator_seed)
        x0 = torch.randn(n, 2, generator=g, dtype=torch.float64)
        guided = sample_ode(field, x0, n_steps=steps, method="rk4").final
        exact = target.sample(n, g)
        out.append(
            GuidanceGap(
                float(w),
                total_variation(histogram(guided, -lim, lim, bins), target.mass),
                total_variation(histogram(exact, -lim, lim, bins), target.mass),
                float(data.log_posterior(guided, y).mean()),
                float(data.log_posterior(exact, y).mean()),
            )
        )
    return out
