"""The student edition: copies of the chapters with the exercise solutions removed.

    python tools/edition.py book student          # every book/*.ipynb -> student/*.ipynb
    python tools/edition.py --strip-widgets book/01_odes.ipynb   # clean a chapter in place

In each copy:

- a code cell tagged ``solution`` keeps its imports and, for every function (and every method of a
  class), the decorators, the ``def`` line(s) and the docstring; the body becomes
  ``raise NotImplementedError("Exercise: write this function")``, so the exercise's checker cell
  reports "not attempted yet". Any other statement of a solution cell is removed.
- the markdown fences ``{solution-start}`` ... ``{solution-end}`` and ``{solution}`` directives are
  removed with what they enclose (across cells too); the ``{exercise}`` text stays. Untagged code
  cells between a ``{solution-start}`` and its ``{solution-end}`` are removed.
- every output and execution count is cleared, and the notebook's ``metadata.widgets`` (saved
  ipywidgets state, which would make the HTML book fetch the widget JavaScript from a CDN) is dropped.

The source notebooks are never modified (except by ``--strip-widgets``, which only drops the
widget state).
"""

from __future__ import annotations

import argparse
import ast
import copy
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "SOLUTION_TAG",
    "STUB_MESSAGE",
    "Edition",
    "stub_source",
    "strip_solution_markdown",
    "student_notebook",
    "leaks",
    "strip_widget_state",
    "write_edition",
    "main",
]

SOLUTION_TAG = "solution"
STUB_MESSAGE = "Exercise: write this function"
STUB_LINE = f'raise NotImplementedError("{STUB_MESSAGE}")'
NOTE = (
    "**Student edition.** The solutions are removed: write the body of each function marked "
    "`NotImplementedError`, then run the checker cell below it."
)
_STUB_UNPARSED = ast.unparse(ast.parse(STUB_LINE))
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\s*\{(?P<name>[\w-]+)\}")
_SOLUTION_NAMES = {"solution", "solution-start", "solution-end"}


@dataclass(frozen=True)
class Edition:
    """What ``student_notebook`` did to one notebook."""

    notebook: nbformat.NotebookNode
    stubbed: int  # solution code cells turned into stubs
    removed_blocks: int  # solution directives / start-end blocks removed from markdown
    removed_cells: int  # cells dropped (emptied markdown, code inside a solution block)


def _lines(source: str) -> list[str]:
    return source.splitlines()


def _docstring_end(node: ast.AST) -> int | None:
    """The last line of ``node``'s docstring, or None when it has none."""
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno
    return None


def _header_end(source: str, node: ast.AST) -> int:
    """The line holding the colon that ends ``node``'s ``def``/``class`` header."""
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.start < (node.lineno, node.col_offset) or tok.type != tokenize.OP:
            continue
        depth += (tok.string in "([{") - (tok.string in ")]}")
        if tok.string == ":" and depth == 0:
            return tok.start[0]
    raise ValueError("unterminated definition header")  # ast.parse accepted it, so unreachable


