"""tools/colab_edition.py and tools/colab_markdown.py: the Colab edition (colab/) is the chapters
with their MyST written as the CommonMark + HTML + $-math that Colab renders, numbered as the book
numbers them, and is what the tool writes from the committed chapters."""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_edition as ce  # noqa: E402
import colab_markdown as cm  # noqa: E402
import xrefs  # noqa: E402
from pybtex.database import parse_file  # noqa: E402

BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
MYST = ("{prf:", "{cite", "{ref}", "{eq}", "{numref}", "```{", ":::{", ":label:", ":class:", "{{")
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")  # Colab renders GFM tables too


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def rendered(path: Path) -> list[str]:
    """Each markdown cell of ``path`` rendered to HTML."""
    return [MARKDOWN.render("".join(c["source"])) for c in load(path)["cells"] if c["cell_type"] == "markdown"]


def outside_code(html: str) -> str:
    return re.sub(r"<(pre|code)\b.*?</\1>", "", html, flags=re.S)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("colab")
    ce.write(BOOK, out)
    return out


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_committed_edition_is_what_the_tool_writes_from_the_committed_chapters(chapter, written):
    committed = ROOT / "colab" / chapter.name
    assert committed.is_file(), f"colab/{chapter.name} is missing: run python3 tasks.py colab"
    assert committed.read_text(encoding="utf-8") == (written / chapter.name).read_text(encoding="utf-8"), (
        f"colab/{chapter.name} is stale: run python3 tasks.py colab"
    )


def test_the_edition_holds_one_notebook_per_chapter_and_nothing_else():
    assert sorted(p.name for p in (ROOT / "colab").iterdir()) == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_rendered_markdown_shows_no_myst_outside_code(chapter):
    for html in rendered(ROOT / "colab" / chapter.name):
        text = outside_code(html)
        assert not [m for m in MYST if m in text], (chapter.name, [m for m in MYST if m in text], text[:300])
        assert not re.search(r"^\([\w-]+\)=", re.sub(r"<[^>]+>", "", text), re.M), text[:300]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_are_the_chapters_own_in_order_without_outputs(chapter):
    book = [c for c in load(chapter)["cells"] if c["cell_type"] == "code"]
    colab = [c for c in load(ROOT / "colab" / chapter.name)["cells"] if c["cell_type"] == "code"]
    assert ["".join(c["source"]) for c in colab] == ["".join(c["source"]) for c in book]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in colab)
    assert "install-fmtutor" in colab[0]["metadata"]["tags"]  # the cell that makes the chapter run in Colab


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_edition_notebook_is_valid_nbformat_with_unique_cell_ids(chapter):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "colab" / chapter.name, as_version=4)
    nbformat.validate(nb)
    assert len({c.id for c in nb.cells}) == len(nb.cells)


@functools.cache
def anchors(path: Path) -> set[str]:
    return {i for html in rendered(path) for i in re.findall(r'<a id="([\w-]+)"', html)}


def test_every_link_to_a_label_has_its_anchor_in_the_notebook_it_names():
    folder = ce.colab_folder(ce.config())
    checked = 0
    for chapter in CHAPTERS:
        here = anchors(ROOT / "colab" / chapter.name)
        for html in rendered(ROOT / "colab" / chapter.name):
            for target, label in re.findall(r'href="([^"#]*)#([\w-]+)"', html):
                other = target.removeprefix(f"{folder}/")
                assert target in ("", f"{folder}/{other}"), target
                assert label in (anchors(ROOT / "colab" / other) if target else here), (chapter.name, target, label)
                checked += 1
    assert checked > 200  # 105 {ref}, 35 {prf:ref} and 68 citations in the chapters


