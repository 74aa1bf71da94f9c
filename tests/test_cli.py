import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gnode.cli.main import app

SMALL = ["--task", "four_point", "--model", "gnode", "--dim", "2", "--dynamics", "8", "--batch", "50", "--no-progress"]


def gnode(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "gnode.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def arrays(path):
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_kill_and_resume_gives_identical_parameters(tmp_path):
    epochs = "60"
    full = gnode("train", "--out", str(tmp_path / "full"), "--epochs", epochs, *SMALL)
    assert full.returncode == 0, full.stderr
    # killed from outside at whatever moment it has reached once three epochs are logged
    cut = tmp_path / "cut"
    process = subprocess.Popen(
        [sys.executable, "-m", "gnode.cli.main", "train", "--out", str(cut), "--epochs", epochs, *SMALL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics = cut / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if metrics.is_file() and metrics.read_text().count("\n") >= 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (cut / "summary.json").exists()
    resumed = gnode("train", "--out", str(cut), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    for name in ("checkpoint.npz", "model.npz"):
        a, b = arrays(tmp_path / "full" / name), arrays(cut / name)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert (cut / "metrics.jsonl").read_text().count("\n") == int(epochs)


runner = CliRunner()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "five_bit"], "unknown task"),
        (["--model", "transformer"], "unknown model"),
        (["--dim", "0"], "must be positive"),
        (["--dynamics", "16,0"], "positive"),
        (["--dynamics", "a,b"], "comma-separated"),
        (["--epochs", "0"], "positive"),
        (["--lr", "-1"], "lr > 0"),
        (["--activation", "softsign"], "unknown activation"),
        (["--hold", "-1"], "hold=-1"),
        (["--init-from", "nowhere"], "init_from nowhere"),
    ],
)
def test_bad_arguments_one_line_error(tmp_path, args, message):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "r"), "--no-progress", *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "r").exists()


def test_fine_tune_on_a_hold(tmp_path):
    assert runner.invoke(app, ["train", "--out", str(tmp_path / "a"), *SMALL, "--epochs", "1"]).exit_code == 0
    args = ["--hold", "20", "--init-from", str(tmp_path / "a"), "--epochs", "1"]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "b"), *SMALL, *args])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["hold"] == 20 and config["init_from"] == str(tmp_path / "a") and config["steps"] == 100


def test_a_single_layer_model_trains_without_widths_given(tmp_path):
    args = ["--task", "four_point", "--model", "gru", "--dim", "4", "--batch", "50", "--epochs", "1", "--no-progress"]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "config.json").read_text())["dynamics"] == []


def test_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    result = runner.invoke(app, ["train", "--out", str(out), *SMALL, "--epochs", "1"])
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]


