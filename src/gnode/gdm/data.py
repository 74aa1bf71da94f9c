"""Observed sequences at the boundary, checked once: one ``(time, N)`` array, or many trials of different lengths
(padded at the end, with their lengths), with optional inputs and known states.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxtyping import Float, Int

from gnode.data import SequenceData, pad_trials
from gnode.errors import ConfigError, DataError
from gnode.files import load_arrays


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


@dataclasses.dataclass(frozen=True)
class SwitchingData:
    """Trials for a switching model, padded with zeros to the longest.

    Attributes:
        observations: ``(trials, time, N)``.
        inputs: ``(trials, time, U)`` (U = 0: none).
        lengths: ``(trials,)``, each at least 2; steps from a trial's length on are padding.
        states: ``(trials, time)`` known state labels (−1 on padding), where known (used only to score a fit).
    """

    observations: Float[np.ndarray, "trials time obs"]
    inputs: Float[np.ndarray, "trials time inp"]
    lengths: Int[np.ndarray, " trials"]
    states: Int[np.ndarray, "trials time"] | None = None

    @property
    def num_trials(self) -> int:
        return self.observations.shape[0]

    @property
    def mask(self) -> np.ndarray:
        """``(trials, time)``, True on each trial's real steps."""
        return np.arange(self.observations.shape[1])[None, :] < self.lengths[:, None]

    def subset(self, index) -> SwitchingData:
        """The trials ``index`` picks, padded to their own longest."""
        lengths = self.lengths[index]
        steps = int(lengths.max())
        pick = lambda a: None if a is None else a[index, :steps]  # noqa: E731
        return SwitchingData(pick(self.observations), pick(self.inputs), lengths, pick(self.states))

    def trial(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Trial ``i`` without its padding: ``(observations, inputs)``."""
        return self.observations[i, : self.lengths[i]], self.inputs[i, : self.lengths[i]]

    def check_model(self, observations: int, inputs: int, name: str = "data") -> SwitchingData:
        """These trials against a model's sizes; else a one-line DataError."""
        if self.observations.shape[2] != observations:
            raise DataError(f"{name}: {self.observations.shape[2]} observed dimensions, the model has {observations}")
        if self.inputs.shape[2] != inputs:
            raise DataError(f"{name}: {self.inputs.shape[2]} input channels, the model has {inputs}")
        return self


def _per_trial(values: Any, name: str, key: str) -> list[np.ndarray] | np.ndarray:
    if isinstance(values, list | tuple):
        if not values:
            raise DataError(f"{name}: {key} holds no trials")
        return [np.asarray(v) for v in values]
    return np.asarray(values)


def switching_data(
    observations: Any,
    inputs: Any = None,
    *,
    mask: Any = None,
    states: Any = None,
    name: str = "data",
) -> SwitchingData:
    """Check and pad trials for a switching model.

    Arguments:
        observations: one ``(time, N)`` array (one trial), a ``(trials, time, N)`` array, or a list of ``(time_i, N)``
            arrays of different lengths.
        inputs: the same layout with U channels (None: no inputs).
        mask: with a ``(trials, time)`` (or ``(time,)``) array: 1 on each trial's real steps, which must come first
            (padding at the end; the padded entries may hold NaN). Steps missing inside a trial are not supported.
        states: known integer state labels ``(trials, time)`` or a list of ``(time_i,)`` arrays (scoring only).
        name: what error messages call the data.
    Returns:
        :class:`SwitchingData`.
    Raises:
        DataError: one line naming ``name`` and what is wrong.
    """
    obs = _per_trial(observations, name, "observations")
    if isinstance(obs, np.ndarray):
        if obs.ndim == 2:
            obs = obs[None]
            inputs = None if inputs is None else np.asarray(inputs)[None]
            states = None if states is None else np.asarray(states)[None]
            mask = None if mask is None else np.asarray(mask)[None]
        if obs.ndim != 3:
            raise DataError(f"{name}: observations must be (time, N), (trials, time, N) or a list of (time, N) "
                            f"arrays, got shape {obs.shape}")  # fmt: skip
        lengths = np.full(obs.shape[0], obs.shape[1])
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != obs.shape[:2]:
                raise DataError(f"{name}: mask must have shape (trials, time) = {obs.shape[:2]}, got {mask.shape}")
            real = mask > 0
            lengths = real.sum(1)
            if (real != (np.arange(obs.shape[1])[None, :] < lengths[:, None])).any():
                bad = int(np.argmax((real != (np.arange(obs.shape[1])[None, :] < lengths[:, None])).any(1)))
                raise DataError(f"{name}: the mask of trial {bad} has a gap; a switching model needs each trial's "
                                "observed steps first and padding only at the end")  # fmt: skip
        obs = [o[:n] for o, n in zip(obs, lengths, strict=True)]
        inputs = None if inputs is None else [u[:n] for u, n in zip(_shaped(inputs, len(obs), name, "inputs"),
                                                                     lengths, strict=True)]  # fmt: skip
        states = None if states is None else [s[:n] for s, n in zip(_shaped(states, len(obs), name, "states"),
                                                                     lengths, strict=True)]  # fmt: skip
    elif mask is not None:
        raise DataError(f"{name}: trials given as a list carry their own lengths; leave out the mask")
    if any(o.ndim != 2 for o in obs):
        raise DataError(f"{name}: each trial's observations must be (time, N)")
    short = [i for i, o in enumerate(obs) if o.shape[0] < 2]
    if short:
        raise DataError(
            f"{name}: trial {short[0]} has {obs[short[0]].shape[0]} steps; a switching model needs 2 at least"
        )
    if inputs is not None:
        inputs = _per_trial(inputs, name, "inputs")
        if len(inputs) != len(obs) or any(
            u.ndim != 2 or u.shape[0] != o.shape[0] for u, o in zip(inputs, obs, strict=False)
        ):
            raise DataError(f"{name}: inputs must hold one (time, U) array per trial, as long as its observations")
    try:
        padded = pad_trials(inputs, obs, name=name)
    except DataError as error:
        raise DataError(str(error).replace("targets", "observations")) from None
    lengths = np.asarray([o.shape[0] for o in obs], np.int32)
    labels = None
    if states is not None:
        states = _per_trial(states, name, "states")
        if len(states) != len(obs) or any(np.shape(s) != (o.shape[0],) for s, o in zip(states, obs, strict=False)):
            raise DataError(f"{name}: states must hold one (time,) array of labels per trial, as long as its trial")
        if any(np.asarray(s).dtype.kind not in "iu" or (np.asarray(s) < 0).any() for s in states):
            raise DataError(f"{name}: states must be non-negative integer labels")
        labels = np.full(padded.targets.shape[:2], -1, np.int64)
        for i, s in enumerate(states):
            labels[i, : len(s)] = s
    return SwitchingData(padded.targets, padded.inputs, lengths, labels)


def _shaped(values: Any, trials: int, name: str, key: str) -> Sequence[np.ndarray] | np.ndarray:
    values = _per_trial(values, name, key)
    if len(values) != trials:
        raise DataError(f"{name}: {key} has {len(values)} trials, observations {trials}")
    return values


def from_sequences(data: SequenceData, name: str = "data") -> SwitchingData:
    """Trials from a :class:`~gnode.data.SequenceData` (an NWB file's, say): its targets are the observations, its
    mask gives the lengths."""
    if data.is_classification:
        raise DataError(f"{name}: a switching model needs per-step observations, not class labels")
    mask = None if data.mask is None else (data.mask if data.mask.ndim == 2 else data.mask.max(-1))
    return switching_data(data.targets, data.inputs, mask=mask, name=name)


SWITCHING_ARRAYS = ("observations", "inputs", "mask", "lengths", "states")  # the keys a switching-data file holds


def load_switching(path: str | os.PathLike) -> SwitchingData:
    """Trials from an ``.npz`` file (no pickle): ``observations`` ``(time, N)`` or ``(trials, time, N)``, optional
    ``inputs`` (same layout), ``mask`` ``(trials, time)`` (real steps first) and known ``states`` (labels, for
    scoring). Trials of different lengths: ``lengths`` ``(trials,)`` with every per-step array concatenated over
    trials along axis 0, as in :func:`gnode.load_sequences`.

    Raises:
        DataError: one line naming the file and the key.
    """
    arrays = load_arrays(path)
    name = str(path)
    unknown = sorted(set(arrays) - set(SWITCHING_ARRAYS))
    if unknown:
        raise DataError(f"{name}: unknown arrays {unknown}; a switching-data file holds {list(SWITCHING_ARRAYS)}")
    if "observations" not in arrays:
        raise DataError(f"{name}: no 'observations' array (trials, time, N)")
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise DataError(f"{name}: {key} must hold real numbers, got dtype {value.dtype}")
    if "lengths" in arrays:
        lengths = arrays.pop("lengths")
        if lengths.ndim != 1 or lengths.dtype.kind not in "iu" or len(lengths) == 0 or (lengths <= 0).any():
            raise DataError(f"{name}: lengths must be positive integers of shape (trials,), got {lengths.dtype} "
                            f"{lengths.shape}")  # fmt: skip
        if "mask" in arrays:
            raise DataError(f"{name}: give either lengths (ragged trials) or a mask (padded trials), not both")
        for key, value in arrays.items():
            if value.ndim == 0 or value.shape[0] != lengths.sum():
                raise DataError(f"{name}: {key} must be concatenated over trials along axis 0, with sum(lengths) = "
                                f"{int(lengths.sum())} rows; got shape {value.shape}")  # fmt: skip
        arrays = {k: np.split(v, np.cumsum(lengths)[:-1]) for k, v in arrays.items()}
    return switching_data(arrays["observations"], arrays.get("inputs"), mask=arrays.get("mask"),
                          states=arrays.get("states"), name=name)  # fmt: skip


def read_switching(
    path: str | os.PathLike,
    *,
    bin_width: float = 0.01,
    align: str = "start_time",
    window: Sequence[float] = (),
    smooth: float = 0.0,
    units: str = "units",
    series: str = "",
    inputs: Sequence[str] = (),
) -> SwitchingData:
    """Trials from a file: an ``.nwb`` recording (spike counts per ``bin_width`` or a time series, one trial per
    row of its trials table; :func:`gnode.datasets.nwb.read_nwb` documents the settings), else an ``.npz``
    (:func:`load_switching`)."""
    if not str(path).endswith(".nwb"):
        return load_switching(path)
    from gnode.datasets.nwb import read_nwb

    read = read_nwb(path, units=units, series=series, align=align, window=window, bin_width=bin_width,
                    smooth=smooth, inputs=inputs)  # fmt: skip
    return from_sequences(read.data, str(path))
