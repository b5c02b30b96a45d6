"""Sample quality against cost: sliced W2 to a reference set as the number of network evaluations
(NFE) grows, where such a curve levels off, the NFE that reaches a level, and the discretisation
error alone against a finely solved limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from ._validate import check_batch, check_choice, check_count, check_like, check_real
from .generators import SAMPLERS, TrainedModel
from .metrics import rms_norm, sliced_w2_to

__all__ = ["sliced_w2_vs_nfe", "sliced_w2_spread", "nfe_to_reach", "plateau", "solver_error_vs_nfe"]


def _counts(values: object, name: str, minimum: int = 1) -> tuple[int, ...]:
    """``values`` as a non-empty tuple of integers >= ``minimum``; each entry is checked by name."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a non-empty sequence of integers >= {minimum}, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence of integers >= {minimum}, got ()")
    return tuple(check_count(v, f"{name}[{i}]", minimum=minimum) for i, v in enumerate(values))


def _check_sampling(model: object, sampler: object, nfes: object) -> tuple[int, ...]:
    """Refuse a model without the sampling call ``model.sample(x0, nfe, sampler, generator=)`` of a
    ``TrainedModel`` (``time_grids.GridSampler`` has it too), a sampler a ``TrainedModel`` lacks (other
    models check their own), and NFEs that are not counts."""
    if not callable(getattr(model, "sample", None)):
        raise TypeError(
            "model must be a fmtutor TrainedModel (e.g. from train_2d) or another model with "
            f"sample(x0, nfe, sampler, generator=), got {type(model).__name__}"
        )
    if isinstance(model, TrainedModel):
        check_choice(f"sampler for {model.kind}", sampler, SAMPLERS[model.kind])
    elif not isinstance(sampler, str):
        raise TypeError(f"sampler must be the str name of a sampler, got {type(sampler).__name__}")
    return _counts(nfes, "nfes")


def _w2_curve(model: TrainedModel, sampler: str, nfes: tuple[int, ...], reference: Tensor, seed: int) -> dict:
    distance, out = sliced_w2_to(reference, seed=seed + 1), {}
    for nfe in nfes:
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(reference.shape, generator=g, dtype=reference.dtype).to(reference.device)
        out[nfe] = distance(model.sample(x0, nfe, sampler, generator=g).final)
    return out


def sliced_w2_vs_nfe(
    model: TrainedModel, sampler: str, nfes: Sequence[int], reference: Tensor, seed: int = 0
) -> dict[int, float]:
    """Sliced W2 between ``len(reference)`` samples and ``reference`` ``(N, D)`` for each NFE, with the
    same noise and projection directions at every NFE (seeded) so the curve is not jittered by sampling."""
    nfes, reference = _check_sampling(model, sampler, nfes), check_batch(reference, "reference")
    return _w2_curve(model, sampler, nfes, reference, check_count(seed, "seed", minimum=0))


def sliced_w2_spread(
    model: TrainedModel, sampler: str, nfes: Sequence[int], reference: Tensor, seeds: Sequence[int] = (0, 1, 2, 3, 4)
) -> dict[int, float]:
    """The standard deviation over ``seeds`` (fresh noise, sampler noise and projections) of
    ``sliced_w2_vs_nfe`` at each NFE: the error bar of a quality curve, to tell a ranking from noise."""
    nfes, reference = _check_sampling(model, sampler, nfes), check_batch(reference, "reference")
    seeds = _counts(seeds, "seeds", minimum=0)
    if len(seeds) < 2:
        raise ValueError(f"seeds: need at least 2 seeds for a spread, got {list(seeds)}")
    runs = [_w2_curve(model, sampler, nfes, reference, seed=2 * s) for s in seeds]
    return {n: float(torch.tensor([run[n] for run in runs]).std()) for n in nfes}


def _check_curve(curve: object) -> None:
    if not isinstance(curve, Mapping) or not all(isinstance(k, int) for k in curve):
        raise TypeError(f"curve must be a mapping NFE (int) -> error, got {type(curve).__name__}")


def nfe_to_reach(curve: Mapping[int, float], threshold: float) -> int | None:
    """The smallest NFE of ``curve`` (NFE -> error) from which on every error is <= ``threshold``;
    ``None`` when even the largest NFE misses it. "From which on" keeps a lucky dip at a small NFE
    that later NFEs do not confirm from counting."""
    _check_curve(curve)
    check_real(threshold, "threshold")
    reached = None
    for nfe in sorted(curve, reverse=True):
        if curve[nfe] > threshold:
            break
        reached = nfe
    return reached


def plateau(curve: Mapping[int, float], n_last: int = 3) -> float:
    """Where a quality curve (NFE -> error) levels off: the median of its values at the ``n_last``
    largest NFE (a median, so one noisy point does not move it)."""
    _check_curve(curve)
    check_count(n_last, "n_last")
    if len(curve) < n_last:
        raise ValueError(f"the curve needs at least {n_last} points, got {len(curve)}")
    values = sorted(curve[n] for n in sorted(curve)[-n_last:])
    return values[len(values) // 2] if n_last % 2 else 0.5 * (values[n_last // 2 - 1] + values[n_last // 2])


def solver_error_vs_nfe(
    model: TrainedModel, sampler: str, nfes: Sequence[int], x0: Tensor, limit: Tensor
) -> dict[int, float]:
    """RMS over particles of |x_nfe - limit| for a deterministic sampler started at the noise ``x0``
    ``(B, D)``: the error of the discretisation alone, measured against ``limit`` (the same noise
    carried by a very fine solver). Unlike a distance between sample sets, it has no noise floor."""
    nfes = _check_sampling(model, sampler, nfes)
    if sampler == "ancestral":
        raise ValueError("solver_error_vs_nfe needs a deterministic sampler; ancestral sampling draws fresh noise")
    x0 = check_batch(x0, "x0")
    limit = check_like(limit, x0, "limit", "x0")
    return {nfe: float(rms_norm(model.sample(x0, nfe, sampler).final - limit)) for nfe in nfes}
