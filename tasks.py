#!/usr/bin/env python3
"""The project's single entry point: ``python3 tasks.py book`` and ``python3 tasks.py test``.

Needs nothing but Python 3.11. Each command first makes ``.venv`` (if missing) and installs the
pinned ``requirements.txt`` and the package (skipped when nothing changed since the last install).

    book      set up, then build the HTML book with every chapter executed (warnings are errors)
    test      set up, then run the linter and the formatter's check (ruff), the unit tests and nbval over
              every chapter (side by side, one process each), and the browser tests
              (the main book, then the student site)
    setup     only the set-up
    lab       open a working copy of the book (./lab, made on first use) in JupyterLab, with the
              project's environment; reading and experimenting there never touch book/
    notebook  the same working copy in Jupyter Notebook 7
    student   write the student edition (solutions removed) to ./student
    student-site  build the rendered student site (solutions removed, checkers kept, the other outputs
              as stored) into _build/student/_build/html, warnings as errors like the main book
    execute   re-run chapters in place (all, or the notebooks named after it) and strip the live
              widgets' stored state, then rewrite the Colab edition; commit the result, whose outputs
              nbval then checks
    colab     write the Colab edition, colab/NN_slug.ipynb: the chapters with their MyST written as
              the plain markdown Colab renders (tools/colab_edition.py); the Colab button opens it
    reproduce retrain a stored network (judge, unet-cpu, ...) from scratch under the pinned kernels
              and compare it with the stored weights (bitwise, else its metric within a tolerance)
    diff      the chapters' changes against a revision (default HEAD) as readable text: sources and
              the text outputs nbval checks (tools/nbtext.py), e.g. ``python3 tasks.py diff main``

Environment: FMTUTOR_MNIST_DIR names the folder holding the four MNIST ``.gz`` files (see the
README); when it is unset and ``../shared/data/mnist`` exists beside the checkout, that is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
import venv
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from subprocess import PIPE, STDOUT

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".setup-stamp"
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
LAB = ROOT / "lab"  # the reader's working copy of book/ (git ignores it)
LINTED = ("src", "tests", "benchmarks", "tools", "_ext", "tasks.py")
TIMING = ("iopub.execute_input", "shell.execute_reply")  # a cell's start and end in nbclient's metadata


def run(*cmd: str | Path, env: dict | None = None) -> None:
    """Run a command, echoing it; exit with its status if it fails."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)
    if code != 0:
        sys.exit(code)


# CPU kernels pinned to AVX2 on x86-64: oneDNN (convolutions), MKL (matrix products) and ATen pick
# their code path, and with it the order of floating-point sums, from the CPU: chapter 7's networks,
# trained on two machines with different vector units, ended a few ulps apart and its checked
# accuracies differed. With these every AVX2-capable x86-64 CPU runs the same kernels.
SAME_KERNELS_ON_EVERY_CPU = {"DNNL_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT", "ATEN_CPU_CAPABILITY": "avx2"}


def environment() -> dict:
    """The environment every step runs in: one thread per op, the same CPU kernels on every x86-64
    machine (so that nbval's checked numbers match), and the MNIST data folder.

    MPLBACKEND is left alone: set to Agg it would stop Jupyter kernels from showing figures inline.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    if platform.machine().lower() in ("x86_64", "amd64"):
        for name, value in SAME_KERNELS_ON_EVERY_CPU.items():
            env.setdefault(name, value)
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    shared = ROOT.parent / "shared" / "data" / "mnist"
    if "FMTUTOR_MNIST_DIR" not in env and shared.is_dir():
        env["FMTUTOR_MNIST_DIR"] = str(shared)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def setup() -> None:
    """Create .venv and install the pinned requirements plus the package (editable)."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file runs under any python3, to say so)
        sys.exit(f"fmtutor needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    if STAMP.exists() and STAMP.read_text() == digest.hexdigest():
        return
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", "requirements.txt")
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "-e", ".")
    STAMP.write_text(digest.hexdigest())


def build_book(execute: bool = True) -> Path:
    """Build the HTML book; any warning or failing chapter fails the build."""
    env = environment()
    cmd = [BIN / "jupyter-book", "build", ".", "-W", "-n", "--keep-going"]
    if not execute:  # use the outputs stored in the notebooks (nbval has just checked them)
        override = ROOT / "_build" / "_config.noexec.yml"
        override.parent.mkdir(exist_ok=True)
        text = (ROOT / "_config.yml").read_text()
        text = text.replace("execute_notebooks: force", 'execute_notebooks: "off"')
        # local extension paths are read relative to the config file, which now lives in _build/
        override.write_text(text.replace("fmtutor_book: _ext", f"fmtutor_book: {ROOT / '_ext'}"))
        cmd += ["--config", override]
    run(*cmd, env=env)
    index = ROOT / "_build" / "html" / "index.html"
    print(f"\nThe book is built: open {index.as_uri()}", flush=True)
    return index


