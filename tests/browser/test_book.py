"""The built book in a real browser (headless Chromium), page by page, as a reader meets it offline.

Every page of _toc.yml is loaded once from a local server with every request to another host
blocked; the tests then check what the visit found: no console errors, no request leaving the
machine, math typeset by MathJax, every image and figure loaded, each scrubber moving to another
frame, solutions folded until clicked, every internal link and anchor resolving, and (on chapters)
the launch and download buttons. A full-page screenshot of each page goes to artifacts/screenshots/.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from .conftest import ROOT, Visit, open_page

pytestmark = pytest.mark.browser

MATHJAX_TIMEOUT_MS = 30_000
RAW_TEX = re.compile(r"\$\$|\\(begin\{|frac|mathbb|mathcal|alpha|beta|sigma|nabla)")

MATH_PROBE = """() => {
  const sources = [...document.querySelectorAll('.math')];
  const skip = 'pre, code, script, style, mjx-container, .highlight';
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  let text = '';
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent && !parent.closest(skip) && parent.checkVisibility()) text += walker.currentNode.textContent + ' ';
  }
  return {sources: sources.length,
          unrendered: sources.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
          containers: document.querySelectorAll('mjx-container').length,
          errors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent),
          text: text};
}"""
IMAGES_LOADED = """() => Promise.all([...document.images].map(img => img.complete ? null :
  new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))"""
STATIC_PROBE = """() => ({
  images: [...document.querySelectorAll('img')].filter(img => !img.closest('.animation'))
            .map(img => ({src: img.getAttribute('src') || '', ok: img.complete && img.naturalWidth > 0})),
  figures: [...document.querySelectorAll('main figure')].map(f => ({
            id: f.id, img: !!f.querySelector('img') && [...f.querySelectorAll('img')].every(i => i.naturalWidth > 0),
            caption: (f.querySelector('figcaption .caption-text') || {}).textContent || '',
            number: (f.querySelector('figcaption .caption-number') || {}).textContent || ''})),
  widget_views: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  widget_state: document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]').length,
  widget_text: (document.querySelector('main') || document.body).innerText.includes('interactive(children='),
  launch: [...document.querySelectorAll('.dropdown-launch-buttons a')].map(a => a.href),
  downloads: [...document.querySelectorAll('.dropdown-download-buttons a')].map(a => a.getAttribute('href')),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name')),
  exercises: [...document.querySelectorAll('.exercise')].map(e => e.checkVisibility()),
})"""


@pytest.fixture
def visit(page: str, browser, server: str, html_dir: Path, screenshot_dir: Path, visits) -> Visit:
    """The visit of ``page``: made on first use, then shared by every test of that page."""
    if page not in visits:
        visits[page] = make_visit(browser, server, page, screenshot_dir)
    return visits[page]


def make_visit(browser, server: str, page: str, screenshot_dir: Path) -> Visit:
    visit = Visit(page)
    tab = open_page(browser, server, page, visit)
    try:
        facts = visit.facts
        facts["mathjax_loaded"] = wait_for_mathjax(tab)
        tab.evaluate(IMAGES_LOADED)
        facts.update(tab.evaluate(STATIC_PROBE))
        tab.screenshot(path=str(screenshot_dir / f"{Path(page).stem}.png"), full_page=True)
        facts["scrubbers"] = move_scrubbers(tab)
        facts["solutions"] = open_solutions(tab)
        facts["math"] = tab.evaluate(MATH_PROBE)  # with every solution open, their text is checked too
    finally:
        tab.close()
    return visit


def wait_for_mathjax(tab) -> bool | None:
    """Wait until MathJax has typeset the page; None when the page has no math."""
    if not tab.locator(".math").count():
        return None
    try:
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                              timeout=MATHJAX_TIMEOUT_MS)
        tab.evaluate("() => MathJax.startup.promise")
        return True
    except Exception:  # noqa: BLE001 - a timeout means MathJax never arrived: reported by the test
        return False


def move_scrubbers(tab) -> list[dict]:
    """Click near the right end of each scrubber's slider, as a reader would drag it."""
    found = []
    for i in range(tab.locator(".animation").count()):
        animation = tab.locator(".animation").nth(i)
        slider, image = animation.locator("input[type=range]").first, animation.locator("img").first
        slider.scroll_into_view_if_needed()
        before = {"src": image.get_attribute("src"), "value": slider.input_value()}
        box = slider.bounding_box()
        tab.mouse.click(box["x"] + 0.9 * box["width"], box["y"] + box["height"] / 2)
        tab.wait_for_timeout(100)
        after = {"src": image.get_attribute("src"), "value": slider.input_value()}
        found.append({"max": slider.get_attribute("max"), "before": before, "after": after,
                      "loaded": image.evaluate("img => img.naturalWidth > 0")})
    return found


def open_solutions(tab) -> list[dict]:
    """For each solution: is its content visible before and after clicking its title?"""
    found = []
    for i in range(tab.locator(".solution").count()):
        solution = tab.locator(".solution").nth(i)
        content = solution.locator(":scope > :not(.admonition-title)").first
        title = solution.locator(".admonition-title").first
        before = content.is_visible()
        button = title.locator(".toggle-button")
        (button if button.count() else title).click()
        tab.wait_for_timeout(200)
        found.append({"id": solution.get_attribute("id"), "title": title.inner_text().strip(),
                      "hidden_before": not before, "visible_after": content.is_visible()})
    return found


