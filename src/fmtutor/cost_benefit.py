"""What each route to straighter flows costs and what it buys, measured as chapter 6 measures.

``train_methods`` trains, from one seed and one ``Budget``, every method of chapter 8 on a target
with source N(0, I): independent CFM (= 1-rectified flow), OT-CFM at several OT batch sizes, the
2-rectified flow (reflow on pairs made by the 1-rectified flow) and its distillations to k Euler
steps. Each result carries its training cost in CPU seconds and gradient steps *including* what it
was built from (a 2-rectified flow pays for its teacher and for the pairs). ``measure`` gives the
sliced W2 against NFE (Euler, ``quality.sliced_w2_vs_nfe``: same noise and projections at every NFE)
and the straightness S of Liu et al. on a fine solve (``trajectories.velocity_deviation``).

``gaussian_field_errors`` is the ground truth beside them: OT-CFM (or Schrodinger-bridge CFM) from N(0, I)
to one Gaussian, where the field it should learn is a closed form (``gaussian_ot``), trained at several
OT batch sizes and measured by its RMS distance to that field.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._validate import check_count, check_positive
from .couplings import IndependentCoupling, MinibatchOTCoupling, bridge_cfm_loss, coupled_cfm_loss
from .distributions import Sampleable, StandardGaussian
from .gaussian_ot import Gaussian, GaussianCouplingField, field_distance
from .generators import TrainedModel
from .quality import nfe_to_reach, sliced_w2_vs_nfe
from .reflow import distillation_loss, reflow_pairs
from .solvers import solve_ode, time_grid
from .train2d import train_2d
from .trajectories import velocity_deviation

__all__ = [
    "Budget",
    "Method",
    "train_methods",
    "measure",
    "Measured",
    "Row",
    "summarize",
    "format_table",
    "format_costs",
    "FieldError",
    "gaussian_field_errors",
]


@dataclass(frozen=True)
class Budget:
    """One training run: Adam steps, batch, MLP size, and the reflow pairs (count, Heun steps)."""

    steps: int = 1500
    batch_size: int = 256
    hidden: int = 64
    depth: int = 3
    lr: float = 3e-3
    ema_decay: float | None = 0.995
    n_pairs: int = 8192
    pair_steps: int = 16


@dataclass(frozen=True)
class Method:
    """A trained method: its model, CPU seconds and gradient steps including its teachers', and
    whether it is a flow (S is defined) or a few-step sampler distilled onto ``grid_steps`` steps."""

    name: str
    model: TrainedModel
    cpu_seconds: float
    steps: int
    grid_steps: int | None = None


def _train(coupling: Sampleable, budget: Budget, seed: int, objective=coupled_cfm_loss) -> tuple[TrainedModel, float]:
    start = time.process_time()
    model = train_2d(
        coupling,
        train_steps=budget.steps,
        batch_size=budget.batch_size,
        hidden=budget.hidden,
        depth=budget.depth,
        lr=budget.lr,
        ema_decay=budget.ema_decay,
        seed=seed,
        objective=objective,
        progress=False,
    )
    return model, time.process_time() - start


def _pairs(teacher: TrainedModel, budget: Budget, seed: int):
    start = time.process_time()
    x0 = torch.randn(budget.n_pairs, teacher.model.dim, generator=torch.Generator().manual_seed(seed + 1000))
    pairs = reflow_pairs(teacher.model, x0, n_steps=budget.pair_steps)
    return pairs, time.process_time() - start


def train_methods(
    target: Sampleable,
    budget: Budget = Budget(),
    seed: int = 0,
    ot_batches: Sequence[int] = (64, 256),
    distill_steps: Sequence[int] = (1, 2),
) -> dict[str, Method]:
    """Train every method from ``seed``; keys: 'independent CFM', 'OT-CFM, batch n', '2-rectified',
    'distilled, k step(s)'. OT-CFM trains on ``budget.batch_size`` pairs per step from OT plans of
    ``n`` points; the distillations start from the 2-rectified flow's pairs."""
    source = StandardGaussian(target.dim)
    out: dict[str, Method] = {}
    ind, secs = _train(IndependentCoupling(source, target), budget, seed)
    out["independent CFM"] = Method("independent CFM", ind, secs, budget.steps)
    for n in ot_batches:
        model, secs = _train(MinibatchOTCoupling(source, target, ot_batch=n), budget, seed)
        out[f"OT-CFM, batch {n}"] = Method(f"OT-CFM, batch {n}", model, secs, budget.steps)
    pairs, pair_secs = _pairs(ind, budget, seed)
    model, secs = _train(pairs, budget, seed)
    rf2 = out["2-rectified"] = Method(
        "2-rectified", model, out["independent CFM"].cpu_seconds + pair_secs + secs, 2 * budget.steps
    )
    pairs2, pair_secs = _pairs(rf2.model, budget, seed) if distill_steps else (None, 0.0)
    for k in distill_steps:
        model, secs = _train(pairs2, budget, seed, objective=distillation_loss(k))
        name = f"distilled, {k} step{'s' if k > 1 else ''}"
        out[name] = Method(name, model, rf2.cpu_seconds + pair_secs + secs, rf2.steps + budget.steps, grid_steps=k)
    return out


