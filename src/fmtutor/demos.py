"""Command line: train diffusion and/or flow matching on 2D data and write the comparison figures.

    python -m fmtutor.demos comparison --train-steps 8000 --batch-size 128 --n-samples 1000
    python -m fmtutor.demos diffusion --data moons
    python -m fmtutor.demos flow-matching --out figures/

Writes PNG figures (samples, trajectories, snapshots, vector fields, quality against NFE) and an
animated GIF of the generation process (unless ``--no-gif``) into ``--out``, and prints the sliced W2
of each sampler. Both methods share the network, training points, steps, batch size and noise.
Every argument and ``--out`` are checked before any training; an error is one line (exit status 2 for
a bad argument, 1 for a failure during the work); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from . import plots  # noqa: E402
from .generators import SAMPLERS, TrainedModel, exact_model  # noqa: E402
from ._cli import OneLineParser, add_debug, run_command  # noqa: E402
from ._validate import check_count, check_positive, check_real, check_writable  # noqa: E402
from .distributions import GaussianMixture  # noqa: E402
from .metrics import noise_floor  # noqa: E402
from .quality import sliced_w2_vs_nfe  # noqa: E402
from .toy_data import DATASETS, get_dataset  # noqa: E402
from .train2d import train_2d  # noqa: E402

__all__ = ["main", "parse_args"]

MAIN_SAMPLER = {"flow-matching": "euler", "diffusion": "ancestral"}
LABEL = {"flow-matching": "flow matching", "diffusion": "diffusion"}


def _parser() -> OneLineParser:
    p = OneLineParser(
        prog="python -m fmtutor.demos",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("demo", choices=["comparison", "diffusion", "flow-matching"], help="what to train and draw")
    p.add_argument("--data", default="three-clusters", choices=sorted(DATASETS), help="2D data set")
    p.add_argument(
        "--train-steps", type=int, default=8000, help="Adam steps (8000 of 128: 200 passes over 5000 points)"
    )
    p.add_argument("--batch-size", type=int, default=128, help="training batch size")
    p.add_argument("--n-samples", type=int, default=1000, help="samples to generate and plot")
    p.add_argument("--n-train", type=int, default=5000, help="training points drawn from the data set")
    p.add_argument("--nfe", type=int, default=50, help="network evaluations per sample for the figures")
    p.add_argument(
        "--n-quality",
        type=int,
        default=5000,
        help="samples per point of the quality-against-NFE curves (fewer: a noisier metric)",
    )
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--hidden", type=int, default=128, help="width of the MLP's hidden layers (both methods)")
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="EMA decay of the weights, e.g. 0.995 (0: no EMA; the chapter uses 0.995)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument("--out", type=Path, default=Path("demo_output"), help="folder for the figures")
    p.add_argument("--no-gif", action="store_true", help="skip the animated GIF")
    add_debug(p)
    return p


def _check(args: argparse.Namespace) -> None:
    """Every argument and the output folder, before any work."""
    for name in ("train_steps", "batch_size", "n_samples", "n_train", "nfe", "n_quality", "hidden"):
        check_count(getattr(args, name), f"--{name.replace('_', '-')}")
    check_count(args.seed, "--seed", minimum=0)
    check_positive(args.lr, "--lr")
    check_real(args.ema, "--ema", 0.0, 1.0, open_high=True)
    check_writable(args.out, "--out", directory=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check ``argv``; a bad argument exits with status 2 and one line on stderr."""
    p = _parser()
    args = p.parse_args(argv)
    try:
        _check(args)
    except (ValueError, TypeError) as e:
        if args.debug:
            raise
        p.error(str(e))
    return args


def _quality(models: dict[str, TrainedModel], data, reference, seed: int) -> tuple[dict, float]:
    nfes = [2, 4, 8, 16, 32, 64, 128]
    jobs = [(kind, s, m) for kind, m in models.items() for s in SAMPLERS[kind]]
    if isinstance(data, GaussianMixture):
        jobs += [(kind, s, exact_model(kind, data)) for kind in models for s in (MAIN_SAMPLER[kind],)]
    curves = {}
    for kind, sampler, model in tqdm(jobs, desc="quality against NFE"):
        name = f"{LABEL[kind]} ({sampler}){', exact field' if not model.losses else ''}"
        curves[name] = sliced_w2_vs_nfe(model, sampler, nfes, reference, seed=seed)
    floor = float(noise_floor(data, len(reference), generator=torch.Generator().manual_seed(seed)))
    return curves, floor


def _save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def run(args: argparse.Namespace) -> dict[str, dict]:
    """Train, draw every figure into ``args.out`` and print the quality table; returns the curves (name -> NFE -> sliced W2)."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(args.seed)
    data = get_dataset(args.data)
    train_set, reference = data.sample(args.n_train, g), data.sample(args.n_samples, g)
    kinds = ["flow-matching", "diffusion"] if args.demo == "comparison" else [args.demo]
    models = {
        k: train_2d(
            train_set,
            args.train_steps,
            kind=k,
            batch_size=args.batch_size,
            seed=args.seed,
            lr=args.lr,
            hidden=args.hidden,
            ema_decay=args.ema or None,
        )
        for k in kinds
    }
    x0 = torch.randn(args.n_samples, 2, generator=g)
    paths = {
        LABEL[k]: m.sample(
            x0, args.nfe, MAIN_SAMPLER[k], generator=torch.Generator().manual_seed(args.seed), keep_path=True
        ).path
        for k, m in models.items()
    }
    args.out.mkdir(parents=True, exist_ok=True)
    _save(plots.plot_samples({"data": reference, **{k: p[-1] for k, p in paths.items()}}), args.out / "samples.png")
    _save(plots.plot_trajectories(paths), args.out / "trajectories.png")
    _save(plots.plot_snapshots(paths), args.out / "snapshots.png")
    fields = {LABEL[k] + (" (probability flow)" if k == "diffusion" else ""): m.velocity for k, m in models.items()}
    _save(plots.plot_fields(fields, [0.0, 0.25, 0.5, 0.75, 0.95]), args.out / "vector_fields.png")
    curves, floor = _quality(models, data, data.sample(args.n_quality, g), args.seed)
    _save(plots.plot_quality(curves, floor), args.out / "quality_vs_nfe.png")
    if not args.no_gif:
        print(f"wrote {plots.write_gif(paths, args.out / 'generation.gif')}")
    print(f"\nsliced W2 to {args.n_quality} data points (noise floor {floor:.3f}):")
    for name, curve in curves.items():
        print(f"  {name:42s} " + "  ".join(f"NFE {n}: {v:.3f}" for n, v in curve.items()))
    return curves


def main(argv: list[str] | None = None) -> int:
    """Parse and check ``argv``, then train and draw; errors are one line (see the module doc)."""
    args = parse_args(argv)
    run_command(_parser(), args.debug, lambda: None, lambda _: run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
