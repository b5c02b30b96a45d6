"""Input checks shared by every kernel: clear errors instead of silent NaNs.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose message names
the argument, the value and what was expected.

**One dtype per call.** Mixed float32/float64 inputs are refused, never promoted: every data tensor of
one call (``x`` and ``x0``, ``x`` and ``y``, ``x`` and a network's parameters) must share one floating
dtype and one device (``check_like``, ``check_module_input``). Times and Python numbers are not data:
``as_time`` converts them to the dtype and device of the batch they belong to.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "check_batch",
    "as_time",
    "broadcast_time",
    "check_choice",
    "check_count",
    "check_n_samples",
    "check_finite",
    "check_positive",
    "all_finite",
    "within",
    "check_real",
    "check_like",
    "check_same_kind",
    "check_module_input",
    "check_writable",
    "check_callable",
    "as_path",
    "as_device",
    "available_devices",
]


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
    """Refuse NaN or infinite entries in ``x`` (and a tensor on the meta device, which holds no values)."""
    if x.device.type == "meta":
        raise ValueError(f"{name} is on the meta device and holds no values; expected a tensor with data")
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
    if x.numel() == 0:
        raise ValueError(
            f"{name} is empty (shape {tuple(x.shape)}); expected at least one sample with at least one coordinate"
        )
    return check_finite(x, name)


def check_like(x: object, like: Tensor, name: str, like_name: str) -> Tensor:
    """Check that ``x`` is a finite tensor with the shape, dtype and device of ``like`` (the one-dtype rule)."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor shaped like {like_name} {tuple(like.shape)}, got {type(x).__name__}"
        )
    if x.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {like_name} {tuple(like.shape)}, got {tuple(x.shape)}")
    return check_finite(check_same_kind(x, like, name, like_name), name)


def check_same_kind(x: Tensor, like: Tensor, name: str, like_name: str) -> Tensor:
    """Refuse ``x`` unless it has the dtype and device of ``like`` (mixed dtypes are never promoted)."""
    if x.dtype != like.dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} and {like_name} dtype {like.dtype}; mixed dtypes are refused, "
            f"convert one of them (e.g. {name}.to({like.dtype}))"
        )
    if x.device != like.device:
        raise ValueError(f"{name} is on device {x.device} and {like_name} on {like.device}; move them to one device")
    return x


def check_module_input(x: Tensor, module: torch.nn.Module, name: str = "x") -> Tensor:
    """Refuse an input whose dtype or device differs from ``module``'s parameters (the one-dtype rule)."""
    p = next(module.parameters(), None)
    return x if p is None else check_same_kind(x, p, name, "the network's parameters")


