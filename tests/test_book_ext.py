"""The book's Sphinx extension (_ext/fmtutor_book.py): a page's <head> keeps one copy of each script."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
from fmtutor_book import _colab_button, colab_launch_url, repository_link, unique_head_scripts  # noqa: E402

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


COLAB = "https://colab.research.google.com/github/o/r/blob/dev"


def test_the_colab_button_opens_the_chapters_colab_edition_where_there_is_one(tmp_path):
    (tmp_path / "colab").mkdir()
    (tmp_path / "colab" / "01_odes.ipynb").write_text("{}")
    url = f"{COLAB}/book/01_odes.ipynb"
    assert colab_launch_url(url, "book/01_odes", tmp_path) == f"{COLAB}/colab/01_odes.ipynb"
    assert colab_launch_url(f"{COLAB}/book/02_sdes.ipynb", "book/02_sdes", tmp_path).endswith("/book/02_sdes.ipynb")
    assert colab_launch_url("https://other/x.ipynb", "book/01_odes", tmp_path) == "https://other/x.ipynb"


def test_the_page_handler_rewrites_the_colab_button_only(tmp_path):
    (tmp_path / "colab").mkdir()
    (tmp_path / "colab" / "01_odes.ipynb").write_text("{}")
    binder = "https://mybinder.org/v2/gh/o/r/dev?urlpath=lab/tree/book/01_odes.ipynb"
    buttons = [{"text": "Binder", "url": binder}, {"text": "Colab", "url": f"{COLAB}/book/01_odes.ipynb"}]
    context = {
        "header_buttons": [
            {"label": "download-buttons", "buttons": []},
            {"label": "launch-buttons", "buttons": buttons},
        ]
    }
    app = type("App", (), {"srcdir": str(tmp_path)})()
    _colab_button(app, "book/01_odes", "page.html", context, None)
    assert [b["url"] for b in buttons] == [binder, f"{COLAB}/colab/01_odes.ipynb"]
    _colab_button(app, "intro", "page.html", {}, None)  # a page without launch buttons: nothing to do


def test_every_chapter_has_a_colab_edition_for_its_button():
    root = Path(__file__).resolve().parents[1]
    for chapter in sorted((root / "book").glob("[0-9][0-9]_*.ipynb")):
        url = colab_launch_url(f"{COLAB}/book/{chapter.name}", f"book/{chapter.stem}", root)
        assert url == f"{COLAB}/colab/{chapter.name}"


def test_the_colab_button_that_the_installed_theme_builds_is_the_one_rewritten_after_it(tmp_path):
    from types import SimpleNamespace

    import fmtutor_book

    launch = pytest.importorskip("sphinx_book_theme.header_buttons.launch")
    for folder in ("book", "colab"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "01_odes.ipynb").write_text("{}")
    buttons = {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org"}
    options = {"launch_buttons": {**buttons, "notebook_interface": "jupyterlab"}, "repository_branch": "dev"}
    env = SimpleNamespace(
        doc2path=lambda name: str(tmp_path / f"{name}.ipynb"), metadata={"book/01_odes": {"kernelspec": {}}}
    )
    app = SimpleNamespace(env=env, config={"html_theme_options": options}, srcdir=str(tmp_path))
    repo = {"github_url": "https://github.com", "github_user": "o", "github_repo": "r"}
    context = {"pagename": "book/01_odes", "sourcename": "book/01_odes.ipynb", "header_buttons": [], **repo}
    launch.add_launch_buttons(app, "book/01_odes", "page.html", context, None)
    _colab_button(app, "book/01_odes", "page.html", context, None)
    urls = {b["text"]: b["url"] for b in context["header_buttons"][0]["buttons"]}
    assert urls["Colab"] == "https://colab.research.google.com/github/o/r/blob/dev/colab/01_odes.ipynb"
    assert urls["Binder"] == "https://mybinder.org/v2/gh/o/r/dev?urlpath=lab/tree/book/01_odes.ipynb"
    connected = []
    ignore = lambda *a, **k: None
    fmtutor_book.setup(
        SimpleNamespace(add_role=ignore, add_css_file=ignore, connect=lambda *a, **k: connected.append((a, k)))
    )
    event, priority = next((a[0], k.get("priority", 500)) for a, k in connected if a[1] is _colab_button)
    assert event == "html-page-context" and priority > 501  # the theme adds its launch buttons at 501