STUDENT = ROOT / "_build" / "student"
STUDENT_HTML = STUDENT / "_build" / "html"
BOOK_FILES = (
    "_config.yml",
    "_toc.yml",
    "_ext",
    "_static",
    "book/intro.md",
    "book/notation.md",
    "book/instructors.md",
    "book/references.bib",
)


def missing_frames(book: Path = ROOT / "book") -> list[str]:
    """The static panels' first frames that the chapters' stored outputs show but ``_static/frames``
    lacks (frames are written when a chapter is executed, never committed)."""

    shown = {m for c in sorted(book.glob("*.ipynb")) for m in re.findall(r"_static/frames/[^\\\"]+", c.read_text())}
    return sorted(f for f in shown if not (ROOT / f).is_file())


def student_site() -> Path:
    """The student edition as a rendered site: the chapters with their solutions removed
    (``tools/student_site.py``, which refuses a copy that leaks one), every other output as stored and
    each checker showing what a student meets first ("not attempted yet"). Like the main book in the
    test command it is built from the stored outputs, no chapter executed; warnings are errors."""
    if missing := missing_frames():
        sys.exit(
            f"{len(missing)} static-panel frames are missing (e.g. {missing[0]}): execute the chapters first "
            "(python3 tasks.py book, or the test command's nbval step)"
        )
    if STUDENT.exists():
        shutil.rmtree(STUDENT)
    for name in BOOK_FILES:
        (STUDENT / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, STUDENT / name)
    config = STUDENT / "_config.yml"
    text = config.read_text().replace('title: "', 'title: "Student edition: ', 1)
    config.write_text(text.replace("execute_notebooks: force", 'execute_notebooks: "off"'))
    env = environment()
    run(PY, ROOT / "tools" / "student_site.py", "book", STUDENT / "book", env=env)
    run(BIN / "jupyter-book", "build", STUDENT, "-W", "-n", "--keep-going", env=env)
    index = STUDENT_HTML / "index.html"
    print(f"\nThe student site is built: open {index.as_uri()}", flush=True)
    return index


# What the test command checks on the student site (every page, one visit each): no solution and no
# solution's code anywhere, every checker there and saying "not attempted yet", figures loaded, links
# resolved, no console error. The other page checks are the main site's, whose pages these are too.
STUDENT_CHECKS = "solution or checkers or console or image_and_figure or links_resolve"


def run_together(commands: list[list], env: dict, workers: int) -> None:
    """Run ``commands``, ``workers`` at a time in the order given, printing each one's output when it
    ends; once all have ended, exit with the status of the first that failed."""
    lock, failed = threading.Lock(), []

    def one(cmd: list) -> None:
        start = time.monotonic()
        done = subprocess.run(
            [str(c) for c in cmd], cwd=ROOT, env=env, stdout=PIPE, stderr=STDOUT, text=True, errors="replace"
        )
        with lock:
            print("+", " ".join(str(c) for c in cmd), f"({time.monotonic() - start:.0f} s)", flush=True)
            print(done.stdout, end="", flush=True)
            failed.extend([(done.returncode, cmd)] if done.returncode else [])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, commands))
    for code, cmd in failed:
        print(f"FAILED (exit {code}):", " ".join(str(c) for c in cmd), flush=True)
    if failed:
        sys.exit(failed[0][0])


def recorded_seconds(notebook: Path) -> float:
    """How long the notebook's cells took when it was last executed (nbclient's timing metadata)."""
    total = 0.0
    for cell in json.loads(notebook.read_text())["cells"]:
        times = cell.get("metadata", {}).get("execution", {})
        if all(k in times for k in TIMING):
            ends = [datetime.fromisoformat(times[k].replace("Z", "+00:00")) for k in TIMING]
            total += (ends[1] - ends[0]).total_seconds()
    return total


def test() -> None:
    """The linter; the unit tests and nbval over every chapter, side by side; then the browser tests
    over the built book (and chapters in JupyterLab), then the student site built and checked for
    solutions and checkers."""
    env = environment()
    run(BIN / "ruff", "check", *LINTED, env=env)
    run(BIN / "ruff", "format", "--check", *LINTED, env=env)  # the layout ruff format writes
    # one process each for the unit tests and for every chapter (its own kernel): the unit tests, the
    # longest, then the chapters longest first, so that the cores stay busy to the end (every step is
    # single-threaded: OMP_NUM_THREADS=1)
    pytest = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    nbval = [*pytest, "--nbval", "--nbval-sanitize-with", "book/nbval_sanitize.cfg", "--nbval-cell-timeout", "900"]
    chapters = sorted(CHAPTERS, key=recorded_seconds, reverse=True)
    commands = [[*pytest, "tests", "-m", "not browser"]] + [[*nbval, c.relative_to(ROOT)] for c in chapters]
    run_together(commands, env, workers=max(2, min(4, os.cpu_count() or 1)))
    browser = ROOT / "tests" / "browser"
    if browser.is_dir():
        build_book(execute=False)
        # the built book page by page, and chapters 1-3 and 5 in JupyterLab (all chapters: -m browser)
        run(PY, "-m", "pytest", "-q", "-m", "browser and not slow", str(browser.relative_to(ROOT)), env=env)
        student_site()
        student = {
            **env,
            "FMTUTOR_HTML_DIR": str(STUDENT_HTML),
            "FMTUTOR_EDITION": "student",
            "FMTUTOR_SCREENSHOTS": str(ROOT / "artifacts" / "screenshots" / "student"),
        }
        book_test = browser.relative_to(ROOT) / "test_book.py"
        run(PY, "-m", "pytest", "-q", "-m", "browser", "-k", STUDENT_CHECKS, str(book_test), env=student)