@dataclass(frozen=True)
class Measured:
    """Sliced W2 by Euler NFE, and the mean straightness S (None for a distilled few-step sampler)."""

    curve: dict[int, float]
    straightness: float | None = field(default=None)


@torch.no_grad()
def measure(
    method: Method, reference: Tensor, nfes: Sequence[int], x0_paths: Tensor, seed: int = 0, fine_steps: int = 64
) -> Measured:
    """Euler quality curve against ``reference`` (a distilled model only at its own ``grid_steps``)
    and S averaged over the particles ``x0_paths`` on an Euler path of ``fine_steps`` steps."""
    nfes = [method.grid_steps] if method.grid_steps else list(nfes)
    curve = sliced_w2_vs_nfe(method.model, "euler", nfes, reference, seed=seed)
    if method.grid_steps:
        return Measured(curve)
    times = time_grid(fine_steps, dtype=x0_paths.dtype)
    path = solve_ode(method.model.velocity, x0_paths, times, keep_path=True).path
    return Measured(curve, float(velocity_deviation(path, times).mean()))


@dataclass(frozen=True)
class Row:
    """One method over seeds: mean and standard deviation of each figure (``None`` where undefined)."""

    name: str
    cpu_seconds: tuple[float, float]
    steps: int
    straightness: tuple[float, float] | None
    sliced_w2: dict[int, tuple[float, float]]
    nfe_to_reach: tuple[int | None, ...]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    v = torch.tensor(values, dtype=torch.float64)
    return float(v.mean()), float(v.std()) if len(v) > 1 else 0.0


def summarize(runs: Sequence[tuple[dict[str, Method], dict[str, Measured]]], quality: float) -> list[Row]:
    """Rows over the seeds of ``runs`` (one ``(methods, measured)`` per seed, same keys); the NFE to
    reach ``quality`` is ``quality.nfe_to_reach`` of each seed's curve (None: not within its NFE)."""
    rows = []
    for name, first in runs[0][0].items():
        curves = [measured[name].curve for _, measured in runs]
        s = [measured[name].straightness for _, measured in runs]
        rows.append(
            Row(
                name,
                _mean_std([methods[name].cpu_seconds for methods, _ in runs]),
                first.steps,
                None if s[0] is None else _mean_std(s),
                {n: _mean_std([c[n] for c in curves]) for n in curves[0]},
                tuple(nfe_to_reach(c, quality) for c in curves),
            )
        )
    return rows


