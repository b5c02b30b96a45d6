"""Scoring generated digits with the independent classifier: accuracy and a Fréchet distance.

* class-conditional accuracy: the fraction of samples asked for digit k that the classifier calls k;
* Fréchet distance between Gaussians fitted to the classifier's 128 penultimate features of the
  samples and of the 10,000 test digits (the recipe of FID, with an MNIST classifier instead of
  Inception):

      FD = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2}),

  with the symmetric square roots taken by eigendecomposition (in float64). A finite sample biases
  FD upwards, so every evaluation also reports ``reference_frechet``: the FD of as many *real*
  training digits, the floor a perfect generator would reach at that sample size.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .._validate import check_batch, check_callable, check_count, check_finite
from ..gaussian_ot import sqrtm_psd
from .classifier import Classifier
from .data import MNIST
from .sample import class_labels, sample

__all__ = [
    "gaussian_stats",
    "frechet_gaussians",
    "frechet_distance",
    "features",
    "Scores",
    "score",
    "Evaluation",
    "evaluate",
]


def _statistic(a: object, name: str, ndim: int) -> Tensor:
    """A finite floating mean (D,) or square matrix (D, D) named ``name``, as float64."""
    if not isinstance(a, Tensor) or not a.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {getattr(a, 'dtype', type(a).__name__)}")
    if a.ndim != ndim or a.numel() == 0 or (ndim == 2 and a.shape[0] != a.shape[1]):
        raise ValueError(
            f"{name} must be a non-empty {'square matrix (D, D)' if ndim == 2 else 'vector (D,)'}, "
            f"got shape {tuple(a.shape)}"
        )
    return check_finite(a, name).double()


def gaussian_stats(x: Tensor, name: str = "x") -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of samples ``x`` of shape (N, D), in float64."""
    x = check_batch(x, name).double()
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must have shape (N, D) with N >= 2, got {tuple(x.shape)}")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def frechet_gaussians(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> Tensor:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2), a float64 scalar."""
    mu1, mu2 = _statistic(mu1, "mu1", 1), _statistic(mu2, "mu2", 1)
    cov1, cov2 = _statistic(cov1, "cov1", 2), _statistic(cov2, "cov2", 2)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.shape[0],) * 2:
        raise ValueError(
            f"means (D,) and covariances (D, D) must agree, got {tuple(mu1.shape)}, "
            f"{tuple(cov1.shape)}, {tuple(mu2.shape)}, {tuple(cov2.shape)}"
        )
    root1 = sqrtm_psd(cov1)
    cross = torch.linalg.eigvalsh(root1 @ cov2 @ root1).clamp(min=0).sqrt().sum()
    return (mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * cross


def frechet_distance(x: Tensor, y: Tensor) -> Tensor:
    """Fréchet distance between Gaussians fitted to samples ``x`` (N, D) and ``y`` (M, D)."""
    (mx, cx), (my, cy) = gaussian_stats(x, "x"), gaussian_stats(y, "y")
    if mx.shape != my.shape:
        raise ValueError(f"x and y must have the same width D, got {tuple(x.shape)} and {tuple(y.shape)}")
    return frechet_gaussians(mx, cx, my, cy)


@torch.no_grad()
def features(classifier: Classifier, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """The classifier's penultimate features (N, 128) and predicted classes (N,) of ``images``, on the CPU."""
    if not isinstance(classifier, Classifier):
        raise TypeError(f"classifier must be a Classifier, got {type(classifier).__name__}")
    images, batch_size = check_batch(images, "images"), check_count(batch_size, "batch_size")
    classifier.eval()
    device = next(classifier.parameters()).device
    feats = [classifier.features(images[i : i + batch_size].to(device)) for i in range(0, len(images), batch_size)]
    feats = torch.cat(feats)
    return feats.cpu(), classifier.head(feats).argmax(1).cpu()


@dataclass(frozen=True)
class Scores:
    """Class-conditional accuracy (a fraction), its value for each digit 0..9, and the Fréchet distance."""

    accuracy: float
    per_class: tuple[float, ...]
    frechet: float


def score(classifier: Classifier, images: Tensor, labels: Tensor, test_features: Tensor) -> Scores:
    """Score generated ``images`` (N, 1, 28, 28), asked for the digits ``labels`` (N,), against the
    classifier's ``test_features`` of the test set (``features(classifier, test.images)[0]``)."""
    feats, predicted = features(classifier, images)
    hits = (predicted == labels.to(predicted.device)).double()
    per_class = tuple(hits[labels.to(predicted.device) == k].mean().item() for k in range(10))
    return Scores(hits.mean().item(), per_class, frechet_distance(feats, test_features).item())


@dataclass(frozen=True)
class Evaluation:
    """Scores of ``n`` generated digits (n / 10 per class) at guidance ``w`` with ``nfe`` evaluations.

    ``per_class`` holds the accuracy for each digit 0..9; ``reference_frechet`` is the FD of ``n``
    real training digits against the test set (the floor at this sample size).
    """

    accuracy: float
    frechet: float
    reference_frechet: float | None
    per_class: tuple[float, ...]
    n: int
    w: float
    nfe: int
    solver: str
    seconds: float


def _sampling_options(sampling: dict) -> dict:
    """``sampling`` completed with the defaults of ``sample``; a keyword ``sample`` does not take is refused."""
    params = {name: p for name, p in inspect.signature(sample).parameters.items() if name not in ("model", "labels")}
    unknown = sorted(set(sampling) - set(params))
    if unknown:
        raise TypeError(
            f"unknown sampling option(s) {', '.join(unknown)}; expected keywords of fmtutor.mnist.sample: "
            f"{', '.join(params)}"
        )
    return {name: sampling.get(name, p.default) for name, p in params.items()}


def evaluate(
    model: nn.Module,
    classifier: Classifier,
    test: MNIST,
    n: int = 1000,
    real: MNIST | None = None,
    **sampling: Any,
) -> Evaluation:
    """Generate ``n`` digits with labels 0..9 in turn, then score them against ``test`` (see module doc).

    ``sampling`` holds keyword arguments of ``fmtutor.mnist.sample`` (``w``, ``nfe``, ``solver``,
    ``prediction``, ``path``, ``t_start``, ``clip``, ``generator``, ``batch_size``, ``progress``), with its
    defaults for those not given. ``real``, if given (e.g. the training set), supplies ``n`` real digits
    for ``reference_frechet``. ``seconds`` is the wall time of the sampling alone.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 10 or n % 10:
        raise ValueError(f"n must be a positive multiple of 10 (n / 10 digits of each class), got {n!r}")
    check_callable(model, "model", "model(x, t, y)")
    for value, name, kind in ((classifier, "classifier", Classifier), (test, "test", MNIST)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    if real is not None and not isinstance(real, MNIST):
        raise TypeError(f"real must be an MNIST (real digits for reference_frechet) or None, got {type(real).__name__}")
    options = _sampling_options(sampling)
    labels = class_labels(n)
    start = time.perf_counter()
    images = sample(model, labels, **options)
    seconds = time.perf_counter() - start
    test_feats, _ = features(classifier, test.images)
    scores = score(classifier, images, labels, test_feats)
    reference = None
    if real is not None:
        real_feats, _ = features(classifier, real.images[:n])
        reference = frechet_distance(real_feats, test_feats).item()
    return Evaluation(
        accuracy=scores.accuracy,
        frechet=scores.frechet,
        reference_frechet=reference,
        per_class=scores.per_class,
        n=n,
        w=float(options["w"]),
        nfe=options["nfe"],
        solver=options["solver"],
        seconds=seconds,
    )
