"""tools/xrefs.py: numbered references carry their number in their text, so that a chapter opened
alone (JupyterLab, Notebook 7, Colab) reads "Chapter 4" or "Theorem 1.2" where the book links
"Chapter 4" or "Theorem 1.2"."""

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
    known = xrefs.targets(book)
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
    known = xrefs.targets(book)
    path = notebook(book / "03_c.ipynb", "See {ref}`Chapter 2 <ch-a>` and {ref}`Chapters 7 <ch-gone>`.")
    assert xrefs.problems(path, known) == [
        "03_c.ipynb: {ref}`Chapter 2 <ch-a>` points to 1",
        "03_c.ipynb: {ref}`Chapters 7 <ch-gone>` points to no target",
    ]
    with pytest.raises(KeyError, match="ch-gone"):
        xrefs.rewrite("{numref}`%s <ch-gone>`", known)


BLOCKS = (
    "(ch-c)=\n# C\n\n```{prf:definition} A word\n:label: def-c\n\ntext\n```\n\n"
    "```{prf:theorem} First\n:label: thm-c-first\n\ntext\n```\n\n```{prf:proof}\n:label: proof-c\nend\n```\n",
    "````{exercise} One ★\n:label: ex-c-one\n\ntext\n````\n\n```{prf:theorem} Unnumbered\n:nonumber:\n"
    ":label: thm-c-aside\n```\n\n:::{prf:theorem} Second\n:label: thm-c-second\n:::\n\n```{exercise} Two\n:label: ex-c-two\n```\n",
)


def test_blocks_are_numbered_per_chapter_and_per_kind_proofs_and_nonumber_blocks_not_at_all(book):
    notebook(book / "03_c.ipynb", *BLOCKS)
    known = xrefs.targets(book)
    assert {label: known[label] for label in known if label.startswith(("def-", "thm-", "ex-", "proof-"))} == {
        "def-c": ("Definition", "3.1"),
        "thm-c-first": ("Theorem", "3.1"),
        "thm-c-second": ("Theorem", "3.2"),
        "ex-c-one": ("Exercise", "3.1"),
        "ex-c-two": ("Exercise", "3.2"),
    }
    assert known["ch-c"] == ("Chapter", "3") and xrefs.numbers(book)["thm-c-second"] == "3.2"


def test_label_only_references_get_the_words_the_book_shows_and_then_check_clean(book):
    notebook(book / "03_c.ipynb", *BLOCKS)
    known = xrefs.targets(book)
    path = notebook(
        book / "04_d.ipynb",
        "By {prf:ref}`thm-c-second` and {prf:ref}`def-c` ({ref}`ex-c-two`; {numref}`ex-c-one` asks why),"
        " as in {ref}`Chapter 3 <ch-c>`.",
    )
    assert [p.split(": ", 1)[1] for p in xrefs.problems(path, known)] == [
        "{prf:ref}`thm-c-second` shows as its label outside the built book",
        "{prf:ref}`def-c` shows as its label outside the built book",
        "{ref}`ex-c-two` shows as its label outside the built book",
        "{numref}`ex-c-one` shows as its label outside the built book",
    ]
    assert xrefs.write(path, known)
    assert "".join(json.loads(path.read_text())["cells"][0]["source"]) == (
        "By {prf:ref}`Theorem 3.2 <thm-c-second>` and {prf:ref}`Definition 3.1 <def-c>` "
        "({ref}`Exercise 3.2 <ex-c-two>`; {ref}`Exercise 3.1 <ex-c-one>` asks why), as in {ref}`Chapter 3 <ch-c>`."
    )
    assert xrefs.problems(path, known) == []
    with pytest.raises(KeyError, match="proof-c"):
        xrefs.rewrite("{prf:ref}`proof-c`", known)  # a proof has no number to write


def test_a_reference_with_the_right_number_but_the_wrong_word_is_named(book):
    notebook(book / "03_c.ipynb", *BLOCKS)
    path = book / "page.md"
    path.write_text("{prf:ref}`Lemma 3.2 <thm-c-second>`, {ref}`Exercises 3.1 <ex-c-one>`, {ref}`3.2 <ex-c-two>`")
    assert xrefs.problems(path, xrefs.targets(book)) == [
        "page.md: {prf:ref}`Lemma 3.2 <thm-c-second>` points to Theorem 3.2"
    ]


def test_the_chapters_numbered_references_read_the_same_outside_the_book():
    known = xrefs.targets()
    assert known["ch-odes"] == ("Chapter", "1") and known["ch-likelihoods"] == ("Chapter", "9")
    # as the built book numbers them: the second theorem and the fourth exercise of chapter 1, ...
    assert known["thm-picard"] == ("Theorem", "1.2") and known["def-sliced-w2"] == ("Definition", "1.1")
    assert known["ex-odes-euler-solve"] == ("Exercise", "1.4")
    assert known["prop-paths-one-flow"] == ("Proposition", "3.2")
    assert known["ex-straight-bridge"] == ("Exercise", "8.3") and known["ex-straight-reflow"] == ("Exercise", "8.4")
    pages = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
    found = [p for path in pages for p in xrefs.problems(path, known)]
    assert not found, "\n".join(found)