def test_numbered_titles_are_the_books_numbers_counted_per_chapter_and_kind():
    known = xrefs.targets(BOOK)
    for chapter in CHAPTERS:
        html = "".join(rendered(ROOT / "colab" / chapter.name))
        titles = re.findall(r'<a id="([\w-]+)"[^>]*></a> <strong>([A-Z][a-z]+\.?) (\d+\.\d+)', html)
        seen: dict[str, list[str]] = {}
        for label, word, number in titles:
            seen.setdefault(word, []).append(number)
            if word != "Fig.":
                assert known[label] == (word, number), (chapter.name, label, word, number)
        n = int(chapter.name[:2])
        assert all(numbers == [f"{n}.{k}" for k in range(1, len(numbers) + 1)] for numbers in seen.values()), seen
        blocks = "\n".join("".join(c["source"]) for c in load(chapter)["cells"] if c["cell_type"] == "markdown")
        for kind in ("exercise", "prf:theorem", "prf:proposition", "prf:definition"):
            word = kind.removeprefix("prf:").title()
            assert len(seen.get(word, [])) == len(re.findall(rf"^`{{3,}}\{{{kind}\}}", blocks, re.M)), (chapter, kind)
        figures = [number for _, _, number in xrefs.figures(chapter)]
        assert seen.get("Fig.", []) == figures


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_gated_solution_is_a_folded_heading_over_its_code_closed_by_a_heading_of_its_level(chapter):
    nb = load(ROOT / "colab" / chapter.name)
    cells, folded = nb["cells"], nb["metadata"]["colab"]["collapsed_sections"]
    starts = [i for i, c in enumerate(cells) if re.match(r"#+ Solution to Exercise", "".join(c["source"]))]
    source = chapter.read_text(encoding="utf-8")
    assert len(starts) == source.count("{solution-start}") and folded == [cells[i]["id"] for i in starts]
    for i in starts:
        level = "".join(cells[i]["source"]).split(" ")[0]
        assert cells[i]["metadata"]["id"] == cells[i]["id"]  # Colab names a folded section by metadata.id
        end = next(j for j in range(i + 1, len(cells)) if "".join(cells[j]["source"]).startswith("#"))
        assert "".join(cells[end]["source"]).startswith(f"{level} Checking Exercise ")
        assert any("solution" in c["metadata"].get("tags", []) for c in cells[i + 1 : end])  # the code it folds


CONTEXT = cm.Chapter(
    number=2,
    targets={"thm-a": ("Theorem", "2.1"), "ex-a": ("Exercise", "2.3"), "sec-b": ("Section", "1.4")},
    titles={"ex-a": "Warm-up ★"},
    substitutions={"repository_url": "https://example.org/r"},
    colab_folder="https://colab.example/github/o/r/blob/main/colab",
    files={1: "01_one.ipynb", 2: "02_two.ipynb"},
)


def test_a_theorem_and_its_proof_read_as_in_a_printed_book():
    text = "```{prf:theorem} Big\n:label: thm-a\n\nAll is well.\n```\n\n```{prf:proof}\nClear.\n\n$$\nx = 1\n$$\n```"
    assert cm.convert(text, CONTEXT) == (
        '<a id="thm-a" name="thm-a"></a> **Theorem 2.1 (Big).** All is well.\n\n*Proof.* Clear.\n\n$$\nx = 1\n$$\n\n∎'
    )
    assert cm.convert("```{prf:proof}\nShort.\n```", CONTEXT) == "*Proof.* Short. ∎"


def test_an_exercise_its_solution_and_an_admonition():
    text = "```{exercise} Warm-up ★\n:label: ex-a\n\nDo it.\n```\n```{solution} ex-a\n:class: dropdown\n\nDone.\n```"
    assert cm.convert(text, CONTEXT) == (
        '<a id="ex-a" name="ex-a"></a> **Exercise 2.3** (Warm-up ★)\n\nDo it.\n'
        "<details><summary>Solution to Exercise 2.3 (Warm-up ★)</summary>\n\nDone.\n\n</details>"
    )
    assert cm.convert("```{tip}\nLine one\n\n- item\n```", CONTEXT) == "> **Tip**\n>\n> Line one\n>\n> - item"
    assert cm.convert("```{admonition} Goals\n:class: tip\nRead.\n```", CONTEXT) == "> **Goals**\n>\n> Read."


