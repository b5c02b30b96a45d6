"""The ceiling for learned models: sample quality of the *exact* marginal field against NFE.

Data: 8 Gaussians (radius 4, std 0.3). The exact velocity of its marginal path (fmtutor.MarginalField)
is integrated from N(0, I) noise with Euler and Heun for NFE = 1, 2, 4, ..., 128 (Heun spends 2 NFE a
step, so it starts at NFE 2). Each sample set is compared with fresh data by sliced W2 (same number
of points, the same random projections throughout), and beside it the noise floor: data against
fresh data. A learned field can at best match these numbers; the floor is where "exact" stops
meaning anything at this sample size. The last columns isolate the discretisation error: the RMS
distance of each sample to where the same noise point lands under a converged solve (RK4, 256 NFE).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/limit.py [--n 20000] [--schedule linear] [--data eight-gaussians]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from fmtutor import GaussianPath, MarginalField, get_dataset, sample_ode, sliced_wasserstein  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="samples per set")
    parser.add_argument("--schedule", default="linear")
    parser.add_argument("--data", default="eight-gaussians", choices=["eight-gaussians", "three-clusters"])
    parser.add_argument("--max-nfe", type=int, default=128)
    parser.add_argument("--projections", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)

    data = get_dataset(args.data)
    field = MarginalField(data, GaussianPath(args.schedule))
    t_end = field.path.schedule.t_max
    reference = data.sample(args.n, torch.Generator().manual_seed(1))
    noise = torch.randn(args.n, 2, generator=torch.Generator().manual_seed(0))

    def sw(x: torch.Tensor) -> float:  # the same projections for every row
        return sliced_wasserstein(x, reference, args.projections, generator=torch.Generator().manual_seed(0)).item()

    floors = torch.tensor([sw(data.sample(args.n, torch.Generator().manual_seed(seed))) for seed in range(2, 12)])
    floor = floors.mean().item()
    converged = sample_ode(field, noise, n_steps=64, method="rk4", t_end=t_end).final  # 256 NFE

    def rms(x: torch.Tensor) -> float:  # discretisation error alone: same noise points, no sampling noise
        return (x - converged).pow(2).sum(1).mean().sqrt().item()

    print(
        f"exact marginal field of {args.data} under the {args.schedule} path, t from 0 to {t_end:g}; "
        f"sliced W2 ({args.projections} projections, fixed) of {args.n} samples against {args.n} data points"
    )
    print(
        f"noise floor, fresh data vs data over 10 draws: mean {floor:.4f}, sd {floors.std().item():.4f}, "
        f"min {floors.min().item():.4f}, max {floors.max().item():.4f}"
    )
    print("(an exact sampler is one more such draw: below about mean + 2 sd, sliced W2 cannot tell it from data)")
    print(f"converged solution (RK4, 256 NFE) vs data: {sw(converged):.4f}")
    print(f"{'NFE':>5}{'SW2 Euler':>11}{'SW2 Heun':>11}{'floor':>8}   {'RMS to converged: Euler':>24}{'Heun':>9}")
    start, nfe = time.perf_counter(), 1
    while nfe <= args.max_nfe:
        quality, error = [], []
        for method, per_step in (("euler", 1), ("heun", 2)):
            if nfe % per_step:
                quality.append(f"{'-':>11}")
                error.append("-")
                continue
            x = sample_ode(field, noise, n_steps=nfe // per_step, method=method, t_end=t_end).final
            quality.append(f"{sw(x):>11.4f}")
            error.append(f"{rms(x):.2e}")
        print(f"{nfe:>5}{''.join(quality)}{floor:>8.4f}   {error[0]:>24}{error[1]:>9}", flush=True)
        nfe *= 2
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
