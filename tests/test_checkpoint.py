import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import CheckpointError
from gnode.model import make_model
from gnode.train.checkpoint import load_tree, save_tree


@pytest.fixture
def model():
    return make_model("gnode", 3, 2, 2, flow_widths=(8,), key=jr.key(0))


def test_roundtrip_exact(tmp_path, model):
    save_tree(tmp_path / "m.npz", model, {"epoch": 3})
    blank = make_model("gnode", 3, 2, 2, flow_widths=(8,), key=jr.key(1))
    loaded, meta = load_tree(tmp_path / "m.npz", blank)
    assert meta == {"epoch": 3}
    for a, b in zip(
        jnp.asarray(loaded.field.flow.state_weight), jnp.asarray(model.field.flow.state_weight), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob(".*tmp*"))


def test_missing_corrupt_and_mismatched(tmp_path, model):
    with pytest.raises(CheckpointError, match="not found"):
        load_tree(tmp_path / "none.npz", model)
    save_tree(tmp_path / "m.npz", model)
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_tree(tmp_path / "cut.npz", model)
    flipped = bytearray(data)
    flipped[200] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError):
        load_tree(tmp_path / "flip.npz", model)
    bigger = make_model("gnode", 3, 2, 2, flow_widths=(9,), key=jr.key(0))
    with pytest.raises(CheckpointError, match="needs"):
        load_tree(tmp_path / "m.npz", bigger)


def test_pickled_objects_are_refused(tmp_path, model):
    np.savez(tmp_path / "evil.npz", header=np.array([object()], dtype=object))
    with pytest.raises(CheckpointError):
        load_tree(tmp_path / "evil.npz", model)


def test_arrays_of_equal_shape_cannot_be_swapped(tmp_path):
    from gnode.fields import GNODE, NODE

    # a gnODE with one-layer F and G holds the same six arrays, shape for shape, as a pair of nODEs
    gnode = GNODE(3, 2, (), key=jr.key(0))
    node_pair = (NODE(3, 2, (), key=jr.key(0)), NODE(3, 2, (), key=jr.key(1)))
    save_tree(tmp_path / "pair.npz", node_pair)
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_tree(tmp_path / "pair.npz", gnode)


def test_load_arrays_reads_back_and_names_a_missing_or_corrupt_file(tmp_path):
    from gnode.errors import DataError
    from gnode.files import load_arrays, save_arrays

    save_arrays(tmp_path / "a.npz", x=np.arange(3), y=np.ones((2, 2)))
    assert set(load_arrays(tmp_path / "a.npz")) == {"x", "y"}
    assert np.array_equal(load_arrays(tmp_path / "a.npz", ["x"])["x"], np.arange(3))
    with pytest.raises(DataError, match="no such file"):
        load_arrays(tmp_path / "b.npz")
    with pytest.raises(DataError, match="incomplete"):
        load_arrays(tmp_path / "a.npz", ["z"])
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="unreadable"):
        load_arrays(tmp_path / "c.npz")
