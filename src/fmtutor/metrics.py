"""Distances between two sample sets ``(N, D)`` and ``(M, D)``: sliced Wasserstein-2 and energy distance;
and sizes of one batch of vectors ``(B, *D)`` against another of the same shape (RMS, relative error).

Both are estimated from finite samples, so even two draws of the *same* distribution give a
positive value: the **noise floor**. ``noise_floor`` measures it (data against fresh data of the same
size); a model's score means something only well above that floor. For 8 Gaussians with 20,000
points per side the sliced W2 floor is about 0.08 (0.05 to 0.14 from draw to draw, mostly from how
many points land in each component); with 5,000 it is about twice that (benchmarks/limit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from ._validate import check_batch, check_count, check_like, check_same_kind
from .distributions import Sampleable

__all__ = ["sliced_wasserstein", "sliced_w2_to", "energy_distance", "noise_floor", "rms_norm", "max_relative_error"]


def _pair(x: Tensor, y: Tensor, names: tuple[str, str] = ("x", "y")) -> tuple[Tensor, Tensor]:
    """Two point sets ``(N, D)`` and ``(M, D)`` with the same D, checked under the caller's ``names``."""
    a, b = names
    x, y = check_batch(x, a), check_batch(y, b)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"{a} and {b} must be (N, D) and (M, D) with the same D, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, check_same_kind(y, x, b, a)


def _sorted_quantiles(s: Tensor, q: Tensor) -> Tensor:
    """Quantiles ``q`` of each row of the row-sorted ``s`` with linear interpolation (as ``torch.quantile``)."""
    pos = q * (s.shape[-1] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=s.shape[-1] - 1)
    frac = pos - lo
    return s[..., lo] * (1 - frac) + s[..., hi] * frac


def sliced_wasserstein(
    x: Tensor, y: Tensor, n_projections: int = 256, generator: torch.Generator | None = None
) -> Tensor:
    """Sliced W2: sqrt(mean over random unit directions w of W2^2(w.x, w.y)), via sorted projections.

    Sample sets of different sizes are compared through 1-D quantiles at the smaller size.
    Projections are laid out ``(n_projections, N)`` so that each sort runs along contiguous memory.
    """
    x, y = _pair(x, y)
    check_count(n_projections, "n_projections")
    w = torch.randn(x.shape[1], n_projections, generator=generator).to(x)
    w = w / w.norm(dim=0, keepdim=True)
    px, py = (w.T @ x.T).sort(dim=-1).values, (w.T @ y.T).sort(dim=-1).values
    n = min(px.shape[-1], py.shape[-1])
    if px.shape[-1] != py.shape[-1]:
        q = (torch.arange(n, device=x.device, dtype=x.dtype) + 0.5) / n
        px, py = _sorted_quantiles(px, q), _sorted_quantiles(py, q)
    return ((px - py) ** 2).mean().sqrt()


def sliced_w2_to(reference: Tensor, seed: int = 0, n_projections: int = 256) -> Callable[[Tensor], float]:
    """A yardstick: ``distance(x)``, the sliced W2 of samples ``x`` ``(N, D)`` to the fixed ``reference``
    ``(M, D)``, with the same ``n_projections`` directions (drawn from ``seed``) at every call, so
    that two sample sets are compared on equal terms and a repeated call gives the same number."""
    reference = check_batch(reference, "reference")
    check_count(seed, "seed", minimum=0)
    check_count(n_projections, "n_projections")

    def distance(x: Tensor) -> float:
        generator = torch.Generator().manual_seed(seed)
        return sliced_wasserstein(x, reference, n_projections, generator=generator).item()

    return distance


def _mean_distance(a: Tensor, b: Tensor, chunk: int = 2048) -> Tensor:
    total = a.new_zeros(())
    for i in range(0, len(a), chunk):
        total = total + torch.cdist(a[i : i + chunk], b).sum()
    return total / (len(a) * len(b))


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    """Energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (zero iff the distributions agree).

    Computed exactly over all pairs in chunks, O(N M) time and O(chunk * M) memory.
    """
    x, y = _pair(x, y)
    return 2 * _mean_distance(x, y) - _mean_distance(x, x) - _mean_distance(y, y)


def noise_floor(
    data: Sampleable,
    n: int,
    metric: Callable[[Tensor, Tensor], Tensor] = sliced_wasserstein,
    repeats: int = 3,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The metric between two independent draws of ``n`` points from ``data``, averaged over ``repeats``.

    With the default metric, ``generator`` also draws the projections, so the floor is reproducible.
    """
    check_count(n, "n")
    check_count(repeats, "repeats")
    if not isinstance(data, Sampleable):
        raise TypeError(f"data must be a Sampleable (with .sample(n, generator) and .dim), got {type(data).__name__}")
    if not callable(metric):
        raise TypeError(f"metric must be a callable metric(x, y), got {type(metric).__name__}")
    if metric is sliced_wasserstein:
        metric = partial(sliced_wasserstein, generator=generator)
    values = [metric(data.sample(n, generator), data.sample(n, generator)) for _ in range(repeats)]
    return torch.stack(values).mean()


def rms_norm(v: Tensor) -> Tensor:
    """The root mean square length of a batch of vectors ``v`` ``(B, *D)``: sqrt(mean_i |v_i|^2), a 0-d tensor
    (|.| the Euclidean norm over all of a row's coordinates). The RMS error of ``a`` is ``rms_norm(a - b)``."""
    v = check_batch(v, "v")
    return v.flatten(1).pow(2).sum(dim=1).mean().sqrt()


def max_relative_error(a: Tensor, b: Tensor) -> Tensor:
    """The largest error of ``a`` against the reference ``b`` (both ``(B, *D)``) relative to the largest row
    of ``b``: max_i |a_i - b_i| / max_i |b_i|, a 0-d tensor (|.| the Euclidean norm of a row)."""
    a = check_batch(a, "a")
    b = check_like(b, a, "b", "a")
    scale = b.flatten(1).norm(dim=1).max()
    if scale.item() == 0:
        raise ValueError("b must have a row that is not zero: the error is relative to the largest row of b")
    return (a - b).flatten(1).norm(dim=1).max() / scale
