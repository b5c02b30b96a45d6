"""The chapters in a real JupyterLab (headless Chromium, 1366 x 768 at device pixel ratio 2), as a
reader running them locally meets them: the MyST text rendered (no raw directives, labels or
``$$``), the cells run up to the first live panel, every control of the panel moved once, the
figure redrawn after each move, no error in the browser console.

Chapters 1-3 and 5 (a trained model) run by default; the others are marked slow
(``pytest -m browser tests/browser`` runs them all). Chapter 1 also runs in Jupyter Notebook 7.
Screenshots go to artifacts/screenshots/{lab,notebook7}-*.png.
"""

from __future__ import annotations

import re
import sys

import pytest

from . import lab as jl
from .conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import xrefs  # noqa: E402

pytestmark = pytest.mark.browser

CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.ipynb"))
DEFAULT = {"01", "02", "03", "05"}  # the first three, and one whose panel shows a trained model
RAW = re.compile(r":label:|\$\$|```\{|\{prf:[a-z]+\}|prf:ref|\{(?:cite|ref|numref|doc)(?::\w+)?\}`|:class: dropdown|%s")


def labels() -> set[str]:
    """Every label the book sets (chapters, sections, blocks, figures) and every citation key: on
    screen, one means a reference or citation shown as its label instead of its text."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in CHAPTERS)
    found = set(re.findall(r":label: *([\w-]+)", text)) | set(re.findall(r'"\(([\w-]+)\)=\\n', text))
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    return found | set(re.findall(r"^@\w+\{([\w-]+),", bib, re.M))


LABELS = labels()
NUMBERED = re.compile(r"\b(Theorem|Proposition|Definition|Lemma|Corollary|Exercise)\s(\d+(?:\.\d+)?)\b")


def numbers_on_screen(text: str, chapter: int) -> set[tuple[str, str]]:
    """The blocks of ``chapter`` that the text numbers ("Theorem 5.1"), with any unprefixed number
    ("Theorem 1", jupyterlab-myst's own count)."""
    return {(w, n) for w, n in NUMBERED.findall(text) if "." not in n or n.split(".")[0] == str(chapter)}


def numbers_in_the_book(chapter: int) -> set[tuple[str, str]]:
    """The numbered blocks the built book gives chapter ``chapter``, as ("Theorem", "5.1")."""
    blocks = [t for t in xrefs.targets().values() if t[0] not in ("Chapter", "Section")]
    return {(w, n) for w, n in blocks if n.split(".")[0] == str(chapter)}


# Console messages that are not errors of the book: JupyterLab asks the server for optional
# resources that a plain install does not have; jupyterlab-myst reports each reference to another
# chapter, which a single notebook cannot resolve (the built book does), as an error, and, in
# Notebook 7, which renders a cell only when it comes near the view, each citation whose entry in
# the references cell at the chapter's end is not rendered yet (the link works once it is).
IGNORED_CONSOLE = (
    re.compile(r"favicon"),
    re.compile(r"/api/translations"),
    re.compile(
        r'^((Cross reference target was not found: [\w-]+|No target for internal reference "#cite-[\w-]+" was found\.)\s*)+$'
    ),
)
# Notebook 7 (7.6) only: its keyboard-shortcuts plugin reads the settings schema of a plugin it has
# not loaded when another extension's settings change during page load (notebook_core, in
# ``pluginChanged``); the page and its panels work. Not raised by JupyterLab.
IGNORED_IN_NOTEBOOK_7 = (re.compile(r"^uncaught: Cannot read properties of undefined \(reading 'schema'\)$"),)


def chapter_params() -> list:
    return [
        pytest.param(path, marks=[] if path.name[:2] in DEFAULT else [pytest.mark.slow], id=path.stem)
        for path in CHAPTERS
    ]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with jl.jupyterlab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    with jl.jupyterlab(tmp_path_factory.mktemp("notebook7"), app="notebook") as server:
        yield server


@pytest.fixture
def tab(browser):
    context = browser.new_context(viewport=jl.VIEWPORT, device_scale_factor=2)
    page = context.new_page()
    page.errors = []

    def on_console(msg):
        if msg.type == "error" and not any(p.search(msg.text) for p in IGNORED_CONSOLE):
            page.errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda err: page.errors.append(f"uncaught: {err}"))
    yield page
    context.close()


