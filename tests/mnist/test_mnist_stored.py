"""The networks stored in the package: each loads to its manifest's known answer, a damaged copy of
each is refused by name, and the UNet and the judge score their manifest's accuracies."""

from __future__ import annotations

import shutil

import pytest

from fmtutor.mnist import FILES, load_mnist, mnist_dir
from fmtutor.mnist.pretrained import WEIGHTS_DIR, fingerprint, load_pretrained, read_manifest, verify
from fmtutor.mnist.reproduce import TOLERANCE, generator_accuracy

MANIFEST = read_manifest(WEIGHTS_DIR)
GENERATORS = sorted(name for name, entry in MANIFEST.items() if entry["kind"] == "generator")


def _real_mnist() -> bool:
    return all((mnist_dir() / name).exists() for name in FILES)


@pytest.mark.parametrize("name", GENERATORS)
def test_a_stored_generator_gives_its_known_answer(name):
    """Mean and RMS of the loaded network's output on ten fixed inputs, as recorded when it was stored."""
    run = load_pretrained(name)
    assert fingerprint(run.model) == pytest.approx(MANIFEST[name]["fingerprint"], rel=1e-4)
    assert run.steps == MANIFEST[name]["steps"] == run.config.steps
    assert len(run.losses) == run.steps and run.final_loss < run.losses[0]  # the curve travels with the weights


@pytest.mark.parametrize("name", sorted(MANIFEST))
@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign"])
def test_a_damaged_copy_of_a_stored_network_is_refused_by_name(tmp_path, name, damage):
    shutil.copytree(WEIGHTS_DIR, tmp_path / "w")
    path = tmp_path / "w" / MANIFEST[name]["file"]
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x10
        message = rf"{MANIFEST[name]['file']}: sha256 .* differs from the manifest's .*not the weights of '{name}'"
    elif damage == "truncate":
        data = data[: len(data) - 100]
        message = (
            rf"{MANIFEST[name]['file']}: {len(data)} bytes where the manifest lists {len(data) + 100}: .*truncated"
        )
    else:  # another stored network's bytes, cut or padded to this one's size: only the hash can tell
        other = (WEIGHTS_DIR / MANIFEST[next(n for n in sorted(MANIFEST) if n != name)]["file"]).read_bytes()
        data = (other * 2)[: len(data)]
        message = rf"{MANIFEST[name]['file']}: sha256 .* not the weights of '{name}'"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=message):
        load_pretrained(name, tmp_path / "w")
    assert verify(name).name == MANIFEST[name]["file"]  # the package's own copy is untouched


@pytest.mark.skipif("unet-cpu" not in MANIFEST, reason="no stored cpu UNet in this checkout")
def test_the_stored_unet_scores_its_recorded_accuracy():
    """200 digits at w = 2 with 20 Euler steps, judged by the stored judge: the manifest's figure."""
    recorded = MANIFEST["unet-cpu"]["metrics"]["accuracy_w2_200_nfe20"]
    measured = generator_accuracy(load_pretrained("unet-cpu"), load_pretrained("judge"))
    assert measured == pytest.approx(recorded, abs=TOLERANCE["accuracy"])
    assert measured > 0.9


@pytest.mark.skipif(not _real_mnist(), reason="the real MNIST files are not available here")
def test_the_stored_judge_scores_its_recorded_test_accuracy():
    from fmtutor.mnist import accuracy

    test = load_mnist("test", progress=False)
    measured = accuracy(load_pretrained("judge").model, test.images, test.labels)
    assert measured == pytest.approx(MANIFEST["judge"]["metrics"]["test_accuracy"], abs=TOLERANCE["test_accuracy"])
