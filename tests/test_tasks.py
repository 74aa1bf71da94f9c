import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.tasks import FLIPFLOP_TASKS, flipflop_trials, make_flipflop


def pulse_onsets(x):
    active = np.abs(x).sum(-1) > 0  # (trials, T)
    starts = active & ~np.concatenate([np.zeros_like(active[:, :1]), active[:, :-1]], axis=1)
    return active, starts


@pytest.mark.parametrize("name", list(FLIPFLOP_TASKS))
def test_shapes_split_and_determinism(name):
    train, val = make_flipflop(name)
    c = FLIPFLOP_TASKS[name].channels
    assert train.inputs.shape == (500, 100, c) and val.inputs.shape == (100, 100, c)
    again, _ = make_flipflop(name)
    np.testing.assert_array_equal(train.inputs, again.inputs)
    other, _ = make_flipflop(name, seed=9)
    assert not np.array_equal(train.inputs, other.inputs)


@pytest.mark.parametrize("name", list(FLIPFLOP_TASKS))
def test_target_latches_last_nonzero_input(name):
    spec = FLIPFLOP_TASKS[name]
    x, y = flipflop_trials(spec, 50)
    memory = np.tile(np.asarray(spec.initial_memory, np.float32), (50, 1))
    for t in range(100):
        memory = np.where(x[:, t] != 0, x[:, t], memory)
        np.testing.assert_array_equal(y[:, t], memory)


def test_pulse_statistics_three_bit():
    x, _ = flipflop_trials(FLIPFLOP_TASKS["three_bit"], 2000, seed=0)
    values = x[x != 0]
    assert set(np.unique(values)) == {-1.0, 1.0}
    assert ((x != 0).sum(-1) <= 3).all()
    # each kept pulse lasts 3 bins: Poisson(12) onsets, those after bin 97 dropped, overlaps merge
    expected_active_fraction = 1 - np.exp(-12 * 3 / 100 * 98 / 100)
    active, _ = pulse_onsets(x)
    assert abs(active.mean() - expected_active_fraction) < 0.02
    np.testing.assert_allclose(x[..., 0][x[..., 0] != 0].mean(), 0.0, atol=0.03)


def test_pulse_width_is_three_bins_for_isolated_pulses():
    x, _ = flipflop_trials(FLIPFLOP_TASKS["square"], 300, seed=1)
    active, _ = pulse_onsets(x)
    lengths = []
    for trial in range(300):
        run = 0
        for t in range(100):
            if active[trial, t]:
                run += 1
            elif run:
                lengths.append(run)
                run = 0
    lengths = np.array(lengths)
    assert np.min(lengths) == 3 and np.median(lengths) == 3


def test_amplitudes_of_continuous_variants():
    ring, _ = flipflop_trials(FLIPFLOP_TASKS["ring"], 300)
    on = np.abs(ring).sum(-1) > 0
    np.testing.assert_allclose(np.linalg.norm(ring[on], axis=-1), 2.0, rtol=1e-5)
    ann, y = flipflop_trials(FLIPFLOP_TASKS["annulus"], 300)
    r = np.linalg.norm(ann[np.abs(ann).sum(-1) > 0], axis=-1)
    assert r.min() > 1.0 and r.max() < 2.0
    quiet_start = np.abs(ann[:, 0]).sum(-1) == 0
    np.testing.assert_allclose(y[:, 0][quiet_start], np.tile([1.5, 0.0], (int(quiet_start.sum()), 1)))
    rect, _ = flipflop_trials(FLIPFLOP_TASKS["rectangle"], 500)
    assert 1.9 < np.abs(rect[..., 0]).max() <= 2.0 and 0.9 < np.abs(rect[..., 1]).max() <= 1.0
    # annulus: Poisson(6) pulses -> about half the pulse density of the others
    assert (np.abs(ann).sum(-1) > 0).mean() < 0.6 * on.mean()


def test_hold_appends_zero_input_and_keeps_the_last_value():
    spec = FLIPFLOP_TASKS["square"]
    x, y = flipflop_trials(spec, 20)
    xh, yh = flipflop_trials(spec, 20, hold=30)
    assert xh.shape == (20, 130, 2)
    np.testing.assert_array_equal(xh[:, :100], x)  # the same trials, then the hold
    np.testing.assert_array_equal(yh[:, :100], y)
    assert not xh[:, 100:].any()
    np.testing.assert_array_equal(yh[:, 100:], np.repeat(y[:, -1:], 30, axis=1))


def test_bad_task_arguments():
    with pytest.raises(ConfigError, match="unknown task"):
        make_flipflop("five_bit")
    with pytest.raises(ConfigError):
        make_flipflop("ring", n_train=0)
    with pytest.raises(ConfigError, match="hold=-1"):
        make_flipflop("ring", hold=-1)