def test_references_link_here_or_to_the_other_chapters_edition_and_targets_become_anchors():
    text = "(sec-x)=\nSee {prf:ref}`Theorem 2.1 <thm-a>` and {ref}`Section 1.4 <sec-b>` at {{ repository_url }}."
    assert cm.convert(text, CONTEXT) == (
        '<a id="sec-x" name="sec-x"></a>\nSee [Theorem 2.1](#thm-a) and '
        "[Section 1.4](https://colab.example/github/o/r/blob/main/colab/01_one.ipynb#sec-b) at https://example.org/r."
    )
    assert cm.convert("```python\n{ref}`x` (a)=\n```", CONTEXT) == "```python\n{ref}`x` (a)=\n```"  # code as written
    assert cm.convert("{prf:ref}`thm-a`", CONTEXT) == "[Theorem 2.1](#thm-a)"  # a bare label gets the book's words


def test_a_citation_s_brackets_are_entities_and_math_keeps_its_backslashes():
    """Colab could read a citation's escaped brackets as the display-math delimiters \\[ and \\]."""
    text = r"flows \[[Lipman *et al.*, 2023](#cite-l)\] and $a \\[2pt] b$"
    assert cm.convert(text, CONTEXT) == r"flows &#91;[Lipman *et al.*, 2023](#cite-l)&#93; and $a \\[2pt] b$"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ref}`sec-b`", r"\{ref\}`sec-b`: Colab cannot show this role"),
        ("{ref}`Section 9.9 <nowhere>`", "'nowhere': no chapter, section, block or figure"),
        ("```{figure} a.png\n```", r"\{figure\}: the Colab edition has no plain-markdown form"),
        ("```{prf:lemma}\nUnlabelled.\n```", r"a numbered \{prf:lemma\} needs a :label:"),
    ],
)
def test_what_colab_could_not_show_is_refused_by_name(text, message):
    with pytest.raises((ValueError, KeyError), match=message):
        cm.convert(text, CONTEXT)


def test_a_chapter_with_a_gated_solution_and_a_citation(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "references.bib").write_text("@article{a2020, title={T}, author={Ann, Al}, journal={J}, year={2020}}\n")
    markdown = [
        "(ch-one)=\n# One\n\n## Part\n\n```{exercise} Warm-up\n:label: ex-one\n\nAs {cite:t}`a2020` did.\n```\n\n"
        "````{solution-start} ex-one\n:class: dropdown\n````\n",
        "````{solution-end}\n````",
    ]
    cells = [{"cell_type": "markdown", "id": "m0", "metadata": {}, "source": markdown[0]}]
    cells += [
        {"cell_type": "code", "id": "c", "metadata": {}, "outputs": [{"x": 1}], "execution_count": 4, "source": "a = 1"}
    ]
    cells += [{"cell_type": "markdown", "id": "m1", "metadata": {}, "source": markdown[1]}]
    (book / "01_one.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    ch = ce.chapter_context(book / "01_one.ipynb", book, ce.config())
    nb = ce.edition(book / "01_one.ipynb", ch, parse_file(str(book / "references.bib")))
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert sources[1:] == [
        "### Solution to Exercise 1.1 (Warm-up)",
        "a = 1",
        "### Checking Exercise 1.1",
        '## References\n\n<a id="cite-a2020" name="cite-a2020"></a>\nAl Ann\\. T\\. *J*, 2020\\.',
    ]
    assert sources[0].endswith("**Exercise 1.1** (Warm-up)\n\nAs Ann &#91;[2020](#cite-a2020)&#93; did.")
    assert nb["metadata"]["colab"]["collapsed_sections"] == ["m0-1"] and nb["cells"][2]["outputs"] == []


def test_a_notebook_whose_chapter_is_gone_is_removed_and_an_unopened_solution_end_refused(tmp_path):
    book, out = tmp_path / "book", tmp_path / "colab"
    book.mkdir()
    out.mkdir()
    (book / "references.bib").write_text("")
    (out / "02_gone.ipynb").write_text("{}")
    cells = [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# One\n\n````{solution-end}\n````\n"}]
    (book / "01_one.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(ValueError, match=r"m: a \{solution-end\} of no open exercise"):
        ce.write(book, out)
    assert not (out / "02_gone.ipynb").exists()
    cells[0]["source"] = "# One\n"
    (book / "01_one.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert ce.write(book, out) == [out / "01_one.ipynb"] and ce.write(book, out) == []  # rewritten only when changed
