"""fmtutor: the tested kernels behind the book *Flow Matching and Diffusion, Interactively*.

Conventions: t = 0 is noise and t = 1 is data; x_t = alpha_t x1 + beta_t x0 with x0 ~ N(0, I).
Batches come first (``x`` is ``(B, *D)``, a public ``t`` is ``(B,)`` or a scalar); fields are
callables ``field(x, t, **cond)``; every random draw takes a ``torch.Generator``.
"""

from .ddpm import DDPM
from .distributions import Density, GaussianMixture, Sampleable, StandardGaussian
from .losses import cfm_loss, ddpm_loss, dsm_loss, fm_loss, noise_prediction_loss
from .marginals import MarginalField
from .metrics import energy_distance, noise_floor, sliced_wasserstein
from .nets import MLPField, SinusoidalEmbedding
from .paths import GaussianPath, PathSample
from .sampling import converted_field, joint_sde_drift, probability_flow, sample_ode, sample_sde, sde_drift
from .schedules import (
    CosineSchedule,
    LinearSchedule,
    NoisyLinearSchedule,
    PolynomialSchedule,
    Schedule,
    ScheduleValues,
    VPSchedule,
    get_schedule,
)
from .solvers import DivergenceError, Solution, euler_maruyama, solve_ode, steps_for_nfe, time_grid
from .toy_data import get_dataset
from .training import EMA, Trainer, TrainResult

__version__ = "0.1.0"

__all__ = [
    "DDPM",
    "Density",
    "GaussianMixture",
    "Sampleable",
    "StandardGaussian",
    "cfm_loss",
    "fm_loss",
    "ddpm_loss",
    "dsm_loss",
    "noise_prediction_loss",
    "MarginalField",
    "energy_distance",
    "noise_floor",
    "sliced_wasserstein",
    "MLPField",
    "SinusoidalEmbedding",
    "GaussianPath",
    "PathSample",
    "converted_field",
    "probability_flow",
    "sample_ode",
    "sample_sde",
    "sde_drift",
    "joint_sde_drift",
    "CosineSchedule",
    "LinearSchedule",
    "NoisyLinearSchedule",
    "PolynomialSchedule",
    "Schedule",
    "ScheduleValues",
    "VPSchedule",
    "get_schedule",
    "DivergenceError",
    "Solution",
    "euler_maruyama",
    "solve_ode",
    "steps_for_nfe",
    "time_grid",
    "get_dataset",
    "EMA",
    "Trainer",
    "TrainResult",
]
