"""Quality of a trained MNIST generator, scored by the independent classifier.

    OMP_NUM_THREADS=1 FMTUTOR_MNIST_DIR=... python benchmarks/mnist_quality.py --preset cpu --arch unet

Trains (or resumes, or reuses) ``runs/mnist-ARCH-PRESET[-epsilon]`` with the preset and records the
training's wall-clock and process-CPU time (or, with ``--stored NAME``, takes a network stored in the
package and trains nothing), scores with the judge stored in the package (``--classifier PATH``: a
classifier file instead, trained first if missing), then draws ``--n`` digits (n / 10 per class) at each guidance scale in ``--ws`` with
``--nfe`` steps of ``--solver`` and reports class-conditional accuracy and the Fréchet distance to
the test set (with the floor: the FD of n real training digits). Writes ``quality.json``, a sample
grid and an accuracy / FD versus w figure into the run folder.

The target: the cpu preset's UNet, trained for at most 10 minutes on one CPU thread, reaches at its
best guidance scale (1,000 samples, 50 Euler steps) a class accuracy >= 98 % and a Fréchet distance
within 1.5 times the real-digit floor. The machine is shared, so wall time is noisy; the
process CPU time of a one-thread run is what the same run takes on an idle core.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from fmtutor.mnist import evaluate, load_mnist, load_run, save_grid, train, train_classifier
from fmtutor.mnist.pretrained import load_pretrained


def train_timed(args: argparse.Namespace, out: Path) -> dict:
    """Train (resuming if the run folder has a checkpoint) and accumulate the time spent in timing.json."""
    timing_file = out / "timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.exists() else {"wall_s": 0.0, "cpu_s": 0.0}
    wall, cpu = time.perf_counter(), time.process_time()
    run = train(
        args.arch,
        args.preset,
        args.pred,
        out=out,
        progress=not args.no_progress,
        **({"steps": args.steps} if args.steps else {}),
    )
    timing["wall_s"] += time.perf_counter() - wall
    timing["cpu_s"] += time.process_time() - cpu
    timing.update(steps=run.steps, threads=torch.get_num_threads(), load_avg=os.getloadavg()[0])
    out.mkdir(parents=True, exist_ok=True)
    timing_file.write_text(json.dumps(timing, indent=1))
    return timing


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [r["w"] for r in results]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.plot(ws, [100 * r["accuracy"] for r in results], "o-")
    a.set(xlabel="guidance scale w", ylabel="class-conditional accuracy (%)")
    b.plot(ws, [r["frechet"] for r in results], "o-", label="samples")
    b.axhline(results[0]["reference_frechet"], color="gray", ls="--", label="real digits (floor)")
    b.set(xlabel="guidance scale w", ylabel="Fréchet distance (classifier features)")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="cpu")
    p.add_argument("--arch", default="unet")
    p.add_argument("--pred", default="velocity")
    p.add_argument("--steps", type=int, help="override the preset's steps")
    p.add_argument("--out", help="run folder (default runs/mnist-ARCH-PRESET[-epsilon])")
    p.add_argument("--n", type=int, help="samples per evaluation (default: the preset's)")
    p.add_argument(
        "--ws", type=float, nargs="*", default=[3.0], help="guidance scales to score (none: only train and time)"
    )
    p.add_argument("--nfe", type=int, default=50)
    p.add_argument("--solver", default="euler")
    p.add_argument("--classifier", help="a classifier file (default: the judge stored in the package)")
    p.add_argument("--stored", help="evaluate this stored network (e.g. unet-cpu) instead of training")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-grid", action="store_true", help="skip the sample grid (100 more digits)")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    default = f"runs/stored-{args.stored}" if args.stored else f"runs/mnist-{args.arch}-{args.preset}"
    out = Path(args.out or default + ("-epsilon" if args.pred == "epsilon" and not args.stored else ""))
    if args.stored:
        run, timing = load_pretrained(args.stored), {"stored": args.stored}
        out.mkdir(parents=True, exist_ok=True)
    else:
        timing = train_timed(args, out)
        print(
            f"training: {timing['steps']} steps, {timing['wall_s']:.0f} s wall, {timing['cpu_s']:.0f} s CPU "
            f"({timing['threads']} thread(s), load average {timing['load_avg']:.1f})",
            flush=True,
        )
        run = load_run(out)
    judge = train_classifier(args.classifier, "full", progress=False) if args.classifier else load_pretrained("judge")
    n = args.n or {"quick": 200, "cpu": 1000}.get(run.config.preset, 10000)
    test, real = load_mnist("test", progress=False), load_mnist("train", limit=n, progress=False)
    results = []
    for w in args.ws:
        cpu = time.process_time()
        r = evaluate(
            run.model,
            judge.model,
            test,
            n=n,
            w=w,
            nfe=args.nfe,
            solver=args.solver,
            prediction=run.config.prediction,
            path=run.path,
            real=real,
            generator=torch.Generator().manual_seed(0),
        )
        results.append({**asdict(r), "sampling_cpu_s": time.process_time() - cpu})
        print(
            f"w = {w:g}: accuracy {100 * r.accuracy:.1f} %, Fréchet distance {r.frechet:.2f} "
            f"(real-digit floor {r.reference_frechet:.2f}), n = {n}, {args.nfe} {args.solver} NFE, "
            f"sampling {r.seconds:.0f} s wall",
            flush=True,
        )
    if args.ws and not args.no_grid:
        grid = run.sample(
            torch.arange(10).repeat_interleave(10),
            w=args.ws[0],
            nfe=args.nfe,
            solver=args.solver,
            generator=torch.Generator().manual_seed(1),
        )
        save_grid(grid, out / f"quality_grid_w{args.ws[0]:g}.png")
    if len(results) > 1:
        plot(results, out / "quality_vs_w.png")
    summary = {
        "run": str(out),
        "classifier_test_accuracy": judge.test_accuracy,
        "training": timing,
        "config": asdict(run.config),
        "results": results,
    }
    (out / "quality.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("run", "classifier_test_accuracy")}))


if __name__ == "__main__":
    main()