def check_count(value: object, name: str, what: str | None = None, minimum: int = 1) -> int:
    """Refuse a count that is not an integer >= ``minimum`` (``True``, ``2.5`` and ``2.0`` included):
    a ``TypeError`` for something that is not a number, else a ``ValueError``."""
    what = what or {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    if not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_real(
    value: object,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """Refuse a value that is not a finite real number in [low, high] (bounds open on request)."""
    lo, hi = "(" if open_low else "[", ")" if open_high else "]"
    span = f"a finite number in {lo}{low:g}, {high:g}{hi}"
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {span}, got {value!r} ({type(value).__name__})")
    value = float(value)
    too_low = value <= low if open_low else value < low
    too_high = value >= high if open_high else value > high
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {span}, got {value}")
    return value


def as_path(value: object, name: str) -> Path:
    """``value`` as a ``Path``; anything but a str or an os.PathLike is a TypeError naming ``name``."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file system path (str or Path), got {type(value).__name__}")
    return Path(value)


def available_devices() -> list[str]:
    """The devices torch can use on this machine: ``'cpu'``, then ``'cuda:0'``, ... and ``'mps'`` where present."""
    found = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return found + (["mps"] if torch.backends.mps.is_available() else [])


def as_device(value: object, name: str = "device") -> torch.device:
    """``value`` (a name such as ``'cpu'``, ``'cuda'``, ``'cuda:1'``, or a ``torch.device``) as a device
    this machine has; a device torch does not know or this machine lacks is refused, listing those it has."""
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a device name (str) or a torch.device, got {type(value).__name__}")
    have = ", ".join(map(repr, available_devices()))
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a torch device; available here: {have}") from None
    if device.type == "cpu":
        return device
    backend = getattr(torch, device.type, None)  # torch.cuda, torch.mps, ...
    present = backend is not None and getattr(backend, "is_available", lambda: False)()
    if not present or (device.index is not None and device.index >= getattr(backend, "device_count", lambda: 1)()):
        raise ValueError(f"{name} {str(device)!r} is not available on this machine; available here: {have}")
    return device


def check_writable(path: str | Path, name: str, directory: bool = False) -> Path:
    """Check, before any work, that a file (or with ``directory`` a folder) can be written at ``path``.

    The path itself may not exist yet; its nearest existing ancestor must be a writable folder.
    """
    path = as_path(path, name)
    kind = "folder" if directory else "file"
    if path.exists() and path.is_dir() != directory:
        raise ValueError(f"{name} {str(path)!r} must be a {kind}, but it is a {'folder' if path.is_dir() else 'file'}")
    base = path if directory and path.exists() else path.parent
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{name} {str(path)!r} cannot be written: {str(base)!r} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{name} {str(path)!r} cannot be written: no write permission in {str(base)!r}")
    return path


def as_time(
    t: float | Tensor, batch: int, like: Tensor, name: str = "t", low: float = 0.0, high: float = 1.0
) -> Tensor:
    """Return ``t`` as a float tensor of shape ``(batch,)`` on ``like``'s device and dtype.

    A Python number or 0-d tensor broadcasts to the batch; a ``(batch,)`` tensor is kept.
    Values must be finite and lie in ``[low, high]`` (the book's time runs from 0, noise, to 1, data).
    """
    if isinstance(t, bool) or not isinstance(t, (int, float, Tensor)):
        raise TypeError(f"{name} must be a float or a tensor of shape ({batch},), got {type(t).__name__}")
    if isinstance(t, (int, float)) and math.isfinite(t) and not low <= t <= high:  # before it can overflow
        raise ValueError(f"{name} must lie in [{low}, {high}], got values from {t:.4g} to {t:.4g}")
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(batch)
    elif t.shape != (batch,):
        raise ValueError(f"{name} must be a scalar or have shape ({batch},) to match the batch, got {tuple(t.shape)}")
    if not within(t, low, high) or math.isinf(low) or math.isinf(high):  # the fast path needs finite bounds
        check_finite(t, name)
        if (t < low).any() or (t > high).any():
            raise ValueError(
                f"{name} must lie in [{low}, {high}], got values from {t.min().item():.4g} to {t.max().item():.4g}"
            )
    return t


def broadcast_time(t: Tensor, x: Tensor) -> Tensor:
    """Reshape a ``(B,)`` tensor to ``(B, 1, ..., 1)`` so that it broadcasts against ``x`` of shape ``(B, *D)``."""
    return t.reshape(t.shape[0], *([1] * (x.ndim - 1)))


def check_callable(value: object, name: str, signature: str) -> object:
    """Refuse anything that cannot be called; ``signature`` says how it will be called."""
    if not callable(value):
        raise TypeError(f"{name} must be a callable {signature}, got {type(value).__name__}")
    return value


def check_choice(name: str, value: str, options: Iterable[str]) -> str:
    """Refuse a name that is not one of ``options``, listing them."""
    options = list(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, options))}")
    return value


def check_n_samples(n: object) -> int:
    """Refuse a number of samples ``n`` that is not a positive integer."""
    return check_count(n, "n", "a positive integer number of samples")


def check_positive(value: float, name: str, allow_zero: bool = False) -> float:
    """Refuse anything but a finite number > 0 (>= 0 with ``allow_zero``); returns it unchanged."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {bound}, got {value!r} ({type(value).__name__})")
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value != value:
        raise ValueError(f"{name} must be {bound}, got {value}")
    if math.isinf(value):
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return value
