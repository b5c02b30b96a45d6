"""Make sure a headless Chromium and Playwright's Python driver are there for the browser test.

    python tests/browser/install.py       # exit 0: ready (prints the browser); exit 1: why not

Chromium comes from the system's package manager (Debian/Ubuntu ``chromium``, installed with apt-get
when missing and running as root); Playwright's own browser download (``playwright install``) is
never used. Playwright itself is pinned in requirements.txt. ``FMTUTOR_CHROMIUM`` names another
Chromium binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

__all__ = ["CANDIDATES", "BrowserUnavailable", "find_chromium", "ensure_browser"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserUnavailable(RuntimeError):
    """No Chromium and no way to install one here; the message says what to do."""


def find_chromium() -> str | None:
    """The Chromium to drive: ``$FMTUTOR_CHROMIUM`` if set, else the first of CANDIDATES on PATH."""
    if os.environ.get("FMTUTOR_CHROMIUM"):
        return os.environ["FMTUTOR_CHROMIUM"]
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _apt_install(package: str = "chromium") -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]):
        print("+", " ".join(cmd), flush=True)
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise BrowserUnavailable(f"`{' '.join(cmd)}` failed:\n{done.stdout[-2000:]}")


def ensure_browser() -> str:
    """The path of a Chromium binary, installing Debian's ``chromium`` with apt-get if needed.

    Raises ``BrowserUnavailable`` (with what to do) when Playwright is not installed, or when
    Chromium is missing and cannot be installed (not root, or no apt-get).
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        raise BrowserUnavailable(
            "the Python package playwright is missing: pip install -r requirements.txt (it is pinned there)"
        ) from err
    if path := find_chromium():
        return path
    if not shutil.which("apt-get"):
        raise BrowserUnavailable(
            "Chromium is not installed and apt-get is not available: install a "
            "Chromium and set FMTUTOR_CHROMIUM to its path"
        )
    if os.geteuid() != 0:
        raise BrowserUnavailable(
            "Chromium is not installed and installing it needs root: run "
            "`sudo apt-get install chromium` (or set FMTUTOR_CHROMIUM)"
        )
    _apt_install()
    if path := find_chromium():
        return path
    raise BrowserUnavailable("apt-get installed chromium but no chromium binary is on PATH")


if __name__ == "__main__":
    try:
        print(f"browser ready: {ensure_browser()}")
    except BrowserUnavailable as err:
        print(f"browser test unavailable: {err}", file=sys.stderr)
        sys.exit(1)