# --- the checks ---------------------------------------------------------------------------------------

def test_no_console_errors(visit):
    assert not visit.console_errors, f"{visit.page}: errors in the browser console:\n" + "\n".join(visit.console_errors)
    assert not visit.failed_requests, f"{visit.page}: local files that failed to load:\n" + "\n".join(visit.failed_requests)


def test_no_request_leaves_the_machine(visit):
    """Offline readers (and this test) have no network: no script, style or font from a CDN."""
    assert not visit.external_requests, f"{visit.page} tried to load from the web:\n" + "\n".join(visit.external_requests)


def test_math_is_typeset(visit):
    math = visit.facts["math"]
    if math["sources"]:
        assert visit.facts["mathjax_loaded"], f"{visit.page}: MathJax never finished loading"
        assert math["unrendered"] == [], f"{visit.page}: math left untypeset"
        assert math["containers"] >= math["sources"]
        assert math["errors"] == [], f"{visit.page}: TeX errors"
    leftovers = sorted({m.group(0) for m in RAW_TEX.finditer(math["text"])})
    assert not leftovers, f"{visit.page}: raw TeX in the visible text: {leftovers}"


def test_every_image_and_figure_loads(visit):
    broken = [img["src"][:100] for img in visit.facts["images"] if not img["ok"]]
    assert not broken, f"{visit.page}: images that did not load:\n" + "\n".join(broken)
    for figure in visit.facts["figures"]:
        assert figure["img"], f"{visit.page}: figure {figure['id']!r} has no loaded image"
        assert figure["caption"].strip(), f"{visit.page}: figure {figure['id']!r} has no caption"
        assert figure["number"].startswith("Fig."), f"{visit.page}: figure {figure['id']!r} is not numbered"


def test_scrubbers_move_to_another_frame(visit):
    for i, s in enumerate(visit.facts["scrubbers"]):
        assert int(s["max"]) >= 1, f"{visit.page}: scrubber {i} has a single frame"
        assert s["loaded"], f"{visit.page}: scrubber {i} shows no image"
        assert s["after"]["value"] != s["before"]["value"], f"{visit.page}: scrubber {i}'s slider did not move"
        assert s["after"]["src"] != s["before"]["src"], f"{visit.page}: scrubber {i}'s image did not change"


def test_solutions_hidden_until_clicked(visit):
    assert all(visit.facts["exercises"]), f"{visit.page}: an exercise statement is hidden"
    for s in visit.facts["solutions"]:
        assert s["hidden_before"], f"{visit.page}: {s['title']!r} is shown before it is clicked"
        assert s["visible_after"], f"{visit.page}: {s['title']!r} stays hidden after a click"


def test_no_live_widget_leftovers(visit):
    """A live ipywidgets cell must be tagged remove-output and the notebook carry no widget state."""
    facts = visit.facts
    assert facts["widget_views"] == 0 and not facts["widget_text"], (
        f"{visit.page}: a live widget's output is in the page: tag its cell ['nbval-ignore-output', 'remove-output']")
    assert facts["widget_state"] == 0, (
        f"{visit.page}: the notebook stores ipywidgets state: python tools/edition.py --strip-widgets <notebook>")


@cache
def ids_in(path: Path) -> frozenset[str]:
    text = path.read_text(errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def test_internal_links_resolve(visit, server, html_dir):
    local, broken = urlsplit(server).netloc, []
    for href in sorted(set(visit.facts["links"])):
        url = urlsplit(href)
        if url.scheme not in ("http", "https") or url.netloc != local:
            continue
        target = html_dir / unquote(url.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {target.relative_to(html_dir)})")
            continue
        fragment = unquote(url.fragment)
        if fragment and target.suffix == ".html":
            here = target.resolve() == (html_dir / visit.page).resolve()
            known = ids_in(target) | (set(visit.facts["ids"]) if here else set())
            if fragment not in known:
                broken.append(f"{href} (no #{fragment} in {target.relative_to(html_dir)})")
    assert not broken, f"{visit.page}: broken internal links:\n" + "\n".join(broken)


def configured_hub() -> str:
    """``launch_buttons.jupyterhub_url`` of _config.yml ('' when unset)."""
    match = re.search(r'^\s*jupyterhub_url:\s*"?([^"\s#]*)', (ROOT / "_config.yml").read_text(), flags=re.M)
    return match.group(1).rstrip("/") if match else ""


def test_chapter_has_launch_and_download_buttons(notebook_page, visit):
    launch = visit.facts["launch"]
    if hub := configured_hub():
        assert any(u.startswith(f"{hub}/hub/user-redirect/git-pull?") for u in launch), launch
    assert any("mybinder.org/v2/gh/" in u and notebook_page.replace(".html", ".ipynb") in u for u in launch), launch
    assert any("colab.research.google.com/github/" in u for u in launch), launch
    assert any(d.endswith(Path(notebook_page).stem + ".ipynb") for d in visit.facts["downloads"]), \
        f"{notebook_page}: no .ipynb download button"
