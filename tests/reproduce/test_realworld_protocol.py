import dataclasses
import json
import math

import numpy as np
import pytest

import gnode
from gnode.datasets.irregular import irregular_classification
from gnode.datasets.uea import LabelledSeries
from gnode.errors import ConfigError
from gnode.model import parameter_count
from gnode.reproduce.realworld import protocol
from gnode.reproduce.realworld.tasks import RealTask


def toy_task(drop=0.3):
    """Two classes of irregularly sampled series: a rising or a falling ramp in noise."""
    rng = np.random.default_rng(0)

    def cases(count):
        labels = np.arange(count) % 2
        series = []
        for label in labels:
            length = int(rng.integers(10, 16))
            ramp = np.linspace(-1, 1, length) * (1 if label else -1)
            series.append(np.stack([ramp, rng.normal(size=length)], axis=1) + 0.3 * rng.normal(size=(length, 2)))
        return LabelledSeries(series, labels, ("down", "up"), "memory")

    splits = irregular_classification(cases(120), cases(60), drop=drop, seed=0)
    return RealTask("toy", "toy", splits, "cross_entropy", 2, {})


CONFIG = protocol.BenchConfig(
    models=("gnode", "node"), seeds=2, budget=300, epochs=40, patience=10, lrs=(1e-2,), extend_lrs=0
)


@pytest.mark.parametrize("name", protocol.MODELS)
def test_state_size_is_matched_to_the_budget(name):
    task = toy_task()
    config = protocol.BenchConfig(budget=2000)
    n = protocol.matched_state_dim(name, task, config)
    count = lambda m: parameter_count(protocol.build_model(name, m, task, config, 0))  # noqa: E731
    step = 2 if name == "lstm" else 1  # an LSTM's state [h; c] has even sizes
    assert n % step == 0
    assert abs(count(n) - 2000) <= min(abs(count(n - step) - 2000), abs(count(n + step) - 2000))
    assert abs(count(n) - 2000) / 2000 < 0.1


def test_substeps_keep_every_euler_step_within_max_alpha():
    task = toy_task(drop=0.5)
    gap = max(np.diff(d.times, axis=1, prepend=0).max() for d in task.splits.values())
    splits, integrator = protocol.prepared(task, protocol.BenchConfig(tau=1.0, max_alpha=0.5, grid=False))
    assert gap > 1 and integrator.substeps == math.ceil(gap / 0.5) and splits is task.splits
    splits, integrator = protocol.prepared(task, protocol.BenchConfig(tau=1.0, max_alpha=0.5))
    assert integrator.substeps == 2  # on the step grid every step is one time unit
    assert splits["train"].times is None and splits["train"].inputs.shape[1] == task.splits["train"].times.max()


def test_grid_and_substeps_agree_when_alpha_is_small():
    """Both paths integrate the same ODE; with small steps their test scores nearly agree."""
    task = toy_task(drop=0.5)
    config = protocol.BenchConfig(models=("gnode",), seeds=1, budget=300, epochs=4, lrs=(1e-2,), tau=4.0, extend_lrs=0)
    on_grid = protocol.run_benchmark(task, config)
    substeps = protocol.run_benchmark(task, dataclasses.replace(config, grid=False, max_alpha=0.25))
    assert on_grid[0]["substeps"] == 1 and substeps[0]["substeps"] > 1
    assert abs(on_grid[0]["val_loss"] - substeps[0]["val_loss"]) < 0.05


def test_models_learn_an_irregular_classification_and_results_resume(tmp_path, monkeypatch):
    task = toy_task()
    rows = protocol.run_benchmark(task, CONFIG, tmp_path)
    assert [(r["model"], r["seed"]) for r in rows] == [("gnode", 0), ("gnode", 1), ("node", 0), ("node", 1)]
    assert min(r["test"] for r in rows) > 0.9  # the ramp direction is easy to read
    assert all(abs(r["parameters"] - 300) < 60 for r in rows)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    splits, integrator = protocol.prepared(task, CONFIG)
    for seed, model in enumerate(gnode.load(tmp_path / "models" / "node.npz")):  # the chosen rate's seeds
        assert protocol.score(model, splits["test"], task.loss, integrator) == rows[2 + seed]["test"]

    def no_training(*args, **kwargs):
        raise AssertionError("finished models must not be trained again")

    monkeypatch.setattr(protocol, "fit_ensemble", no_training)
    assert protocol.run_benchmark(task, CONFIG, tmp_path) == saved["rows"]
    only_node = dataclasses.replace(CONFIG, models=("node",))  # a subset of the models: nothing to train
    assert protocol.run_benchmark(task, only_node, tmp_path) == saved["rows"][2:]
    for unit in ("node", "node_lr0.01"):  # the model's record and its rate batch's
        file = tmp_path / "units" / f"{unit}.npz"
        file.write_bytes(file.read_bytes()[:200])  # a damaged record is not trusted: that model trains again
    with pytest.raises(AssertionError, match="trained again"):
        protocol.run_benchmark(task, CONFIG, tmp_path)
    with pytest.raises(AssertionError, match="trained again"):  # other settings: not reused
        protocol.run_benchmark(task, CONFIG.__class__(**{**CONFIG.__dict__, "budget": 400}), tmp_path)