def _stub_def(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, source: str) -> list[str]:
    """Decorators, header and docstring of ``node`` as written, then a stub body.

    Comments in the body are dropped with it (they may hold the solution's hints).
    """
    lines = _lines(source)
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    header_end, doc_end = _header_end(source, node), _docstring_end(node)
    rest = node.body[1:] if doc_end is not None else node.body
    if node.body[0].lineno == header_end or (doc_end is not None and rest and rest[0].lineno == doc_end):
        return _unparsed_stub(node)  # a one-line def or statements sharing lines: rebuild it
    kept = lines[start - 1 : doc_end if doc_end is not None else header_end]
    indent = " " * node.body[0].col_offset
    if isinstance(node, ast.ClassDef):
        inner = [s for s in rest if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        out = [line for s in inner for line in ([""] + _stub_def(s, source))]
        return kept + (out if out else [indent + "pass"])
    return kept + [indent + STUB_LINE]


def _unparsed_stub(node: ast.AST) -> list[str]:
    """Fallback for unusual layouts: the node re-printed by ``ast`` with its body stubbed."""
    node = copy.deepcopy(node)
    doc = node.body[:1] if _docstring_end(node) is not None else []
    if isinstance(node, ast.ClassDef):
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for m in methods:
            m.body = (m.body[:1] if _docstring_end(m) is not None else []) + [ast.parse(STUB_LINE).body[0]]
        node.body = doc + (methods or [ast.Pass()])
    else:
        node.body = doc + [ast.parse(STUB_LINE).body[0]]
    text = ast.unparse(ast.fix_missing_locations(node))
    return [" " * node.col_offset + line for line in text.splitlines()]


def stub_source(source: str, where: str = "a solution cell") -> str:
    """The student version of a solution cell: imports kept, every def/class stubbed, rest dropped.

    Raises ``ValueError`` naming ``where`` if the cell is not valid Python.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(
            f"{where} is not valid Python ({err.msg}, line {err.lineno}); "
            "a cell tagged 'solution' must hold function definitions"
        ) from err
    lines = _lines(source)
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out += lines[node.lineno - 1 : node.end_lineno]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out += ([""] if out else []) + _stub_def(node, source)
    return "\n".join(out)


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def strip_solution_markdown(text: str, inside: bool = False) -> tuple[str, int, bool]:
    """Remove ``{solution}`` directives and ``{solution-start}``..``{solution-end}`` spans.

    ``inside`` says whether the text starts inside a start/end span opened in an earlier cell.
    Returns (kept text, number of solution fences removed, whether a span is still open at the end).
    """
    kept, removed, lines, i = [], 0, text.splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m and m["name"] in _SOLUTION_NAMES:
            removed += 1
            j = i + 1
            while j < len(lines) and not _closes(lines[j], m["fence"]):
                j += 1
            inside = {"solution-start": True, "solution-end": False}.get(m["name"], inside)
            i = j + 1
            continue
        if not inside:
            kept.append(lines[i])
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n"), removed, inside


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> Edition:
    """The student edition of one notebook (``nb`` itself is left untouched)."""
    nb = copy.deepcopy(nb)
    cells, stubbed, blocks, dropped, inside = [], 0, 0, 0, False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            was_inside = inside
            text, n, inside = strip_solution_markdown(cell.source, inside)
            blocks += n
            if (n or was_inside) and not text.strip():
                dropped += 1
                continue
            cell.source = text if n or was_inside else cell.source
        elif cell.cell_type == "code":
            if SOLUTION_TAG in _tags(cell):
                cell.source = stub_source(cell.source, f"{name}, cell {index}")
                stubbed += 1
            elif inside:
                dropped += 1
                continue
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    if cells and stubbed + blocks:
        cells.insert(1, nbformat.v4.new_markdown_cell(NOTE))
    nb.cells = cells
    strip_widget_state(nb)
    return Edition(nb, stubbed, blocks, dropped)


def _body_statements(source: str) -> list[str]:
    """Each def's body statements (docstring excluded) as normalised source, for leak checks."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if _docstring_end(node) is not None else node.body
            out += [ast.unparse(s) for s in body if ast.unparse(s) != _STUB_UNPARSED]
    return out


def leaks(student: nbformat.NotebookNode) -> list[str]:
    """Problems that would show a solution to a student; an empty list means the copy is clean."""
    problems = []
    for index, cell in enumerate(student.cells):
        if cell.cell_type == "markdown" and any(
            (m := _FENCE.match(line)) and m["name"] in _SOLUTION_NAMES for line in cell.source.splitlines()
        ):
            problems.append(f"cell {index}: a solution directive is still there")
        if cell.cell_type == "code" and SOLUTION_TAG in _tags(cell) and _body_statements(cell.source):
            problems.append(f"cell {index}: a solution cell still has code in a function body")
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"cell {index}: outputs were not cleared")
    if "widgets" in student.metadata:
        problems.append("metadata.widgets (saved widget state) is still there")
    return problems


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_widget_state(nb: nbformat.NotebookNode) -> bool:
    """Drop what only a live kernel can show, in place: ``metadata.widgets``, the outputs of live-widget
    cells (tagged ``remove-output``) and every widget view (e.g. a tqdm bar), whose state is gone.
    Returns whether anything was removed."""
    changed = nb.metadata.pop("widgets", None) is not None
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.outputs:
            continue
        keep = (
            [] if "remove-output" in _tags(cell) else [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
        )
        if len(keep) != len(cell.outputs):
            cell.outputs = keep
            changed = True
    return changed


def write_edition(src: Path, out: Path) -> list[tuple[str, Edition]]:
    """Write the student edition of every ``src/*.ipynb`` to ``out``; refuse to write a leaking copy."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ValueError(f"src must be a folder of notebooks, got {str(src)!r}")
    if src.resolve() == out.resolve():
        raise ValueError("out must differ from src: the instructor edition is never overwritten")
    done = []
    for path in sorted(src.glob("*.ipynb")):
        edition = student_notebook(nbformat.read(path, as_version=4), path.name)
        if problems := leaks(edition.notebook):
            raise RuntimeError(f"{path.name}: the student copy would leak: " + "; ".join(problems))
        done.append((path.name, edition))
    out.mkdir(parents=True, exist_ok=True)
    for filename, edition in done:
        nbformat.write(edition.notebook, out / filename)
    return done


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module's docstring); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python tools/edition.py", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="SRC_DIR OUT_DIR, or notebooks with --strip-widgets")
    parser.add_argument(
        "--strip-widgets",
        action="store_true",
        help="drop metadata.widgets and live-widget outputs from the given notebooks, in place",
    )
    args = parser.parse_args(argv)
    if args.strip_widgets:
        for path in map(Path, args.paths):
            nb = nbformat.read(path, as_version=4)
            had_state = strip_widget_state(nb)
            if had_state:
                nbformat.write(nb, path)
            print(f"{path}: {'widget state and outputs removed' if had_state else 'nothing to remove'}")
        return 0
    if len(args.paths) != 2:
        parser.error("expected SRC_DIR OUT_DIR")
    for filename, e in write_edition(Path(args.paths[0]), Path(args.paths[1])):
        print(
            f"{filename}: {e.stubbed} solution cell(s) stubbed, {e.removed_blocks} solution block(s) "
            f"removed, {e.removed_cells} cell(s) dropped"
        )
    print(f"student edition written to {args.paths[1]}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
