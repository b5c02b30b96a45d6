"""The static panels of the built book against their budget: per chapter, the page's HTML size, the
number and bytes of its panels' frames, and the time drawing them took when the chapter was executed.

    python3 tasks.py book            # or: python3 tasks.py test (it builds the book too)
    .venv/bin/python benchmarks/static_panels.py [_build/html]

Budget (issue: every control of every panel in the static book): each chapter's HTML under 1 MB, all
frames of a chapter under 20 MB on disk. Exits 1 when a chapter is over budget. The drawing time comes
from each frame folder's manifest.json (written by fmtutor.static when the frames were drawn; an
unchanged re-execution draws one frame and keeps the manifest of the run that drew them).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HTML_BUDGET, FRAMES_BUDGET = 1_000_000, 20_000_000
FOLDER = re.compile(r'<img class="fmt-frame" src="(?:\.\./)*_static/frames/([^/"]+)/')


def chapter_figures(page: Path, frames: Path) -> dict:
    folders = FOLDER.findall(page.read_text(errors="replace"))
    files = [f for name in folders for f in (frames / name).glob("*.webp")]
    manifests = [
        json.loads((frames / name / "manifest.json").read_text())
        for name in folders
        if (frames / name / "manifest.json").is_file()
    ]
    return {
        "html": page.stat().st_size,
        "panels": len(folders),
        "frames": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "wall_s": sum(m.get("wall_s", 0.0) for m in manifests),
        "cpu_s": sum(m.get("cpu_s", 0.0) for m in manifests),
    }


def main(html_dir: Path) -> int:
    pages = sorted((html_dir / "book").glob("[0-9][0-9]_*.html"))
    if not pages:
        print(f"no chapters in {html_dir}/book: build the book first")
        return 1
    print(
        f"{'chapter':26s} {'HTML':>9s} {'panels':>6s} {'frames':>6s} {'frame MB':>8s} {'draw wall s':>11s} {'draw CPU s':>10s}"
    )
    total, over = {"frames": 0, "bytes": 0, "wall_s": 0.0, "cpu_s": 0.0}, []
    for page in pages:
        f = chapter_figures(page, html_dir / "_static" / "frames")
        print(
            f"{page.stem:26s} {f['html'] / 1e3:7.0f} kB {f['panels']:6d} {f['frames']:6d} {f['bytes'] / 1e6:8.1f}"
            f" {f['wall_s']:11.0f} {f['cpu_s']:10.0f}"
        )
        for key in total:
            total[key] += f[key]
        if f["html"] >= HTML_BUDGET or f["bytes"] >= FRAMES_BUDGET:
            over.append(page.stem)
    print(
        f"{'all chapters':26s} {'':>9s} {'':>6s} {total['frames']:6d} {total['bytes'] / 1e6:8.1f}"
        f" {total['wall_s']:11.0f} {total['cpu_s']:10.0f}"
    )
    print(
        f"budget: HTML < {HTML_BUDGET / 1e6:g} MB, frames < {FRAMES_BUDGET / 1e6:g} MB per chapter: "
        + (f"OVER in {', '.join(over)}" if over else "met by every chapter")
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")))
