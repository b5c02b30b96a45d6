"""Drive the chapters in a real JupyterLab: a server on 127.0.0.1 over a copy of book/, and the steps
a reader takes in the page (open a chapter, run the cells up to a live panel, move its controls).

Used by test_jupyterlab.py and by benchmarks/jupyterlab_latency.py. Panels are found by what the
reader sees (the live panel's widget box and its controls), never by module names.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1366, "height": 768}  # a common laptop screen
LIVE_CALL = ".show_live("  # how a chapter shows a live panel (Panel.show_live)
SETTINGS = {  # no news pop-up, no kernel-choice dialog
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}
TRACKER = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"  # holds the notebook's windowing mode


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    app: str = "lab"  # "lab" (JupyterLab) or "notebook" (Jupyter Notebook 7)

    def page_url(self, notebook: str) -> str:
        if self.app == "notebook":
            return f"{self.url}/notebooks/book/{notebook}?token={self.token}"
        return f"{self.url}/lab/tree/book/{notebook}?reset&token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(workdir: Path, app: str = "lab", timeout: float = 120.0, windowing: str | None = "none"):
    """A JupyterLab (``app="lab"``) or Jupyter Notebook 7 (``app="notebook"``) server over ``workdir``,
    the reader's working copy that ``tasks.py lab`` makes (chapters in ``workdir/book``, static twins'
    pictures in ``workdir/_static/frames``), yielding a ``Lab``. Both expose the application object
    to the page as ``window.jupyterapp``, so the same steps drive either. ``windowing`` is the
    notebooks' windowing mode: 'none' attaches every cell to the page, as the tests want; None keeps
    JupyterLab's default, what a reader gets ('contentVisibility': the browser skips the rendering of
    cells off screen)."""
    sys.path.insert(0, str(ROOT))
    import tasks

    book = tasks.working_copy(ROOT / "book", workdir)
    settings = workdir / "settings"
    for name, values in {**SETTINGS, **({TRACKER: {"windowingMode": windowing}} if windowing else {})}.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "JUPYTER_CONFIG_DIR": str(workdir / "config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "FMTUTOR_FRAMES_DIR": str(workdir / "_static" / "frames"),
    }
    module, app_class = {"lab": ("jupyterlab", "LabApp"), "notebook": ("notebook", "JupyterNotebookApp")}[app]
    cmd = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={workdir}",
        f"--{app_class}.expose_app_in_browser=True",
        f"--{app_class}.user_settings_dir={settings}",
        f"--{app_class}.workspaces_dir={workdir / 'workspaces'}",
    ]
    log = (workdir / "jupyterlab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=book)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{module} did not start: {(workdir / 'jupyterlab.log').read_text()[-3000:]}"
                    ) from None
                time.sleep(0.5)
        yield Lab(url, token, book, app)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def open_notebook(tab, lab: Lab, name: str, timeout_ms: float = 300_000) -> None:
    """Open ``name`` and wait until its kernel is ready and its markdown is rendered."""
    tab.goto(lab.page_url(name), wait_until="domcontentloaded")
    try:
        _wait_until_open(tab, name, timeout_ms)
    except Exception as err:
        state = tab.evaluate("""() => { const a = window.jupyterapp, w = a && a.shell.currentWidget;
          return {app: !!a, widget: w ? w.constructor.name + ' ' + (w.title || {}).label : null,
                  kernel: w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                          ? w.sessionContext.session.kernel.status : null,
                  dialog: (document.querySelector('.jp-Dialog') || {}).innerText || null}; }""")
        raise AssertionError(f"{name} did not open in JupyterLab: {state}") from err


def _wait_until_open(tab, name: str, timeout_ms: float) -> None:
    tab.wait_for_function(
        """(name) => {
      const app = window.jupyterapp; const w = app && app.shell.currentWidget;
      return w && w.context && w.context.path.endsWith(name) && w.sessionContext.session
          && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'
          && w.content.widgets.length > 0;
    }""",
        arg=name,
        timeout=timeout_ms,
    )
    tab.wait_for_function(
        """() => window.jupyterapp.shell.currentWidget.content.widgets
      .filter(c => c.model.type === 'markdown')
      .every(c => { const r = c.node.querySelector('.myst, .jp-RenderedMarkdown'); return r && r.innerHTML.length > 0; })""",
        timeout=timeout_ms,
        polling=500,
    )  # markdown renders asynchronously


RENDER_PROBE = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const md = nb.widgets.filter(c => c.model.type === 'markdown');
  const shown = c => c.node.querySelector('.myst, .jp-RenderedMarkdown');
  const text = md.map(c => (shown(c) || {}).innerText || '').join('\\n');
  const q = s => document.querySelectorAll(s).length;
  return {markdown: md.length, rendered: md.filter(c => c.rendered && shown(c)).length, text,
          math: q('.jp-Notebook .katex, .jp-Notebook mjx-container'),
          proofs: q('.jp-Notebook [class*="myst-proof"]'), exercises: q('.jp-Notebook [class*="myst-exercise"]'),
          dropdowns: q('.jp-Notebook details')};
}"""


def rendering(tab) -> dict:
    """What the chapter's markdown looks like on screen (text, math containers, proofs, admonitions)."""
    return tab.evaluate(RENDER_PROBE)


