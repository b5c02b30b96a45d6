"""Rectified flow, reflow and distillation (Liu et al. 2023): couplings made by a trained flow.

A trained flow Z (an ODE dz/dt = v(z, t) from noise at t = 0) defines a *deterministic* coupling:
each noise point x0 is paired with where the flow carries it, x1 = Z_1(x0). Its pairs do not cross
in the middle the way independent pairs do, so flow matching on them, *reflow*, learns a field whose
paths are straighter (the (k + 1)-rectified flow from the k-rectified one), with the same marginals
as long as Z's samples are the data:

    1-rectified flow   CFM with the independent coupling (chapter 4)
    reflow             pairs (x0, Z_1(x0)) from a fine solve  ->  ``reflow_pairs``
    2-rectified flow   ``train2d.train_2d(pairs, objective=couplings.coupled_cfm_loss)``

*Distillation* trains on the same pairs but only at the times a k-step Euler sampler visits,
t in {0, 1/k, ..., (k - 1)/k}: with k = 1 the network learns v(x0, 0) = x1 - x0, so a single Euler step
lands on x1 (``distillation_loss``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._validate import check_batch, check_callable, check_count
from .couplings import PairedData, coupled_cfm_loss
from .solvers import Field, solve_ode, time_grid

__all__ = ["reflow_pairs", "distillation_times", "distillation_loss"]


@torch.no_grad()
def reflow_pairs(velocity: Field, x0: Tensor, n_steps: int = 32, method: str = "heun", chunk: int = 8192) -> PairedData:
    """The coupling of a flow: ``x0`` ``(N, D)`` paired with its end point x1 = Z_1(x0).

    Z_1 is ``method`` on an even grid of ``n_steps`` from t = 0 to 1 (Heun with 32 steps, 64 NFE,
    by default: the pairs should be the flow's, not its discretisation's). Solved in chunks of
    ``chunk`` points to bound memory. ``x0`` is not modified.
    """
    check_callable(velocity, "velocity", "velocity(x, t)")
    x0, chunk = check_batch(x0, "x0"), check_count(chunk, "chunk")
    times = time_grid(check_count(n_steps, "n_steps"), 0.0, 1.0, device=x0.device, dtype=x0.dtype)
    x1 = torch.cat([solve_ode(velocity, part, times, method=method).final for part in x0.split(chunk)])
    return PairedData(x0.clone(), x1)


def distillation_times(k: int) -> Tensor:
    """The start times 0, 1/k, ..., (k - 1)/k of a k-step Euler sampler, ``(k,)``."""
    k = check_count(k, "k", "a positive integer number of steps")
    return time_grid(k, 0.0, 1.0)[:-1]


def distillation_loss(k: int) -> Callable[[Field, Tensor, torch.Generator | None], Tensor]:
    """The objective ``(model, pairs, generator)`` that distils pairs onto a k-step Euler sampler:
    ``coupled_cfm_loss`` with t drawn uniformly from ``distillation_times(k)``."""
    times = distillation_times(k)

    def objective(model: Field, pairs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return coupled_cfm_loss(model, pairs, generator, times=times)

    return objective
