"""Training presets sized to the hardware: ``quick`` (CI), ``cpu`` (~10 min on 2 cores), ``gpu``.

A preset fixes the network sizes, the number of steps, the global batch, the learning rate and
EMA, and how many digits an evaluation draws. ``default_preset()`` is 'gpu' when CUDA is present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .._validate import check_choice

__all__ = ["Preset", "PRESETS", "get_preset", "default_preset"]


@dataclass(frozen=True)
class Preset:
    """Hyper-parameters of one training budget. ``models`` maps 'unet'/'dit' to constructor kwargs."""

    name: str
    steps: int
    batch_size: int
    lr: float
    ema_decay: float
    models: dict = field(default_factory=dict)
    classifier_steps: int = 1500
    eval_samples: int = 1000
    checkpoint_every: int = 250
    grad_clip: float = 1.0
    time_sampling: str = "uniform"


PRESETS: dict[str, Preset] = {
    # CI: seconds of training; digits are blurry but class-dependent, good for relative comparisons.
    "quick": Preset(
        "quick",
        steps=200,
        batch_size=32,
        lr=3e-3,
        ema_decay=0.98,
        models={
            "unet": {"channels": (8, 16, 32), "emb_dim": 64, "attention": False},
            "dit": {"patch": 4, "dim": 64, "depth": 2, "heads": 4},
        },
        classifier_steps=300,
        eval_samples=200,
        checkpoint_every=50,
    ),
    # One CPU thread: at most 10 minutes per network (a UNet step of batch 64 costs 0.44 s of CPU, so 1,250
    # steps take about 9 minutes). No attention in the UNet (its time goes to training steps instead),
    # and logit-normal times, which spend the batch on the middle of the path where the digit takes shape.
    "cpu": Preset(
        "cpu",
        steps=1250,
        batch_size=64,
        lr=2e-3,
        ema_decay=0.995,
        models={
            "unet": {"channels": (16, 32, 64), "emb_dim": 128, "attention": False},
            "dit": {"patch": 4, "dim": 96, "depth": 4, "heads": 4},
        },
        classifier_steps=1500,
        eval_samples=1000,
        time_sampling="logit-normal",
    ),
    # One GPU: the full-size networks (UNet ~1.5 M, DiT ~4.2 M parameters).
    "gpu": Preset(
        "gpu",
        steps=20000,
        batch_size=256,
        lr=5e-4,
        ema_decay=0.9995,
        models={
            "unet": {"channels": (32, 64, 128), "emb_dim": 128, "attention": True},
            "dit": {"patch": 2, "dim": 192, "depth": 6, "heads": 6},
        },
        classifier_steps=3000,
        eval_samples=10000,
        checkpoint_every=1000,
    ),
}


def get_preset(name: str | Preset) -> Preset:
    """A preset by name ('quick', 'cpu', 'gpu'); a ``Preset`` is returned as is."""
    return name if isinstance(name, Preset) else PRESETS[check_choice("preset", name, PRESETS)]


def default_preset() -> str:
    """'gpu' when a CUDA device is available, else 'cpu'."""
    return "gpu" if torch.cuda.is_available() else "cpu"
