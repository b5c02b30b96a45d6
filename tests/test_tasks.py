"""tasks.py's test command: the unit tests and the chapters run side by side, the longest chapter first
(by the time its cells took when it was last executed), and a failure ends the command with its
status once the others have run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tasks  # noqa: E402


def _timed(start: str, end: str) -> dict:
    return {"cell_type": "code", "metadata": {"execution": {"iopub.execute_input": start, "shell.execute_reply": end}}}


def test_recorded_seconds_add_up_the_cells_execution_times(tmp_path):
    cells = [
        _timed("2026-11-30T01:00:00.000000Z", "2026-11-30T01:00:02.500000Z"),
        {"cell_type": "markdown", "metadata": {}},
        {"cell_type": "code", "metadata": {"execution": {"iopub.execute_input": "2026-11-30T01:00:03Z"}}},  # no end
        _timed("2026-11-30T01:59:59.750000Z", "2026-11-30T02:00:00.000000Z"),
    ]
    notebook = tmp_path / "a.ipynb"
    notebook.write_text(json.dumps({"cells": cells}))
    assert tasks.recorded_seconds(notebook) == 2.75


@pytest.mark.parametrize("chapter", tasks.CHAPTERS, ids=lambda c: c.stem)
def test_every_chapter_records_how_long_its_cells_took(chapter):
    assert tasks.recorded_seconds(chapter) > 1.0


def test_commands_run_side_by_side_and_a_failure_exits_with_its_status_after_all_have_run(tmp_path, capsys):
    signal = tmp_path / "written by the second command"
    waits = (  # succeeds only if the second command runs while this one waits
        "import pathlib, sys, time\n"
        f"signal = pathlib.Path({str(signal)!r})\n"
        "for _ in range(200):\n"
        "    if signal.exists(): print('saw the signal'); sys.exit(3)\n"
        "    time.sleep(0.05)\n"
        "sys.exit(1)\n"
    )
    writes = f"import pathlib, time; pathlib.Path({str(signal)!r}).write_text('x'); time.sleep(0.5); print('wrote it')"
    with pytest.raises(SystemExit) as ended:
        tasks.run_together([[sys.executable, "-c", waits], [sys.executable, "-c", writes]], dict(os.environ), workers=2)
    out = capsys.readouterr().out
    assert ended.value.code == 3  # the first command saw the second's file, then failed on purpose
    assert out.index("saw the signal") < out.index("wrote it") < out.index("FAILED (exit 3)")
    assert out.count("FAILED") == 1
