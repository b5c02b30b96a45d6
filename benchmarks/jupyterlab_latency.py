"""Input-to-new-image latency of every chapter's live panel in JupyterLab, measured in the browser.

    .venv/bin/python benchmarks/jupyterlab_latency.py [01 02 ...] [--windowing MODE]   (tasks.py's environment)

Starts JupyterLab on 127.0.0.1 over a copy of the chapters, with the notebook windowing mode a
reader gets (JupyterLab's default, 'contentVisibility'; ``--windowing none`` attaches every cell, as
the browser tests do), opens each chapter in headless Chromium (1366 x 768, device pixel ratio 2),
runs it up to its live panel, then for each slider:

- **single step**: one arrow key, timed from the key press to the new picture in the page
  (``repeats`` steps per slider, each to a position not shown before, 150 ms after the previous
  picture arrived); median and 90th percentile over all, and the first step on its own: the live
  panel draws the positions next to the one a reader moved to ahead, so the first step, which
  follows no move, is the one that waits for its picture to be drawn;
- **end of drag**: the handle dragged across the slider for 1 s with the mouse; the time from the
  mouse release to the last picture (the one for the final position).

Compare with ``benchmarks/widgets.py``, which times the Python side alone (its "live frame" column
is what the kernel spends per picture: update, draw and PNG at the live size). Targets on the
project's machine for chapters 1-6: single-step median < 100 ms, end of drag < 250 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import install  # noqa: E402
from tests.browser import lab as jl  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS  # noqa: E402

WATCH = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const img = cell.node.querySelector('.fmtutor-live img');
  window.__frames = [];
  if (window.__watch) window.__watch.disconnect();
  window.__watch = new MutationObserver(() => window.__frames.push(performance.now()));
  window.__watch.observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))]


def single_steps(tab, index: int, control: dict, repeats: int) -> list[float]:
    """Up to ``repeats`` arrow keys the same way (away from the nearer end of the slider, stopping at
    the far end), each pressed 150 ms after the previous picture arrived; ms from each key press to
    its picture."""
    handle = jl.control_locator(tab, index, control)
    handle.focus()
    now, low, high = (float(control[k]) for k in ("now", "min", "max"))
    key, end = ("ArrowLeft", low) if high - now < now - low else ("ArrowRight", high)
    times = []
    for _ in range(repeats):
        if float(handle.get_attribute("aria-valuenow")) == end:
            break
        tab.evaluate(WATCH, index)
        start = tab.evaluate("() => performance.now()")
        tab.keyboard.press(key)
        tab.wait_for_function("() => window.__frames.length > 0", timeout=30_000, polling="raf")
        times.append(tab.evaluate("() => window.__frames[0]") - start)
        tab.wait_for_timeout(150)
    return times


def end_of_drag(tab, index: int, control: dict, seconds: float = 1.0, quiet_ms: float = 1500) -> float:
    """Drag the handle across its track for ``seconds``; ms from the release to the last picture."""
    el = (
        jl.cell_locator(tab, index)
        .locator(".fmtutor-live")
        .locator(".widget-slider, .widget-dropdown")
        .nth(control["i"])
    )
    track = el.locator(".noUi-target").bounding_box()
    handle = el.locator(".noUi-handle").bounding_box()
    y = handle["y"] + handle["height"] / 2
    x0 = handle["x"] + handle["width"] / 2
    x1 = track["x"] + (0.1 if x0 > track["x"] + track["width"] / 2 else 0.9) * track["width"]
    tab.evaluate(WATCH, index)
    tab.mouse.move(x0, y)
    tab.mouse.down()
    steps = 30
    for k in range(1, steps + 1):
        tab.mouse.move(x0 + (x1 - x0) * k / steps, y)
        tab.wait_for_timeout(1000 * seconds / steps)
    released = tab.evaluate("() => performance.now()")
    tab.mouse.up()
    while True:  # wait until no new picture has come for quiet_ms
        count = tab.evaluate("() => window.__frames.length")
        tab.wait_for_timeout(quiet_ms)
        if tab.evaluate("() => window.__frames.length") == count:
            break
    last = tab.evaluate("() => window.__frames.length ? window.__frames[window.__frames.length - 1] : null")
    return max(0.0, last - released) if last is not None else float("nan")


def main(argv: list[str]) -> None:
    windowing = None  # JupyterLab's default, as tasks.py lab opens it
    if "--windowing" in argv:
        at = argv.index("--windowing")
        windowing, argv = argv[at + 1], argv[:at] + argv[at + 2 :]
    chapters = sorted((ROOT / "book").glob("[0-9]*.ipynb"))
    if argv:
        chapters = [c for c in chapters if c.name[:2] in argv]
    from playwright.sync_api import sync_playwright

    print(
        f"{'chapter':22s} {'control':10s} {'step median':>11s} {'step p90':>9s} {'first step':>10s} "
        f"{'drag end':>9s}  (ms, in the browser; windowing mode: {windowing or 'the default'})"
    )
    with (
        tempfile.TemporaryDirectory() as work,
        jl.jupyterlab(Path(work), windowing=windowing) as lab,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=install.ensure_browser(), args=CHROMIUM_ARGS)
        for chapter in chapters:
            context = browser.new_context(viewport=jl.VIEWPORT, device_scale_factor=2)
            tab = context.new_page()
            jl.open_notebook(tab, lab, chapter.name)
            index = jl.live_cell_index(tab)
            t0 = time.monotonic()
            errors = jl.run_through(tab, index)
            if errors:
                print(f"{chapter.stem}: {errors}")
                continue
            jl.wait_for_new_image(tab, index, None)
            steps, firsts, drags = [], [], []
            for control in jl.controls(tab, index):
                if control["kind"] != "slider":
                    continue
                times = single_steps(tab, index, control, repeats=7)
                drag = end_of_drag(tab, index, control)
                steps += times
                firsts.append(times[0])
                drags.append(drag)
                print(
                    f"{chapter.stem:22s} {control['label'][:10]:10s} {statistics.median(times):11.0f} "
                    f"{p90(times):9.0f} {times[0]:10.0f} {drag:9.0f}",
                    flush=True,
                )
            print(
                f"{chapter.stem:22s} {'ALL':10s} {statistics.median(steps):11.0f} {p90(steps):9.0f} "
                f"{max(firsts):10.0f} {max(drags):9.0f}  (worst slider for the first step and the drag end; "
                f"ran to the panel in {time.monotonic() - t0:.0f} s)",
                flush=True,
            )
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
