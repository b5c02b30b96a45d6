"""The student site's chapters: solutions removed, every output computed without them kept as stored,
each checker showing the verdict it gives the stub ("not attempted yet"), a cell that shows a solution
at work refused. On the synthetic chapter of test_edition.py and on every real chapter."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output
from student_site import main, site_leaks, site_notebook, solution_names, write_site_edition
from test_edition import CHAPTERS, synthetic_notebook, text_of, without_docstrings

NOT_ATTEMPTED = "· double: not attempted yet (the function still raises NotImplementedError)"


def outputs_text(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def code_cell(nb, fragment: str):
    return next(c for c in nb.cells if c.cell_type == "code" and fragment in c.source)


def test_synthetic_site_keeps_stored_outputs_and_shows_the_checkers_verdict_on_the_stub():
    nb = synthetic_notebook()
    original = json.dumps(nb, sort_keys=True)
    site = site_notebook(nb)
    assert json.dumps(nb, sort_keys=True) == original, "the source notebook was modified"
    assert code_cell(site, "print(1 + 1)").outputs == code_cell(nb, "print(1 + 1)").outputs
    assert code_cell(site, "print(1 + 1)").execution_count == 3
    verdict = code_cell(site, "check_double(double)").outputs
    assert [o.output_type for o in verdict] == ["execute_result"]
    assert verdict[0].data["text/plain"].startswith(NOT_ATTEMPTED)
    assert code_cell(site, "def double").outputs == []
    for secret in ("secret", "x * scale", "{solution"):
        assert secret not in text_of(site) + outputs_text(site)
    assert site_leaks(site, solution_names(nb)) == []


def test_a_cell_that_shows_the_solution_at_work_is_refused():
    nb = synthetic_notebook()
    nb.cells.append(
        new_code_cell("print(double(torch.ones(2)))", outputs=[new_output("stream", text="tensor([2., 2.])")])
    )
    with pytest.raises(ValueError, match=r"cell 8 uses the solution's \['double'\] but calls no checker"):
        site_notebook(nb, "ch.ipynb")


def test_site_leaks_names_each_problem():
    nb = synthetic_notebook()
    site = site_notebook(nb)
    code_cell(site, "def double").outputs = [new_output("stream", text="debug print of the solution")]
    code_cell(site, "check_double(double)").outputs = [new_output("stream", text="✓ double: all 1 checks passed.")]
    site.cells.append(nbformat.v4.new_markdown_cell("```{solution} ex-test-double\nsecret\n```"))
    problems = site_leaks(site, solution_names(nb))
    assert any("a solution cell has outputs" in p for p in problems)
    assert any("a checker shows a verdict on a solution" in p for p in problems)
    assert any("a solution directive is still there" in p for p in problems)
    assert not any("outputs were not cleared" in p for p in problems), "stored outputs are the point of the site"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_real_chapter_site_copy(path):
    nb = nbformat.read(path, as_version=4)
    site, names = site_notebook(nb, path.name), solution_names(nb)
    assert site_leaks(site, names) == []
    checkers = [c for c in site.cells if c.cell_type == "code" and "from fmtutor.exercises" in c.source]
    assert len(checkers) == len(names) > 0
    for cell in checkers:
        assert "not attempted yet" in cell.outputs[-1].data["text/plain"], cell.outputs
    kept = [
        c
        for c in site.cells
        if c.cell_type == "code" and c not in checkers and "solution" not in c.metadata.get("tags", [])
    ]
    stored = {c.id: c.get("outputs") for c in nb.cells}
    assert all(c.outputs == stored[c.id] for c in kept)
    assert sum(bool(c.outputs) for c in kept) >= 5, "the figures and numbers of the chapter are gone"
    shown = without_docstrings(text_of(site)) + outputs_text(site)
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            body = [line.strip() for line in without_docstrings(cell.source).splitlines()[1:]]
            leaked = [line for line in body if len(line) >= 16 and line in shown and line not in text_of_others(nb)]
            assert not leaked, f"{path.name}: solution lines in the student site: {leaked}"


def text_of_others(nb) -> str:
    return "\n".join(c.source for c in nb.cells if "solution" not in c.metadata.get("tags", []))


def test_command_line_writes_the_site_edition_and_refuses_to_overwrite(tmp_path: Path):
    src, out = tmp_path / "book", tmp_path / "site"
    src.mkdir()
    nbformat.write(synthetic_notebook(), src / "01_test.ipynb")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main([str(src), str(out)]) == 0
    assert "01_test.ipynb: solutions removed, stored outputs kept" in printed.getvalue()
    written = nbformat.read(out / "01_test.ipynb", as_version=4)
    assert code_cell(written, "check_double").outputs[0].data["text/plain"].startswith(NOT_ATTEMPTED)
    with pytest.raises(ValueError, match="out must differ from src"):
        write_site_edition(src, src)
