"""Command line: ``python -m fmtutor.mnist {train,sample,classifier,evaluate} --help``.

    python -m fmtutor.mnist train --arch unet --preset cpu [--pred epsilon] [--out runs/mnist-unet]
    torchrun --nproc_per_node 2 -m fmtutor.mnist train --preset quick --out runs/ddp
    python -m fmtutor.mnist sample --checkpoint runs/mnist-unet --w 3 --nfe 50 --solver euler
    python -m fmtutor.mnist classifier               # once; writes runs/mnist-classifier.pt
    python -m fmtutor.mnist evaluate --checkpoint runs/mnist-unet --n 1000 --w 3 --nfe 50
    python -m fmtutor.mnist export --name unet-cpu --checkpoint runs/mnist-unet-cpu   # store in the package
    python -m fmtutor.mnist reproduce --name judge   # retrain a stored network, compare with the stored one

The data folder is ``--data-dir``, else $FMTUTOR_MNIST_DIR, else ~/.cache/fmtutor/mnist.
Every argument, checkpoint and output path is checked before any work; an error is one line (exit
status 2 for a bad argument, 1 for a failure during the work); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from .._cli import OneLineParser, add_debug, run_command
from .._validate import check_count, check_positive, check_writable
from ..solvers import SOLVERS
from .classifier import CLASSIFIER_PATH, CLASSIFIER_PRESETS, load_classifier, train_classifier
from .data import load_mnist
from .evaluate import evaluate
from .presets import PRESETS, default_preset
from .reproduce import add_commands
from .sample import MNIST_PREDICTIONS, check_sampling, class_labels, save_grid
from .train import CHECKPOINT_NAME, check_train_args, load_run, train

__all__ = ["main", "parser"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        help="folder with the four MNIST .gz files (default: $FMTUTOR_MNIST_DIR or ~/.cache/fmtutor/mnist)",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, i.e. $OMP_NUM_THREADS)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_debug(p)


def _sampling(p: argparse.ArgumentParser, nfe: int) -> None:
    p.add_argument("--checkpoint", required=True, help="a run folder or its checkpoint.pt")
    p.add_argument("--w", type=float, default=3.0, help="guidance scale (1 = conditional, 0 = unconditional)")
    p.add_argument("--nfe", type=int, default=nfe, help="guided function evaluations")
    p.add_argument("--solver", choices=sorted(SOLVERS), default="euler")
    p.add_argument("--t-start", type=float, help="start time of the grid (default 0, or 0.01 for epsilon)")
    p.add_argument(
        "--clip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="clip the implied clean image to [-1, 1] (default: only for epsilon networks)",
    )


def parser() -> argparse.ArgumentParser:
    """The ``python -m fmtutor.mnist`` argument parser (sub-commands train, sample, classifier, evaluate)."""
    root = OneLineParser(
        prog="python -m fmtutor.mnist",
        epilog=__doc__,
        description="Flow matching on MNIST: train, sample, score.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = root.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train or resume a flow-matching network (resumes from --out)")
    p.add_argument("--arch", choices=["unet", "dit"], default="unet")
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default=None, help=f"training budget (default here: {default_preset()})"
    )
    p.add_argument("--pred", choices=MNIST_PREDICTIONS, default="velocity", help="what the network predicts")
    p.add_argument("--out", help="run folder (default runs/mnist-ARCH-PRESET[-epsilon])")
    p.add_argument("--steps", type=int, help="total steps (default: the preset's)")
    p.add_argument("--batch-size", type=int, help="global batch (default: the preset's)")
    p.add_argument("--lr", type=float, help="learning rate (default: the preset's)")
    p.add_argument("--no-grid", action="store_true", help="skip the sample grid written after training")
    _common(p)
    p = sub.add_parser("sample", help="write a grid of generated digits (one row per digit) as PNG")
    _sampling(p, nfe=50)
    p.add_argument("--per-class", type=int, default=10, help="samples per digit (columns)")
    p.add_argument("--out", help="PNG path (default: beside the checkpoint)")
    _common(p)
    p = sub.add_parser("classifier", help="train the independent scoring classifier (once)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{CLASSIFIER_PRESETS['quick']['steps']} steps of a "
        f"narrower net instead of {CLASSIFIER_PRESETS['full']['steps']} (for CI)",
    )
    p.add_argument("--out", default=str(CLASSIFIER_PATH))
    p.add_argument("--retrain", action="store_true", help="train even if --out exists")
    _common(p)
    p = sub.add_parser("evaluate", help="class-conditional accuracy and Fréchet distance of samples")
    _sampling(p, nfe=50)
    p.add_argument("--classifier", default=str(CLASSIFIER_PATH))
    p.add_argument("--n", type=int, default=1000, help="samples (a multiple of 10)")
    _common(p)
    root.set_defaults(_stored=add_commands(sub, _common))  # export, reproduce (fmtutor.mnist.reproduce)
    return root


def _out(args: argparse.Namespace) -> str:
    preset = args.preset or default_preset()
    return args.out or f"runs/mnist-{args.arch}-{preset}" + ("-epsilon" if args.pred == "epsilon" else "")


def _check_common(args: argparse.Namespace) -> None:
    if args.threads is not None:
        check_count(args.threads, "--threads")
    check_count(args.seed, "--seed", minimum=0)
    if args.data_dir is not None:
        check_writable(args.data_dir, "--data-dir", directory=True)


def _check_train(args: argparse.Namespace) -> None:
    _check_common(args)
    for value, flag in ((args.steps, "--steps"), (args.batch_size, "--batch-size")):
        if value is not None:
            check_count(value, flag)
    if args.lr is not None:
        check_positive(args.lr, "--lr")
    check_train_args(
        args.arch,
        args.preset,
        args.pred,
        out=_out(args),
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )


def _train(args: argparse.Namespace) -> None:
    out = _out(args)
    try:
        run = train(
            args.arch,
            args.preset,
            args.pred,
            out=out,
            root=args.data_dir,
            progress=not args.no_progress,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
        )
    except KeyboardInterrupt:
        saved = Path(out) / CHECKPOINT_NAME
        where = (
            f"the checkpoint {saved} holds step {load_run(saved).steps}"
            if saved.exists()
            else "no checkpoint was written yet"
        )
        raise SystemExit(f"interrupted: {where}; run the same command again to continue") from None
    if int(os.environ.get("RANK", "0")) != 0:
        return
    print(
        f"{run.steps} steps, final loss {run.final_loss:.4f} (mean of the last 50), "
        f"{run.seconds:.1f} s this call; checkpoint {run.checkpoint}"
    )
    if not args.no_grid:
        gen = torch.Generator().manual_seed(args.seed)
        path = save_grid(run.sample(class_labels(100), w=3.0, nfe=20, generator=gen), Path(out) / "samples.png")
        print(f"sample grid (w = 3, 20 Euler steps): {path}")


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_sampling(args: argparse.Namespace):
    _check_common(args)
    check_sampling(args.w, args.nfe, args.solver, args.t_start)
    return load_run(args.checkpoint, device=_device())


def _check_sample(args: argparse.Namespace):
    check_count(args.per_class, "--per-class")
    run = _check_sampling(args)
    name = f"samples_w{args.w:g}_nfe{args.nfe}_{args.solver}.png"
    return run, check_writable(args.out or run.checkpoint.parent / name, "--out")


def _sample(args: argparse.Namespace, checked) -> None:
    run, out = checked
    labels = torch.arange(10).repeat_interleave(args.per_class)
    gen = torch.Generator().manual_seed(args.seed)
    images = run.sample(
        labels,
        w=args.w,
        nfe=args.nfe,
        solver=args.solver,
        t_start=args.t_start,
        clip=args.clip,
        generator=gen,
        progress=not args.no_progress,
    )
    print(save_grid(images, out, nrow=args.per_class))


def _check_classifier(args: argparse.Namespace) -> None:
    _check_common(args)
    check_writable(args.out, "--out")


def _classifier(args: argparse.Namespace) -> None:
    result = train_classifier(
        args.out,
        "quick" if args.quick else "full",
        seed=args.seed,
        root=args.data_dir,
        retrain=args.retrain,
        progress=not args.no_progress,
    )
    print(
        f"test accuracy {result.test_accuracy:.4f} after {result.steps} steps "
        f"({result.seconds:.1f} s); saved in {result.path}"
    )


def _check_evaluate(args: argparse.Namespace):
    if isinstance(args.n, bool) or args.n < 10 or args.n % 10:
        raise ValueError(f"--n must be a positive multiple of 10 (n / 10 digits of each class), got {args.n}")
    return _check_sampling(args), load_classifier(args.classifier, _device())


def _evaluate(args: argparse.Namespace, checked) -> None:
    run, classifier = checked
    test = load_mnist("test", root=args.data_dir, progress=False)
    real = load_mnist("train", root=args.data_dir, limit=args.n, progress=False)
    result = evaluate(
        run.model,
        classifier.model,
        test,
        n=args.n,
        w=args.w,
        nfe=args.nfe,
        solver=args.solver,
        prediction=run.config.prediction,
        path=run.path,
        t_start=args.t_start,
        clip=args.clip,
        real=real,
        generator=torch.Generator().manual_seed(args.seed),
        progress=not args.no_progress,
    )
    print(json.dumps({"checkpoint": str(run.checkpoint), "steps": run.steps, **asdict(result)}))


COMMANDS = {
    "train": (_check_train, lambda args, _: _train(args)),
    "sample": (_check_sample, _sample),
    "classifier": (_check_classifier, lambda args, _: _classifier(args)),
    "evaluate": (_check_evaluate, _evaluate),
}


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv``, check every argument, then run the command (errors: see the module doc)."""
    p = parser()
    args = p.parse_args(argv)
    stored = {
        name: (lambda a: None, lambda a, _, handler=handler: handler(a)) for name, handler in args._stored.items()
    }
    check, work = {**COMMANDS, **stored}[args.command]
    if args.threads and args.threads > 0:
        torch.set_num_threads(args.threads)
    run_command(p, args.debug, lambda: check(args), lambda checked: work(args, checked))
