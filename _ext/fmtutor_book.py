"""Sphinx extension of the book (``sphinx.local_extensions`` in _config.yml): the book's own CSS,
each page's scripts without duplicates, the role ``{repo}`benchmarks/x.py``` that links a file
of the book's repository (its address built from ``repository`` in _config.yml, written there once),
and a chapter's Colab launch button pointed at the chapter's Colab edition, ``colab/NN_slug.ipynb``
(written for plain markdown by ``tools/colab_edition.py``: Colab renders no MyST).

Jupyter Book 1.0.4 registers sphinx-thebe's inline configuration script twice, so every page
declared ``const THEBE_JS_URL`` twice and the browser logged "Identifier 'THEBE_JS_URL' has already
been declared". The second copy of any identical script is dropped from each page: from the
page's script list, and (since another extension's page handler may end the event before this one
runs) from the ``<head>`` of every written page at the end of the build.
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def _static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (str(script), tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def unique_head_scripts(html: str) -> str:
    """``html`` with every repeated, identical ``<script>`` element of its ``<head>`` removed."""
    end = html.find("</head>")
    if end < 0:
        return html
    seen: set[str] = set()

    def keep_first(match: re.Match) -> str:
        tag = match.group(0)
        if tag in seen:
            return ""
        seen.add(tag)
        return tag

    return _SCRIPT.sub(keep_first, html[:end]) + html[end:]


def _dedupe_written_pages(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = unique_head_scripts(text)
        if new != text:
            page.write_text(new, encoding="utf-8")


def repository_link(theme_options: dict, path: str) -> str:
    """The address of ``path`` in the book's repository: ``<url>/blob/<branch>/<path>`` (``tree`` for a
    folder, written with a trailing slash)."""
    base = str(theme_options.get("repository_url") or "").rstrip("/")
    if not base:
        raise ValueError("the {repo} role needs repository.url in _config.yml")
    branch = theme_options.get("repository_branch") or "main"
    return f"{base}/{'tree' if path.endswith('/') else 'blob'}/{branch}/{path.strip('/')}"


def _repo_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes

    url = repository_link(inliner.document.settings.env.config.html_theme_options, text)
    return [nodes.reference(rawtext, "", nodes.literal(text, text), refuri=url)], []


COLAB_EDITION = "colab"  # the folder of the Colab edition, beside book/


def colab_launch_url(url: str, pagename: str, srcdir: str | Path) -> str:
    """The theme's Colab launch ``url`` of page ``pagename`` (``.../blob/<branch>/book/01_odes.ipynb``)
    pointed at the page's Colab edition (``.../blob/<branch>/colab/01_odes.ipynb``) when ``srcdir``
    holds one; otherwise ``url`` unchanged."""
    name = f"{Path(pagename).name}.ipynb"
    suffix = f"/{pagename}.ipynb"
    if not url.endswith(suffix) or not (Path(srcdir) / COLAB_EDITION / name).is_file():
        return url
    return f"{url.removesuffix(suffix)}/{COLAB_EDITION}/{name}"


def _colab_button(app, pagename, templatename, context, doctree) -> None:
    for group in context.get("header_buttons") or []:
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab" and button.get("url"):
                button["url"] = colab_launch_url(button["url"], pagename, app.srcdir)


def setup(app):
    app.add_role("repo", _repo_role)
    app.connect("builder-inited", _static_path)
    app.connect("html-page-context", _unique_scripts, priority=990)  # after every extension added its own
    app.connect("html-page-context", _colab_button, priority=990)  # after the theme's launch buttons (501)
    app.connect("build-finished", _dedupe_written_pages)
    app.add_css_file("fmtutor.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
