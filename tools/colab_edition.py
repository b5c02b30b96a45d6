"""The Colab edition: each chapter ``book/NN_slug.ipynb`` as ``colab/NN_slug.ipynb``, its markdown
written in what Colab renders (CommonMark, HTML and $-math) instead of MyST, so that it reads as the
book does. The Colab launch button of each chapter opens it (``_ext/fmtutor_book.py``).

- A theorem, proposition or definition: an anchor and "**Theorem 1.2 (Title).**" run into its text,
  numbered as the book numbers it (``tools/xrefs.py``); a proof: "*Proof.* ... ∎"; an exercise:
  "**Exercise 1.3** (Title)".
- A ``{solution}``: an HTML ``<details>`` titled "Solution to Exercise 1.3 (Title)". A gated solution
  (``{solution-start}`` ... code cells ... ``{solution-end}``): a heading "Solution to Exercise 1.3
  (Title)", which Colab folds (and which starts folded, as the book's dropdown does: the notebook's
  ``colab.collapsed_sections``), and after the code a heading of the same level, "Checking Exercise
  1.3", over the cells that follow.
- An admonition, tip or warning: a blockquote under its bold title.
- ``{ref}``/``{prf:ref}``: a link with the reference's text to an anchor set where the target is
  (``(label)=`` becomes ``<a id="label">``), in this chapter or, by its Colab address, in another.
- Citations and the References cell: as in the reader's working copy (``tools/working_copy.py``).
- ``{{ name }}``: the substitution of that name in ``_config.yml``.
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
from dataclasses import dataclass
from pathlib import Path

import working_copy
import xrefs
import yaml
from pybtex.database import BibliographyData, parse_file

__all__ = ["Chapter", "chapter_context", "convert", "edition", "write", "main"]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "colab"
FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w:-]+)\}[ \t]*(.*?)\s*$")
CODE_FENCE = re.compile(r"^(`{3,}|~{3,})")
OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*?)\s*$")
TARGET = re.compile(r"^\(([\w-]+)\)=\s*$")
REF = re.compile(r"\{(?:prf:)?ref\}`([^`<]*?)\s*<([\w-]+)>`")
ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
SUBSTITUTION = re.compile(r"\{\{\s*(\w+)\s*\}\}")
HEADING = re.compile(r"^(#{1,6}) ")
ADMONITIONS = ("note", "tip", "warning", "important", "caution", "hint", "attention", "danger", "error", "seealso")


@dataclass(frozen=True)
class Chapter:
    """What converting one chapter's markdown needs: its number, where each label lives (the chapter's
    number) with the word and number the book gives it, its exercises' titles, the substitutions of
    _config.yml, and the Colab address of the edition's folder."""

    number: int
    targets: dict[str, tuple[str, str]]
    titles: dict[str, str]
    substitutions: dict[str, str]
    colab_folder: str
    files: dict[int, str]


def anchor(label: str) -> str:
    return f'<a id="{label}" name="{label}"></a>'


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
    titles = {
        options["label"]: arg
        for kind, *rest in _blocks(markdown)
        if kind == "directive"
        for name, arg, options, _ in [rest]
        if name == "exercise" and "label" in options
    }
    subs = {k: str(v) for k, v in (conf.get("parse", {}).get("myst_substitutions") or {}).items()}
    files = {int(p.name[:2]): p.name for p in chapters}
    return Chapter(int(notebook.name[:2]), found, titles, subs, colab_folder(conf), files)


def _link(text: str, label: str, ch: Chapter) -> str:
    if label not in ch.targets:
        raise KeyError(f"a reference to {label!r}: no chapter, section, block or figure carries that label")
    home = int(ch.targets[label][1].split(".")[0])
    where = "" if home == ch.number else f"{ch.colab_folder}/{ch.files[home]}"
    return f"[{text}]({where}#{label})"


def _text(text: str, ch: Chapter) -> str:
    """Running text: a target becomes an anchor, a reference a link (one by bare label first gets the
    words the book shows, ``xrefs.rewrite``), a substitution its value."""
    text = "\n".join(anchor(m.group(1)) if (m := TARGET.match(line.strip())) else line for line in text.split("\n"))
    text = REF.sub(lambda m: _link(m.group(1), m.group(2), ch), xrefs.rewrite(text, ch.targets))
    text = SUBSTITUTION.sub(lambda m: ch.substitutions[m.group(1)], text)
    if role := ROLE.search(text):
        raise ValueError(f"{role.group(0)}: Colab cannot show this role; write its text (tools/xrefs.py)")
    return text


