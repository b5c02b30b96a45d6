"""The bad-input walk: every public callable of ``fmtutor``, called with one bad argument at a time.

Each ``Recipe`` builds a valid call (the callable and its keyword arguments) and says of what kind
each argument is; every kind has its classes of bad values (``BAD``). ``walk()`` replaces one argument
by one bad value at a time and records the outcome: the call must raise ``ValueError`` or ``TypeError``
from a ``raise`` statement inside ``fmtutor`` whose message names the argument, or, for the classes
marked "may pass", return a result whose tensors are all finite.

Public names come from the ``__all__`` lists of the package and its submodules, found by walking the
package, so a moved or renamed module needs no change here; a public callable with neither a recipe
nor an exemption (``EXEMPT``) fails ``test_bad_inputs.py``. Used by ``tests/test_bad_inputs.py`` and
``benchmarks/bad_inputs.py`` (which prints the count per class).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import linecache
import pkgutil
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import fmtutor

NAN, INF = float("nan"), float("inf")
PACKAGE_DIR = Path(fmtutor.__file__).resolve().parent


# -- the public API -----------------------------------------------------------------------------------


def public_modules() -> list[Any]:
    """fmtutor and every submodule whose name has no leading underscore."""
    mods = [fmtutor]
    for info in pkgutil.walk_packages(fmtutor.__path__, "fmtutor."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            mods.append(importlib.import_module(info.name))
    return mods


def public_objects() -> dict[str, Any]:
    """Every object named in an ``__all__``, keyed by its qualified name (one entry per object)."""
    found: dict[str, Any] = {}
    for mod in public_modules():
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            key = getattr(obj, "__qualname__", None) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
            found.setdefault(key or f"{mod.__name__}.{name}", obj)
    return found


def category(obj: Any) -> str | None:
    """Why a public object needs no recipe, or None when it is a callable that must have one."""
    if not callable(obj):
        return "constant"
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "exception"
        if getattr(obj, "_is_protocol", False):
            return "protocol"
        if inspect.isabstract(obj):
            return "abstract base class (its subclasses are walked)"
        params = getattr(obj, "__dataclass_params__", None)
        if params is not None and params.frozen and not hasattr(obj, "__post_init__"):
            return "record"
    if getattr(obj, "__module__", "").startswith(tuple(f"fmtutor.{m}" for m in EXEMPT_MODULES)):
        return EXEMPT_MODULES[obj.__module__.split(".")[1]]
    if getattr(obj, "__module__", "") in ("typing", "collections.abc"):
        return "type alias"
    return EXEMPT.get(obj.__qualname__)


EXEMPT_MODULES = {
    "panels": "widget: sliders choose among fixed options; covered by the panel tests",
    "exercises": "checker: its input is a learner's function, fed wrong solutions by the checker tests",
    "viz": "plotting edge: draws arrays for the reader, no kernel",
    "compare_plots": "plotting edge: draws arrays for the reader, no kernel",
    "plots": "plotting edge: draws arrays for the reader, no kernel",
    "edition": "build tool for the student edition, not a kernel",
    "live_panel": "widget: draws a panel's own update for the values its controls send; covered by "
    "tests/test_viz_live.py",
    "live_pictures": "widget internals: draws, caches and shows the live panel's pictures for the values its "
    "controls send; covered by tests/test_viz_live.py",
    "png": "widget internals: encodes the live panel's canvas pixels (its one array is checked by shape and "
    "dtype); covered by tests/test_viz_live.py",
    "static": "build step: renders a panel's frames over its fixed control grid into the book's _static folder; "
    "covered by tests/test_static.py",
    "static_page": "build step: writes the HTML of a rendered static panel from its own spec; covered by "
    "tests/test_static.py",
    "launch": "build tool: writes the install cell of every chapter from pyproject.toml and the git remote; "
    "covered by tests/test_launch.py",
}
EXEMPT = {
    "main": "command line: walked by tests/test_demos.py and tests/mnist/test_mnist_cli.py",
    "parse_args": "command line: walked by tests/test_demos.py",
    "parser": "command line: walked by tests/mnist/test_mnist_cli.py",
    "setup": "notebook set-up (seed, threads, dpi); called once per chapter",
    "download": "network access; not reachable from the tests",
    "ensure_files": "network access when files are missing; covered by tests/mnist/test_mnist_data.py",
    "default_preset": "takes no argument",
    "load_mnist": "reads the MNIST files: split, limit and damaged files walked by tests/mnist/test_mnist_data.py",
    "mnist_dir": "a folder name from an argument or the environment; walked by tests/mnist/test_mnist_data.py",
    "ConditionEmbedding": "building block inside UNet and DiT, whose forward checks (x, t, y) once",
    "ResBlock": "building block inside UNet, whose forward checks (x, t, y) once",
    "DiTBlock": "building block inside DiT, whose forward checks (x, t, y) once",
    **{
        name: "chapter 8's cost/benefit driver: trains networks or formats the Row records it made; walked by "
        "tests/test_cost_benefit.py"
        for name in ("train_methods", "measure", "summarize", "format_table", "format_costs", "gaussian_field_errors")
    },
    "Trainer": "walked by tests/test_training.py (settings, counts, checkpoints)",
    "EMA": "walked by tests/test_training.py (ema_decay)",
    "train": "MNIST training: walked by tests/mnist/test_mnist_cli.py through check_train_args",
    "train_classifier": "MNIST training: its path and preset are walked by tests/mnist/test_mnist_cli.py",
    "export": "command-line action (python -m fmtutor.mnist export): loads a trained run (load_run and "
    "load_classifier, walked here) and measures it on the MNIST test set; stores it with store (walked)",
    "reproduce": "command-line action (tasks.py reproduce): retrains a stored network from scratch (minutes); its "
    "name and folder go through verify (walked) before any work; run by tests/mnist/test_mnist_pretrained.py",
    "generator_accuracy": "measurement inside export and reproduce: samples 200 digits from a trained Run with "
    "sample (walked) and scores them with the judge",
    "fingerprint": "known answer of a stored generator: its output on ten fixed inputs; a model that is not a "
    "Module is refused (TypeError), and the model's forward checks (x, t, y)",
    "train_command": "formats the train command line of a TrainConfig, whose fields were checked when the run "
    "was trained; called by export",
    "add_commands": "argparse wiring: adds the export and reproduce subparsers to the MNIST command line; takes no "
    "values",
    **{
        step: "the per-step kernel of solve_ode's loop: solve_ode checks its inputs once (a check per step "
        "would cost a device sync per step)"
        for step in ("euler_step", "midpoint_step", "heun_step", "rk4_step")
    },
}


# -- kinds of argument and their bad values --------------------------------------------------------------


def _poke(v: Tensor, value: float) -> Tensor:
    out = v.clone()
    out.view(-1)[0] = value
    return out


def _wider(v: Tensor) -> Tensor:
    return torch.cat([v, v[..., :1]], dim=-1)


MUST, MAY = "must raise", "may pass"
# kind -> list of (class, make bad value from the valid one, MUST or MAY)
BAD: dict[str, list[tuple[str, Callable[[Any], Any], str]]] = {
    "batch": [  # a (B, *D) data tensor, the first of its call
        ("shape", lambda v: v.reshape(-1)[:3], MUST),
        ("empty batch", lambda v: v[:0], MUST),
        ("nan", lambda v: _poke(v, NAN), MUST),
        ("inf", lambda v: _poke(v, -INF), MUST),
        ("dtype", lambda v: v.long(), MUST),
        ("dtype", lambda v: v.double(), MAY),
        ("device", lambda v: v.to("meta"), MUST),
        ("type", lambda v: v.tolist(), MUST),
        ("type", lambda v: None, MUST),
        ("type", lambda v: "x", MUST),
    ],
}
BAD["batch_d"] = BAD["batch"] + [("width", _wider, MUST)]  # a batch whose width D is fixed
BAD["like"] = [  # a second data tensor that must match the first in shape, dtype and device
    ("shape", lambda v: v[:-1], MUST),
    ("width", _wider, MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, INF), MUST),
    ("dtype", lambda v: v.double(), MUST),
    ("dtype", lambda v: v.long(), MUST),
    ("device", lambda v: v.to("meta"), MUST),
    ("type", lambda v: v.tolist(), MUST),
    ("type", lambda v: "x", MUST),
]
BAD["net_input"] = [b for b in BAD["batch_d"] if b[0] != "dtype"] + [  # the input of a float32 network
    ("dtype", lambda v: v.double(), MUST),
    ("dtype", lambda v: v.long(), MUST),
]
BAD["param"] = [  # a parameter of an analytic object: numbers, lists or tensors, converted like numbers
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, INF), MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("type", lambda v: "x", MUST),
    ("type", lambda v: object(), MUST),
    ("dtype", lambda v: v.double(), MAY),
]
BAD["times"] = [  # times of any shape in [0, 1] (a schedule's argument)
    ("nan", lambda v: NAN, MUST),
    ("inf", lambda v: INF, MUST),
    ("range", lambda v: -0.5, MUST),
    ("range", lambda v: 1.5, MUST),
    ("nan", lambda v: torch.full((4,), NAN), MUST),
    ("type", lambda v: "0.5", MUST),
]
BAD["net_shapes"] = [  # the input of a network that checks shapes, dtype and device (free), not values (a sync)
    ("shape", lambda v: v.reshape(-1)[:3], MUST),
    ("width", _wider, MUST),
    ("dtype", lambda v: v.double(), MUST),
    ("device", lambda v: v.to("meta"), MUST),
    ("type", lambda v: v.tolist(), MUST),
    ("type", lambda v: None, MUST),
]
BAD["time_shape"] = [
    ("shape", lambda v: torch.full((5,), 0.5), MUST),
    ("shape", lambda v: torch.full((4, 2), 0.5), MUST),
    ("type", lambda v: "0.5", MUST),
    ("type", lambda v: [0.5], MUST),
]
BAD["time"] = [  # a time in [0, 1]: a number or a (B,) tensor
    ("nan", lambda v: NAN, MUST),
    ("inf", lambda v: INF, MUST),
    ("range", lambda v: -0.5, MUST),
    ("range", lambda v: 1.5, MUST),
    ("nan", lambda v: torch.full((4,), NAN), MUST),
    ("shape", lambda v: torch.full((5,), 0.5), MUST),
    ("shape", lambda v: torch.full((4, 2), 0.5), MUST),
    ("type", lambda v: "0.5", MUST),
    ("type", lambda v: [0.5], MUST),
]
BAD["real"] = [
    ("nan", lambda v: NAN, MUST),
    ("inf", lambda v: INF, MUST),
    ("inf", lambda v: -INF, MUST),
    ("type", lambda v: "1.0", MUST),
]
BAD["positive"] = BAD["real"] + [("negative", lambda v: -1.0, MUST), ("zero", lambda v: 0.0, MUST)]
BAD["nonnegative"] = BAD["real"] + [("negative", lambda v: -1.0, MUST)]
BAD["unit"] = BAD["real"] + [("range", lambda v: -0.1, MUST), ("range", lambda v: 1.5, MUST)]  # in [0, 1]
BAD["count0"] = [
    ("negative", lambda v: -1, MUST),
    ("fraction", lambda v: 2.5, MUST),
    ("type", lambda v: "3", MUST),
    ("nan", lambda v: NAN, MUST),
]
BAD["count"] = BAD["count0"] + [("zero", lambda v: 0, MUST)]
BAD["name"] = [("unknown name", lambda v: "no-such-name", MUST), ("type", lambda v: 3, MUST)]
BAD["object"] = [("type", lambda v: 3, MUST), ("type", lambda v: "nonsense", MUST), ("type", lambda v: object(), MUST)]
BAD["field"] = [  # a callable field(x, t) whose output is checked
    ("type", lambda v: 3, MUST),
    ("shape", lambda v: lambda x, t, **c: x[:, :1], MUST),
    ("type", lambda v: lambda x, t, **c: "v", MUST),
    ("nan", lambda v: lambda x, t, **c: x * NAN, MUST),
]
BAD["model"] = BAD["field"][:3]  # a model in a loss: the trainer refuses a non-finite loss itself
BAD["grid"] = [  # a 1-D time grid
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, INF), MUST),
    ("shape", lambda v: v[:1], MUST),
    ("shape", lambda v: v[None], MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("range", lambda v: v.flip(0)[torch.tensor([0, 2, 1, *range(3, len(v))])], MUST),  # not monotone
    ("type", lambda v: v.tolist(), MUST),
    ("dtype", lambda v: v.long(), MUST),
]
BAD["path"] = [("type", lambda v: "linear", MUST), ("type", lambda v: 3, MUST), ("type", lambda v: None, MUST)]
BAD["labels"] = [  # digit labels, a long (B,) tensor in 0..10
    ("range", lambda v: v + 11, MUST),
    ("negative", lambda v: v - 5, MUST),
    ("dtype", lambda v: v.float(), MUST),
    ("shape", lambda v: v[None], MUST),
    ("type", lambda v: v.tolist(), MUST),
]
BAD["type_only"] = [("type", lambda v: 3, MUST), ("type", lambda v: None, MUST)]
BAD["infile"] = [("path", lambda v: Path(v).parent / "missing.gz", MUST), ("type", lambda v: 3, MUST)]
BAD["file"] = [("path", lambda v: Path(v).parent / "file" / "x.pt", MUST), ("type", lambda v: 3, MUST)]
BAD["probes"] = [  # Hutchinson probes (P, B, *D) for a batch x (B, *D), in x's dtype and device
    ("shape", lambda v: v[0], MUST),
    ("shape", lambda v: v[:, :-1], MUST),
    ("width", _wider, MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, INF), MUST),
    ("dtype", lambda v: v.double(), MUST),
    ("dtype", lambda v: v.long(), MUST),
    ("device", lambda v: v.to("meta"), MUST),
    ("type", lambda v: v.tolist(), MUST),
    ("type", lambda v: None, MUST),
]
BAD["log_density"] = [  # a callable mapping points (N, *D) to one log-density each (N,)
    ("type", lambda v: 3, MUST),
    ("shape", lambda v: lambda z: z, MUST),
    ("shape", lambda v: lambda z: z.sum(), MUST),
    ("type", lambda v: lambda z: "p", MUST),
    ("nan", lambda v: lambda z: z[:, 0] * NAN, MUST),
    ("inf", lambda v: lambda z: z[:, 0] * 0 + INF, MUST),
]
BAD["values"] = [  # a (B,) tensor of finite numbers, one per sample
    ("shape", lambda v: v[None], MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, -INF), MUST),
    ("dtype", lambda v: v.long(), MUST),
    ("dtype", lambda v: v.double(), MAY),
    ("device", lambda v: v.to("meta"), MUST),
    ("type", lambda v: v.tolist(), MUST),
    ("type", lambda v: None, MUST),
]
BAD["class"] = BAD["count0"] + [("range", lambda v: 7, MUST)]  # a class label of a labelled mixture
BAD["masses"] = [  # an array of cell masses >= 0
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, INF), MUST),
    ("negative", lambda v: _poke(v, -0.5), MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("dtype", lambda v: v.long(), MUST),
    ("dtype", lambda v: v.double(), MUST),
    ("device", lambda v: v.to("meta"), MUST),
    ("type", lambda v: v.tolist(), MUST),
    ("type", lambda v: None, MUST),
]
BAD["counts"] = [  # a non-empty sequence of positive integers (NFEs, seeds)
    ("zero", lambda v: [0], MUST),
    ("negative", lambda v: [-1], MUST),
    ("fraction", lambda v: [2.5], MUST),
    ("nan", lambda v: [NAN], MUST),
    ("empty batch", lambda v: [], MUST),
    ("type", lambda v: 3, MUST),
    ("type", lambda v: "12", MUST),
    ("type", lambda v: [None], MUST),
]
BAD["reals"] = [
    ("nan", lambda v: [NAN], MUST),
    ("inf", lambda v: [INF], MUST),
    ("empty batch", lambda v: [], MUST),
    ("type", lambda v: 3, MUST),
    ("type", lambda v: "1.0", MUST),
    ("type", lambda v: [None], MUST),
]
BAD["folder"] = [  # a folder that is read (it may not exist yet)
    ("path", lambda v: Path(v) / "manifest.json", MUST),
    ("path", lambda v: _damaged(Path(v)), MUST),
    ("type", lambda v: 3, MUST),
    ("type", lambda v: None, MUST),
]
BAD["float_dtype"] = [
    ("dtype", lambda v: torch.int8, MUST),
    ("dtype", lambda v: torch.bool, MUST),
    ("type", lambda v: "float16", MUST),
    ("type", lambda v: 3, MUST),
]
BAD["text"] = [("type", lambda v: 3, MUST), ("type", lambda v: None, MUST)]
BAD["new_name"] = [
    ("path", lambda v: "a/b", MUST),
    ("path", lambda v: "", MUST),
    ("path", lambda v: "..", MUST),
    ("type", lambda v: 3, MUST),
    ("type", lambda v: None, MUST),
]
BAD["matrix"] = BAD["batch"] + [("shape", lambda v: v[None], MUST)]  # an (N, M) floating matrix (a cost)
BAD["square"] = BAD["matrix"] + [("shape", lambda v: v[:-1], MUST)]  # an (N, N) cost
BAD["plan"] = (
    BAD["matrix"]
    + [  # a transport plan: non-negative weights, every row with some mass
        ("negative", lambda v: _poke(v, -0.5), MUST),
        ("zero", lambda v: torch.cat([torch.zeros_like(v[:1]), v[1:]]), MUST),
    ]
)
BAD["time_set"] = [  # a non-empty 1-D tensor of times in [0, 1)
    ("nan", lambda v: _poke(v, NAN), MUST),
    ("inf", lambda v: _poke(v, INF), MUST),
    ("range", lambda v: _poke(v, -0.5), MUST),
    ("range", lambda v: _poke(v, 1.0), MUST),
    ("empty batch", lambda v: v[:0], MUST),
    ("shape", lambda v: v[None], MUST),
    ("dtype", lambda v: v.long(), MUST),
    ("type", lambda v: v.tolist(), MUST),
]
BAD["profile"] = (
    BAD["values"]
    + [  # non-negative values, one per interval of a grid
        ("negative", lambda v: _poke(v, -0.5), MUST),
        ("shape", lambda v: v[:-1], MUST),
    ]
)
BAD["device_name"] = [("device", lambda v: "no-such-device", MUST), ("type", lambda v: 3.5, MUST)]


def _damaged(folder: Path) -> Path:
    """A fresh folder beside ``folder`` whose manifest.json is not JSON (a damaged checkout)."""
    damaged = folder.parent / "damaged"
    damaged.mkdir(exist_ok=True)
    (damaged / "manifest.json").write_text("{ not json")
    return damaged


@dataclass
class Recipe:
    """A valid call of a public callable ``target`` (qualified name) and the kinds of its arguments."""

    target: str
    make: Callable[[], tuple[Callable, dict]]
    kinds: dict[str, str]
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what else a message may call the argument


@dataclass
class Outcome:
    tried: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.tried.values())


def _tensors(value: Any):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _tensors(getattr(value, f.name))


def _raised_by_fmtutor(error: BaseException) -> bool:
    """Whether the innermost frame is a ``raise`` statement in a file of the fmtutor package."""
    last = traceback.extract_tb(error.__traceback__)[-1]
    in_package = Path(last.filename).resolve().is_relative_to(PACKAGE_DIR)
    return in_package and linecache.getline(last.filename, last.lineno).strip().startswith("raise ")


def _check(recipe: Recipe, arg: str, cls: str, expect: str, fn: Callable, kwargs: dict) -> str | None:
    """Call once; return a description of what went wrong, or None."""
    where = f"{recipe.target}({arg}=<{cls}>)"
    try:
        result = fn(**kwargs)
    except (ValueError, TypeError) as e:
        if not _raised_by_fmtutor(e):
            last = traceback.extract_tb(e.__traceback__)[-1]
            return f"{where}: {type(e).__name__} from {Path(last.filename).name}:{last.lineno}: {str(e)[:150]}"
        names = (arg, *recipe.names.get(arg, ()))
        if not any(n in str(e) for n in names):
            return f"{where}: the message does not name {arg!r}: {str(e)[:150]}"
        return None
    except Exception as e:  # noqa: BLE001 - any other error is what the walk looks for
        return f"{where}: {type(e).__name__}: {str(e)[:150]}"
    if expect == MUST:
        return f"{where}: returned {type(result).__name__} instead of raising"
    bad = [t for t in _tensors(result) if t.is_floating_point() and not torch.isfinite(t).all()]
    return f"{where}: returned non-finite values" if bad else None


def walk(recipes: list[Recipe]) -> Outcome:
    """Try every bad value of every argument of every recipe; count by class and collect failures."""
    out = Outcome()
    for recipe in recipes:
        for arg, kind in recipe.kinds.items():
            for cls, bad, expect in BAD[kind]:
                fn, kwargs = recipe.make()
                kwargs[arg] = bad(kwargs[arg])
                out.tried[cls] += 1
                problem = _check(recipe, arg, cls, expect, fn, kwargs)
                if problem:
                    out.failures.append(problem)
    return out


def valid_calls(recipes: list[Recipe]) -> list[str]:
    """Run each recipe's valid call once; the failures (a recipe must describe a call that works)."""
    problems = []
    for recipe in recipes:
        fn, kwargs = recipe.make()
        try:
            fn(**kwargs)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{recipe.target}: the valid call failed: {type(e).__name__}: {e}")
    return problems
