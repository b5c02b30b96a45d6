"""The student edition for the rendered site: the chapters without their solutions, but with the
outputs a reader needs (figures, tables, printed numbers) kept as stored, so the site is built
without executing a chapter.

    python tools/student_site.py book _build/student/book

Each copy is the student edition of ``tools/edition.py`` (solution cells stubbed, solution text
removed) with these outputs:

- a cell that never uses a name a solution cell defines keeps its stored outputs (they were computed
  without any learner's code, so they hold no solution);
- a solution cell keeps none;
- a checker cell (one that calls ``check_*`` on a solution's name) shows the verdict its checker gives
  the stub, computed here by running the earlier cells' imports, the stubs and the checker cell in one
  namespace: "not attempted yet", what a student meets first;
- any other cell that uses a solution's name is refused: its stored output shows the solution at work.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import sys
from pathlib import Path

import nbformat
from edition import SOLUTION_TAG, _tags, leaks, student_notebook

__all__ = ["solution_names", "checker_verdict", "site_notebook", "site_leaks", "write_site_edition", "main"]

NOT_ATTEMPTED = "not attempted yet"


def _python(source: str) -> ast.Module:
    """A cell's source as Python: IPython's magics (the install cell's ``%pip``) translated first."""
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def solution_names(nb: nbformat.NotebookNode) -> set[str]:
    """The functions and classes the notebook's solution cells define."""
    return {
        node.name
        for cell in nb.cells
        if cell.cell_type == "code" and SOLUTION_TAG in _tags(cell)
        for node in ast.parse(cell.source).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _uses(tree: ast.Module, names: set[str]) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & names


def checker_verdict(source: str, namespace: dict) -> list[nbformat.NotebookNode]:
    """Run a checker cell in ``namespace`` (which holds the stubs) as a kernel would: its outputs, the
    printed text and the value of its last expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(tree, "<checker cell>", "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), "<checker cell>", "eval"), namespace) if last else None
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed.getvalue())] if printed.getvalue() else []
    if value is not None:
        outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": repr(value)}, execution_count=1))
    return outputs


def site_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student edition of ``nb`` with the outputs described in the module's docstring."""
    stored = {cell.get("id"): cell for cell in nb.cells}
    student, names, namespace = student_notebook(nb, name).notebook, solution_names(nb), {}
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        if SOLUTION_TAG in _tags(cell):
            exec(compile(cell.source, where, "exec"), namespace)  # the stub
            continue
        tree = _python(cell.source)
        if used := _uses(tree, names):
            if "check_" not in cell.source:
                raise ValueError(
                    f"{where} uses the solution's {sorted(used)} but calls no checker: its stored output "
                    "shows the solution at work"
                )
            cell.outputs, cell.execution_count = checker_verdict(cell.source, namespace), 1
            continue
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(imports, type_ignores=[]), where, "exec"), namespace)  # names a stub may need
        source = stored.get(cell.get("id"))
        if source is None or source.source != cell.source:
            raise ValueError(f"{where}: no stored cell with this id and source (cell ids are needed)")
        cell.outputs, cell.execution_count = source.outputs, source.execution_count
    return student


def _text(output: dict) -> str:
    return "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))


def site_leaks(student: nbformat.NotebookNode, names: set[str]) -> list[str]:
    """What would show a solution on the site (an empty list means clean): everything ``leaks`` finds
    except stored outputs, an output of a solution cell, and a checker output other than
    "not attempted yet". ``names`` are the solution names of the instructor's notebook."""
    problems = [p for p in leaks(student) if not p.endswith("outputs were not cleared")]
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        if SOLUTION_TAG in _tags(cell):
            problems.append(f"cell {index}: a solution cell has outputs")
        elif _uses(_python(cell.source), names) and not all(NOT_ATTEMPTED in _text(o) for o in cell.outputs):
            problems.append(f"cell {index}: a checker shows a verdict on a solution, not '{NOT_ATTEMPTED}'")
    return problems


def write_site_edition(src: Path, out: Path) -> list[str]:
    """Write the site edition of every ``src/*.ipynb`` to ``out``; refuse to write a leaking copy.
    Returns the file names written."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ValueError(f"src must be a folder of notebooks, got {str(src)!r}")
    if src.resolve() == out.resolve():
        raise ValueError("out must differ from src: the instructor edition is never overwritten")
    done = {}
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        student = site_notebook(nb, path.name)
        if problems := site_leaks(student, solution_names(nb)):
            raise RuntimeError(f"{path.name}: the student site would leak: " + "; ".join(problems))
        done[path.name] = student
    out.mkdir(parents=True, exist_ok=True)
    for filename, student in done.items():
        nbformat.write(student, out / filename)
    return list(done)


def main(argv: list[str] | None = None) -> int:
    """The command line: ``SRC_DIR OUT_DIR``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python tools/student_site.py", description=__doc__.split("\n")[0])
    parser.add_argument("src", type=Path, help="the instructor's chapters (book)")
    parser.add_argument("out", type=Path, help="where the student chapters go")
    args = parser.parse_args(argv)
    for filename in write_site_edition(args.src, args.out):
        print(f"{filename}: solutions removed, stored outputs kept, checkers say '{NOT_ATTEMPTED}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
