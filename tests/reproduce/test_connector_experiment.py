import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gnode
from gnode.cli.main import app
from gnode.connector.lint import LintConfig
from gnode.connector.model import Connector, ConnectorConfig
from gnode.reproduce.connector.experiment import distances, evaluate, fit

pytestmark = pytest.mark.claims  # trains to a result the paper reports (still runs in CI)

FAST = dict(lint=LintConfig(epochs=2), connector=ConnectorConfig(m_epochs=2, n_epochs=2, samples=64, width=16))


def test_pipeline_writes_every_artefact(tmp_path):
    out = tmp_path / "quadstable"
    result = CliRunner().invoke(app, ["connector", "generate", "quadstable", "--out", str(out), "--neurons", "200"])
    assert result.exit_code == 0, result.output
    fitted = fit(out, **FAST)
    assert fitted["n_iteration_seconds_median"] > 0 and fitted["m_epoch_seconds_median"] > 0
    lint = gnode.load(out / "lint_network.npz")  # both fits are saved, and load without a skeleton
    with np.load(out / "lint.npz") as arrays:
        np.testing.assert_array_equal(lint.m, arrays["m"])
    assert isinstance(gnode.load(out / "connector.npz"), Connector)
    result = CliRunner().invoke(app, ["connector", "sample", "--out", str(out), "--count", "50", "--sigma", "0.5"])
    assert result.exit_code == 0, result.output
    with np.load(out / "samples.npz") as samples:
        assert samples["m"].shape == samples["n"].shape == (50, 2)
    summary = evaluate(out, samples=200, components=range(3, 6))
    assert summary["flow_field_error"]["ground truth"] == 0.0
    assert summary["flow_field_error"]["ridge (A3)"] < 0.05  # the identifiable estimate reproduces the field
    draws = summary["flow_field_error_draws"]
    assert len(draws["fresh ground-truth draw"]) == len(draws["Connector σ=0"]) == 5
    assert 0 < summary["flow_field_error"]["fresh ground-truth draw"] < 0.5  # 200 neurons: a finite-size spread
    assert summary["gmm_argmax"]["ground truth"] == 4  # 200 neurons: the one-standard-error rule is wider
    assert (
        len(summary["inactivation"]["relative_error"]) == len(summary["inactivation"]["fresh_ground_truth_error"]) == 4
    )
    assert json.loads((out / "summary.json").read_text())["ensemble"] == "quadstable"
    for figure in ("phase.png", "flow_fields.png", "marginals_n.png", "gmm_cv.png"):
        assert (out / figure).stat().st_size > 0
    result = CliRunner().invoke(app, ["connector", "table", str(out)])
    assert result.exit_code == 0 and "| quadstable |" in result.output, result.output
    matrix = distances([out, out], samples=100)
    assert np.shape(matrix["distance"]) == (2, 2)


def test_steps_out_of_order_are_one_line_errors(tmp_path):
    for args in (["fit", "--out", str(tmp_path)], ["generate", "tristable", "--out", str(tmp_path)],
                 ["fit", "--out", str(tmp_path), "--loadings", "guess"],
                 ["fit", "--out", str(tmp_path), "--latents", "guess"],
                 ["fit", "--out", str(tmp_path), "--schedule", "guess"],
                 ["evaluate", "--out", str(tmp_path)], ["table", str(tmp_path)]):  # fmt: skip
        result = CliRunner().invoke(app, ["connector", *args])
        assert result.exit_code == 2, result.output
