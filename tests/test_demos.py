"""The comparison command line writes every figure and refuses bad arguments."""

import pytest
from PIL import Image

from fmtutor.demos import main, parse_args


def test_comparison_writes_every_figure_and_a_gif(tmp_path, capsys):
    main(
        [
            "comparison",
            "--train-steps",
            "2",
            "--n-train",
            "256",
            "--n-samples",
            "200",
            "--n-quality",
            "200",
            "--nfe",
            "8",
            "--out",
            str(tmp_path),
        ]
    )
    names = {
        "samples.png",
        "trajectories.png",
        "snapshots.png",
        "vector_fields.png",
        "quality_vs_nfe.png",
        "generation.gif",
    }
    assert names <= {p.name for p in tmp_path.iterdir()}
    gif = Image.open(tmp_path / "generation.gif")
    assert gif.n_frames == 21
    out = capsys.readouterr().out
    assert "flow matching (euler)" in out and "diffusion (ancestral)" in out and "exact field" in out


def test_single_method_without_gif(tmp_path):
    main(
        [
            "flow-matching",
            "--data",
            "moons",
            "--train-steps",
            "1",
            "--n-train",
            "128",
            "--n-samples",
            "100",
            "--n-quality",
            "100",
            "--nfe",
            "4",
            "--no-gif",
            "--out",
            str(tmp_path),
        ]
    )
    assert not (tmp_path / "generation.gif").exists() and (tmp_path / "samples.png").exists()


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        parse_args(["comparison", "--train-steps", "0"])
    assert "--train-steps must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["gan"])


def test_width_and_ema_reach_both_models(capsys):
    args = parse_args(["comparison", "--hidden", "16", "--ema", "0.9"])
    assert (args.hidden, args.ema) == (16, 0.9)
    with pytest.raises(SystemExit):
        parse_args(["comparison", "--ema", "1.0"])
    assert "--ema must be a finite number in [0, 1), got 1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["comparison", "--hidden", "0"])
    assert "--hidden must be a positive integer" in capsys.readouterr().err


def _fails(capsys, argv: list[str], status: int = 2) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--lr", "-1"], "--lr must be > 0, got -1.0"),
        (["--lr", "nan"], "--lr must be > 0, got nan"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--n-train", "-5"], "--n-train must be a positive integer, got -5"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (["--ema", "nan"], "--ema must be a finite number in [0, 1), got nan"),
        (["--data", "mnist"], "argument --data: invalid choice: 'mnist'"),
    ],
)
def test_every_bad_argument_is_one_line_with_status_2(capsys, tmp_path, extra, message):
    err = _fails(capsys, ["comparison", "--out", str(tmp_path / "out"), *extra])
    assert err.startswith("python -m fmtutor.demos: error: ") and message in err and err.endswith("(see --help)")
    assert not (tmp_path / "out").exists()


def test_an_unwritable_out_is_refused_before_training(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("fmtutor.demos.train_2d", lambda *a, **k: pytest.fail("trained before checking --out"))
    (tmp_path / "file").write_text("")
    err = _fails(capsys, ["diffusion", "--out", str(tmp_path / "file")])
    assert f"--out '{tmp_path / 'file'}' must be a folder, but it is a file" in err
    err = _fails(capsys, ["diffusion", "--out", str(tmp_path / "file" / "sub")])
    assert f"'{tmp_path / 'file'}' is a file, not a folder" in err


def test_a_failure_during_the_work_is_one_line_unless_debug(capsys, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise FloatingPointError("the loss became nan at step 3; lower the learning rate")

    monkeypatch.setattr("fmtutor.demos.train_2d", broken)
    err = _fails(capsys, ["diffusion", "--out", str(tmp_path)], status=1)
    assert err == (
        "python -m fmtutor.demos: error: FloatingPointError: the loss became nan at step 3; "
        "lower the learning rate (run with --debug for the traceback)"
    )
    with pytest.raises(FloatingPointError):
        main(["diffusion", "--out", str(tmp_path), "--debug"])