def test_same_seed_same_scores():
    task = toy_task()
    config = protocol.BenchConfig(models=("gru",), seeds=1, budget=200, epochs=3, lrs=(1e-3, 1e-2), extend_lrs=0)
    first = protocol.run_benchmark(task, config)
    again = protocol.run_benchmark(task, config)
    assert [r["test"] for r in first] == [r["test"] for r in again]
    assert [r["test"] is None for r in first] == [not r["selected"] for r in first]  # only the chosen lr is tested


def test_the_learning_rate_is_chosen_on_validation_per_model():
    task = toy_task()
    config = protocol.BenchConfig(
        models=("node",), seeds=2, budget=300, epochs=6, patience=None, lrs=(1e-6, 1e-2), extend_lrs=0
    )
    rows = protocol.run_benchmark(task, config)
    assert [(r["lr"], r["seed"]) for r in rows] == [(1e-6, 0), (1e-6, 1), (1e-2, 0), (1e-2, 1)]
    mean_val = {lr: np.mean([r["val_loss"] for r in rows if r["lr"] == lr]) for lr in config.lrs}
    assert mean_val[1e-2] < mean_val[1e-6]  # a rate that barely moves loses on validation
    assert [r["selected"] for r in rows] == [False, False, True, True]
    assert protocol.summarize(rows)["node"]["lr"] == 1e-2


def test_a_rate_whose_every_seed_diverges_is_a_result_of_the_grid(tmp_path):
    task = toy_task()
    config = protocol.BenchConfig(models=("node",), seeds=2, budget=300, epochs=3, lrs=(1e-2, 1e30), extend_lrs=0)
    rows = protocol.run_benchmark(task, config, tmp_path)
    assert [(r["lr"], r["diverged"]) for r in rows] == [(1e-2, False), (1e-2, False), (1e30, True), (1e30, True)]
    assert [r["selected"] for r in rows] == [True, True, False, False]
    assert all(r["best_epoch"] == -1 for r in rows[2:])  # no finite epoch: each keeps its initialisation
    assert protocol.run_benchmark(task, config, tmp_path) == rows  # stored as finished, not trained again


def test_table_states_the_gating_difference_with_its_spread():
    rows = [
        {"model": m, "seed": s, "test": t, "parameters": 10, "state_dim": 2, "seconds_all_members": 1.0}
        | {"epochs_run": 5, "best_epoch": 3 + s, "lr": lr, "selected": lr == 0.01, "lr_interior": m == "node"}
        for m, s, t, lr in [
            ("gnode", 0, 0.9, 0.01),
            ("gnode", 1, 0.8, 0.01),
            ("node", 0, 0.7, 0.01),
            ("node", 1, 0.7, 0.01),
            ("node", 0, None, 0.1),  # a rate not chosen: no test score, not summarised
        ]
    ]
    difference, spread = protocol.gating_difference(rows)
    assert difference == pytest.approx(0.15) and spread == pytest.approx(np.std([0.9, 0.8], ddof=1) / np.sqrt(2))
    table = protocol.markdown_table(rows, "cross_entropy", epochs=5)
    assert "gnODE − nODE: +15.0 ± 5.0" in table
    # a rate at the edge of those tried is starred; the epoch budget reached is marked
    assert "| gnODE | 85.0 ± 7.1 | 2 | 10 | 2 | 0.01* | 0.01–0.01 (1) | 3, 4 | 5 (cap) | 1 |" in table
    assert "| nODE | 70.0 ± 0.0 | 2 | 10 | 2 | 0.01 | 0.01–0.1 (2) | 3, 4 | 5 (cap) | 1 |" in table
    assert "test MSE" in protocol.markdown_table(rows, "mse")


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown model"):
        protocol.BenchConfig(models=("transformer",))
    with pytest.raises(ConfigError, match="seeds"):
        protocol.BenchConfig(seeds=0)
    with pytest.raises(ConfigError, match="learning rate"):
        protocol.BenchConfig(lrs=())
    with pytest.raises(ConfigError, match="patience"):
        protocol.BenchConfig(patience=0)
    with pytest.raises(ConfigError, match="extend_lrs"):
        protocol.BenchConfig(extend_lrs=-1)