def student() -> None:
    run(PY, ROOT / "tools" / "edition.py", "book", "student", env=environment())


def execute(*notebooks: str) -> None:
    env = environment()
    for path in notebooks or [str(c.relative_to(ROOT)) for c in CHAPTERS]:
        run(
            BIN / "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--inplace",
            "--ExecutePreprocessor.timeout=1200",
            path,
            env=env,
        )
        run(PY, ROOT / "tools" / "edition.py", "--strip-widgets", path, env=env)
    colab()  # a chapter's numbers and labels feed the other chapters' links: the whole edition


def colab() -> None:
    """Write the Colab edition (``colab/``) from the chapters in ``book/``."""
    run(PY, ROOT / "tools" / "colab_edition.py", env=environment())


def diff(revision: str = "HEAD") -> None:
    """``git diff`` of the chapters against ``revision``, each notebook shown as text (tools/nbtext.py)."""
    textconv = f"diff.ipynb.textconv={sys.executable} {ROOT / 'tools' / 'nbtext.py'}"
    run("git", "-c", textconv, "diff", revision, "--", "book/*.ipynb")


def working_copy(book: Path = ROOT / "book", lab: Path = LAB) -> Path:
    """The reader's working copy, laid out like the repository so that the chapters' links work:
    ``lab/book/`` gets the files of ``book`` missing there (a reader's edits are kept) and
    ``lab/_static/frames/`` the static twins' pictures missing there, which the chapters show as
    ``../_static/frames/...``. The chapters copied get their citations written out and their
    blocks numbered as the book does (``tools/working_copy.py``): jupyterlab-myst cannot.
    Returns ``lab/book``."""
    import shutil

    chapters = lab / "book"
    chapters.mkdir(parents=True, exist_ok=True)
    copied = []
    for src in sorted(book.iterdir()):
        if src.is_file() and not (chapters / src.name).exists():
            shutil.copy2(src, chapters / src.name)
            copied += [chapters / src.name] if src.suffix == ".ipynb" else []
    if copied:
        run(PY, ROOT / "tools" / "working_copy.py", *copied)
    frames = book.parent / "_static" / "frames"
    for src in sorted(frames.iterdir()) if frames.is_dir() else []:
        if src.is_dir() and not (lab / "_static" / "frames" / src.name).exists():
            shutil.copytree(src, lab / "_static" / "frames" / src.name)
    return chapters


def jupyter(app: str, *args: str) -> None:
    """JupyterLab or Notebook 7 on the working copy, opened at its chapters, with the threads, CPU
    kernels and MNIST folder of ``environment()`` (the kernels inherit them); static twins rendered
    there go to the working copy's own ``_static/frames``."""
    chapters = working_copy()
    print(f"Working copy of the book: {chapters} (delete a notebook there to get the original back)", flush=True)
    env = {**environment(), "FMTUTOR_FRAMES_DIR": str(LAB / "_static" / "frames")}
    start = {"lab": "--LabApp.default_url=/lab/tree/book", "notebook": "--JupyterNotebookApp.default_url=/tree/book"}
    run(BIN / "jupyter", app, f"--ServerApp.root_dir={LAB}", start[app], *args, env=env)


def reproduce(name: str) -> None:
    run(PY, "-m", "fmtutor.mnist", "reproduce", "--name", name, env=environment())


def main(argv: list[str]) -> None:
    commands = {
        "setup": setup,
        "book": build_book,
        "test": test,
        "student": student,
        "student-site": student_site,
        "execute": execute,
        "colab": colab,
        "diff": diff,
        "reproduce": reproduce,
        "lab": lambda *a: jupyter("lab", *a),
        "notebook": lambda *a: jupyter("notebook", *a),
    }
    takes_arguments = {"execute": None, "diff": 1, "reproduce": 1, "lab": None, "notebook": None}  # None: any number
    limit = takes_arguments.get(argv[0], 0) if argv else 0
    if (
        not argv
        or argv[0] not in commands
        or (limit is not None and len(argv) - 1 > limit)
        or (argv[0] == "reproduce" and len(argv) != 2)
    ):
        sys.exit(__doc__)
    if argv[0] == "diff":  # needs git and the standard library only
        return diff(*argv[1:])
    setup()
    if argv[0] != "setup":
        commands[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
