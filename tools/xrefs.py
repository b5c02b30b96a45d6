"""Numbered references to chapters and sections that read the same in every front end.

The built book numbers chapters and sections; a notebook opened alone (JupyterLab with
jupyterlab-myst, Notebook 7, Colab) cannot, and ``{numref}`Chapter %s <ch-cfm>``` shows there as
"Chapter %s". So the chapters write the number into the reference's text,
``{ref}`Chapter 4 <ch-cfm>```: the book links it, a lone notebook shows "Chapter 4". This module
computes the numbers the book gives (chapter N is ``book/NN_*.ipynb``; section N.k is the k-th
``##`` heading of chapter N), rewrites ``{numref}`` into that form, and checks that every numbered
reference's text carries its target's number.

    python3 tools/xrefs.py            # check the chapters; exit 1 naming each wrong or {numref} reference
    python3 tools/xrefs.py --write    # rewrite {numref} references in place

Only the standard library, like tools/nbtext.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1] / "book"
LABEL = re.compile(r"^\(([\w-]+)\)=\s*$")
NUMREF = re.compile(r"\{numref\}`([^`<]*%s[^`<]*)<([\w-]+)>`")
NUMBERED_REF = re.compile(r"\{ref\}`((?:Chapters?|Sections?) |)([\d.]+) <([\w-]+)>`")


def _markdown_lines(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()]


def numbers(book: Path = BOOK) -> dict[str, str]:
    """Label -> the number the book gives its target: "4" for a chapter's label (one set before its
    title), "3.6" for a label set before the sixth ``##`` heading of chapter 3."""
    found = {}
    for notebook in sorted(book.glob("[0-9][0-9]_*.ipynb")):
        chapter, sections, pending = int(notebook.name[:2]), 0, []
        for line in _markdown_lines(notebook):
            if m := LABEL.match(line.strip()):
                pending.append(m.group(1))
            elif line.startswith("# "):
                found.update((label, str(chapter)) for label in pending)
                pending = []
            elif line.startswith("## "):
                sections += 1
                found.update((label, f"{chapter}.{sections}") for label in pending)
                pending = []
            elif line.strip():
                pending = []
    return found


def rewrite(text: str, known: dict[str, str]) -> str:
    """``text`` with each ``{numref}`... %s ... <label>``` turned into ``{ref}`... N ... <label>```."""

    def fill(m: re.Match) -> str:
        template, label = m.group(1).strip(), m.group(2)
        if label not in known:
            raise KeyError(f"{{numref}} to {label!r}: no chapter or section carries that label")
        return f"{{ref}}`{template.replace('%s', known[label])} <{label}>`"

    return NUMREF.sub(fill, text)


def problems(notebook: Path, known: dict[str, str]) -> list[str]:
    """What is wrong with the numbered references of ``notebook`` (empty when nothing is)."""
    text = "\n".join(_markdown_lines(notebook))
    found = [f"{notebook.name}: {m.group(0)} shows as '%s' outside the built book" for m in NUMREF.finditer(text)]
    for m in NUMBERED_REF.finditer(text):
        number, label = m.group(2), m.group(3)
        if known.get(label) != number:
            found.append(f"{notebook.name}: {m.group(0)} points to {known.get(label, 'no target')}")
    return found


def write(notebook: Path, known: dict[str, str]) -> bool:
    """Rewrite the ``{numref}`` references of ``notebook``'s markdown cells; True if it changed."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    changed = False
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        new = rewrite(source, known)
        if new != source:
            cell["source"], changed = new.splitlines(keepends=True), True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    known = numbers()
    chapters = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    if argv == ["--write"]:
        for notebook in chapters:
            if write(notebook, known):
                print(f"rewrote {notebook.name}")
    found = [p for notebook in chapters for p in problems(notebook, known)]
    print("\n".join(found) or f"numbered references correct in {len(chapters)} chapters")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
