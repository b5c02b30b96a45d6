"""MyST as the plain markdown that a front end without MyST renders (Colab: CommonMark, HTML and
$-math), reading as the built book does; ``tools/colab_edition.py`` applies it to every chapter.

- A theorem, proposition or definition: an anchor and "**Theorem 1.2 (Title).**" run into its text,
  numbered as the book numbers it (``tools/xrefs.py``); a proof: "*Proof.* ... ∎"; an exercise:
  "**Exercise 1.3** (Title)"; a ``{solution}``: a ``<details>`` titled "Solution to Exercise 1.3
  (Title)"; an admonition, tip or warning: a blockquote under its bold title.
- ``{ref}``/``{prf:ref}``: a link with the reference's text to an anchor set where the target is
  (``(label)=`` becomes ``<a id="label">``), in this chapter or, by its Colab address, in another.
- ``{{ name }}``: the substitution of that name in ``_config.yml``.

A role or directive without such a form is refused by name, never passed through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import xrefs

__all__ = ["Chapter", "anchor", "blocks", "closes", "convert", "solution_title"]

FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w:-]+)\}[ \t]*(.*?)\s*$")
CODE_FENCE = re.compile(r"^(`{3,}|~{3,})")
OPTION, TARGET = xrefs.OPTION, xrefs.LABEL  # a directive's option line, a target "(label)="
REF = re.compile(r"\{(?:prf:)?ref\}`([^`<]*?)\s*<([\w-]+)>`")
ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
SUBSTITUTION = re.compile(r"\{\{\s*(\w+)\s*\}\}")
HEADING = re.compile(r"^(#{1,6}) ")
BRACKET = re.compile(r"(?<!\\)\\[\[\]]")  # \[ or \] not after a backslash (math's \\[2pt] stays)
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


def _link(text: str, label: str, ch: Chapter) -> str:
    if label not in ch.targets:
        raise KeyError(f"a reference to {label!r}: no chapter, section, block or figure carries that label")
    home = int(ch.targets[label][1].split(".")[0])
    where = "" if home == ch.number else f"{ch.colab_folder}/{ch.files[home]}"
    return f"[{text}]({where}#{label})"


def _text(text: str, ch: Chapter) -> str:
    """Running text: a target becomes an anchor, a reference a link (one by bare label first gets the
    words the book shows, ``xrefs.rewrite``), a substitution its value, and a citation's escaped
    bracket ``\\[`` an HTML entity: Colab could take ``\\[ ... \\]`` for display math."""
    text = "\n".join(anchor(m.group(1)) if (m := TARGET.match(line.strip())) else line for line in text.split("\n"))
    text = REF.sub(lambda m: _link(m.group(1), m.group(2), ch), xrefs.rewrite(text, ch.targets))
    text = SUBSTITUTION.sub(lambda m: ch.substitutions[m.group(1)], text)
    text = BRACKET.sub(lambda m: "&#91;" if m.group(0) == "\\[" else "&#93;", text)
    if role := ROLE.search(text):
        raise ValueError(f"{role.group(0)}: Colab cannot show this role; write its text (tools/xrefs.py)")
    return text


def blocks(lines: list[str]) -> list[tuple]:
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
        while not one_line_math and j < len(lines) and not closes(lines[j].strip(), fence):
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


def closes(stripped: str, fence: str) -> bool:
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
    lead, head, title = anchor(label) + " " if label else "", f"{word} {number}".strip(), _text(arg, ch)
    if name == "exercise":
        return [f"{lead}**{head}**" + (f" ({title})" if title else ""), "", *body]
    return _titled(f"{lead}**{head}{f' ({title})' if title else ''}.**", body)


def solution_title(label: str, ch: Chapter) -> str:
    """ "Solution to Exercise 1.3 (Title)", as the book titles the solution of exercise ``label``."""
    word, number = ch.targets[label]
    title = _text(ch.titles.get(label, ""), ch)
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
    for kind, *rest in blocks(text.splitlines()):
        if kind == "directive":
            out += _directive(*rest, ch)
        elif kind == "verbatim":
            out += rest[0]
        else:
            out += _text("\n".join(rest[0]), ch).split("\n")
    return "\n".join(out)
