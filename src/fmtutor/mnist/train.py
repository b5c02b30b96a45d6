"""Flow-matching training of the MNIST networks, with label dropout for classifier-free guidance.

Each step draws a global batch of B training digits x1, times t (``time_sampling``: 'uniform',
t ~ U[0, 1], or 'logit-normal', t = sigmoid(n) with n ~ N(0, 1), which favours the middle), noise x0 and a dropout
mask (p = 0.1, the label becomes ``NULL_LABEL``), forms x_t = alpha_t x1 + beta_t x0 on the path
and regresses the network on

    'velocity':  the conditional velocity  d_alpha x1 + d_beta x0   (flow matching), or
    'epsilon':   the noise  x0              (epsilon prediction on the same path).

Under ``torchrun`` (WORLD_SIZE > 1) the same command trains data-parallel with PyTorch
DistributedDataParallel (NCCL on GPUs, gloo on CPUs). Every rank draws the *same* global batch
from the same seed and keeps its own slice of B / WORLD_SIZE, so the averaged gradient, the loss
curve and the checkpoint match a single-process run up to round-off. Only rank 0 writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .._validate import as_path, check_choice, check_count, check_positive, check_real, check_writable
from ..paths import GaussianPath
from ..schedules import SCHEDULES
from ..training import Trainer, load_checkpoint, seeded
from .conditioning import IMAGE_SHAPE, NULL_LABEL
from .data import MNIST, load_mnist
from .models import build_model
from .presets import Preset, default_preset, get_preset
from .sample import MNIST_PREDICTIONS, sample

__all__ = ["TrainConfig", "Run", "check_train_args", "train", "load_run", "draw_batch", "flow_loss", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.pt"
_MUST_MATCH = ("arch", "model_kwargs", "prediction", "batch_size", "schedule", "label_dropout", "time_sampling")
TIME_SAMPLING = ("uniform", "logit-normal")


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to rebuild and resume a run; stored in its checkpoint."""

    arch: str
    model_kwargs: dict
    prediction: str = "velocity"
    preset: str = "cpu"
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    ema_decay: float = 0.995
    label_dropout: float = 0.1
    schedule: str = "linear"
    time_sampling: str = "uniform"
    seed: int = 0
    grad_clip: float | None = 1.0
    warmup: int = 50
    decay: bool = True
    world_size: int = field(default=1, compare=False)

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): linear warm-up over ``warmup`` steps, then,
        with ``decay``, a linear decay that reaches 0 at ``steps``."""
        scale = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        if self.decay:
            scale *= max(0.0, 1.0 - step / self.steps)
        return self.lr * scale


@dataclass(frozen=True)
class Run:
    """A trained network (the EMA copy, in eval mode) with its config, loss curve and checkpoint."""

    model: nn.Module
    config: TrainConfig
    losses: list[float]
    steps: int
    seconds: float
    checkpoint: Path | None

    @property
    def path(self) -> GaussianPath:
        """The Gaussian path the network was trained on."""
        return GaussianPath(self.config.schedule)

    @property
    def final_loss(self) -> float:
        """The mean training loss of the last 50 steps (NaN before any step): a noisy curve's end."""
        last = self.losses[-50:]
        return sum(last) / len(last) if last else float("nan")

    def sample(self, labels: Tensor, w: float = 3.0, nfe: int = 50, solver: str = "euler", **kwargs) -> Tensor:
        """``fmtutor.mnist.sample`` with this run's model, prediction type and path."""
        return sample(
            self.model, labels, w=w, nfe=nfe, solver=solver, prediction=self.config.prediction, path=self.path, **kwargs
        )