def format_table(rows: Sequence[Row], nfes: Sequence[int]) -> str:
    """A plain-text table of what each method buys: steps, S, sliced W2 at ``nfes`` (mean ± std) and
    the NFE to reach the quality of each seed (its cost in CPU seconds: ``format_costs``)."""
    head = f"{'method':28s} {'steps':>5s} {'S':>11s}" + "".join(f"{'NFE ' + str(n):>13s}" for n in nfes)
    lines = [head + "  NFE to reach"]
    for r in rows:
        s = "-" if r.straightness is None else f"{r.straightness[0]:.2f}±{r.straightness[1]:.2f}"
        w2 = "".join(
            f"{r.sliced_w2[n][0]:7.3f}±{r.sliced_w2[n][1]:.3f}" if n in r.sliced_w2 else f"{'':13s}" for n in nfes
        )
        reach = ", ".join("-" if n is None else str(n) for n in r.nfe_to_reach)
        lines.append(f"{r.name:28s} {r.steps:5d} {s:>11s}{w2}  {reach}")
    return "\n".join(lines)


def format_costs(rows: Sequence[Row]) -> str:
    """A plain-text table of what each method costs: training CPU seconds (mean ± std over the seeds,
    teachers and pairs included) and gradient steps."""
    lines = [f"{'method':28s} {'CPU s':>9s} {'steps':>5s}"]
    lines += [f"{r.name:28s} {r.cpu_seconds[0]:5.1f}±{r.cpu_seconds[1]:3.1f} {r.steps:5d}" for r in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class FieldError:
    """A model trained from N(0, I) to a Gaussian with plans of ``ot_batch`` points: its RMS distance to
    the exact field of the coupling it was trained for (``to_exact``) and to the other closed form
    (``to_other``), both on the exact coupling's path, and its training CPU seconds."""

    ot_batch: int
    to_exact: float
    to_other: float
    cpu_seconds: float
    model: TrainedModel


def gaussian_field_errors(
    mean1: Tensor,
    cov1: Tensor,
    ot_batches: Sequence[int],
    budget: Budget = Budget(),
    seed: int = 0,
    sigma: float = 0.0,
    n: int = 2000,
) -> list[FieldError]:
    """Train at each OT batch size, from N(0, I) to N(``mean1``, ``cov1``), and measure the learned field.

    sigma = 0: OT-CFM (exact plans, ``coupled_cfm_loss``); its exact field is the OT coupling's, the other
    the independent coupling's. sigma > 0: Schrodinger-bridge CFM (plans with reg = 2 sigma^2,
    ``bridge_cfm_loss``); its exact field is the bridge's, the other the OT coupling's. Distances are
    ``gaussian_ot.field_distance`` over t in {0.1, 0.3, ..., 0.9}, ``n`` points of the exact path each.
    """
    target, sigma = Gaussian(mean1, cov1), check_positive(sigma, "sigma", allow_zero=True)
    zero = torch.zeros_like(target.mean)
    eye = torch.eye(target.dim, dtype=zero.dtype)
    optimal = GaussianCouplingField.optimal(zero, eye, mean1, cov1)
    if sigma > 0:
        exact, other, objective = (
            GaussianCouplingField.bridge(zero, eye, mean1, cov1, sigma),
            optimal,
            bridge_cfm_loss(sigma),
        )
    else:
        exact, other, objective = optimal, GaussianCouplingField.independent(zero, eye, mean1, cov1), coupled_cfm_loss
    out = []
    for ot_batch in ot_batches:
        coupling = MinibatchOTCoupling(
            StandardGaussian(target.dim), target, 2 * sigma**2, check_count(ot_batch, "ot_batches")
        )
        model, secs = _train(coupling, budget, seed, objective)
        points = lambda: torch.Generator().manual_seed(seed + 7)  # noqa: E731 - the same points for both distances
        to_exact = field_distance(model.model, exact, n=n, generator=points())
        to_other = field_distance(model.model, other, n=n, generator=points(), on=exact)
        out.append(FieldError(ot_batch, to_exact, to_other, secs, model))
    return out