def test_resume_errors(tmp_path):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "none"), "--resume"])
    assert result.exit_code == 2 and "no run in" in result.stderr
    ok = runner.invoke(app, ["train", "--out", str(tmp_path / "r"), *SMALL, "--epochs", "1"])
    assert ok.exit_code == 0, ok.output
    ckpt: Path = tmp_path / "r" / "checkpoint.npz"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "r"), "--resume", "--epochs", "2", *SMALL])
    assert result.exit_code == 2 and "corrupt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_file_and_unknown_keys(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('task = "ring"\nmodel = "gnode"\ndim = 2\ndynamics = [8]\nepochs = 1\nbatch_size = 100\n')
    ok = runner.invoke(app, ["train", "--out", str(tmp_path / "r"), "--config", str(cfg), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert '"task": "ring"' in (tmp_path / "r" / "config.json").read_text()
    assert "val_r2" in (tmp_path / "r" / "summary.json").read_text()
    cfg.write_text('task = "ring"\nwidth = 3\n')
    bad = runner.invoke(app, ["train", "--out", str(tmp_path / "r2"), "--config", str(cfg)])
    assert bad.exit_code == 2 and "unknown config keys ['width']" in bad.stderr


def test_analyze_a_run_and_its_errors(tmp_path):
    run = tmp_path / "r"
    assert runner.invoke(app, ["train", "--out", str(run), *SMALL, "--epochs", "1"]).exit_code == 0
    ok = runner.invoke(app, ["analyze", str(run), "--starts", "32", "--trials", "4"])
    assert ok.exit_code == 0, ok.output
    assert "dimension at slow points" in ok.output
    for name in ("summary.json", "report.html", "plane.png", "readout.png", "spectra.png"):
        assert (run / "analysis" / name).is_file(), name
    again = runner.invoke(app, ["analyze", str(run), "--starts", "32"])
    assert again.exit_code == 2 and "already holds an analysis" in again.stderr
    (run / "model.npz").unlink()
    missing = runner.invoke(app, ["analyze", str(run), "--out", str(tmp_path / "a2")])
    assert missing.exit_code == 2 and "model.npz: not found" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    nothing = runner.invoke(app, ["analyze", str(tmp_path / "nothing")])
    assert nothing.exit_code == 2 and "no run in" in nothing.stderr
    empty = runner.invoke(app, ["analyze", str(run), "--starts", "0"])
    assert empty.exit_code == 2 and "--starts and --trials must be positive" in empty.stderr


def test_demo_writes_its_report_and_never_overwrites(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--epochs", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    for name in ("report.txt", "summary.json", "analysis/report.html", "analysis/plane.png", "run/model.npz"):
        assert (out / name).is_file(), name
    assert "dimension at slow points" in (out / "report.txt").read_text()
    again = runner.invoke(app, ["demo", "--out", str(out), "--epochs", "2", "--no-progress"])
    assert again.exit_code == 2 and "not empty" in again.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[grid]\nlayers = [1, 2]\n", "unknown config keys"),
        ("[grid]\nlr = []\n", "'lr' is empty"),
        ("[base]\nn_train = 20\n[grid]\nbatch_size = [10, 50]\n", "batch size 50 exceeds"),
        ("[grid]\nlr = [0.1]\n[sweep]\nx = 1\n", "unknown sections"),
        ("[grid\n", "is not valid"),
        ('[base]\ndynamics = [8]\n[grid]\nmodel = ["gnode", "gru"]\n', "model 'gru' has single-layer networks"),
        ('[base]\nmodel = "node"\n[grid]\ngate = [[], [8]]\n', "model 'node' has no gate network"),
    ],
)
def test_bad_sweep_files_stop_before_anything_runs(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text)
    result = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_sweep_writes_a_table_and_resumes(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[base]\ntask = "four_point"\ndynamics = [8]\nn_train = 40\nn_val = 20\nbatch_size = 20\nepochs = 1\n'
        "[grid]\nlr = [0.001, 0.01]\nbatch_size = [10, 20]\n"
    )
    first = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert first.exit_code == 0, first.output
    assert "4 cells, 0 already finished, 2 groups" in first.output
    assert len((tmp_path / "out" / "results.csv").read_text().splitlines()) == 5
    again = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert "4 already finished, 0 groups" in again.output


def test_sweep_extends_the_learning_rate_past_the_grid_edge_at_the_best_cell(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[base]\ntask = "four_point"\ndynamics = [8]\nn_train = 40\nn_val = 20\nbatch_size = 20\nepochs = 3\n'
        "[grid]\nlr = [1e-6, 1e-5]\nweight_decay = [0.0, 0.1]\ndim = [2, 3]\n"
    )
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--extend-lr", "2"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    with open(tmp_path / "out" / "results.csv") as file:
        rows = list(csv.DictReader(file))
    for dim in ("2", "3"):  # each setting other than the optimiser's is extended at its own best cell
        mine = [r for r in rows if r["dim"] == dim]
        added = [r for r in mine if float(r["lr"]) not in (1e-6, 1e-5)]
        # rates this small barely move in 3 epochs, so the largest is best and the grid grows upward: 3e-5, 1e-4
        assert sorted(float(r["lr"]) for r in added) == [3e-5, 1e-4][: len(added)] and len(added) >= 1
        best = min((r for r in mine if r not in added), key=lambda r: float(r["val_loss"]))
        assert {r["weight_decay"] for r in added} == {best["weight_decay"]}  # at the best cell's other settings
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())  # the whole command's, extensions too
    groups = len(list((tmp_path / "out" / "groups").glob("*.json")))
    assert summary["cells"] == summary["finished_cells"] == len(rows) and summary["groups_run_now"] == groups >= 4
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 groups to run" in again.output and "1 groups to run" not in again.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["cells"] == len(rows) and summary["groups_run_now"] == 0


