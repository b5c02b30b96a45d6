"""The CI budget: time every step the chapter runs with the ``quick`` preset, from a clean folder.

    OMP_NUM_THREADS=1 FMTUTOR_MNIST_DIR=... python benchmarks/mnist_quick.py [--arch unet] [--pred velocity]

Steps: load the data; train the quick classifier; train the quick generator; draw a 10 x 10 grid at
w = 3 (20 Euler steps); score 200 digits at w = 1 and w = 3. Prints wall and process-CPU seconds of
each step and the scores. Everything goes to a temporary folder, so each call starts from scratch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from fmtutor.mnist import PRESETS, class_labels, evaluate, load_mnist, save_grid, train, train_classifier


class Clock:
    def __init__(self):
        self.rows, self.start = [], (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        last = self.rows[-1][1] if self.rows else self.start
        self.rows.append((name, now, now[0] - last[0], now[1] - last[1]))
        print(f"{name:28s} {now[0] - last[0]:7.1f} s wall {now[1] - last[1]:7.1f} s CPU", flush=True)

    def total(self) -> None:
        wall, cpu = (sum(r[i] for r in self.rows) for i in (2, 3))
        print(f"{'total':28s} {wall:7.1f} s wall {cpu:7.1f} s CPU", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="unet")
    p.add_argument("--pred", default="velocity")
    p.add_argument("--keep", help="keep the outputs in this folder instead of a temporary one")
    args = p.parse_args()
    torch.set_num_threads(1)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="mnist-quick-"))
    clock = Clock()
    train_set, test = load_mnist("train", progress=False), load_mnist("test", progress=False)
    clock.lap("load data")
    judge = train_classifier(folder / "classifier.pt", "quick", progress=False)
    clock.lap(f"classifier ({100 * judge.test_accuracy:.2f} %)")
    run = train(args.arch, "quick", args.pred, out=folder / "run", data=train_set, progress=False)
    clock.lap(f"{args.arch} {PRESETS['quick'].steps} steps")
    grid = run.sample(class_labels(100), w=3.0, nfe=20, generator=torch.Generator().manual_seed(0))
    save_grid(grid, folder / "grid.png")
    clock.lap("10 x 10 grid, 20 NFE")
    for w in (1.0, 3.0):
        r = evaluate(
            run.model,
            judge.model,
            test,
            n=200,
            w=w,
            nfe=20,
            prediction=args.pred,
            path=run.path,
            real=train_set,
            generator=torch.Generator().manual_seed(0),
        )
        clock.lap(f"score w={w:g}: acc {100 * r.accuracy:.0f} % FD {r.frechet:.0f} (floor {r.reference_frechet:.0f})")
    clock.total()
    print(f"outputs in {folder}")


if __name__ == "__main__":
    main()
