"""A run killed at any moment resumes to the result of an uninterrupted one; a write that fails stops the command
in one line and keeps what was written before (the long table: experiments/reliability.py)."""

import json
import resource

import faults
import numpy as np
import pytest

SMALL = ["--task", "four_point", "--model", "gnode", "--dim", "2", "--dynamics", "8", "--batch", "50", "--no-progress"]
TIMES = ("seconds", "steps_per_second", "train_seconds_this_process", "train_seconds")
RUN_FILES = ("checkpoint.npz", "model.npz", "metrics.jsonl", "summary.json", "config.json")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """An uninterrupted 6-epoch run."""
    out = tmp_path_factory.mktemp("full") / "run"
    done = faults.run("train", "--out", out, "--epochs", "6", *SMALL)
    assert done.returncode == 0, done.stderr
    return out


def resume(out):
    done = faults.run("train", "--out", out, "--resume", "--no-progress")
    assert done.returncode == 0, done.stderr


def test_killed_during_start_up_resumes_from_epoch_0(full, tmp_path):
    out = tmp_path / "run"
    # between the config and the first checkpoint: building, compiling, the first epoch
    killed = faults.kill_when(["train", "--out", out, "--epochs", "6", *SMALL], lambda: (out / "config.json").exists())
    assert killed and not (out / "checkpoint.npz").exists()
    resume(out)
    assert faults.differences(full, out, RUN_FILES, ignore=TIMES) == []


def test_killed_before_its_config_was_written_starts_anew(full, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / f".config.json{faults.TEMPORARY}123").write_bytes(b"{")  # what a kill inside that write leaves
    done = faults.run("train", "--out", out, "--epochs", "6", "--resume", *SMALL)
    assert done.returncode == 0, done.stderr
    assert faults.differences(full, out, RUN_FILES, ignore=TIMES) == []


def test_killed_inside_a_checkpoint_write_keeps_the_previous_checkpoint(full, tmp_path):
    out, mark = tmp_path / "run", tmp_path / "inside"
    assert faults.kill_inside_write(["train", "--out", out, "--epochs", "6", *SMALL], "checkpoint.npz", 3, mark)
    half = list(out.glob(f".checkpoint.npz{faults.TEMPORARY}*"))
    assert len(half) == 1 and half[0].stat().st_size > 0  # half of epoch 3's checkpoint is on disk
    with np.load(out / "checkpoint.npz") as npz:
        header = bytes(npz["header"]).decode()
    assert '"epoch": 2' in header  # the previous one is whole
    before = [json.loads(line)["seconds"] for line in (out / "metrics.jsonl").read_text().splitlines()[:2]]
    resume(out)
    assert not list(out.glob(f".*{faults.TEMPORARY}*"))
    assert faults.differences(full, out, RUN_FILES, ignore=TIMES) == []
    summary = json.loads((out / "summary.json").read_text())  # the killed process's two epochs count too
    assert summary["train_seconds"] == pytest.approx(summary["train_seconds_this_process"] + sum(before))


def _file_size_limit(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_stops_in_one_line_and_keeps_the_last_checkpoint(full, tmp_path):
    out = tmp_path / "run"
    first = faults.run("train", "--out", out, "--epochs", "3", *SMALL)
    assert first.returncode == 0, first.stderr
    kept = (out / "checkpoint.npz").read_bytes()
    # a file-size limit below a checkpoint's size: the next checkpoint cannot be written
    limit = len(kept) // 2
    cut = faults.run("train", "--out", out, "--resume", "--epochs", "6", *SMALL, preexec_fn=_file_size_limit(limit))
    lines = cut.stderr.strip().splitlines()
    assert cut.returncode == 2 and len(lines) == 1, cut.stderr
    assert "cannot write" in lines[0] and "checkpoint.npz" in lines[0]
    assert (out / "checkpoint.npz").read_bytes() == kept
    assert not list(out.glob(f".*{faults.TEMPORARY}*"))
    resume(out)  # with room again, the run ends as if nothing had happened
    assert faults.differences(full, out, RUN_FILES, ignore=TIMES) == []


def test_an_output_folder_that_cannot_be_made_is_one_line_and_writes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = faults.run("train", "--out", blocker / "run", "--epochs", "1", *SMALL)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and str(blocker) in lines[0], done.stderr
    assert blocker.read_text() == "not a folder"


def _resumed_equals_uninterrupted(tmp_path, args, first_unit, files, ignore=TIMES, prepare=()):
    """``gnode *args --out`` killed once its first unit is stored, run again: the results equal an uninterrupted
    run's and the finished unit was not redone. ``prepare``: a command that first fills both folders."""
    full, cut = tmp_path / "full", tmp_path / "cut"
    for folder in (full, cut) if prepare else ():
        assert faults.run(*prepare, "--out", folder).returncode == 0
    done = faults.run(*args, "--out", full)
    assert done.returncode == 0, done.stderr
    unit = cut / "units" / f"{first_unit}.npz"
    assert faults.kill_when([*args, "--out", cut], unit.exists)
    stored = unit.stat().st_mtime_ns
    again = faults.run(*args, "--out", cut)
    assert again.returncode == 0, again.stderr
    assert unit.stat().st_mtime_ns == stored  # found finished, not fitted again
    assert faults.differences(full, cut, files, ignore=ignore) == []


def test_gdm_fit_killed_after_a_fit_resumes_to_the_same_results(tmp_path):
    args = ["gdm", "fit", "soft_sticky", "--models", "gdm,slds", "--seeds", "1", "--max-iterations", "100",
            "--baseline-iterations", "3"]  # fmt: skip
    files = ["inferred.npz", "fit.json", "models/gdm_seed0.npz", "models/slds_seed0.npz"]
    _resumed_equals_uninterrupted(tmp_path, args, "gdm_seed0", files, ignore=("fit_seconds",))


def test_ncode_killed_after_a_model_resumes_to_the_same_results(tmp_path):
    args = ["ncode", "reflection", "--models", "node,ncode-open", "--epochs", "3", "--steps", "5", "--solver", "heun"]
    files = ["summary.json", "models/node.npz", "models/ncode-open.npz"]
    _resumed_equals_uninterrupted(tmp_path, args, "node_lr0.003", files, ignore=("seconds",))


def test_connector_fit_killed_after_lint_resumes_to_the_same_results(tmp_path):
    args = ["connector", "fit", "--lint-epochs", "3", "--m-epochs", "3", "--n-epochs", "3", "--samples", "64"]
    files = ["fit.json", "lint.npz", "lint_network.npz", "ridge.npz", "connector.npz"]
    seconds = ("lint_seconds", "connector_seconds", "m_seconds", "n_seconds", "m_epoch_seconds_median",
               "n_iteration_seconds_median")  # fmt: skip
    prepare = ["connector", "generate", "quadstable", "--neurons", "200"]
    _resumed_equals_uninterrupted(tmp_path, args, "lint", files, ignore=seconds, prepare=prepare)
