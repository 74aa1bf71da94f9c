"""Named errors raised at gnode's boundaries (constructors, loaders, CLI, ``fit``), and the name lookup that
raises them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class GnodeError(Exception):
    """Base class: every gnode error is reported by the CLI as one line."""


class ConfigError(GnodeError, ValueError):
    """An unknown name, an impossible size or an inconsistent option."""


class DataError(GnodeError, ValueError):
    """Arrays of the wrong shape, NaN without a mask, non-monotone times."""


class CheckpointError(GnodeError):
    """A checkpoint that is missing, corrupt or does not match the model."""


class DivergenceError(GnodeError):
    """Training produced a non-finite loss; the last good checkpoint is kept, and ``state`` holds the last good
    parameters where the fit has them in memory (None otherwise)."""

    def __init__(self, message: str, state: object = None):
        super().__init__(message)
        self.state = state


class WriteError(GnodeError, OSError):
    """A file or folder that could not be written (disk full, file too large, no permission); what was there
    before is kept."""


class RunDirError(GnodeError):
    """A run directory that would be overwritten, or is missing what ``--resume`` needs."""


def by_name(table: Mapping[str, T], name: str, what: str) -> T:
    """``table[name]``, or a one-line :class:`ConfigError` listing the choices (names are resolved at the CLI
    and config boundary; library signatures take the objects)."""
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; choose one of {list(table)}")
    return table[name]
