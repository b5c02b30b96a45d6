"""A generic training loop: any model, any loss, callbacks for live plots, EMA, atomic checkpoints.

    trainer = Trainer(model, loss_fn, lr=1e-3, seed=0, ema_decay=0.999)
    result = trainer.fit(train_steps=2000, checkpoint="runs/ch4.pt")   # resumes if the file exists

``loss_fn(model, generator) -> scalar tensor`` draws its own batch from ``generator``, so a run is
reproducible from its seed, and a resumed run continues the same stream of random numbers.
A checkpoint is written to a temporary file and moved into place, so an interrupted run never
leaves a half-written file; a temporary file left by a killed save is removed when the next run
starts. A corrupt or foreign checkpoint is refused with its file name and what is wrong. Ctrl-C (or the
notebook's interrupt) lets the current step finish, saves a checkpoint and then stops; a second Ctrl-C
stops at once and keeps the last saved one.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ._validate import as_device, as_path, check_count, check_positive, check_real, check_writable

__all__ = [
    "EMA",
    "TrainResult",
    "Trainer",
    "save_atomic",
    "seeded",
    "seeded_generator",
    "load_checkpoint",
    "remove_stale_temporaries",
]

LossFn = Callable[[nn.Module, torch.Generator], Tensor]


def seeded_generator(seed: int) -> torch.Generator:
    """A fresh CPU ``torch.Generator`` seeded with ``seed``: the same draws every time it is made,
    whatever ran before (what every sampler's ``generator`` argument takes; ``seeded`` is for the
    global generators, which only layer initialisation and dropout use)."""
    return torch.Generator().manual_seed(check_count(seed, "seed", minimum=0))


def seeded(seed: int) -> contextlib.AbstractContextManager[None]:
    """Inside: torch's global generators seeded with ``seed``; after: restored as they were.

    For what draws from the global generators and takes no generator of its own: the initial
    weights of torch's layers, and dropout. The caller's random state is neither read nor changed,
    so the same seed gives the same weights whatever ran before.

        with seeded(0):
            model = MLPField(hidden=64)
    """
    return _seeded(check_count(seed, "seed", minimum=0))


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class EMA:
    """Exponential moving average of a model's parameters: avg <- decay * avg + (1 - decay) * param."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = check_real(decay, "ema_decay", 0.0, 1.0, open_low=True, open_high=True)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """avg <- decay * avg + (1 - decay) * param for every parameter; buffers are copied."""
        for avg, p in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(p.detach(), 1.0 - self.decay)
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)


