"""The student edition: solutions removed, stubs that make the checkers say "not attempted yet",
checkers and exercise text kept, outputs and widget state cleared, the instructor edition untouched.

Runs on small synthetic notebooks built here and on every real chapter in book/ (a chapter with no
exercise yet is skipped for the checks that need one).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import keyword
import json
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from edition import (
    STUB_MESSAGE,
    leaks,
    main,
    strip_solution_markdown,
    strip_widget_state,
    student_notebook,
    stub_source,
    write_edition,
)
from fmtutor.exercises import Report

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))

SOLUTION = '''import torch

@torch.no_grad()
def double(x: torch.Tensor,
           scale: float = 2.0) -> torch.Tensor:
    """Multiply ``x`` by ``scale`` (its body is hidden)."""
    # hint that must not survive: use the scale
    import math
    return x * scale + 0.0 * math.pi
'''
CHECKER = """from fmtutor.exercises import Checker

def check_double(fn):
    report = Checker("double")
    x = torch.arange(3.0).reshape(3, 1)
    report.close(report.call(fn, x, case="x = [0, 1, 2]"), 2 * x, "double(x)")
    return report.report()

check_double(double)"""
WIDGET_STATE = {
    "application/vnd.jupyter.widget-state+json": {
        "state": {"abc": {"model_name": "x"}},
        "version_major": 2,
        "version_minor": 0,
    }
}


def synthetic_notebook() -> nbformat.NotebookNode:
    """A chapter in the book's exercise pattern, with outputs and saved widget state."""
    shown = new_code_cell("print(1 + 1)", outputs=[nbformat.v4.new_output("stream", text="2\n")], execution_count=3)
    solution = new_code_cell(SOLUTION, metadata={"tags": ["solution"]})
    return new_notebook(
        metadata={"widgets": WIDGET_STATE},
        cells=[
            new_markdown_cell("(ch-test)=\n# A test chapter"),
            new_code_cell("import torch"),
            shown,
            new_markdown_cell("```{exercise} Double it\n:label: ex-test-double\n\nWrite `double`.\n```"),
            new_markdown_cell("````{solution-start} ex-test-double\n:class: dropdown\n````"),
            solution,
            new_code_cell("print('solution demo: secret_demo_value')"),
            new_markdown_cell("The scale enters linearly (secret remark).\n\n````{solution-end}\n````"),
            new_code_cell(CHECKER),
            new_markdown_cell(
                "```{exercise} Derive it\n:label: ex-test-derive\n\nShow that $2x = x + x$.\n```\n\n"
                ":::{solution} ex-test-derive\n:class: dropdown\nThe secret derivation.\n:::"
            ),
            new_markdown_cell("```{solution} ex-test-derive2\n:class: dropdown\nAnother secret.\n```"),
        ],
    )


def text_of(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells)


def run_cells(sources: list[str]) -> object:
    """Execute cells in one namespace like a kernel would; return the last cell's last expression."""
    namespace: dict = {}
    for source in sources:
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    return value


def stubbed_functions(source: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}


# --- stubs -------------------------------------------------------------------------------------------


def test_stub_keeps_imports_decorators_signature_and_docstring():
    stub = stub_source(SOLUTION)
    before, after = stubbed_functions(SOLUTION)["double"], stubbed_functions(stub)["double"]
    assert ast.dump(after.args) == ast.dump(before.args)
    assert ast.dump(after.returns) == ast.dump(before.returns)
    assert [ast.unparse(d) for d in after.decorator_list] == ["torch.no_grad()"]
    assert ast.get_docstring(after) == ast.get_docstring(before)
    assert [type(s) for s in after.body] == [ast.Expr, ast.Raise]
    assert stub.startswith("import torch\n")
    for secret in ("hint that must not survive", "math.pi", "import math", "x * scale"):
        assert secret not in stub


def test_stub_handles_several_defs_one_liners_classes_and_drops_other_statements():
    source = (
        "import numpy as np\nK = 3\ndef f(x): return x + K\n\n"
        "def g(y, *args, z=1, **kw):\n    return f(y) * z\n"
        "class Net:\n    '''A net.'''\n    width = 8\n    def forward(self, x):\n        return x * 2\n"
        "print(f(1))\n"
    )
    stub = stub_source(source)
    tree = ast.parse(stub)
    assert [type(n).__name__ for n in tree.body] == ["Import", "FunctionDef", "FunctionDef", "ClassDef"]
    assert "K = 3" not in stub and "print" not in stub and "width" not in stub and "x * 2" not in stub
    for name in ("f", "g"):
        with pytest.raises(NotImplementedError, match=STUB_MESSAGE):
            run_cells([stub + f"\n{name}(1)"])
    assert ast.get_docstring(tree.body[3]) == "A net."


