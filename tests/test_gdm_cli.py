"""``gnode gdm fit --data``, ``infer`` and ``select`` on users' trials: saved models that load to the same answers,
model selection, NWB recordings, and one-line errors that write nothing."""

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from gnode.cli.main import app
from gnode.gdm.data import load_switching, switching_data
from gnode.gdm.runs import SwitchingConfig, fit_switching, infer_switching, load_fit, save_fit
from gnode.reproduce.gdm.nascar import nascar_trials

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Short NASCAR paths of different lengths as a ragged file (training) and a padded, masked one (new trials)."""
    folder = tmp_path_factory.mktemp("switching")
    paths = nascar_trials(trials=12, time=80, seed=0)
    cut = [p.observations[: 80 - 5 * (i % 3)] for i, p in enumerate(paths)]
    labels = [p.labels[: len(c)] for p, c in zip(paths, cut, strict=True)]
    np.savez(folder / "train.npz", observations=np.concatenate(cut), lengths=[len(c) for c in cut],
             states=np.concatenate(labels))  # fmt: skip
    new = switching_data([p.observations for p in nascar_trials(trials=4, time=60, seed=1)])
    np.savez(folder / "new.npz", observations=np.where(new.mask[..., None], new.observations, np.nan), mask=new.mask)
    return folder


def test_fit_saves_a_model_that_infers_new_trials_as_the_fitted_one_does(files, tmp_path):
    args = ["gdm", "fit", "--data", str(files / "train.npz"), "--model", "arhmm", "--states", "4", "--out",
            str(tmp_path / "fit"), "--baseline-iterations", "10"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert record["switching"]["model"] == "arhmm" and record["trials"] == 12
    result = runner.invoke(app, ["gdm", "infer", str(tmp_path / "fit"), "--data", str(files / "new.npz"), "--out",
                                 str(tmp_path / "inferred"), "--steps", "5"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "inferred" / "inferred.npz") as saved:
        arrays = dict(saved)
    assert arrays["states"].shape == (4, 60, 4) and arrays["forecast"].shape == (4, 60, 10)
    summary = json.loads((tmp_path / "inferred" / "summary.json").read_text())
    assert summary["one_step_r2"] > 0.95 and "matched_state_accuracy" not in summary  # no known states given
    for figure in ("states.png", "forecasts.png"):
        assert (tmp_path / "inferred" / figure).stat().st_size > 1000
    # what the saved model says equals what the model fitted in memory says
    data = load_switching(files / "train.npz")
    fitted = fit_switching(data, SwitchingConfig(model="arhmm", states=4, iterations=10))
    direct = infer_switching(fitted, load_switching(files / "new.npz"), 5)
    for key in ("states", "reconstruction", "forecast"):
        np.testing.assert_allclose(direct[key], arrays[key], atol=1e-5)


@pytest.mark.parametrize("model", ["gdm", "gdm-rnn", "rslds"])
def test_every_model_round_trips_through_its_folder(files, tmp_path, model):
    data = load_switching(files / "train.npz")
    config = SwitchingConfig(model=model, states=3, max_iterations=20, iterations=2, batch=4)
    fitted = fit_switching(data, config)
    save_fit(tmp_path, fitted)
    loaded = load_fit(tmp_path)
    assert loaded.config == config and loaded.observations == 10
    new = load_switching(files / "new.npz")
    a, b = infer_switching(fitted, new, 3, seed=2), infer_switching(loaded, new, 3, seed=2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_select_prefers_the_true_number_of_states_to_too_few(files, tmp_path):
    args = ["gdm", "select", "--data", str(files / "train.npz"), "--model", "arhmm", "--states", "2,4",
            "--folds", "3", "--baseline-iterations", "15", "--out", str(tmp_path / "select")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    selection = json.loads((tmp_path / "select" / "selection.json").read_text())
    scores = {row["states"]: row for row in selection["rows"]}
    assert len(scores[4]["scores"]) == 3 and sorted(selection["trials_per_fold"]) == [4, 4, 4]
    assert scores[4]["mean"] > scores[2]["mean"] and selection["chosen"]["states"] == 4
    assert "| 4 |" in (tmp_path / "select" / "selection.md").read_text()
    assert (tmp_path / "select" / "selection.png").is_file()


def test_an_nwb_recording_is_read_through_the_shared_loader(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    nwb = pynwb.NWBFile("test", "id", datetime(2026, 1, 1, tzinfo=UTC))
    rng = np.random.default_rng(0)
    for _ in range(4):
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 12, 150)))
    for k in range(12):
        nwb.add_trial(start_time=float(k), stop_time=k + 0.5 + 0.2 * (k % 2))
    with pynwb.NWBHDF5IO(str(tmp_path / "rec.nwb"), "w") as io:
        io.write(nwb)
    args = ["gdm", "fit", "--data", str(tmp_path / "rec.nwb"), "--bin", "50ms", "--observation", "poisson",
            "--states", "2", "--max-iterations", "100", "--out", str(tmp_path / "fit")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert load_fit(tmp_path / "fit").observations == 4
    result = runner.invoke(app, ["gdm", "infer", str(tmp_path / "fit"), "--data", str(tmp_path / "rec.nwb"),
                                 "--bin", "50ms", "--steps", "2", "--out", str(tmp_path / "inferred")])  # fmt: skip
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "inferred" / "inferred.npz") as saved:
        assert saved["lengths"].tolist() == [10, 14] * 6  # 0.5 s and 0.7 s of 50 ms bins


@pytest.mark.bad_input
def test_bad_requests_are_one_line_errors_that_write_nothing(files, tmp_path):
    data, out = str(files / "train.npz"), tmp_path / "out"
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, observations=np.zeros((3, 20, 4)))
    cases = [
        (["fit", "--out", str(out)], "one of them"),
        (["fit", "standard", "--data", data, "--out", str(out)], "one of them"),
        (["fit", "--data", data, "--model", "hmm", "--out", str(out)], "unknown model 'hmm'"),
        (["fit", "--data", data, "--model", "slds", "--observation", "poisson", "--out", str(out)], "Gaussian"),
        (["fit", "--data", data, "--states", "1", "--out", str(out)], "K >= 2"),
        (["fit", "--data", str(tmp_path / "none.npz"), "--out", str(out)], "no such file"),
        (["infer", str(tmp_path / "nothing"), "--data", data, "--out", str(out)], "not found"),
        (["select", "--data", data, "--folds", "20", "--out", str(out)], "cannot make 20 folds"),
        (["select", "--data", data, "--states", "", "--out", str(out)], "numbers of states"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["gdm", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert not out.exists()
    fitted = tmp_path / "fitted"
    assert runner.invoke(app, ["gdm", "fit", "--data", data, "--model", "arhmm", "--baseline-iterations", "2",
                               "--out", str(fitted)]).exit_code == 0  # fmt: skip
    for args, message in [
        (["infer", str(fitted), "--data", str(wrong), "--out", str(out)], "4 observed dimensions, the model has 10"),
        (["infer", str(fitted), "--data", data, "--steps", "500", "--out", str(out)], "500-step forecast"),
        (["fit", "--data", data, "--out", str(fitted)], "not empty"),
    ]:
        result = runner.invoke(app, ["gdm", *args])
        assert result.exit_code == 2 and message in result.output, result.output
        assert not out.exists()
