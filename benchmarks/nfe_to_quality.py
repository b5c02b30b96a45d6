"""How many network evaluations (NFE) each sampler needs to reach a fixed sample quality.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nfe_to_quality.py [--data eight-gaussians] [--n 20000]
        [--steps 4000] [--exact-only | --learned-only] [--seed 0] [--json out.json]

Flow matching (Euler, Heun) against diffusion (DDPM ancestral, DDIM, and the probability-flow ODE with
Euler and Heun), trained by ``train2d.train_2d`` with the same MLP (hidden 128, depth 3), the same
training points, steps, batches, learning rate, seed and EMA, and the same samplers run on the
*exact* fields of the mixture (``generators.exact_model``): the limit of perfect training.

For each sampler and NFE in 1, 2, 3, 4, 6, 8, ..., 128 (Heun: even NFE only), ``--n`` samples from
fixed noise are compared with ``--n`` data points by sliced W2 (fixed projections), and the table gives
the smallest NFE from which on the curve stays below

  * ``--factor`` x the noise floor (data against fresh data, mean of 3 draws of ``--n`` points),
  * the fixed value ``--absolute``,
  * 1.1 x the sampler's own plateau, the median of its values at the three largest NFE (where more
    evaluations stop helping),

and, for the deterministic samplers, the NFE from which the RMS distance of each sample to where the
same noise point lands under a fine solve (Heun, 1024 NFE, of the same model's ODE) stays below
``--solver-tol``: the discretisation error alone, free of the metric's sampling noise.
"-" means "not within the NFE range". Wall times depend on the machine's load (read the figures,
not the seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from fmtutor.distributions import GaussianMixture  # noqa: E402
from fmtutor.generators import SAMPLERS, TrainedModel, exact_model  # noqa: E402
from fmtutor.metrics import noise_floor  # noqa: E402
from fmtutor.quality import nfe_to_reach, plateau, sliced_w2_vs_nfe, solver_error_vs_nfe  # noqa: E402
from fmtutor.toy_data import get_dataset  # noqa: E402
from fmtutor.train2d import train_2d  # noqa: E402

NFES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
FINE = {"flow-matching": "heun", "diffusion": "pf-heun"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--data", default="eight-gaussians", choices=["eight-gaussians", "three-clusters"])
    p.add_argument("--n", type=int, default=20_000, help="samples per set (and data points in the reference)")
    p.add_argument("--n-solver", type=int, default=4000, help="particles for the solver-error column")
    p.add_argument("--n-train", type=int, default=8192, help="training points")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=4000, help="training steps per model (rounded to whole epochs)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ema", type=float, default=0.995, help="EMA decay of the weights (0: off)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--factor", type=float, default=1.5, help="target: this many times the noise floor")
    p.add_argument("--absolute", type=float, default=0.2, help="target: this sliced W2")
    p.add_argument("--solver-tol", type=float, default=0.1, help="target RMS distance to the fine solve")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--exact-only", action="store_true", help="skip training; exact fields only")
    p.add_argument("--learned-only", action="store_true", help="skip the exact fields")
    p.add_argument("--json", default=None, help="also write every curve to this JSON file")
    return p.parse_args()


def _nfes(sampler: str) -> list[int]:
    return [n for n in NFES if not (sampler.endswith("heun") and n % 2)]


def _models(args: argparse.Namespace, data: GaussianMixture) -> dict[str, TrainedModel]:
    models = {} if args.learned_only else {f"{kind}, exact": exact_model(kind, data) for kind in SAMPLERS}
    if args.exact_only:
        return models
    train_set = data.sample(args.n_train, torch.Generator().manual_seed(args.seed + 10))
    for kind in SAMPLERS:
        m = train_2d(
            train_set,
            args.steps,
            kind=kind,
            batch_size=args.batch_size,
            seed=args.seed,
            lr=args.lr,
            hidden=args.hidden,
            ema_decay=args.ema or None,
            progress=False,
        )
        print(
            f"trained {kind}: {len(m.losses)} steps in {m.seconds:.0f} s, "
            f"final loss (mean of last 200) {sum(m.losses[-200:]) / len(m.losses[-200:]):.3g}",
            flush=True,
        )
        models[f"{kind}, learned"] = m
    return dict(sorted(models.items(), key=lambda kv: kv[0].endswith("exact")))


def _fmt(nfe: int | None) -> str:
    return "-" if nfe is None else str(nfe)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = get_dataset(args.data)
    reference = data.sample(args.n, torch.Generator().manual_seed(args.seed + 1))
    floor = float(noise_floor(data, args.n, repeats=3, generator=torch.Generator().manual_seed(args.seed + 2)))
    noise = torch.randn(args.n_solver, 2, generator=torch.Generator().manual_seed(args.seed + 3))
    models = _models(args, data)
    rows, curves = [], {}
    for name, model in models.items():
        limit = model.sample(noise, 1024, FINE[model.kind]).final
        for sampler in SAMPLERS[model.kind]:
            curve = sliced_w2_vs_nfe(model, sampler, _nfes(sampler), reference, seed=args.seed)
            err = None if sampler == "ancestral" else solver_error_vs_nfe(model, sampler, _nfes(sampler), noise, limit)
            level = plateau(curve)
            rows.append(
                (
                    f"{name} / {sampler}",
                    nfe_to_reach(curve, args.factor * floor),
                    nfe_to_reach(curve, args.absolute),
                    nfe_to_reach(curve, 1.1 * level),
                    None if err is None else nfe_to_reach(err, args.solver_tol),
                    curve[8] if 8 in curve else float("nan"),
                    level,
                )
            )
            curves[f"{name} / {sampler}"] = {"sliced_w2": curve, "solver_error": err}
            print(f"  {name} / {sampler}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    print(
        f"\n{args.data}, {args.n} samples; noise floor {floor:.3f}, so {args.factor} x floor = {args.factor * floor:.3f}"
    )
    print(
        f"NFE needed to stay below: [a] {args.factor} x floor, [b] SW2 {args.absolute}, [c] 1.1 x own plateau, "
        f"[d] RMS solver error {args.solver_tol}"
    )
    print(f"{'model / sampler':34s} {'[a]':>5s} {'[b]':>5s} {'[c]':>5s} {'[d]':>5s} {'SW2@8':>7s} {'plateau':>8s}")
    for label, a, b, c, d, at8, level in rows:
        print(f"{label:34s} {_fmt(a):>5s} {_fmt(b):>5s} {_fmt(c):>5s} {_fmt(d):>5s} {at8:7.3f} {level:8.3f}")
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "floor": floor, "curves": curves}, f, indent=1)


if __name__ == "__main__":
    main()