def live_cell_index(tab) -> int:
    """Index of the first code cell that shows a live panel."""
    return tab.evaluate(
        """(call) => window.jupyterapp.shell.currentWidget.content.widgets
        .findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(call))""",
        LIVE_CALL,
    )


def run_through(tab, index: int, timeout_ms: float = 900_000) -> list[str]:
    """Run every cell up to and including ``index``; returns the errors the cells printed."""
    tab.evaluate(
        """async (index) => {
      const app = window.jupyterapp, nb = app.shell.currentWidget.content;
      nb.activeCellIndex = index;
      await app.commands.execute('notebook:run-all-above');
      nb.activeCellIndex = index;
      await app.commands.execute('notebook:run-cell');
    }""",
        index,
    )
    tab.wait_for_function(
        """(index) => {
      const panel = window.jupyterapp.shell.currentWidget, nb = panel.content;
      const code = nb.widgets.slice(0, index + 1).filter(c => c.model.type === 'code');
      return panel.sessionContext.session.kernel.status === 'idle'
          && code.every(c => c.model.executionCount !== null);
    }""",
        arg=index,
        timeout=timeout_ms,
        polling=500,
    )
    return tab.evaluate(
        """(index) => {
      const errors = [];
      window.jupyterapp.shell.currentWidget.content.widgets.slice(0, index + 1).forEach((c, i) => {
        if (c.model.type !== 'code') return;
        for (const o of c.model.outputs.toJSON()) if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      });
      return errors;
    }""",
        index,
    )


IMAGE_DIGEST = """async (index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const img = cell.node.querySelector('.fmtutor-live img');
  if (!img || !img.src) return null;
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const hash = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(hash)].map(b => b.toString(16).padStart(2, '0')).join('');
}"""


def image_digest(tab, index: int) -> str | None:
    """SHA-256 of the live panel's picture in cell ``index`` (None while there is none)."""
    return tab.evaluate(IMAGE_DIGEST, index)


def controls(tab, index: int) -> list[dict]:
    """The live panel's controls in cell ``index``: kind ('slider' or 'dropdown'), label, position."""
    return tab.evaluate(
        """(index) => {
      const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
      const box = cell.node.querySelector('.fmtutor-live');
      return [...box.querySelectorAll('.widget-slider, .widget-dropdown')].map((el, i) => {
        const handle = el.querySelector('.noUi-handle'); const select = el.querySelector('select');
        return {i, kind: handle ? 'slider' : 'dropdown',
                label: (el.querySelector('.widget-label') || {}).textContent || '',
                now: handle ? handle.getAttribute('aria-valuenow') : select.value,
                min: handle ? handle.getAttribute('aria-valuemin') : null,
                max: handle ? handle.getAttribute('aria-valuemax') : null,
                options: select ? [...select.options].map(o => o.value) : null};
      });
    }""",
        index,
    )


MARK_CELL = """(index) => {
  document.querySelectorAll('[data-fmtutor-cell]').forEach(e => e.removeAttribute('data-fmtutor-cell'));
  window.jupyterapp.shell.currentWidget.content.widgets[index].node.setAttribute('data-fmtutor-cell', '');
}"""


def cell_locator(tab, index: int):
    """The cell ``index`` of the notebook's model, found through its widget: with windowing (Notebook 7's
    default) the page holds only the cells near the view, so the n-th cell on the page is another one."""
    tab.evaluate(MARK_CELL, index)
    return tab.locator("[data-fmtutor-cell]")


def control_locator(tab, index: int, control: dict):
    cell = cell_locator(tab, index)
    el = cell.locator(".fmtutor-live").locator(".widget-slider, .widget-dropdown").nth(control["i"])
    return el.locator(".noUi-handle") if control["kind"] == "slider" else el.locator("select")


def step(tab, index: int, control: dict, by: str = "key") -> None:
    """Move ``control``: a slider one arrow key (``by="key"``) or a click on its track a quarter from
    the far end (``by="mouse"``; Notebook 7 takes the keyboard focus from a slider's handle to the
    cell, so there only the mouse moves it); a dropdown to the next option."""
    target = control_locator(tab, index, control)
    if control["kind"] == "slider":
        at_end = control["now"] is not None and control["now"] == control["max"]
        if by == "mouse":
            track = target.locator("xpath=ancestor::*[contains(@class, 'noUi-target')]").bounding_box()
            fraction = 0.25 if at_end or float(control["now"]) > float(control["max"]) / 2 else 0.75
            tab.mouse.click(track["x"] + fraction * track["width"], track["y"] + track["height"] / 2)
        else:
            target.focus()
            tab.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    else:
        options = control["options"]
        target.select_option(options[(options.index(control["now"]) + 1) % len(options)])


def wait_for_new_image(tab, index: int, before: str | None, timeout_ms: float = 30_000) -> str:
    """Wait until the picture differs from ``before``; return its digest."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        now = image_digest(tab, index)
        if now is not None and now != before:
            return now
        tab.wait_for_timeout(50)
    raise AssertionError(f"the live figure did not change within {timeout_ms / 1000:.0f} s")


def shut_down_kernels(lab: Lab) -> None:
    """Delete every session (and its kernel) of the server."""

    def call(method: str, path: str) -> bytes:
        request = urllib.request.Request(f"{lab.url}{path}?token={lab.token}", method=method)
        return urllib.request.urlopen(request, timeout=30).read()

    for session in json.loads(call("GET", "/api/sessions")):
        call("DELETE", f"/api/sessions/{session['id']}")
