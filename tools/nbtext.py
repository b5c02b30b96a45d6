"""A notebook as readable text, for diffs: its cells in the py:percent style, with the text outputs
that nbval checks as comments under each code cell (figures and widgets as a one-line mark).

    python3 tools/nbtext.py book/01_odes.ipynb          # print one notebook as text
    python3 tasks.py diff [REV]                         # git diff of the chapters against REV, as text

``tasks.py diff`` runs ``git diff`` with this file as the text conversion of ``*.ipynb`` (declared in
``.gitattributes``); to get the same from a plain ``git diff``, once per clone:

    git config diff.ipynb.textconv "python3 tools/nbtext.py"

Only the standard library: it runs under any Python 3, in or out of the virtual environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIGURES = ("image/png", "image/jpeg", "image/svg+xml")
WIDGET = "application/vnd.jupyter.widget-view+json"


def _output_lines(output: dict) -> list[str]:
    """One output as text lines: a stream or a plain-text result as it reads, a figure or widget as a mark."""
    kind = output.get("output_type")
    if kind == "stream":
        return "".join(output.get("text", "")).splitlines()
    if kind == "error":
        return [f"{output.get('ename')}: {output.get('evalue')}"]
    data = output.get("data", {})
    for mime in (*FIGURES, WIDGET, "text/html"):
        if mime in data:
            return [f"<{mime}>"]
    return "".join(data.get("text/plain", "")).splitlines()


def notebook_text(notebook: dict) -> str:
    """The notebook's cells as ``# %%`` blocks (markdown commented), each code cell followed by its outputs."""
    blocks = []
    for cell in notebook.get("cells", []):
        source = "".join(cell.get("source", ""))
        tags = cell.get("metadata", {}).get("tags", [])
        header = "# %%" + (" [markdown]" if cell["cell_type"] == "markdown" else "") + (f" {tags}" if tags else "")
        if cell["cell_type"] == "markdown":
            body = "\n".join(f"# {line}".rstrip() for line in source.splitlines())
        else:
            body = source
            outputs = [line for o in cell.get("outputs", []) for line in _output_lines(o)]
            if outputs:
                body += "\n# ---- output\n" + "\n".join(f"#| {line}".rstrip() for line in outputs)
        blocks.append(f"{header}\n{body}")
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str]) -> int:
    """Print each notebook named in ``argv`` as text."""
    if not argv:
        sys.exit(__doc__)
    for name in argv:
        sys.stdout.write(notebook_text(json.loads(Path(name).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
