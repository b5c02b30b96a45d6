"""What both command lines share: one-line errors, exit status 2 for usage errors, ``--debug``.

A command first checks every argument and output path (``check``) and only then works (``work``).
A ``ValueError``/``TypeError``/``OSError`` from the check is a usage error: one line on stderr and exit
status 2. Any error during the work is one line and exit status 1. ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

__all__ = ["OneLineParser", "add_debug", "one_line", "run_command"]

T = TypeVar("T")


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_debug(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def one_line(error: BaseException) -> str:
    """The first line of an error's message, prefixed with its type unless it is a plain value error."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, (ValueError, TypeError)) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_command(p: argparse.ArgumentParser, debug: bool, check: Callable[[], T], work: Callable[[T], object]) -> None:
    """Run ``check()`` then ``work(checked)``, turning errors into one line (see the module doc)."""
    try:
        checked = check()
    except (ValueError, TypeError, OSError) as e:
        if debug:
            raise
        p.error(one_line(e))
    try:
        work(checked)
    except KeyboardInterrupt:
        if debug:
            raise
        p.exit(130, f"{p.prog}: interrupted\n")
    except Exception as e:  # noqa: BLE001 - every runtime error becomes one line
        if debug:
            raise
        p.exit(1, f"{p.prog}: error: {one_line(e)} (run with --debug for the traceback)\n")
