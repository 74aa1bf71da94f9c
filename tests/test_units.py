import numpy as np

from gnode.train.runs import UnitStore


def test_a_unit_is_found_with_its_own_settings_and_read_with_any(tmp_path):
    units = UnitStore(tmp_path)
    assert units.read("a") is None and units.get("a", {"lr": 1e-2}) is None
    units.put("a", {"lr": 1e-2, "path": tmp_path}, {"val_loss": [0.5, 0.25]}, {"w": np.arange(3.0)})

    arrays, record = units.get("a", {"lr": 1e-2, "path": tmp_path})
    assert record == {"val_loss": [0.5, 0.25]}
    np.testing.assert_array_equal(arrays["w"], np.arange(3.0))
    assert units.get("a", {"lr": 3e-2, "path": tmp_path}) is None  # other settings: computed again

    arrays, header = units.read("a")  # whatever the settings: a report reads the run's own units
    assert header == {"settings": {"lr": 1e-2, "path": str(tmp_path)}, "record": {"val_loss": [0.5, 0.25]}}
    assert list(arrays) == ["w"]


def test_a_foreign_file_in_the_units_folder_is_no_unit(tmp_path):
    units = UnitStore(tmp_path)
    units.path.mkdir()
    np.savez(units.path / "plain.npz", w=np.zeros(2))  # no header
    (units.path / "junk.npz").write_bytes(b"not an npz")
    for name in ("plain", "junk"):
        assert units.read(name) is None and units.get(name, {}) is None
