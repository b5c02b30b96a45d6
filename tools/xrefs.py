"""Numbered references that read the same in every front end.

The built book numbers chapters, sections, theorems and exercises; a notebook opened alone
(JupyterLab with jupyterlab-myst, Notebook 7, Colab) cannot: ``{numref}`Chapter %s <ch-cfm>```
shows there as "Chapter %s", and ``{prf:ref}`thm-picard``` or ``{ref}`ex-odes-euler-solve``` as
the bare label. So the chapters write the number into the reference's text,
``{ref}`Chapter 4 <ch-cfm>```, ``{prf:ref}`Theorem 1.2 <thm-picard>```: the book links it with the
same words it would have written, a lone notebook shows "Theorem 1.2". This module computes the
numbers the book gives (chapter N is ``book/NN_*.ipynb``; section N.k is the k-th ``##`` heading of
chapter N; theorem N.k is the k-th ``{prf:theorem}`` of chapter N, each kind of block counted on its
own, exercises too), rewrites the references that lack them, and checks that every numbered
reference's text carries its target's word and number.

    python3 tools/xrefs.py            # check the chapters and pages; exit 1 naming each wrong reference
    python3 tools/xrefs.py --write    # rewrite {numref} and label-only references in place

Only the standard library, like tools/nbtext.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1] / "book"
LABEL = re.compile(r"^\(([\w-]+)\)=\s*$")
BLOCK = re.compile(r"^(?:`{3,}|:{3,})\{(exercise|prf:(?!proof\b)\w+)\}")
OPTION = re.compile(r"^:(\w+):\s*(.*?)\s*$")
NUMREF = re.compile(r"\{numref\}`([^`<]*%s[^`<]*)<([\w-]+)>`")
BARE = re.compile(r"\{(numref|ref|prf:ref)\}`([\w-]+)`")
NUMBERED_REF = re.compile(r"\{(?:prf:)?ref\}`((?:[A-Z][a-z]+ )?)(\d[\d.]*) <([\w-]+)>`")


def _markdown_lines(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()]


def _blocks(chapter: int, lines: list[str]) -> dict[str, tuple[str, str]]:
    """Label -> ("Theorem", "1.2") for the labelled, numbered blocks (theorems, definitions,
    exercises...; not proofs) among ``lines``, each kind counted on its own."""
    found, counts = {}, {}
    for i, line in enumerate(lines):
        if not (m := BLOCK.match(line.strip())):
            continue
        kind = m.group(1).removeprefix("prf:").title()
        options = {}
        for option in lines[i + 1 :]:
            if not (o := OPTION.match(option.strip())):
                break
            options[o.group(1)] = o.group(2)
        if "nonumber" in options:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        if "label" in options:
            found[options["label"]] = (kind, f"{chapter}.{counts[kind]}")
    return found


def targets(book: Path = BOOK) -> dict[str, tuple[str, str]]:
    """Label -> (word, number) the book gives its target: ("Chapter", "4") for a chapter's label (one
    set before its title), ("Section", "3.6") for a label set before the sixth ``##`` heading of
    chapter 3, ("Exercise", "1.4") for the fourth exercise of chapter 1."""
    found = {}
    for notebook in sorted(book.glob("[0-9][0-9]_*.ipynb")):
        chapter, sections, pending = int(notebook.name[:2]), 0, []
        lines = _markdown_lines(notebook)
        for line in lines:
            if m := LABEL.match(line.strip()):
                pending.append(m.group(1))
            elif line.startswith("# "):
                found.update((label, ("Chapter", str(chapter))) for label in pending)
                pending = []
            elif line.startswith("## "):
                sections += 1
                found.update((label, ("Section", f"{chapter}.{sections}")) for label in pending)
                pending = []
            elif line.strip():
                pending = []
        found.update(_blocks(chapter, lines))
    return found


def figures(notebook: Path) -> list[tuple[str, str | None, str]]:
    """(cell id, name, number) of each figure of chapter ``notebook`` (``NN_*.ipynb``), in order: a
    code cell whose ``mystnb.figure`` metadata gives its output a caption is the book's figure N.k
    ("Fig. 1.2"), the k-th such cell of chapter N; ``name`` is the label it is referenced by."""
    chapter, found = int(notebook.name[:2]), []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if cell["cell_type"] == "code" and figure.get("caption"):
            found.append((cell.get("id", ""), figure.get("name"), f"{chapter}.{len(found) + 1}"))
    return found


def numbers(book: Path = BOOK) -> dict[str, str]:
    """Label -> the number the book gives its target ("4", "3.6", "1.2"); see ``targets``."""
    return {label: number for label, (_, number) in targets(book).items()}


def rewrite(text: str, known: dict[str, tuple[str, str]]) -> str:
    """``text`` with each ``{numref}`... %s ... <label>``` turned into ``{ref}`... N ... <label>```,
    and each label-only reference (``{prf:ref}`label```, ``{ref}`label```, ``{numref}`label```) to a
    numbered target given the words the book shows, ``{prf:ref}`Theorem 1.2 <label>```."""

    def target(label: str, role: str) -> tuple[str, str]:
        if label not in known:
            raise KeyError(f"{{{role}}} to {label!r}: no chapter, section or numbered block carries that label")
        return known[label]

    def fill(m: re.Match) -> str:
        template, label = m.group(1).strip(), m.group(2)
        return f"{{ref}}`{template.replace('%s', target(label, 'numref')[1])} <{label}>`"

    def name(m: re.Match) -> str:
        role, label = m.group(1), m.group(2)
        if role == "ref" and label in known and known[label][0] in ("Chapter", "Section"):
            return m.group(0)  # the book shows the target's title there: its words are the author's to write
        word, number = target(label, role)
        return f"{{{'ref' if role == 'numref' else role}}}`{word} {number} <{label}>`"

    return BARE.sub(name, NUMREF.sub(fill, text))


def _text(path: Path) -> str:
    return "\n".join(_markdown_lines(path)) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")


def problems(path: Path, known: dict[str, tuple[str, str]]) -> list[str]:
    """What is wrong with the numbered references of ``path`` (a chapter or a page of the book;
    empty when nothing is); ``known`` comes from ``targets``."""
    text = _text(path)
    found = [f"{path.name}: {m.group(0)} shows as '%s' outside the built book" for m in NUMREF.finditer(text)]
    found += [f"{path.name}: {m.group(0)} shows as its label outside the built book" for m in BARE.finditer(text)]
    for m in NUMBERED_REF.finditer(text):
        word, number, label = m.group(1).strip(), m.group(2), m.group(3)
        kind, target = known.get(label, ("", ""))
        if target != number:
            found.append(f"{path.name}: {m.group(0)} points to {target or 'no target'}")
        elif word not in ("", kind, kind + "s"):
            found.append(f"{path.name}: {m.group(0)} points to {kind} {number}")
    return found


def write(path: Path, known: dict[str, tuple[str, str]]) -> bool:
    """Rewrite the references of ``path``'s markdown (a notebook's markdown cells, or a page);
    True if it changed. Code cells and outputs are left as they are, byte for byte."""
    if path.suffix != ".ipynb":
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, known)
        path.write_text(new, encoding="utf-8")
        return new != text
    nb = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        new = rewrite(source, known)
        if new != source:
            cell["source"], changed = new.splitlines(keepends=True), True
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    known = targets()
    pages = sorted(BOOK.glob("[0-9][0-9]_*.ipynb")) + sorted(BOOK.glob("*.md"))
    if argv == ["--write"]:
        for path in pages:
            if write(path, known):
                print(f"rewrote {path.name}")
    found = [p for path in pages for p in problems(path, known)]
    print("\n".join(found) or f"numbered references correct in {len(pages)} chapters and pages")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
