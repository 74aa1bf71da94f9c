"""Observed sequences at the boundary: one ``(time, dimensions)`` array per sequence, checked once."""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import Float

from gnode.errors import ConfigError, DataError


def check_states(states: int) -> int:
    """A switching model needs at least two states; else a one-line ConfigError."""
    if states < 2:
        raise ConfigError(f"a switching model needs K >= 2 states, got {states}")
    return states


def check_observations(
    y: Any, observations: int | None = None, name: str = "observations"
) -> Float[np.ndarray, "time obs"]:
    """A finite ``(time >= 2, N)`` float array, N matching the model when given; else a one-line DataError."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 2 or y.shape[0] < 2:
        raise DataError(f"{name}: need an array (time >= 2, dimensions), got shape {y.shape}")
    if not np.isfinite(y).all():
        raise DataError(f"{name}: contains NaN or inf")
    if observations is not None and y.shape[1] != observations:
        raise DataError(f"{name}: {y.shape[1]} dimensions, the model has {observations}")
    return y
