"""Training: batches, label dropout, targets, resume, checkpoints, the command line, and DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest
import torch
from mnist_helpers import TINY_UNET

from fmtutor.mnist import MNIST, NULL_LABEL, TrainConfig, load_run, train
from fmtutor.mnist.classifier import load_classifier, train_classifier
from fmtutor.mnist.cli import main
from fmtutor.mnist.train import draw_batch
from fmtutor.paths import GaussianPath


def tiny_data(n: int = 20, seed: int = 0) -> MNIST:
    gen = torch.Generator().manual_seed(seed)
    return MNIST(images=torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1, labels=torch.arange(n) % 10)


def _config(**kwargs) -> TrainConfig:
    return TrainConfig(arch="unet", model_kwargs=TINY_UNET, **kwargs)


def _draw(config, part=slice(None), seed=7, data=None):
    return draw_batch(data or tiny_data(), GaussianPath("linear"), config, torch.Generator().manual_seed(seed), part)


def test_rank_slices_make_up_the_single_process_batch():
    config = _config(batch_size=8)
    full = _draw(config)
    halves = [_draw(config, slice(0, 4)), _draw(config, slice(4, 8))]
    for whole, a, b in zip(full, *halves, strict=True):
        torch.testing.assert_close(torch.cat([a, b]), whole)


@pytest.mark.parametrize("prediction", ["velocity", "epsilon"])
def test_targets_and_label_dropout(prediction):
    data = tiny_data()
    x_t, t, y, target = _draw(_config(batch_size=4000, prediction=prediction), data=data)
    tb = t[:, None, None, None]
    x1 = x_t + (1 - tb) * target if prediction == "velocity" else (x_t - (1 - tb) * target) / tb
    keep = t[:300] > 0.05
    gap = (x1[:300][keep].flatten(1)[:, None] - data.images.flatten(1)[None]).abs().amax(-1).min(1).values
    assert gap.max() < 1e-3  # x_t and the target recover a training image
    dropped = (y == NULL_LABEL).double().mean().item()
    assert abs(dropped - 0.1) < 0.015  # p = 0.1, binomial sd 0.005 at 4000 draws


def _train(out, steps, **kwargs):
    return train(
        "unet",
        "quick",
        out=out,
        data=tiny_data(),
        progress=False,
        steps=steps,
        batch_size=8,
        model_kwargs=TINY_UNET,
        **kwargs,
    )


def test_interrupted_run_resumes_exactly(tmp_path):
    def interrupt(trainer):
        if trainer.step == 4:
            raise KeyboardInterrupt

    straight = _train(tmp_path / "a", 6)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", 6, callbacks=[interrupt], callback_every=1)
    assert load_run(tmp_path / "b").steps == 4  # saved on the way out
    resumed = _train(tmp_path / "b", 6)
    assert resumed.steps == 6 and resumed.losses == straight.losses
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    loaded = load_run(tmp_path / "b")
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(loaded.model(x, 0.5, torch.tensor([1, 2])), resumed.model(x, 0.5, torch.tensor([1, 2])))
    assert loaded.config == resumed.config and loaded.losses == resumed.losses
    with pytest.raises(ValueError, match=r"written by a different run \(prediction: 'velocity' -> 'epsilon'\)"):
        _train(tmp_path / "b", 8, prediction="epsilon")


def test_learning_rate_schedule():
    config = _config(lr=1.0, steps=100, warmup=10)
    assert [config.lr_at(k) for k in (0, 4, 9)] == pytest.approx([0.1 * 1.0, 0.5 * 0.96, 1.0 * 0.91])
    assert [config.lr_at(k) for k in (50, 99)] == pytest.approx([0.5, 0.01])
    assert _config(lr=2.0, steps=100, warmup=0, decay=False).lr_at(99) == 2.0


def test_training_reduces_the_loss():
    data = MNIST(images=tiny_data(10).images, labels=torch.arange(10))
    run = train(
        "unet",
        "quick",
        data=data,
        progress=False,
        steps=40,
        batch_size=16,
        lr=1e-2,
        model_kwargs=TINY_UNET,
        warmup=0,
        decay=False,
    )
    first, last = sum(run.losses[:10]) / 10, sum(run.losses[-10:]) / 10
    assert first > 1.1 and last < 0.85 * first  # the zero field scores E|x1 - x0|^2 = 1/3 + 1 here


def test_command_line_train_sample_classifier_evaluate(fake_mnist, tmp_path, capsys):
    out = tmp_path / "run"
    main(
        [
            "train",
            "--preset",
            "quick",
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(out),
            "--data-dir",
            str(fake_mnist),
            "--no-progress",
            "--no-grid",
        ]
    )
    assert "2 steps, final loss" in capsys.readouterr().out and (out / "checkpoint.pt").exists()
    main(["sample", "--checkpoint", str(out), "--nfe", "2", "--per-class", "2", "--no-progress"])
    png = out / "samples_w3_nfe2_euler.png"
    assert matplotlib.image.imread(png).shape[:2] == (10 * 30 + 2, 2 * 30 + 2)  # a row per digit
    judge = train_classifier(tmp_path / "clf.pt", "quick", steps=2, root=fake_mnist, progress=False)
    again = load_classifier(tmp_path / "clf.pt")
    assert again.model.widths == (16, 32, 32) and again.test_accuracy == judge.test_accuracy
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(again.model(x), judge.model(x))
    main(
        [
            "evaluate",
            "--checkpoint",
            str(out),
            "--classifier",
            str(tmp_path / "clf.pt"),
            "--n",
            "20",
            "--nfe",
            "2",
            "--data-dir",
            str(fake_mnist),
            "--no-progress",
        ]
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 20 and 0 <= report["accuracy"] <= 1 and report["reference_frechet"] >= 0


DDP_SCRIPT = """
import json, os, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_mnist_train import ddp_run
run = ddp_run({out!r})
if os.environ["RANK"] == "0":
    json.dump({{"losses": run.losses, "params": [p.detach().flatten().tolist() for p in run.model.parameters()]}},
              open({out!r} + "/result.json", "w"))
