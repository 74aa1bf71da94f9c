import numpy as np
import pytest

from gnode.data import SequenceData, validate
from gnode.errors import DataError


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
