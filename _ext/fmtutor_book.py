"""Sphinx extension of the book (``sphinx.local_extensions`` in _config.yml): the book's own CSS,
and each page's scripts without duplicates.

Jupyter Book 1.0.4 registers sphinx-thebe's inline configuration script twice, so every page
declared ``const THEBE_JS_URL`` twice and the browser logged "Identifier 'THEBE_JS_URL' has already
been declared". The second copy of any identical script is dropped from the page.
"""
from __future__ import annotations

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


def setup(app):
    app.connect("builder-inited", _static_path)
    app.connect("html-page-context", _unique_scripts, priority=990)   # after every extension added its own
    app.add_css_file("fmtutor.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
