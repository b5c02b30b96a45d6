"""MNIST from the original IDX files: find, verify (md5), download if missing, decode.

Where the four ``.gz`` files are looked for, in order: the ``root`` argument, the environment
variable ``FMTUTOR_MNIST_DIR``, then ``~/.cache/fmtutor/mnist``. Every file is checked against its
published md5 sum before it is decoded, so a truncated or corrupted file is reported, never used.
A missing file is downloaded (from the public mirrors in ``MIRRORS``) into a temporary file that is
moved into place only once complete and verified; offline, the error says which files to put where.

    data = load_mnist("train")            # images (60000, 1, 28, 28) in [-1, 1], labels (60000,)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .._validate import as_path, check_choice

__all__ = [
    "MNIST",
    "FILES",
    "MIRRORS",
    "ENV_VAR",
    "mnist_dir",
    "read_idx",
    "md5sum",
    "download",
    "ensure_files",
    "load_mnist",
    "MNISTFileError",
]

ENV_VAR = "FMTUTOR_MNIST_DIR"
FILES: dict[str, str] = {  # file name -> published md5
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
MAGIC = {1: 2049, 3: 2051}  # IDX magic numbers of labels (1-d) and images (3-d), unsigned bytes
Opener = Callable[..., object]


class MNISTFileError(RuntimeError):
    """A data file is missing, corrupted, truncated or not an IDX file of the expected kind."""


@dataclass(frozen=True)
class MNIST:
    """A split of MNIST: ``images`` (N, 1, 28, 28) float32 in [-1, 1] and ``labels`` (N,) long in 0..9."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return self.labels.shape[0]


def mnist_dir(root: str | Path | None = None) -> Path:
    """The data directory: ``root``, else ``$FMTUTOR_MNIST_DIR``, else ``~/.cache/fmtutor/mnist``."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "fmtutor" / "mnist"


def md5sum(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex md5 digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(as_path(path, "path"), "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_idx(path: str | Path) -> np.ndarray:
    """Decode a gzip-compressed IDX file of unsigned bytes: labels (N,) or images (N, H, W), uint8.

    The header is the magic number (2049 for labels, 2051 for images) and one big-endian uint32 per
    dimension. A wrong magic, a short or over-long payload, or a broken gzip stream raises
    ``MNISTFileError`` naming the file.
    """
    path = as_path(path, "path")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as err:
        raise MNISTFileError(
            f"{path} is not a complete gzip file ({err}); it is truncated or corrupted: delete it and download it again"
        ) from err
    if len(raw) < 4:
        raise MNISTFileError(f"{path} is too short to hold an IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if MAGIC.get(ndim) != magic:
        raise MNISTFileError(
            f"{path} has IDX magic number {magic}; expected 2049 (labels) or 2051 (images) for an MNIST file"
        )
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise MNISTFileError(
            f"{path} holds {len(raw)} bytes after decompression but its header "
            f"{dims} promises {expected}; the file is truncated or corrupted"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _urls(name: str, mirrors: Sequence[str]) -> list[str]:
    return [m.rstrip("/") + "/" + name for m in mirrors]


def download(
    name: str,
    directory: str | Path,
    md5: str,
    mirrors: Sequence[str] = MIRRORS,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
) -> Path:
    """Fetch ``name`` from the first mirror that answers into ``directory``; verify, then move into place.

    The bytes go to a temporary file beside the target, which is renamed only when complete and
    matching ``md5``. Raises ``MNISTFileError`` (listing each mirror's error) if no mirror works.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in _urls(name, mirrors):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, opener(url, timeout=30) as response:
                size = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=size, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                    while block := response.read(1 << 16):
                        out.write(block)
                        bar.update(len(block))
            got = md5sum(tmp)
            if got != md5:
                raise MNISTFileError(f"md5 {got} does not match the expected {md5}")
            os.replace(tmp, directory / name)
            return directory / name
        except Exception as err:  # noqa: BLE001 - every failure means: try the next mirror
            errors.append(f"{url}: {err}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise MNISTFileError(f"could not download {name}:\n  " + "\n  ".join(errors))


def _missing_message(directory: Path, missing: Sequence[str], errors: Sequence[str]) -> str:
    lines = [f"MNIST files missing from {directory}:"]
    lines += [f"  {directory / name}" for name in missing]
    lines += [
        "Download them (e.g. from " + " or ".join(MIRRORS) + ") and put them in that folder,",
        f"or set {ENV_VAR} to the folder that holds all four:",
        *[f"  {n}" for n in FILES],
    ]
    if errors:
        lines += ["The download failed:", *[f"  {e}" for e in errors]]
    return "\n".join(lines)


def ensure_files(
    names: Sequence[str],
    root: str | Path | None = None,
    download_missing: bool = True,
    checksums: Mapping[str, str] = FILES,
    mirrors: Sequence[str] = MIRRORS,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
) -> dict[str, Path]:
    """Paths of ``names`` in the data directory, each verified against ``checksums``.

    Missing files are downloaded when ``download_missing``; a file whose md5 differs raises
    ``MNISTFileError`` (it is never decoded); if files are still missing the error lists them.
    """
    directory = mnist_dir(root)
    missing, errors = [], []
    for name in names:
        if not (directory / name).exists() and download_missing:
            try:
                download(name, directory, checksums[name], mirrors, opener, progress)
            except (MNISTFileError, OSError) as err:
                errors.append(str(err))
        if not (directory / name).exists():
            missing.append(name)
    if missing:
        raise MNISTFileError(_missing_message(directory, missing, errors))
    for name in names:
        got = md5sum(directory / name)
        if got != checksums[name]:
            raise MNISTFileError(
                f"{directory / name} has md5 {got} but the published sum is "
                f"{checksums[name]}: the file is truncated or corrupted; delete "
                "it and download it again"
            )
    return {name: directory / name for name in names}


def load_mnist(
    split: str = "train",
    root: str | Path | None = None,
    limit: int | None = None,
    download_missing: bool = True,
    checksums: Mapping[str, str] = FILES,
    mirrors: Sequence[str] = MIRRORS,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
) -> MNIST:
    """Load the 'train' (60,000) or 'test' (10,000) split, optionally only the first ``limit`` examples.

    Pixels p in 0..255 become x = p / 127.5 - 1 in [-1, 1], shape (N, 1, 28, 28), float32;
    labels are long (N,). The files are verified and decoded on every call (about a second).
    """
    check_choice("split", split, SPLITS)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    paths = ensure_files(SPLITS[split], root, download_missing, checksums, mirrors, opener, progress)
    images, labels = (read_idx(paths[name]) for name in SPLITS[split])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise MNISTFileError(
            f"{split} images {images.shape} and labels {labels.shape} do not pair up; "
            "expected (N, H, W) images and (N,) labels"
        )
    if labels.max(initial=0) > 9:
        raise MNISTFileError(f"{split} labels must lie in 0..9, found {int(labels.max())}")
    n = len(labels) if limit is None else min(limit, len(labels))
    x = torch.from_numpy(images[:n]).float().div_(127.5).sub_(1.0).unsqueeze(1)
    return MNIST(images=x, labels=torch.from_numpy(labels[:n].astype(np.int64)))
