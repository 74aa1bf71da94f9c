"""The flip-flop family of memory tasks (gnode.md section 3.1, the authors' generators).

A trial has ``T`` bins on [0, 1]. ``Poisson(frequency)`` pulse onsets are drawn uniformly from the
bins with replacement; an onset later than ``T - 1 - width`` is dropped, otherwise the input holds
the pulse value on bins ``onset .. onset + width`` (3 bins for ``width = 2``); later pulses overwrite
earlier ones. The target latches the last non-zero input of each channel (no delay), starting from
the task's initial memory. The first ``n_train`` trials train, the next ``n_val`` validate.

``hold`` (gnode's option, 0 in the authors' task) appends that many zero-input bins to every trial, over
which the target keeps the last stored value: it asks the network to hold a memory longer than the
typical gap between pulses (about ``steps / frequency`` bins).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

from gnode.data import SequenceData
from gnode.errors import ConfigError, by_name
from gnode.tasks.storable import Annulus, Box, Points, StorableSet, circle


@dataclasses.dataclass(frozen=True)
class FlipFlopSpec:
    """One variant.

    Attributes:
        channels: input / output channels.
        amplitude: ``"binary"`` (+-1), ``"uniform"`` (U[-a, a] per channel), ``"ring"`` or ``"annulus"``.
        per_channel: one random channel per pulse (True) or all channels at once.
        bounds: per-channel amplitude ``a`` (``uniform``) or the radii (``ring``: (r,), ``annulus``: (r_in, r_out)).
        initial_memory: the target before the first pulse.
        frequency: mean pulses per trial.
        storable: the set of values the network must store (for the attractor metrics of ``gnode.analysis``).
    """

    channels: int
    amplitude: str
    per_channel: bool
    bounds: tuple[float, ...]
    initial_memory: tuple[float, ...]
    frequency: float = 12.0
    storable: StorableSet | None = None


FLIPFLOP_TASKS: dict[str, FlipFlopSpec] = {
    "three_bit": FlipFlopSpec(3, "binary", True, (1.0,) * 3, (1.0,) * 3, storable=Points.corners((1.0,) * 3)),
    "three_bit_variable": FlipFlopSpec(3, "uniform", True, (1.0,) * 3, (0.0,) * 3, storable=Box((1.0,) * 3)),
    "four_point": FlipFlopSpec(2, "binary", True, (1.0, 1.0), (1.0, 1.0), storable=Points.corners((1.0, 1.0))),
    "square": FlipFlopSpec(2, "uniform", True, (1.0, 1.0), (0.0, 0.0), storable=Box((1.0, 1.0))),
    "rectangle": FlipFlopSpec(2, "uniform", True, (2.0, 1.0), (0.0, 0.0), storable=Box((2.0, 1.0))),
    "ring": FlipFlopSpec(2, "ring", False, (2.0,), (2.0, 0.0), storable=circle(2.0)),
    "annulus": FlipFlopSpec(2, "annulus", False, (1.0, 2.0), (1.5, 0.0), frequency=6.0, storable=Annulus(1.0, 2.0)),
}


def _pulse_value(spec: FlipFlopSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(channels touched, their values) for one pulse."""
    if spec.per_channel:
        c = rng.integers(spec.channels)
        if spec.amplitude == "binary":
            value = rng.choice((-1.0, 1.0)) * spec.bounds[c]
        else:
            value = rng.uniform(-spec.bounds[c], spec.bounds[c])
        return np.array([c]), np.array([value])
    channels = np.arange(spec.channels)
    if spec.amplitude == "ring":
        theta = rng.uniform(0.0, 2 * np.pi)
        return channels, spec.bounds[0] * np.array([np.cos(theta), np.sin(theta)])
    r_in, r_out = spec.bounds
    while True:  # rejection sampling from the bounding square, as the authors do
        v = rng.uniform(-r_out, r_out, size=2)
        if r_in < np.linalg.norm(v) < r_out:
            return channels, v


def flipflop_trials(
    spec: FlipFlopSpec, num_trials: int, *, steps: int = 100, width: int = 2, hold: int = 0, seed: int = 8
) -> tuple[Float[np.ndarray, "batch time inp"], Float[np.ndarray, "batch time out"]]:
    """Inputs and targets, both ``(num_trials, steps + hold, channels)`` float32."""
    rng = np.random.default_rng(seed)
    inputs = np.zeros((num_trials, steps + hold, spec.channels), np.float32)
    for trial in range(num_trials):
        for onset in rng.integers(0, steps, size=rng.poisson(spec.frequency)):
            channels, values = _pulse_value(spec, rng)
            if onset <= steps - 1 - width:
                inputs[trial, onset : onset + width + 1][:, channels] = values
    targets = np.empty_like(inputs)
    memory = np.broadcast_to(np.asarray(spec.initial_memory, np.float32), inputs[:, 0].shape).copy()
    for t in range(steps + hold):
        pulse = inputs[:, t]
        memory = np.where(pulse != 0, pulse, memory)
        targets[:, t] = memory
    return inputs, targets


def make_flipflop(
    name: str,
    *,
    n_train: int = 500,
    n_val: int = 100,
    steps: int = 100,
    width: int = 2,
    hold: int = 0,
    seed: int = 8,
) -> tuple[SequenceData, SequenceData]:
    """The train and validation sets of a flip-flop variant (see ``FLIPFLOP_TASKS``)."""
    by_name(FLIPFLOP_TASKS, name, "task")
    if n_train <= 0 or n_val <= 0 or steps <= 0 or width < 0 or hold < 0:
        raise ConfigError(
            "n_train, n_val and steps must be positive and width, hold non-negative; "
            f"got n_train={n_train}, n_val={n_val}, steps={steps}, width={width}, hold={hold}"
        )
    if width >= steps:
        raise ConfigError(f"pulse width {width} does not fit in {steps} steps")
    inputs, targets = flipflop_trials(
        FLIPFLOP_TASKS[name], n_train + n_val, steps=steps, width=width, hold=hold, seed=seed
    )
    train = SequenceData(inputs[:n_train], targets[:n_train])
    val = SequenceData(inputs[n_train:], targets[n_train:])
    return train, val
