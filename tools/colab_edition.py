"""The Colab edition: each chapter ``book/NN_slug.ipynb`` as ``colab/NN_slug.ipynb``, its markdown
written in what Colab renders (CommonMark, HTML and $-math) instead of MyST, so that it reads as the
book does. The Colab launch button of each chapter opens it (``_ext/fmtutor_book.py``).

- Theorems, proofs, exercises, ``{solution}``s, admonitions, references, targets, substitutions: as
  ``tools/colab_markdown.py`` writes them.
- A gated solution (``{solution-start}`` ... code cells ... ``{solution-end}``): a heading "Solution
  to Exercise 1.3 (Title)", which Colab folds (and which starts folded, as the book's dropdown does:
  the notebook's ``colab.collapsed_sections``), and after the code a heading of the same level,
  "Checking Exercise 1.3", over the cells that follow.
- Citations and the References cell: as in the reader's working copy (``tools/working_copy.py``).
- A figure: its caption ("**Fig. 1.2** ...") in a markdown cell below the code cell that draws it.

Code cells keep their source and tags; outputs and execution counts are dropped: Colab is where the
chapter runs, and the stored outputs, which double the size of every chapter and change at each
execution, would show stale figures and static pictures whose files are not there.

    .venv/bin/python tools/colab_edition.py      # write colab/ from every chapter of book/
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import working_copy
import xrefs
import yaml
from colab_markdown import HEADING, Chapter, anchor, blocks, closes, convert, solution_title
from pybtex.database import BibliographyData, parse_file

__all__ = ["config", "colab_folder", "chapter_context", "edition", "write", "main"]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "colab"


def config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def colab_folder(conf: dict) -> str:
    """The Colab address of ``colab/`` in the repository of _config.yml."""
    org_repo = conf["repository"]["url"].rstrip("/").split("github.com/")[-1]
    colab = conf["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{org_repo}/blob/{conf['repository'].get('branch', 'main')}/{OUT.name}"


def chapter_context(notebook: Path, book: Path, conf: dict) -> Chapter:
    """The ``Chapter`` of ``notebook`` in ``book``."""
    found = dict(xrefs.targets(book))
    chapters = sorted(book.glob("[0-9][0-9]_*.ipynb"))
    for path in chapters:
        found.update((name, ("Fig.", number)) for _, name, number in xrefs.figures(path) if name)
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    markdown = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").splitlines()
    titles = {}
    for kind, *rest in blocks(markdown):
        if kind == "directive" and rest[0] == "exercise" and "label" in rest[2]:
            titles[rest[2]["label"]] = rest[1]
    subs = {k: str(v) for k, v in (conf.get("parse", {}).get("myst_substitutions") or {}).items()}
    files = {int(p.name[:2]): p.name for p in chapters}
    return Chapter(int(notebook.name[:2]), found, titles, subs, colab_folder(conf), files)


GATE = re.compile(r"^(`{3,}|:{3,})\{(solution-start|solution-end)\}[ \t]*(.*?)\s*$")


def _pieces(text: str) -> list[tuple[str, str]]:
    """``text`` cut at its ``{solution-start}``/``{solution-end}`` fences: ("text", markdown),
    ("start", exercise label) and ("end", "") in order."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if m := GATE.match(lines[i].strip()):
            j = i + 1
            while j < len(lines) and not closes(lines[j].strip(), m.group(1)):
                j += 1
            out.append(("start" if m.group(2) == "solution-start" else "end", m.group(3)))
            i = j + 1
        else:
            if not out or out[-1][0] != "text":
                out.append(("text", ""))
            out[-1] = ("text", out[-1][1] + lines[i] + "\n")
            i += 1
    return [(kind, part) for kind, part in out if kind != "text" or part.strip()]


def _cell(kind: str, cell_id: str, source: str, **metadata) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": metadata, "source": source.splitlines(keepends=True)}
    return {**cell, "execution_count": None, "outputs": []} if kind == "code" else cell


def _markdown_cells(cell: dict, ch: Chapter, state: dict, bib: BibliographyData) -> list[dict]:
    """One markdown cell of the chapter as the edition's cells; ``state`` carries across cells the
    heading level in force, the open solution's label, the keys cited and the folded headings."""
    text, keys = working_copy.rewrite("".join(cell["source"]), bib)
    state["cited"] += keys
    cells = []
    for k, (kind, part) in enumerate(_pieces(text)):
        cell_id = cell["id"] if k == 0 else f"{cell['id']}-{k}"
        if kind == "text":
            source = convert(part, ch).strip("\n")
            levels = [len(m.group(1)) for m in map(HEADING.match, source.splitlines()) if m]
            state["level"] = levels[-1] if levels else state["level"]
        else:
            label = part or state["open"]
            if label not in ch.targets:
                raise ValueError(f"{cell['id']}: a {{solution-{kind}}} of no open exercise ({label!r})")
            state["open"] = label if kind == "start" else ""
            words = solution_title(label, ch) if kind == "start" else "Checking " + " ".join(ch.targets[label])
            source = "#" * min(state["level"] + 1, 6) + " " + words
            state["folded"] += [cell_id] if kind == "start" else []
        cells.append(_cell("markdown", cell_id, source, id=cell_id))
    return cells


def edition(notebook: Path, ch: Chapter, bib: BibliographyData) -> dict:
    """The Colab edition of chapter ``notebook`` (a notebook as a dict)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    captions = {cid: (name, number) for cid, name, number in xrefs.figures(notebook)}
    state = {"level": 1, "open": "", "cited": [], "folded": []}
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cells += _markdown_cells(cell, ch, state, bib)
            continue
        tags = cell.get("metadata", {}).get("tags")
        cells.append(_cell(cell["cell_type"], cell["id"], "".join(cell["source"]), **({"tags": tags} if tags else {})))
        if cell["id"] in captions:
            name, number = captions[cell["id"]]
            caption = cell["metadata"]["mystnb"]["figure"]["caption"]
            text = (anchor(name) + " " if name else "") + f"**Fig. {number}** " + convert(caption, ch)
            cells.append(_cell("markdown", f"{cell['id']}-caption", text))
    if state["cited"]:
        source = convert(working_copy.references(state["cited"], bib), ch).strip("\n")
        cells.append(_cell("markdown", working_copy.CELL_ID, source))
    metadata = {k: v for k, v in nb["metadata"].items() if k in ("kernelspec", "language_info")}
    metadata["colab"] = {"provenance": [], "collapsed_sections": state["folded"]}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def text(nb: dict) -> str:
    """A notebook as the file the edition stores."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def write(book: Path = ROOT / "book", out: Path = OUT, root: Path = ROOT) -> list[Path]:
    """Write the Colab edition of every chapter of ``book`` into ``out`` and remove any notebook there
    whose chapter is gone; returns the files written (those whose text changed)."""
    conf, bib = config(root), parse_file(str(book / "references.bib"))
    out.mkdir(parents=True, exist_ok=True)
    chapters, written = sorted(book.glob("[0-9][0-9]_*.ipynb")), []
    for stale in sorted(set(out.glob("*.ipynb")) - {out / c.name for c in chapters}):
        stale.unlink()
    for notebook in chapters:
        new = text(edition(notebook, chapter_context(notebook, book, conf), bib))
        path = out / notebook.name
        if not path.exists() or path.read_text(encoding="utf-8") != new:
            path.write_text(new, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str]) -> int:
    if argv:
        sys.exit(__doc__)
    written = write()
    print("\n".join(f"wrote {p.relative_to(ROOT)}" for p in written) or f"{OUT.name}/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
