"""Trainer: reproducible from the seed, exact resume, atomic checkpoints, EMA, callbacks, NaN guard."""

from __future__ import annotations

import math
import os
import signal

import pytest
import torch
from torch import nn

from fmtutor.losses import cfm_loss
from fmtutor.nets import MLPField
from fmtutor.paths import GaussianPath
from fmtutor.toy_data import eight_gaussians
from fmtutor.training import EMA, Trainer, TrainResult, save_atomic, seeded, seeded_generator

DATA, PATH = eight_gaussians(), GaussianPath("linear")


def loss_fn(model, generator):
    return cfm_loss(model, DATA.sample(32, generator), PATH, generator=generator)


def make_trainer(init_seed: int = 0, seed: int = 0, **kwargs) -> Trainer:
    torch.manual_seed(init_seed)
    return Trainer(MLPField(hidden=16, depth=2, time_dim=8), loss_fn, lr=1e-2, seed=seed, **kwargs)


def params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_reproducible_from_the_seed():
    a, b, c = (make_trainer(seed=s).fit(12, progress=False) for s in (0, 0, 1))
    assert isinstance(a, TrainResult) and a.steps == 12 and len(a.losses) == 12 and a.seconds >= 0
    assert a.losses == b.losses and a.losses != c.losses


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_resume_gives_exactly_the_uninterrupted_run(tmp_path, ema_decay):
    straight = make_trainer(ema_decay=ema_decay)
    full = straight.fit(16, progress=False)
    ckpt = tmp_path / "run.pt"
    first = make_trainer(ema_decay=ema_decay).fit(9, checkpoint=ckpt, progress=False)
    assert ckpt.exists() and first.steps == 9
    resumed_trainer = make_trainer(init_seed=123, ema_decay=ema_decay)  # different init: all comes from the file
    resumed = resumed_trainer.fit(16, checkpoint=ckpt, progress=False)
    assert resumed.losses == full.losses and resumed.steps == 16
    assert torch.equal(params(resumed_trainer.model), params(straight.model))
    assert torch.equal(params(resumed_trainer.model_for_sampling), params(straight.model_for_sampling))
    assert torch.load(ckpt, weights_only=False)["step"] == 16


def test_periodic_checkpoints(tmp_path):
    saved = []
    trainer = make_trainer()
    trainer.save = lambda path: saved.append(trainer.step)  # record instead of writing
    trainer.fit(10, checkpoint=tmp_path / "x.pt", checkpoint_every=4, progress=False)
    assert saved == [4, 8, 10]
    assert trainer.fit(10, progress=False).steps == 10  # nothing left to do


def test_interrupt_saves_and_resume_continues(tmp_path):
    ckpt = tmp_path / "run.pt"
    full = make_trainer().fit(12, progress=False)

    def interrupt(trainer):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_trainer(callbacks=[interrupt], callback_every=5).fit(12, checkpoint=ckpt, progress=False)
    assert torch.load(ckpt, weights_only=False)["step"] == 5
    assert make_trainer().fit(12, checkpoint=ckpt, progress=False).losses == full.losses


def ctrl_c_during_call(number: int, presses: int):
    """A loss function that receives `presses` SIGINTs (Ctrl-C) in the middle of its `number`-th call,
    after it has drawn its batch and before the backward pass and the optimizer step."""
    calls = []

    def interrupted_loss(model, generator):
        loss = loss_fn(model, generator)
        calls.append(1)
        if len(calls) == number:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)
        return loss

    return interrupted_loss


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler for the test: a process started in the background (CI, nohup)
    inherits SIGINT ignored, and then neither Python nor the trainer would see a Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("presses, saved_step", [(1, 5), (2, 4)])
def test_ctrl_c_inside_a_step(tmp_path, presses, saved_step, ctrl_c_raises):
    """One Ctrl-C in step 5 lets it finish, then saves; a second one stops at once and keeps the
    checkpoint of step 4 (a half-done step is never saved). Either way the resume is exact."""
    ckpt = tmp_path / "run.pt"
    full = make_trainer().fit(12, progress=False)
    trainer = make_trainer()
    trainer.loss_fn = ctrl_c_during_call(5, presses)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(12, checkpoint=ckpt, checkpoint_every=2, progress=False)
    assert trainer.step == saved_step and torch.load(ckpt, weights_only=False)["step"] == saved_step
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert make_trainer().fit(12, checkpoint=ckpt, progress=False).losses == full.losses


