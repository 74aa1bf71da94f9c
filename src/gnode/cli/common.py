"""What every command shares: one-line errors, option parsing, tables."""

from __future__ import annotations

import functools
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from gnode.errors import ConfigError, GnodeError

console = Console()


def report_error(message: str) -> None:
    """``gnode: error: <message>`` on stderr, on one line whatever the message holds (a path with a line break)."""
    print("gnode: error: " + message.replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)


def one_line_errors(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GnodeError as err:
            report_error(str(err))
            raise typer.Exit(2) from None
        except OSError as err:  # a folder that cannot be made, a file that cannot be read: name it, in one line
            report_error((f"{err.filename}: " if err.filename else "") + str(err.strerror or err))
            raise typer.Exit(2) from None

    return wrapper


def parse_widths(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    text = text.strip().strip("[]")
    if not text:
        return ()
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise ConfigError(f"widths must be comma-separated integers like 316,316, got {text!r}") from None


def parse_floats(text: str, option: str) -> tuple[float, ...]:
    """``"1e-3,3e-3"`` -> ``(0.001, 0.003)``."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated numbers, got {text!r}") from None


def parse_seconds(text: str | None, option: str) -> float | None:
    """``"10ms"``, ``"0.01s"`` or ``"0.01"`` -> ``0.01`` (seconds); None stays None."""
    if text is None:
        return None
    value = text.strip().lower()
    scale = 1e-3 if value.endswith("ms") else 1.0
    try:
        return float(value.removesuffix("ms").removesuffix("s")) * scale
    except ValueError:
        raise ConfigError(f"{option} must be a duration such as 10ms or 0.01 (seconds), got {text!r}") from None


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``"context,cue_time"`` -> ``("context", "cue_time")``; ``""`` -> ``()``; None stays None."""
    return None if text is None else tuple(v.strip() for v in text.split(",") if v.strip())


def print_table(title: str, row: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in row.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
