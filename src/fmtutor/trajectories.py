"""How straight a sampler's trajectories are: the two measures behind "straighter paths need fewer steps".

A solver path ``(S + 1, B, D)`` (``Solution.path``) holds each particle's states x_0, ..., x_S at the
grid times t_0 < ... < t_S. For each particle

    length    L = sum_k |x_{k+1} - x_k|          (the polyline's length)
    chord     C = |x_S - x_0|                      (the distance from start to end)
    ratio     L / C >= 1,                          1 exactly for a straight segment,

which sees the shape only. Euler's error also depends on the *speed* along the path: a straight
line walked at a changing speed is not followed exactly by one Euler step. The straightness of
Liu et al. (2023) sees both; with the average velocity d = (x_S - x_0) / (t_S - t_0),

    S = 1 / (t_S - t_0) * sum_k h_k |(x_{k+1} - x_k) / h_k - d|^2,     h_k = t_{k+1} - t_k,

the time-averaged squared deviation of the velocity from the constant one; S = 0 exactly when the
particle moves on a straight line at constant speed, where a single Euler step is exact.
"""

from __future__ import annotations

from torch import Tensor

from ._validate import check_finite, check_positive

__all__ = ["path_length", "straightness_ratio", "velocity_deviation"]


def _check_path(path: object) -> Tensor:
    if not isinstance(path, Tensor) or not path.is_floating_point():
        raise TypeError(f"path must be a floating-point torch.Tensor of shape (S + 1, B, D), got {type(path).__name__}")
    if path.ndim != 3 or path.shape[0] < 2:
        raise ValueError(f"path must have shape (S + 1, B, D) with S >= 1 steps, got {tuple(path.shape)}")
    return check_finite(path, "path")


def path_length(path: Tensor) -> Tensor:
    """L = sum_k |x_{k+1} - x_k| for each particle: ``(S + 1, B, D) -> (B,)``."""
    return _check_path(path).diff(dim=0).norm(dim=-1).sum(dim=0)


def straightness_ratio(path: Tensor, eps: float = 1e-12) -> Tensor:
    """L / |x_S - x_0| for each particle, ``(B,)``: 1 for a straight path, larger the more it bends.

    A particle that ends where it started (chord below ``eps``) has no finite ratio: ``ValueError``.
    """
    check_positive(eps, "eps")
    chord = (_check_path(path)[-1] - path[0]).norm(dim=-1)
    if (chord < eps).any():
        raise ValueError(
            f"{int((chord < eps).sum())} particle(s) end where they start (|x_S - x_0| < {eps:g}); "
            "the ratio length / chord is undefined for them"
        )
    return path_length(path) / chord


def velocity_deviation(path: Tensor, times: Tensor) -> Tensor:
    """Liu et al.'s straightness S = sum_k h_k |dx_k / h_k - d|^2 / (t_S - t_0) per particle, ``(B,)``.

    ``times`` ``(S + 1,)`` strictly increasing; d = (x_S - x_0) / (t_S - t_0) the average velocity.
    """
    path = _check_path(path)
    if not isinstance(times, Tensor) or times.shape != (path.shape[0],):
        raise ValueError(
            f"times must be a tensor of shape ({path.shape[0]},) matching the path, "
            f"got {tuple(times.shape) if isinstance(times, Tensor) else type(times).__name__}"
        )
    h = times.diff().to(path)
    if not bool((h > 0).all()):
        raise ValueError("times must be strictly increasing")
    span = times[-1].to(path) - times[0].to(path)
    d = (path[-1] - path[0]) / span
    v = path.diff(dim=0) / h[:, None, None]
    return (h[:, None] * (v - d).pow(2).sum(dim=-1)).sum(dim=0) / span
