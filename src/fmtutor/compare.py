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
from collections.abc import Callable, Mapping, Sequence
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

__all__ = ["KINDS", "SAMPLERS", "TrainedModel", "train_model", "exact_model", "sliced_w2_vs_nfe",
           "sliced_w2_spread", "steps_for_nfe", "nfe_to_reach", "plateau", "solver_error_vs_nfe"]

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
        steps = steps_for_nfe(sampler, nfe)
        t_end = 1.0 if self.kind == "flow-matching" else VP_PATH.schedule.t_max
        times = time_grid(steps, 0.0, t_end, device=x0.device, dtype=x0.dtype)
        return solve_ode(self.velocity, x0, times, method=method, keep_path=keep_path)


def steps_for_nfe(sampler: str, nfe: int) -> int:
    """The number of steps that spends exactly ``nfe`` network evaluations: Heun evaluates the field
    twice per step (``nfe / 2`` steps, ``nfe`` even); Euler, DDIM and ancestral once (``nfe`` steps)."""
    check_choice("sampler", sampler, {s for kind in KINDS for s in SAMPLERS[kind]})
    heun = sampler.endswith("heun")
    if isinstance(nfe, bool) or not isinstance(nfe, int) or nfe < 1 or (heun and nfe % 2):
        raise ValueError(f"nfe must be a positive {'even ' if heun else ''}integer for {sampler}, got {nfe!r}")
    return nfe // 2 if heun else nfe


def _loss(kind: str, data: Tensor, batch_size: int, ddpm: DDPM) -> Callable:
    def loss_fn(model, generator):
        idx = torch.randint(len(data), (batch_size,), generator=generator, device=data.device)
        if kind == "flow-matching":
            return cfm_loss(model, data[idx], FM_PATH, generator)
        return ddpm_loss(model, data[idx], ddpm, generator)

    return loss_fn


def train_model(kind: str, data: Tensor, n_epochs: int = 50, batch_size: int = 128, seed: int = 0,
                lr: float = 1e-3, hidden: int = 128, depth: int = 3, progress: bool = True,
                callbacks: Sequence[Callable] = (), ema_decay: float | None = None) -> TrainedModel:
    """Train an ``MLPField`` on the points ``data`` ``(N, D)`` for ``n_epochs`` passes of ``batch_size``.

    Both kinds get the same network, optimizer (Adam, ``lr``), seed, steps and batches. With
    ``ema_decay`` the returned model is the exponential moving average of the weights (smoother
    fields, better samples for the same steps); ``losses`` are always the trained model's.
    """
    check_choice("kind", kind, KINDS)
    data = check_batch(data, "data")
    if n_epochs < 1 or batch_size < 1:
        raise ValueError(f"n_epochs and batch_size must be >= 1, got {n_epochs} and {batch_size}")
    torch.manual_seed(seed)
    model = MLPField(data.shape[1], hidden=hidden, depth=depth).to(data.device)
    ddpm = DDPM()
    trainer = Trainer(model, _loss(kind, data, batch_size, ddpm), lr=lr, seed=seed, callbacks=callbacks,
                      ema_decay=ema_decay)
    result = trainer.fit(n_epochs * math.ceil(len(data) / batch_size), progress=progress)
    return TrainedModel(kind, trainer.model_for_sampling.eval(), result.losses, result.seconds, ddpm)


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


def sliced_w2_spread(model: TrainedModel, sampler: str, nfes: Sequence[int], reference: Tensor,
                     seeds: Sequence[int] = (0, 1, 2, 3, 4)) -> dict[int, float]:
    """The standard deviation over ``seeds`` (fresh noise, sampler noise and projections) of
    ``sliced_w2_vs_nfe`` at each NFE: the error bar of a quality curve, to tell a ranking from noise."""
    if len(seeds) < 2:
        raise ValueError(f"seeds: need at least 2 seeds for a spread, got {list(seeds)}")
    runs = [sliced_w2_vs_nfe(model, sampler, nfes, reference, seed=2 * s) for s in seeds]
    return {n: float(torch.tensor([run[n] for run in runs]).std()) for n in nfes}


def nfe_to_reach(curve: Mapping[int, float], threshold: float) -> int | None:
    """The smallest NFE of ``curve`` (NFE -> error) from which on every error is <= ``threshold``;
    ``None`` when even the largest NFE misses it. "From which on" keeps a lucky dip at a small NFE
    that later NFEs do not confirm from counting."""
    reached = None
    for nfe in sorted(curve, reverse=True):
        if curve[nfe] > threshold:
            break
        reached = nfe
    return reached


def plateau(curve: Mapping[int, float], n_last: int = 3) -> float:
    """Where a quality curve (NFE -> error) levels off: the median of its values at the ``n_last``
    largest NFE (a median, so one noisy point does not move it)."""
    if len(curve) < n_last:
        raise ValueError(f"the curve needs at least {n_last} points, got {len(curve)}")
    values = sorted(curve[n] for n in sorted(curve)[-n_last:])
    return values[len(values) // 2] if n_last % 2 else 0.5 * (values[n_last // 2 - 1] + values[n_last // 2])


def solver_error_vs_nfe(model: TrainedModel, sampler: str, nfes: Sequence[int], x0: Tensor,
                        limit: Tensor) -> dict[int, float]:
    """RMS over particles of |x_nfe - limit| for a deterministic sampler started at the noise ``x0``
    ``(B, D)``: the error of the discretisation alone, measured against ``limit`` (the same noise
    carried by a very fine solver). Unlike a distance between sample sets, it has no noise floor."""
    if sampler == "ancestral":
        raise ValueError("solver_error_vs_nfe needs a deterministic sampler; ancestral sampling draws fresh noise")
    if limit.shape != x0.shape:
        raise ValueError(f"limit must have the shape of x0 {tuple(x0.shape)}, got {tuple(limit.shape)}")
    return {nfe: float((model.sample(x0, nfe, sampler).final - limit).norm(dim=-1).pow(2).mean().sqrt())
            for nfe in nfes}
