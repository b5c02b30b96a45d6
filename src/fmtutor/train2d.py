"""The one trainer for the book's 2D models: an ``MLPField`` regressed by Adam, with fresh batches
every step and an exponential moving average (EMA) of the weights, which is what is sampled.

    flow matching:  loss = E || v_theta(x_t, t) - (d_alpha x1 + d_beta x0) ||^2   (``cfm_loss``)
    diffusion:      loss = E_n || eps_theta(x_n, 1 - n/T) - eps ||^2             (``ddpm_loss``)

or any ``objective(model, x1, generator)`` (e.g. a loss on a noisy path, or with minibatch-OT
couplings). The data are a ``Sampleable`` (fresh draws each step) or a fixed set of points ``(N, D)``
(a batch drawn with replacement each step). Training is counted in optimizer steps; every random
draw (the initial weights included) follows ``seed``. The result is a ``generators.TrainedModel``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ._validate import check_batch, check_callable, check_choice, check_count
from .ddpm import DDPM
from .distributions import Sampleable
from .generators import FM_PATH, KINDS, TrainedModel
from .losses import cfm_loss, ddpm_loss
from .nets import MLPField
from .paths import GaussianPath
from .training import Trainer, seeded

__all__ = ["Objective", "data_loss", "train_2d"]

Objective = Callable[[nn.Module, Tensor, torch.Generator], Tensor]
"""``objective(model, x1, generator) -> scalar``: a loss on a batch of data ``x1``."""


def _check_data(data: object) -> Sampleable | Tensor:
    """Refuse data that is neither a ``Sampleable`` nor a finite floating tensor of points ``(N, D)``."""
    if isinstance(data, Tensor):
        return check_batch(data, "data")
    if not isinstance(data, Sampleable):
        raise TypeError(
            f"data must be a Sampleable (with sample(n, generator) and dim) or a tensor of points (N, D), "
            f"got {type(data).__name__}"
        )
    return data


def _check_objective(objective: object) -> Objective:
    return check_callable(objective, "objective", "objective(model, x1, generator) -> scalar loss")


def data_loss(
    data: Sampleable | Tensor, batch_size: int, objective: Objective
) -> Callable[[nn.Module, torch.Generator], Tensor]:
    """The ``Trainer`` loss: draw ``batch_size`` points of ``data`` from the trainer's generator (fresh
    samples of a ``Sampleable``, or rows of a tensor drawn with replacement), then
    ``objective(model, x1, generator)`` (which draws t and the noise from the same generator)."""
    data, objective = _check_data(data), _check_objective(objective)
    return _loss(data, check_count(batch_size, "batch_size"), objective)


def _loss(data: Sampleable | Tensor, batch_size: int, objective: Objective) -> Callable:
    if isinstance(data, Tensor):

        def draw(generator: torch.Generator) -> Tensor:
            return data[torch.randint(len(data), (batch_size,), generator=generator, device=data.device)]
    else:

        def draw(generator: torch.Generator) -> Tensor:
            return data.sample(batch_size, generator)

    def loss_fn(model: nn.Module, generator: torch.Generator) -> Tensor:
        return objective(model, draw(generator), generator)

    return loss_fn


def _objective(kind: str, path: GaussianPath | None, ddpm: DDPM) -> Objective:
    if kind == "diffusion":
        if path is not None:
            raise ValueError("path is for flow matching; diffusion trains DDPM's epsilon-prediction")
        return lambda model, x1, generator: ddpm_loss(model, x1, ddpm, generator)
    path = FM_PATH if path is None else path
    return lambda model, x1, generator: cfm_loss(model, x1, path, generator)


def train_2d(
    data: Sampleable | Tensor,
    train_steps: int = 2000,
    kind: str = "flow-matching",
    objective: Objective | None = None,
    path: GaussianPath | None = None,
    batch_size: int = 512,
    hidden: int = 128,
    depth: int = 3,
    lr: float = 3e-3,
    ema_decay: float | None = 0.995,
    seed: int = 0,
    callbacks: Sequence[Callable[[Trainer], None]] = (),
    callback_every: int = 50,
    progress: bool = True,
) -> TrainedModel:
    """Train an ``MLPField(dim, hidden, depth)`` for ``train_steps`` Adam steps of ``batch_size``.

    ``kind`` ('flow-matching' or 'diffusion') picks the loss: ``cfm_loss`` on ``path`` (default: the
    conditional-OT path x_t = t x1 + (1 - t) x0) or DDPM's ``ddpm_loss``; ``objective`` replaces it
    (a flow-matching objective unless ``kind`` says otherwise). Everything is seeded by ``seed``. The
    returned model is the EMA copy (or the trained model itself when ``ema_decay`` is None), in eval
    mode; ``losses`` are the per-step training losses and ``seconds`` the wall time of training.
    """
    data, kind = _check_data(data), check_choice("kind", kind, KINDS)
    check_count(train_steps, "train_steps")
    check_count(batch_size, "batch_size")
    if objective is not None and path is not None:
        raise ValueError("give either path (for cfm_loss) or objective, not both")
    if path is not None and not isinstance(path, GaussianPath):
        raise TypeError(f"path must be a GaussianPath or None, got {type(path).__name__}")
    ddpm = DDPM()
    objective = _objective(kind, path, ddpm) if objective is None else _check_objective(objective)
    dim = data.shape[1] if isinstance(data, Tensor) else data.dim
    with seeded(seed):
        model = MLPField(dim, hidden=hidden, depth=depth)
    if isinstance(data, Tensor):
        model = model.to(device=data.device, dtype=data.dtype)
    trainer = Trainer(
        model,
        _loss(data, batch_size, objective),
        lr=lr,
        seed=seed,
        ema_decay=ema_decay,
        callbacks=callbacks,
        callback_every=callback_every,
    )
    result = trainer.fit(train_steps, progress=progress)
    return TrainedModel(kind, trainer.model_for_sampling.eval(), result.losses, result.seconds, ddpm)
