"""Users' own sequences: the file format, padding, splits, and ``gnode train --data`` end to end."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gnode.cli.main import app
from gnode.data import load_sequences, pad_trials, split_trials
from gnode.errors import DataError

RNG = np.random.default_rng(0)
runner = CliRunner()


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_a_file_round_trips_and_autonomous_data_gets_no_input_channels(tmp_path):
    x, y = RNG.normal(size=(5, 7, 2)), RNG.normal(size=(5, 7, 3))
    mask, times = (RNG.uniform(size=(5, 7)) > 0.2).astype(float), np.cumsum(RNG.uniform(0.1, 1, (5, 7)), axis=1)
    data = load_sequences(write(tmp_path / "a.npz", inputs=x, targets=y, mask=mask, times=times))
    np.testing.assert_allclose(data.inputs, x, rtol=1e-6)
    np.testing.assert_allclose(data.targets, np.where(mask[..., None] > 0, y, 0), rtol=1e-6)
    np.testing.assert_allclose(data.times, times, rtol=1e-6)
    auto = load_sequences(write(tmp_path / "b.npz", targets=y, rates=np.abs(y)))
    assert auto.inputs.shape == (5, 7, 0) and auto.rates.shape == y.shape
    labels = load_sequences(write(tmp_path / "c.npz", inputs=x, labels=np.arange(5)))
    assert labels.is_classification and labels.targets.tolist() == [0, 1, 2, 3, 4]


def test_ragged_trials_are_padded_and_masked_the_same_from_a_file_or_lists(tmp_path):
    lengths = [3, 6, 1, 4]
    xs = [RNG.normal(size=(n, 2)) for n in lengths]
    ys = [RNG.poisson(1.0, size=(n, 3)).astype(float) for n in lengths]
    ts = [np.cumsum(RNG.uniform(0.1, 1, n)) for n in lengths]
    listed = pad_trials(xs, ys, times=ts)
    path = write(
        tmp_path / "r.npz",
        inputs=np.concatenate(xs),
        targets=np.concatenate(ys),
        times=np.concatenate(ts),
        lengths=np.array(lengths),
    )
    loaded = load_sequences(path)
    for key in ("inputs", "targets", "mask", "times"):
        np.testing.assert_array_equal(getattr(listed, key), getattr(loaded, key))
    assert loaded.inputs.shape == (4, 6, 2)
    np.testing.assert_array_equal(loaded.mask.sum(axis=1), lengths)
    np.testing.assert_array_equal(loaded.targets[1], ys[1])  # the longest trial unchanged
    assert (loaded.targets[0, 3:] == 0).all() and (loaded.times[0, 3:] == np.float32(ts[0][-1])).all()  # no time passes
    labels = load_sequences(
        write(tmp_path / "l.npz", inputs=np.concatenate(xs), labels=np.arange(4), lengths=np.array(lengths))
    )
    assert labels.is_classification and labels.mask.sum() == sum(lengths)


def test_splits_partition_the_trials_by_seed():
    data = pad_trials(None, [RNG.normal(size=(4, 2)) for _ in range(50)])
    train, val, test = split_trials(data, 0.2, 0.1, seed=3)
    assert (train.num_samples, val.num_samples, test.num_samples) == (35, 10, 5)
    rows = np.concatenate([train.targets, val.targets, test.targets]).reshape(50, -1)
    assert len(np.unique(rows, axis=0)) == 50  # disjoint and complete
    again = split_trials(data, 0.2, 0.1, seed=3)
    np.testing.assert_array_equal(again[1].targets, val.targets)
    assert not np.array_equal(split_trials(data, 0.2, 0.1, seed=4)[1].targets, val.targets)
    assert split_trials(data, 0.2)[2] is None
    with pytest.raises(DataError, match="cannot be split"):
        split_trials(pad_trials(None, [np.ones((2, 1))] * 3), 0.5, 0.4)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(inputs=np.zeros((2, 3, 1))), "exactly one of 'targets'"),
        (dict(targets=np.zeros((2, 3, 1)), labels=np.zeros(2, int)), "exactly one of 'targets'"),
        (dict(targets=np.zeros((2, 3, 1)), spikes=np.zeros(2)), "unknown arrays ['spikes']"),
        (dict(inputs=np.zeros((2, 3, 1)), labels=np.zeros(2)), "labels must be integers"),
        (dict(labels=np.zeros(2, int)), "labels need inputs"),
        (dict(targets=np.array([["a"]])), "targets must hold real numbers"),
        (dict(targets=np.zeros((2, 3, 1)), rates=np.zeros((2, 3, 2))), "rates must have the shape"),
        (dict(targets=np.zeros((5, 1)), lengths=np.array([2, 2])), "sum(lengths) = 4"),
        (dict(targets=np.zeros((4, 1)), lengths=np.array([2, -2])), "lengths must be positive"),
        (dict(inputs=np.zeros((4, 1)), labels=np.zeros(3, int), lengths=np.array([4])),
         "labels has 3 trials"),
        (dict(targets=np.array([None, 1.0], dtype=object)), "targets holds Python objects"),
    ],
)  # fmt: skip
def test_malformed_files_get_one_line_naming_file_and_key(tmp_path, arrays, message):
    path = write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as error:
        load_sequences(path)
    text = str(error.value)
    assert message in text and str(path) in text and len(text.splitlines()) == 1, text


def spikes_file(path, trials=40, steps=12, neurons=6, labels=False):
    phase = RNG.uniform(0, 2 * np.pi, trials)
    latent = np.stack([np.cos(phase[:, None] + 0.3 * np.arange(steps)), np.sin(phase[:, None])[:, [0] * steps]], -1)
    rates = np.log1p(np.exp(latent @ RNG.normal(size=(2, neurons))))
    arrays = {"rates": rates, "targets": RNG.poisson(rates).astype(np.float32)}
    if labels:
        arrays = {"inputs": latent, "labels": (phase > np.pi).astype(int)}
    return write(path, **arrays)


TINY = ["--dim", "2", "--dynamics", "8", "--batch", "8", "--epochs", "2", "--no-progress"]


def test_train_on_spike_counts_with_an_encoder_and_held_out_neurons(tmp_path):
    data = spikes_file(tmp_path / "spikes.npz")
    args = ["--data", str(data), "--observation", "poisson", "--initial-state", "encoder", "--held-out", "0.34"]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), *args, "--test-fraction", "0.2", *TINY])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trials"] == {"train": 24, "val": 8, "test": 8} and summary["observation"] == "Poisson"
    for key in ("val_bits_per_spike", "test_co_smoothing", "test_rate_r2", "test_log_likelihood"):
        assert np.isfinite(summary[key]), key
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"] == str(data) and config["task"] == ""
    from gnode import load

    assert len(load(tmp_path / "run" / "model.npz").initial_state.channels) == 4  # 2 of 6 held out
    resumed = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), "--resume", "--epochs", "3"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 3


def test_train_on_labels_and_on_separate_validation_files(tmp_path):
    train = spikes_file(tmp_path / "train.npz", labels=True)
    val = spikes_file(tmp_path / "val.npz", trials=10, labels=True)
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), "--data", str(train), "--val-data",
                                 str(val), *TINY])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trials"] == {"train": 40, "val": 10} and 0 <= summary["val_accuracy"] <= 1
    assert summary["observation"] == "CrossEntropy"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "missing.npz"], "missing.npz: no such file"),
        (["--data", "{spikes}", "--task", "ring"], "not both"),
        (["--data", "{spikes}", "--held-out", "0.3"], "use initial_state 'encoder'"),
        (["--data", "{spikes}", "--val-data", "{labels}"], "differ in channels or kind"),
        (["--data", "{spikes}", "--batch", "500"], "exceeds the 32 training trials"),
        (["--data", "{spikes}", "--val-fraction", "0"], "no validation trials"),
        (["--data", "{spikes}", "--observation", "poissonian"], "unknown observation"),
        (["--data", "{labels}", "--observation", "poisson"], "class labels given"),
        (["--data", "{labels}", "--initial-state", "encoder"], "class labels have none"),
        (["--data", "{negative}", "--observation", "poisson"], "counts >= 0"),
        (["--val-data", "{spikes}"], "go with a data file"),
    ],
)
def test_bad_data_runs_stop_in_one_line_and_write_nothing(tmp_path, args, message):
    files = {
        "spikes": spikes_file(tmp_path / "spikes.npz"),
        "labels": spikes_file(tmp_path / "labels.npz", labels=True),
        "negative": write(tmp_path / "neg.npz", targets=-np.ones((40, 5, 2))),
    }
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), *TINY, *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_conditions_travel_with_their_trials_and_are_checked():
    data = pad_trials(None, [np.ones((3, 1)) * k for k in range(6)])
    import dataclasses

    tagged = dataclasses.replace(data, conditions={"block": np.arange(6) % 2})
    train, val, _ = split_trials(tagged, 0.5, seed=1)
    for part in (train, val):
        np.testing.assert_array_equal(part.conditions["block"], part.targets[:, 0, 0].astype(int) % 2)
    from gnode.data import validate

    with pytest.raises(DataError, match=r"conditions \['block'\] must hold one value per trial"):
        validate(dataclasses.replace(data, conditions={"block": np.zeros(4)}))


def test_a_sweep_over_a_data_file_trains_its_cells_as_one_group(tmp_path):
    from gnode.experiment import group_key, sweep_cells, train_group

    data = spikes_file(tmp_path / "spikes.npz")
    base = {"data": str(data), "observation": "poisson", "dim": 2, "dynamics": [8], "batch_size": 8, "epochs": 2}
    cells = sweep_cells(base, {"lr": [1e-3, 1e-2]})
    assert len({group_key(c) for c in cells}) == 1  # the data settings are shared: one vmapped group
    rows = train_group(cells)
    assert all(sorted(r) == sorted(rows[0]) for r in rows) and all(np.isfinite(r["val_bits_per_spike"]) for r in rows)
    assert rows[0]["val_loss"] != rows[1]["val_loss"]  # each member kept its own learning rate
