"""Chapter 8's cost/benefit table at a chosen budget, the few-step performance question, the learned field
against the closed-form OT and Schrodinger-bridge fields between Gaussians, and the OT solvers.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/straighter_flows.py [--steps 2000] [--hidden 128]
        [--seeds 0 1 2] [--ot-batches 64 256 1024] [--n 20000] [--solvers]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/straighter_flows.py --gaussian [--steps 1000] [--hidden 64]
        [--seeds 0 1 2] [--ot-batches 1 16 64 256 512] [--sigma 1.5]

Trains on eight Gaussians from N(0, I), from each seed and with one budget, independent CFM, OT-CFM at
each ``--ot-batches`` plan size, the 2-rectified flow and its distillations to 1 and 2 Euler steps, and
measures them as chapter 6 does (``cost_benefit.measure``: sliced W2 of ``--n`` samples against ``--n``
data points at Euler NFE 1 ... 32, same noise at every NFE; straightness S on a 64-step path). Prints
the table (mean ± std over seeds, training CPU seconds including teachers) and answers: which methods
reach, with at most 4 Euler NFE, the sliced W2 that independent CFM reaches at NFE 16 (mean over seeds)?

``--gaussian`` instead trains OT-CFM from N(0, I) to chapter 8's Gaussian N((2, 1), [[3, 1.2], [1.2, 0.8]]) at
each ``--ot-batches`` plan size (EMA 0.99) and Schrodinger-bridge CFM with ``--sigma`` at the largest, and
prints each learned field's RMS distance to the exact field (OT, or the bridge's) and to the other closed
form (independent, or OT) over t in {0.1, ..., 0.9} (``cost_benefit.gaussian_field_errors``), mean ± std
over seeds, with the distance between the closed forms themselves.

``--solvers`` instead times the exact and entropic OT solvers at batch 256, 512 and 1024 (POT's network
simplex and Sinkhorn, SciPy's assignment solver): the measurement behind ``fmtutor.couplings``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fmtutor.cost_benefit import (  # noqa: E402
    Budget,
    format_costs,
    format_table,
    gaussian_field_errors,
    measure,
    summarize,
    train_methods,
)
from fmtutor.couplings import squared_distances  # noqa: E402
from fmtutor.gaussian_ot import GaussianCouplingField, field_distance  # noqa: E402
from fmtutor.metrics import noise_floor  # noqa: E402
from fmtutor.toy_data import eight_gaussians  # noqa: E402

NFES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--steps", type=int, default=None, help="default: 2000, or 1000 with --gaussian")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, default=None, help="default: 128, or 64 with --gaussian")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--n-pairs", type=int, default=16384, help="reflow pairs")
    p.add_argument("--pair-steps", type=int, default=32, help="Heun steps making each reflow pair")
    p.add_argument(
        "--ot-batches",
        type=int,
        nargs="+",
        default=None,
        help="default: 64 256 1024, or 1 16 64 256 512 with --gaussian",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n", type=int, default=20_000, help="samples per quality measurement")
    p.add_argument("--solvers", action="store_true", help="time the OT solvers instead")
    p.add_argument("--gaussian", action="store_true", help="learned fields against the closed forms instead")
    p.add_argument("--sigma", type=float, default=1.5, help="the bridge's noise for SB-CFM (--gaussian)")
    args = p.parse_args()
    mode = "gaussian" if args.gaussian else "table"  # each mode's defaults where the command line leaves them
    for name, default in {
        "steps": (2000, 1000),
        "hidden": (128, 64),
        "ot_batches": ([64, 256, 1024], GAUSS_BATCHES),
    }.items():
        if getattr(args, name) is None:
            setattr(args, name, default[mode == "gaussian"])
    return args


GAUSS_BATCHES = [1, 16, 64, 256, 512]
M1, S1 = torch.tensor([2.0, 1.0]), torch.tensor([[3.0, 1.2], [1.2, 0.8]])


def _mean_std(values: list[float]) -> str:
    v = torch.tensor(values, dtype=torch.float64)
    return f"{v.mean().item():.3f}±{(v.std().item() if len(v) > 1 else 0.0):.3f}"


def gaussian_ground_truth(args: argparse.Namespace) -> None:
    budget = Budget(steps=args.steps, batch_size=args.batch_size, hidden=args.hidden, lr=args.lr, ema_decay=0.99)
    zero, eye = torch.zeros(2), torch.eye(2)
    fields = {
        "independent": GaussianCouplingField.independent(zero, eye, M1, S1),
        "OT": GaussianCouplingField.optimal(zero, eye, M1, S1),
        "bridge": GaussianCouplingField.bridge(zero, eye, M1, S1, args.sigma),
    }
    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    print(
        f"closed forms: independent to OT on the OT path {field_distance(fields['independent'], fields['OT'], generator=g()):.3f}; "
        f"OT to the bridge (sigma {args.sigma}) on the bridge's path {field_distance(fields['OT'], fields['bridge'], generator=g()):.3f}"
    )
    print(f"budget {budget}, seeds {args.seeds}\n")
    runs, start = [], time.perf_counter()
    for seed in args.seeds:
        ot = gaussian_field_errors(M1, S1, args.ot_batches, budget, seed=seed)
        sb = gaussian_field_errors(M1, S1, [max(args.ot_batches)], budget, seed=seed, sigma=args.sigma)
        runs.append(ot + sb)
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s wall)", flush=True)
    names = [f"OT-CFM, plans of {n}" for n in args.ot_batches] + [
        f"SB-CFM sigma {args.sigma}, plans of {max(args.ot_batches)}"
    ]
    print(f"\n{'model':32s} {'to its exact field':>19s} {'to the other':>13s} {'CPU s':>11s}")
    for i, name in enumerate(names):
        col = lambda key, i=i: _mean_std([getattr(run[i], key) for run in runs])  # noqa: E731
        print(f"{name:32s} {col('to_exact'):>19s} {col('to_other'):>13s} {col('cpu_seconds'):>11s}")
    print("(exact field: OT for OT-CFM, the bridge's for SB-CFM; the other: independent for OT-CFM, OT for SB-CFM)")


def _cpu_ms(fn, repeats: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1e3 * min(times)


def time_solvers() -> None:
    import ot
    from scipy.optimize import linear_sum_assignment

    print("CPU ms per plan, one thread (min of 3): noise against eight Gaussians")
    print(f"{'batch':>6s} {'POT emd':>9s} {'SciPy LSA':>10s} {'POT Sinkhorn reg 0.5':>21s}")
    g = torch.Generator().manual_seed(0)
    for n in (256, 512, 1024):
        cost = squared_distances(torch.randn(n, 2, generator=g), eight_gaussians().sample(n, g)).double().numpy()
        w = np.full(n, 1.0 / n)
        emd = _cpu_ms(lambda n=n, cost=cost: ot.emd(np.ones(n), np.ones(n), cost))
        lsa = _cpu_ms(lambda cost=cost: linear_sum_assignment(cost))
        sink = _cpu_ms(lambda w=w, cost=cost: ot.sinkhorn(w, w, cost, 0.5))
        print(f"{n:6d} {emd:9.1f} {lsa:10.1f} {sink:21.1f}", flush=True)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    if args.solvers:
        time_solvers()
        return
    if args.gaussian:
        gaussian_ground_truth(args)
        return
    eight = eight_gaussians()
    budget = Budget(
        steps=args.steps,
        batch_size=args.batch_size,
        hidden=args.hidden,
        lr=args.lr,
        n_pairs=args.n_pairs,
        pair_steps=args.pair_steps,
    )
    reference = eight.sample(args.n, torch.Generator().manual_seed(12))
    floor = float(noise_floor(eight, args.n, generator=torch.Generator().manual_seed(13)))
    x0_paths = torch.randn(2000, 2, generator=torch.Generator().manual_seed(14))
    runs, start = [], time.perf_counter()
    for seed in args.seeds:
        methods = train_methods(eight, budget, seed=seed, ot_batches=args.ot_batches, distill_steps=(1, 2))
        runs.append((methods, {name: measure(m, reference, NFES, x0_paths) for name, m in methods.items()}))
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s wall)", flush=True)
    quality = float(np.mean([measured["independent CFM"].curve[16] for _, measured in runs]))
    rows = summarize(runs, quality)
    print(f"\neight Gaussians, {args.n} samples, noise floor {floor:.3f}; budget {budget}")
    print(f"target: independent CFM's sliced W2 at Euler NFE 16 = {quality:.3f} (mean of {len(runs)} seeds)\n")
    print(format_costs(rows))
    print(format_table(rows, [1, 2, 4, 8, 16]))
    print("\nreaches the target with at most 4 Euler NFE (per seed):")
    for row in rows:
        ok = [n is not None and n <= 4 for n in row.nfe_to_reach]
        print(f"  {row.name:28s} {sum(ok)} of {len(ok)} seeds")


if __name__ == "__main__":
    main()
