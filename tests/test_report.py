import json

import jax.random as jr
import numpy as np
import pytest

from gnode.analysis.fixed_points import FixedPointFinder
from gnode.analysis.report import AnalysisConfig, analyze
from gnode.errors import ConfigError
from gnode.model import make_model
from gnode.tasks import FLIPFLOP_TASKS, make_flipflop

SMALL = AnalysisConfig(starts=64, trials=8, hold_factor=1.0, finder=FixedPointFinder(max_steps=300))


@pytest.mark.parametrize("task, dim", [("four_point", 2), ("three_bit_variable", 4)])
def test_analysis_writes_figures_summary_and_report(tmp_path, task, dim):
    _, val = make_flipflop(task, n_train=1, n_val=8)
    channels = val.inputs.shape[-1]
    model = make_model("gnode", dim, channels, channels, flow_widths=(16,), key=jr.key(0))
    summary = analyze(model, val.inputs, FLIPFLOP_TASKS[task].storable, tmp_path / "a", SMALL, title=task)
    written = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert written["fixed_points"] == summary["fixed_points"]
    assert written["fixed_points"]["starts"] == 64
    assert written["drift"]["hold_seconds"] == pytest.approx(1.0)
    for figure in summary["figures"]:
        assert (tmp_path / "a" / figure).stat().st_size > 1000
    assert ("plane.png" in summary["figures"]) == (dim == 2)
    assert ("cloud.png" in summary["figures"]) == (dim != 2)
    page = (tmp_path / "a" / "report.html").read_text()
    assert "drift.median_drift_fraction" in page and all(f in page for f in summary["figures"])
    listed = written.get("fixed_point_list", [])
    assert len(listed) == min(summary["fixed_points"]["fixed_points"], 64)
    for point in listed:  # each listed point is a zero of v, with its class and spectrum
        assert point["q"] < 1e-10 and len(point["state"]) == dim and len(point["eigenvalues_real"]) == dim
        assert point["stability"].split("-")[0] in ("stable", "saddle", "unstable")
    with pytest.raises(ConfigError, match="already holds"):
        analyze(model, val.inputs, FLIPFLOP_TASKS[task].storable, tmp_path / "a", SMALL)


def test_bad_inputs(tmp_path):
    model = make_model("gnode", 2, 2, 2, flow_widths=(4,), key=jr.key(0))
    with pytest.raises(ConfigError, match="inputs must be"):
        analyze(model, np.zeros((4, 10, 3)), None, tmp_path / "a", SMALL)
    with pytest.raises(ConfigError, match="inputs must be non-empty"):
        analyze(model, np.zeros((0, 10, 2)), None, tmp_path / "a", SMALL)
    with pytest.raises(ConfigError, match="NaN"):
        analyze(model, np.full((4, 10, 2), np.nan), None, tmp_path / "a", SMALL)
    with pytest.raises(ConfigError, match="storable set lives in 3-D"):
        analyze(model, np.zeros((4, 10, 2)), FLIPFLOP_TASKS["three_bit"].storable, tmp_path / "b", SMALL)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_any_hand_written_field_gets_the_same_analysis_with_known_answers(tmp_path):
    import jax.numpy as jnp

    from gnode.analysis import analyze_field
    from gnode.tasks.storable import circle

    def ring(h, x):  # a ring attractor of radius 1 around an unstable origin
        return h * (1.0 - jnp.sum(h * h))

    h0 = np.asarray(jr.normal(jr.key(0), (16, 2))) * 0.8
    summary = analyze_field(ring, h0, np.zeros((16, 40, 0)), tmp_path / "ring", SMALL, storable=circle(1.0))
    assert summary["dimension"] == 1 and summary["fixed_points"]["unstable"] == 1
    radii = {p["stability"]: [] for p in summary["fixed_point_list"]}
    for p in summary["fixed_point_list"]:
        radii[p["stability"]].append(np.linalg.norm(p["state"]))
    np.testing.assert_allclose(radii["stable"], 1.0, atol=1e-4)  # every stable point on the ring, and many
    assert len(radii["stable"]) > 20 and radii["unstable"] == [pytest.approx(0.0, abs=1e-5)]
    assert summary["shape"]["chamfer"] < 0.1  # the origin, a slow point off the ring, counts in the mean
    page = (tmp_path / "ring" / "report.html").read_text()
    assert "A 1-dimensional continuous attractor" in page and "1 unstable" in page

    def bistable(h, x):  # stable at -1 and 1, unstable at 0; one stable point under a constant push x = 1
        return h - h**3 + x

    h0, inputs = np.linspace(-2, 2, 8)[:, None], np.zeros((8, 30, 1))
    summary = analyze_field(bistable, h0, inputs, tmp_path / "bistable", SMALL)
    fixed = summary["fixed_points"]
    assert (fixed["stable"], fixed["unstable"], summary["dimension"]) == (2, 1, 0)
    states = sorted(p["state"][0] for p in summary["fixed_point_list"])
    np.testing.assert_allclose(states, [-1.0, 0.0, 1.0], atol=1e-5)
    pushed = analyze_field(bistable, h0, inputs, tmp_path / "pushed", SMALL, held_input=[1.0])
    (point,) = pushed["fixed_point_list"]
    np.testing.assert_allclose(point["state"][0] - point["state"][0] ** 3 + 1.0, 0.0, atol=1e-5)
    assert pushed["held_input"] == [1.0] and "held input x* = (1)" in (tmp_path / "pushed" / "report.html").read_text()


def test_an_encoder_model_is_analysed_from_its_trials_observations(tmp_path):
    model = make_model("gnode", 3, 1, 4, flow_widths=(8,), initial_state="encoder", key=jr.key(0))
    inputs, observed = np.zeros((6, 20, 1)), np.asarray(jr.poisson(jr.key(1), 1.0, (6, 20, 4)), np.float32)
    with pytest.raises(ConfigError, match="pass the trials' observations"):
        analyze(model, inputs, None, tmp_path / "a", SMALL)
    summary = analyze(model, inputs, None, tmp_path / "a", SMALL, observed=observed)
    assert summary["state_dim"] == 3 and (tmp_path / "a" / "cloud.png").is_file()
    with pytest.raises(ConfigError, match="initial states must be finite"):
        analyze(model, inputs, None, tmp_path / "b", SMALL, initial_states=np.zeros((6, 2)))
    with pytest.raises(ConfigError, match="held input must be 1 finite"):
        analyze(model, inputs, None, tmp_path / "b", SMALL, observed=observed, held_input=[0.0, 1.0])
    assert not (tmp_path / "b").exists()
