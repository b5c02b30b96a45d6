"""Pretrained networks stored in the package: safetensors weights listed in a manifest with their sha256.

``weights/manifest.json`` maps a name ('unet-cpu', 'judge', ...) to the file, its size and sha256,
how the network is rebuilt (``kind`` 'generator' with a ``TrainConfig``, or 'classifier' with its
widths), the command and commit that trained it, and the metrics measured on it. Weights are stored
in float16 (half the bytes; ``store`` keeps integer buffers as they are) and read back as float32; a
generator's training loss curve travels in the file's metadata, so a loaded ``Run`` has its ``losses``.

Before any weights are read, ``verify`` checks the file against the manifest: a file whose size
differs (truncated) or whose sha256 differs (changed, replaced by another network's weights, or not
a weights file at all) is refused with a ``ValueError`` naming the file. Nothing is unpickled.

    run = load_pretrained("unet-cpu")          # a Run, like load_run
    judge = load_pretrained("judge")           # a ClassifierResult, like load_classifier
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .._validate import as_device, as_path, check_count, check_writable
from .classifier import Classifier, ClassifierResult
from .models import build_model
from .train import Run, TrainConfig

__all__ = [
    "WEIGHTS_DIR",
    "SIZE_BUDGET",
    "sha256_file",
    "read_manifest",
    "store",
    "verify",
    "load_pretrained",
    "pretrained_names",
    "half_state",
    "annotate",
    "fingerprint",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SIZE_BUDGET = 6_000_000  # bytes, all stored networks together
_MANIFEST = "manifest.json"


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    path = as_path(path, "path")
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file; expected a file to hash")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: str | Path = WEIGHTS_DIR) -> dict:
    """The manifest: ``{name: entry}`` (an empty dict when there is none yet)."""
    directory = as_path(directory, "directory")
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"directory {str(directory)!r} is a file; expected the folder of the stored networks")
    path = directory / _MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"directory {str(directory)!r}: {_MANIFEST} is not valid JSON ({err}); restore it (git checkout)"
        ) from None
    if not isinstance(manifest, dict):
        raise ValueError(
            f"directory {str(directory)!r}: {_MANIFEST} holds a {type(manifest).__name__}, "
            "not a mapping of names to entries; restore it (git checkout)"
        )
    return manifest


def pretrained_names(directory: str | Path = WEIGHTS_DIR) -> list[str]:
    return sorted(read_manifest(directory))


def _entry(name: str, directory: Path) -> dict:
    manifest = read_manifest(directory)
    if not isinstance(name, str):
        raise TypeError(f"name must be the str name of a stored network, got {type(name).__name__}")
    if name not in manifest:
        raise ValueError(
            f"no stored network named {name!r} in {directory / _MANIFEST}; stored: {sorted(manifest) or 'none'}"
        )
    return manifest[name]


def verify(name: str, directory: str | Path = WEIGHTS_DIR) -> Path:
    """The path of ``name``'s weights after checking its size and sha256 against the manifest."""
    directory = as_path(directory, "directory")
    entry = _entry(name, directory)
    path = directory / entry["file"]
    if not path.is_file():
        raise ValueError(f"{path}: the weights of {name!r} are missing (the manifest lists them)")
    size = path.stat().st_size
    if size != entry["bytes"]:
        what = "truncated" if size < entry["bytes"] else "longer than the manifest says"
        raise ValueError(
            f"{path}: {size} bytes where the manifest lists {entry['bytes']}: the file is {what}; "
            "restore it (git checkout) or retrain it (python -m fmtutor.mnist reproduce)"
        )
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ValueError(
            f"{path}: sha256 {digest[:16]}... differs from the manifest's {entry['sha256'][:16]}...: "
            f"these are not the weights of {name!r} that the manifest lists (changed or replaced); "
            "restore it (git checkout) or retrain it (python -m fmtutor.mnist reproduce)"
        )
    return path


def _config(entry: dict) -> TrainConfig:
    """The stored TrainConfig (JSON keeps tuples as lists: the network sizes become tuples again)."""
    config = dict(entry["config"])
    config["model_kwargs"] = {k: tuple(v) if isinstance(v, list) else v for k, v in config["model_kwargs"].items()}
    return TrainConfig(**config)


def _build(entry: dict) -> nn.Module:
    if entry["kind"] == "classifier":
        return Classifier(tuple(entry["widths"]))
    config = _config(entry)
    return build_model(config.arch, **config.model_kwargs)


