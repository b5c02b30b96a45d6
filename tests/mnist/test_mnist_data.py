"""The MNIST loader on synthetic IDX files: decoding, md5 checks, corruption, downloads, messages."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest
import torch
from mnist_helpers import idx_bytes, synthetic_split, write_idx_gz

from fmtutor.mnist import data as mnist_data
from fmtutor.mnist.data import FILES, MNISTFileError, download, ensure_files, load_mnist, md5sum, mnist_dir, read_idx


def test_published_checksums_are_the_issue_ones():
    assert list(FILES.values()) == [
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ]


def test_read_idx_round_trips_images_and_labels(tmp_path):
    images, labels = synthetic_split(5, 3)
    np.testing.assert_array_equal(read_idx(write_idx_gz(tmp_path / "x.gz", images)), images)
    np.testing.assert_array_equal(read_idx(write_idx_gz(tmp_path / "y.gz", labels)), labels)


def test_load_scales_pixels_to_minus_one_one(fake_mnist):
    data = load_mnist("train", root=fake_mnist)
    raw = read_idx(fake_mnist / "train-images-idx3-ubyte.gz")
    assert data.images.shape == (40, 1, 28, 28) and data.images.dtype == torch.float32
    assert data.labels.dtype == torch.long and data.labels.tolist() == [i % 10 for i in range(40)]
    torch.testing.assert_close(data.images[:, 0], torch.from_numpy(raw).float() / 127.5 - 1)
    assert len(load_mnist("test", root=fake_mnist, limit=7)) == 7


def test_data_dir_precedence(fake_mnist, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_dir() == tmp_path / "home" / ".cache" / "fmtutor" / "mnist"
    monkeypatch.setenv(mnist_data.ENV_VAR, str(fake_mnist))
    assert mnist_dir() == fake_mnist
    assert mnist_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert len(load_mnist("test")) == 20  # found through the environment variable


def test_wrong_md5_is_reported_and_never_decoded(fake_mnist, monkeypatch):
    monkeypatch.setitem(FILES, "t10k-labels-idx1-ubyte.gz", "0" * 32)
    with pytest.raises(
        MNISTFileError,
        match=r"t10k-labels-idx1-ubyte\.gz has md5 [0-9a-f]{32} but the "
        r"published sum is 0{32}: the file is truncated or corrupted",
    ):
        load_mnist("test", root=fake_mnist)


def test_truncated_gzip_is_detected(tmp_path):
    whole = gzip.compress(idx_bytes(synthetic_split(4, 0)[0]))
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MNISTFileError, match=r"cut\.gz is not a complete gzip file .* truncated or corrupted"):
        read_idx(tmp_path / "cut.gz")


def test_payload_shorter_than_header_promises_is_detected(tmp_path):
    raw = idx_bytes(synthetic_split(4, 0)[0])[:-10]
    (tmp_path / "short.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(
        MNISTFileError,
        match=r"holds 3142 bytes after decompression but its header "
        r"\(4, 28, 28\) promises 3152",
    ):
        read_idx(tmp_path / "short.gz")


def test_wrong_magic_is_refused(tmp_path):
    raw = (2052).to_bytes(4, "big") + bytes(16)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(MNISTFileError, match="has IDX magic number 2052; expected 2049 .* or 2051"):
        read_idx(tmp_path / "bad.gz")


def test_missing_files_offline_message_lists_what_goes_where(tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    empty = tmp_path / "nothing"
    with pytest.raises(MNISTFileError) as info:
        load_mnist("test", root=empty, opener=offline, progress=False)
    message = str(info.value)
    assert message.startswith(f"MNIST files missing from {empty}:")
    assert f"  {empty / 't10k-images-idx3-ubyte.gz'}" in message
    assert f"  {empty / 't10k-labels-idx1-ubyte.gz'}" in message
    assert "FMTUTOR_MNIST_DIR" in message and all(name in message for name in FILES)
    assert "no network" in message
    assert not list(empty.iterdir())  # no partial download left behind


def test_no_download_when_disabled(tmp_path):
    def must_not_call(url, timeout=None):
        raise AssertionError("download attempted")

    with pytest.raises(MNISTFileError, match="MNIST files missing from"):
        load_mnist("train", root=tmp_path, download_missing=False, opener=must_not_call)


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def test_download_tries_the_next_mirror_after_a_corrupt_file(tmp_path):
    good = gzip.compress(idx_bytes(synthetic_split(3, 0)[1]))
    md5 = hashlib.md5(good).hexdigest()
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        return FakeResponse(good[:-5] if url.startswith("https://a/") else good)

    path = download("labels.gz", tmp_path, md5, mirrors=("https://a/", "https://b/"), opener=opener, progress=False)
    assert calls == ["https://a/labels.gz", "https://b/labels.gz"]
    assert path == tmp_path / "labels.gz" and md5sum(path) == md5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.gz"]  # temporary files removed


def test_download_failure_keeps_nothing(tmp_path):
    def corrupt(url, timeout=None):
        return FakeResponse(b"not the file")

    with pytest.raises(
        MNISTFileError,
        match=r"could not download x\.gz:\n  https://a/x\.gz: md5 .* does not "
        r"match the expected 0{32}",
    ):
        download("x.gz", tmp_path, "0" * 32, mirrors=("https://a/",), opener=corrupt, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_ensure_files_downloads_missing_files_through_the_opener(fake_mnist, tmp_path):
    payloads = {name: (fake_mnist / name).read_bytes() for name in FILES}
    target = tmp_path / "cache"

    def opener(url, timeout=None):
        return FakeResponse(payloads[url.rsplit("/", 1)[1]])

    paths = ensure_files(list(FILES), root=target, opener=opener, progress=False)
    assert {p.name for p in paths.values()} == set(FILES)
    assert load_mnist("train", root=target, download_missing=False).images.shape == (40, 1, 28, 28)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown split 'validation'; expected one of 'train', 'test'"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="limit must be a positive integer or None, got 0"):
        load_mnist("train", limit=0)


def test_real_files_if_present():
    """The shared verified files, when the environment points at them (skipped otherwise)."""
    folder = mnist_dir()
    if not all((folder / name).exists() for name in FILES):
        pytest.skip("the real MNIST files are not available here")
    data = load_mnist("test", limit=10, progress=False)
    assert data.labels.tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert data.images.min() == -1 and data.images.max() == 1
