"""Walker2d kinematics (the ODE-LSTM protocol) on trajectories simulated locally with MuJoCo.

No trained policy can be downloaded, so episodes come from a randomised feedback controller: a PD controller
tracks a sinusoidal gait (legs in anti-phase) whose amplitudes, frequency, phases, offsets and gains are redrawn
every ``segment`` steps, with Gaussian action noise and 1 % uniformly random actions (as in the ODE-LSTM data).
The walker is not stopped when it falls (``terminate_when_unhealthy=False``), so every episode is long and
mixes gaits, stumbles and recoveries. The same seed gives the same trajectories; they are cached as ``.npz``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from jaxtyping import Float

from gnode.data import SequenceData
from gnode.errors import ConfigError, DataError
from gnode.files import save_arrays
from gnode.optional import optional_import

STATE_DIM = 17


@dataclasses.dataclass(frozen=True)
class WalkerConfig:
    """What to simulate: ``episodes`` of ``steps`` env steps (dt 0.008 s), gait redrawn every ``segment``."""

    episodes: int = 40
    steps: int = 1000
    segment: int = 250
    action_noise: float = 0.1
    random_action_rate: float = 0.01
    seed: int = 0
    env: str = "Walker2d-v5"

    def __post_init__(self):
        if self.episodes < 1 or self.steps < 2 or self.segment < 1:
            raise ConfigError("Walker2d needs episodes >= 1, steps >= 2 and segment >= 1")


def _gait(rng: np.random.Generator) -> dict[str, np.ndarray | float]:
    antiphase = np.array([0.0, 0.0, 0.0, np.pi, np.pi, np.pi])  # thigh, leg, foot of the right, then left leg
    return {
        "amplitude": rng.uniform(0.2, 0.9, 6),
        "frequency": rng.uniform(0.5, 2.0),
        "phase": antiphase + rng.normal(0.0, 0.3, 6),
        "offset": rng.normal(0.0, 0.2, 6),
        "kp": rng.uniform(1.0, 5.0),
        "kd": rng.uniform(0.05, 0.3),
    }


def simulate_walker(config: WalkerConfig) -> Float[np.ndarray, "batch time state"]:
    """Simulate; returns observations ``(episodes, steps + 1, 17)`` (the reset state first)."""
    gym = optional_import("gymnasium")
    env = gym.make(config.env, terminate_when_unhealthy=False, max_episode_steps=config.steps)
    rng = np.random.default_rng(config.seed)
    dt = env.unwrapped.dt
    episodes = np.zeros((config.episodes, config.steps + 1, STATE_DIM), np.float32)
    for e in range(config.episodes):
        obs, _ = env.reset(seed=config.seed * 100_003 + e)
        data = env.unwrapped.data
        episodes[e, 0] = obs
        for k in range(config.steps):
            if k % config.segment == 0:
                gait = _gait(rng)
            target = gait["offset"] + gait["amplitude"] * np.sin(2 * np.pi * gait["frequency"] * k * dt + gait["phase"])
            action = gait["kp"] * (target - data.qpos[3:9]) - gait["kd"] * data.qvel[3:9]
            action = action + rng.normal(0.0, config.action_noise, 6)
            if rng.random() < config.random_action_rate:
                action = rng.uniform(-1.0, 1.0, 6)
            obs, *_ = env.step(np.clip(action, -1.0, 1.0))
            episodes[e, k + 1] = obs
    env.close()
    return episodes


def walker_trajectories(
    cache: str | Path, config: WalkerConfig = WalkerConfig()
) -> Float[np.ndarray, "batch time state"]:
    """Trajectories for ``config``, simulated once and then read from ``cache`` (an ``.npz`` file)."""
    cache = Path(cache)
    key = json.dumps(dataclasses.asdict(config), sort_keys=True)
    if cache.exists():
        try:
            with np.load(cache) as stored:
                if str(stored["config"]) == key:
                    return stored["episodes"]
        except Exception as error:
            raise DataError(f"{cache}: not a readable Walker2d cache ({type(error).__name__}); delete it") from None
    episodes = simulate_walker(config)
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_arrays(cache, episodes=episodes, config=np.array(key))
    return episodes


def irregular_windows(
    episodes: Float[np.ndarray, "batch time state"], rng: np.random.Generator, keep: float, window: int, stride: int
) -> tuple[
    Float[np.ndarray, "windows window state"],
    Float[np.ndarray, "windows window"],
    Float[np.ndarray, "windows window state"],
]:
    """Next-state windows from each episode, with each step kept with probability ``keep``.

    Returns:
        ``states`` ``(n, window, 17)`` (inputs), ``elapsed`` ``(n, window)`` steps since the previous kept
        step, and ``targets`` ``(n, window, 17)`` (the state one step after each kept one).
    """
    states, elapsed, targets = [], [], []
    for trajectory in episodes:
        x, y = trajectory[:-1], trajectory[1:]
        kept = np.flatnonzero(rng.random(x.shape[0]) < keep)
        gaps = np.diff(kept, prepend=kept[:1] - 1).astype(np.float32)
        for start in range(0, kept.size - window + 1, stride):
            part = kept[start : start + window]
            states.append(x[part])
            elapsed.append(gaps[start : start + window])
            targets.append(y[part])
    if not states:
        raise DataError(f"episodes too short for windows of {window} kept steps")
    return np.stack(states), np.stack(elapsed), np.stack(targets)


def walker_kinematics(
    episodes: Float[np.ndarray, "batch time state"],
    *,
    seed: int = 0,
    keep: float = 0.9,
    window: int = 64,
    stride: int = 16,
    split: tuple[float, float, float] = (0.75, 0.10, 0.15),
) -> dict[str, SequenceData]:
    """Train / validation / test windows; episodes (not windows) are split, so no test step is seen in training.

    Inputs are the standardised state (training statistics) and the elapsed steps; targets the standardised
    next state; ``times`` the cumulative elapsed steps within each window.
    """
    if episodes.ndim != 3 or episodes.shape[-1] != STATE_DIM:
        raise DataError(f"Walker2d episodes must have shape (episodes, steps, {STATE_DIM}), got {episodes.shape}")
    if not 0.0 < keep <= 1.0 or abs(sum(split) - 1.0) > 1e-6:
        raise ConfigError(f"need 0 < keep <= 1 and split fractions summing to 1, got {keep}, {split}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(episodes.shape[0])
    n_train = round(split[0] * len(order))
    n_val = round(split[1] * len(order))
    parts = {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
    if any(index.size == 0 for index in parts.values()):
        raise ConfigError(f"{episodes.shape[0]} episodes are too few for a {split} split")
    mean = episodes[parts["train"]].reshape(-1, STATE_DIM).mean(axis=0)
    std = episodes[parts["train"]].reshape(-1, STATE_DIM).std(axis=0) + 1e-6
    out = {}
    for name, index in parts.items():
        states, elapsed, targets = irregular_windows((episodes[index] - mean) / std, rng, keep, window, stride)
        inputs = np.concatenate([states, elapsed[..., None]], axis=-1)
        out[name] = SequenceData(inputs, targets, None, np.cumsum(elapsed, axis=1))
    return out
