import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.data import SequenceData, to_grid, validate
from gnode.errors import DataError
from gnode.losses import last_index
from gnode.model import make_model
from gnode.solve import Euler


def make(**kw):
    base = dict(inputs=np.zeros((4, 5, 2)), targets=np.zeros((4, 5, 1)))
    base.update(kw)
    return SequenceData(**base)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(inputs=np.zeros((4, 5))), "inputs must have shape"),
        (dict(targets=np.zeros((3, 5, 1))), "4 input samples but 3 targets"),
        (dict(targets=np.zeros((4, 6, 1))), "targets must have shape"),
        (dict(inputs=np.full((4, 5, 2), np.nan)), "NaN"),
        (dict(targets=np.full((4, 5, 1), np.nan)), "NaN"),
        (dict(mask=np.ones((4, 4))), "mask shape"),
        (dict(times=np.tile(np.arange(5.0)[::-1], (4, 1))), "non-decreasing"),
        (dict(targets=np.array([0, 1, -1, 2])), "non-negative integers"),
    ],
)
def test_bad_data_one_line_errors(kw, message):
    with pytest.raises(DataError, match=message) as err:
        validate(make(**kw), "train")
    assert "\n" not in str(err.value) and str(err.value).startswith("train:")


def test_nan_targets_allowed_where_masked():
    y = np.zeros((4, 5, 1))
    y[0, 2] = np.nan
    mask = np.ones((4, 5))
    mask[0, 2] = 0
    out = validate(make(targets=y, mask=mask))
    assert np.isfinite(out.targets).all() and out.inputs.dtype == np.float32


def test_to_grid_holds_inputs_over_gaps_and_matches_euler_substeps():
    rng = np.random.default_rng(0)
    times = np.array([[3.0, 6, 9, 12], [3, 6, 6, 6]], np.float32)  # gaps of 3; the second sequence padded
    data = SequenceData(
        rng.normal(size=(2, 4, 2)).astype(np.float32),
        rng.normal(size=(2, 4, 1)).astype(np.float32),
        np.array([[1, 1, 0, 1], [1, 1, 0, 0]], np.float32),
        times,
    )
    data.inputs[1, 2:] = data.inputs[1, 1]  # padding repeats the last point
    grid = to_grid(data, 1.0)
    assert grid.inputs.shape == (2, 12, 2) and grid.times is None
    np.testing.assert_array_equal(grid.inputs[0, :3], np.repeat(data.inputs[0, :1], 3, axis=0))
    np.testing.assert_array_equal(grid.inputs[1, 6:], np.repeat(data.inputs[1, 1:2], 6, axis=0))  # held
    np.testing.assert_array_equal(np.flatnonzero(grid.mask[0]), [2, 5, 11])
    np.testing.assert_array_equal(grid.targets[0, [2, 5, 11]], data.targets[0, [0, 1, 3]])
    np.testing.assert_array_equal(np.flatnonzero(grid.mask[1]), [2, 5])
    field = make_model("gnode", 3, 2, 1, flow_widths=(8,), tau=1.0, dt=1.0, key=jr.key(0))
    coarse, _ = field.batch(jnp.asarray(data.inputs), jnp.asarray(times), Euler(substeps=3))
    fine, _ = field.batch(jnp.asarray(grid.inputs))
    np.testing.assert_allclose(fine[0, [2, 5, 8, 11]], coarse[0], atol=1e-5)  # 3 unit steps per bin either way
    np.testing.assert_allclose(fine[1, [2, 5]], coarse[1, :2], atol=1e-5)
    labels = to_grid(SequenceData(data.inputs, np.array([0, 1]), data.mask, times), 1.0)
    assert labels.targets.tolist() == [0, 1]
    np.testing.assert_array_equal(last_index(jnp.asarray(labels.mask), 2, 12), [11, 5])
    with pytest.raises(DataError, match=r"multiples of 2\.0"):
        to_grid(data, 2.0)
    with pytest.raises(DataError, match="needs observation times"):
        to_grid(SequenceData(data.inputs, data.targets), 1.0)


def test_both_containers_share_one_protocol():
    from gnode.data import AbstractData, ArrayData

    seq = SequenceData(np.zeros((4, 3, 2)), np.arange(4), times=np.tile(np.arange(3.0), (4, 1)))
    flat = ArrayData(np.arange(8.0).reshape(4, 2), np.arange(4.0).reshape(4, 1))
    for data in (seq, flat):
        assert isinstance(data, AbstractData) and data.num_samples == 4
        part = data.subset(np.array([3, 1]))
        assert type(part) is type(data) and part.num_samples == 2
        np.testing.assert_array_equal(part.targets, data.targets[[3, 1]])
    assert seq.is_classification and not flat.is_classification
    assert seq.subset(slice(0, 2)).times.shape == (2, 3) and seq.subset(slice(0, 2)).mask is None
