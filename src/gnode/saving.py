"""Models that describe themselves: ``save(path, model)`` and ``load(path)`` with no skeleton from the user.

A saved file is an ``.npz`` archive of plain arrays plus a JSON description of the tree that holds them: for every
equinox Module (or frozen dataclass) its class and fields, for every other leaf its value, for every array its
index. Loading rebuilds the tree from that description without calling any constructor, and resolves names
only against an allowlist — classes of :data:`TRUSTED_PACKAGES` (gnode, equinox, diffrax and the libraries they
build on) and the functions of :data:`FUNCTIONS` (plus those given to :func:`register_function`) — so a file can
never run code.

Anything built from these pieces saves: a single model, a vmapped ensemble (arrays with a leading member axis), a
tuple of a model and its posterior, a dict of fits.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix
from equinox.nn._mlp import _identity as _equinox_identity

from gnode.errors import CheckpointError, ConfigError
from gnode.files import atomic_write, npz_bytes
from gnode.nn import ACTIVATIONS

FORMAT = "gnode-model-1"
HEADER = "__gnode__"
TRUSTED_PACKAGES = ("gnode", "equinox", "diffrax", "optimistix", "lineax", "optax")


FUNCTIONS: dict[str, Callable] = {
    **ACTIVATIONS,  # the names gnode's CLI knows
    "equinox.identity": _equinox_identity,
    "softplus": jax.nn.softplus,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
    "log_sigmoid": jax.nn.log_sigmoid,
    "softmax": jax.nn.softmax,
    "exp": jnp.exp,
    "sin": jnp.sin,
    "numpy.tanh": np.tanh,
    "optimistix.rms_norm": optimistix.rms_norm,  # diffrax controllers' default norm
    "optimistix.max_norm": optimistix.max_norm,
}


def register_function(name: str, function: Callable) -> None:
    """Let models that hold ``function`` (an activation, say) be saved and loaded under ``name``."""
    if name in FUNCTIONS and FUNCTIONS[name] is not function:
        raise ConfigError(f"a different function is already registered as {name!r}")
    FUNCTIONS[name] = function


def _function_name(function: Callable) -> str:
    for name, known in FUNCTIONS.items():
        if known is function:
            return name
    raise ConfigError(
        f"cannot save the function {function!r}: register it first with gnode.register_function(name, function)"
    )


def _resolve_function(name: str) -> Callable:
    if name not in FUNCTIONS:
        raise CheckpointError(f"unknown function {name!r} (register it with gnode.register_function before loading)")
    return FUNCTIONS[name]


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(path: str, accept: Callable[[type], bool], what: str) -> type:
    """The class ``module:qualname`` from a trusted package, if ``accept`` takes it; importing a module of those
    packages runs only their own code."""
    module, _, qualname = path.partition(":")
    if module.split(".")[0] not in TRUSTED_PACKAGES:
        raise CheckpointError(f"{what} {path!r} is outside the packages a model may come from {list(TRUSTED_PACKAGES)}")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise CheckpointError(f"unknown {what} {path!r} (saved by another version of gnode?)") from None
    if not (isinstance(obj, type) and accept(obj)):
        raise CheckpointError(f"{path!r} is not a {what}")
    return obj


def _is_module(cls: type) -> bool:
    return issubclass(cls, eqx.Module) or dataclasses.is_dataclass(cls)


class _Encoder:
    """Turns a tree into JSON, collecting its arrays in order."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def array(self, x) -> dict:
        entry: dict[str, Any] = {"array": len(self.arrays)}
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            entry["key"] = str(jax.random.key_impl(x))
            x = jax.random.key_data(x)
        elif isinstance(x, np.ndarray):
            entry["numpy"] = True
        self.arrays.append(np.asarray(x))
        return entry

    def __call__(self, obj) -> Any:
        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, int | float) and not isinstance(obj, enum.Enum):
            return {"float": repr(obj)} if isinstance(obj, float) and not np.isfinite(obj) else obj
        if isinstance(obj, jax.Array | np.ndarray):
            return self.array(obj)
        if isinstance(obj, np.generic):
            return {"scalar": obj.dtype.name, "value": obj.item()}
        if isinstance(obj, np.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return {"namedtuple": _class_path(type(obj)), "items": [self(v) for v in obj]}
        if isinstance(obj, tuple | list):
            return {type(obj).__name__: [self(v) for v in obj]}
        if isinstance(obj, dict):
            if not all(isinstance(k, str) for k in obj):
                raise ConfigError(f"cannot save a dict with non-string keys {list(obj)[:3]}")
            return {"dict": {k: self(v) for k, v in obj.items()}}
        if isinstance(obj, eqx.Module) or (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
            cls = type(obj)
            if cls.__module__.split(".")[0] not in TRUSTED_PACKAGES:
                raise ConfigError(
                    f"cannot save {cls.__qualname__} from {cls.__module__}: only objects of {list(TRUSTED_PACKAGES)} "
                    "can be rebuilt without running code"
                )
            fields = {f.name: self(getattr(obj, f.name)) for f in dataclasses.fields(obj) if hasattr(obj, f.name)}
            return {"module": _class_path(cls), "fields": fields}
        if isinstance(obj, enum.Enum):
            return {"enum": _class_path(type(obj)), "name": obj.name}
        if callable(obj):
            return {"function": _function_name(obj)}
        raise ConfigError(f"cannot save an object of type {type(obj).__name__}")


class _Decoder:
    """The inverse of :class:`_Encoder`: builds the tree back from JSON and the arrays."""

    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays

    def __call__(self, obj) -> Any:
        if obj is None or isinstance(obj, bool | str | int | float):
            return obj
        if isinstance(obj, dict) and len(obj) == 1 and next(iter(obj)) in ("tuple", "list", "dict", "float"):
            kind, value = next(iter(obj.items()))
            if kind == "tuple":
                return tuple(self(v) for v in value)
            if kind == "list":
                return [self(v) for v in value]
            if kind == "float":
                return float(value)
            return {k: self(v) for k, v in value.items()}
        if not isinstance(obj, dict):
            raise CheckpointError(f"unexpected entry {str(obj)[:40]!r}")
        if "array" in obj:
            x = self.arrays[obj["array"]]
            if "key" in obj:
                return jax.random.wrap_key_data(jnp.asarray(x), impl=obj["key"])
            return x if obj.get("numpy") else jnp.asarray(x)
        if "scalar" in obj:
            return np.dtype(obj["scalar"]).type(obj["value"])
        if "dtype" in obj:
            return np.dtype(obj["dtype"])
        if "function" in obj:
            return _resolve_function(obj["function"])
        if "namedtuple" in obj:
            return _resolve(obj["namedtuple"], lambda c: issubclass(c, tuple), "named tuple")(
                *(self(v) for v in obj["items"])
            )
        if "enum" in obj:
            return _resolve(obj["enum"], lambda c: issubclass(c, enum.Enum), "enum")[obj["name"]]
        if "module" in obj:
            cls = _resolve(obj["module"], _is_module, "Module or dataclass")
            fields = {f.name: f for f in dataclasses.fields(cls)}
            unknown = set(obj["fields"]) - set(fields)
            if unknown:
                raise CheckpointError(f"{obj['module']} has no fields {sorted(unknown)} (another version of gnode?)")
            # As equinox's own unflattening does: no __init__, so nothing in the file decides what code runs.
            instance = object.__new__(cls)
            for name, value in obj["fields"].items():
                object.__setattr__(instance, name, self(value))
            for name in fields.keys() - obj["fields"].keys():  # a field added since the file was written
                if fields[name].default is not dataclasses.MISSING:
                    object.__setattr__(instance, name, fields[name].default)
                elif fields[name].default_factory is not dataclasses.MISSING:
                    object.__setattr__(instance, name, fields[name].default_factory())
                else:
                    raise CheckpointError(f"{obj['module']} needs field {name!r}, which the file lacks")
            return instance
        raise CheckpointError(f"unexpected entry with keys {sorted(obj)[:4]}")


def describe(tree: Any) -> dict:
    """The JSON description :func:`save` writes (arrays replaced by their index)."""
    return _Encoder()(tree)


def save(path: str | os.PathLike, tree: Any, meta: dict | None = None) -> Path:
    """Write ``tree`` (a model, an ensemble, a tuple of models...) to ``path`` atomically.

    Arguments:
        path: the file (``.npz`` is the convention).
        tree: what to save; its Modules must come from :data:`TRUSTED_PACKAGES` (gnode, equinox, diffrax, ...).
        meta: JSON-able facts to keep beside it (a config, the data it was fitted to, scores).

    Returns:
        the path written.
    """
    atomic_write(path, to_bytes(tree, meta))
    return Path(path)


def to_bytes(tree: Any, meta: dict | None = None) -> bytes:
    """The bytes :func:`save` writes. Encode where the model was built: a model that travelled through pickle
    (a Ray worker's result, say) holds copies of its functions, which the registry no longer recognises."""
    from gnode import __version__

    encoder = _Encoder()
    description = encoder(tree)
    header = {"format": FORMAT, "gnode": __version__, "tree": description, "meta": meta or {}}
    try:
        header_bytes = json.dumps(header).encode()  # a non-finite score in meta is written as JSON5 does
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot save: meta is not JSON-able ({error})") from None
    arrays = {f"a{i}": x for i, x in enumerate(encoder.arrays)}
    return npz_bytes(**{HEADER: np.frombuffer(header_bytes, dtype=np.uint8)}, **arrays)


def _read(path: str | os.PathLike) -> tuple[dict, list[np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if HEADER not in npz.files:
                raise CheckpointError(f"{path} is not a saved gnode model (no {HEADER} header)")
            header = json.loads(bytes(npz[HEADER]).decode())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                found = header.get("format") if isinstance(header, dict) else None
                raise CheckpointError(f"{path} is not a saved gnode model (format {found!r})")
            count = sum(1 for name in npz.files if name != HEADER)
            arrays = [npz[f"a{i}"] for i in range(count)]
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is corrupt or unreadable ({type(error).__name__})") from None
    return header, arrays


def load(path: str | os.PathLike) -> Any:
    """The tree :func:`save` wrote to ``path``, rebuilt with no skeleton and no code from the file.

    Raises:
        CheckpointError: a missing, truncated, corrupt or foreign file (one line, naming it).
    """
    header, arrays = _read(path)
    try:
        return _Decoder(arrays)(header["tree"])
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: the description does not match its arrays ({type(error).__name__})") from None


def load_as(path: str | os.PathLike, cls: type, hint: str) -> Any:
    """:func:`load` a file that must hold a ``cls``; else a one-line CheckpointError (``hint``: the command that
    writes it, for a missing file)."""
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such file ({hint})")
    tree = load(path)
    if not isinstance(tree, cls):
        raise CheckpointError(f"{path} holds a {type(tree).__name__}, not a {cls.__name__}")
    return tree


def load_meta(path: str | os.PathLike) -> dict:
    """What :func:`save` kept beside the model (``meta``), plus the gnode version that wrote it."""
    header, _ = _read(path)
    return {**header.get("meta", {}), "gnode_version": header.get("gnode")}


def same_structure(a: Any, b: Any) -> bool:
    """Whether two trees have the same classes, static fields, and array shapes and dtypes (a loaded model can
    stand in for a freshly built one)."""
    leaves_a, def_a = jax.tree_util.tree_flatten(a)
    leaves_b, def_b = jax.tree_util.tree_flatten(b)
    shape = lambda x: (np.shape(x), np.result_type(x)) if eqx.is_array(x) else x  # noqa: E731
    return def_a == def_b and all(shape(x) == shape(y) for x, y in zip(leaves_a, leaves_b, strict=True))
