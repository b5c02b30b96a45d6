"""Probes of the static panels (``fmtutor.static``) in a browser tab, used by test_book.py.

``move_controls`` moves every control of every panel from the keyboard (End/Home on a slider, a new
option in a dropdown), as a reader would, and records which frame the image shows afterwards, the
frame the control values name, and whether the image's pixels changed. ``phone_view`` loads a page
at phone width (390 CSS px, device pixel ratio 2) and measures the first panel.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["move_controls", "phone_view", "expected_frame"]

LOADED = """img => new Promise(done => {
  const ok = () => img.complete && img.naturalWidth > 0;
  if (ok()) return done(true);
  img.addEventListener('load', () => done(true), {once: true});
  img.addEventListener('error', () => done(false), {once: true});
  setTimeout(() => done(ok()), 10000);
})"""
STATE = """root => { const img = root.querySelector('img.fmt-frame');
  return {src: img.src, natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
          values: [...root.querySelectorAll('[data-control]')].filter(e => e.tagName !== 'OUTPUT')
                    .map(e => Number(e.value)),
          readouts: [...root.querySelectorAll('output')].map(o => o.textContent)}; }"""


def expected_frame(spec: dict, indices: list[int]) -> str:
    """The file the control values name: ``name-value`` parts joined by '_' (fmtutor.static.frame_name)."""
    parts = [f"{c['name']}-{c['slugs'][k]}" for c, k in zip(spec["controls"], indices)]
    return "_".join(parts) + f".{spec['format']}"


def _digest(html_dir: Path, src: str) -> str:
    """The digest of the file behind a frame's URL (the served copy in the built book)."""
    return hashlib.sha256((html_dir / unquote(urlsplit(src).path).lstrip("/")).read_bytes()).hexdigest()


def _wait_for(tab, root, file: str) -> bool:
    try:
        tab.wait_for_function(
            "([r, f]) => r.querySelector('img.fmt-frame').src.endsWith('/' + f)",
            arg=[root.element_handle(), file],
            timeout=5000,
        )
    except Exception:  # noqa: BLE001 - the test reports the frame that was not shown
        return False
    return root.locator("img.fmt-frame").evaluate(LOADED)


def move_controls(tab, html_dir: Path) -> list[dict]:
    """Per panel: its first frame, then for each control the frame shown after moving it."""
    found = []
    for i in range(tab.locator(".fmt-static").count()):
        root = tab.locator(".fmt-static").nth(i)
        root.scroll_into_view_if_needed()
        image = root.locator("img.fmt-frame")
        first_loaded = image.evaluate(LOADED)
        spec = root.evaluate("r => JSON.parse(r.dataset.frames)")
        state = root.evaluate(STATE)
        panel = {
            "index": i,
            "first_loaded": first_loaded,
            "natural": state["natural"],
            "shown": state["shown"],
            "first": state["src"].rsplit("/", 1)[-1],
            "first_expected": expected_frame(spec, state["values"]),
            "moves": [],
        }
        # sliders first, then dropdowns: a dropdown may switch to a mode in which a slider does nothing
        # (chapter 8's OT batch once the method is not OT-CFM), and every slider must show its effect
        order = sorted(enumerate(spec["controls"]), key=lambda kc: kc[1]["kind"] == "dropdown")
        for k, control in order:
            before = root.evaluate(STATE)
            target = 0 if before["values"][k] == len(control["slugs"]) - 1 else len(control["slugs"]) - 1
            field = root.locator(f'[data-control="{control["name"]}"]').first
            if control["kind"] == "dropdown":
                field.select_option(index=target)
            else:
                field.focus()
                tab.keyboard.press("Home" if target == 0 else "End")
            indices = list(before["values"])
            indices[k] = target
            expected = expected_frame(spec, indices)
            loaded = _wait_for(tab, root, expected)
            after = root.evaluate(STATE)
            panel["moves"].append(
                {
                    "control": control["name"],
                    "kind": control["kind"],
                    "values": after["values"][k],
                    "target": target,
                    "expected": expected,
                    "shown": after["src"].rsplit("/", 1)[-1],
                    "loaded": loaded,
                    "readout": control["labels"][target] in after["readouts"] or control["kind"] == "dropdown",
                    "changed": loaded and _digest(html_dir, before["src"]) != _digest(html_dir, after["src"]),
                }
            )
        found.append(panel)
    return found


def phone_view(tab, screenshot: Path) -> dict | None:
    """At phone width: the first panel's box, its controls' boxes and its image's sharpness."""
    if not tab.locator(".fmt-static").count():
        return None
    root = tab.locator(".fmt-static").first
    root.scroll_into_view_if_needed()
    root.locator("img.fmt-frame").evaluate(LOADED)
    root.screenshot(path=str(screenshot))
    return root.evaluate("""r => ({width: innerWidth,
      right: r.getBoundingClientRect().right,
      controls: [...r.querySelectorAll('[data-control]')].map(e => e.getBoundingClientRect().right),
      visible: [...r.querySelectorAll('[data-control]')].every(e => e.getBoundingClientRect().width > 20),
      natural: r.querySelector('img.fmt-frame').naturalWidth,
      shown: r.querySelector('img.fmt-frame').getBoundingClientRect().width})""")
