"""Training-step throughput of fmtutor's cfm_loss against torchcfm and Meta's flow_matching.

Every library trains the same network (fmtutor's MLPField, same initial weights) with Adam on
batches of 8-Gaussians data, on one CPU thread. Only the loss construction differs:

    fmtutor        cfm_loss(model, x1, GaussianPath("linear"), generator=g)
    torchcfm       ConditionalFlowMatcher(sigma=0).sample_location_and_conditional_flow(x0, x1)
    flow_matching  AffineProbPath(CondOTScheduler()).sample(x_0=x0, x_1=x1, t=t)

The libraries run in interleaved rounds (their order rotates each round) so that a machine whose load
changes during the run affects all alike; the script prints the median steps/s of each and the ratios.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/peers.py [--batch 256] [--steps 50] [--rounds 30]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/peers.py --loss-only --steps 500   # data + loss alone

torchcfm and flow_matching are not dependencies of the book; install them only to run this script:

    .venv/bin/pip install --no-deps torchcfm flow_matching
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import types

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from fmtutor import GaussianPath, MLPField, cfm_loss, get_dataset  # noqa: E402

INSTALL_HINT = (
    "benchmarks/peers.py needs torchcfm and flow_matching, which the book does not depend on.\n"
    "Install them without touching torch:  .venv/bin/pip install --no-deps torchcfm flow_matching"
)


def import_peers():
    """Return (ConditionalFlowMatcher, AffineProbPath, CondOTScheduler), or None when not installed."""
    if importlib.util.find_spec("torchcfm") is None or importlib.util.find_spec("flow_matching") is None:
        return None
    if importlib.util.find_spec("ot") is None:
        # torchcfm imports POT at import time for its optimal-transport matchers. The plain
        # ConditionalFlowMatcher used here never calls it, so an empty placeholder is enough
        # (and spares installing POT and SciPy just for this benchmark).
        sys.modules["ot"] = types.ModuleType("ot")
        print("note: POT is not installed; registered an empty 'ot' module (unused by ConditionalFlowMatcher)")
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

    return ConditionalFlowMatcher, AffineProbPath, CondOTScheduler


def make_steps(args, peers):
    """One closure per library doing a full training step (data, loss, backward, Adam)."""
    ConditionalFlowMatcher, AffineProbPath, CondOTScheduler = peers
    data, batch = get_dataset("eight-gaussians"), args.batch
    path, matcher, meta_path = (
        GaussianPath("linear"),
        ConditionalFlowMatcher(sigma=0.0),
        AffineProbPath(CondOTScheduler()),
    )

    def fmtutor_loss(model, g):
        return cfm_loss(model, data.sample(batch, g), path, generator=g)

    def torchcfm_loss(model, g):
        x1, x0 = data.sample(batch, g), torch.randn(batch, 2, generator=g)
        t, xt, ut = matcher.sample_location_and_conditional_flow(x0, x1)
        return (model(xt, t) - ut).pow(2).mean()

    def flow_matching_loss(model, g):
        x1, x0, t = data.sample(batch, g), torch.randn(batch, 2, generator=g), torch.rand(batch, generator=g)
        s = meta_path.sample(x_0=x0, x_1=x1, t=t)
        return (model(s.x_t, s.t) - s.dx_t).pow(2).mean()

    steps = {}
    for name, loss_fn in [
        ("fmtutor", fmtutor_loss),
        ("torchcfm", torchcfm_loss),
        ("flow_matching", flow_matching_loss),
    ]:
        if args.loss_only:  # the loss construction alone: identity "network", no backward pass
            g = torch.Generator().manual_seed(0)
            steps[name] = lambda loss_fn=loss_fn, g=g: loss_fn(lambda x, t: x, g)
            continue
        torch.manual_seed(0)
        model = MLPField(dim=2, hidden=args.hidden, depth=args.depth)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)

        def step(model=model, opt=opt, g=g, loss_fn=loss_fn):
            loss = loss_fn(model, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        steps[name] = step
    return steps


def measure(steps, n_steps: int, rounds: int, clock) -> dict[str, list[float]]:
    """Steps per second of each library in each round; the order of libraries rotates."""
    names = list(steps)
    for name in names:  # warm-up
        for _ in range(max(10, n_steps // 5)):
            steps[name]()
    rates = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = clock()
            for _ in range(n_steps):
                steps[name]()
            rates[name].append(n_steps / (clock() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50, help="training steps per library per round")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--loss-only",
        action="store_true",
        help="time only data + loss construction, with an identity model and no backward pass",
    )
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: this thread's CPU time, robust to other jobs on a shared machine",
    )
    args = parser.parse_args()
    peers = import_peers()
    if peers is None:
        print(INSTALL_HINT)
        return
    torch.set_num_threads(1)
    what = (
        "loss only (identity model, no backward)"
        if args.loss_only
        else f"MLPField(hidden={args.hidden}, depth={args.depth}), Adam"
    )
    print(
        f"torch {torch.__version__}, 1 thread; {what}, batch {args.batch}; "
        f"{args.rounds} rounds x {args.steps} steps per library"
    )
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    rates = measure(make_steps(args, peers), args.steps, args.rounds, clock)
    print(f"clock: {args.clock} ({'CPU time of this thread' if args.clock == 'cpu' else 'wall time'})")
    print(f"{'library':<15}{'steps/s (median)':>18}{'min':>9}{'max':>9}{'fmtutor / library (median, quartiles)':>40}")
    for name, r in rates.items():
        ratios = sorted(f / p for f, p in zip(rates["fmtutor"], r))  # paired within each round
        q1, q2, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(
            f"{name:<15}{statistics.median(r):>18.1f}{min(r):>9.1f}{max(r):>9.1f}"
            f"{f'{q2:.3f} ({q1:.3f} .. {q3:.3f})':>40}"
        )


if __name__ == "__main__":
    main()
