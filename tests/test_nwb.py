"""NWB files written here with pynwb: spike counts and series binned by hand, inputs and labels from the trials
table, causal smoothing, and one-line errors."""

from datetime import UTC, datetime

import numpy as np
import pytest

from gnode.datasets.nwb import causal_smooth, read_nwb
from gnode.errors import DataError

pynwb = pytest.importorskip("pynwb")

SPIKES = [np.array([0.005, 0.012, 0.018, 0.31, 0.52]), np.array([0.101, 0.102, 0.455]), np.array([0.9])]
TRIALS = [(0.0, 0.2, 1.0, 0.05, "left"), (0.3, 0.6, -1.0, 0.42, "right"), (0.45, 0.55, 1.0, np.nan, "left")]


def write_nwb(path, series=False):
    nwb = pynwb.NWBFile("test", "id", datetime(2026, 1, 1, tzinfo=UTC))
    for times in SPIKES:
        nwb.add_unit(spike_times=times)
    nwb.add_trial_column("context", "the context")
    nwb.add_trial_column("cue_time", "when the cue came")
    nwb.add_trial_column("side", "the answer")
    for start, stop, context, cue, side in TRIALS:
        nwb.add_trial(start_time=start, stop_time=stop, context=context, cue_time=cue, side=side)
    if series:
        timestamps = np.arange(0, 1, 0.004)
        values = np.stack([np.sin(timestamps), timestamps], 1)
        nwb.add_acquisition(pynwb.TimeSeries(name="lfp", data=values, unit="V", timestamps=timestamps))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_spikes_are_counted_per_bin_of_each_trial_and_padded(tmp_path):
    trials = read_nwb(write_nwb(tmp_path / "a.nwb"), bin_width=0.05, inputs=["context", "cue_time"])
    data = trials.data
    assert data.targets.shape == (3, 6, 3) and trials.channels == ["0", "1", "2"]
    np.testing.assert_array_equal(data.mask.sum(axis=1), [4, 6, 2])  # 0.2 s, 0.3 s and 0.1 s of 0.05 s bins
    np.testing.assert_array_equal(data.targets[0, :4, 0], [3, 0, 0, 0])
    np.testing.assert_array_equal(data.targets[0, :4, 1], [0, 0, 2, 0])
    np.testing.assert_array_equal(data.targets[1, :6, 1], [0, 0, 0, 1, 0, 0])  # 0.455 in [0.45, 0.5)
    np.testing.assert_array_equal(data.targets[1, :6, 0], [1, 0, 0, 0, 1, 0])  # 0.31 and 0.52
    np.testing.assert_array_equal(data.inputs[0, :4, 0], 1.0)  # a constant condition
    np.testing.assert_array_equal(data.inputs[1, :, 1], [0, 0, 1, 0, 0, 0])  # the cue at 0.42 = bin 2 of trial 1
    assert not data.inputs[2, :, 1].any()  # NaN: no pulse
    assert trials.columns["side"].tolist() == ["left", "right", "left"]


def test_windows_around_an_event_labels_and_series(tmp_path):
    path = write_nwb(tmp_path / "a.nwb", series=True)
    trials = read_nwb(path, align="start_time", window=(-0.05, 0.1), bin_width=0.05, labels="side")
    assert trials.data.is_classification and trials.classes == ["left", "right"]
    assert trials.data.targets.tolist() == [0, 1, 0] and trials.data.inputs.shape == (3, 3, 3)
    np.testing.assert_array_equal(trials.data.inputs[0, :, 0], [0, 3, 0])  # [-0.05, 0), [0, 0.05), [0.05, 0.1)
    series = read_nwb(path, series="lfp", window=(0.0, 0.1), bin_width=0.02)
    stamps = np.arange(0, 1, 0.004)
    expected = stamps[(stamps >= 0.3) & (stamps < 0.32)].mean()
    np.testing.assert_allclose(series.data.targets[1, 0, 1], expected, rtol=1e-5)


