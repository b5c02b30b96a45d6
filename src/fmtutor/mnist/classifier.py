"""An independent MNIST classifier: the judge of generated digits, never the generator's teacher.

A small CNN (three conv layers, the last two with stride 2, then 128 penultimate features) trained
once with cross-entropy on the training set and saved to ``runs/mnist-classifier.pt`` with its test
accuracy. ``Classifier.features`` gives the 128 features used by the Fréchet distance.

    python -m fmtutor.mnist classifier            # 'full': 1.3 epochs, about 99.0 % test accuracy
    python -m fmtutor.mnist classifier --quick    # 'quick' (CI): a third of an epoch, about 98 %
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validate import check_batch, check_choice, check_count, check_module_input, check_writable
from ..training import Trainer, load_checkpoint, remove_stale_temporaries, save_atomic, seeded
from .conditioning import IMAGE_SHAPE
from .data import MNIST, load_mnist

__all__ = [
    "Classifier",
    "ClassifierResult",
    "CLASSIFIER_PATH",
    "CLASSIFIER_PRESETS",
    "accuracy",
    "train_classifier",
    "load_classifier",
]

CLASSIFIER_PATH = Path("runs") / "mnist-classifier.pt"
CLASSIFIER_PRESETS = {  # 'full': 1.3 epochs, 99.0 %; 'quick' (CI): a third of an epoch, narrower, ~98 %
    "full": {"widths": (32, 64, 64), "steps": 600, "batch_size": 128, "lr": 3e-3},
    "quick": {"widths": (16, 32, 32), "steps": 300, "batch_size": 64, "lr": 3e-3},
}


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class Classifier(nn.Module):
    """CNN (B, 1, 28, 28) in [-1, 1] -> 10 logits; ``features`` -> (B, 128) penultimate activations."""

    feature_dim = 128

    def __init__(self, widths: tuple[int, int, int] = (32, 64, 64)):
        super().__init__()
        if isinstance(widths, (str, bytes)) or not isinstance(widths, (tuple, list)) or len(widths) != 3:
            raise TypeError(f"widths must be three positive integers, got {widths!r}")
        c1, c2, c3 = (check_count(w, "widths") for w in widths)
        self.widths = tuple(widths)
        self.body = nn.Sequential(
            _conv(1, c1),
            _conv(c1, c2, stride=2),
            _conv(c2, c3, stride=2),
            nn.Flatten(),
            nn.Linear(c3 * 7 * 7, self.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.feature_dim, 10))

    def features(self, x: Tensor) -> Tensor:
        """The penultimate features ``(B, 128)`` of images ``x`` ``(B, 1, 28, 28)``."""
        x = check_module_input(check_batch(x, "x"), self)
        if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"x must have shape (B, 1, 28, 28), got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """The class logits ``(B, 10)`` of images ``x`` ``(B, 1, 28, 28)``."""
        return self.head(self.features(x))


@dataclass(frozen=True)
class ClassifierResult:
    """A trained classifier (in eval mode), its accuracy on the 10,000 test digits, and how it was made."""

    model: Classifier
    test_accuracy: float
    steps: int
    seconds: float
    path: Path | None


def check_digit_labels(labels: object, n: int) -> Tensor:
    """Refuse ``labels`` unless it is a long tensor ``(n,)`` of digits 0..9, one per image."""
    if not isinstance(labels, Tensor) or labels.dtype != torch.long or labels.shape != (n,):
        raise ValueError(
            f"labels must be a long tensor of shape ({n},), one digit per image, "
            f"got {getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}"
        )
    if ((labels < 0) | (labels > 9)).any():
        raise ValueError(f"labels must be digits 0..9, got {labels.min().item()}..{labels.max().item()}")
    return labels


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose predicted class (argmax of the logits) equals ``labels``."""
    images = check_batch(images, "images")
    check_count(batch_size, "batch_size")
    check_digit_labels(labels, len(images))
    model.eval()
    device = next(model.parameters()).device
    hits = sum(
        (model(images[i : i + batch_size].to(device)).argmax(1).cpu() == labels[i : i + batch_size]).sum().item()
        for i in range(0, len(labels), batch_size)
    )
    return hits / len(labels)


def _loss_fn(data: MNIST, batch_size: int):
    def loss_fn(model: nn.Module, generator: torch.Generator) -> Tensor:
        device = next(model.parameters()).device
        idx = torch.randint(len(data), (batch_size,), generator=generator, device=generator.device).cpu()
        return F.cross_entropy(model(data.images[idx].to(device)), data.labels[idx].to(device))

    return loss_fn


def load_classifier(path: str | Path = CLASSIFIER_PATH, device: str | torch.device = "cpu") -> ClassifierResult:
    """Load a classifier saved by ``train_classifier``."""
    state = load_checkpoint(path, ("model", "test_accuracy", "widths", "steps", "seconds"), device)
    try:
        model = Classifier(tuple(state["widths"])).to(device)
        model.load_state_dict(state["model"])
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(
            f"checkpoint {str(path)!r} is not a valid classifier checkpoint: {str(e).strip().splitlines()[0][:200]}"
        ) from e
    return ClassifierResult(model.eval(), state["test_accuracy"], state["steps"], state["seconds"], Path(path))


def _linear_decay(lr: float, steps: int):
    def callback(trainer: Trainer) -> None:  # called after every step: set the next step's rate
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr * max(0.0, 1.0 - trainer.step / steps)

    return callback


def train_classifier(
    path: str | Path | None = CLASSIFIER_PATH,
    preset: str = "full",
    seed: int = 0,
    root: str | Path | None = None,
    device: str | torch.device = "cpu",
    retrain: bool = False,
    progress: bool = True,
    **overrides,
) -> ClassifierResult:
    """Train the classifier of ``CLASSIFIER_PRESETS[preset]`` and measure its test accuracy.

    Adam with the learning rate decaying linearly to 0; ``overrides`` replace the preset's
    ``widths``, ``steps``, ``batch_size`` or ``lr``. If ``path`` already holds a trained classifier
    it is loaded instead (unless ``retrain``); otherwise the result is saved there atomically.
    ``path=None`` keeps it in memory only.
    """
    if path is not None and Path(path).exists() and not retrain:
        return load_classifier(path, device)
    spec = {**CLASSIFIER_PRESETS[check_choice("preset", preset, CLASSIFIER_PRESETS)], **overrides}
    if path is not None:
        check_writable(path, "path")
        remove_stale_temporaries(path)
    with seeded(seed):  # initial weights and dropout follow the seed (the draws in the order they always had)
        model = Classifier(spec["widths"]).to(device)
        train = load_mnist("train", root=root, progress=progress)
        trainer = Trainer(
            model,
            _loss_fn(train, spec["batch_size"]),
            lr=spec["lr"],
            seed=seed,
            callbacks=[_linear_decay(spec["lr"], spec["steps"])],
            callback_every=1,
        )
        start = time.perf_counter()
        trainer.fit(spec["steps"], progress=progress)
        seconds = time.perf_counter() - start
    test = load_mnist("test", root=root, progress=progress)
    acc = accuracy(model, test.images, test.labels)
    if path is not None:
        save_atomic({"model": model.state_dict(), "test_accuracy": acc, "seconds": seconds, "seed": seed, **spec}, path)
    return ClassifierResult(model.eval(), acc, spec["steps"], seconds, Path(path) if path is not None else None)
