import json

import numpy as np
import pytest

import gnode
from gnode.errors import ConfigError
from gnode.experiment import RunConfig, build, evaluate, group_key, load_run, sweep_cells, train_group, train_run
from gnode.sweep import cell_id, expand_grid, read_sweep_file, run_sweep

BASE = dict(task="four_point", dim=2, dynamics=[8], n_train=40, n_val=20, batch_size=20, epochs=2)


def test_expand_grid_is_the_product_on_top_of_the_base():
    cells = expand_grid({"a": 0, "b": 1}, {"b": [2, 3], "c": ["x", "y", "z"]})
    assert len(cells) == 6 and cells[0] == {"a": 0, "b": 2, "c": "x"} and cells[1]["c"] == "y"
    with pytest.raises(ConfigError, match="'b' is empty"):
        expand_grid({}, {"b": []})
    with pytest.raises(ConfigError, match="must be a list"):
        expand_grid({}, {"b": 3})


def doubling(cells):
    return [{"y": 2 * c["x"]} for c in cells]


def test_groups_run_once_and_a_resumed_sweep_skips_finished_cells(tmp_path):
    calls = []

    def run_group(cells, workdir):
        calls.append([c["x"] for c in cells])
        if any(c["x"] == 99 for c in cells):
            raise RuntimeError("interrupted")
        return doubling(cells)

    cells = expand_grid({}, {"x": [1, 2, 3, 4]})
    rows = run_sweep(cells, group_key=lambda c: c["x"] % 2, run_group=run_group, out=tmp_path, log=lambda _: None)
    assert calls == [[1, 3], [2, 4]]
    assert sorted((r["x"], r["y"]) for r in rows) == [(1, 2), (2, 4), (3, 6), (4, 8)]
    # an interrupted sweep keeps the groups it finished; the rerun does only the rest
    more = [*cells, {"x": 5}, {"x": 99}]
    with pytest.raises(RuntimeError):
        run_sweep(more, group_key=lambda c: c["x"], run_group=run_group, out=tmp_path, log=lambda _: None)
    assert calls[2:] == [[5], [99]]
    calls.clear()
    rows = run_sweep(more[:-1], group_key=lambda c: 0, run_group=run_group, out=tmp_path, log=lambda _: None)
    assert calls == [] and len(rows) == 5
    assert [r["x"] for r in run_sweep(cells[:2], group_key=lambda c: 0, run_group=run_group, out=tmp_path)] == [1, 2]
    table = (tmp_path / "results.csv").read_text().splitlines()
    assert len(table) == 6 and "cell_id" in table[0]
    assert json.loads((tmp_path / "summary.json").read_text())["finished_cells"] == 5
    assert {r["cell_id"] for r in rows} == {cell_id({"x": x}) for x in range(1, 6)}


def test_train_group_matches_separate_runs(tmp_path):
    cells = sweep_cells(BASE, {"lr": [1e-3, 1e-2], "model_seed": [0, 1]})
    assert len({group_key(c) for c in cells}) == 1
    rows = train_group(cells)
    for cell, row in zip(cells, rows, strict=True):
        alone = train_run(RunConfig.from_dict(cell), tmp_path / cell_id(cell), progress=False)
        np.testing.assert_allclose(row["val_mse"], alone["val_mse"], rtol=1e-3)
    assert len({round(r["val_mse"], 6) for r in rows}) == 4


def test_train_group_starts_from_init_from(tmp_path):
    train_run(RunConfig.from_dict({**BASE, "epochs": 1}), tmp_path / "a", progress=False)
    start, _ = load_run(tmp_path / "a")
    cells = sweep_cells({**BASE, "epochs": 1, "weight_decay": 0.0, "init_from": str(tmp_path / "a")}, {"lr": [1e-12]})
    (row,) = train_group(cells)
    np.testing.assert_allclose(
        row["val_mse"], evaluate(start, build(RunConfig.from_dict(cells[0]))[2])["mse"], rtol=1e-5
    )


def test_sweep_on_a_local_ray_cluster_gives_the_local_results(tmp_path):
    ray = pytest.importorskip("ray")
    cells = sweep_cells({**BASE, "epochs": 1}, {"lr": [1e-3, 1e-2], "batch_size": [10, 20]})
    local = run_sweep(cells, group_key=group_key, run_group=train_group, out=tmp_path / "a", log=lambda _: None)
    try:
        remote = run_sweep(
            cells, group_key=group_key, run_group=train_group, out=tmp_path / "b", ray_address="local", log=print
        )
    finally:
        ray.shutdown()
    by_id = {r["cell_id"]: r["val_mse"] for r in local}
    for row in local:  # every cell's model is saved, and scores as the row says
        model = gnode.load(tmp_path / "a" / row["model_file"])
        _, _, val = build(RunConfig.from_dict({k: row[k] for k in cells[0]}))
        np.testing.assert_allclose(evaluate(model, val)["mse"], row["val_mse"], rtol=1e-6)
    assert len(remote) == 4
    for r in remote:
        np.testing.assert_allclose(r["val_mse"], by_id[r["cell_id"]], rtol=1e-5)


def test_bad_sweep_files(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[grid]\nlr = [1e-3]\n[extra]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown sections"):
        read_sweep_file(path, ("base", "grid"))
    with pytest.raises(ConfigError, match="not found"):
        read_sweep_file(tmp_path / "none.toml", ("base", "grid"))
    with pytest.raises(ConfigError, match="unknown config keys"):
        sweep_cells(BASE, {"layers": [1, 2]})
    with pytest.raises(ConfigError, match="batch size 100 exceeds"):
        sweep_cells(BASE, {"batch_size": [10, 100]})
    with pytest.raises(ConfigError, match="unknown task"):
        sweep_cells(BASE, {"task": ["ring", "five_bit"]})
    with pytest.raises(ConfigError, match="unknown activation 'rleu'"):  # before any data are read
        sweep_cells(BASE, {"activation": ["relu", "rleu"]})
    with pytest.raises(ConfigError, match=r"unknown init 'critcal'; choose one of .*'critical'"):
        sweep_cells(BASE, {"init": ["critical", "critcal"]})
