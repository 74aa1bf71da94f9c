"""Irregularly sampled classification sets from variable-length series (the Neural CDE protocol).

Each series loses its own random fraction of time points; what remains is packed at the front of a padded
array, with the observation times (in original time steps), a normalised time channel appended to the inputs,
and a mask marking the observed steps, so a model reads out at each series' last observation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float, Int

from gnode.data import SequenceData
from gnode.datasets.uea import LabelledSeries
from gnode.errors import ConfigError, DataError
from gnode.optional import optional_import


@dataclasses.dataclass(frozen=True)
class Observed:
    """The kept points of one series: ``values`` ``(k, channels)`` at original step indices ``steps`` ``(k,)``."""

    values: np.ndarray
    steps: np.ndarray


def drop_points(
    series: list[Float[np.ndarray, "_time inp"]], fraction: float, rng: np.random.Generator
) -> list[Observed]:
    """Remove from each series its own random ``fraction`` of time points (rounded down; one point always stays).

    Points with any missing (NaN) channel count as already dropped.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"the dropped fraction must be in [0, 1), got {fraction}")
    kept = []
    for values in series:
        length = values.shape[0]
        chosen = np.sort(rng.permutation(length)[: max(1, length - int(fraction * length))])
        chosen = chosen[np.isfinite(values[chosen]).all(axis=1)]
        if chosen.size == 0:
            raise DataError("a series has no fully observed time point left after dropping")
        kept.append(Observed(values[chosen], chosen))
    return kept


def pack(
    observed: list[Observed],
    labels: Int[np.ndarray, " batch"],
    length: int,
    time_scale: float,
    mean: Float[np.ndarray, " inp"],
    std: Float[np.ndarray, " inp"],
) -> SequenceData:
    """Pad to ``length`` steps by repeating the last point (zero-length bins), normalise, append time.

    Returns:
        inputs ``(n, length, channels + 1)`` (the last channel is ``step / time_scale``), int labels, a
        ``(n, length)`` mask of observed steps and ``times`` in original steps (step ``k`` ends at ``k + 1``).
    """
    n, channels = len(observed), observed[0].values.shape[1]
    inputs = np.zeros((n, length, channels + 1), np.float32)
    times = np.zeros((n, length), np.float32)
    mask = np.zeros((n, length), np.float32)
    for i, obs in enumerate(observed):
        k = obs.steps.size
        pad = np.minimum(np.arange(length), k - 1)
        inputs[i, :, :channels] = (obs.values[pad] - mean) / std
        inputs[i, :, channels] = obs.steps[pad] / time_scale
        times[i] = obs.steps[pad] + 1.0  # step k ends at k + 1, as on a regular grid dt * (1..T)
        mask[i, :k] = 1.0
    return SequenceData(inputs, np.asarray(labels, np.int32), mask, times)


def stratified_split(
    labels: Int[np.ndarray, " batch"], fraction: float, seed: int
) -> tuple[Int[np.ndarray, " first"], Int[np.ndarray, " second"]]:
    """Indices ``(kept, held_out)`` with ``fraction`` of each class held out (scikit-learn, stratified)."""
    model_selection = optional_import("sklearn.model_selection")
    index = np.arange(len(labels))
    kept, held = model_selection.train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    return np.sort(kept), np.sort(held)


def irregular_classification(
    train: LabelledSeries, test: LabelledSeries, *, drop: float, seed: int = 0, val_fraction: float = 0.15
) -> dict[str, SequenceData]:
    """Train / validation / test sets with ``drop`` of each series' time points removed.

    The validation set is a stratified ``val_fraction`` of the training file; channel statistics come from the
    kept training points only. The time channel is divided by the longest series' last step.

    Returns:
        ``{"train", "val", "test"}`` :class:`SequenceData` (integer labels, masks, times).
    """
    rng = np.random.default_rng(seed)
    kept_train, kept_test = drop_points(train.series, drop, rng), drop_points(test.series, drop, rng)
    fit_index, val_index = stratified_split(train.labels, val_fraction, seed)
    fit_values = np.concatenate([kept_train[i].values for i in fit_index])
    mean, std = fit_values.mean(axis=0), fit_values.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    length = max(obs.steps.size for obs in kept_train + kept_test)
    time_scale = float(max(max(s.shape[0] for s in train.series), max(s.shape[0] for s in test.series)) - 1) or 1.0
    packed_train = pack(kept_train, train.labels, length, time_scale, mean, std)
    return {
        "train": packed_train.subset(fit_index),
        "val": packed_train.subset(val_index),
        "test": pack(kept_test, test.labels, length, time_scale, mean, std),
    }
