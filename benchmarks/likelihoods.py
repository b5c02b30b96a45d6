"""Likelihood figures: the exact field against the closed form, solver orders, Hutchinson's estimator.

    OMP_NUM_THREADS=1 FMTUTOR_MNIST_DIR=... python benchmarks/likelihoods.py [--n 10000] [--skip-mnist]

1. The exact marginal field of eight Gaussians (linear path, float64) integrated from 10,000 data points
   back to noise with the exact divergence: mean error and mean |error| of log p_1 against the mixture's
   closed form, at NFE 4 ... 256 for Euler, Heun and RK4, the measured order, and the smallest NFE of
   each solver whose mean |error| is below 0.01 nats (and stays below it at every larger NFE).
2. Hutchinson with one Rademacher probe in 2-D: at x ~ p_t for t = 0.25, 0.5, 0.9, the bias of a
   one-probe estimate of div u_t (mean over 10,000 points of estimate - exact, with its standard error),
   the standard deviation of one probe, and the CPU-time ratio one probe / exact divergence; then the
   whole log-likelihood (RK4, NFE 64) with one probe against the exact divergence.
3. The same on MNIST with chapter 7's quick UNet (book/runs/mnist-quick-unet, trained there if missing,
   unconditional label): 8 test digits at t = 0.5, exact divergence (784 backward passes) against
   256 one-probe estimates per digit.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from fmtutor import GaussianPath, MarginalField, time_grid
from fmtutor.likelihood import divergence, draw_probes, hutchinson_divergence, log_likelihood
from fmtutor.solvers import NFE_PER_STEP
from fmtutor.toy_data import eight_gaussians

F64 = torch.float64
NFES = (4, 8, 16, 32, 64, 128, 256)


def cpu_seconds(fn, repeat: int = 3) -> float:
    """The smallest process-CPU time of ``repeat`` calls of ``fn``."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def exact_field_table(n: int) -> None:
    mixture = eight_gaussians()
    field = MarginalField(mixture, GaussianPath("linear"))
    x = mixture.sample(n, torch.Generator().manual_seed(0)).to(F64)
    truth = mixture.log_density(x)
    print(f"1. exact field, eight Gaussians, {n:,} points: log p_1 by the backward integration - closed form")
    print(f"{'solver':7s}{'NFE':>6s}{'mean err':>12s}{'mean |err|':>12s}{'order':>7s}{'CPU s':>8s}")
    for method in ("euler", "heun", "rk4"):
        errors = {}
        for nfe in NFES:
            steps = nfe // NFE_PER_STEP[method]
            t0 = time.process_time()
            err = log_likelihood(field, x, time_grid(steps, 1.0, 0.0, dtype=F64), method=method).log_p - truth
            seconds = time.process_time() - t0
            errors[nfe] = err.abs().mean().item()
            order = "" if nfe == NFES[0] else f"{math.log2(errors[nfe // 2] / errors[nfe]):7.2f}"
            print(f"{method:7s}{nfe:6d}{err.mean().item():12.2e}{errors[nfe]:12.2e}{order:>7s}{seconds:8.1f}")
        below = [nfe for nfe in NFES if all(errors[m] < 0.01 for m in NFES if m >= nfe)]
        print(f"{method}: mean |error| < 0.01 nats from NFE {below[0] if below else '-'} on\n")


def hutchinson_2d(n: int) -> None:
    mixture = eight_gaussians()
    field = MarginalField(mixture, GaussianPath("linear"))
    x1 = mixture.sample(n, torch.Generator().manual_seed(1)).to(F64)
    print("2. Hutchinson, one Rademacher probe, 2-D (exact eight-Gaussian field)")
    print(f"{'t':>5s}{'bias':>11s}{'+- s.e.':>10s}{'sd 1 probe':>12s}{'mean |div|':>12s}{'CPU one / exact':>17s}")
    for t in (0.25, 0.5, 0.9):
        xt = field.path.sample(x1, t, generator=torch.Generator().manual_seed(2)).x_t
        exact = divergence(field, xt, t)
        probe = draw_probes(xt, 1, "rademacher", torch.Generator().manual_seed(3))
        gap = hutchinson_divergence(field, xt, t, probe) - exact
        one = cpu_seconds(lambda xt=xt, t=t, probe=probe: hutchinson_divergence(field, xt, t, probe))
        ratio = one / cpu_seconds(lambda xt=xt, t=t: divergence(field, xt, t))
        print(
            f"{t:5.2f}{gap.mean().item():11.4f}{gap.std().item() / math.sqrt(n):10.4f}{gap.std().item():12.3f}"
            f"{exact.abs().mean().item():12.3f}{ratio:17.2f}"
        )
    grid = time_grid(16, 1.0, 0.0, dtype=F64)
    exact = log_likelihood(field, x1, grid, method="rk4")
    t0 = time.process_time()
    noisy = log_likelihood(
        field, x1, grid, method="rk4", estimator="rademacher", generator=torch.Generator().manual_seed(4)
    )
    one = time.process_time() - t0
    t0 = time.process_time()
    log_likelihood(field, x1, grid, method="rk4")
    full = time.process_time() - t0
    gap = noisy.log_p - exact.log_p
    print(
        f"log p_1 (RK4, NFE 64), one probe - exact: bias {gap.mean().item():.4f} "
        f"+- {gap.std().item() / math.sqrt(n):.4f}"
        f" nats, sd per point {gap.std().item():.3f}, CPU one probe / exact {one / full:.2f}\n"
    )


def hutchinson_mnist(n_digits: int = 8, n_probes: int = 256) -> None:
    from fmtutor.mnist import NULL_LABEL, load_mnist, train

    torch.set_default_dtype(torch.float32)
    run = train("unet", "quick", out=Path("book/runs/mnist-quick-unet"), progress=False)
    test = load_mnist("test")
    x, t = test.images[:n_digits], torch.full((n_digits,), 0.5)
    x = 0.5 * x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))  # a point of p_0.5

    def field(z, s):
        return run.model(z, s, torch.full((z.shape[0],), NULL_LABEL))

    t0 = time.process_time()
    exact = divergence(field, x, t)
    exact_cpu = time.process_time() - t0
    probes = draw_probes(x, n_probes, "rademacher", torch.Generator().manual_seed(6))
    t0 = time.process_time()
    ones = torch.stack([hutchinson_divergence(field, x, t, p[None]) for p in probes])
    one_cpu = (time.process_time() - t0) / n_probes
    gap = ones - exact
    print(f"3. Hutchinson, one Rademacher probe, MNIST (quick UNet, unconditional), {n_digits} digits at t = 0.5")
    print(
        f"   exact divergence (784 backward passes): mean {exact.mean().item():.1f}, "
        f"CPU {exact_cpu / n_digits:.3f} s per digit"
    )
    print(
        f"   one probe: bias {gap.mean().item():.2f} +- {gap.std().item() / math.sqrt(gap.numel()):.2f} "
        f"(over {n_probes} probes x {n_digits} digits), sd of one probe {gap.std().item():.1f}"
    )
    print(f"   CPU one probe / exact: {one_cpu / exact_cpu:.4f} (exact / one probe: {exact_cpu / one_cpu:.0f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000, help="points for the 2-D figures")
    p.add_argument("--skip-mnist", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    exact_field_table(args.n)
    hutchinson_2d(args.n)
    if not args.skip_mnist:
        hutchinson_mnist()


if __name__ == "__main__":
    main()
