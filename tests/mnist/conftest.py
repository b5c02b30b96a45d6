"""Fixtures for the MNIST tests (helpers live in mnist_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mnist_helpers import synthetic_split, write_idx_gz

from fmtutor.mnist import data as mnist_data


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch) -> Path:
    """A folder with the four MNIST file names holding 40 train and 20 test synthetic digits.

    The module's table of md5 sums is patched to these files' sums, so ``load_mnist`` accepts them.
    """
    folder = tmp_path / "mnist"
    folder.mkdir()
    (train_x, train_y), (test_x, test_y) = synthetic_split(40, 0), synthetic_split(20, 1)
    arrays = dict(zip(mnist_data.FILES, (train_x, train_y, test_x, test_y), strict=True))
    for name, array in arrays.items():
        write_idx_gz(folder / name, array)
        monkeypatch.setitem(mnist_data.FILES, name, mnist_data.md5sum(folder / name))
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)
    return folder
