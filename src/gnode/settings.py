"""Reading flat settings: JSON or TOML files, and checking their keys, types and sizes against a dataclass."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gnode.errors import ConfigError


def read_settings_file(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The table of settings in a TOML (``.toml``) or JSON file.

    Raises:
        ConfigError: the file is missing, not valid or not a table; the message names ``what`` and the path.
    """
    path = Path(path)
    try:
        text = path.read_text()
        settings = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{what} {path} is not valid: {str(err).splitlines()[0]}") from None
    except OSError as err:
        raise ConfigError(f"{what} {path} cannot be read: {err.strerror or err}") from None
    except RecursionError:
        raise ConfigError(f"{what} {path} is nested too deeply") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{what} {path} must hold a table of settings, got {type(settings).__name__}")
    return settings


def check_keys(cls: type, values: dict[str, Any], what: str) -> None:
    """Raise ConfigError naming every key of ``values`` that is not a field of the dataclass ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; known: {sorted(known)}")


LARGEST_INT = 2**31 - 1  # sizes, counts and seeds: what a 32-bit JAX integer holds


def _shown(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a value read from a settings file fits the annotation ``hint`` (int, float, str, bool, sequences of
    those, unions with None). Other annotations (objects) are left to the class."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= LARGEST_INT
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, Sequence, list) and args:
        return isinstance(value, list | tuple) and all(_conforms(v, args[0]) for v in value)
    return True


_NAMES = {int: ("an integer", "integers"), float: ("a finite number", "finite numbers"), str: ("a string", "strings"),
          bool: ("true or false", "true / false values"), type(None): ("none", "nones")}  # fmt: skip


def _described(hint: Any, plural: bool = False) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_described(a, plural) for a in args)
    if origin in (tuple, Sequence, list) and args:
        return f"a list of {_described(args[0], plural=True)}"
    names = _NAMES.get(hint, (getattr(hint, "__name__", str(hint)),) * 2)
    return names[plural]


def check_settings(cls: type, values: Any, what: str) -> None:
    """Check settings read from a file or a grid against the dataclass ``cls``: a table, known keys, and each value
    of its field's type (integers within 32 bits, numbers finite).

    Raises:
        ConfigError: one line naming the first bad key and what it must be.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"{what} must be a table of settings, got {_shown(values)}")
    check_keys(cls, values, f"{what} keys")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _conforms(value, hints[key]):
            bound = f" (integers within ±{LARGEST_INT})" if "integer" in _described(hints[key]) else ""
            raise ConfigError(f"{what}: {key} must be {_described(hints[key])}{bound}, got {_shown(value)}")


def check_memory(needed_bytes: float, what: str) -> None:
    """Refuse a size no machine here can hold: ``needed_bytes`` beyond this machine's memory.

    Raises:
        ConfigError: naming ``what``, the estimate and the memory.
    """
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no estimate to compare
        return
    if needed_bytes > memory:
        raise ConfigError(
            f"{what} needs about {needed_bytes / 2**30:.3g} GiB; this machine has {memory / 2**30:.3g} GiB"
        )