def test_expressivity_writes_capacity_table_and_figures(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(
        "[base]\niterations = 50\nsteps = 30\n[grid]\nmodel = ['gnode', 'node']\ndim = [2]\ndepth = [0]\n"
        "knots = [2, 4]\nseed = [0, 1]\n[measure]\nthreshold = 0.8\n"
    )
    result = runner.invoke(app, ["expressivity", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    for name in ("results.csv", "capacity.csv", "capacity.md", "r2_vs_k.png", "capacity_vs_n.png", "gating.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "expressivity.json").read_text())
    assert summary["fits"] == 8 and {r["model"] for r in summary["capacity"]} == {"gnode", "node"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[grid]\nlayers = [1]\n", "unknown expressivity settings"),
        ("[grid]\nknots = []\n", "'knots' is empty"),
        ("[grid]\ndim = [4, 0]\n", "must be positive"),
        ("[measure]\nthreshold = 1.5\n", "threshold must lie in (0, 1)"),
        ("[measure]\nlevel = 0.5\n", "unknown [measure] settings"),
    ],
)
def test_bad_expressivity_files_stop_before_anything_runs(tmp_path, text, message):
    path = tmp_path / "e.toml"
    path.write_text(text)
    result = runner.invoke(app, ["expressivity", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_bench_real_writes_the_table_and_resumes(tmp_path):
    out = tmp_path / "jv"
    args = ["bench-real", "japanese-vowels", "--out", str(out), "--drop", "0.5", "--models", "gnode,node"]
    args += ["--seeds", "2", "--budget", "300", "--epochs", "2", "--batch", "64", "--lrs", "1e-3,1e-2"]
    args += ["--extend-lrs", "1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    table = (out / "table.md").read_text()
    assert "JapaneseVowels, 50 % of points dropped" in table and "| gnODE |" in table and "gnODE − nODE" in table
    assert "2 (cap)" in table  # two epochs, no early stop: the budget is marked as the cap
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert len(rows) == 12 and {r["epochs_run"] for r in rows} == {2}  # 2 models x (2 + 1 added) rates x 2 seeds
    for model in ("gnode", "node"):  # the added rate is the neighbour past the edge the first choice landed on
        rates = sorted({r["lr"] for r in rows if r["model"] == model})
        assert rates in ([3e-4, 1e-3, 1e-2], [1e-3, 1e-2, 3e-2]), rates
        assert len({r["lr"] for r in rows if r["model"] == model and r["selected"]}) == 1
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and json.loads((out / "results.json").read_text())["rows"] == rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench-real", "mnist"], "unknown task 'mnist'"),
        (["bench-real", "character-trajectories"], "needs --data-dir"),
        (["bench-real", "character-trajectories", "--data-dir", "nowhere"], "CharacterTrajectories_TRAIN.ts: no such"),
        (["bench-real", "japanese-vowels", "--models", "gnode,lstm2"], "unknown model(s) ['lstm2']"),
        (["bench-real", "keywords", "--data-dir", "nowhere"], "nowhere: no such directory"),
        (["bench-real", "walker2d", "--lrs", "fast"], "--lrs must be comma-separated numbers"),
    ],
)
def test_bench_real_bad_arguments_one_line_error(tmp_path, args, message):
    result = gnode(*args, "--out", str(tmp_path / "out"))
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_ncode_reflection_writes_its_summary_and_figure(tmp_path):
    out = tmp_path / "reflection"
    result = CliRunner().invoke(app, ["ncode", "reflection", "--out", str(out), "--models", "node", "--epochs", "2",
                                      "--steps", "5", "--solver", "heun"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["test_mse"]) == {"node"}
    assert summary["models"]["node"]["test"]["nfe"] == [10.0]  # Heun: 2 evaluations x 5 steps
    assert (out / "reflection.png").exists()
    printed = CliRunner().invoke(app, ["ncode", "table", str(out)])
    assert printed.exit_code == 0 and "| node |" in printed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ncode", "annulus", "--models", "node,ncode-feedback"], "unknown model 'ncode-feedback'"),
        (["ncode", "autoencode", "--mode", "feedback"], "unknown control mode 'feedback'"),
        (["ncode", "digits", "--solver", "rk45"], "unknown solver 'rk45'"),
    ],
)
def test_ncode_bad_options_are_one_line_errors(tmp_path, args, message):
    result = gnode(*args, "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_ncode_table_of_a_missing_or_foreign_folder_is_a_one_line_error(tmp_path):
    missing = gnode("ncode", "table", str(tmp_path))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "summary.json").write_text('{"task": "ring"}')
    foreign = gnode("ncode", "table", str(tmp_path))
    assert foreign.returncode == 2 and "not an N-CODE summary" in foreign.stderr
    assert len(foreign.stderr.strip().splitlines()) == 1
