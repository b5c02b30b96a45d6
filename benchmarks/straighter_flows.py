"""Chapter 8's cost/benefit table at a chosen budget, the few-step performance question, and the OT solvers.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/straighter_flows.py [--steps 2000] [--hidden 128]
        [--seeds 0 1 2] [--ot-batches 64 256 1024] [--n 20000] [--solvers]

Trains on eight Gaussians from N(0, I), from each seed and with one budget, independent CFM, OT-CFM at
each ``--ot-batches`` plan size, the 2-rectified flow and its distillations to 1 and 2 Euler steps, and
measures them as chapter 6 does (``cost_benefit.measure``: sliced W2 of ``--n`` samples against ``--n``
data points at Euler NFE 1 ... 32, same noise at every NFE; straightness S on a 64-step path). Prints
the table (mean ± std over seeds, training CPU seconds including teachers) and answers: which methods
reach, with at most 4 Euler NFE, the sliced W2 that independent CFM reaches at NFE 16 (mean over seeds)?

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

from fmtutor.cost_benefit import Budget, format_costs, format_table, measure, summarize, train_methods  # noqa: E402
from fmtutor.couplings import squared_distances  # noqa: E402
from fmtutor.metrics import noise_floor  # noqa: E402
from fmtutor.toy_data import eight_gaussians  # noqa: E402

NFES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--n-pairs", type=int, default=16384, help="reflow pairs")
    p.add_argument("--pair-steps", type=int, default=32, help="Heun steps making each reflow pair")
    p.add_argument("--ot-batches", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n", type=int, default=20_000, help="samples per quality measurement")
    p.add_argument("--solvers", action="store_true", help="time the OT solvers instead")
    return p.parse_args()


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
