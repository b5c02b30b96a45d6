"""How many bad calls the bad-input walk tries, per class of bad input and per public callable.

The walk (tests/bad_inputs.py, recipes in tests/bad_input_recipes.py) calls every public callable of
fmtutor with one bad argument at a time; tests/test_bad_inputs.py asserts that each is refused with a
ValueError/TypeError raised by fmtutor that names the argument (or returns a finite result where the
class allows it). This prints the counts, the public names exempted and why, and any failures.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bad_inputs.py [--by-callable]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402
from bad_input_recipes import RECIPES  # noqa: E402
from bad_inputs import BAD, category, public_objects, walk  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--by-callable", action="store_true", help="also print the count per public callable")
    args = p.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    outcome = walk(RECIPES)
    seconds = time.perf_counter() - start
    objects = public_objects()
    exempt = Counter(category(obj) for obj in objects.values() if category(obj) is not None)
    print(
        f"{outcome.total} bad calls over {len(RECIPES)} recipes ({len({r.target.split('.')[0] for r in RECIPES})} "
        f"public callables) in {seconds:.1f} s; {len(outcome.failures)} not refused clearly"
    )
    print("\nper class of bad input:")
    for cls, n in sorted(outcome.tried.items(), key=lambda kv: -kv[1]):
        print(f"  {cls:14s} {n:5d}")
    print(f"\n{len(objects)} public names; without a recipe, by reason:")
    for reason, n in sorted(exempt.items(), key=lambda kv: -kv[1]):
        print(f"  {n:3d}  {reason}")
    if args.by_callable:
        per = Counter()
        for r in RECIPES:
            per[r.target] += sum(len(BAD[kind]) for kind in r.kinds.values())
        print("\nper callable:")
        for target, n in sorted(per.items()):
            print(f"  {target:45s} {n:4d}")
    for failure in outcome.failures:
        print("FAIL", failure)


if __name__ == "__main__":
    main()