def load_pretrained(name: str, directory: str | Path = WEIGHTS_DIR, device: str | torch.device = "cpu"):
    """``name``'s network, verified, in float32 and eval mode: a ``Run`` (generators, EMA weights) or a
    ``ClassifierResult`` (the judge), like ``load_run`` and ``load_classifier`` return, on ``device``
    (one this machine has, e.g. ``'cpu'``, or ``'cuda'`` where torch sees a GPU; another is refused
    with a ValueError that lists the devices there are)."""
    device = as_device(device)
    path = verify(name, directory)
    entry = _entry(name, Path(directory))
    model = _build(entry)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(path).items()}
    model.load_state_dict(state)
    model = model.to(device).eval()
    if entry["kind"] == "classifier":
        return ClassifierResult(model, entry["metrics"].get("test_accuracy", float("nan")), entry["steps"], 0.0, path)
    with safe_open(path, "pt") as f:
        losses = json.loads((f.metadata() or {}).get("losses", "[]"))
    return Run(model, _config(entry), losses, entry["steps"], 0.0, path)


@torch.no_grad()
def fingerprint(model: nn.Module) -> list[float]:
    """A known answer for a generator: the mean and root mean square of ``model(x, t, y)`` on ten fixed
    inputs (x ~ N(0, I) from a generator seeded with 0, (10, 1, 28, 28); t = 0.5; y = 0..9), rounded
    to 6 significant digits. Stored in the manifest, it checks that loading rebuilds the network."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = next(model.parameters()).device
    x = torch.randn((10, 1, 28, 28), generator=torch.Generator().manual_seed(0)).to(device)
    out = model.eval()(x, torch.full((10,), 0.5, device=device), torch.arange(10, device=device)).double()
    return [float(f"{v:.6g}") for v in (out.mean().item(), out.pow(2).mean().sqrt().item())]


def half_state(model: nn.Module, dtype: torch.dtype = torch.float16) -> dict:
    """The model's state dict with floating tensors cast to ``dtype`` (contiguous, on the CPU)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype (e.g. torch.float16), got {dtype!r}")
    return {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }


def store(
    name: str,
    model: nn.Module,
    *,
    steps: int,
    command: str,
    commit: str,
    metrics: dict,
    config: TrainConfig | None = None,
    directory: str | Path = WEIGHTS_DIR,
    losses: list[float] | None = None,
) -> dict:
    """Write ``model`` as ``NAME.safetensors`` (float16) and its manifest entry; return the entry.

    ``config`` is the generator's ``TrainConfig``; without it ``model`` must be a ``Classifier``.
    ``losses`` (a generator's training loss per step) go into the file's metadata, rounded to 5 digits.
    """
    _check_store(name, model, steps, command, commit, metrics, config)
    if losses is not None and (
        isinstance(losses, (str, bytes)) or not all(isinstance(v, (int, float)) for v in losses)
    ):
        raise TypeError("losses must be a list of numbers (the training loss per step) or None")
    directory = check_writable(directory, "directory", directory=True)
    read_manifest(directory)  # a damaged manifest is refused before anything is written
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.safetensors"
    metadata = {"name": name, "commit": commit}
    if losses:
        metadata["losses"] = json.dumps([float(f"{v:.5g}") for v in losses])
    save_file(half_state(model), str(path), metadata=metadata)
    entry = {
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "dtype": "float16",
        "steps": int(steps),
        "command": command,
        "commit": commit,
        "metrics": metrics,
    }
    if config is None:
        entry.update(kind="classifier", widths=list(model.widths))
    else:
        entry.update(
            kind="generator", config=json.loads(json.dumps(asdict(config))), fingerprint=fingerprint(_rounded(model))
        )
    manifest = {**read_manifest(directory), name: entry}
    total = sum(e["bytes"] for e in manifest.values())
    if total > SIZE_BUDGET:
        path.unlink()
        raise ValueError(f"{name}: the stored networks would take {total} bytes, over the budget of {SIZE_BUDGET}")
    _write_manifest(manifest, directory)
    return entry


def _rounded(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with the weights ``store`` writes (float16) read back as ``load_pretrained`` does."""
    rounded = copy.deepcopy(model)
    rounded.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half_state(model).items()})
    return rounded


def _check_store(
    name: str, model: nn.Module, steps: int, command: str, commit: str, metrics: dict, config: TrainConfig | None
) -> None:
    """Refuse ``store``'s arguments before anything is written."""
    if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"name must be a plain file name for the weights (no folder, not hidden), got {name!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_count(steps, "steps", minimum=0)
    for value, what in ((command, "command"), (commit, "commit")):
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict of names to numbers, got {type(metrics).__name__}")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be the generator's TrainConfig or None, got {type(config).__name__}")
    if config is None and not isinstance(model, Classifier):
        raise TypeError(f"a generator needs its TrainConfig; got config=None for {type(model).__name__}")


def _write_manifest(manifest: dict, directory: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".manifest.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    os.replace(tmp, directory / _MANIFEST)


def annotate(name: str, directory: str | Path = WEIGHTS_DIR, **fields) -> dict:
    """Add or replace fields (metrics, how to retrain) of ``name``'s manifest entry; return the entry."""
    directory = as_path(directory, "directory")
    manifest = {**read_manifest(directory), name: {**_entry(name, directory), **fields}}
    _write_manifest(manifest, directory)
    return manifest[name]