def draw_batch(
    data: MNIST, path: GaussianPath, config: TrainConfig, generator: torch.Generator, part: slice = slice(None)
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One training batch (x_t, t, y, target), the ``part`` of a global batch of ``config.batch_size``.

    Every draw is made for the whole global batch and then sliced, so the slices of all ranks
    together are exactly the batch a single process draws from the same generator state.
    """
    _check_parts(data, path, config)
    b, dev = config.batch_size, generator.device
    idx = torch.randint(len(data), (b,), generator=generator, device=dev)[part]
    if config.time_sampling == "logit-normal":
        u = torch.sigmoid(torch.randn(b, generator=generator, device=dev))
    else:
        u = torch.rand(b, generator=generator, device=dev)
    t = (u * path.t_max)[part]
    x0 = torch.randn((b, *IMAGE_SHAPE), generator=generator, device=dev)[part]
    drop = (torch.rand(b, generator=generator, device=dev) < config.label_dropout)[part]
    y = data.labels[idx].masked_fill(drop, NULL_LABEL)
    s = path.sample(data.images[idx], t, x0)
    return s.x_t, s.t, y, (s.velocity if config.prediction == "velocity" else s.x0)


def flow_loss(net: nn.Module, data: MNIST, path: GaussianPath, config: TrainConfig, rank: int = 0, world: int = 1):
    """``loss_fn(model, generator)`` for ``Trainer``: the mean squared error on this rank's slice.

    ``net`` (the model, or its DDP wrapper) is what the loss calls. With ``world > 1`` the returned
    value equals the mean over all ranks (for logging) while its gradient is this rank's own.
    """
    _check_parts(data, path, config)
    local = config.batch_size // world
    part = slice(rank * local, (rank + 1) * local)

    def loss_fn(model: nn.Module, generator: torch.Generator) -> Tensor:
        x_t, t, y, target = draw_batch(data, path, config, generator, part)
        loss = (net(x_t, t, y) - target).pow(2).mean()
        if world > 1:
            mean = loss.detach().clone()
            dist.all_reduce(mean)
            loss = loss + (mean / world - loss.detach())
        return loss

    return loss_fn


def _check_parts(data: object, path: object, config: object) -> None:
    for value, name, kind in ((data, "data", MNIST), (path, "path", GaussianPath), (config, "config", TrainConfig)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")


class _RunTrainer(Trainer):
    """``Trainer`` whose checkpoints carry the run's config, refuse an incompatible resume, and are
    written by rank 0 only."""

    def __init__(self, model: nn.Module, loss_fn, config: TrainConfig, rank: int, **kwargs):
        super().__init__(model, loss_fn, **kwargs)
        self.config, self.rank = config, rank

    def state_dict(self) -> dict:
        return {**super().state_dict(), "config": asdict(self.config)}

    def load_state_dict(self, state: dict) -> None:
        old = {"time_sampling": "uniform", **(state.get("config") or {})}  # older runs: uniform
        new = asdict(self.config)
        diff = [
            f"{k}: {_norm(old.get(k))!r} -> {_norm(new[k])!r}"
            for k in _MUST_MATCH
            if _norm(old.get(k)) != _norm(new[k])
        ]
        if diff:
            raise ValueError(
                "the checkpoint was written by a different run ("
                + "; ".join(diff)
                + "); choose another output folder or delete the checkpoint"
            )
        super().load_state_dict(state)

    def save(self, path: str | Path) -> Path:
        return super().save(path) if self.rank == 0 else Path(path)

    def train_step(self) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr_at(self.step)
        return super().train_step()


def _norm(value):
    """Make configs comparable after a round trip through torch.save (tuples vs lists)."""
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return list(map(_norm, value)) if isinstance(value, (list, tuple)) else value


def _setup_distributed() -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes (if any): (rank, world size, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    return (dist.get_rank() if world > 1 else 0), world, device


def _make_config(arch: str, preset: Preset, prediction: str, overrides: dict, world: int) -> TrainConfig:
    check_choice("arch", arch, preset.models)
    check_choice("prediction", prediction, MNIST_PREDICTIONS)
    check_choice("time_sampling", overrides.get("time_sampling") or preset.time_sampling, TIME_SAMPLING)
    config = TrainConfig(
        arch=arch,
        model_kwargs=dict(preset.models[arch]),
        prediction=prediction,
        preset=preset.name,
        steps=preset.steps,
        batch_size=preset.batch_size,
        lr=preset.lr,
        ema_decay=preset.ema_decay,
        grad_clip=preset.grad_clip,
        world_size=world,
        time_sampling=preset.time_sampling,
    )
    unknown = sorted(set(overrides) - set(asdict(config)) - {"world_size"})
    if unknown:
        raise TypeError(f"unknown training option(s) {', '.join(unknown)}; expected TrainConfig fields")
    config = TrainConfig(**{**asdict(config), **{k: v for k, v in overrides.items() if v is not None}})
    _check_config(config)
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the number of processes {world}")
    return config


def _check_config(c: TrainConfig) -> None:
    """Every number of a run's config, before any work."""
    check_count(c.steps, "steps")
    check_count(c.batch_size, "batch_size")
    check_positive(c.lr, "lr")
    check_real(c.ema_decay, "ema_decay", 0.0, 1.0, open_low=True, open_high=True)
    check_real(c.label_dropout, "label_dropout", 0.0, 1.0, open_high=True)
    check_choice("schedule", c.schedule, SCHEDULES)
    check_count(c.seed, "seed", minimum=0)
    check_count(c.warmup, "warmup", minimum=0)
    if c.grad_clip is not None:
        check_positive(c.grad_clip, "grad_clip")
    if not isinstance(c.model_kwargs, dict):
        raise TypeError(f"model_kwargs must be a dict, got {type(c.model_kwargs).__name__}")


def check_train_args(
    arch: str = "unet",
    preset: str | Preset | None = None,
    prediction: str = "velocity",
    out: str | Path | None = None,
    **overrides,
) -> Preset:
    """Check every argument of ``train`` (and that ``out`` can be written) before any work; the preset."""
    spec = get_preset(preset or default_preset())
    _make_config(arch, spec, prediction, overrides, 1)
    if out is not None:
        check_writable(out, "out", directory=True)
        check_writable(Path(out) / CHECKPOINT_NAME, "out")
    return spec


def train(
    arch: str = "unet",
    preset: str | Preset | None = None,
    prediction: str = "velocity",
    out: str | Path | None = None,
    data: MNIST | None = None,
    root: str | Path | None = None,
    progress: bool = True,
    callbacks: Sequence[Callable[[Trainer], None]] = (),
    callback_every: int = 50,
    **overrides,
) -> Run:
    """Train (or resume) a flow-matching network on MNIST and return the run.

    ``preset`` defaults to ``default_preset()``; ``overrides`` replace ``TrainConfig`` fields
    (``steps``, ``batch_size``, ``lr``, ``seed``, ``model_kwargs``, ...). With ``out`` the run is
    checkpointed to ``out/checkpoint.pt`` and continues from there when rerun with the same
    arguments (``steps`` is the total; Ctrl-C saves first). ``data`` defaults to the MNIST training
    set from ``root`` (see ``load_mnist``). ``callbacks`` are ``Trainer`` callbacks (e.g. a live
    loss plot) called every ``callback_every`` steps on rank 0.
    """
    spec = check_train_args(arch, preset, prediction, out, **overrides)
    rank, world, device = _setup_distributed()
    try:
        config = _make_config(arch, spec, prediction, overrides, world)
        data = data if data is not None else load_mnist("train", root=root, progress=progress and rank == 0)
        data = MNIST(data.images.to(device), data.labels.to(device))
        with seeded(config.seed):  # initial weights and any dropout follow the seed
            model = build_model(arch, **config.model_kwargs).to(device)
            net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
            trainer = _RunTrainer(
                model,
                flow_loss(net, data, GaussianPath(config.schedule), config, rank, world),
                config,
                rank,
                lr=config.lr,
                seed=config.seed,
                ema_decay=config.ema_decay,
                grad_clip=config.grad_clip,
                callbacks=callbacks if rank == 0 else (),
                callback_every=callback_every,
            )
            checkpoint = Path(out) / CHECKPOINT_NAME if out is not None else None
            result = trainer.fit(
                config.steps,
                checkpoint=checkpoint,
                checkpoint_every=spec.checkpoint_every,
                progress=progress and rank == 0,
            )
        if world > 1:
            dist.barrier()
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return Run(trainer.model_for_sampling.eval(), config, result.losses, result.steps, result.seconds, checkpoint)


def load_run(checkpoint: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> Run:
    """Rebuild a run from ``checkpoint`` (a file, or a run folder holding checkpoint.pt)."""
    checkpoint = as_path(checkpoint, "checkpoint")
    if checkpoint.is_dir():
        checkpoint = checkpoint / CHECKPOINT_NAME
    state = load_checkpoint(checkpoint, ("config", "model", "ema", "losses", "step"), device)
    try:
        config = TrainConfig(**state["config"])
        model = build_model(config.arch, **config.model_kwargs).to(device)
        model.load_state_dict(state["ema"] if ema and state.get("ema") is not None else state["model"])
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(
            f"checkpoint {str(checkpoint)!r} is not a valid MNIST training checkpoint: "
            f"{str(e).strip().splitlines()[0][:200]}"
        ) from e
    return Run(model.eval(), config, list(state["losses"]), state["step"], 0.0, checkpoint)
