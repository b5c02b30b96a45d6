"""The book's Sphinx extension (_ext/fmtutor_book.py): a page's <head> keeps one copy of each script."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
from fmtutor_book import repository_link, unique_head_scripts  # noqa: E402

import pytest  # noqa: E402

THEBE = '<script>const THEBE_JS_URL = "x"; const thebe_selector = ".cell"</script>'


def test_a_repeated_head_script_is_dropped_and_the_first_kept_in_place():
    html = (
        f"<html><head>{THEBE}\n<script src='a.js'></script>\n{THEBE}\n<script src='a.js'></script>\n"
        f"<script src='b.js'></script></head><body>{THEBE}{THEBE}</body></html>"
    )
    out = unique_head_scripts(html)
    head, body = out.split("</head>")
    assert head.count("THEBE_JS_URL") == 1 and head.count("a.js") == 1 and head.count("b.js") == 1
    assert head.index("THEBE_JS_URL") < head.index("a.js") < head.index("b.js")
    assert body.count("THEBE_JS_URL") == 2  # scripts in the body are the page's own: untouched


def test_a_page_without_head_or_repeats_is_unchanged():
    assert unique_head_scripts("<p>no head</p>") == "<p>no head</p>"
    single = f"<head>{THEBE}<script src='a.js'></script></head><body></body>"
    assert unique_head_scripts(single) == single


def test_repository_links_name_the_branch_and_tell_files_from_folders():
    options = {"repository_url": "https://github.com/o/r/", "repository_branch": "dev"}
    assert repository_link(options, "benchmarks/x.py") == "https://github.com/o/r/blob/dev/benchmarks/x.py"
    assert repository_link(options, "tests/") == "https://github.com/o/r/tree/dev/tests"
    assert repository_link({"repository_url": "https://h/o/r"}, "a.py") == "https://h/o/r/blob/main/a.py"
    with pytest.raises(ValueError, match="repository.url"):
        repository_link({}, "a.py")
