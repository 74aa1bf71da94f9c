import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gnode
from gnode.cli.main import app
from gnode.gdm.fit import GDMFitConfig
from gnode.gdm.model import GDM
from gnode.gdm.posterior import LinearPosterior
from gnode.gdm.slds import SLDS
from gnode.reproduce.gdm.experiment import evaluate_nascar, fit_nascar

pytestmark = pytest.mark.claims  # trains to a result the paper reports (still runs in CI)


def test_fit_then_evaluate_scores_both_protocols(tmp_path):
    fit_nascar(tmp_path, "soft_sticky", models=("gdm", "slds"), seeds=[0, 1],
               config=GDMFitConfig(max_iterations=100), baseline_iterations=3, paths=(2, 3))  # fmt: skip
    result = CliRunner().invoke(app, ["gdm", "evaluate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "fair protocol" in result.output and "paper protocol" in result.output
    assert "gdm: learned stickiness γ" in result.output and "slds: learned" not in result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    fair, paper = summary["runs"]["fair"], summary["runs"]["paper"]
    assert [r["seed"] for r in fair["slds"]] == [0, 1]
    # the authors' protocol scores the baselines' training posterior on the test path: a worse test R²
    assert paper["slds"][0]["r2_test"] < fair["slds"][0]["r2_test"] - 0.3
    # GDM's states are inferred on the test path in both protocols; only its forecast's starting sequence differs
    assert paper["gdm"][0]["state_accuracy"] == fair["gdm"][0]["state_accuracy"]
    assert summary["data"]["train_seed"] == 2 and summary["data"]["test_seed"] == {"fair": 3, "paper": 3}
    for name in ("states.png", "forecasts.png", "table.md"):
        assert (tmp_path / name).stat().st_size > 0
    gdm, posterior = gnode.load(tmp_path / "models" / "gdm_seed1.npz")  # each fit is saved
    assert isinstance(gdm, GDM) and isinstance(posterior, LinearPosterior)
    assert isinstance(gnode.load(tmp_path / "models" / "slds_seed0.npz"), SLDS)
    again = evaluate_nascar(tmp_path)  # scoring is deterministic
    assert np.isclose(again["mean"]["fair"]["gdm"]["state_accuracy"], summary["mean"]["fair"]["gdm"]["state_accuracy"])


def test_bad_requests_are_one_line_errors(tmp_path):
    for args in (["fit", "daytona", "--out", str(tmp_path)],
                 ["fit", "standard", "--out", str(tmp_path), "--models", "gdm,lstm"],
                 ["fit", "standard", "--out", str(tmp_path), "--states", "1"],
                 ["fit", "standard", "--out", str(tmp_path), "--max-iterations", "150"],
                 ["fit", "standard", "--out", str(tmp_path), "--train-path", "4", "--test-path", "4"],
                 ["evaluate", "--out", str(tmp_path / "none")]):  # fmt: skip
        result = CliRunner().invoke(app, ["gdm", *args])
        assert result.exit_code == 2 and "error" in result.output, result.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_train_projection_reaches_the_fit_and_its_record(tmp_path):
    runs = {}
    for flag in ("--train-projection", "--no-train-projection"):
        out = tmp_path / flag
        args = ["gdm", "fit", "soft_sticky", "--out", str(out), "--models", "gdm", "--seeds", "1",
                "--max-iterations", "100", flag]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        runs[flag] = json.loads((out / "fit.json").read_text())
        runs[flag]["states"] = np.load(out / "inferred.npz")["fair__gdm__0__test__states"]
    assert runs["--train-projection"]["train_projection"] and not runs["--no-train-projection"]["train_projection"]
    # the same seed and data: only a learned F makes the inferred states differ
    assert not np.allclose(runs["--train-projection"]["states"], runs["--no-train-projection"]["states"])
