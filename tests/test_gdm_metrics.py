import numpy as np
import pytest

from gnode.errors import DataError
from gnode.gdm.metrics import mean_r2, state_accuracy, switching_rate


def test_r2_is_one_for_a_perfect_prediction_and_zero_for_the_mean():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(100, 3)) * [1.0, 10.0, 0.1]
    assert mean_r2(y, y) == 1.0
    assert mean_r2(np.broadcast_to(y.mean(0), y.shape), y) == pytest.approx(0.0, abs=1e-12)
    half = mean_r2(y.mean(0) + 0.5 * (y - y.mean(0)), y)  # per-dimension R² averaged: scale-free
    assert half == pytest.approx(0.75)


@pytest.mark.bad_input
def test_r2_of_unequal_shapes_is_a_data_error():
    y = np.zeros((100, 3))
    with pytest.raises(DataError):
        mean_r2(y, y[:50])


def test_state_accuracy_ignores_the_numbering_of_states():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    states = np.eye(4)[(labels + 1) % 4]  # a perfect but renumbered segmentation
    assert state_accuracy(states[:200], labels[:200], states[200:], labels[200:]) == 1.0
    noise = np.eye(4)[rng.integers(0, 4, 400)]
    assert state_accuracy(noise[:200], labels[:200], noise[200:], labels[200:]) < 0.4


def test_switching_rate_counts_changes_of_the_argmax():
    assert switching_rate(np.array([0, 0, 1, 1, 0])) == pytest.approx(0.5)
    assert switching_rate(np.eye(3)[[2, 2, 2]]) == 0.0
