"""Data-parallel training under torchrun matches a single process (same global batch).

    OMP_NUM_THREADS=1 FMTUTOR_MNIST_DIR=... python benchmarks/mnist_ddp.py [--preset quick] [--nproc 2]

Runs, from fresh run folders under ``runs/ddp/``,

    python -m fmtutor.mnist train --preset quick --out runs/ddp/one
    torchrun --standalone --nproc_per_node 2 -m fmtutor.mnist train --preset quick --out runs/ddp/two

(gloo on CPUs, NCCL on GPUs), then compares the two loss curves step by step, prints the largest
differences and the wall times, and writes ``runs/ddp/loss_curves.png``. Every rank draws the same
global batch and keeps its slice, so the curves agree up to floating-point round-off (the gradient
all-reduce sums in a different order), which Adam then carries forward.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from fmtutor.mnist import load_run


def run(cmd: list[str], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(
        cmd + ["--out", str(out), "--no-grid", "--no-progress"],
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
    )
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--arch", default="unet")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--folder", default="runs/ddp")
    args = p.parse_args()
    folder = Path(args.folder)
    train = ["-m", "fmtutor.mnist", "train", "--preset", args.preset, "--arch", args.arch]
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    t_one = run([sys.executable, *train], folder / "one")
    t_two = run([torchrun, "--standalone", f"--nproc_per_node={args.nproc}", *train], folder / "two")
    one, two = (torch.tensor(load_run(folder / name).losses) for name in ("one", "two"))
    diff = (one - two).abs()
    print(
        f"{len(one)} steps; wall time: 1 process {t_one:.0f} s, {args.nproc} processes {t_two:.0f} s "
        f"(including start-up and data loading)"
    )
    print(
        f"largest |loss difference| {diff.max():.2e} (step {int(diff.argmax()) + 1}); largest relative "
        f"{(diff / one.abs()).max():.2e}; first 10 steps {diff[:10].max():.2e}; "
        f"mean loss over the last 50 steps: {one[-50:].mean():.4f} vs {two[-50:].mean():.4f}"
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    a.plot(one, label="1 process", lw=2)
    a.plot(two, "--", label=f"{args.nproc} processes (DDP, gloo)", lw=1)
    a.set(xlabel="step", ylabel="flow-matching loss", title=f"preset {args.preset}, same global batch")
    a.legend()
    b.semilogy(diff.clamp(min=1e-12))
    b.set(xlabel="step", ylabel="|difference| (1e-12: identical)", title="difference between the curves")
    fig.tight_layout()
    fig.savefig(folder / "loss_curves.png", dpi=120)
    print(f"figure: {folder / 'loss_curves.png'}")


if __name__ == "__main__":
    main()
