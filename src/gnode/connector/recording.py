"""Recorded rates as a low-rank RNN's data, checked once at the boundary.

A tanh network's rates lie in (−1, 1), recorded rates in [0, ∞): each neuron's rates are mapped linearly onto
``[−limit, limit]`` (its minimum to −limit, its maximum to +limit; :class:`RateScale`, kept with a fit so that new
trials are mapped the same way). How the authors mapped their rat recordings is NOT FOUND (docs/choices.md); the
linear per-neuron map keeps each neuron's tuning and the network's potentials ``arctanh(r)`` finite. Spike counts are
first smoothed as in the authors' preprocessing (a causal Gaussian of σ = 0.1 s over 10 ms bins) and divided by the
bin width.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
from jaxtyping import Float

from gnode.datasets.nwb import causal_smooth
from gnode.errors import ConfigError, DataError
from gnode.files import load_arrays


@dataclasses.dataclass(frozen=True)
class RateScale:
    """``r̃ = offset + gain · r`` per neuron: a low and a high quantile of its rates onto ``[−limit, limit]`` (a neuron
    that never changes maps to 0).

    Attributes:
        offset, gain: ``(neurons,)``.
    """

    offset: Float[np.ndarray, " neurons"]
    gain: Float[np.ndarray, " neurons"]

    @classmethod
    def fit(
        cls, rates: Float[np.ndarray, "trials time neurons"], limit: float = 0.9, quantile: float = 0.01
    ) -> RateScale:
        """The map that sends each neuron's ``quantile`` of ``rates`` to −limit and its ``1 − quantile`` to +limit
        (0: its smallest and largest rates; a few extreme bins of noisy rates should not set the scale)."""
        if not 0 < limit < 1:
            raise ConfigError(f"the rate limit must lie in (0, 1) (tanh's range), got {limit}")
        if not 0 <= quantile < 0.5:
            raise ConfigError(f"the rate quantile must lie in [0, 0.5), got {quantile}")
        flat = rates.reshape(-1, rates.shape[-1])
        low, high = np.quantile(flat, quantile, axis=0), np.quantile(flat, 1 - quantile, axis=0)
        spread = high - low
        flat = spread <= 0
        gain = np.where(flat, 0.0, 2 * limit / np.where(flat, 1.0, spread))
        offset = np.where(flat, 0.0, -limit - gain * low)
        return cls(offset.astype(np.float32), gain.astype(np.float32))

    def __call__(self, rates: Float[np.ndarray, "... neurons"]) -> Float[np.ndarray, "... neurons"]:
        return (self.offset + self.gain * rates).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Recording:
    """Trials of recorded rates (in the units given) and optional external inputs.

    Attributes:
        rates: ``(trials, time, neurons)``, finite.
        inputs: ``(trials, time, inp)`` or None; step t's input drives the step from t to t + 1.
    """

    rates: Float[np.ndarray, "trials time neurons"]
    inputs: Float[np.ndarray, "trials time inp"] | None = None

    @property
    def num_trials(self) -> int:
        return self.rates.shape[0]

    @property
    def num_inputs(self) -> int:
        return 0 if self.inputs is None else self.inputs.shape[2]

    def subset(self, index: Any) -> Recording:
        """The trials ``index`` picks."""
        return Recording(self.rates[index], None if self.inputs is None else self.inputs[index])

    def check_model(self, neurons: int, inputs: int, name: str = "data") -> Recording:
        """These trials against a fitted network's sizes; else a one-line DataError."""
        if self.rates.shape[2] != neurons:
            raise DataError(f"{name}: {self.rates.shape[2]} neurons, the fit has {neurons}")
        if self.num_inputs != inputs:
            raise DataError(f"{name}: {self.num_inputs} inputs, the fit has {inputs}")
        return self


