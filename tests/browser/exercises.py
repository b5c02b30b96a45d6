"""What a chapter's exercises put on its page, read from the instructor's notebook: the code of the
solutions (which the student site must not hold) and the number of checker cells (which both sites
show, the main one passing and the student one "not attempted yet")."""

from __future__ import annotations

import ast
from functools import cache

import nbformat

from .conftest import ROOT

MIN_LINE = 16  # shorter lines ("x = x0", "return x") are too common to identify a solution


@cache
def _notebook(page: str) -> nbformat.NotebookNode | None:
    path = (ROOT / page).with_suffix(".ipynb")
    return nbformat.read(path, as_version=4) if path.exists() else None


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])


def solution_lines(page: str) -> list[str]:
    """The lines of the solutions' function bodies (docstrings aside), stripped, that are long enough to
    identify and that neither another cell of the chapter nor a docstring (kept for the student) holds."""
    nb = _notebook(page)
    if nb is None:
        return []
    docstrings = [
        ast.get_docstring(node) or ""
        for cell in filter(_is_solution, nb.cells)
        for node in ast.walk(ast.parse(cell.source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    elsewhere = "\n".join([c.source for c in nb.cells if not _is_solution(c)] + docstrings)
    found = []
    for cell in filter(_is_solution, nb.cells):
        lines = cell.source.splitlines()
        for node in ast.walk(ast.parse(cell.source)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            for line in lines[body[0].lineno - 1 : node.end_lineno] if body else []:
                text = line.strip()
                if len(text) >= MIN_LINE and text not in elsewhere and text not in found:
                    found.append(text)
    return found


def checker_cells(page: str) -> int:
    """How many code cells of the chapter call an exercise checker."""
    nb = _notebook(page)
    return sum(c.cell_type == "code" and "from fmtutor.exercises" in c.source for c in nb.cells) if nb else 0
