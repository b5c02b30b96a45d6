"""The built book in a real browser (headless Chromium), page by page, as a reader meets it offline.

Every page of _toc.yml is loaded once from a local server with every request to another host
blocked; the tests then check what the visit found: no console errors, no request leaving the
machine, math typeset by MathJax, every image and figure loaded, every control of every static panel
moving the image to the frame of its values (and only panels near the screen fetching a frame when
the page opens; sharp at device pixel ratio 2, usable at phone width), solutions folded until clicked,
every internal link and anchor resolving, and (on chapters) the launch and download buttons; every
image sharp on a screen with two device pixels per CSS pixel and described by its alt text; nothing
cut off at desktop (1280 px) or phone (390 px) width outside a scroll container; and, on the student
site, no solution anywhere (no solution dropdown, no line of a solution's code) and every checker saying
"not attempted yet" (on the main site: passing). A full-page screenshot of each page at both widths goes to
artifacts/screenshots/ (``NAME.png`` and ``NAME-390.png``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from .conftest import ROOT, Visit, is_student_site, open_page
from .exercises import checker_cells, solution_lines
from .static_panels import move_controls, phone_view

pytestmark = pytest.mark.browser

MATHJAX_TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}
SHARPNESS = 1.5  # natural width / displayed width: sharp at a device pixel ratio of 2 (and 1.5)
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
IMAGE_PROBE = """() => [...document.querySelectorAll('main img')].filter(img => img.checkVisibility())
  .map(img => ({src: (img.getAttribute('src') || '').slice(0, 80), alt: img.getAttribute('alt'),
                natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
                frame: !!img.closest('.fmt-static')}))"""
# Every visible element of the article (the text column; the side drawers are off-canvas by design at
# phone width) that reaches past the window or past an ancestor that clips
# it, unless an ancestor between them scrolls sideways (a scroll container, where a reader can pan).
CUT_OFF_PROBE = """() => {
  const width = document.documentElement.clientWidth, found = [];
  const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
      ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  const article = document.querySelector('main article') || document.querySelector('main');  // not the drawers
  for (const el of article.querySelectorAll('*')) {
    const math = el.closest('mjx-container');
    if ((math && math !== el) || !el.checkVisibility()) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let clipper = null;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') { clipper = 'scrolls'; break; }
      if ((o === 'hidden' || o === 'clip') && box.right > a.getBoundingClientRect().right + 1) { clipper = a; break; }
    }
    if (clipper === 'scrolls') continue;
    if (clipper || box.right > width + 1 || box.left < -1)
      found.push(`${name(el)} "${(el.textContent || el.getAttribute('src') || '').trim().slice(0, 60)}"` +
                 ` reaches ${Math.round(box.right)} px` + (clipper ? `, clipped by ${name(clipper)}` : ` of ${width}`));
  }
  return {cut: found.slice(0, 12), page_scrolls: document.documentElement.scrollWidth > width + 1};
}"""
FIRST_FRAMES = """() => [...document.querySelectorAll('.fmt-static img.fmt-frame')].map(img => {
  const box = img.getBoundingClientRect();
  return {src: img.src, near: box.top < 3 * innerHeight && box.bottom > -2 * innerHeight};
})"""
# a static panel's frames load lazily (only on screen): they are checked by static_panels.move_controls instead
IMAGES_LOADED = """() => Promise.all([...document.images].filter(img => !img.closest('.fmt-static')).map(img => img.complete ? null :
  new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))"""
STATIC_PROBE = """() => ({
  images: [...document.querySelectorAll('img')].filter(img => !img.closest('.fmt-static'))
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
  checkers: [...document.querySelectorAll('.cell_output')].map(e => e.textContent.trim())
            .filter(t => /^[\u2713\u2717\u00b7] [^\\n]*: (all \\d+ checks passed|not attempted yet|\\d+ of \\d+ checks failed|not checked)/
                         .test(t)),
  text: (document.querySelector('main') || document.body).textContent,  // hidden dropdowns included
})"""


@pytest.fixture
def visit(page: str, browser, server: str, html_dir: Path, screenshot_dir: Path, visits, request) -> Visit:
    """The visit of ``page``: made on first use, then shared by every test of that page. The slow parts
    (moving every control of every static panel, the pass at phone width) run only when a selected test
    reads what they find (``-k`` may select a subset, as the test command does on the student site)."""
    if page not in visits:
        names = [item.name for item in request.session.items]
        panels = any("static_panel" in name for name in names)
        phone = any(re.search(r"\[.*phone.*\]", name) for name in names)
        visits[page] = make_visit(browser, server, page, screenshot_dir, html_dir, panels, phone)
    return visits[page]


def make_visit(
    browser, server: str, page: str, screenshot_dir: Path, html_dir: Path, panels: bool = True, phone: bool = True
) -> Visit:
    visit = Visit(page)
    tab = open_page(browser, server, page, visit)
    try:
        facts = visit.facts
        facts["mathjax_loaded"] = wait_for_mathjax(tab)
        tab.evaluate(IMAGES_LOADED)
        tab.wait_for_timeout(300)
        facts["frames_at_open"] = list(visit.frame_requests)
        facts["first_frames"] = tab.evaluate(FIRST_FRAMES)
        facts.update(tab.evaluate(STATIC_PROBE))
        facts["static_panels"] = move_controls(tab, html_dir) if panels else None
        tab.screenshot(path=str(screenshot_dir / f"{Path(page).stem}.png"), full_page=True)
        facts["solutions"] = open_solutions(tab)
        facts["math"] = tab.evaluate(MATH_PROBE)  # with every solution open, their text is checked too
        facts["images_wide"] = tab.evaluate(IMAGE_PROBE)
        facts["cut_wide"] = tab.evaluate(CUT_OFF_PROBE)
        if phone:
            tab.set_viewport_size(PHONE)
            tab.wait_for_timeout(300)
            facts["images_phone"] = tab.evaluate(IMAGE_PROBE)
            facts["cut_phone"] = tab.evaluate(CUT_OFF_PROBE)
            tab.screenshot(path=str(screenshot_dir / f"{Path(page).stem}-390.png"), full_page=True)
        facts["solution_nodes"] = tab.locator(".solution, [id$='-solution']").count()
    finally:
        tab.close()
    return visit


def wait_for_mathjax(tab) -> bool | None:
    """Wait until MathJax has typeset the page; None when the page has no math."""
    if not tab.locator(".math").count():
        return None
    try:
        tab.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=MATHJAX_TIMEOUT_MS
        )
        tab.evaluate("() => MathJax.startup.promise")
        return True
    except Exception:  # noqa: BLE001 - a timeout means MathJax never arrived: reported by the test
        return False


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
        found.append(
            {
                "id": solution.get_attribute("id"),
                "title": title.inner_text().strip(),
                "hidden_before": not before,
                "visible_after": content.is_visible(),
            }
        )
    return found


# --- the checks ---------------------------------------------------------------------------------------


def test_no_console_errors(visit):
    assert not visit.console_errors, f"{visit.page}: errors in the browser console:\n" + "\n".join(visit.console_errors)
    assert not visit.failed_requests, f"{visit.page}: local files that failed to load:\n" + "\n".join(
        visit.failed_requests
    )


def test_no_request_leaves_the_machine(visit):
    """Offline readers (and this test) have no network: no script, style or font from a CDN."""
    assert not visit.external_requests, f"{visit.page} tried to load from the web:\n" + "\n".join(
        visit.external_requests
    )


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


def test_every_control_of_every_static_panel_shows_the_frame_of_its_values(visit):
    for panel in visit.facts["static_panels"]:
        where = f"{visit.page}: static panel {panel['index']}"
        assert panel["first_loaded"], f"{where} shows no image"
        assert panel["first"] == panel["first_expected"], f"{where} opens on another frame than its controls name"
        assert panel["natural"] >= 2 * panel["shown"] - 1, f"{where}: {panel['natural']} px for {panel['shown']} CSS px"
        assert len(panel["moves"]) >= 1
        for move in panel["moves"]:
            assert move["values"] == move["target"], f"{where}: control {move['control']!r} did not move"
            assert move["shown"] == move["expected"] and move["loaded"], (
                f"{where}: after moving {move['control']!r} the image is {move['shown']}, not {move['expected']}"
            )
            assert move["changed"], f"{where}: moving {move['control']!r} left the picture unchanged"
            assert move["readout"], f"{where}: the readout of {move['control']!r} does not show its value"


def test_opening_a_chapter_fetches_only_the_frames_near_the_screen(visit):
    first = visit.facts["first_frames"]
    fetched = visit.facts["frames_at_open"]
    allowed = {f["src"] for f in first if f["near"]}
    assert set(fetched) <= {f["src"] for f in first}, f"{visit.page}: frames fetched that no panel shows: {fetched}"
    assert set(fetched) <= allowed, f"{visit.page}: frames of panels far off screen fetched at open: {fetched}"


def test_static_panels_fit_a_phone(notebook_page, browser, server, screenshot_dir):
    visit = Visit(notebook_page)
    tab = open_page(browser, server, notebook_page, visit, width=390, height=844, pixel_ratio=2)
    try:
        found = phone_view(tab, screenshot_dir / f"{Path(notebook_page).stem}-static-phone.png")
    finally:
        tab.close()
    if found is None:
        pytest.skip(f"{notebook_page} has no static panel")
    assert found["right"] <= found["width"] + 0.5, found
    assert max(found["controls"]) <= found["width"] + 0.5 and found["visible"], found
    assert found["natural"] >= 2 * found["shown"] - 1, found  # sharp at device pixel ratio 2


def test_solutions_hidden_until_clicked(visit):
    assert all(visit.facts["exercises"]), f"{visit.page}: an exercise statement is hidden"
    for s in visit.facts["solutions"]:
        assert s["hidden_before"], f"{visit.page}: {s['title']!r} is shown before it is clicked"
        assert s["visible_after"], f"{visit.page}: {s['title']!r} stays hidden after a click"


def test_no_live_widget_leftovers(visit):
    """A live ipywidgets cell must be tagged remove-output and the notebook carry no widget state."""
    facts = visit.facts
    assert facts["widget_views"] == 0 and not facts["widget_text"], (
        f"{visit.page}: a live widget's output is in the page: tag its cell ['nbval-ignore-output', 'remove-output']"
    )
    assert facts["widget_state"] == 0, (
        f"{visit.page}: the notebook stores ipywidgets state: python tools/edition.py --strip-widgets <notebook>"
    )


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


def configured_branch() -> str:
    """``repository.branch`` of _config.yml."""
    return re.search(r"^\s+branch:\s*(\S+)", (ROOT / "_config.yml").read_text(), flags=re.M).group(1)


def test_chapter_has_launch_and_download_buttons(notebook_page, visit):
    launch = visit.facts["launch"]
    if hub := configured_hub():
        assert any(u.startswith(f"{hub}/hub/user-redirect/git-pull?") for u in launch), launch
    assert any("mybinder.org/v2/gh/" in u and notebook_page.replace(".html", ".ipynb") in u for u in launch), launch
    colab = [u for u in launch if "colab.research.google.com/github/" in u]
    assert colab, launch
    if not is_student_site():  # the main site's Colab button opens the chapter's Colab edition
        edition = f"/blob/{configured_branch()}/colab/{Path(notebook_page).stem}.ipynb"
        assert all(u.endswith(edition) for u in colab), (colab, edition)
        assert (ROOT / "colab" / f"{Path(notebook_page).stem}.ipynb").is_file()
    assert any(d.endswith(Path(notebook_page).stem + ".ipynb") for d in visit.facts["downloads"]), (
        f"{notebook_page}: no .ipynb download button"
    )


def _unsharp(images: list[dict], frames: bool) -> list[str]:
    """Images (static panels' frames, or the other figures) with fewer than SHARPNESS pixels per CSS
    pixel; a static panel's frame counts once it has loaded (frames far from the screen load lazily)."""
    return [
        f"{i['src']}: {i['natural']} px shown at {i['shown']:.0f} px"
        for i in images
        if i["frame"] == frames
        and i["shown"] > 0
        and (i["natural"] > 0 or not frames)
        and i["natural"] < SHARPNESS * i["shown"]
    ]


@pytest.mark.parametrize("width", ["wide", "phone"])
def test_figures_are_sharp(visit, width):
    """A figure's PNG has at least 1.5 pixels per displayed CSS pixel: sharp on a high-density screen."""
    blurred = _unsharp(visit.facts[f"images_{width}"], frames=False)
    assert not blurred, f"{visit.page} ({width}): images too coarse for a DPR-2 screen:\n" + "\n".join(blurred)


@pytest.mark.parametrize("width", ["wide", "phone"])
def test_static_panel_frames_are_sharp(visit, width):
    blurred = _unsharp(visit.facts[f"images_{width}"], frames=True)
    assert not blurred, f"{visit.page} ({width}): static panel frames too coarse for a DPR-2 screen:\n" + "\n".join(
        blurred
    )


FILE_LIKE = re.compile(r"\.(png|jpe?g|gif|svg)$|_images/|^[0-9a-f]{16,}|^data:", re.I)


def test_images_have_descriptive_alt_texts(visit):
    """Every image says what it shows: an alt text of a few words, not a file name or a hash."""
    bad = [
        f"{i['src']}: alt={i['alt']!r}"
        for i in visit.facts["images_wide"]
        if not i["alt"] or len(i["alt"].split()) < 4 or FILE_LIKE.search(i["alt"].strip())
    ]
    assert not bad, f"{visit.page}: images without a descriptive alt text:\n" + "\n".join(bad)


@pytest.mark.parametrize("width", ["wide", "phone"])
def test_nothing_cut_off(visit, width):
    """At 1280 px and at 390 px nothing reaches past the window or a clipping box, except inside a
    box that scrolls sideways (display equations, tables, code)."""
    found = visit.facts[f"cut_{width}"]
    assert not found["page_scrolls"], f"{visit.page} ({width}): the whole page scrolls sideways: " + "; ".join(
        found["cut"]
    )
    assert not found["cut"], f"{visit.page} ({width}): content cut off:\n" + "\n".join(found["cut"])


def test_student_site_has_no_solution(visit):
    """The student site holds no solution; the main site has them (folded) on every exercise page."""
    if is_student_site():
        assert visit.facts["solution_nodes"] == 0, f"{visit.page}: the student site shows a solution"
    elif visit.facts["exercises"]:
        assert visit.facts["solution_nodes"] > 0, f"{visit.page}: exercises without any solution"


def test_student_site_holds_no_solution_code(notebook_page, visit):
    """No line of a solution's code is in the student site's page (hidden or not); the main site's page
    holds them, which shows that the lines are found when they are there."""
    lines = solution_lines(notebook_page)
    present = [line for line in lines if line in visit.facts["text"]]
    if is_student_site():
        assert not present, f"{notebook_page}: the student site holds solution code:\n" + "\n".join(present)
    elif lines:
        assert present, f"{notebook_page}: none of the solutions' code is on the page"


def test_checkers_are_there(notebook_page, visit):
    """Every checker cell of the chapter shows its verdict: "not attempted yet" on the student site,
    every check passed on the main site."""
    verdicts = visit.facts["checkers"]
    assert len(verdicts) == checker_cells(notebook_page), f"{notebook_page}: checker outputs found: {verdicts}"
    expected = "not attempted yet" if is_student_site() else "checks passed."
    wrong = [v for v in verdicts if expected not in v.splitlines()[0]]
    assert not wrong, f"{notebook_page}: checkers that do not say {expected!r}:\n" + "\n".join(wrong)
