"""The kernel-free twin of a live panel: frames over a grid of ALL its controls, as files.

``StaticTwin.render`` calls the panel's own ``update`` for every combination of the grid's values
(the Cartesian product, in ``controls()`` order) and saves each figure as a WebP file, rendered at
twice its CSS size so that it is sharp on a screen of device pixel ratio 2. The files go to
``<book root>/_static/frames/<folder>/`` (the book root is the nearest folder above the working
directory that holds ``_config.yml``; ``FMTUTOR_FRAMES_DIR`` overrides it), which Jupyter Book copies
into the built site; the chapter's output holds only a control row and one ``<img>``, whose file the
page's script swaps when a control moves (``fmtutor.static_page``). Each frame is named after its
values, e.g. ``solver-heun_steps-4_t-0.5.webp``, so the stored HTML of an executed notebook names the
same files that any later execution writes.

A folder is re-rendered only when its fingerprint changed: the package's source, the grid, the
fixed values, the figure's size, the image settings and the pixels of the default frame (which
follow the panel's data and trained model). Re-executing an unchanged chapter renders one frame.
The folder's ``manifest.json`` lists the frames and the seconds their drawing took
(``benchmarks/static_panels.py`` reports them).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import static_page

__all__ = ["StaticTwin", "frames_root", "frame_name", "slug", "FRAMES_ENV", "CSS_DPI", "PIXEL_RATIO"]

FRAMES_ENV = "FMTUTOR_FRAMES_DIR"
CSS_DPI = 96  # a CSS inch is 96 CSS pixels
PIXEL_RATIO = 2  # frames hold 2 device pixels per CSS pixel
QUALITY = 60  # WebP quality: text and arrows stay crisp at twice the CSS size (53 KB for a 4-inch frame)
WIDE_QUALITY = 50  # for figures over WIDE_AREA square inches (two panels side by side): 12 % smaller files
WIDE_AREA = 17.0
FORMAT = "webp"


def slug(value: object) -> str:
    """A file-name-safe spelling of a control value: ``0.5`` -> '0.5', 'pf-heun' -> 'pf-heun'."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    return re.sub(r"[^A-Za-z0-9.+-]", "-", text)


def frame_name(values: dict) -> str:
    """The file of the frame for ``values`` (control name -> value, in the grid's order)."""
    return "_".join(f"{name}-{slug(v)}" for name, v in values.items()) + f".{FORMAT}"


def frames_root(cwd: Path | None = None) -> Path:
    """Where frame folders go: ``$FMTUTOR_FRAMES_DIR``, else ``_static/frames`` of the book root
    (the nearest folder at or above ``cwd`` holding ``_config.yml``), else ``./_static/frames``."""
    if os.environ.get(FRAMES_ENV):
        return Path(os.environ[FRAMES_ENV]).resolve()
    here = (cwd or Path.cwd()).resolve()
    root = next((p for p in (here, *here.parents) if (p / "_config.yml").is_file()), here)
    return root / "_static" / "frames"


