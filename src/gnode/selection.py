"""Choosing a model's size by cross-validation: folds of trials, and the one-standard-error rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gnode.errors import ConfigError, DataError


def deal_folds(count: int, folds: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` trials dealt at random (``seed``) into ``folds`` parts of nearly equal size, each sorted."""
    if folds < 2:
        raise ConfigError(f"cross-validation needs folds >= 2, got {folds}")
    if count < folds:
        raise DataError(f"{count} trials cannot make {folds} folds (at least one trial per fold)")
    return [np.sort(p) for p in np.array_split(np.random.default_rng(seed).permutation(count), folds)]


def fold_mean_se(folds: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (over folds) of one cross-validated score; the error is 0 for a single fold."""
    folds = np.asarray(folds, dtype=float)
    return float(folds.mean()), float(folds.std(ddof=1) / np.sqrt(folds.size)) if folds.size > 1 else 0.0


def one_standard_error(
    rows: Sequence[dict[str, Any]], simplicity: Callable[[dict[str, Any]], Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best row (highest ``mean``) and the simplest row (least ``simplicity(row)``) whose ``mean`` is within one
    standard error (the best row's ``se``) of it: past the right size a curve is flat within fold noise.

    Returns:
        ``(best, chosen)``.
    """
    if not rows:
        raise ConfigError("no candidates to choose from")
    best = max(rows, key=lambda r: r["mean"])
    close = [r for r in rows if r["mean"] >= best["mean"] - best["se"]]
    return best, min(close, key=simplicity)