@dataclass(frozen=True)
class TrainResult:
    """The loss of every step so far, the number of steps done, and the wall time of this call."""

    losses: list[float]
    steps: int
    seconds: float


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def save_atomic(obj: object, path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    path = check_writable(path, "path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files that killed ``save_atomic`` calls for ``path`` left beside it."""
    path = check_writable(path, "path")
    if not path.parent.is_dir():
        return []
    stale = sorted(path.parent.glob(f"{_temporary_prefix(path)}*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def load_checkpoint(path: str | Path, keys: Sequence[str] = (), device: str | torch.device = "cpu") -> dict:
    """Read a checkpoint saved by ``save_atomic`` (tensors and plain values only, never pickled code).

    Raises ``ValueError`` naming the file when it is missing, unreadable, corrupt, or not a dict
    holding every one of ``keys``, and naming ``device`` when this machine does not have it.
    """
    path, device = as_path(path, "checkpoint"), as_device(device)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist or is not a file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for a truncated or foreign file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else "the file ends too early"
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be read (corrupt, truncated or not a torch "
            f"checkpoint): {type(e).__name__}: {reason[:200]}"
        ) from e
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(
            f"checkpoint {str(path)!r} is not a checkpoint of this kind: it lacks {', '.join(map(repr, missing))}"
        )
    return state


class _DeferredInterrupt:
    """Hold SIGINT (Ctrl-C) until the current step is done, so that no checkpoint holds half an
    optimizer step; ``requested`` says one came. A second SIGINT raises at once. Only the main
    thread can own a signal handler; elsewhere, or where SIGINT is ignored, nothing changes."""

    def __enter__(self) -> _DeferredInterrupt:
        self.requested, self._previous = False, None
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous not in (signal.SIG_IGN, None):
                self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    """Runs ``loss_fn`` under Adam (or a given optimizer) for a number of steps.

    Callbacks are called as ``callback(trainer)`` every ``callback_every`` steps; they can read
    ``trainer.step`` and ``trainer.losses`` (e.g. ``fmtutor.viz.LossPlot`` redraws a loss curve).
    ``trainer.model_for_sampling`` is the EMA copy when EMA is on, else the model itself.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        lr: float = 1e-3,
        seed: int = 0,
        optimizer: torch.optim.Optimizer | None = None,
        ema_decay: float | None = None,
        callbacks: Sequence[Callable[[Trainer], None]] = (),
        callback_every: int = 50,
        grad_clip: float | None = None,
    ):
        _check_trainer_args(model, loss_fn, optimizer, callbacks)
        self.model, self.loss_fn = model, loss_fn
        self.optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=check_positive(lr, "lr"))
        device = next(model.parameters()).device
        self.generator = torch.Generator(device=device).manual_seed(check_count(seed, "seed", minimum=0))
        self.ema = EMA(model, ema_decay) if ema_decay is not None else None
        self.callbacks, self.callback_every = list(callbacks), check_count(callback_every, "callback_every")
        self.grad_clip = None if grad_clip is None else check_positive(grad_clip, "grad_clip")
        self.step, self.losses = 0, []

    @property
    def model_for_sampling(self) -> nn.Module:
        """The EMA copy when EMA is on, else the trained model itself."""
        return self.ema.model if self.ema else self.model

    def state_dict(self) -> dict:
        """Everything a resumed run needs: weights, optimizer, EMA, step, losses and the generator's state."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema else None,
            "step": self.step,
            "losses": self.losses,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` saved."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema and state["ema"] is not None:
            self.ema.model.load_state_dict(state["ema"])
        self.step, self.losses = state["step"], list(state["losses"])
        self.generator.set_state(state["generator"])

    def save(self, path: str | Path) -> Path:
        """Write ``state_dict`` atomically to ``path``."""
        return save_atomic(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        """Resume from ``path``; a checkpoint of another model or optimizer is refused with its name."""
        device = next(self.model.parameters()).device
        state = load_checkpoint(path, ("model", "optimizer", "ema", "step", "losses", "generator"), device)
        try:
            self.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError) as e:
            reason = str(e).strip().splitlines()[0]
            raise ValueError(f"checkpoint {str(path)!r} does not fit this model or optimizer: {reason[:200]}") from e

    def train_step(self) -> float:
        """One optimizer step on a fresh batch; returns its loss (a non-finite loss raises)."""
        self.model.train()
        loss = self.loss_fn(self.model, self.generator)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            what = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
            raise TypeError(f"loss_fn must return a scalar tensor, got {what}")
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at step {self.step}; lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        if self.ema:
            self.ema.update(self.model)
        self.step += 1
        self.losses.append(loss.item())
        return self.losses[-1]

    def fit(
        self, train_steps: int, checkpoint: str | Path | None = None, checkpoint_every: int = 500, progress: bool = True
    ) -> TrainResult:
        """Train until ``self.step == train_steps`` (a total, so a resumed run does only what is left).

        With ``checkpoint``, resume from it when it exists, save every ``checkpoint_every`` steps,
        at the end, and on an interrupt between steps (then re-raise KeyboardInterrupt). A Ctrl-C
        during a step takes effect when the step is done; a second one stops without saving.
        Every argument, and that the checkpoint can be written, is checked before the first step.
        """
        train_steps = check_count(train_steps, "train_steps", minimum=0)
        checkpoint_every = check_count(checkpoint_every, "checkpoint_every")
        if checkpoint is not None:
            check_writable(checkpoint, "checkpoint")
            remove_stale_temporaries(checkpoint)
            if Path(checkpoint).exists():
                self.load(checkpoint)
        start, first = time.perf_counter(), self.step
        bar = tqdm(total=train_steps, initial=self.step, disable=not progress, desc="training")
        between_steps = True
        try:
            with _DeferredInterrupt() as interrupt:
                while self.step < train_steps:
                    between_steps = False
                    loss = self.train_step()
                    between_steps = True
                    self._after_step(loss, train_steps, bar, checkpoint, checkpoint_every)
                    if interrupt.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            if checkpoint is not None and between_steps:
                self.save(checkpoint)
            raise
        finally:
            bar.close()
        if checkpoint is not None and self.step > first:
            self.save(checkpoint)
        return TrainResult(losses=list(self.losses), steps=self.step, seconds=time.perf_counter() - start)

    def _after_step(
        self, loss: float, train_steps: int, bar: tqdm, checkpoint: str | Path | None, checkpoint_every: int
    ) -> None:
        """Progress bar, callbacks and the periodic checkpoint after a completed step."""
        bar.update(1)
        if self.step % 10 == 0 or self.step == train_steps:
            bar.set_postfix(loss=f"{loss:.4f}")
        if self.callbacks and (self.step % self.callback_every == 0 or self.step == train_steps):
            for callback in self.callbacks:
                callback(self)
        if checkpoint is not None and self.step % checkpoint_every == 0:
            self.save(checkpoint)


def _check_trainer_args(model: object, loss_fn: object, optimizer: object, callbacks: object) -> None:
    """The kinds of ``Trainer``'s object arguments (the numbers are checked where they are used)."""
    if not isinstance(model, nn.Module) or next(model.parameters(), None) is None:
        raise TypeError(f"model must be a torch.nn.Module with parameters, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable loss_fn(model, generator), got {type(loss_fn).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if isinstance(callbacks, (str, bytes)) or not all(callable(c) for c in callbacks):
        raise TypeError("callbacks must be a sequence of callables callback(trainer)")