def test_stub_refuses_a_cell_that_is_not_python():
    with pytest.raises(ValueError, match=r"book/x.ipynb, cell 3 is not valid Python"):
        stub_source("%timeit f(x)\ndef f(x):\n    return x", "book/x.ipynb, cell 3")


@given(
    names=st.lists(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s)),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    constant=st.integers(1000, 9999),
)
def test_stub_never_keeps_a_body_and_keeps_every_argument(names, constant):
    source = f"def solve({', '.join(names)}):\n    '''Doc.'''\n    total = {constant}\n    return total\n"
    stub = stub_source(source)
    assert str(constant) not in stub
    assert [a.arg for a in stubbed_functions(stub)["solve"].args.args] == names


# --- markdown ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fence", ["```", "````", ":::"])
def test_solution_directive_removed_and_exercise_kept(fence):
    text = (
        f"```{{exercise}} E\n:label: ex-a\n\nTask.\n```\n\n{fence}{{solution}} ex-a\n:class: dropdown\n"
        f"Secret.\n{fence}\nAfter."
    )
    kept, removed, inside = strip_solution_markdown(text)
    assert (removed, inside) == (1, False)
    assert "Secret" not in kept and "{solution}" not in kept
    assert kept.startswith("```{exercise} E") and kept.endswith("After.")


def test_solution_start_end_span_removed_across_cells():
    kept, removed, inside = strip_solution_markdown("Visible.\n````{solution-start} ex-a\n````\nHidden.")
    assert (kept, removed, inside) == ("Visible.", 1, True)
    assert strip_solution_markdown("Still hidden.", inside=True) == ("", 0, True)
    assert strip_solution_markdown("Hidden.\n````{solution-end}\n````\nShown.", inside=True) == ("Shown.", 1, False)


# --- whole notebooks -----------------------------------------------------------------------------------


def test_synthetic_student_copy_has_no_solution_and_keeps_exercises_and_checker():
    nb = synthetic_notebook()
    original = json.dumps(nb, sort_keys=True)
    edition = student_notebook(nb)
    student, text = edition.notebook, text_of(edition.notebook)
    assert json.dumps(nb, sort_keys=True) == original, "the source notebook was modified"
    for secret in ("secret", "x * scale", "{solution", "solution demo"):
        assert secret not in text
    assert text.count("{exercise}") == 2 and "Write `double`." in text and "Show that $2x = x + x$." in text
    assert sum(cell.source == CHECKER for cell in student.cells) == 1
    assert all(
        not c.get("outputs") and c.get("execution_count") is None for c in student.cells if c.cell_type == "code"
    )
    assert "widgets" not in student.metadata
    assert "Student edition" in student.cells[1].source
    assert (edition.stubbed, edition.removed_blocks, edition.removed_cells) == (1, 4, 4)
    assert leaks(student) == []


def test_checker_says_not_attempted_on_the_stub_and_passes_on_the_solution():
    student = student_notebook(synthetic_notebook()).notebook
    code = [c.source for c in student.cells if c.cell_type == "code" and "print" not in c.source]
    report = run_cells(code)
    assert isinstance(report, Report) and not report.passed
    assert "not attempted yet" in str(report) and "NotImplementedError" in str(report)
    solved = run_cells(["import torch", SOLUTION, CHECKER])
    assert solved.passed, str(solved)


def test_leaks_names_each_problem():
    nb = synthetic_notebook()
    problems = leaks(nb)
    assert any("solution directive is still there" in p for p in problems)
    assert any("still has code in a function body" in p for p in problems)
    assert any("outputs were not cleared" in p for p in problems)
    assert any("metadata.widgets" in p for p in problems)


def test_strip_widget_state_in_place():
    nb = synthetic_notebook()
    assert strip_widget_state(nb) is True and "widgets" not in nb.metadata
    assert strip_widget_state(nb) is False


def test_strip_widget_state_drops_live_widget_outputs_only():
    nb = nbformat.v4.new_notebook()
    live = nbformat.v4.new_code_cell(
        "_ = panel.show_live()", metadata={"tags": ["nbval-ignore-output", "remove-output"]}
    )
    kept = nbformat.v4.new_code_cell("print(1)")
    for cell in (live, kept):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells = [live, kept]
    assert strip_widget_state(nb) is True
    assert live.outputs == [] and len(kept.outputs) == 1
    assert strip_widget_state(nb) is False