"""


def ddp_run(out):
    """The run compared between one process and two: 8 steps of a global batch of 8."""
    return train(
        "unet", "quick", data=tiny_data(), progress=False, steps=8, batch_size=8, model_kwargs=TINY_UNET, out=out
    )


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    """torchrun with 2 CPU processes (gloo) follows the single-process run up to round-off."""
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(script)],
        check=True,
        env=env,
        timeout=120,
        capture_output=True,
    )
    two = json.loads((tmp_path / "result.json").read_text())
    one = ddp_run(tmp_path / "single")
    assert len(two["losses"]) == 8
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(one.losses), rtol=1e-4, atol=1e-6)
    for p, q in zip(one.model.parameters(), two["params"], strict=True):  # Adam moves each weight ~2e-3 per step
        torch.testing.assert_close(torch.tensor(q), p.detach().flatten(), rtol=0, atol=1e-4)


def test_command_line_says_where_an_interrupted_run_stands(fake_mnist, tmp_path, monkeypatch):
    out = tmp_path / "run"
    args = [
        "train",
        "--preset",
        "quick",
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--data-dir",
        str(fake_mnist),
        "--no-progress",
        "--no-grid",
    ]

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("fmtutor.mnist.cli.train", ctrl_c)
        with pytest.raises(SystemExit, match="^interrupted: no checkpoint was written yet; run the same command"):
            main(args)
    main(args)
    monkeypatch.setattr("fmtutor.mnist.cli.train", ctrl_c)
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert str(stop.value) == (
        f"interrupted: the checkpoint {out / 'checkpoint.pt'} holds step 3; run the same command again to continue"
    )


@pytest.mark.parametrize("sampling, below", [("uniform", 0.1), ("logit-normal", 0.01390)])
def test_time_sampling_draws_the_stated_distribution(sampling, below):
    """P(t < 0.1): 0.1 for U[0, 1]; Phi(logit(0.1)) = Phi(-2.1972) = 0.01390 for t = sigmoid(N(0, 1))."""
    images = torch.zeros(10, 1, 28, 28)
    data = MNIST(images, torch.arange(10))
    config = TrainConfig(arch="unet", model_kwargs={}, batch_size=40_000, time_sampling=sampling)
    _, t, _, _ = draw_batch(data, GaussianPath("linear"), config, torch.Generator().manual_seed(0))
    assert abs(float((t < 0.1).double().mean()) - below) < 4 * (below * (1 - below) / 40_000) ** 0.5
    assert abs(float(t.mean()) - 0.5) < 0.01


def test_unknown_time_sampling_is_refused(fake_mnist):
    with pytest.raises(ValueError, match="time_sampling"):
        train("unet", "quick", root=fake_mnist, progress=False, steps=1, time_sampling="beta")
