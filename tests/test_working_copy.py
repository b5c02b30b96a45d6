"""tools/working_copy.py: in the reader's working copy a citation reads as the book prints it
("[Lipman et al., 2023]", "Anderson [1982]") and links to a references cell in the book's
bibliography style, instead of jupyterlab-myst's bare key; and jupyterlab-myst numbers a chapter's
blocks as the book does (Theorem 5.1, proofs and unlabelled equations unnumbered)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from pybtex.database import parse_string

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import working_copy as wc  # noqa: E402

BIB = parse_string(
    """
@article{zeta2020, title = {Late {Z}eta}, author = {Zeta, Ann}, journal = {J}, year = {2020}}
@article{beta2021, title = {Two}, author = {Beta, Bob and van der Gamma, Cy}, journal = {J}, year = {2021}}
@article{alpha2019, title = {Many}, author = {Alpha, Al and Beta, Bob and Delta, Di}, journal = {J}, year = {2019}}
@article{hy2005, title = {Accent}, author = {Hyv{\\"a}rinen, Aapo}, journal = {J}, year = {2005}}
""",
    "bibtex",
)


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("zeta2020", "Zeta"),
        ("beta2021", "Beta and van der Gamma"),
        ("alpha2019", "Alpha *et al.*"),
        ("hy2005", "Hyvärinen"),
    ],
)
def test_a_work_is_named_by_its_authors_last_names_as_the_author_year_style_does(key, names):
    assert wc.authors(BIB.entries[key]) == names


def test_parenthetical_and_narrative_citations_sorted_by_author_and_linked_to_their_entry():
    text, cited = wc.rewrite("See {cite}`zeta2020,alpha2019`; {cite:p}`hy2005`. {cite:t}`beta2021` agree.", BIB)
    assert text == (
        "See \\[[Alpha *et al.*, 2019](#cite-alpha2019), [Zeta, 2020](#cite-zeta2020)\\]; "
        "\\[[Hyvärinen, 2005](#cite-hy2005)\\]. Beta and van der Gamma \\[[2021](#cite-beta2021)\\] agree."
    )
    assert cited == ["zeta2020", "alpha2019", "hy2005", "beta2021"]
    with pytest.raises(KeyError, match="nobody1999"):
        wc.rewrite("{cite}`zeta2020,nobody1999`", BIB)


def test_the_references_cell_lists_each_work_once_with_the_target_its_citations_link_to():
    cell = wc.references(["zeta2020", "alpha2019", "zeta2020"], BIB)
    assert cell.splitlines()[:3] == ["## References", "", "(cite-alpha2019)="]
    assert re.findall(r"^\((cite-[\w]+)\)=$", cell, re.M) == ["cite-alpha2019", "cite-zeta2020"]
    assert "Al Alpha, Bob Beta, and Di Delta\\. Many\\." in cell and "Ann Zeta\\. Late Zeta\\." in cell


def test_a_chapter_gets_its_number_its_citations_written_out_and_one_references_cell_its_code_untouched(tmp_path):
    code = {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 3, "outputs": [], "source": "x = 1"}
    proof = "```{prf:proof}\nEasy.\n```\n\n::::{prf:proof} Long\n:::{note}\n:::\n::::\n"
    cells = [
        {
            "cell_type": "markdown",
            "id": "m",
            "metadata": {},
            "source": ["(ch-a)=\n", "# A\n", "By {cite:t}`zeta2020`.\n"],
        },
        code,
        {"cell_type": "markdown", "id": "p", "metadata": {}, "source": proof},
    ]
    path = tmp_path / "12_a.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert wc.write(path, BIB)
    nb = json.loads(path.read_text())
    assert [c["id"] for c in nb["cells"]] == ["m", "c", "p", "references"] and nb["cells"][1] == code
    assert "".join(nb["cells"][0]["source"]) == (
        "---\nnumbering:\n  enumerator: 12.%s\n  equation: false\n---\n"
        "(ch-a)=\n# A\nBy Zeta \\[[2020](#cite-zeta2020)\\].\n"
    )
    assert "".join(nb["cells"][2]["source"]) == (
        "```{prf:proof}\n:nonumber:\nEasy.\n```\n\n::::{prf:proof} Long\n:nonumber:\n:::{note}\n:::\n::::\n"
    )
    assert not wc.write(path, BIB)  # nothing left to change: no second front matter, option or references cell


def test_every_work_the_book_cites_is_in_its_bibliography_and_the_working_copy_shows_no_role(tmp_path):
    bib = wc.parse_file(str(wc.BIB))
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        before = json.loads(path.read_text())
        assert wc.write(copy, bib), f"{path.name} cites nothing"
        after = json.loads(copy.read_text())
        text = "".join("".join(c["source"]) for c in after["cells"] if c["cell_type"] == "markdown")
        assert "{cite" not in text, path.name
        assert [c for c in after["cells"] if c["cell_type"] == "code"] == [
            c for c in before["cells"] if c["cell_type"] == "code"
        ]
        linked = set(re.findall(r"\]\(#cite-([\w]+)\)", text))
        assert linked == set(re.findall(r"^\(cite-([\w]+)\)=$", text, re.M)) != set(), path.name


def test_a_link_to_a_file_of_the_repository_is_written_as_the_book_links_it():
    from fmtutor.launch import repository_url

    text, cited = wc.rewrite("The script {repo}`benchmarks/cfm_quality.py` and {repo}`tests/`.", wc.parse_file(wc.BIB))
    url = repository_url()
    assert cited == []
    assert text == (
        f"The script [`benchmarks/cfm_quality.py`]({url}/blob/main/benchmarks/cfm_quality.py) and "
        f"[`tests/`]({url}/tree/main/tests)."
    )
