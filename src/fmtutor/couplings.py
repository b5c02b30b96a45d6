"""Couplings of a source and a target distribution, and flow matching on coupled pairs.

A *coupling* pi(x0, x1) is a joint distribution whose marginals are the source p0 and the target
p1. Conditional flow matching with a coupling regresses on the straight-line velocity between
coupled points,

    loss(theta) = E_{t ~ U[0, 1], (x0, x1) ~ pi} || v_theta(t x1 + (1 - t) x0, t) - (x1 - x0) ||^2,

and its minimiser is the marginal field u_t(x) = E_pi[x1 - x0 | x_t = x], whose flow carries p0 to
p1 for *every* coupling. The coupling decides how straight that flow is. Here:

    IndependentCoupling(source, target)       x0 and x1 drawn independently (chapter 4's CFM)
    MinibatchOTCoupling(source, target, reg)  a batch of each, paired by an optimal transport plan
                                               for the cost |x0 - x1|^2: exact (reg = 0) or entropic
    PairedData(x0, x1)                         fixed pairs, e.g. made by a trained flow (reflow)

A coupling is a ``Sampleable`` of *pairs*: ``sample(n, generator)`` returns ``(n, 2, D)`` with
``[:, 0]`` the source points and ``[:, 1]`` their partners; ``dim`` is D. So
``train2d.train_2d(coupling, objective=coupled_cfm_loss)`` trains on it.

Plans are solved by POT (Python Optimal Transport), chosen on measured speed: its network simplex
``ot.emd`` took 7-12 ms at batch 256, 50-65 ms at 512 and 170-220 ms at 1024 on one thread, against
12-14, 127 and 740-930 ms for SciPy's ``linear_sum_assignment``; its Sinkhorn 25-70 ms where a
log-domain torch loop took 0.07-1.1 s (``benchmarks/straighter_flows.py --solvers``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from ._validate import check_n_samples, check_positive
from .distributions import Sampleable
from .metrics import _pair
from .noisy_path import NoisyLinearPath
from .paths import GaussianPath
from .solvers import Field

__all__ = [
    "squared_distances",
    "exact_assignment",
    "sinkhorn_plan",
    "sample_plan_rows",
    "ot_pair",
    "IndependentCoupling",
    "MinibatchOTCoupling",
    "PairedData",
    "coupled_cfm_loss",
    "split_pairs",
]

LINEAR = GaussianPath("linear")


def squared_distances(x0: Tensor, x1: Tensor) -> Tensor:
    """The cost matrix C_ij = |x0_i - x1_j|^2, ``(N, D), (M, D) -> (N, M)``."""
    x0, x1 = _pair(x0, x1, ("x0", "x1"))
    return (x0[:, None, :] - x1[None, :, :]).pow(2).sum(-1)


def exact_assignment(cost: Tensor) -> Tensor:
    """The permutation sigma minimising sum_i C[i, sigma(i)] for a square cost ``(N, N)``: ``(N,)`` long.

    The optimal transport plan between two sets of N equally weighted points is a permutation
    (Birkhoff); POT's network simplex (``ot.emd``) returns such a vertex. numpy at this edge only.
    """
    import ot

    if not isinstance(cost, Tensor) or cost.ndim != 2 or cost.shape[0] != cost.shape[1] or cost.shape[0] < 1:
        shape = tuple(cost.shape) if isinstance(cost, Tensor) else type(cost).__name__
        raise ValueError(f"cost must be a square (N, N) tensor, got {shape}")
    n = cost.shape[0]
    weights = np.ones(n)  # unit masses: the plan's entries are exactly 0 or 1
    plan = ot.emd(weights, weights, cost.detach().cpu().double().numpy(), numItermax=1_000_000)
    return torch.as_tensor(plan.argmax(axis=1), dtype=torch.long, device=cost.device)


def sinkhorn_plan(cost: Tensor, reg: float, n_iter: int = 2000, tol: float = 1e-9) -> Tensor:
    """The entropic OT plan P = argmin <P, C> - reg H(P) with marginals 1/N (rows) and 1/M (columns).

    Sinkhorn's iterations: with K = exp(-C / reg), alternate u = a / (K v) and v = b / (K^T u);
    P = diag(u) K diag(v) (POT's ``ot.sinkhorn``, in the log domain when reg is small against the
    costs, where K would underflow). reg -> 0 gives an exact plan, reg -> infinity 1 / (N M).
    """
    import ot

    check_positive(reg, "reg")
    if not isinstance(cost, Tensor) or cost.ndim != 2:
        raise ValueError(f"cost must be an (N, M) tensor, got {type(cost).__name__}")
    n, m = cost.shape
    c = cost.detach().cpu().double().numpy()
    method = "sinkhorn" if c.max() / reg < 200 else "sinkhorn_log"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT warns when it stops at n_iter; the marginals are checked by tests
        plan = ot.sinkhorn(
            np.full(n, 1.0 / n), np.full(m, 1.0 / m), c, reg, method=method, numItermax=n_iter, stopThr=tol
        )
    return torch.as_tensor(plan, dtype=cost.dtype, device=cost.device)


def sample_plan_rows(plan: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """For each row i, a column j drawn with probability P_ij / sum_j P_ij: ``(N, M) -> (N,)`` long.

    Every source point keeps exactly one partner, drawn from its conditional under the plan, so the
    pairs are draws from the plan with the source marginal kept exactly.
    """
    if not isinstance(plan, Tensor) or plan.ndim != 2 or (plan < 0).any() or (plan.sum(1) <= 0).any():
        raise ValueError("plan must be an (N, M) tensor of non-negative weights with positive row sums")
    return torch.multinomial(plan, 1, generator=generator).squeeze(1)


def ot_pair(x0: Tensor, x1: Tensor, reg: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """``x1`` reordered to be the partners of ``x0`` ``(N, D)`` under the minibatch OT plan for |x0 - x1|^2.

    ``reg = 0``: the exact plan, a permutation (``x1`` must have N points too). ``reg > 0``: the
    Sinkhorn plan with that regularisation, partners drawn row by row (a point may be used twice).
    """
    x0, x1 = _pair(x0, x1, ("x0", "x1"))
    cost = squared_distances(x0, x1)
    if reg == 0:
        if x0.shape[0] != x1.shape[0]:
            raise ValueError(f"the exact plan pairs equal batches; got {x0.shape[0]} and {x1.shape[0]} points")
        return x1[exact_assignment(cost)]
    return x1[sample_plan_rows(sinkhorn_plan(cost, reg), generator)]


class IndependentCoupling:
    """x0 ~ ``source`` and x1 ~ ``target`` drawn independently: the coupling of plain CFM."""

    def __init__(self, source: Sampleable, target: Sampleable):
        if source.dim != target.dim:
            raise ValueError(f"source and target must have the same dim, got {source.dim} and {target.dim}")
        self.source, self.target, self.dim = source, target, target.dim

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, 2, D)`` pairs; draws the source first, then the target."""
        x0 = self.source.sample(check_n_samples(n), generator)
        return torch.stack([x0, self.target.sample(n, generator).to(x0)], dim=1)


