"""The arrays every task and loader returns, checked once at the boundary."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from jax.typing import ArrayLike

from gnode.errors import DataError
from gnode.files import load_arrays

SEQUENCE_ARRAYS = ("inputs", "targets", "mask", "times")  # the arrays of a sequences file; the first two required


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
        """The samples ``index`` picks (an index array, a mask or a slice), of every array."""
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **{k: None if a is None else a[index] for k, a in arrays.items()})


@dataclasses.dataclass(frozen=True)
class SequenceData(AbstractData):
    """A set of sequences.

    Attributes:
        inputs: ``(samples, time, inp)`` float.
        targets: ``(samples, time, out)`` float for regression, or ``(samples,)`` int class labels.
        mask: ``(samples, time, out)`` or ``(samples, time)``, 1 where a target is observed; ``None``: all.
        times: ``(samples, time)`` observation times (non-decreasing); ``None``: the model's regular grid.
    """

    mask: np.ndarray | None = None
    times: np.ndarray | None = None


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
    return SequenceData(x.astype(np.float32), y, mask, times)


def read_sequences(path: str | os.PathLike) -> SequenceData:
    """Sequences from an ``.npz`` file: arrays ``inputs`` and ``targets``, optionally ``mask`` and ``times``, as
    :class:`SequenceData` describes them; checked by :func:`validate`. Nothing in the file is ever run (no pickle).

    Raises:
        DataError: a missing or unreadable file, missing or unknown arrays, or arrays that :func:`validate` refuses
            (one line, naming the file).
    """
    arrays = load_arrays(path)
    missing = [k for k in SEQUENCE_ARRAYS[:2] if k not in arrays]
    unknown = sorted(set(arrays) - set(SEQUENCE_ARRAYS))
    if missing or unknown:
        raise DataError(f"{path}: needs arrays {list(SEQUENCE_ARRAYS[:2])} (and optionally mask, times); "
                        f"missing {missing}, unknown {unknown}")  # fmt: skip
    return validate(SequenceData(**arrays), str(path))


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
    return SequenceData(inputs, targets, new_mask, None)
