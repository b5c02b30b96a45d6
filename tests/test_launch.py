"""The chapters' first cell installs fmtutor where it is missing; the repository URL is written once.

The slow test runs that cell as Colab would meet it: in a kernel of a fresh virtual environment
without fmtutor, with a local clone of this repository (tagged with the package's version) standing
in for the repository URL; afterwards the chapter's own imports must work there. The fresh
environment sees this checkout's installed dependencies (torch, ipykernel, ...) through a folder of
links, fmtutor excluded, so that only fmtutor itself is installed: that keeps the test near a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import nbformat
import pytest

from fmtutor.launch import INSTALL_TAG, install_cell, package_version, repository_url, set_install_cells

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.ipynb"))


def first_code_cell(path: Path) -> nbformat.NotebookNode:
    return next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def test_repository_url_and_version_come_from_config_and_pyproject(tmp_path):
    (tmp_path / "_config.yml").write_text(
        "title: x\nrepository:\n  # where\n  url: &u https://example.org/a/b/\n  branch: main\nparse:\n  x: *u\n"
    )
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "fmtutor"\nversion = "1.2.3"\n')
    assert repository_url(tmp_path) == "https://example.org/a/b"
    assert package_version(tmp_path) == "1.2.3"
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="repository.url"):
        repository_url(tmp_path)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_each_chapter_starts_with_the_install_cell_of_this_repository(chapter):
    cell = first_code_cell(chapter)
    assert cell.source == install_cell(repository_url(), package_version())
    assert {INSTALL_TAG, "remove-cell"} <= set(cell.metadata.get("tags", []))
    assert cell.outputs == []  # where fmtutor is installed it prints nothing


def test_the_repository_url_is_written_only_in_config():
    url = repository_url()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    holders = [
        name
        for name in tracked
        if not name.endswith((".ipynb", ".png"))
        and (ROOT / name).is_file()
        and url in (ROOT / name).read_text(errors="ignore")
    ]
    assert holders == ["_config.yml"], holders


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_a_chapter_holds_the_repository_url_only_in_its_install_cell(chapter):
    """Links to the repository's files go through the book's {repo} role; the Colab edition, written
    from the chapters and _config.yml by tools/colab_edition.py, is checked by test_colab_edition.py."""
    url = repository_url()
    cells = nbformat.read(chapter, as_version=4).cells
    holders = [
        i for i, cell in enumerate(cells) if url in cell.source and INSTALL_TAG not in cell.metadata.get("tags", [])
    ]
    assert holders == [], f"{chapter.name}: cells {holders} write {url} out; use {{repo}}`path`"


def test_set_install_cells_inserts_once_then_replaces(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    assert set_install_cells(tmp_path, "a") == [tmp_path / "01_x.ipynb"]
    assert set_install_cells(tmp_path, "a") == []
    set_install_cells(tmp_path, "b")
    cells = nbformat.read(tmp_path / "01_x.ipynb", as_version=4).cells
    assert [c.source for c in cells] == ["# t", "b", "x = 1"]


def linked_site_packages(target: Path) -> Path:
    """A folder of links to this environment's installed packages, fmtutor left out."""
    target.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "fmtutor" not in entry.name.lower() and not entry.name.endswith(".pth"):
            (target / entry.name).symlink_to(entry)
    return target


@pytest.mark.slow
def test_install_cell_installs_fmtutor_in_a_fresh_kernel_and_the_chapter_imports(tmp_path):
    from nbclient import NotebookClient

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "tag", "-f", f"v{package_version()}"], check=True, capture_output=True)
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "shared.pth").write_text(str(linked_site_packages(tmp_path / "shared")) + "\n")
    missing = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('fmtutor'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert missing == "None"
    kernels = tmp_path / "share" / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "fresh",
                "language": "python",
            }
        )
    )

    chapter = nbformat.read(CHAPTERS[0], as_version=4)
    code = [c for c in chapter.cells if c.cell_type == "code"]
    # file://localhost/...: pip's URL parser refuses git+file:/// (no host); git takes either
    install = code[0].source.replace(repository_url(), f"file://localhost{clone}")
    assert install != code[0].source
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(install),
            nbformat.v4.new_code_cell(code[1].source),
            nbformat.v4.new_code_cell("import fmtutor; print(fmtutor.__file__)"),
        ]
    )
    import os

    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(tmp_path / "share" / "jupyter")
    try:
        NotebookClient(nb, kernel_name="fresh", timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.pop("JUPYTER_PATH") if old is None else os.environ.__setitem__("JUPYTER_PATH", old)
    where = nb.cells[2].outputs[0]["text"].strip()
    assert where.startswith(str(env_dir)), where
    assert sys.prefix not in where


def _notebook(path: Path, markdown: str) -> str:
    nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": markdown}], "metadata": {}}
    path.write_text(json.dumps({**nb, "nbformat": 4, "nbformat_minor": 5}))
    return path.read_text()


def test_the_working_copy_gets_missing_chapters_and_frames_and_keeps_the_readers_edits(tmp_path):
    sys.path.insert(0, str(ROOT))
    import tasks

    book, lab = tmp_path / "repo" / "book", tmp_path / "lab"  # pages that are not chapters: copied as they are
    book.mkdir(parents=True)
    original = _notebook(book / "a.ipynb", "original 1")
    second = _notebook(book / "b.ipynb", "original 2")
    frame = tmp_path / "repo" / "_static" / "frames" / "Panel-1" / "t-0.5.webp"
    frame.parent.mkdir(parents=True)
    frame.write_bytes(b"picture")
    assert tasks.working_copy(book, lab) == lab / "book"
    # the chapters' ../_static/frames/... links resolve inside the working copy, as in the repository
    assert (lab / "book" / ".." / "_static" / "frames" / "Panel-1" / "t-0.5.webp").read_bytes() == b"picture"
    (lab / "book" / "a.ipynb").write_text("edited by the reader")
    (lab / "book" / "b.ipynb").unlink()
    tasks.working_copy(book, lab)
    assert (lab / "book" / "a.ipynb").read_text() == "edited by the reader"
    assert (lab / "book" / "b.ipynb").read_text() == second
    assert (book / "a.ipynb").read_text() == original


def test_the_working_copy_numbers_a_chapter_and_writes_out_its_citations_and_the_book_keeps_its_roles(tmp_path):
    sys.path.insert(0, str(ROOT))
    import tasks

    book = tmp_path / "book"
    book.mkdir()
    original = _notebook(book / "07_a.ipynb", "As {cite:t}`anderson1982reverse` showed.")
    copy = json.loads((tasks.working_copy(book, tmp_path / "lab") / "07_a.ipynb").read_text())
    assert [c["id"] for c in copy["cells"]] == ["a", "references"]
    assert "".join(copy["cells"][0]["source"]) == (
        "---\nnumbering:\n  enumerator: 7.%s\n  equation: false\n---\n"
        "As Anderson \\[[1982](#cite-anderson1982reverse)\\] showed."
    )
    assert (book / "07_a.ipynb").read_text() == original
