import numpy as np
import pytest

from gnode.datasets.irregular import drop_points, irregular_classification, pack
from gnode.datasets.uea import LabelledSeries
from gnode.errors import ConfigError, DataError
from gnode.losses import last_index


def series_set(count=40, seed=0):
    rng = np.random.default_rng(seed)
    series = [rng.normal(size=(int(rng.integers(8, 20)), 3)) + 10.0 for _ in range(count)]
    return LabelledSeries(series, np.arange(count) % 2, ("a", "b"), "memory")


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.7])
def test_each_series_loses_its_own_fraction_of_points(fraction):
    data = series_set()
    kept = drop_points(data.series, fraction, np.random.default_rng(1))
    for values, obs in zip(data.series, kept, strict=True):
        length = values.shape[0]
        assert obs.steps.size == length - int(fraction * length)
        assert np.all(np.diff(obs.steps) > 0)
        np.testing.assert_array_equal(obs.values, values[obs.steps])
    if fraction:  # different series lose different points
        assert len({tuple(o.steps[:3]) for o in kept}) > 1


def test_points_with_missing_values_are_dropped_and_dropping_is_seeded():
    values = np.arange(12.0).reshape(6, 2)
    values[2, 1] = np.nan
    (obs,) = drop_points([values], 0.0, np.random.default_rng(0))
    assert obs.steps.tolist() == [0, 1, 3, 4, 5]
    first = drop_points(series_set().series, 0.5, np.random.default_rng(3))
    again = drop_points(series_set().series, 0.5, np.random.default_rng(3))
    assert all(np.array_equal(a.steps, b.steps) for a, b in zip(first, again, strict=True))
    with pytest.raises(ConfigError, match="fraction"):
        drop_points([values], 1.0, np.random.default_rng(0))
    with pytest.raises(DataError, match="no fully observed"):
        drop_points([np.full((3, 2), np.nan)], 0.0, np.random.default_rng(0))


def test_packing_pads_with_the_last_point_and_masks_it():
    data = series_set(4)
    kept = drop_points(data.series, 0.5, np.random.default_rng(0))
    length = max(o.steps.size for o in kept) + 2
    packed = pack(kept, data.labels, length, 19.0, np.zeros(3), np.ones(3))
    for i, obs in enumerate(kept):
        k = obs.steps.size
        assert packed.mask[i].sum() == k and packed.mask[i, :k].all()
        np.testing.assert_allclose(packed.inputs[i, :k, :3], obs.values, rtol=1e-6)
        np.testing.assert_allclose(
            packed.inputs[i, k:, :3], np.broadcast_to(obs.values[-1], (length - k, 3)), rtol=1e-6
        )
        np.testing.assert_array_equal(packed.times[i, :k], obs.steps + 1)  # step k ends at k + 1
        assert np.all(packed.times[i, k:] == obs.steps[-1] + 1)  # zero-length bins: the state stays put
        np.testing.assert_allclose(packed.inputs[i, :, 3], (packed.times[i] - 1) / 19.0)
    assert last_index(packed.mask, 4, length).tolist() == [o.steps.size - 1 for o in kept]


def test_splits_are_stratified_and_normalised_with_training_statistics():
    data = series_set(60)
    test = series_set(20, seed=1)
    splits = irregular_classification(data, test, drop=0.3, seed=0, val_fraction=0.2)
    assert {k: v.num_samples for k, v in splits.items()} == {"train": 48, "val": 12, "test": 20}
    assert np.bincount(splits["val"].targets).tolist() == [6, 6]
    train = splits["train"]
    observed = train.inputs[..., :3][train.mask > 0]
    np.testing.assert_allclose(observed.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(observed.std(axis=0), 1.0, atol=1e-5)
    assert abs(splits["test"].inputs[..., :3][splits["test"].mask > 0].mean()) < 0.5  # same scaling, not refitted
    lengths = {v.inputs.shape[1] for v in splits.values()}
    assert len(lengths) == 1
