"""The comparison command line writes every figure and refuses bad arguments."""
import pytest
from PIL import Image

from fmtutor.demos import main, parse_args


def test_comparison_writes_every_figure_and_a_gif(tmp_path, capsys):
    main(["comparison", "--train-steps", "2", "--n-train", "256", "--n-samples", "200", "--n-quality", "200",
          "--nfe", "8", "--out", str(tmp_path)])
    names = {"samples.png", "trajectories.png", "snapshots.png", "vector_fields.png", "quality_vs_nfe.png",
             "generation.gif"}
    assert names <= {p.name for p in tmp_path.iterdir()}
    gif = Image.open(tmp_path / "generation.gif")
    assert gif.n_frames == 21
    out = capsys.readouterr().out
    assert "flow matching (euler)" in out and "diffusion (ancestral)" in out and "exact field" in out


def test_single_method_without_gif(tmp_path):
    main(["flow-matching", "--data", "moons", "--train-steps", "1", "--n-train", "128", "--n-samples", "100",
          "--n-quality", "100", "--nfe", "4", "--no-gif", "--out", str(tmp_path)])
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
    assert "--ema must lie in [0, 1), got 1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["comparison", "--hidden", "0"])
    assert "--hidden must be a positive integer" in capsys.readouterr().err
