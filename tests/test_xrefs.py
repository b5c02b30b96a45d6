"""tools/xrefs.py: numbered references carry their number in their text, so that a chapter opened
alone (JupyterLab, Notebook 7, Colab) reads "Chapter 4" where the book links "Chapter 4"."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import xrefs  # noqa: E402


def notebook(path: Path, *markdown: str) -> Path:
    cells = [{"cell_type": "markdown", "id": str(i), "metadata": {}, "source": m} for i, m in enumerate(markdown)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture
def book(tmp_path):
    notebook(tmp_path / "01_a.ipynb", "(ch-a)=\n# A\n\n## One\n\ntext\n\n(sec-a-two)=\n## Two\n")
    notebook(
        tmp_path / "02_b.ipynb",
        "(ch-b)=\n# B\n\nAs in {numref}`Chapter %s <ch-a>`, see {numref}`Section %s <sec-a-two>`.\n",
        "(not-a-heading)=\nplain text\n\n## First\n",
    )
    return tmp_path


def test_chapters_are_numbered_by_file_and_sections_by_their_level_two_heading(book):
    assert xrefs.numbers(book) == {"ch-a": "1", "sec-a-two": "1.2", "ch-b": "2"}


def test_numref_is_rewritten_with_its_number_and_then_checks_clean(book):
    known = xrefs.numbers(book)
    path = book / "02_b.ipynb"
    assert [p.split(": ", 1)[1] for p in xrefs.problems(path, known)] == [
        "{numref}`Chapter %s <ch-a>` shows as '%s' outside the built book",
        "{numref}`Section %s <sec-a-two>` shows as '%s' outside the built book",
    ]
    assert xrefs.write(path, known)
    text = json.loads(path.read_text())["cells"][0]["source"]
    assert "".join(text) == "(ch-b)=\n# B\n\nAs in {ref}`Chapter 1 <ch-a>`, see {ref}`Section 1.2 <sec-a-two>`.\n"
    assert xrefs.problems(path, known) == []
    assert not xrefs.write(path, known)  # nothing left to rewrite


def test_a_reference_with_a_wrong_number_or_unknown_label_is_named(book):
    known = xrefs.numbers(book)
    path = notebook(book / "03_c.ipynb", "See {ref}`Chapter 2 <ch-a>` and {ref}`Chapters 7 <ch-gone>`.")
    assert xrefs.problems(path, known) == [
        "03_c.ipynb: {ref}`Chapter 2 <ch-a>` points to 1",
        "03_c.ipynb: {ref}`Chapters 7 <ch-gone>` points to no target",
    ]
    with pytest.raises(KeyError, match="ch-gone"):
        xrefs.rewrite("{numref}`%s <ch-gone>`", known)


def test_the_chapters_numbered_references_read_the_same_outside_the_book():
    known = xrefs.numbers()
    assert known["ch-odes"] == "1" and known["ch-likelihoods"] == "9"
    found = [p for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")) for p in xrefs.problems(path, known)]
    assert not found, "\n".join(found)
