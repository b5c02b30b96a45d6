"""Input checks shared by every kernel: clear errors instead of silent NaNs.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose message names
the argument and says what was expected.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = ["check_batch", "as_time", "broadcast_time", "check_choice", "check_count", "check_n_samples",
           "check_finite", "check_positive", "all_finite", "within"]


def all_finite(x: Tensor) -> bool:
    """Whether every entry of ``x`` is finite, from one reduction in the common case.

    A finite sum proves that no entry is NaN or inf (either would make the sum non-finite); only a
    sum that overflows falls back to the exact elementwise test. ``.item()`` is far cheaper than
    ``bool(tensor)``, which matters because every kernel call runs these checks.
    """
    if x.numel() == 0:
        return True
    if x.requires_grad:
        x = x.detach()
    return math.isfinite(x.sum().item()) or bool(torch.isfinite(x).all())


def within(t: Tensor, low: float, high: float) -> bool:
    """Whether every entry of ``t`` lies in [low, high] (NaN does not), from one min and one max.

    The comparison is made in Python floats; callers that refuse on ``False`` re-test in ``t``'s dtype.
    """
    if t.numel() == 0:
        return True
    lo, hi = torch.aminmax(t.detach() if t.requires_grad else t)
    return lo.item() >= low and hi.item() <= high


def check_finite(x: Tensor, name: str) -> Tensor:
    """Refuse NaN or infinite entries in ``x``."""
    if not all_finite(x):
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf); expected finite numbers")
    return x


def check_batch(x: object, name: str = "x", dim: int | None = None) -> Tensor:
    """Check that ``x`` is a finite floating tensor of shape ``(B, *D)`` (and ``(B, dim)`` if given)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, *D), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (B, *D) with a batch dimension first, got shape {tuple(x.shape)}")
    if dim is not None and (x.ndim != 2 or x.shape[1] != dim):
        raise ValueError(f"{name} must have shape (B, {dim}), got {tuple(x.shape)}")
    return check_finite(x, name)


def as_time(t: float | Tensor, batch: int, like: Tensor, name: str = "t",
            low: float = 0.0, high: float = 1.0) -> Tensor:
    """Return ``t`` as a float tensor of shape ``(batch,)`` on ``like``'s device and dtype.

    A Python number or 0-d tensor broadcasts to the batch; a ``(batch,)`` tensor is kept.
    Values must be finite and lie in ``[low, high]`` (the book's time runs from 0, noise, to 1, data).
    """
    if isinstance(t, bool) or not isinstance(t, (int, float, Tensor)):
        raise TypeError(f"{name} must be a float or a tensor of shape ({batch},), got {type(t).__name__}")
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(batch)
    elif t.shape != (batch,):
        raise ValueError(f"{name} must be a scalar or have shape ({batch},) to match the batch, got {tuple(t.shape)}")
    if not within(t, low, high):  # the fast path; below, the exact test in t's dtype and the reason
        check_finite(t, name)
        if (t < low).any() or (t > high).any():
            raise ValueError(f"{name} must lie in [{low}, {high}], got values from {t.min().item():.4g} to {t.max().item():.4g}")
    return t


def broadcast_time(t: Tensor, x: Tensor) -> Tensor:
    """Reshape a ``(B,)`` tensor to ``(B, 1, ..., 1)`` so that it broadcasts against ``x`` of shape ``(B, *D)``."""
    return t.reshape(t.shape[0], *([1] * (x.ndim - 1)))


def check_choice(name: str, value: str, options: Iterable[str]) -> str:
    """Refuse a name that is not one of ``options``, listing them."""
    options = list(options)
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, options))}")
    return value


def check_count(value: object, name: str, what: str = "a positive integer") -> int:
    """Refuse anything but a positive ``int`` (a bool or a float is refused too) for a count ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_n_samples(n: object) -> int:
    """Refuse a number of samples ``n`` that is not a positive integer."""
    return check_count(n, "n", "a positive integer number of samples")


def check_positive(value: float, name: str, allow_zero: bool = False) -> float:
    """Refuse a non-positive (or negative, with ``allow_zero``) number."""
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value != value:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value
