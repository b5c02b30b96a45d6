"""Binder installs CPU-only torch from PyTorch's CPU index, at the versions requirements.txt pins."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def read_requirements(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Pins ``{name: [version, ...]}`` of a requirements file, following ``-r``, and its index options."""
    pins: dict[str, list[str]] = {}
    options = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            nested, nested_options = read_requirements(path.parent / line.split(None, 1)[1])
            for name, versions in nested.items():
                pins.setdefault(name, []).extend(versions)
            options += nested_options
        elif line.startswith("-"):
            options.append(line)
        elif match := PIN.match(line):
            pins.setdefault(match.group(1).lower().replace("_", "-"), []).append(match.group(2))
        elif line:
            raise AssertionError(f"{path.name}: unpinned requirement {line!r}")
    return pins, options


def test_binder_takes_torch_from_the_cpu_index():
    pins, options = read_requirements(ROOT / ".binder" / "requirements.txt")
    assert f"--extra-index-url {CPU_INDEX}" in options or f"--index-url {CPU_INDEX}" in options, options
    assert any(v.endswith("+cpu") for v in pins["torch"]), pins["torch"]


def test_binder_pins_the_same_versions_as_requirements():
    wanted, _ = read_requirements(ROOT / "requirements.txt")
    binder, _ = read_requirements(ROOT / ".binder" / "requirements.txt")
    for name, (version,) in wanted.items():
        assert name in binder, f".binder/requirements.txt lacks {name}=={version}"
        assert {v.split("+", 1)[0] for v in binder[name]} == {version}, (name, binder[name], version)
    for name in ("torch", "ipywidgets", "jupyterlab", "jupyterlab-myst"):
        assert name in binder, name


def test_a_version_differing_from_requirements_is_caught(tmp_path):
    (tmp_path / "requirements.txt").write_text("torch==2.13.0\n")
    (tmp_path / "binder.txt").write_text(f"--extra-index-url {CPU_INDEX}\ntorch==2.12.0+cpu\n-r requirements.txt\n")
    pins, _ = read_requirements(tmp_path / "binder.txt")
    assert {v.split("+", 1)[0] for v in pins["torch"]} == {"2.12.0", "2.13.0"}


def test_binder_numbers_the_chapters_and_writes_their_citations_out_as_the_working_copy_does(tmp_path):
    """postBuild run on a copy of the checkout (pip stubbed): each chapter gets the front matter
    that numbers its blocks as the book does, and no citation or {repo} role is left."""
    for name in ("tools", "book", ".binder", "_ext"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("runs", "*.png", "__pycache__"))
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    stub = tmp_path / "bin"
    stub.mkdir()
    for name, script in (("pip", "exit 0"), ("python", f'exec "{sys.executable}" "$@"')):
        (stub / name).write_text(f"#!/bin/sh\n{script}\n")
        (stub / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", ".binder/postBuild"], cwd=tmp_path, env=env, check=True)
    chapters = sorted((tmp_path / "book").glob("[0-9][0-9]_*.ipynb"))
    assert len(chapters) == len(list((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))) > 0
    for chapter in chapters:
        cells = json.loads(chapter.read_text())["cells"]
        assert "".join(cells[0]["source"]).startswith(f"---\nnumbering:\n  enumerator: {int(chapter.name[:2])}.%s"), (
            chapter
        )
        markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        assert not any("{cite" in text or "{repo}" in text for text in markdown), chapter