def _blocks(lines: list[str]) -> list[tuple]:
    """``lines`` as ("text", lines), ("verbatim", lines) for code and display math, and ("directive",
    name, argument, options, body lines)."""
    out, i = [], 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not (opening := _opening(stripped)):
            if not out or out[-1][0] != "text":
                out.append(("text", []))
            out[-1][1].append(lines[i])
            i += 1
            continue
        fence, directive = opening
        j = i + 1
        one_line_math = fence == "$$" and len(stripped) > 2 and stripped.endswith("$$")
        while not one_line_math and j < len(lines) and not _closes(lines[j].strip(), fence):
            j += 1
        if directive:
            k, options = i + 1, {}
            while k < j and (o := OPTION.match(lines[k].strip())):
                options[o.group(1)], k = o.group(2), k + 1
            out.append(("directive", directive.group(2), directive.group(3), options, _trim(lines[k:j])))
        else:
            out.append(("verbatim", lines[i : (i + 1 if one_line_math else j + 1)]))
        i = (i if one_line_math else j) + 1
    return out


def _opening(stripped: str) -> tuple[str, re.Match | None] | None:
    """The fence a line opens (a directive's, a code block's, display math's "$$"), or None."""
    if m := FENCE.match(stripped):
        return m.group(1), m
    if m := CODE_FENCE.match(stripped):
        return m.group(1), None
    return ("$$", None) if stripped.startswith("$$") else None


def _closes(stripped: str, fence: str) -> bool:
    if fence == "$$":
        return stripped.endswith("$$")
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _runs_in(line: str) -> bool:
    """Whether a line is a paragraph's text, which a bold title can run into."""
    return bool(line.strip()) and not re.match(r"\s*(\$\$|[-*+] |\d+[.)] |\||#|>|<|`{3}|:{3})", line)


def _titled(title: str, body: list[str], end: str = "") -> list[str]:
    """``title`` run into the first paragraph of ``body`` (or above it), ``end`` after its last."""
    body = list(body) or [""]
    body = [f"{title} {body[0]}"] + body[1:] if _runs_in(body[0]) else [title, "", *body]
    if end:
        body = body[:-1] + [f"{body[-1]} {end}"] if _runs_in(body[-1]) else [*body, "", end]
    return body


def _numbered(name: str, arg: str, options: dict, body: list[str], ch: Chapter) -> list[str]:
    label = options.get("label")
    if name == "prf:proof":
        return _titled(f"*Proof{f' ({arg})' if arg else ''}.*", body, "∎")
    if "nonumber" in options:
        word, number = name.removeprefix("prf:").title(), ""
    elif label and label in ch.targets:
        word, number = ch.targets[label]
    else:
        raise ValueError(f"a numbered {{{name}}} needs a :label: to take its number from (tools/xrefs.py)")
    lead = anchor(label) + " " if label else ""
    head = f"{word} {number}".strip()
    if name == "exercise":
        return [f"{lead}**{head}**" + (f" ({arg})" if arg else ""), "", *body]
    return _titled(f"{lead}**{head}{f' ({arg})' if arg else ''}.**", body)


def solution_title(label: str, ch: Chapter) -> str:
    """ "Solution to Exercise 1.3 (Title)", as the book titles the solution of exercise ``label``."""
    word, number = ch.targets[label]
    title = ch.titles.get(label)
    return f"Solution to {word} {number}" + (f" ({title})" if title else "")


def _directive(name: str, arg: str, options: dict, body: list[str], ch: Chapter) -> list[str]:
    body = convert("\n".join(body), ch).splitlines() if body else []
    if name == "exercise" or name.startswith("prf:"):
        return _numbered(name, arg, options, body, ch)
    if name == "solution":
        return [f"<details><summary>{solution_title(arg, ch)}</summary>", "", *body, "", "</details>"]
    if name in ("admonition", *ADMONITIONS):
        title = arg if name == "admonition" else {"seealso": "See also"}.get(name, name.title())
        return [f"> {line}".rstrip() for line in [f"**{_text(title, ch)}**", "", *body]]
    raise ValueError(f"{{{name}}}: the Colab edition has no plain-markdown form for this directive")


def convert(text: str, ch: Chapter) -> str:
    """MyST ``text`` (citations already written out) as CommonMark + HTML + $-math."""
    out = []
    for kind, *rest in _blocks(text.splitlines()):
        if kind == "directive":
            out += _directive(*rest, ch)
        elif kind == "verbatim":
            out += rest[0]
        else:
            out += _text("\n".join(rest[0]), ch).split("\n")
    return "\n".join(out)


GATE = re.compile(r"^(`{3,}|:{3,})\{(solution-start|solution-end)\}[ \t]*(.*?)\s*$")


def _pieces(text: str) -> list[tuple[str, str]]:
    """``text`` cut at its ``{solution-start}``/``{solution-end}`` fences: ("text", markdown),
    ("start", exercise label) and ("end", "") in order."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if m := GATE.match(lines[i].strip()):
            j = i + 1
            while j < len(lines) and not _closes(lines[j].strip(), m.group(1)):
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
    return cell if kind == "markdown" else {**cell, "execution_count": None, "outputs": []}


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
    """Write the Colab edition of every chapter of ``book`` into ``out``; returns the files written
    (those whose text changed)."""
    conf, bib = config(root), parse_file(str(book / "references.bib"))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in sorted(book.glob("[0-9][0-9]_*.ipynb")):
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
