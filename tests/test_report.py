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