@pytest.mark.parametrize("chapter", chapter_params())
def test_chapter_renders_and_its_live_panel_redraws_for_every_control(chapter, lab, tab, screenshot_dir):
    walk(chapter, lab, tab, screenshot_dir / f"lab-{chapter.stem}")


def test_the_first_chapter_renders_and_its_live_panel_redraws_in_notebook_7(notebook7, tab, screenshot_dir):
    walk(CHAPTERS[0], notebook7, tab, screenshot_dir / f"notebook7-{CHAPTERS[0].stem}")


def walk(chapter, server, tab, shots) -> None:
    """Open ``chapter``, check its rendering, run it to its live panel, move every control, then
    shut its kernel down (chapters do not share a machine's cores)."""
    try:
        _walk(chapter, server, tab, shots)
    finally:
        jl.shut_down_kernels(server)


def _walk(chapter, lab, tab, shots) -> None:
    jl.open_notebook(tab, lab, chapter.name)
    seen = jl.rendering(tab)
    assert seen["rendered"] == seen["markdown"] > 0, seen
    raw = sorted({m.group(0) for m in RAW.finditer(seen["text"])})
    assert not raw, f"raw MyST on screen: {raw}"
    bare = sorted(set(re.findall(r"[\w-]+", seen["text"])) & LABELS)
    assert not bare, f"references or citations shown as their labels: {bare}"
    number = int(chapter.name[:2])
    shown, book = numbers_on_screen(seen["text"], number), numbers_in_the_book(number)
    # Notebook 7 lays out only the cells near the view: the text of the others is empty until scrolled to
    assert shown == book if lab.app == "lab" else shown <= book, f"numbers on screen only: {sorted(shown - book)}"
    assert seen["math"] > 20, f"only {seen['math']} typeset formulas"
    assert seen["proofs"] > 0 and seen["exercises"] >= 3 and seen["dropdowns"] > 0, seen

    index = jl.live_cell_index(tab)
    assert index >= 0, "no live panel in the chapter"
    errors = jl.run_through(tab, index)
    assert not errors, errors
    jl.cell_locator(tab, index).locator(".fmtutor-live img").scroll_into_view_if_needed()
    digest = jl.wait_for_new_image(tab, index, None)
    check_fits_and_is_sharp(tab, index)
    tab.screenshot(path=f"{shots}.png")

    controls = jl.controls(tab, index)
    assert {c["kind"] for c in controls} >= {"slider"}, controls
    by = "mouse" if lab.app == "notebook" else "key"
    for control in controls:
        jl.step(tab, index, control, by=by)
        try:
            digest = jl.wait_for_new_image(tab, index, digest, timeout_ms=10_000)
        except AssertionError:  # a control may act under another's setting only (chapter 8's OT batch,
            # on OT-CFM, the menu's last option): every menu to its last option, then the control again
            for menu in [
                c for c in jl.controls(tab, index) if c["kind"] == "dropdown" and c["now"] != c["options"][-1]
            ]:
                jl.control_locator(tab, index, menu).select_option(menu["options"][-1])
                digest = jl.wait_for_new_image(tab, index, digest)
            jl.step(tab, index, jl.controls(tab, index)[control["i"]], by=by)
            digest = jl.wait_for_new_image(tab, index, digest)
    tab.screenshot(path=f"{shots}-moved.png")
    if lab.app == "notebook":
        tab.errors[:] = [e for e in tab.errors if not any(p.search(e) for p in IGNORED_IN_NOTEBOOK_7)]
    assert not tab.errors, "console errors:\n" + "\n".join(e[:300] for e in tab.errors)


def check_fits_and_is_sharp(tab, index: int) -> None:
    """The picture sits beside the controls, inside a 1366 x 768 screen, with 2 pixels per CSS pixel."""
    box = tab.evaluate(
        """(index) => {
      const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
      const img = cell.node.querySelector('.fmtutor-live img');
      const column = cell.node.querySelector('.fmtutor-live > .widget-vbox');
      const r = img.getBoundingClientRect(), c = column.getBoundingClientRect();
      return {left: r.left, right: r.right, top: r.top, width: r.width, height: r.height,
              natural: img.naturalWidth, column_right: c.right, column_top: c.top};
    }""",
        index,
    )
    assert box["right"] <= jl.VIEWPORT["width"] and box["height"] <= 0.7 * jl.VIEWPORT["height"], box
    assert box["left"] >= box["column_right"] - 1 and abs(box["top"] - box["column_top"]) < 5, box
    assert box["natural"] >= 2 * box["width"] - 1, box
