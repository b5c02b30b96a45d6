"""Stored networks: float16 safetensors round trips, and refusals of changed, truncated or foreign files."""

from __future__ import annotations

import json

import pytest
import torch
from mnist_helpers import TINY_DIT, TINY_UNET

from fmtutor.mnist import Classifier, TrainConfig, build_model
from fmtutor.mnist.pretrained import SIZE_BUDGET, WEIGHTS_DIR, load_pretrained, read_manifest, store, verify


def _generator(arch: str, kwargs: dict, seed: int):
    torch.manual_seed(seed)
    model = build_model(arch, **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the output layers start at zero; make them matter
    return model.eval(), TrainConfig(arch=arch, model_kwargs=kwargs, preset="quick", steps=7)


def _store_two(folder):
    unet, config = _generator("unet", TINY_UNET, 0)
    store(
        "tiny-unet",
        unet,
        steps=7,
        command="cmd a",
        commit="abc",
        metrics={"accuracy": 0.5},
        config=config,
        directory=folder,
    )
    torch.manual_seed(1)
    judge = Classifier((4, 8, 8)).eval()
    store(
        "tiny-judge", judge, steps=3, command="cmd b", commit="abc", metrics={"test_accuracy": 0.25}, directory=folder
    )
    return unet, judge


@pytest.mark.parametrize("arch, kwargs", [("unet", TINY_UNET), ("dit", TINY_DIT)])
def test_generator_round_trip_is_the_float16_rounded_network(tmp_path, arch, kwargs):
    model, config = _generator(arch, kwargs, 2)
    entry = store(
        "g",
        model,
        steps=7,
        command="python -m fmtutor.mnist train",
        commit="abc",
        metrics={"accuracy": 0.9},
        config=config,
        directory=tmp_path,
    )
    run = load_pretrained("g", tmp_path)
    rounded, _ = _generator(arch, kwargs, 2)
    rounded.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    x, t, y = torch.randn(4, 1, 28, 28), torch.rand(4), torch.tensor([0, 3, 9, 10])
    with torch.no_grad():
        assert torch.equal(run.model(x, t, y), rounded(x, t, y))
    assert run.config == config and run.steps == 7 and entry["dtype"] == "float16"
    stored = sum(p.numel() for p in model.state_dict().values())
    assert 2 * stored < entry["bytes"] < 2 * stored + 20_000  # two bytes a number plus the header


def test_classifier_round_trip_keeps_batchnorm_counters(tmp_path):
    _, judge = _store_two(tmp_path)
    loaded = load_pretrained("tiny-judge", tmp_path)
    assert loaded.test_accuracy == 0.25 and loaded.model.widths == (4, 8, 8)
    counter = "body.0.1.num_batches_tracked"
    assert loaded.model.state_dict()[counter].dtype == torch.long
    manifest = read_manifest(tmp_path)
    assert set(manifest) == {"tiny-unet", "tiny-judge"}
    assert manifest["tiny-judge"]["kind"] == "classifier" and manifest["tiny-unet"]["kind"] == "generator"


def test_a_changed_byte_is_refused_by_name(tmp_path):
    _store_two(tmp_path)
    path = tmp_path / "tiny-unet.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"tiny-unet\.safetensors: sha256 .* differs from the manifest's"):
        load_pretrained("tiny-unet", tmp_path)


def test_a_truncated_file_is_refused_by_name(tmp_path):
    _store_two(tmp_path)
    path = tmp_path / "tiny-judge.safetensors"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    with pytest.raises(
        ValueError,
        match=rf"tiny-judge\.safetensors: {size // 2} bytes where the manifest lists "
        rf"{size}: the file is truncated",
    ):
        verify("tiny-judge", tmp_path)


def test_a_foreign_file_is_refused(tmp_path):
    """Another network's weights of the same size under the name: only the hash can tell."""
    _store_two(tmp_path)
    other, config = _generator("unet", TINY_UNET, 5)
    store("other", other, steps=7, command="c", commit="abc", metrics={}, config=config, directory=tmp_path / "x")
    foreign = (tmp_path / "x" / "other.safetensors").read_bytes()
    (tmp_path / "tiny-unet.safetensors").write_bytes(foreign)
    with pytest.raises(ValueError, match="not the weights of 'tiny-unet' that the manifest lists"):
        load_pretrained("tiny-unet", tmp_path)
    with pytest.raises(ValueError, match=r"no stored network named 'unet-huge'.*stored: \['tiny-judge', 'tiny-unet'\]"):
        load_pretrained("unet-huge", tmp_path)
    (tmp_path / "tiny-judge.safetensors").unlink()
    with pytest.raises(ValueError, match="tiny-judge.safetensors: the weights of 'tiny-judge' are missing"):
        load_pretrained("tiny-judge", tmp_path)


def test_a_device_this_machine_lacks_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    _store_two(tmp_path)
    with pytest.raises(ValueError, match=r"^device 'cuda' is not available on this machine; available here: 'cpu'$"):
        load_pretrained("tiny-unet", tmp_path, device="cuda")
    assert load_pretrained("tiny-unet", tmp_path, device="cpu").model.training is False


def test_a_generator_needs_its_config(tmp_path):
    model, _ = _generator("unet", TINY_UNET, 0)
    with pytest.raises(TypeError, match="a generator needs its TrainConfig"):
        store("g", model, steps=1, command="c", commit="abc", metrics={}, directory=tmp_path)


def test_the_repository_weights_match_their_manifest_within_the_budget():
    manifest = read_manifest(WEIGHTS_DIR)
    if not manifest:
        pytest.skip("no stored networks in this checkout")
    for name, entry in manifest.items():
        assert verify(name).name == entry["file"]
        assert set(entry) >= {"sha256", "command", "commit", "metrics", "bytes"}
    assert sum(e["bytes"] for e in manifest.values()) <= SIZE_BUDGET
    assert json.loads((WEIGHTS_DIR / "manifest.json").read_text()) == manifest


def _tiny_judge(tmp_path, fake_mnist, seed: int):
    from fmtutor.mnist import train_classifier
    from fmtutor.mnist.pretrained import annotate

    result = train_classifier(None, "quick", seed=seed, root=fake_mnist, progress=False, steps=3, widths=(4, 8, 8))
    store(
        "judge",
        result.model,
        steps=3,
        command="c",
        commit="abc",
        metrics={"test_accuracy": 0.0},
        directory=tmp_path / "w",
    )
    annotate("judge", tmp_path / "w", retrain={"preset": "quick", "seed": 0, "steps": 3, "widths": [4, 8, 8]})


def test_reproduce_is_bitwise_for_the_same_seed(tmp_path, fake_mnist):
    from fmtutor.mnist.reproduce import reproduce

    _tiny_judge(tmp_path, fake_mnist, seed=0)
    result = reproduce("judge", tmp_path / "again", tmp_path / "w", root=fake_mnist)
    assert result["bitwise"] and result["identical"] == result["tensors"] > 0 and result["largest_difference"] == 0


def test_reproduce_compares_metrics_when_the_weights_differ(tmp_path, fake_mnist):
    from fmtutor.mnist.reproduce import reproduce

    _tiny_judge(tmp_path, fake_mnist, seed=1)  # stored from another seed than the recorded one
    result = reproduce("judge", tmp_path / "again", tmp_path / "w", root=fake_mnist)
    assert not result["bitwise"] and result["largest_difference"] > 0
    assert result["within_tolerance"] == (abs(result["stored"] - result["retrained"]) <= 0.003)
    assert 0 <= result["retrained"] <= 1


def test_a_generator_keeps_its_loss_curve_and_known_answer(tmp_path):
    from fmtutor.mnist.pretrained import fingerprint

    model, config = _generator("unet", TINY_UNET, 3)
    losses = [1.0 / (k + 1) for k in range(7)]
    entry = store(
        "g", model, steps=7, command="c", commit="abc", metrics={}, config=config, directory=tmp_path, losses=losses
    )
    run = load_pretrained("g", tmp_path)
    assert run.losses == [float(f"{v:.5g}") for v in losses] and run.losses[2] == 0.33333
    assert fingerprint(run.model) == entry["fingerprint"]  # measured on the float16 weights that are read back
    assert entry["fingerprint"] != fingerprint(_generator("unet", TINY_UNET, 4)[0])
    with pytest.raises(TypeError, match="losses must be a list of numbers"):
        store("h", model, steps=7, command="c", commit="abc", metrics={}, config=config, directory=tmp_path, losses="1")


@pytest.mark.parametrize(
    "arch, prediction, overrides, expected",
    [
        ("unet", "velocity", {}, "python -m fmtutor.mnist train --arch unet --preset cpu"),
        (
            "unet",
            "epsilon",
            {"steps": 625},
            "python -m fmtutor.mnist train --arch unet --preset cpu --pred epsilon --steps 625",
        ),
        (
            "dit",
            "velocity",
            {"lr": 1e-3, "seed": 2},
            "python -m fmtutor.mnist train --arch dit --preset cpu --lr 0.001 --seed 2",
        ),
    ],
)
def test_train_command_names_the_options_that_differ_from_the_preset(arch, prediction, overrides, expected):
    from fmtutor.mnist import PRESETS
    from fmtutor.mnist.reproduce import train_command

    cpu = PRESETS["cpu"]
    config = TrainConfig(
        arch=arch,
        model_kwargs=cpu.models[arch],
        prediction=prediction,
        preset="cpu",
        **{"steps": cpu.steps, "batch_size": cpu.batch_size, "lr": cpu.lr, **overrides},
    )
    assert train_command(config) == expected
