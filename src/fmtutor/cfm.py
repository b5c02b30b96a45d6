"""Conditional flow matching, end to end on a 2D data set: an MLP velocity regressed on the
conditional velocity of a path, with fresh data every step,

    loss(theta) = E_{t ~ U[0, 1], x1 ~ data, x0 ~ N(0, I)} || v_theta(x_t, t) - (d_alpha x1 + d_beta x0) ||^2,

trained by Adam with an exponential moving average (EMA) of the weights, which is what is sampled.
The result is a ``compare.TrainedModel``, so ``compare.sliced_w2_vs_nfe`` measures its sample
quality against the number of function evaluations exactly as for the exact field
(``compare.exact_model``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .compare import TrainedModel
from .distributions import Sampleable
from .losses import cfm_loss
from .nets import MLPField
from .paths import GaussianPath
from .training import Trainer

__all__ = ["Objective", "data_loss", "train_cfm"]

Objective = Callable[[nn.Module, Tensor, torch.Generator], Tensor]
"""``objective(model, x1, generator) -> scalar``: a loss on a batch of data ``x1``."""


def data_loss(data: Sampleable, batch_size: int, objective: Objective) -> Callable[[nn.Module, torch.Generator], Tensor]:
    """The ``Trainer`` loss: draw ``batch_size`` fresh points of ``data`` from the trainer's generator,
    then ``objective(model, x1, generator)`` (which draws t and the noise from the same generator)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")

    def loss_fn(model: nn.Module, generator: torch.Generator) -> Tensor:
        return objective(model, data.sample(batch_size, generator), generator)

    return loss_fn


def train_cfm(data: Sampleable, n_steps: int = 2000, path: GaussianPath | None = None,
              objective: Objective | None = None, batch_size: int = 512, hidden: int = 128, depth: int = 3,
              lr: float = 3e-3, ema_decay: float | None = 0.995, seed: int = 0,
              callbacks: Sequence[Callable[[Trainer], None]] = (), callback_every: int = 50,
              progress: bool = True) -> TrainedModel:
    """Train an ``MLPField(data.dim, hidden, depth)`` for ``n_steps`` Adam steps of ``batch_size``.

    ``objective`` defaults to ``cfm_loss`` on ``path`` (default: the conditional-OT path
    x_t = t x1 + (1 - t) x0, target x1 - x0). Everything is seeded by ``seed``. The returned
    model is the EMA copy (or the trained model itself when ``ema_decay`` is None), in eval mode;
    ``losses`` are the per-step training losses and ``seconds`` the wall time of training.
    """
    if objective is None:
        path = GaussianPath("linear") if path is None else path

        def objective(model: nn.Module, x1: Tensor, generator: torch.Generator) -> Tensor:
            return cfm_loss(model, x1, path, generator)
    elif path is not None:
        raise ValueError("give either path (for cfm_loss) or objective, not both")
    torch.manual_seed(seed)
    model = MLPField(data.dim, hidden=hidden, depth=depth)
    trainer = Trainer(model, data_loss(data, batch_size, objective), lr=lr, seed=seed, ema_decay=ema_decay,
                      callbacks=callbacks, callback_every=callback_every)
    result = trainer.fit(n_steps, progress=progress)
    return TrainedModel("flow-matching", trainer.model_for_sampling.eval(), result.losses, result.seconds)
