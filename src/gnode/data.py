"""The arrays every task and loader returns, checked once at the boundary."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
from jax.typing import ArrayLike

from gnode.errors import DataError
from gnode.files import load_arrays

SEQUENCE_ARRAYS = ("inputs", "targets", "mask", "times", "rates")  # the arrays of SequenceData


@dataclasses.dataclass(frozen=True)
class AbstractData:
    """What every data set is: ``inputs`` and ``targets`` (float, or ``(samples,)`` integer class labels) with one
    row per sample, and the arrays beside them (None where absent)."""

    inputs: np.ndarray
    targets: np.ndarray

    @property
    def num_samples(self) -> int:
        return self.inputs.shape[0]

    @property
    def is_classification(self) -> bool:
        return self.targets.ndim == 1

    def subset(self, index: ArrayLike | slice) -> AbstractData:
        """The samples ``index`` picks (an index array, a mask or a slice), of every array (and of every column of
        a table of arrays)."""
        pick = lambda a: {k: v[index] for k, v in a.items()} if isinstance(a, dict) else a[index]  # noqa: E731
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **{k: None if a is None else pick(a) for k, a in arrays.items()})


@dataclasses.dataclass(frozen=True)
class SequenceData(AbstractData):
    """A set of sequences.

    Attributes:
        inputs: ``(samples, time, inp)`` float.
        targets: ``(samples, time, out)`` float for regression, or ``(samples,)`` int class labels.
        mask: ``(samples, time, out)`` or ``(samples, time)``, 1 where a target is observed; ``None``: all.
        times: ``(samples, time)`` observation times (non-decreasing); ``None``: the model's regular grid.
        rates: ``(samples, time, out)`` the true rates behind count targets, where known (used only to score a fit).
        conditions: named ``(samples,)`` arrays describing each trial (a neurogym trial's context, an NWB trials
            table's columns), for analysis by condition; never trained on.
    """

    mask: np.ndarray | None = None
    times: np.ndarray | None = None
    rates: np.ndarray | None = None
    conditions: dict[str, np.ndarray] | None = None


@dataclasses.dataclass(frozen=True)
class ArrayData(AbstractData):
    """Samples that are single arrays: ``inputs`` ``(samples, *in_shape)`` float, ``targets``
    ``(samples, *out_shape)`` float or ``(samples,)`` int class labels (a model ``x -> y``)."""


def validate(data: SequenceData, name: str = "data") -> SequenceData:
    """Check shapes, dtypes and values; return float32 arrays with unobserved NaNs zeroed.

    Raises:
        DataError: with a one-line message naming ``name``.
    """
    for key in SEQUENCE_ARRAYS:
        value = getattr(data, key)
        if value is not None and np.asarray(value).dtype.kind not in "biuf":
            raise DataError(f"{name}: {key} must hold real numbers, got dtype {np.asarray(value).dtype}")
    x = np.asarray(data.inputs)
    y = np.asarray(data.targets)
    if x.ndim != 3:
        raise DataError(f"{name}: inputs must have shape (samples, time, channels), got {x.shape}")
    s, t, _ = x.shape
    if s == 0 or t == 0:
        raise DataError(f"{name}: empty inputs of shape {x.shape}")
    if y.shape[0] != s:
        raise DataError(f"{name}: {s} input samples but {y.shape[0]} targets")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
            raise DataError(f"{name}: class labels must be non-negative integers")
    elif y.ndim != 3 or y.shape[1] != t:
        raise DataError(f"{name}: targets must have shape ({s}, {t}, out) or ({s},), got {y.shape}")
    mask = None
    if data.mask is not None:
        mask = np.asarray(data.mask, dtype=np.float32)
        allowed = {(s, t)} | ({(s, t, y.shape[2])} if y.ndim == 3 else set())
        if mask.shape not in allowed:
            raise DataError(f"{name}: mask shape {mask.shape} does not match targets {y.shape}")
        if not (np.isfinite(mask).all() and (mask >= 0).all()):
            raise DataError(f"{name}: mask values must be finite and non-negative (1 observed, 0 not)")
    if not np.isfinite(x).all():
        raise DataError(f"{name}: inputs contain NaN or inf (impute them or drop those samples)")
    if y.ndim == 3:
        observed = (
            np.ones(y.shape, bool)
            if mask is None
            else np.broadcast_to((mask if mask.ndim == 3 else mask[..., None]) > 0, y.shape)
        )
        if not np.isfinite(y[observed]).all():
            raise DataError(f"{name}: targets contain NaN or inf where no mask marks them unobserved")
        y = np.where(observed, y, 0.0).astype(np.float32)
    times = None
    if data.times is not None:
        times = np.asarray(data.times, dtype=np.float32)
        if times.shape != (s, t):
            raise DataError(f"{name}: times must have shape ({s}, {t}), got {times.shape}")
        if not np.isfinite(times).all() or (np.diff(times, axis=1) < 0).any():
            raise DataError(f"{name}: times must be finite and non-decreasing along each sequence")
    rates = None
    if data.rates is not None:
        rates = np.asarray(data.rates, dtype=np.float32)
        if y.ndim != 3 or rates.shape != y.shape:
            raise DataError(f"{name}: rates must have the shape of the targets {y.shape}, got {rates.shape}")
        if not np.isfinite(rates).all() or (rates < 0).any():
            raise DataError(f"{name}: rates must be finite and non-negative")
    conditions = None
    if data.conditions is not None:
        conditions = {str(k): np.asarray(v) for k, v in data.conditions.items()}
        wrong = [k for k, v in conditions.items() if v.shape != (s,)]
        if wrong:
            raise DataError(f"{name}: conditions {wrong} must hold one value per trial ({s},)")
    return SequenceData(x.astype(np.float32), y, mask, times, rates, conditions)


FILE_ARRAYS = ("inputs", "targets", "labels", "mask", "times", "rates", "lengths")  # the keys a sequences file may hold
TIME_ARRAYS = ("inputs", "targets", "mask", "times", "rates")  # per step: concatenated over trials when ragged


def pad_trials(
    inputs: Sequence[ArrayLike] | None,
    targets: Sequence[ArrayLike] | ArrayLike,
    *,
    mask: Sequence[ArrayLike] | None = None,
    times: Sequence[ArrayLike] | None = None,
    rates: Sequence[ArrayLike] | None = None,
    name: str = "data",
) -> SequenceData:
    """Trials of different lengths, padded to the longest and masked.

    Arguments:
        inputs: one ``(time_i, inp)`` array per trial, or None for autonomous data (no inputs).
        targets: one ``(time_i, out)`` array per trial, or ``(trials,)`` integer class labels.
        mask, times, rates: optional, one array per trial, shaped as :class:`SequenceData` describes them.
        name: what error messages call the data.

    Returns:
        :class:`SequenceData` (checked by :func:`validate`): inputs and targets padded with zeros, the mask zero
        after each trial's end, times continued with the last time (padded steps take no integration time).

    Raises:
        DataError: trials that disagree in number, length or channels (one line naming ``name`` and the key).
    """
    labels = not _is_trial_list(targets)
    per_step = {"inputs": inputs, "targets": None if labels else targets, "mask": mask, "times": times, "rates": rates}
    per_step = {k: [np.asarray(a) for a in v] for k, v in per_step.items() if v is not None}
    trials = len(targets)
    if trials == 0:
        raise DataError(f"{name}: no trials")
    lengths = None
    for key, arrays in per_step.items():
        if len(arrays) != trials:
            raise DataError(f"{name}: {key} has {len(arrays)} trials, targets {trials}")
        if any(a.ndim == 0 for a in arrays):
            raise DataError(f"{name}: {key}: each trial must be an array with time on axis 0")
        found = [a.shape[0] for a in arrays]
        if lengths is None:
            lengths = found
        elif found != lengths:
            first = next(i for i, (a, b) in enumerate(zip(found, lengths, strict=True)) if a != b)
            raise DataError(f"{name}: {key} of trial {first} has {found[first]} steps, not {lengths[first]}")
        if len({a.shape[1:] for a in arrays}) > 1:
            raise DataError(f"{name}: {key}: trials differ in their channels ({arrays[0].shape[1:]} and others)")
    if lengths is None:
        raise DataError(f"{name}: class labels need inputs, to know each trial's length")
    if min(lengths) == 0:
        raise DataError(f"{name}: trial {lengths.index(0)} has no steps")
    longest = max(lengths)
    padded = {}
    for key, arrays in per_step.items():
        pad = "edge" if key == "times" else "constant"
        padded[key] = np.stack([np.pad(a, [(0, longest - len(a))] + [(0, 0)] * (a.ndim - 1), mode=pad) for a in arrays])
    observed = (np.arange(longest)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    if "mask" in padded:
        m = padded["mask"]
        padded["mask"] = m * (observed if m.ndim == 2 else observed[..., None])
    elif longest != min(lengths):
        padded["mask"] = observed
    if "inputs" not in padded:
        padded["inputs"] = np.zeros((trials, longest, 0), np.float32)
    if labels:
        padded["targets"] = np.asarray(targets)
    return validate(SequenceData(**padded), name)


def _is_trial_list(values) -> bool:
    return isinstance(values, list | tuple) and all(np.ndim(v) >= 1 for v in values)


def load_sequences(path: str | os.PathLike) -> SequenceData:
    """Sequences from an ``.npz`` file; nothing in the file is ever run (no pickle).

    The file holds ``targets`` ``(trials, time, out)`` or ``labels`` ``(trials,)`` integers, and optionally
    ``inputs`` ``(trials, time, inp)`` (absent: autonomous data, no input channels), ``mask``, ``times`` and
    ``rates`` (the true rates behind spike counts, where known, for scoring) as :class:`SequenceData` describes
    them. Trials of different lengths: add ``lengths`` ``(trials,)`` and concatenate every per-step array over
    trials along axis 0 (``(sum(lengths), ...)``); they are padded and masked (:func:`pad_trials`).

    Raises:
        DataError: a missing or unreadable file, missing or unknown keys, or arrays of the wrong shape or values (one
            line, naming the file and the key).
    """
    arrays = load_arrays(path)
    unknown = sorted(set(arrays) - set(FILE_ARRAYS))
    if unknown:
        raise DataError(f"{path}: unknown arrays {unknown}; a sequences file holds {list(FILE_ARRAYS)}")
    if ("targets" in arrays) == ("labels" in arrays):
        raise DataError(f"{path}: needs exactly one of 'targets' (trials, time, out) or 'labels' (trials,)")
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise DataError(f"{path}: {key} must hold real numbers, got dtype {value.dtype}")
    if "labels" in arrays and (arrays["labels"].ndim != 1 or arrays["labels"].dtype.kind not in "iu"):
        raise DataError(f"{path}: labels must be integers of shape (trials,), got {arrays['labels'].dtype} "
                        f"{arrays['labels'].shape}")  # fmt: skip
    if "lengths" in arrays:
        return _split_ragged(arrays, str(path))
    targets = arrays.pop("labels") if "labels" in arrays else arrays["targets"]
    arrays["targets"] = targets
    if "inputs" not in arrays:
        steps = targets.shape[1] if targets.ndim == 3 else None
        if steps is None:
            raise DataError(f"{path}: labels need inputs (trials, time, inp), to know the trials' lengths")
        arrays["inputs"] = np.zeros((targets.shape[0], steps, 0), np.float32)
    return validate(SequenceData(**arrays), str(path))


def _split_ragged(arrays: dict[str, np.ndarray], name: str) -> SequenceData:
    """The trials of a ragged file (per-step arrays concatenated along axis 0, ``lengths`` per trial), padded."""
    lengths = arrays.pop("lengths")
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu" or len(lengths) == 0 or (lengths <= 0).any():
        raise DataError(f"{name}: lengths must be positive integers of shape (trials,), got {lengths.dtype} "
                        f"{lengths.shape}")  # fmt: skip
    total = int(lengths.sum())
    edges = np.cumsum(lengths)[:-1]
    trials = {}
    for key in TIME_ARRAYS:
        if key in arrays:
            if arrays[key].ndim == 0 or arrays[key].shape[0] != total:
                raise DataError(f"{name}: {key} must be concatenated over trials along axis 0, with sum(lengths) = "
                                f"{total} rows; got shape {arrays[key].shape}")  # fmt: skip
            trials[key] = np.split(arrays[key], edges)
    if "labels" in arrays:
        if len(arrays["labels"]) != len(lengths):
            raise DataError(f"{name}: labels has {len(arrays['labels'])} trials, lengths {len(lengths)}")
        if "inputs" not in trials:
            raise DataError(f"{name}: labels need inputs")
        trials["targets"] = arrays["labels"]
    return pad_trials(trials.pop("inputs", None), trials.pop("targets"), name=name, **trials)


def split_trials(
    data: SequenceData, val_fraction: float, test_fraction: float = 0.0, seed: int = 0
) -> tuple[SequenceData, SequenceData | None, SequenceData | None]:
    """Training, validation and test trials: a random partition by ``seed``, with ``round(fraction * trials)``
    trials in each held-out part (None where the fraction is 0).

    Raises:
        DataError: fractions outside [0, 1), or fewer than one training trial left (or one per non-empty part).
    """
    n = data.num_samples
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"validation and test fractions must be in [0, 1) with a sum below 1, got {val_fraction} "
                        f"and {test_fraction}")  # fmt: skip
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if (val_fraction > 0 and n_val == 0) or (test_fraction > 0 and n_test == 0) or n - n_val - n_test < 1:
        raise DataError(f"{n} trials cannot be split into {val_fraction:g} validation and {test_fraction:g} test "
                        "with trials left in each part")  # fmt: skip
    order = np.random.default_rng(seed).permutation(n)
    val, test, train = np.split(order, [n_val, n_val + n_test])
    part = lambda index: data.subset(np.sort(index)) if len(index) else None  # noqa: E731
    return data.subset(np.sort(train)), part(val), part(test)


def to_grid(data: SequenceData, step: float) -> SequenceData:
    """Put sequences whose ``times`` are multiples of ``step`` on the regular grid ``step * (1..T')``.

    Each input is held over the grid steps of its bin (zero-order hold: bin ``k`` spans ``(t_{k-1}, t_k]``),
    targets and mask sit at the observation times, and the mask is zero elsewhere. A fixed-step integrator
    with ``dt = step`` then takes one step per grid point, so a gap of ``g`` steps costs ``g`` steps instead
    of the longest gap's worth of substeps in every bin. Padded steps (repeated times) vanish.

    Raises:
        DataError: times missing, or not positive multiples of ``step``.
    """
    if data.times is None:
        raise DataError("to_grid needs observation times")
    ticks = data.times / step
    grid = np.rint(ticks).astype(np.int64)
    if np.abs(ticks - grid).max() > 1e-4 or (grid < 1).any():
        raise DataError(f"observation times must be positive multiples of {step}")
    n, t = grid.shape
    length = int(grid.max())
    mask = np.ones((n, t), np.float32) if data.mask is None else np.asarray(data.mask, np.float32)
    observed = mask if mask.ndim == 2 else mask.max(axis=-1)
    inputs = np.zeros((n, length, data.inputs.shape[-1]), np.float32)
    new_mask = np.zeros((n, length, *mask.shape[2:]), np.float32)
    targets = data.targets if data.is_classification else np.zeros((n, length, data.targets.shape[-1]), np.float32)
    for i in range(n):
        bin_of_step = np.minimum(np.searchsorted(grid[i], np.arange(1, length + 1), side="left"), t - 1)
        inputs[i] = data.inputs[i, bin_of_step]  # after the last bin: hold the last input
        keep = np.flatnonzero(observed[i] > 0)
        new_mask[i, grid[i, keep] - 1] = mask[i, keep]
        if not data.is_classification:
            targets[i, grid[i, keep] - 1] = data.targets[i, keep]
    return SequenceData(inputs, targets, new_mask, None, conditions=data.conditions)
