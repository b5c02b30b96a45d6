"""The chapters' first code cell: install fmtutor where it is missing (Colab, a fresh kernel).

The repository's URL is written once, as ``repository.url`` in ``_config.yml``; the launch buttons
of the book read it there, and so does ``install_cell`` here, which writes the URL and the
package's version (``v`` + ``project.version`` of ``pyproject.toml``, the release tag) into the
cell. ``python -m fmtutor.launch`` rewrites that first cell of every chapter in ``book/``; a test
checks that the chapters hold the cell this module writes.

Where fmtutor is installed the cell does nothing and prints nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["INSTALL_TAG", "repository_url", "package_version", "install_cell", "set_install_cells", "main"]

INSTALL_TAG = "install-fmtutor"  # marks the cell; "remove-cell" keeps it out of the HTML book
WIDGETS = "ipywidgets>=8.1,<9"  # Colab ships ipywidgets 7; the panels need 8

_CELL = """\
# Where fmtutor is missing (Colab, a fresh kernel) this installs it; elsewhere it does nothing.
import importlib.util
import sys
if importlib.util.find_spec("fmtutor") is None:
    %pip install --quiet "fmtutor @ git+{url}@v{version}" "{widgets}"
    importlib.invalidate_caches()
if "google.colab" in sys.modules:  # Colab shows ipywidgets 8 panels through its custom widget manager
    from google.colab import output
    output.enable_custom_widget_manager()"""


def _root(root: Path | None) -> Path:
    return Path(root) if root is not None else Path(__file__).resolve().parents[2]


def repository_url(root: Path | None = None) -> str:
    """``repository.url`` of ``_config.yml`` in ``root`` (default: this checkout)."""
    text = (_root(root) / "_config.yml").read_text()
    block = re.search(r"^repository:\s*\n((?:[ \t]+.*\n?)+)", text, flags=re.M)
    url = block and re.search(r"^\s+url:\s*(?:&\w+\s+)?[\"']?([^\"'\s#]+)", block.group(1), flags=re.M)
    if not url:
        raise ValueError(f"_config.yml in {_root(root)} has no repository.url")
    return url.group(1).rstrip("/")


def package_version(root: Path | None = None) -> str:
    """``project.version`` of ``pyproject.toml`` in ``root``."""
    found = re.search(r'^version\s*=\s*"([^"]+)"', (_root(root) / "pyproject.toml").read_text(), flags=re.M)
    if not found:
        raise ValueError(f"pyproject.toml in {_root(root)} has no project.version")
    return found.group(1)


def install_cell(url: str, version: str) -> str:
    """The source of the first code cell: ``pip install fmtutor @ git+URL@vVERSION`` when missing."""
    return _CELL.format(url=url, version=version, widgets=WIDGETS)


def set_install_cells(book: Path, source: str) -> list[Path]:
    """Make ``source`` the first code cell of every chapter in ``book`` (a cell tagged INSTALL_TAG is
    replaced, else one is inserted before the first code cell); returns the notebooks changed."""
    import nbformat

    changed = []
    for path in sorted(Path(book).glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        cell = nb.cells[first]
        if INSTALL_TAG in cell.metadata.get("tags", []):
            if cell.source == source:
                continue
            cell.source = source
        else:
            new = nbformat.v4.new_code_cell(source, metadata={"tags": [INSTALL_TAG, "remove-cell"]})
            new.execution_count = None
            nb.cells.insert(first, new)
        nbformat.write(nb, path)
        changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m fmtutor.launch [BOOK_DIR]``: write the install cell into every chapter."""
    root = _root(None)
    book = Path(argv[0]) if argv else root / "book"
    for path in set_install_cells(book, install_cell(repository_url(root), package_version(root))):
        print(f"install cell written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
