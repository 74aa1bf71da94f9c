"""Trials from an NWB file: spike counts of a units table (or a binned time series), aligned on a column of the
trials table, as ``trials x time x channels`` plus the trials table's columns as inputs or labels.

Read with ``pynwb`` (``pip install 'gnode[nwb]'``). The rules:

- **Window.** Each trial covers ``[t_align + window[0], t_align + window[1])`` with ``t_align`` the trial's value in
  the ``align`` column; without a window, each trial covers its own ``[start_time, stop_time)``, so trials of
  different durations are padded and masked (:func:`gnode.data.pad_trials`).
- **Bins.** ``bin_width`` seconds; a trial holds ``floor(duration / bin_width)`` whole bins. Spikes are counted in
  ``[edge_k, edge_k+1)``; a time series is averaged over the samples in each bin (a bin without samples is masked).
- **Smoothing** (optional): a causal Gaussian of standard deviation ``smooth`` seconds, truncated at 4 sd and
  normalised, so a bin depends on its past only; counts become rates (fit them with a Gaussian observation model).
- **Inputs.** Each named trials-table column becomes one input channel: a numeric column is held constant over the
  trial (a condition, a context); a column whose name ends in ``_time`` becomes a pulse of 1 in the bin holding
  that time (a cue, a go signal), nothing when the time is outside the window or NaN.
- **Labels.** A named column gives each trial an integer class (its values sorted, numbered from 0); the counts are
  then the inputs and the labels the targets (decoding).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gnode.data import SequenceData, pad_trials
from gnode.errors import DataError
from gnode.optional import optional_import


@dataclasses.dataclass(frozen=True)
class NWBTrials:
    """What :func:`read_nwb` returns.

    Attributes:
        data: the trials (targets: counts, rates or series values; or labels, with the counts as inputs), with the
            trials table's columns as their conditions.
        channels: the name of each recorded channel (unit ids, or the series' column numbers).
        inputs: the names of the input channels (trials-table columns), in order.
        classes: the value behind each label, where labels were asked for.
        columns: every trials-table column with one plain value per trial (numbers or strings).
    """

    data: SequenceData
    channels: list[str]
    inputs: list[str]
    classes: list[str]
    columns: dict[str, np.ndarray]


def read_nwb(
    path: str | os.PathLike,
    *,
    units: str = "units",
    series: str = "",
    align: str = "start_time",
    window: Sequence[float] = (),
    bin_width: float = 0.01,
    smooth: float = 0.0,
    inputs: Sequence[str] = (),
    labels: str = "",
) -> NWBTrials:
    """Trials of the NWB file ``path`` (see the module docstring for the rules).

    Arguments:
        units: the units table: ``units`` (the file's) or ``MODULE/TABLE`` in its processing modules.
        series: instead of units, a time series: ``NAME`` in the acquisition group or ``MODULE/NAME``.
        align: the trials-table column of each trial's alignment time.
        window: ``(start, stop)`` seconds around the alignment time; empty: each trial's own start and stop.
        bin_width, smooth: seconds.
        inputs: trials-table columns to give as input channels; labels: a column of class labels.

    Raises:
        DataError: one line naming the file and what is wrong (not NWB, no trials table, an unknown table, series or
            column, a window that holds no whole bin, ...).
    """
    pynwb = optional_import("pynwb", "nwb")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not (bin_width > 0 and smooth >= 0 and np.isfinite(bin_width) and np.isfinite(smooth)):
        raise DataError(f"{path}: need a positive bin width and smoothing >= 0, got {bin_width} and {smooth}")
    if len(window) not in (0, 2) or (len(window) == 2 and not window[1] - window[0] >= bin_width):
        raise DataError(f"{path}: window must be (start, stop) seconds holding one bin of {bin_width:g} s at least, "
                        f"got {tuple(window)}")  # fmt: skip
    try:
        io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
    except Exception as error:  # h5py, hdmf and pynwb raise many kinds for a foreign or broken file
        raise DataError(f"{path}: not a readable NWB file ({type(error).__name__})") from None
    with io:
        try:
            nwb = io.read()
        except Exception as error:
            raise DataError(f"{path}: not a readable NWB file ({type(error).__name__})") from None
        columns = _trial_columns(nwb, path)
        starts, stops = _windows(columns, align, window, path)
        if series:
            per_trial, channels, masks = _binned_series(_find(nwb, series, "acquisition", path), starts, stops,
                                                        bin_width, path)  # fmt: skip
        else:
            per_trial, channels = _counts(_units_table(nwb, units, path), starts, stops, bin_width, path)
            masks = None
    if smooth > 0:
        per_trial = [causal_smooth(x, smooth / bin_width) for x in per_trial]
    _check_inputs(columns, inputs, path)
    drive = trial_inputs(columns, inputs, starts, [len(x) for x in per_trial], bin_width)
    classes: list[str] = []
    if labels:
        if labels not in columns:
            raise DataError(f"{path}: no trials column {labels!r} for labels; columns: {sorted(columns)}")
        values = np.asarray(columns[labels])
        classes_found, codes = np.unique(values.astype(str) if values.dtype.kind not in "iub" else values,
                                         return_inverse=True)  # fmt: skip
        classes = [str(c) for c in classes_found]
        recorded = [np.concatenate([x, d], axis=1) for x, d in zip(per_trial, drive, strict=True)]
        data = pad_trials(recorded, codes.astype(np.int64), name=str(path))
        return NWBTrials(dataclasses.replace(data, conditions=columns), channels, channels + list(inputs), classes,
                         columns)  # fmt: skip
    data = pad_trials(drive, per_trial, mask=masks, name=str(path))
    return NWBTrials(dataclasses.replace(data, conditions=columns), channels, list(inputs), classes, columns)


def causal_smooth(values: np.ndarray, sd_bins: float) -> np.ndarray:
    """``values`` ``(time, channels)`` convolved along time with a causal Gaussian of ``sd_bins`` bins (truncated at
    4 sd, normalised to sum 1): bin ``t`` is a weighted mean of bins ``t, t-1, ...``."""
    lags = np.arange(int(np.ceil(4 * sd_bins)) + 1)
    kernel = np.exp(-0.5 * (lags / sd_bins) ** 2)
    kernel /= kernel.sum()
    out = np.zeros_like(values, dtype=np.float64)
    for lag, weight in zip(lags, kernel, strict=True):
        if lag < len(values):  # a series shorter than the kernel
            out[lag:] += weight * values[: len(values) - lag]
    return out.astype(np.float32)


def _trial_columns(nwb, path: Path) -> dict[str, np.ndarray]:
    trials = nwb.trials
    if trials is None or len(trials) == 0:
        raise DataError(f"{path}: has no trials table (or it is empty); gnode aligns on trials")
    columns = {}
    for name in dict.fromkeys((*trials.colnames, "start_time", "stop_time")):
        try:
            values = np.asarray(trials[name].data[:])
        except (KeyError, TypeError, ValueError):
            continue
        if values.ndim == 1:
            columns[name] = values
    return columns


def _windows(columns: dict[str, np.ndarray], align: str, window: Sequence[float], path: Path):
    if align not in columns:
        raise DataError(f"{path}: no trials column {align!r} to align on; columns: {sorted(columns)}")
    at = columns[align]
    if at.dtype.kind not in "iuf" or not np.isfinite(at.astype(float)).all():
        raise DataError(f"{path}: the align column {align!r} must hold finite times")
    at = at.astype(np.float64)
    if window:
        return at + window[0], at + window[1]
    if align != "start_time":
        raise DataError(f"{path}: aligning on {align!r} needs a window (start, stop) around it")
    return columns["start_time"].astype(np.float64), columns["stop_time"].astype(np.float64)


def _edges(start: float, stop: float, bin_width: float, trial: int, path: Path) -> np.ndarray:
    bins = int(np.floor((stop - start) / bin_width + 1e-9))
    if bins < 1:
        raise DataError(f"{path}: trial {trial} lasts {stop - start:g} s, less than one bin of {bin_width:g} s")
    return start + bin_width * np.arange(bins + 1)


def _find(nwb, name: str, group: str, path: Path):
    """``name`` in the file's ``group`` (``acquisition``), or ``MODULE/NAME`` in its processing modules."""
    try:
        if "/" in name:
            module, item = name.split("/", 1)
            return nwb.processing[module][item]
        return getattr(nwb, group)[name]
    except (KeyError, TypeError):
        available = sorted(getattr(nwb, group)) + [
            f"{m}/{k}" for m in nwb.processing for k in nwb.processing[m].data_interfaces
        ]
        raise DataError(f"{path}: no {name!r}; the file holds {available}") from None


def _units_table(nwb, name: str, path: Path):
    table = nwb.units if name == "units" else _find(nwb, name, "acquisition", path)
    if table is None or "spike_times" not in getattr(table, "colnames", ()):
        raise DataError(f"{path}: {name!r} is not a units table with spike times")
    if len(table) == 0:
        raise DataError(f"{path}: the units table {name!r} has no units")
    return table


def _counts(table, starts, stops, bin_width: float, path: Path) -> tuple[list[np.ndarray], list[str]]:
    """Spike counts per trial, ``(bins, units)``, in ``[edge_k, edge_k+1)``."""
    spikes = [np.sort(np.asarray(table["spike_times"][i], np.float64)) for i in range(len(table))]
    ids = [str(i) for i in table.id.data[:]]
    per_trial = []
    for trial, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        edges = _edges(start, stop, bin_width, trial, path)
        per_trial.append(
            np.stack([np.diff(np.searchsorted(s, edges, side="left")) for s in spikes], axis=1).astype(np.float32)
        )
    return per_trial, ids


def _binned_series(series, starts, stops, bin_width: float, path: Path):
    """A time series averaged in each bin, ``(bins, channels)``, with a mask of the bins that hold samples."""
    values = np.asarray(series.data[:], np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.dtype.kind not in "iuf":
        raise DataError(f"{path}: the series {series.name!r} must be (time, channels) numbers, got {values.shape}")
    times = np.asarray(series.timestamps[:], np.float64) if series.timestamps is not None else (
        series.starting_time + np.arange(len(values)) / series.rate)  # fmt: skip
    per_trial, masks = [], []
    for trial, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        edges = _edges(start, stop, bin_width, trial, path)
        index = np.searchsorted(edges, times, side="right") - 1  # the bin of each sample (-1 / len: outside)
        inside = (index >= 0) & (index < len(edges) - 1)
        sums = np.zeros((len(edges) - 1, values.shape[1]))
        np.add.at(sums, index[inside], values[inside])
        count = np.bincount(index[inside], minlength=len(edges) - 1)
        per_trial.append((sums / np.maximum(count, 1)[:, None]).astype(np.float32))
        masks.append((count > 0).astype(np.float32))
    return per_trial, [str(k) for k in range(values.shape[1])], masks


def _check_inputs(columns: dict[str, np.ndarray], names: Sequence[str], path: Path) -> None:
    for name in names:
        if name not in columns:
            raise DataError(f"{path}: no trials column {name!r} for an input; columns: {sorted(columns)}")
        if columns[name].dtype.kind not in "iufb":
            raise DataError(f"{path}: the input column {name!r} must hold numbers, got {columns[name].dtype}")


def trial_inputs(
    columns: dict[str, np.ndarray], names: Sequence[str], starts: np.ndarray, bins: Sequence[int], bin_width: float
) -> list[np.ndarray]:
    """Input channels of every trial from trials-table ``columns`` (see the module docstring): per trial
    ``(bins, len(names))``."""
    out = []
    for trial, (start, count) in enumerate(zip(starts, bins, strict=True)):
        drive = np.zeros((count, len(names)), np.float32)
        for k, name in enumerate(names):
            value = float(columns[name][trial])
            if name.endswith("_time"):
                step = int(np.floor((value - start) / bin_width)) if np.isfinite(value) else -1
                if 0 <= step < count:
                    drive[step, k] = 1.0
            else:
                drive[:, k] = value
        out.append(drive)
    return out
