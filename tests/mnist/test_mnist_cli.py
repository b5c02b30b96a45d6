"""The MNIST command line refuses every bad argument before any work: one line, exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from fmtutor.mnist.cli import main


def _fails(capsys, argv: list[str], status: int = 2) -> str:
    """Run the command line, expect ``status``, and return its stderr, which must be one line."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--steps", "-1"], "--steps must be a positive integer, got -1"),
        (["--steps", "0"], "--steps must be a positive integer, got 0"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--lr", "-1"], "--lr must be > 0, got -1.0"),
        (["--lr", "nan"], "--lr must be > 0, got nan"),
        (["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
        (["--seed", "-3"], "--seed must be a non-negative integer, got -3"),
        (["--threads", "0"], "--threads must be a positive integer, got 0"),
        (["--steps", "2.5"], "argument --steps: invalid int value: '2.5'"),
        (["--arch", "gan"], "argument --arch: invalid choice: 'gan'"),
    ],
)
def test_train_refuses_bad_arguments(capsys, tmp_path, extra, message):
    err = _fails(capsys, ["train", "--preset", "quick", "--out", str(tmp_path / "run"), *extra])
    assert err.startswith("python -m fmtutor.mnist") and ": error: " in err and message in err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_train_refuses_an_unwritable_output_folder_before_loading_data(capsys, tmp_path):
    (tmp_path / "blocker").write_text("")
    err = _fails(
        capsys,
        [
            "train",
            "--preset",
            "quick",
            "--out",
            str(tmp_path / "blocker" / "run"),
            "--data-dir",
            str(tmp_path / "nowhere"),
        ],
    )
    assert err.endswith(f"'{tmp_path / 'blocker'}' is a file, not a folder (see --help)")
    err = _fails(
        capsys, ["train", "--preset", "quick", "--out", str(tmp_path), "--data-dir", str(tmp_path / "blocker")]
    )
    assert f"--data-dir '{tmp_path / 'blocker'}' must be a folder, but it is a file" in err


@pytest.fixture
def run_folder(tmp_path):
    from mnist_helpers import TINY_UNET

    from fmtutor.mnist import train
    from test_mnist_train import tiny_data

    out = tmp_path / "run"
    train("unet", "quick", data=tiny_data(), progress=False, steps=1, batch_size=4, model_kwargs=TINY_UNET, out=out)
    return out


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--per-class", "0"], "--per-class must be a positive integer, got 0"),
        (["--nfe", "0"], "nfe must be a positive multiple of 1 for solver 'euler', got 0"),
        (["--nfe", "3", "--solver", "heun"], "nfe must be a positive multiple of 2 for solver 'heun', got 3"),
        (["--w", "nan"], "w must be a finite number in [-inf, inf], got nan"),
        (["--t-start", "1"], "t_start must be a finite number in [0, 1), got 1.0"),
    ],
)
def test_sample_refuses_bad_arguments(capsys, run_folder, extra, message):
    err = _fails(capsys, ["sample", "--checkpoint", str(run_folder), "--no-progress", *extra])
    assert message in err


def test_sample_and_evaluate_refuse_a_missing_corrupt_or_foreign_checkpoint(capsys, tmp_path, run_folder):
    missing = tmp_path / "missing"
    assert f"checkpoint '{missing / 'checkpoint.pt'}' does not exist" in _fails(
        capsys, ["sample", "--checkpoint", str(missing / "checkpoint.pt")]
    )
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02 half a pickle")
    err = _fails(capsys, ["sample", "--checkpoint", str(corrupt)])
    assert f"checkpoint '{corrupt}' cannot be read (corrupt, truncated or not a torch checkpoint)" in err
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {}}, foreign)
    err = _fails(capsys, ["evaluate", "--checkpoint", str(foreign)])
    assert f"checkpoint '{foreign}' is not a checkpoint of this kind: it lacks 'config', 'ema', 'losses', 'step'" in err
    err = _fails(capsys, ["evaluate", "--checkpoint", str(run_folder), "--classifier", str(foreign)])
    assert f"checkpoint '{foreign}' is not a checkpoint of this kind: it lacks 'test_accuracy'" in err
    assert "--n must be a positive multiple of 10" in _fails(
        capsys, ["evaluate", "--checkpoint", str(run_folder), "--n", "15"]
    )


def test_sample_refuses_an_unwritable_png_before_sampling(capsys, tmp_path, run_folder):
    err = _fails(capsys, ["sample", "--checkpoint", str(run_folder), "--out", str(run_folder)])
    assert f"--out '{run_folder}' must be a file, but it is a folder" in err


def test_a_failure_during_the_work_is_one_line_with_status_1(capsys, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full\nmore detail")

    monkeypatch.setattr("fmtutor.mnist.cli.train", broken)
    err = _fails(capsys, ["train", "--preset", "quick", "--out", str(tmp_path / "run")], status=1)
    assert err == (
        "python -m fmtutor.mnist: error: RuntimeError: the disk is full (run with --debug for the traceback)"
    )
    with pytest.raises(RuntimeError, match="the disk is full"):
        main(["train", "--preset", "quick", "--out", str(tmp_path / "run"), "--debug"])


def test_the_real_process_prints_one_line_and_a_traceback_only_with_debug(tmp_path):
    argv = [sys.executable, "-m", "fmtutor.mnist", "sample", "--checkpoint", str(tmp_path / "none.pt")]
    plain = subprocess.run(argv, capture_output=True, text=True)
    assert plain.returncode == 2 and plain.stdout == ""
    assert plain.stderr == (
        f"python -m fmtutor.mnist: error: checkpoint '{tmp_path / 'none.pt'}' does not exist "
        "or is not a file (see --help)\n"
    )
    debug = subprocess.run([*argv, "--debug"], capture_output=True, text=True)
    assert debug.returncode == 1 and debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.rstrip().endswith("does not exist or is not a file")
