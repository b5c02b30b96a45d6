"""Conditional flow matching, end to end on a 2D data set: an MLP velocity regressed on the
conditional velocity of a path, with fresh data every step,

    loss(theta) = E_{t ~ U[0, 1], x1 ~ data, x0 ~ N(0, I)} || v_theta(x_t, t) - (d_alpha x1 + d_beta x0) ||^2,

trained by Adam with an exponential moving average (EMA) of the weights, which is what is sampled.
The result is a ``compare.TrainedModel``, so ``compare.sliced_w2_vs_nfe`` measures its sample
quality against the number of function evaluations exactly as for the exact field
(``compare.exact_model``).

Where the marginal field u_t is known (a Gaussian mixture: ``MarginalField``), ``fm_loss`` evaluates
the flow matching objective E || v_theta(x_t, t) - u_t(x_t) ||^2 on the same draws as ``cfm_loss``,
so the two can be compared: they differ by a constant that does not depend on v_theta.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .compare import TrainedModel
from ._validate import check_batch, check_callable
from .distributions import Sampleable
from .losses import cfm_loss, regression_loss
from .nets import MLPField
from .paths import GaussianPath
from .solvers import Field
from .training import Trainer

__all__ = ["Objective", "data_loss", "train_cfm", "fm_loss"]

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


def fm_loss(model: Field, field: Field, x1: Tensor, path: GaussianPath, generator: torch.Generator | None = None,
            t: Tensor | None = None) -> Tensor:
    """The flow matching loss mean || model(x_t, t) - field(x_t, t) ||^2 against a known marginal
    ``field`` u_t, with x_t ~ p_t drawn as x_t = alpha_t x1 + beta_t x0 from ``x1`` ``(B, D)``.

    t ~ U[0, t_max] (or the given ``(B,)`` times) and x0 are drawn from ``generator`` in the order
    ``cfm_loss`` draws them, so the same seed gives both losses the same (t, x_t).
    """
    if not isinstance(path, GaussianPath):
        raise TypeError(f"path must be a GaussianPath, got {type(path).__name__}")
    check_callable(field, "field", "field(x, t)")
    s = path.sample(check_batch(x1, "x1"), t, generator=generator)
    return regression_loss(model, s.x_t, s.t, field(s.x_t, s.t), {})
