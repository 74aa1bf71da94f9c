"""Choosing settings on validation data: a model's size by cross-validation (folds of trials, the
one-standard-error rule), and a learning rate that is interior to the grid it was chosen from."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
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


def next_rate(rate: float, up: bool) -> float:
    """The neighbour of ``rate`` in the series 1, 3, 10, 30, ... times a power of ten, above (``up``) or below it.

    Raises:
        ConfigError: a rate that is not positive and finite.
    """
    if not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"a learning rate must be positive and finite, got {rate}")
    exponent = math.floor(math.log10(rate))
    series = [float(f"{m}e{e}") for e in range(exponent - 1, exponent + 3) for m in (1, 3)]
    return min(s for s in series if s > rate * (1 + 1e-9)) if up else max(s for s in series if s < rate * (1 - 1e-9))


@dataclasses.dataclass(frozen=True)
class RateChoice:
    """The outcome of :func:`interior_rate`.

    Attributes:
        chosen: the rate with the lowest validation loss.
        losses: the validation loss of every rate tried, in increasing order of rate.
        interior: whether a rate was tried on each side of ``chosen`` (False: the extensions ran out).
    """

    chosen: float
    losses: dict[float, float]
    interior: bool


def interior_rate(
    fit: Callable[[list[float]], Mapping[float, float]],
    rates: Sequence[float],
    extensions: int = 0,
    ladder: Sequence[float] | None = None,
) -> RateChoice:
    """Choose the learning rate with the lowest validation loss, extending the grid past an edge it lands on.

    ``fit(new_rates)`` trains at those rates and returns the validation loss of each (non-finite counts as the
    worst). While the best rate is the lowest or highest tried, the next rate beyond it is fitted, at most
    ``extensions`` times in all, so that the rate chosen at the end lies between two rates that did worse (a rate
    whose fits diverged at once scores as the worst).

    Arguments:
        fit: trains at the rates given and returns their validation losses.
        rates: the initial grid.
        extensions: how many rates may be added beyond the grid's edges (0: the grid as given).
        ladder: the rates an extension may add (e.g. those a sweep has already run); the next one beyond an edge
            is the nearest of them past it, and the extension stops where none is. None: :func:`next_rate`.
    Returns:
        The :class:`RateChoice`.
    Raises:
        ConfigError: an empty grid, a rate that is not positive, or negative ``extensions``.
    """
    if not rates or min(rates) <= 0 or extensions < 0:
        raise ConfigError(f"need a non-empty grid of positive rates and extensions >= 0, got {list(rates)}, "
                          f"{extensions}")  # fmt: skip
    losses: dict[float, float] = {}

    def add(new: list[float]) -> None:
        found = fit(new)
        for rate in new:
            value = float(found[rate])
            losses[rate] = value if math.isfinite(value) else math.inf

    def best() -> float:
        return min(sorted(losses), key=lambda r: losses[r])

    add(sorted(set(rates)))
    for _ in range(extensions):
        chosen = best()
        below, above = chosen > min(losses), chosen < max(losses)
        if below and above:
            break
        if ladder is None:
            add([next_rate(chosen, up=below)])  # past the edge the best rate sits on
            continue
        beyond = [r for r in ladder if (r > chosen if below else r < chosen)]
        if not beyond:  # the ladder ends at this edge
            break
        add([min(beyond) if below else max(beyond)])
    chosen = best()
    return RateChoice(chosen, dict(sorted(losses.items())), min(losses) < chosen < max(losses))