def smooth_spikes(
    spikes: Float[np.ndarray, "trials time neurons"], bin_seconds: float = 0.01, sigma_seconds: float = 0.1
) -> Float[np.ndarray, "trials time neurons"]:
    """Rates (per second) from binned spike counts: each trial smoothed along time by a causal Gaussian of
    ``sigma_seconds`` (truncated at 4 sd), divided by the mass of the kernel that falls inside the trial (so the
    first bins are weighted means of fewer bins, not pulled towards zero) and by ``bin_seconds``."""
    if not (bin_seconds > 0 and sigma_seconds > 0):
        raise ConfigError(f"need bin_seconds > 0 and sigma_seconds > 0, got {bin_seconds}, {sigma_seconds}")
    sd_bins = sigma_seconds / bin_seconds
    mass = causal_smooth(np.ones((spikes.shape[1], 1)), sd_bins)  # the kernel's mass inside the trial, per bin
    return np.stack([causal_smooth(trial, sd_bins) for trial in spikes]) / (mass * np.float32(bin_seconds))


def _array(value: Any, name: str, ndim: int = 3) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold real numbers, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if array.ndim != ndim:
        raise DataError(f"{name} must have shape (trials, time, channels), got {array.shape}")
    if not np.isfinite(array).all():
        raise DataError(f"{name} contains NaN or inf (Connector needs every neuron at every step)")
    return array


def recording(
    rates: Any = None,
    *,
    spikes: Any = None,
    inputs: Any = None,
    bin_seconds: float = 0.01,
    sigma_seconds: float = 0.1,
    name: str = "data",
) -> Recording:
    """A checked :class:`Recording` from rates or from binned spike counts (smoothed by :func:`smooth_spikes`).

    Arguments:
        rates: ``(trials, time, neurons)``; spikes: counts of the same shape (exactly one of the two);
        inputs: ``(trials, time, inp)`` or None; bin_seconds, sigma_seconds: the spikes' bins and smoothing.
    Raises:
        DataError: one line naming ``name`` and what is wrong.
    """
    if (rates is None) == (spikes is None):
        both = "both" if rates is not None else "neither"
        raise DataError(f"{name}: give either rates or spikes (trials, time, neurons), not {both}")
    if spikes is not None:
        counts = _array(spikes, f"{name}: spikes")
        if (counts < 0).any():
            raise DataError(f"{name}: spikes must be non-negative counts")
        rates = smooth_spikes(counts, bin_seconds, sigma_seconds)
    rates = _array(rates, f"{name}: rates")
    trials, time, neurons = rates.shape
    if trials < 1 or time < 2 or neurons < 1:
        raise DataError(f"{name}: need at least one trial of two steps of one neuron, got rates {rates.shape}")
    if inputs is not None:
        inputs = _array(inputs, f"{name}: inputs")
        if inputs.shape[:2] != (trials, time):
            raise DataError(f"{name}: inputs {inputs.shape} do not match rates {rates.shape} in (trials, time)")
        if inputs.shape[2] == 0:
            inputs = None
    return Recording(rates, inputs)


def load_recording(
    path: str | os.PathLike, *, bin_seconds: float | None = None, sigma_seconds: float = 0.1
) -> Recording:
    """A recording from an ``.npz`` with ``rates`` or ``spikes`` ``(trials, time, neurons)``, optional ``inputs``
    ``(trials, time, inp)`` and optional ``bin_seconds`` (a scalar; else 0.01 s or the argument)."""
    arrays = load_arrays(path)
    known = {"rates", "spikes", "inputs", "bin_seconds"}
    unknown = sorted(set(arrays) - known)
    if unknown:
        raise DataError(f"{path}: unknown arrays {unknown}; expected rates or spikes, optional inputs, bin_seconds")
    if bin_seconds is None:
        bin_seconds = float(arrays["bin_seconds"]) if "bin_seconds" in arrays else 0.01
    return recording(
        arrays.get("rates"), spikes=arrays.get("spikes"), inputs=arrays.get("inputs"), bin_seconds=bin_seconds,
        sigma_seconds=sigma_seconds, name=str(path),
    )  # fmt: skip