def test_strip_widget_state_drops_progress_bar_views_and_keeps_the_rest():
    cell = nbformat.v4.new_code_cell("trainer.fit(100)", metadata={"tags": ["nbval-ignore-output"]})
    bar = nbformat.v4.new_output(
        "display_data",
        data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "training:   0%|"},
    )
    text = nbformat.v4.new_output("stream", name="stdout", text="final loss 0.31\n")
    cell.outputs = [bar, text]
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    assert strip_widget_state(nb) is True and cell.outputs == [text]


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_command_line_writes_the_edition_and_leaves_the_source_alone(tmp_path):
    src, out = tmp_path / "book", tmp_path / "student"
    src.mkdir()
    nbformat.write(synthetic_notebook(), src / "01_test.ipynb")
    (src / "intro.md").write_text("# Intro\n")
    before = digest(src)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main([str(src), str(out)]) == 0
    assert digest(src) == before
    assert sorted(p.name for p in out.iterdir()) == ["01_test.ipynb"]
    assert "01_test.ipynb: 1 solution cell(s) stubbed" in printed.getvalue()
    assert leaks(nbformat.read(out / "01_test.ipynb", as_version=4)) == []
    with pytest.raises(ValueError, match="out must differ from src"):
        write_edition(src, src)
    with pytest.raises(ValueError, match="src must be a folder of notebooks"):
        write_edition(tmp_path / "missing", out)


def test_command_line_strips_widget_state(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(synthetic_notebook(), path)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        main(["--strip-widgets", str(path)])
        main(["--strip-widgets", str(path)])
    assert printed.getvalue().splitlines() == [
        f"{path}: widget state and outputs removed",
        f"{path}: nothing to remove",
    ]
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata and len(nb.cells) == len(synthetic_notebook().cells)


# --- the real chapters -----------------------------------------------------------------------------------


def solution_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]


def checker_cell_for(nb, name: str, after: int) -> str | None:
    """The first code cell after ``after`` that calls a ``check_*`` function with ``name``."""
    for cell in nb.cells[after + 1 :]:
        if cell.cell_type != "code" or "check_" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "").startswith("check_")
                and any(isinstance(a, ast.Name) and a.id == name for a in node.args)
            ):
                return cell.source
    return None


def without_docstrings(text: str) -> str:
    return re.sub(r"(\"\"\"|\'\'\')(.*?)\1", "", text, flags=re.S)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_real_chapter_student_copy_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    student = student_notebook(nb, path.name).notebook
    assert leaks(student) == []
    text = without_docstrings(text_of(student))  # docstrings are kept on purpose: they state the task
    for i in solution_cells(nb):
        for node in stubbed_functions(nb.cells[i].source).values():
            doc = 1 if ast.get_docstring(node) is not None else 0
            for statement in node.body[doc:]:
                line = ast.unparse(statement)
                assert len(line) < 12 or line not in text, f"cell {i}: solution line {line!r} survived"
    assert text.count("{exercise}") == text_of(nb).count("{exercise}")
    checkers = [c.source for c in nb.cells if c.cell_type == "code" and "check_" in c.source]
    assert [c.source for c in student.cells if c.cell_type == "code" and "check_" in c.source] == checkers


def _python(source: str) -> str:
    """A cell's source as plain Python: IPython's magics (the install cell's ``%pip``) translated."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_real_chapter_checkers_say_not_attempted_on_the_stubs(path):
    nb = nbformat.read(path, as_version=4)
    cells = solution_cells(nb)
    if not cells:
        pytest.skip(f"{path.name} has no coding exercise yet")
    for i in cells:
        imports = [
            ast.unparse(n)
            for c in nb.cells[:i]
            if c.cell_type == "code"
            for n in ast.parse(_python(c.source)).body
            if isinstance(n, (ast.Import, ast.ImportFrom))
        ]
        stub = stub_source(nb.cells[i].source)
        for name in stubbed_functions(stub):
            checker = checker_cell_for(nb, name, i)
            assert checker is not None, f"cell {i}: no checker cell calls check_*({name})"
            report = run_cells(["\n".join(imports), stub, checker])
            assert isinstance(report, Report), f"the checker of {name} should end with the Report"
            assert "not attempted yet" in str(report), str(report)


def test_real_book_unchanged_by_the_edition(tmp_path):
    before = digest(BOOK)
    write_edition(BOOK, tmp_path / "student")
    assert digest(BOOK) == before
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_real_chapter_has_no_saved_widget_state(path):
    """Saved ipywidgets state makes the HTML page fetch the widget JavaScript from a CDN."""
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, (
        f"{path.name} stores ipywidgets state: run `python tools/edition.py --strip-widgets {path.name}` "
        "(or execute with --ExecutePreprocessor.store_widget_state=False)"
    )
