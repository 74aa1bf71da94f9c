import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.data import ArrayData, SequenceData
from gnode.errors import DataError
from gnode.losses import MSE, CrossEntropy
from gnode.train.driver import TrainConfig, fit
from gnode.train.objective import MapObjective


def linear(key=0):
    return eqx.nn.Linear(2, 1, key=jr.key(key))


def test_map_objective_trains_a_linear_map_to_its_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 2)).astype(np.float32)
    y = x @ np.array([[2.0], [-1.0]], np.float32) + 0.5
    data = ArrayData(x, y)
    config = TrainConfig(lr=3e-2, weight_decay=0.0, batch_size=64, epochs=150)
    result = fit(linear(), data, data, config, objective=MapObjective(MSE(), (2,), (1,)), progress=False)
    assert np.allclose(result.model.weight, [[2.0, -1.0]], atol=1e-2)
    assert np.allclose(result.model.bias, [0.5], atol=1e-2)
    assert result.summary["val_metric_name"] == "r2"


def test_map_objective_cross_entropy_reports_accuracy():
    objective = MapObjective(CrossEntropy(), (2,), (3,))
    model = eqx.nn.Linear(2, 3, key=jr.key(0))
    model = eqx.tree_at(lambda m: (m.weight, m.bias), model, (jnp.zeros((3, 2)), jnp.array([0.0, 5.0, 0.0])))
    batch = objective.arrays(model, ArrayData(np.zeros((4, 2), np.float32), np.array([1, 1, 0, 1])), "x")
    loss, acc = objective(model, batch)
    assert float(acc) == pytest.approx(0.75)
    assert float(loss) > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (ArrayData(np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32)), "inputs must have shape"),
        (ArrayData(np.zeros((4, 2), np.float32), np.zeros((5, 1), np.float32)), "4 input samples but 5 targets"),
        (ArrayData(np.full((4, 2), np.nan, np.float32), np.zeros((4, 1), np.float32)), "NaN"),
        (ArrayData(np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32)), "targets must have shape"),
        (ArrayData(np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])), "class labels given but the loss is MSE"),
        (SequenceData(np.zeros((4, 3, 2), np.float32), np.zeros((4, 3, 1), np.float32)), "expected ArrayData"),
    ],
)
def test_map_objective_rejects_bad_data_in_one_line(data, message):
    with pytest.raises(DataError, match=message) as info:
        MapObjective(MSE(), (2,), (1,)).arrays(linear(), data, "train")
    assert "\n" not in str(info.value) and str(info.value).startswith("train:")


def test_labels_beyond_the_outputs_are_rejected():
    data = ArrayData(np.zeros((4, 2), np.float32), np.array([0, 1, 2, 3]))
    with pytest.raises(DataError, match="label 3 but the readout has only 3 classes"):
        MapObjective(CrossEntropy(), (2,), (3,)).arrays(linear(), data, "train")
