"""Helpers for the MNIST tests: synthetic IDX files (the real format, a few dozen digits), tiny networks."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

TINY_UNET = {"channels": (8, 8, 8), "emb_dim": 16, "attention": False}
TINY_DIT = {"patch": 7, "dim": 16, "depth": 1, "heads": 2}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dims, then the bytes."""
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path: Path, array: np.ndarray) -> Path:
    path.write_bytes(gzip.compress(idx_bytes(array)))
    return path


def synthetic_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)
