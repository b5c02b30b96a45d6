"""Citations that read in a chapter opened alone in JupyterLab or Notebook 7.

The built book turns ``{cite}`lipman2023flow,liu2023flow``` into "[Lipman et al., 2023, Liu et
al., 2023]" linked to its bibliography (sphinxcontrib-bibtex, ``book/references.bib``);
jupyterlab-myst has no bibliography and shows the bare keys. The reader's working copy
(``python3 tasks.py lab``) therefore gets its citations written out as the book writes them, each
linked to a "References" cell appended to the chapter that lists the works it cites in the book's
bibliography style (pybtex's ``plain``, sorted by author, year and title):

    {cite}`a,b`, {cite:p}`a,b`  ->  [Albergo and Vanden-Eijnden, 2023, Lipman *et al.*, 2023]
    {cite:t}`anderson1982reverse`  ->  Anderson [1982]

The committed chapters keep their roles, which the book needs.

    .venv/bin/python tools/citations.py lab/book/01_odes.ipynb ...   # rewrite these notebooks in place
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pybtex.database import BibliographyData, Entry, parse_file
from pybtex.plugin import find_plugin
from pybtex.richtext import Text

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"
ROLE = re.compile(r"\{cite(?::(p|t))?\}`([^`]+)`")
CELL_ID = "references"  # the id of the appended cell


def anchor(key: str) -> str:
    """The target a citation of ``key`` links to in its chapter's references cell."""
    return f"cite-{key}"


def authors(entry: Entry) -> str:
    """The names a citation shows: "Anderson", "Albergo and Vanden-Eijnden", "Lipman *et al.*"."""
    last = [
        Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text") for p in entry.persons["author"]
    ]
    return " and ".join(last) if len(last) <= 2 else f"{last[0]} *et al.*"


def _sorted(keys: list[str], bib: BibliographyData) -> list[str]:
    order = find_plugin("pybtex.style.sorting", "author_year_title")()
    return [e.key for e in order.sort([bib.entries[k] for k in dict.fromkeys(keys)])]


def citation(keys: list[str], narrative: bool, bib: BibliographyData) -> str:
    """Markdown for one citation of ``keys``, as the book's author-year style writes it."""
    missing = [k for k in keys if k not in bib.entries]
    if missing:
        raise KeyError(f"citation of {', '.join(missing)}: not in {BIB.name}")
    parts = []
    for key in _sorted(keys, bib):
        names, year = authors(bib.entries[key]), bib.entries[key].fields["year"]
        link = f"#{anchor(key)}"
        parts.append(f"{names} \\[[{year}]({link})\\]" if narrative else f"[{names}, {year}]({link})")
    return ", ".join(parts) if narrative else f"\\[{', '.join(parts)}\\]"


def rewrite(text: str, bib: BibliographyData) -> tuple[str, list[str]]:
    """``text`` with its ``{cite}``, ``{cite:p}`` and ``{cite:t}`` roles written out, and the keys cited."""
    cited: list[str] = []

    def fill(m: re.Match) -> str:
        keys = [k.strip() for k in m.group(2).split(",")]
        cited.extend(keys)
        return citation(keys, m.group(1) == "t", bib)

    return ROLE.sub(fill, text), cited


def references(keys: list[str], bib: BibliographyData) -> str:
    """The markdown of a chapter's references cell: each work cited, with the target its citations
    link to, in the book's bibliography style."""
    style = find_plugin("pybtex.style.formatting", "plain")()
    lines = ["## References", ""]
    for entry in style.format_bibliography(bib, _sorted(keys, bib)):
        lines += [f"({anchor(entry.key)})=", " ".join(entry.text.render_as("markdown").split("\n")), ""]
    return "\n".join(lines).rstrip() + "\n"


def write(notebook: Path, bib: BibliographyData) -> bool:
    """Write out the citations of ``notebook``'s markdown cells and append its references cell;
    True if it cited anything. Code cells and outputs are left as they are."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cited = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and cell.get("id") != CELL_ID:
            new, keys = rewrite("".join(cell["source"]), bib)
            if keys:
                cell["source"], cited = new.splitlines(keepends=True), cited + keys
    if not cited:
        return False
    source = references(cited, bib).splitlines(keepends=True)
    nb["cells"].append({"cell_type": "markdown", "id": CELL_ID, "metadata": {}, "source": source})
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    bib = parse_file(str(BIB))
    for path in map(Path, argv):
        write(path, bib)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