class MinibatchOTCoupling(IndependentCoupling):
    """Batches of ``ot_batch`` source and ``ot_batch`` target points, each paired by its minibatch OT
    plan (``ot_pair``).

    ``reg = 0`` is OT-CFM's exact plan; ``reg = 2 sigma^2`` with ``coupled_cfm_loss(..., sigma)``
    is the Schrodinger-bridge variant. ``ot_batch`` (default: the n asked for) decouples the OT
    batch from the training batch: ``sample(n)`` solves ceil(n / ot_batch) plans and keeps n pairs
    (the first n; each plan's pairs come in random order).
    """

    def __init__(self, source: Sampleable, target: Sampleable, reg: float = 0.0, ot_batch: int | None = None):
        super().__init__(source, target)
        self.reg = float(check_positive(reg, "reg", allow_zero=True))
        self.ot_batch = None if ot_batch is None else check_n_samples(ot_batch)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        m = self.ot_batch or check_n_samples(n)
        parts = []
        for _ in range(-(-n // m)):
            pairs = super().sample(m, generator)
            x1 = ot_pair(pairs[:, 0], pairs[:, 1], self.reg, generator)
            parts.append(torch.stack([pairs[:, 0], x1], dim=1))
        return torch.cat(parts)[:n]


class PairedData:
    """A fixed set of pairs ``x0[i] -> x1[i]`` ``(N, D)``, resampled with replacement."""

    def __init__(self, x0: Tensor, x1: Tensor):
        x0, x1 = _pair(x0, x1, ("x0", "x1"))
        if x0.shape != x1.shape:
            raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
        self.pairs, self.dim = torch.stack([x0, x1], dim=1), x0.shape[1]

    def __len__(self) -> int:
        return self.pairs.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        idx = torch.randint(len(self), (check_n_samples(n),), generator=generator, device=self.pairs.device)
        return self.pairs[idx]


def split_pairs(pairs: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, 2, D) -> (x0, x1)``, each ``(B, D)``, refusing anything else by name."""
    if not isinstance(pairs, Tensor) or pairs.ndim != 3 or pairs.shape[1] != 2:
        shape = tuple(pairs.shape) if isinstance(pairs, Tensor) else type(pairs).__name__
        raise ValueError(f"pairs must have shape (B, 2, D) (x0 and x1 stacked on dim 1), got {shape}")
    return pairs[:, 0], pairs[:, 1]


def coupled_cfm_loss(
    model: Field,
    pairs: Tensor,
    generator: torch.Generator | None = None,
    sigma: float = 0.0,
    times: Tensor | None = None,
) -> Tensor:
    """Mean || v_theta(x_t, t) - target ||^2 on coupled pairs ``(B, 2, D)``.

    sigma = 0: x_t = t x1 + (1 - t) x0, target x1 - x0 (the conditional-OT path with given x0).
    sigma > 0: x_t gets sigma sqrt(t (1 - t)) eps added and the target its time derivative
    (``NoisyLinearPath``'s pathwise target): with an entropic plan, Schrodinger-bridge CFM.
    ``times``: draw t uniformly from these grid times instead of U[0, 1] (distillation onto a
    sampler's grid; ``reflow.distillation_loss``). Draw order: t, then (sigma > 0) the noise.
    """
    x0, x1 = split_pairs(pairs)
    if times is None:
        t = torch.rand(x0.shape[0], generator=generator, dtype=x0.dtype, device=x0.device)
    else:
        t = times.to(x0)[torch.randint(len(times), (x0.shape[0],), generator=generator, device=x0.device)]
    if sigma > 0:
        s = NoisyLinearPath(sigma).sample(x1, t.clamp(1e-4, 1 - 1e-3), x0=x0, generator=generator)
        x_t, target, t = s.x_t, s.pathwise, s.t
    else:
        s = LINEAR.sample(x1, t, x0=x0)
        x_t, target = s.x_t, s.velocity
    return (model(x_t, t) - target).pow(2).mean()
