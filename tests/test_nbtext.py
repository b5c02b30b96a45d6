"""tools/nbtext.py: a notebook as readable text for diffs (cells, tags, the text outputs nbval checks)."""

from __future__ import annotations

from nbtext import notebook_text


def _notebook() -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "\n", "Some text."]},
            {
                "cell_type": "code",
                "metadata": {"tags": ["solution"]},
                "source": "x = 1\nprint(x)",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": ["1\n"]},
                    {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}},
                    {"output_type": "execute_result", "data": {"text/plain": ["2\n", "3"]}},
                ],
            },
            {"cell_type": "code", "metadata": {}, "source": "", "outputs": []},
        ]
    }


def test_cells_read_as_percent_blocks_with_their_text_outputs():
    assert notebook_text(_notebook()) == (
        "# %% [markdown]\n# # Title\n#\n# Some text.\n\n"
        "# %% ['solution']\nx = 1\nprint(x)\n# ---- output\n#| 1\n#| <image/png>\n#| 2\n#| 3\n\n"
        "# %%\n\n"
    )


def test_a_changed_printed_number_shows_as_one_changed_line():
    nb = _notebook()
    before = notebook_text(nb).splitlines()
    nb["cells"][1]["outputs"][0]["text"] = ["7\n"]
    after = notebook_text(nb).splitlines()
    assert [(a, b) for a, b in zip(before, after) if a != b] == [("#| 1", "#| 7")]
