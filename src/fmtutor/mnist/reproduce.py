"""Storing a trained network in the package, and retraining a stored one to check that it comes back.

    python -m fmtutor.mnist export --name judge --classifier runs/mnist-classifier.pt
    python -m fmtutor.mnist export --name unet-cpu --checkpoint runs/mnist-unet-cpu [--quality quality.json]
    python3 tasks.py reproduce judge        # retrain from scratch under the pinned kernels and compare

``reproduce`` retrains with the manifest's recorded settings (preset, seed, steps) into a fresh
folder, rounds the result to float16 as ``store`` does, and compares it tensor by tensor with the
stored file: "bitwise identical" when every tensor matches, otherwise the largest difference and
the metric measured on both (the judge's test accuracy; a generator's class accuracy of 200
digits), which must agree within ``TOLERANCE``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import torch
from safetensors.torch import load_file

from .classifier import accuracy, load_classifier, train_classifier
from .data import load_mnist
from .presets import get_preset
from .pretrained import WEIGHTS_DIR, annotate, half_state, load_pretrained, read_manifest, store, verify
from .sample import class_labels
from .train import load_run, train

__all__ = ["export", "reproduce", "generator_accuracy", "train_command", "add_commands", "TOLERANCE"]

TOLERANCE = {"test_accuracy": 0.003, "accuracy": 0.03}  # absolute, when not bitwise identical


def _head() -> str:
    out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


@torch.no_grad()
def generator_accuracy(run, judge, n: int = 200, w: float = 2.0, nfe: int = 20, seed: int = 0) -> float:
    """The judge's class accuracy on ``n`` digits (n / 10 of each) sampled at guidance ``w`` with ``nfe`` Euler steps."""
    labels = class_labels(n)
    images = run.sample(labels, w=w, nfe=nfe, generator=torch.Generator().manual_seed(seed))
    return float((judge.model(images).argmax(1) == labels).double().mean())


def export(
    name: str,
    checkpoint: str | None = None,
    classifier: str | None = None,
    quality: str | None = None,
    commit: str | None = None,
    directory: Path = WEIGHTS_DIR,
    command: str | None = None,
) -> dict:
    """Store a run's EMA network or a classifier under ``name``, with metrics measured on the stored weights.

    ``command`` is the command that trained it (default: ``train_command`` of a generator's config).
    """
    commit = commit or _head()
    if classifier:
        result = load_classifier(classifier)
        store(
            name,
            result.model,
            steps=result.steps,
            command=command or "python -m fmtutor.mnist classifier",
            commit=commit,
            metrics={},
            directory=directory,
        )
        test = load_mnist("test", progress=False)
        metrics = {
            "test_accuracy": accuracy(load_pretrained(name, directory).model, test.images, test.labels),
            "test_accuracy_float32": result.test_accuracy,
        }
        retrain = {"preset": "full", "seed": 0}
    else:
        run = load_run(checkpoint)
        c = run.config
        store(
            name,
            run.model,
            steps=run.steps,
            command=command or train_command(c),
            commit=commit,
            metrics={},
            config=c,
            directory=directory,
            losses=run.losses,
        )
        judge = load_pretrained("judge", directory)
        metrics = {"accuracy_w2_200_nfe20": generator_accuracy(load_pretrained(name, directory), judge)}
        if quality:
            summary = json.loads(Path(quality).read_text())
            metrics["quality_float32"] = [
                {k: r[k] for k in ("w", "n", "nfe", "accuracy", "frechet", "reference_frechet")}
                for r in summary["results"]
            ]
            metrics["training_cpu_s"] = round(summary["training"]["cpu_s"], 1)
        retrain = {"arch": c.arch, "preset": c.preset, "prediction": c.prediction, "seed": c.seed, "steps": c.steps}
    return annotate(name, directory, metrics=metrics, retrain=retrain)


def train_command(config) -> str:
    """The ``python -m fmtutor.mnist train`` command line that trains a run of ``config`` (its preset,
    plus the options that differ from the preset)."""
    preset = get_preset(config.preset)
    command = f"python -m fmtutor.mnist train --arch {config.arch} --preset {config.preset}"
    if config.prediction == "epsilon":
        command += " --pred epsilon"
    for flag, value, default in (
        ("--steps", config.steps, preset.steps),
        ("--batch-size", config.batch_size, preset.batch_size),
        ("--lr", config.lr, preset.lr),
        ("--seed", config.seed, 0),
    ):
        if value != default:
            command += f" {flag} {value:g}"
    return command


