"""Checkpoints as ``.npz`` files of plain arrays plus a JSON header: loading never runs code.

Files are written atomically (a temporary file in the same folder, fsync, ``os.replace``), so a
crash leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from gnode.errors import CheckpointError
from gnode.files import save_arrays

FORMAT = "gnode-checkpoint-1"


def _array_leaves(tree: PyTree) -> list:
    return jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))


def _array_paths(tree: PyTree) -> list[str]:
    """Where each array sits in the tree (``.field.flow.state_weight``...): two arrays of equal shape
    cannot be swapped silently by a change of field order."""
    pairs = jax.tree_util.tree_flatten_with_path(eqx.filter(tree, eqx.is_array))[0]
    return [jax.tree_util.keystr(path) for path, _ in pairs]


def save_tree(path: str | os.PathLike, tree: PyTree, meta: dict | None = None) -> None:
    """Save the array leaves of ``tree`` (and a JSON-able ``meta``) to ``path`` atomically."""
    leaves = [np.asarray(x) for x in _array_leaves(tree)]
    header = {"format": FORMAT, "num_leaves": len(leaves), "paths": _array_paths(tree), "meta": meta or {}}
    arrays = {f"leaf_{i:05d}": x for i, x in enumerate(leaves)}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    save_arrays(path, **arrays)


def load_tree(path: str | os.PathLike, like: PyTree) -> tuple[PyTree, dict]:
    """Load a checkpoint into the structure of ``like`` (same array shapes and dtypes).

    Raises:
        CheckpointError: missing file, corrupt file, or arrays that do not match ``like``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(bytes(npz["header"]).decode())
            if header.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not a gnode checkpoint (format {header.get('format')!r})")
            leaves = [npz[f"leaf_{i:05d}"] for i in range(int(header["num_leaves"]))]
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or unreadable ({type(err).__name__})") from None
    template = _array_leaves(like)
    if "paths" in header and header["paths"] != _array_paths(like):
        wanted = _array_paths(like)
        first = next((i for i, (a, b) in enumerate(zip(header["paths"], wanted, strict=False)) if a != b), None)
        where = (
            f"array {first} is {header['paths'][first]}, the model has {wanted[first]}"
            if first is not None
            else (f"{len(header['paths'])} arrays, the model needs {len(wanted)}")
        )
        raise CheckpointError(f"checkpoint {path} does not match the model: {where}")
    if len(template) != len(leaves):
        raise CheckpointError(f"checkpoint {path} holds {len(leaves)} arrays, the model needs {len(template)}")
    for i, (got, want) in enumerate(zip(leaves, template, strict=True)):
        if got.shape != want.shape or got.dtype != want.dtype:
            raise CheckpointError(
                f"checkpoint {path}: array {i} is {got.dtype}{list(got.shape)}, the model needs "
                f"{want.dtype}{list(want.shape)}"
            )
    arrays, static = eqx.partition(like, eqx.is_array)
    treedef = jax.tree_util.tree_structure(arrays)
    arrays = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in leaves])
    return eqx.combine(arrays, static), header["meta"]
