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

Schrodinger-bridge CFM (Tong et al. 2024) is the entropic plan with reg = 2 sigma^2 together with the
Brownian bridge's noise on the path, x_t = t x1 + (1 - t) x0 + sigma sqrt(t (1 - t)) eps, and its
pathwise target x1 - x0 + sigma (1 - 2t) / (2 sqrt(t (1 - t))) eps: ``MinibatchOTCoupling.bridge``
and ``bridge_cfm_loss`` (between Gaussians its field is ``gaussian_ot.GaussianCouplingField.bridge``).

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
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ._validate import check_batch, check_callable, check_count, check_finite, check_n_samples, check_positive
from .distributions import Sampleable
from .losses import regression_loss
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
    "bridge_cfm_loss",
    "split_pairs",
]

LINEAR = GaussianPath("linear")


def _matrix(value: object, name: str, square: bool = False) -> Tensor:
    """A finite floating ``(N, M)`` tensor with N, M >= 1 (``square``: N = M), refused by ``name``."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape ({'N, N' if square else 'N, M'}), got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.ndim != 2 or value.numel() == 0 or (square and value.shape[0] != value.shape[1]):
        what = "a square (N, N)" if square else "an (N, M)"
        raise ValueError(f"{name} must be {what} tensor with at least one entry, got shape {tuple(value.shape)}")
    return check_finite(value, name)


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

    n = _matrix(cost, "cost", square=True).shape[0]
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

    n, m = _matrix(cost, "cost").shape
    check_positive(reg, "reg")
    n_iter, tol = check_count(n_iter, "n_iter"), check_positive(tol, "tol")
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
    plan = _matrix(plan, "plan")
    if bool((plan < 0).any()) or bool((plan.sum(1) <= 0).any()):
        raise ValueError(
            f"plan must hold non-negative weights with positive row sums, got entries from {plan.min().item():.3g} "
            f"and a smallest row sum of {plan.sum(1).min().item():.3g}"
        )
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
        for name, dist in (("source", source), ("target", target)):
            if not isinstance(dist, Sampleable):
                raise TypeError(
                    f"{name} must be a Sampleable (with .sample(n, generator) and .dim), got {type(dist).__name__}"
                )
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
        self.ot_batch = None if ot_batch is None else check_count(ot_batch, "ot_batch")

    @classmethod
    def bridge(
        cls, source: Sampleable, target: Sampleable, sigma: float, ot_batch: int | None = None
    ) -> MinibatchOTCoupling:
        """The pairs of Schrodinger-bridge CFM: entropic plans with reg = 2 sigma^2 (the static bridge of
        a Brownian motion sigma W); train on them with ``bridge_cfm_loss(sigma)``."""
        sigma = check_positive(sigma, "sigma")
        return cls(source, target, reg=2 * sigma**2, ot_batch=ot_batch)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        n = check_n_samples(n)
        m = self.ot_batch or n
        parts = []
        for _ in range(-(-n // m)):
            pairs = super().sample(m, generator)
            if m == 1 and self.reg == 0:  # the exact plan of one point pairs it with the other: independent CFM
                parts.append(pairs)
                continue
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
    if isinstance(pairs, Tensor) and pairs.ndim == 3 and pairs.shape[1] == 2:
        pairs = check_batch(pairs, "pairs")
    else:
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
    check_callable(model, "model", "model(x, t)")
    x0, x1 = split_pairs(pairs)
    sigma = check_positive(sigma, "sigma", allow_zero=True)
    if times is None:
        t = torch.rand(x0.shape[0], generator=generator, dtype=x0.dtype, device=x0.device)
    else:
        times = _grid_times(times).to(x0)
        t = times[torch.randint(len(times), (x0.shape[0],), generator=generator, device=x0.device)]
    if sigma > 0:
        s = NoisyLinearPath(sigma).sample(x1, t.clamp(1e-4, 1 - 1e-3), x0=x0, generator=generator)
        x_t, target, t = s.x_t, s.pathwise, s.t
    else:
        s = LINEAR.sample(x1, t, x0=x0)
        x_t, target = s.x_t, s.velocity
    return regression_loss(model, x_t, t, target, {})


def _grid_times(times: object) -> Tensor:
    """A non-empty 1-D floating tensor of times in [0, 1)."""
    if not isinstance(times, Tensor) or not times.is_floating_point():
        raise TypeError(f"times must be a 1-D floating tensor of times in [0, 1), got {type(times).__name__}")
    if times.ndim != 1 or times.numel() == 0:
        raise ValueError(f"times must be a non-empty 1-D tensor of times in [0, 1), got shape {tuple(times.shape)}")
    if bool((check_finite(times, "times") < 0).any()) or bool((times >= 1).any()):
        raise ValueError(
            f"times must lie in [0, 1), got values from {times.min().item():.4g} to {times.max().item():.4g}"
        )
    return times


def bridge_cfm_loss(sigma: float) -> Callable[[Field, Tensor, torch.Generator | None], Tensor]:
    """The objective ``(model, pairs, generator)`` of Schrodinger-bridge CFM: ``coupled_cfm_loss`` with the
    bridge's noise sigma on the path and its pathwise target (pairs from ``MinibatchOTCoupling.bridge``)."""
    sigma = check_positive(sigma, "sigma")

    def objective(model: Field, pairs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return coupled_cfm_loss(model, pairs, generator, sigma=sigma)

    return objective