def test_failed_save_leaves_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    ckpt = tmp_path / "run.pt"
    trainer = make_trainer()
    trainer.fit(3, progress=False)
    trainer.save(ckpt)
    before = ckpt.read_bytes()

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    trainer.fit(5, progress=False)
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="^disk full$"):
        trainer.save(ckpt)
    assert ckpt.read_bytes() == before and os.listdir(tmp_path) == ["run.pt"]
    monkeypatch.undo()
    assert torch.load(ckpt, weights_only=False)["step"] == 3


def test_save_atomic_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "obj.pt"
    assert save_atomic({"v": 1}, target) == target
    save_atomic({"v": 2}, target)
    assert torch.load(target)["v"] == 2 and os.listdir(target.parent) == ["obj.pt"]


def test_ema_update_formula():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    ema = EMA(model, decay=0.9)
    old = params(ema.model).clone()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(7.0)
    ema.update(model)
    torch.testing.assert_close(params(ema.model), 0.9 * old + 0.1 * params(model))
    assert ema.model[1].running_mean.eq(7.0).all()
    assert not ema.model.training and not any(p.requires_grad for p in ema.model.parameters())


def test_trainer_ema_tracks_the_parameter_history():
    history = []
    trainer = make_trainer(
        ema_decay=0.8, callbacks=[lambda tr: history.append(params(tr.model).clone())], callback_every=1
    )
    expected = params(trainer.model).clone()
    trainer.fit(6, progress=False)
    for p in history:
        expected = 0.8 * expected + 0.2 * p
    torch.testing.assert_close(params(trainer.model_for_sampling), expected)
    assert make_trainer().model_for_sampling is not None and make_trainer().ema is None


def test_callbacks_run_every_n_steps_and_at_the_end():
    steps = []
    trainer = make_trainer(callbacks=[lambda tr: steps.append((tr.step, len(tr.losses)))], callback_every=5)
    trainer.fit(23, progress=False)
    assert steps == [(5, 5), (10, 10), (15, 15), (20, 20), (23, 23)]


def test_grad_clip_bounds_the_gradient_norm():
    norms = []
    record = lambda tr: norms.append(math.sqrt(sum(p.grad.pow(2).sum().item() for p in tr.model.parameters())))  # noqa: E731
    make_trainer(grad_clip=0.01, callbacks=[record], callback_every=1).fit(5, progress=False)
    assert max(norms) <= 0.01 * (1 + 1e-5)


def test_nan_loss_raises():
    trainer = Trainer(MLPField(hidden=8, depth=1), lambda model, g: torch.tensor(float("nan")))
    with pytest.raises(FloatingPointError, match=r"^the loss became nan at step 0; lower the learning rate$"):
        trainer.fit(3, progress=False)
    assert trainer.step == 0 and trainer.losses == []


# -- bad inputs and damaged checkpoints -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"train_steps": -5}, ValueError, r"^train_steps must be a non-negative integer, got -5$"),
        ({"train_steps": 2.5}, ValueError, r"^train_steps must be a non-negative integer, got 2.5$"),
        ({"train_steps": "3"}, TypeError, r"^train_steps must be a non-negative integer, got '3' \(str\)$"),
        (
            {"train_steps": 3, "checkpoint_every": 0},
            ValueError,
            r"^checkpoint_every must be a positive integer, got 0$",
        ),
    ],
)
def test_fit_refuses_bad_counts_before_any_step(kwargs, error, message):
    trainer = make_trainer()
    with pytest.raises(error, match=message):
        trainer.fit(progress=False, **kwargs)
    assert trainer.step == 0 and trainer.losses == []


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"lr": float("nan")}, ValueError, r"^lr must be > 0, got nan$"),
        ({"lr": -1.0}, ValueError, r"^lr must be > 0, got -1.0$"),
        ({"lr": float("inf")}, ValueError, r"^lr must be a finite number > 0, got inf$"),
        ({"seed": -1}, ValueError, r"^seed must be a non-negative integer, got -1$"),
        ({"ema_decay": 1.0}, ValueError, r"^ema_decay must be a finite number in \(0, 1\), got 1.0$"),
        ({"ema_decay": float("nan")}, ValueError, r"^ema_decay must be a finite number in \(0, 1\), got nan$"),
        ({"callback_every": 0}, ValueError, r"^callback_every must be a positive integer, got 0$"),
        ({"grad_clip": -1.0}, ValueError, r"^grad_clip must be > 0, got -1.0$"),
        ({"callbacks": [1]}, TypeError, r"^callbacks must be a sequence of callables callback\(trainer\)$"),
    ],
)
def test_trainer_refuses_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        Trainer(MLPField(hidden=16, depth=2, time_dim=8), loss_fn, **kwargs)


