"""Diffusion and flow matching trained alike on 2D data and sampled through one interface.

A fair comparison holds everything but the method fixed: the same ``MLPField``, optimizer, training
points, number of steps and batch size, and, at sampling, the same number of network evaluations
(NFE). Flow matching regresses the conditional-OT velocity; diffusion is DDPM's epsilon-prediction
in its own discrete terms (T = 1000). A diffusion model is sampled with DDPM's ancestral sampler,
with DDIM, or through its probability-flow ODE, whose velocity comes from converting epsilon on the
variance-preserving path (the continuous limit of DDPM's schedule, alpha_t = sqrt(abar)).

    fm = train_model("flow-matching", data, n_epochs=50, batch_size=128)
    x = fm.sample(torch.randn(1000, 2), nfe=32, sampler="heun").final
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._validate import check_batch, check_choice
from .ddpm import DDPM
from .distributions import GaussianMixture
from .losses import cfm_loss, ddpm_loss
from .marginals import MarginalField
from .metrics import sliced_wasserstein
from .nets import MLPField
from .paths import GaussianPath
from .sampling import converted_field
from .schedules import VPSchedule
from .solvers import Field, Solution, solve_ode, time_grid
from .training import Trainer

__all__ = ["KINDS", "SAMPLERS", "TrainedModel", "train_model", "exact_model", "sliced_w2_vs_nfe"]

KINDS = ("flow-matching", "diffusion")
SAMPLERS = {"flow-matching": ("euler", "heun"),
            "diffusion": ("ancestral", "ddim", "pf-euler", "pf-heun")}
FM_PATH = GaussianPath("linear")
VP_PATH = GaussianPath(VPSchedule())


@dataclass(frozen=True)
class TrainedModel:
    """A generator: ``model(x, t)`` predicts a velocity (flow matching) or epsilon (diffusion)."""

    kind: str
    model: Field
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    ddpm: DDPM = field(default_factory=DDPM)

    @property
    def velocity(self) -> Field:
        """The field an ODE solver follows: the model itself, or the probability-flow velocity."""
        if self.kind == "flow-matching":
            return self.model
        return converted_field(self.model, VP_PATH, source="epsilon", target="velocity")

    @torch.no_grad()
    def sample(self, x0: Tensor, nfe: int, sampler: str, generator: torch.Generator | None = None,
               keep_path: bool = False) -> Solution:
        """Generate from noise ``x0`` ``(B, D)`` with ``nfe`` network evaluations (Heun: nfe even)."""
        check_choice(f"sampler for {self.kind}", sampler, SAMPLERS[self.kind])
        x0 = check_batch(x0, "x0")
        if sampler in ("ancestral", "ddim"):
            eta = 1.0 if sampler == "ancestral" else 0.0
            out = self.ddpm.sample(self.model, x0, n_steps=nfe, eta=eta, generator=generator, keep_path=keep_path)
            times = self.ddpm.index_to_time(torch.tensor(self.ddpm.timesteps(nfe)))
            return Solution(times=times, final=out[-1] if keep_path else out, nfe=nfe, path=out if keep_path else None)
        method = sampler.removeprefix("pf-")
        steps = nfe // 2 if method == "heun" else nfe
        if steps < 1 or (method == "heun" and nfe % 2):
            raise ValueError(f"nfe must be a positive {'even ' if method == 'heun' else ''}integer for {sampler}, got {nfe}")
        t_end = 1.0 if self.kind == "flow-matching" else VP_PATH.schedule.t_max
        times = time_grid(steps, 0.0, t_end, device=x0.device, dtype=x0.dtype)
        return solve_ode(self.velocity, x0, times, method=method, keep_path=keep_path)


def _loss(kind: str, data: Tensor, batch_size: int, ddpm: DDPM) -> Callable:
    def loss_fn(model, generator):
        idx = torch.randint(len(data), (batch_size,), generator=generator, device=data.device)
        if kind == "flow-matching":
            return cfm_loss(model, data[idx], FM_PATH, generator)
        return ddpm_loss(model, data[idx], ddpm, generator)

    return loss_fn


def train_model(kind: str, data: Tensor, n_epochs: int = 50, batch_size: int = 128, seed: int = 0,
                lr: float = 1e-3, hidden: int = 128, depth: int = 3, progress: bool = True,
                callbacks: Sequence[Callable] = ()) -> TrainedModel:
    """Train an ``MLPField`` on the points ``data`` ``(N, D)`` for ``n_epochs`` passes of ``batch_size``.

    Both kinds get the same network, optimizer (Adam, ``lr``), seed, steps and batches.
    """
    check_choice("kind", kind, KINDS)
    data = check_batch(data, "data")
    if n_epochs < 1 or batch_size < 1:
        raise ValueError(f"n_epochs and batch_size must be >= 1, got {n_epochs} and {batch_size}")
    torch.manual_seed(seed)
    model = MLPField(data.shape[1], hidden=hidden, depth=depth).to(data.device)
    ddpm = DDPM()
    trainer = Trainer(model, _loss(kind, data, batch_size, ddpm), lr=lr, seed=seed, callbacks=callbacks)
    result = trainer.fit(n_epochs * math.ceil(len(data) / batch_size), progress=progress)
    return TrainedModel(kind, model.eval(), result.losses, result.seconds, ddpm)


def exact_model(kind: str, mixture: GaussianMixture) -> TrainedModel:
    """The perfectly trained model for a Gaussian-mixture target: the exact marginal velocity on the
    linear path (flow matching), or the exact epsilon = -beta_t * score on the VP path (diffusion)."""
    check_choice("kind", kind, KINDS)
    if kind == "flow-matching":
        return TrainedModel(kind, MarginalField(mixture, FM_PATH))
    score = MarginalField(mixture, VP_PATH).score
    return TrainedModel(kind, converted_field(score, VP_PATH, source="score", target="epsilon"))


def sliced_w2_vs_nfe(model: TrainedModel, sampler: str, nfes: Sequence[int], reference: Tensor,
                     seed: int = 0) -> dict[int, float]:
    """Sliced W2 between ``len(reference)`` samples and ``reference`` for each NFE, with the same
    noise and projection directions at every NFE (seeded) so the curve is not jittered by sampling."""
    out = {}
    for nfe in nfes:
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(reference.shape, generator=g)
        x = model.sample(x0, nfe, sampler, generator=g).final
        out[nfe] = float(sliced_wasserstein(x, reference, generator=torch.Generator().manual_seed(seed + 1)))
    return out
