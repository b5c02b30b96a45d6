"""Training steps per second of the MNIST UNet and DiT (flow-matching loss, Adam, batch 128).

    OMP_NUM_THREADS=1 python benchmarks/mnist_speed.py [--threads 1 2] [--batch 128] [--steps 5]

For each preset's network sizes and each thread count it times ``--steps`` optimizer steps after
one warm-up step and prints wall-clock and process-CPU seconds per step. On a shared machine the
wall time depends on what else runs; the CPU time of a one-thread run is close to the wall time
that run would have on an idle core, so both are printed along with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from fmtutor.mnist import PRESETS, build_model, count_parameters


def time_steps(arch: str, kwargs: dict, batch: int, steps: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(arch, **kwargs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x1, x0 = torch.rand(batch, 1, 28, 28) * 2 - 1, torch.randn(batch, 1, 28, 28)
    t, y = torch.rand(batch), torch.randint(0, 11, (batch,))
    x_t = t[:, None, None, None] * x1 + (1 - t[:, None, None, None]) * x0

    def step() -> None:
        loss = (model(x_t, t, y) - (x1 - x0)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    wall, cpu = (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps
    return {
        "arch": arch,
        "params": count_parameters(model),
        "kwargs": kwargs,
        "batch": batch,
        "threads": threads,
        "wall_s_per_step": wall,
        "cpu_s_per_step": cpu,
        "steps_per_s": 1 / wall,
        "load_avg": os.getloadavg()[0],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--presets", nargs="+", default=["cpu", "gpu"])
    args = p.parse_args()
    for preset in args.presets:
        for arch, kwargs in PRESETS[preset].models.items():
            for threads in args.threads:
                r = time_steps(arch, kwargs, args.batch, args.steps, threads)
                print(
                    f"{preset:5s} {arch:4s} {r['params'] / 1e6:5.2f} M params  batch {r['batch']}  "
                    f"{threads} thread(s): {r['steps_per_s']:6.2f} steps/s  ({r['wall_s_per_step']:.3f} s wall, "
                    f"{r['cpu_s_per_step']:.3f} s CPU per step; load {r['load_avg']:.1f})",
                    flush=True,
                )
                print(json.dumps({"preset": preset, **r}), flush=True)


if __name__ == "__main__":
    main()