def test_trainer_refuses_a_model_without_parameters_and_a_non_scalar_loss():
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module with parameters, got ReLU$"):
        Trainer(nn.ReLU(), loss_fn)
    trainer = Trainer(nn.Linear(2, 2), lambda model, gen: model(torch.zeros(3, 2)))
    with pytest.raises(TypeError, match=r"^loss_fn must return a scalar tensor, got shape \(3, 2\)$"):
        trainer.fit(1, progress=False)


def test_an_unwritable_checkpoint_is_refused_before_the_first_step(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    trainer = make_trainer()
    with pytest.raises(
        ValueError, match=r"^checkpoint '.*file/run.pt' cannot be written: '.*file' is a file, not a folder$"
    ):
        trainer.fit(3, checkpoint=blocker / "run.pt", progress=False)
    assert trainer.step == 0


def test_a_killed_save_leaves_temporaries_that_the_next_run_removes(tmp_path):
    ckpt = tmp_path / "run.pt"
    make_trainer().fit(2, checkpoint=ckpt, progress=False)
    stale = [tmp_path / f".run.pt.{i}abc.tmp" for i in range(3)]  # what a SIGKILL during torch.save leaves
    for f in stale:
        f.write_bytes(b"\0" * 1000)
    other = tmp_path / ".other.pt.x.tmp"
    other.write_bytes(b"")
    result = make_trainer().fit(4, checkpoint=ckpt, progress=False)
    assert result.steps == 4 and not any(f.exists() for f in stale) and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.x.tmp", "run.pt"]


def test_a_save_killed_mid_write_is_cleaned_up_by_the_next_run(tmp_path):
    """A real kill: a child process is SIGKILLed inside torch.save; the resume removes its temporary."""
    import subprocess
    import sys

    ckpt = tmp_path / "run.pt"
    code = (
        "import os, signal, torch, fmtutor.training as t\n"
        "def killed(obj, f): f.write(b'x' * 100); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "torch.save = killed\n"
        f"t.save_atomic({{'a': 1}}, {str(ckpt)!r})\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".run.pt.") and not ckpt.exists()
    make_trainer().fit(2, checkpoint=ckpt, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"garbage, not a checkpoint", r"cannot be read \(corrupt, truncated or not a torch checkpoint\)"),
        (None, r"cannot be read \(corrupt, truncated or not a torch checkpoint\)"),  # truncated
    ],
)
def test_a_corrupt_checkpoint_is_refused_with_its_name(tmp_path, content, reason):
    ckpt = tmp_path / "run.pt"
    make_trainer().fit(2, checkpoint=ckpt, progress=False)
    data = ckpt.read_bytes()
    ckpt.write_bytes(content if content is not None else data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"^checkpoint '{ckpt}' {reason}: "):
        make_trainer().fit(4, checkpoint=ckpt, progress=False)


def test_a_foreign_checkpoint_is_refused_with_its_name_and_what_is_wrong(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(
        ValueError,
        match=rf"^checkpoint '{other}' is not a checkpoint of this kind: it lacks "
        r"'model', 'optimizer', 'ema', 'step', 'losses', 'generator'$",
    ):
        make_trainer().fit(4, checkpoint=other, progress=False)
    wider = tmp_path / "wider.pt"
    torch.manual_seed(0)
    Trainer(MLPField(hidden=32, depth=2, time_dim=8), loss_fn).fit(1, checkpoint=wider, progress=False)
    with pytest.raises(
        ValueError,
        match=rf"^checkpoint '{wider}' does not fit this model or optimizer: "
        r"Error\(s\) in loading state_dict for MLPField:",
    ):
        make_trainer().fit(4, checkpoint=wider, progress=False)


def test_a_pickled_object_is_never_unpickled(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "optimizer": {}, "ema": None, "step": 0, "losses": [], "generator": EMA}, evil)
    with pytest.raises(ValueError, match=rf"^checkpoint '{evil}' cannot be read .*: UnpicklingError: "):
        make_trainer().load(evil)


def test_seeded_generator_repeats_its_draws_and_leaves_the_global_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = torch.randn(5, generator=seeded_generator(7))
    assert torch.equal(first, torch.randn(5, generator=seeded_generator(7)))
    assert not torch.equal(first, torch.randn(5, generator=seeded_generator(8)))
    assert torch.equal(torch.random.get_rng_state(), before)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        seeded_generator(-1)


def test_seeded_seeds_the_global_generator_and_restores_it():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded(7):
        inside = torch.randn(5)
    assert torch.equal(inside, torch.randn(5, generator=seeded_generator(7)))
    assert torch.equal(torch.random.get_rng_state(), before)
