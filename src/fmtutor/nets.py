"""Small networks for 2D fields: a sinusoidal time embedding and an MLP ``model(x, t) -> like x``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._validate import check_count, check_module_input, check_positive, check_real

__all__ = ["SinusoidalEmbedding", "MLPField"]


class SinusoidalEmbedding(nn.Module):
    """t in [0, 1] of shape ``(B,)`` -> ``(B, dim)`` features [sin(w_i s t), cos(w_i s t)] with
    frequencies w_i = max_period^(-i / (dim/2)) and scale s = 1000 (as for transformer positions)."""

    def __init__(self, dim: int = 64, max_period: float = 10_000.0, scale: float = 1000.0):
        super().__init__()
        if isinstance(dim, int) and (dim < 2 or dim % 2):
            raise ValueError(f"dim must be an even number >= 2, got {dim}")
        check_count(dim, "dim", minimum=2)
        check_real(max_period, "max_period", 1.0, open_low=True)
        check_positive(scale, "scale")
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.scale = scale

    def forward(self, t: Tensor) -> Tensor:
        """Features ``(B, dim)`` [sin(w_i s t), cos(w_i s t)] of the times ``t`` ``(B,)``."""
        angles = self.scale * t[:, None] * self.freqs.to(t)[None]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class MLPField(nn.Module):
    """An MLP vector field on R^dim: concatenates x with an embedding of t, ``depth`` hidden layers.

    ``forward(x, t)`` takes ``x`` of shape ``(B, dim)`` and ``t`` as a float or ``(B,)`` in [0, 1].
    Used for velocities, scores and noise predictions alike: what it predicts is set by the loss.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, time_dim: int = 32):
        super().__init__()
        for value, name in ((dim, "dim"), (hidden, "hidden"), (depth, "depth")):
            check_count(value, name)
        if isinstance(time_dim, int) and (time_dim < 2 or time_dim % 2):
            raise ValueError(f"time_dim must be an even number >= 2, got {time_dim}")
        self.dim = dim
        self.embed = SinusoidalEmbedding(check_count(time_dim, "time_dim", minimum=2))
        layers: list[nn.Module] = [nn.Linear(dim + time_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, t: Tensor | float) -> Tensor:
        """v_theta(x, t) ``(B, dim)`` for ``x`` ``(B, dim)`` and ``t`` a float or ``(B,)``.

        Only shapes are checked here, which costs nothing. The values (finite, t in [0, 1]) are
        checked once by whoever feeds the network (a solver its start and grid, a loss its data and
        times), not at each of the thousands of calls of a training or sampling loop, where every
        check on values would wait for the device.
        """
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (B, {self.dim}), got {shape}")
        check_module_input(x, self)
        if isinstance(t, bool) or not isinstance(t, (int, float, Tensor)):
            raise TypeError(f"t must be a float or a tensor of shape ({x.shape[0]},), got {type(t).__name__}")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        elif t.shape != (x.shape[0],):
            raise ValueError(
                f"t must be a scalar or have shape ({x.shape[0]},) to match the batch, got {tuple(t.shape)}"
            )
        return self.net(torch.cat([x, self.embed(t)], dim=-1))
