"""Reading flat settings: JSON or TOML files, and checking their keys against a dataclass."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

from gnode.errors import ConfigError


def read_settings_file(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The contents of a TOML (``.toml``) or JSON file.

    Raises:
        ConfigError: the file is missing or not valid; the message names ``what`` and the path.
    """
    path = Path(path)
    try:
        text = path.read_text()
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{what} {path} is not valid: {err}") from None


def check_keys(cls: type, values: dict[str, Any], what: str) -> None:
    """Raise ConfigError naming every key of ``values`` that is not a field of the dataclass ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; known: {sorted(known)}")
