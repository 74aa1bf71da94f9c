"""Files written atomically, and named arrays in ``.npz`` files read without pickle.

A write goes to a temporary file in the same folder, is flushed to disk and renamed over the target, so a
crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gnode.errors import DataError, WriteError

TEMPORARY = ".tmp-"  # in the name of a file being written (".<name>.tmp-<pid>"); one left behind is a crash's


def atomic_write(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old or the new file, never a mix.

    Raises:
        WriteError: the write failed (disk full, file too large, no permission...); ``path`` is as it was and no
            temporary file is left.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}{TEMPORARY}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {error.strerror or error}") from None


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, text.encode())


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the half-written files a killed process left in ``folder`` (not in its subfolders); return them."""
    folder = Path(folder)
    stale = [p for p in folder.glob(f".*{TEMPORARY}*") if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """The bytes of an ``.npz`` file holding the named arrays."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_arrays(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write named arrays to an ``.npz`` file atomically."""
    atomic_write(path, npz_bytes(**arrays))


def load_arrays(path: str | os.PathLike, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Named arrays of an ``.npz`` file (``keys``: the ones that must be there; None: all), without pickle.

    Raises:
        DataError: a missing, unreadable or incomplete file (one line, naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (run the earlier step first)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {}
            for key in data.files if keys is None else keys:
                try:
                    arrays[key] = data[key]
                except ValueError:  # numpy refuses an object array without pickle
                    raise DataError(f"{path}: {key} holds Python objects (save plain numeric arrays)") from None
            return arrays
    except DataError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: unreadable or incomplete ({type(error).__name__})") from None


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (imported on first use: matplotlib is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> None:
    """Lay out ``fig``, write it to ``path`` atomically (the format from the suffix) and close it."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=110)
    pyplot().close(fig)
    atomic_write(path, buffer.getvalue())