def test_causal_smoothing_never_reaches_back():
    spike = np.zeros((20, 1))
    spike[5] = 1.0
    smoothed = causal_smooth(spike, 2.0)
    assert not smoothed[:5].any() and smoothed[5, 0] == smoothed.max()
    np.testing.assert_allclose(smoothed.sum(), 1.0, rtol=1e-6)
    assert np.all(np.diff(smoothed[5:, 0]) <= 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(align="cue"), "no trials column 'cue' to align on"),
        (dict(align="cue_time"), "must hold finite times"),
        (dict(align="stop_time"), "needs a window"),
        (dict(inputs=["side"]), "input column 'side' must hold numbers"),
        (dict(inputs=["speed"]), "no trials column 'speed'"),
        (dict(labels="colour"), "no trials column 'colour' for labels"),
        (dict(series="eeg"), "no 'eeg'"),
        (dict(units="ecephys/units"), "no 'ecephys/units'"),
        (dict(window=(0.0, 0.001)), "holding one bin"),
        (dict(bin_width=0.5), "less than one bin"),
    ],
)
def test_bad_settings_name_the_file_in_one_line(tmp_path, kwargs, message):
    path = write_nwb(tmp_path / "a.nwb")
    with pytest.raises(DataError) as error:
        read_nwb(path, **kwargs)
    text = str(error.value)
    assert message in text and str(path) in text and len(text.splitlines()) == 1, text


def test_foreign_and_broken_files(tmp_path):
    garbage = tmp_path / "g.nwb"
    garbage.write_bytes(b"not hdf5 at all")
    for path, message in ((garbage, "not a readable NWB file"), (tmp_path / "none.nwb", "no such file")):
        with pytest.raises(DataError, match=message):
            read_nwb(path)
    empty = pynwb.NWBFile("test", "id", datetime(2026, 1, 1, tzinfo=UTC))
    with pynwb.NWBHDF5IO(str(tmp_path / "e.nwb"), "w") as io:
        io.write(empty)
    with pytest.raises(DataError, match="has no trials table"):
        read_nwb(tmp_path / "e.nwb")


def test_gnode_train_and_analyze_an_nwb_recording(tmp_path):
    import json

    from typer.testing import CliRunner

    from gnode.cli.main import app

    nwb = pynwb.NWBFile("test", "id", datetime(2026, 1, 1, tzinfo=UTC))
    rng = np.random.default_rng(0)
    for _ in range(5):
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 24, 200)))
    nwb.add_trial_column("context", "the context")
    for k in range(24):
        nwb.add_trial(start_time=float(k), stop_time=k + 0.5 + 0.25 * (k % 2), context=float(k % 2))
    with pynwb.NWBHDF5IO(str(tmp_path / "rec.nwb"), "w") as io:
        io.write(nwb)
    runner = CliRunner()
    args = ["train", "--out", str(tmp_path / "run"), "--data", str(tmp_path / "rec.nwb"), "--bin", "50ms",
            "--nwb-inputs", "context", "--observation", "poisson", "--initial-state", "encoder", "--dim", "3",
            "--dynamics", "8", "--batch", "6", "--epochs", "2", "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["dt"] == 0.05 and config["nwb_inputs"] == ["context"]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trials"] == {"train": 19, "val": 5} and np.isfinite(summary["val_bits_per_spike"])
    analysis = runner.invoke(app, ["analyze", str(tmp_path / "run"), "--starts", "32", "--trials", "4", "--input",
                                   "mean-by:context"])  # fmt: skip
    assert analysis.exit_code == 0, analysis.output
    for context in ("0.0", "1.0"):  # the trials table's column, split with the trials
        assert (tmp_path / "run" / "analysis" / f"context={context}" / "report.html").is_file()
    bads = [
        (["--bin", "ten"], "--bin must be a duration"),
        (["--bin", "50ms", "--dt", "0.1"], "disagree"),
        (["--smooth", "2ms", "--data", str(tmp_path / "x.npz")], "settings of an .nwb data file"),
    ]
    for bad, message in bads:
        result = runner.invoke(app, ["train", "--out", str(tmp_path / "bad"), *bad])
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "bad").exists()
