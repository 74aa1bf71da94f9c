"""neurogym's cognitive tasks as gnode sequences: one sequence per trial, the task's observation at every step as
the input and its ground-truth action at every step (one-hot) as the target.

neurogym's environments step in ``dt`` milliseconds; gnode's bin width ``dt`` is in seconds, so the environment is
built with ``dt = 1000 * dt`` and the model's time constant ``tau`` keeps its meaning (e.g. ``dt = 0.02``,
``tau = 0.1``: 20 ms bins, a 100 ms membrane). Trials are drawn with the environment's own ``new_trial()`` — what
neurogym's supervised ``Dataset`` concatenates into streams — and kept apart, padded to the longest and masked, so
that every trial starts from the model's initial state. Each trial's info (``ground_truth``, ``context``,
coherences, ...) is kept as its conditions, for the analysis.

Install: ``pip install 'gnode[neurogym]'`` and then ``pip install --no-deps neurogym==2.2.0`` (neurogym pins exact
NumPy, gymnasium and matplotlib versions that conflict with gnode's; 2.2.0 runs on gnode's, 2.3.1 imports torch
without declaring it). See ``docs/choices.md``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Float

from gnode.data import SequenceData, pad_trials
from gnode.errors import ConfigError
from gnode.optional import optional_import

PREFIX = "neurogym:"


@dataclasses.dataclass(frozen=True)
class NeurogymTrials:
    """Trials of a neurogym task.

    Attributes:
        data: inputs ``(trials, time, observations)``, one-hot targets ``(trials, time, actions)``, padding masked;
            its conditions are the trials' info.
        conditions: each trial's info as arrays (one entry per trial), e.g. ``context`` and ``ground_truth``.
        inputs, actions: the names of the observation and action channels.
    """

    data: SequenceData
    conditions: dict[str, np.ndarray]
    inputs: list[str]
    actions: list[str]


def _names(space: Any, size: int) -> list[str]:
    """Channel names from a neurogym space's ``name`` map (``{"fixation": 0, "choice": [1, 2]}``)."""
    names = [str(k) for k in range(size)]
    for name, where in (getattr(space, "name", None) or {}).items():
        where = [where] if isinstance(where, int | np.integer) else list(where)
        for j, k in enumerate(where):
            names[int(k)] = name if len(where) == 1 else f"{name}{j + 1}"
    return names


def make_env(name: str, dt: float, options: Mapping[str, Any] | None = None):
    """The unwrapped neurogym environment ``name`` with bins of ``dt`` seconds.

    Raises:
        ConfigError: an unknown task or options the environment refuses (one line).
    """
    ngym = optional_import("neurogym", "neurogym")
    registration = optional_import("neurogym.envs.registration", "neurogym")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium warns about neurogym's metadata on every make
        known = sorted(registration.all_envs())
        if name not in known:
            raise ConfigError(f"unknown neurogym task {name!r}; e.g. {known[:8]}")
        try:
            return ngym.make(name, dt=1000.0 * dt, **dict(options or {})).unwrapped
        except TypeError as error:
            raise ConfigError(f"neurogym task {name!r} refuses the options {dict(options or {})}: {error}") from None


def neurogym_trials(
    name: str, trials: int, *, dt: float, options: Mapping[str, Any] | None = None, seed: int = 0
) -> NeurogymTrials:
    """``trials`` trials of the neurogym task ``name`` (see the module docstring), drawn with ``seed``."""
    if trials <= 0:
        raise ConfigError(f"need a positive number of trials, got {trials}")
    env = make_env(name, dt, options)
    env.seed(seed)
    actions = int(env.action_space.n)
    inputs, targets, infos = [], [], []
    for _ in range(trials):
        infos.append(env.new_trial())
        inputs.append(np.asarray(env.ob, np.float32))
        targets.append(np.eye(actions, dtype=np.float32)[np.asarray(env.gt, int)])
    keys = [
        k
        for k in infos[0]
        if all(np.ndim(i.get(k)) == 0 and isinstance(i.get(k), int | float | np.number) for i in infos)
    ]
    conditions = {k: np.asarray([i[k] for i in infos]) for k in keys}
    data = dataclasses.replace(pad_trials(inputs, targets, name=f"neurogym task {name}"), conditions=conditions)
    return NeurogymTrials(
        data, conditions, _names(env.observation_space, inputs[0].shape[1]), _names(env.action_space, actions)
    )


def decision_accuracy(
    logits: Float[ArrayLike, "batch time actions"],
    targets: Float[ArrayLike, "batch time actions"],
    mask: Float[ArrayLike, "batch time"] | Float[ArrayLike, "batch time actions"] | None = None,
    fixation: int = 0,
) -> float:
    """The share of observed steps whose target is not the ``fixation`` action (the decision periods) where the
    most probable action is the target's: neurogym's performance, without the fixation steps that dominate the
    per-step accuracy."""
    logits, targets = np.asarray(logits), np.asarray(targets)
    truth = targets.argmax(-1)
    weight = (truth != fixation).astype(float)
    if mask is not None:
        weight = weight * (np.asarray(mask) if np.ndim(mask) == 2 else np.asarray(mask).max(-1))
    return float((weight * (logits.argmax(-1) == truth)).sum() / max(weight.sum(), 1.0))
