import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.reproduce.ncode import tasks


def test_reflection_targets_are_the_negated_inputs():
    data = tasks.reflection(100, seed=3)
    assert data.inputs.shape == (100, 1) and np.all(np.abs(data.inputs) <= 1)
    np.testing.assert_array_equal(data.targets, -data.inputs)
    np.testing.assert_array_equal(tasks.reflection(100, seed=3).inputs, data.inputs)  # deterministic
    assert not np.array_equal(tasks.reflection(100, seed=4).inputs, data.inputs)


@pytest.mark.parametrize("dim", [1, 2])
def test_annulus_regions_and_balance(dim):
    data = tasks.annulus(1000, dim, radii=(0.5, 1.0, 1.5), seed=0)
    radius = np.linalg.norm(data.inputs, axis=1)
    inner = data.targets[:, 0] == 1
    assert inner.sum() == 500
    assert radius[inner].max() <= 0.5 + 1e-6
    assert radius[~inner].min() >= 1.0 - 1e-6 and radius[~inner].max() <= 1.5 + 1e-6
    if dim == 1:  # both outer intervals are populated
        outer = data.inputs[~inner, 0]
        assert (outer > 0).sum() > 200 and (outer < 0).sum() > 200


def test_sign_accuracy():
    assert tasks.sign_accuracy(np.array([0.3, -2.0, 1.0]), np.array([1.0, -1.0, -1.0])) == pytest.approx(2 / 3)


def test_digits_splits_are_stratified_and_disjoint():
    train, val, test = tasks.digits(seed=0)
    assert train.num_samples + val.num_samples + test.num_samples == 1797
    assert train.inputs.shape[1] == 64 and train.inputs.min() >= 0 and train.inputs.max() <= 1
    for split in (train, val, test):
        counts = np.bincount(split.targets, minlength=10)
        assert counts.min() >= 0.08 * split.num_samples  # every class present in its share
    rows = {tuple(r) for r in test.inputs.round(4)}
    assert sum(tuple(r) in rows for r in train.inputs.round(4)) < 20  # only exact duplicate images overlap


@pytest.mark.parametrize(
    "make",
    [lambda: tasks.annulus(radii=(1.0, 0.5, 2.0)), lambda: tasks.annulus(dim=3), lambda: tasks.reflection(0),
     lambda: tasks.digits(val_fraction=0.5, test_fraction=0.6)],
)  # fmt: skip
def test_bad_task_settings_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()