@lru_cache(maxsize=1)
def _source_digest() -> str:
    """A digest of every ``.py`` file of the package: a code change re-renders every twin."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class StaticTwin:
    """A panel's frames over ``grid`` (control -> values) with the other controls at ``fixed``.

    ``labels`` maps each grid control to the texts its control shows for its values, ``start`` is
    the setting shown first. Build it with ``Panel.static``; ``render`` writes the frames; in a
    notebook the twin displays as its control row and first frame (``_repr_html_``).
    """

    panel: object
    grid: dict
    fixed: dict
    labels: dict
    descriptions: dict
    kinds: dict
    start: dict
    folder: str

    @property
    def directory(self) -> Path:
        return frames_root() / self.folder

    def settings(self) -> list[dict]:
        """Every combination of the grid's values, as ``update`` keyword dicts for the grid controls."""
        names = list(self.grid)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.grid.values())]

    def css_size(self) -> tuple[int, int]:
        width, height = self.panel.fig.get_size_inches()
        return round(width * CSS_DPI), round(height * CSS_DPI)

    def quality(self) -> int:
        """The WebP quality of this panel's frames: lower for wide figures, to keep a chapter's frames small."""
        width, height = self.panel.fig.get_size_inches()
        return WIDE_QUALITY if width * height > WIDE_AREA else QUALITY

    def _draw(self, values: dict, fmt: str, **kwargs) -> bytes:
        self.panel.update(**{**self.fixed, **values})
        buffer = io.BytesIO()
        self.panel.fig.savefig(buffer, format=fmt, dpi=CSS_DPI * PIXEL_RATIO, **kwargs)
        return buffer.getvalue()

    def fingerprint(self) -> str:
        """What the frames depend on: code, grid, settings and the default frame's pixels."""
        digest = hashlib.sha256(_source_digest().encode())
        spec = {
            "class": type(self.panel).__qualname__,
            "grid": self.grid,
            "fixed": self.fixed,
            "size": list(self.panel.fig.get_size_inches()),
            "format": [FORMAT, self.quality(), PIXEL_RATIO],
        }
        digest.update(json.dumps(spec, sort_keys=True, default=repr).encode())
        digest.update(self._draw(self.start, "rgba"))
        return digest.hexdigest()

    def render(self, force: bool = False) -> int:
        """Write every frame (unless the folder's fingerprint is unchanged); returns frames drawn."""
        directory, key = self.directory, self.fingerprint()
        manifest = directory / "manifest.json"
        names = [frame_name(values) for values in self.settings()]
        if (
            not force
            and manifest.is_file()
            and json.loads(manifest.read_text()).get("key") == key
            and all((directory / name).is_file() for name in names)
        ):
            return 0
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob(f"*.{FORMAT}"):
            old.unlink()
        wall, cpu = time.perf_counter(), time.process_time()
        for values, name in zip(self.settings(), names):
            (directory / name).write_bytes(self._draw(values, FORMAT, pil_kwargs={"quality": self.quality()}))
        self.panel.update(**{**self.fixed, **self.start})
        seconds = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}
        manifest.write_text(json.dumps({"key": key, "frames": names, **seconds}, indent=0))
        return len(names)

    def spec(self) -> dict:
        """What the page's script needs: each control's name, label, kind, value texts and slugs."""
        return {
            "format": FORMAT,
            "controls": [
                {
                    "name": name,
                    "label": self.descriptions[name],
                    "kind": self.kinds[name],
                    "labels": list(self.labels[name]),
                    "slugs": [slug(v) for v in values],
                    "index": list(values).index(self.start[name]),
                }
                for name, values in self.grid.items()
            ],
        }

    def source(self) -> str:
        """The first frame's address relative to the working directory (the notebook's folder)."""
        relative = os.path.relpath(self.directory / frame_name(self.start), Path.cwd())
        return Path(relative).as_posix()

    def _repr_html_(self) -> str:
        width, height = self.css_size()
        return static_page.html(self.spec(), self.source(), width, height, self.folder, alt=self.alt())

    def alt(self) -> str:
        """What every frame shows, for readers who cannot see it: the figure's titles (the settings follow)."""
        titles = "; ".join(ax.get_title() for ax in self.panel.fig.axes if ax.get_title())
        return f"Figure drawn in advance for the settings of the controls above ({titles or type(self.panel).__name__})"

    def __repr__(self) -> str:
        sizes = " x ".join(f"{name} ({len(v)})" for name, v in self.grid.items())
        return f"<static twin of {type(self.panel).__name__}: {len(self.settings())} frames over {sizes}>"


def build(panel, grid: dict[str, Sequence], fixed: dict, name: str | None = None) -> StaticTwin:
    """A ``StaticTwin`` of ``panel`` (see ``Panel.static``); checks the grid against ``controls()``."""
    controls = panel.controls()
    unknown = [k for k in [*grid, *fixed] if k not in controls]
    if unknown:
        raise ValueError(
            f"grid and fixed values must name controls of {type(panel).__name__} ({', '.join(controls)}), got {unknown}"
        )
    order = [k for k in controls if k in grid]
    grid = {k: tuple(grid[k]) for k in order}
    for k, values in grid.items():
        if not values:
            raise ValueError(f"grid[{k!r}] must hold at least one value, got {values!r}")
    settings = {**panel.defaults(), **fixed}
    start = {k: fixed_or_first(settings, k, v) for k, v in grid.items()}
    fixed = {k: v for k, v in settings.items() if k not in grid}
    labels = {k: [_label(controls[k], v) for v in values] for k, values in grid.items()}
    kinds = {k: "dropdown" if _is_dropdown(controls[k]) else "slider" for k in grid}
    descriptions = {k: getattr(controls[k], "description", "") or k for k in grid}
    spec = json.dumps(
        {"class": type(panel).__qualname__, "grid": grid, "fixed": fixed, "name": name}, sort_keys=True, default=repr
    )
    folder = f"{name or type(panel).__name__}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"
    return StaticTwin(panel, grid, fixed, labels, descriptions, kinds, start, folder)


def fixed_or_first(settings: dict, name: str, values: tuple) -> object:
    """The control's default (or fixed) value when the grid holds it, else the grid's first value."""
    return settings[name] if settings.get(name) in values else values[0]


def _is_dropdown(widget) -> bool:
    return type(widget).__name__ in ("Dropdown", "Select", "RadioButtons", "ToggleButtons")


def _label(widget, value) -> str:
    """The text the live control shows for ``value``: its option label, or its readout."""
    for option in getattr(widget, "options", ()) or ():
        if isinstance(option, tuple) and option[1] == value:
            return str(option[0])
    fmt = getattr(widget, "readout_format", None)
    if isinstance(value, float) and fmt and type(widget).__name__ == "FloatSlider":
        return format(value, fmt)
    return f"{value:g}" if isinstance(value, float) else str(value)