def _retrain(entry: dict, out: Path, root: str | Path | None):
    """The network retrained from scratch with the manifest's ``retrain`` settings (extra keys are
    overrides of the preset: steps, widths, ...), and its TrainConfig (None for a classifier)."""
    spec = dict(entry["retrain"])
    if entry["kind"] == "classifier":
        preset, seed = spec.pop("preset"), spec.pop("seed")
        fresh = train_classifier(
            out / "classifier.pt", preset, seed=seed, root=root, retrain=True, progress=False, **spec
        )
        return fresh.model, None
    fresh = train(
        spec.pop("arch"), spec.pop("preset"), spec.pop("prediction"), out=out, root=root, progress=False, **spec
    )
    return fresh.model, fresh.config


def _metric(entry: dict, name: str, directory: Path, root: str | Path | None) -> float:
    if entry["kind"] == "classifier":
        test = load_mnist("test", root=root, progress=False)
        return accuracy(load_pretrained(name, directory).model, test.images, test.labels)
    return generator_accuracy(load_pretrained(name, directory), load_pretrained("judge"))


def reproduce(name: str, out: str | Path, directory: Path = WEIGHTS_DIR, root: str | Path | None = None) -> dict:
    """Retrain ``name`` from scratch into ``out`` and compare it with the stored weights (see module doc)."""
    stored_path, entry, out = verify(name, directory), read_manifest(directory)[name], Path(out)
    model, config = _retrain(entry, out, root)
    stored, again = load_file(stored_path), half_state(model)
    same = [k for k in stored if k in again and torch.equal(stored[k], again[k])]
    largest = max(
        (float((stored[k].float() - again[k].float()).abs().max()) for k in stored if k in again), default=0.0
    )
    metric = "test_accuracy" if entry["kind"] == "classifier" else "accuracy"
    result = {
        "name": name,
        "tensors": len(stored),
        "identical": len(same),
        "bitwise": len(same) == len(stored),
        "largest_difference": largest,
        "metric": metric,
    }
    if result["bitwise"]:
        return {**result, "within_tolerance": True}
    store(
        "reproduced", model, steps=entry["steps"], command="", commit="", metrics={}, config=config, directory=out
    )  # measured as the stored one is: float16 weights read back
    before, after = _metric(entry, name, Path(directory), root), _metric(entry, "reproduced", out, root)
    return {
        **result,
        "stored": before,
        "retrained": after,
        "within_tolerance": abs(before - after) <= TOLERANCE[metric],
    }


def add_commands(sub, common) -> dict:
    """Add the ``export`` and ``reproduce`` subcommands (with the ``common`` options) to the command line;
    return their handlers."""
    p = sub.add_parser("export", help="store a trained network in the package (float16 safetensors + manifest)")
    p.add_argument("--name", required=True, help="the stored name, e.g. unet-cpu or judge")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--checkpoint", help="a run folder or its checkpoint.pt (a generator)")
    group.add_argument("--classifier", help="a classifier file written by 'classifier' (the judge)")
    p.add_argument("--quality", help="the quality.json of benchmarks/mnist_quality.py for this run")
    p.add_argument("--commit", help="the commit that trained it (default: HEAD)")
    p.add_argument(
        "--command",
        dest="trained_by",
        help="the command that trained it (default: the train command of its config)",
    )
    common(p)
    p = sub.add_parser("reproduce", help="retrain a stored network from scratch and compare it with the stored one")
    p.add_argument("--name", required=True)
    p.add_argument("--out", help="folder for the retrained network (default runs/reproduce-NAME)")
    common(p)

    def _export(args: argparse.Namespace) -> None:
        print(
            json.dumps(
                export(args.name, args.checkpoint, args.classifier, args.quality, args.commit, command=args.trained_by),
                indent=1,
            )
        )

    def _reproduce(args: argparse.Namespace) -> None:
        print(json.dumps(reproduce(args.name, args.out or f"runs/reproduce-{args.name}")))

    return {"export": _export, "reproduce": _reproduce}
