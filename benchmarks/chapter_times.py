"""How long each chapter takes to execute, for the table in book/instructors.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/chapter_times.py [book/01_odes.ipynb ...]

Executes each chapter (default: every book/*.ipynb) in a fresh kernel, without touching the file,
and prints a markdown table with the kernel's own CPU time (user + system, imports included) and
the wall time. On a machine shared with other jobs the wall time grows with the load while the CPU
time does not: with one thread, the CPU time is what a laptop core with nothing else to do needs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import resource as _r\n_s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)\n"
    "print(_s.ru_utime + _s.ru_stime + _c.ru_utime + _c.ru_stime)"
)


def time_chapter(path: Path) -> tuple[float, float]:
    """(kernel CPU seconds, wall seconds) of one top-to-bottom execution of ``path``."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    wall = time.perf_counter() - start
    return float("".join(o.get("text", "") for o in nb.cells[-1].outputs).split()[-1]), wall


def main(paths: list[str]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.pop("MPLBACKEND", None)  # let the kernel draw figures inline, as a reader's would
    chapters = [Path(p) for p in paths] or sorted((ROOT / "book").glob("*.ipynb"))
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| chapter | kernel CPU time | wall time (this machine) |\n| --- | --- | --- |")
    for path in chapters:
        cpu, wall = time_chapter(path)
        print(f"| {path.stem} | {cpu:.0f} s | {wall:.0f} s |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
