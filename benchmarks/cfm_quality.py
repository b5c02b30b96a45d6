"""How fast conditional flow matching reaches the exact field's sample quality on 8 Gaussians.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cfm_quality.py [--steps 2000] [--every 250]

Trains ``train2d.train_2d`` (MLP 128 x 3, batch 512, Adam 3e-3, EMA 0.995, seed 0) on one CPU thread.
Every ``--every`` steps the EMA model draws 20,000 samples with Euler at NFE 32 from fixed noise,
compared by sliced W2 (fixed projections) with 20,000 fresh data points; the exact marginal field
(``generators.exact_model``) is measured on the same noise, points and projections. Evaluation time is
not counted as training time. Target: ratio learned / exact <= 1.5 within 60 s of training.
The noise floor (data against fresh data, 20,000 points each) is printed beside the figures: the
exact field sits at it, so ratios near 1 are within sampling noise.
"""

from __future__ import annotations

import argparse
import time

import torch

from fmtutor.generators import TrainedModel, exact_model
from fmtutor.metrics import noise_floor
from fmtutor.quality import sliced_w2_vs_nfe
from fmtutor.toy_data import eight_gaussians
from fmtutor.train2d import train_2d

N_EVAL, NFE, TARGET = 20_000, 32, 1.5


class Probe:
    """A Trainer callback: sliced W2 of the EMA model every call, timing itself out of training time."""

    def __init__(self, reference: torch.Tensor):
        self.reference, self.rows = reference, []
        self.eval_wall = self.eval_cpu = 0.0
        self.start_wall, self.start_cpu = time.perf_counter(), time.process_time()

    def __call__(self, trainer) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        model = TrainedModel("flow-matching", trainer.model_for_sampling)  # the EMA copy
        sw2 = sliced_w2_vs_nfe(model, "euler", [NFE], self.reference, seed=1)[NFE]
        self.eval_wall += time.perf_counter() - wall
        self.eval_cpu += time.process_time() - cpu
        self.rows.append(
            (
                trainer.step,
                time.perf_counter() - self.start_wall - self.eval_wall,
                time.process_time() - self.start_cpu - self.eval_cpu,
                sw2,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = eight_gaussians()
    reference = data.sample(N_EVAL, torch.Generator().manual_seed(2024))
    exact = sliced_w2_vs_nfe(exact_model("flow-matching", data), "euler", [NFE], reference, seed=1)[NFE]
    floors = torch.stack(
        [noise_floor(data, N_EVAL, repeats=1, generator=torch.Generator().manual_seed(s)) for s in range(10)]
    )
    probe = Probe(reference)
    trained = train_2d(data, train_steps=args.steps, callbacks=[probe], callback_every=args.every, progress=False)
    print(f"{'steps':>6s} {'wall s':>7s} {'CPU s':>7s} {'SW2':>7s} {'ratio':>6s}")
    for step, wall, cpu, sw2 in probe.rows:
        print(f"{step:6d} {wall:7.1f} {cpu:7.1f} {sw2:7.4f} {sw2 / exact:6.2f}")
    first = next(((s, w, c) for s, w, c, sw2 in probe.rows if sw2 <= TARGET * exact), None)
    step, wall, cpu, sw2 = probe.rows[-1]
    print(f"steps: {step}")
    print(f"training seconds: {wall:.1f} wall, {cpu:.1f} CPU (evaluations excluded)")
    print(f"learned SW2 at NFE {NFE} Euler: {sw2:.4f}")
    print(f"exact-field SW2 at NFE {NFE} Euler: {exact:.4f}")
    print(f"ratio: {sw2 / exact:.2f} (target <= {TARGET})")
    print(
        f"noise floor (data vs data, {N_EVAL} each, 10 draws): mean {floors.mean():.4f}, "
        f"min {floors.min():.4f}, max {floors.max():.4f}"
    )
    if first is None:
        print(f"ratio <= {TARGET}: not reached in {step} steps")
    else:
        print(
            f"ratio <= {TARGET} first at step {first[0]} after {first[1]:.1f} s wall, {first[2]:.1f} s CPU of training"
        )
    print(f"final training loss (mean of last 200 steps): {sum(trained.losses[-200:]) / 200:.3f}")


if __name__ == "__main__":
    main()
