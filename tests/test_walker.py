import numpy as np
import pytest

from gnode.datasets.walker import (
    STATE_DIM,
    WalkerConfig,
    irregular_windows,
    simulate_walker,
    walker_kinematics,
    walker_trajectories,
)
from gnode.errors import ConfigError, DataError


def ramps(episodes=10, steps=200):
    """Episodes whose state at step k is k + 1000 * episode in every channel: targets are checkable."""
    k = np.arange(steps, dtype=np.float32)[None, :, None] + 1000.0 * np.arange(episodes)[:, None, None]
    return np.broadcast_to(k, (episodes, steps, STATE_DIM)).copy()


def test_windows_hold_kept_steps_their_gaps_and_next_states():
    states, elapsed, targets = irregular_windows(ramps(2), np.random.default_rng(0), keep=0.9, window=64, stride=16)
    np.testing.assert_array_equal(targets, states + 1.0)  # the state one step after each kept one
    steps = states[..., 0] % 1000
    np.testing.assert_array_equal(np.diff(steps, axis=1), elapsed[:, 1:])
    assert elapsed.min() >= 1 and elapsed.max() > 1  # about a tenth of steps dropped
    np.testing.assert_array_equal(
        np.diff(steps[:, 0])[:2], [16 + (elapsed[0, 1:17] - 1).sum(), steps[2, 0] - steps[1, 0]]
    )


def test_keeping_every_step_gives_regular_windows():
    states, elapsed, _ = irregular_windows(ramps(1, 100), np.random.default_rng(0), keep=1.0, window=64, stride=16)
    assert states.shape == (3, 64, STATE_DIM)  # starts 0, 16, 32 over 99 inputs
    assert np.all(elapsed == 1)


def test_episodes_not_windows_are_split_and_statistics_come_from_training():
    splits = walker_kinematics(ramps(20), seed=0, split=(0.75, 0.10, 0.15))
    # the same affine scaling for all splits, and ramp values are unique to an episode: no shared values
    values = {name: set(np.round(d.inputs[..., 0].ravel(), 4)) for name, d in splits.items()}
    assert (
        not values["train"] & values["val"]
        and not values["train"] & values["test"]
        and not values["val"] & values["test"]
    )
    for data in splits.values():
        assert data.inputs.shape[1:] == (64, STATE_DIM + 1) and data.targets.shape[1:] == (64, STATE_DIM)
        np.testing.assert_array_equal(data.times, np.cumsum(data.inputs[..., -1], axis=1))
    train_raw = splits["train"].inputs[..., :STATE_DIM]
    assert abs(train_raw.mean()) < 0.3  # standardised (windows overlap, so not exactly 0)
    with pytest.raises(ConfigError, match="too few"):
        walker_kinematics(ramps(2))
    with pytest.raises(DataError, match="shape"):
        walker_kinematics(ramps(4)[..., :5])


def test_simulation_is_deterministic_and_cached(tmp_path):
    config = WalkerConfig(episodes=2, steps=60, segment=20, seed=3)
    first = simulate_walker(config)
    assert first.shape == (2, 61, STATE_DIM) and np.isfinite(first).all()
    assert first[:, 1:].std(axis=1).min() > 0  # every channel moves
    cache = tmp_path / "walker.npz"
    np.testing.assert_array_equal(walker_trajectories(cache, config), first)
    np.testing.assert_array_equal(walker_trajectories(cache, config), first)  # read back
    other = walker_trajectories(cache, WalkerConfig(episodes=1, steps=30, seed=3))  # other settings: simulated
    assert other.shape == (1, 31, STATE_DIM)
    cache.write_bytes(b"corrupt")
    with pytest.raises(DataError, match=r"walker\.npz: not a readable"):
        walker_trajectories(cache, config)
