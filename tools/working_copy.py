"""What the reader's working copy (``python3 tasks.py lab``) changes in a chapter so that it reads in
JupyterLab and Notebook 7 (jupyterlab-myst) as in the built book: its citations, its numbers and its
links to files of the book's repository (the book's own role ``{repo}`benchmarks/x.py```, which
jupyterlab-myst does not know, becomes a markdown link to the address the book gives it).

Citations. The built book turns ``{cite}`lipman2023flow,liu2023flow``` into "[Lipman et al., 2023, Liu et
al., 2023]" linked to its bibliography (sphinxcontrib-bibtex, ``book/references.bib``);
jupyterlab-myst has no bibliography and shows the bare keys. The reader's working copy
(``python3 tasks.py lab``) therefore gets its citations written out as the book writes them, each
linked to a "References" cell appended to the chapter that lists the works it cites in the book's
bibliography style (pybtex's ``plain``, sorted by author, year and title):

    {cite}`a,b`, {cite:p}`a,b`  ->  [Albergo and Vanden-Eijnden, 2023, Lipman *et al.*, 2023]
    {cite:t}`anderson1982reverse`  ->  Anderson [1982]

The committed chapters keep their roles, which the book needs.

Numbers. jupyterlab-myst numbers a notebook's theorems, exercises and figures from 1 and every
display equation; the book numbers them within their chapter (Theorem 5.1, Exercise 5.3) and only
labelled equations, and the chapters' references say "Theorem 5.1". So the chapter's first cell gets
front matter (which Colab would show as text, hence the working copy only) giving jupyterlab-myst
the chapter's prefix and turning its equation numbers off, and each proof, which the book does not
number, gets ``:nonumber:``:

    ---
    numbering:
      enumerator: 5.%s
      equation: false
    ---

    .venv/bin/python tools/working_copy.py lab/book/01_odes.ipynb ...   # rewrite these notebooks in place
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml
from pybtex.database import BibliographyData, Entry, parse_file
from pybtex.plugin import find_plugin
from pybtex.richtext import Text

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
ROLE = re.compile(r"\{cite(?::(p|t))?\}`([^`]+)`")
REPO = re.compile(r"\{repo\}`([^`]+)`")  # the book's role for a file of its repository (_ext/fmtutor_book.py)
CELL_ID = "references"  # the id of the appended cell
FRONT_MATTER = "---\nnumbering:\n  enumerator: {chapter}.%s\n  equation: false\n---\n"
PROOF = re.compile(r"^((?:`{3,}|:{3,})\{prf:proof\}[^\n]*\n)(?!:nonumber:)", re.M)  # a proof's opening line


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


@functools.cache
def _repository_link() -> Callable[[str], str]:
    """The book's link to a file of its repository (``_ext/fmtutor_book.py``), with _config.yml read once."""
    sys.path.insert(0, str(ROOT / "_ext"))
    from fmtutor_book import repository_link

    repository = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    options = {"repository_url": repository["url"], "repository_branch": repository.get("branch")}
    return functools.partial(repository_link, options)


def repository_links(text: str) -> str:
    """``text`` with each ``{repo}`path``` written as the book's link to that file of its repository."""
    return REPO.sub(lambda m: f"[`{m.group(1)}`]({_repository_link()(m.group(1))})", text)


def rewrite(text: str, bib: BibliographyData) -> tuple[str, list[str]]:
    """``text`` with its ``{cite}``, ``{cite:p}`` and ``{cite:t}`` roles and its links to the repository
    (``{repo}``) written out and its proofs unnumbered, and the keys cited."""
    cited: list[str] = []
    text = repository_links(PROOF.sub(r"\1:nonumber:\n", text))

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


def number(nb: dict, chapter: int) -> bool:
    """Give ``nb``'s first cell the front matter that numbers its blocks as chapter ``chapter``;
    False if it has front matter already (or no cells)."""
    first = nb["cells"][0] if nb["cells"] else None
    source = "".join(first["source"]) if first else "---"
    if first is None or first["cell_type"] != "markdown" or source.startswith("---"):
        return False
    first["source"] = (FRONT_MATTER.format(chapter=chapter) + source).splitlines(keepends=True)
    return True


def write(notebook: Path, bib: BibliographyData) -> bool:
    """Number the blocks of chapter ``notebook`` (``NN_*.ipynb``) as the book does, write out the
    citations of its markdown cells and append its references cell; True if it changed. Code
    cells and outputs are left as they are."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    changed = notebook.name[:2].isdigit() and number(nb, int(notebook.name[:2]))
    cited = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and cell.get("id") != CELL_ID:
            source = "".join(cell["source"])
            new, keys = rewrite(source, bib)
            if new != source:
                cell["source"], cited, changed = new.splitlines(keepends=True), cited + keys, True
    if not changed:
        return False
    if cited:
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
