"""Generators of 2D samples behind one interface: a trained (or exact) flow-matching velocity or a
diffusion model's epsilon, sampled with a named sampler at a given number of network evaluations.

Flow matching follows its velocity with Euler or Heun; a diffusion model (DDPM's epsilon-prediction
in its own discrete terms, T = 1000) is sampled with DDPM's ancestral sampler, with DDIM, or through
its probability-flow ODE, whose velocity comes from converting epsilon on the variance-preserving
path (the continuous limit of DDPM's schedule, alpha_t = sqrt(abar)).

    fm = train_2d(data, train_steps=1500)                       # fmtutor.train2d
    x = fm.sample(torch.randn(1000, 2), nfe=32, sampler="heun").final
    log_p = fm.log_likelihood(x, nfe=32, method="rk4").log_p      # its density at x, fmtutor.likelihood
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._validate import check_batch, check_choice
from .ddpm import DDPM
from .distributions import GaussianMixture
from .likelihood import LogLikelihood, log_likelihood
from .marginals import MarginalField
from .paths import GaussianPath
from .sampling import converted_field
from .schedules import VPSchedule
from .solvers import NFE_PER_STEP, Field, Solution, solve_ode, steps_for_nfe, time_grid

__all__ = ["KINDS", "SAMPLERS", "FM_PATH", "VP_PATH", "TrainedModel", "exact_model"]

KINDS = ("flow-matching", "diffusion")
SAMPLERS = {"flow-matching": ("euler", "heun"), "diffusion": ("ancestral", "ddim", "pf-euler", "pf-heun")}
FM_PATH = GaussianPath("linear")
VP_PATH = GaussianPath(VPSchedule())
PATHS = {"flow-matching": FM_PATH, "diffusion": VP_PATH}


@dataclass(frozen=True)
class TrainedModel:
    """A generator: ``model(x, t)`` predicts a velocity (flow matching) or epsilon (diffusion)."""

    kind: str
    model: Field
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    ddpm: DDPM = field(default_factory=DDPM)

    @property
    def path(self) -> GaussianPath:
        """The Gaussian path the model lives on: linear (flow matching) or VP (diffusion)."""
        return PATHS[self.kind]

    @property
    def t_max(self) -> float:
        """Where an ODE sampler stops: 1, or the VP path's t_max (d_beta is infinite at t = 1)."""
        return self.path.t_max

    @property
    def velocity(self) -> Field:
        """The field an ODE solver follows: the model itself, or the probability-flow velocity."""
        if self.kind == "flow-matching":
            return self.model
        return converted_field(self.model, VP_PATH, source="epsilon", target="velocity")

    @torch.no_grad()
    def sample(
        self, x0: Tensor, nfe: int, sampler: str, generator: torch.Generator | None = None, keep_path: bool = False
    ) -> Solution:
        """Generate from noise ``x0`` ``(B, D)`` with ``nfe`` network evaluations (Heun: nfe even)."""
        check_choice(f"sampler for {self.kind}", sampler, SAMPLERS[self.kind])
        x0 = check_batch(x0, "x0")
        if sampler in ("ancestral", "ddim"):
            eta = 1.0 if sampler == "ancestral" else 0.0
            return self.ddpm.sample(self.model, x0, n_steps=nfe, eta=eta, generator=generator, keep_path=keep_path)
        method = sampler.removeprefix("pf-")
        times = time_grid(steps_for_nfe(method, nfe), 0.0, self.t_max, device=x0.device, dtype=x0.dtype)
        return solve_ode(self.velocity, x0, times, method=method, keep_path=keep_path)

    def log_likelihood(self, x: Tensor, nfe: int, method: str = "rk4", **options) -> LogLikelihood:
        """log p_theta(x) ``(B,)`` of points ``x`` ``(B, D)`` under the model's ODE (for diffusion its
        probability-flow ODE): ``likelihood.log_likelihood`` of ``velocity`` from ``t_max`` back to 0 on
        an even grid that spends ``nfe`` evaluations of ``method``. ``options`` go to ``log_likelihood``
        (``estimator``, ``n_probes``, ``generator``)."""
        x, method = check_batch(x, "x"), check_choice("method", method, NFE_PER_STEP)
        times = time_grid(steps_for_nfe(method, nfe), self.t_max, 0.0, device=x.device, dtype=x.dtype)
        return log_likelihood(self.velocity, x, times, method, **options)


def exact_model(kind: str, mixture: GaussianMixture) -> TrainedModel:
    """The perfectly trained model for a Gaussian-mixture target: the exact marginal velocity on the
    linear path (flow matching), or the exact epsilon = -beta_t * score on the VP path (diffusion)."""
    check_choice("kind", kind, KINDS)
    if kind == "flow-matching":
        return TrainedModel(kind, MarginalField(mixture, FM_PATH))
    score = MarginalField(mixture, VP_PATH).score
    return TrainedModel(kind, converted_field(score, VP_PATH, source="score", target="epsilon"))
