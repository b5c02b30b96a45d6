"""What the MNIST velocity networks share: input checks and the embedding of (t, label).

Every MNIST network is called as ``model(x, t, y)`` with ``x`` of shape (B, 1, 28, 28), ``t`` a float
or (B,) in [0, 1] and ``y`` a long tensor (B,) of labels 0..9, or ``NULL_LABEL`` (= 10), the "no
label" token of classifier-free guidance; ``y=None`` means every sample is unlabelled.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validate import as_time, check_batch, check_module_input
from ..nets import SinusoidalEmbedding

__all__ = ["NUM_CLASSES", "NULL_LABEL", "IMAGE_SHAPE", "check_inputs", "ConditionEmbedding"]

NUM_CLASSES = 10
NULL_LABEL = 10  # the extra "no label" token used for the unconditional branch
IMAGE_SHAPE = (1, 28, 28)


def check_labels(y: Tensor | None, batch: int, device: torch.device) -> Tensor:
    """``y`` as a long (B,) tensor in 0..NULL_LABEL; ``None`` becomes all ``NULL_LABEL``."""
    if y is None:
        return torch.full((batch,), NULL_LABEL, dtype=torch.long, device=device)
    if not isinstance(y, Tensor) or y.dtype != torch.long:
        raise TypeError(
            f"y must be a long tensor of shape ({batch},) with labels 0..9 or "
            f"{NULL_LABEL} (no label), got {getattr(y, 'dtype', type(y).__name__)}"
        )
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},) to match the batch, got {tuple(y.shape)}")
    if ((y < 0) | (y > NULL_LABEL)).any():
        raise ValueError(
            f"y must hold labels 0..9 or {NULL_LABEL} (no label), got values from {y.min().item()} to {y.max().item()}"
        )
    return y


def check_inputs(
    x: Tensor, t: Tensor | float, y: Tensor | None, module: nn.Module | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Validate a network's inputs: x (B, 1, 28, 28) finite, t in [0, 1] as (B,), y as above; with
    ``module``, x must have the dtype and device of its parameters (mixed dtypes are refused)."""
    x = check_batch(x, "x")
    if module is not None:
        check_module_input(x, module)
    if tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"x must have shape (B, 1, 28, 28), got {tuple(x.shape)}")
    return x, as_time(t, x.shape[0], x), check_labels(y, x.shape[0], x.device)


class ConditionEmbedding(nn.Module):
    """(t, y) -> (B, dim): an MLP of the sinusoidal embedding of t plus a learned label vector.

    e = MLP(sin/cos(t)) + E[y], with 11 label vectors (digits 0..9 and the null token 10).
    """

    def __init__(self, dim: int = 128, freq_dim: int = 64):
        super().__init__()
        self.time = nn.Sequential(
            SinusoidalEmbedding(freq_dim), nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.label = nn.Embedding(NUM_CLASSES + 1, dim)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        """The embedding ``(B, E)`` of times ``t`` ``(B,)`` plus that of labels ``y`` ``(B,)``."""
        return self.time(t) + self.label(y)
