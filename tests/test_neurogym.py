"""neurogym tasks as gnode sequences, and gnode train / analyze on them."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gnode.errors import ConfigError
from gnode.experiment import RunConfig, load_splits

pytest.importorskip("neurogym")

from gnode.cli.main import app
from gnode.tasks.neurogym import decision_accuracy, make_env, neurogym_trials

runner = CliRunner()


def test_one_padded_sequence_per_trial_with_one_hot_ground_truth():
    trials = neurogym_trials("ContextDecisionMaking-v0", 12, dt=0.02, options={"use_expl_context": True}, seed=3)
    data = trials.data
    assert data.inputs.shape[0] == 12 and data.inputs.shape[2] == 7 and data.targets.shape[2] == 3
    lengths = data.mask.sum(axis=1)
    assert lengths.max() == data.inputs.shape[1] and len(set(lengths.tolist())) > 1  # random delays: padded
    observed = data.mask > 0
    np.testing.assert_array_equal(data.targets[observed].sum(-1), 1.0)  # one-hot where observed
    assert trials.inputs[-2:] == ["context1", "context2"] and trials.actions == ["fixation", "choice1", "choice2"]
    assert set(trials.conditions["context"].tolist()) <= {0, 1} and len(trials.conditions["ground_truth"]) == 12
    assert data.conditions["context"].tolist() == trials.conditions["context"].tolist()  # they travel with the data
    np.testing.assert_array_equal(data.subset(np.array([3, 1])).conditions["coh_1"], trials.conditions["coh_1"][[3, 1]])
    again = neurogym_trials("ContextDecisionMaking-v0", 12, dt=0.02, options={"use_expl_context": True}, seed=3)
    np.testing.assert_array_equal(again.data.inputs, data.inputs)  # the seed fixes the trials
    assert make_env("GoNogo-v0", 0.02).dt == pytest.approx(20.0)  # gnode's seconds, neurogym's milliseconds


def test_decision_accuracy_ignores_fixation_steps():
    targets = np.eye(3)[[[0, 0, 1, 1], [0, 0, 2, 2]]]
    logits = np.eye(3)[[[1, 2, 1, 0], [0, 0, 2, 1]]]  # fixation steps wrong in trial 0; decisions 2 of 4 right
    assert decision_accuracy(logits, targets) == pytest.approx(0.5)
    assert decision_accuracy(logits, targets, np.array([[1.0, 1, 1, 0], [1, 1, 1, 0]])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(task="neurogym:NoSuchTask-v0"), "unknown neurogym task"),
        (dict(task="neurogym:GoNogo-v0", task_options=["speed"]), "KEY=VALUE"),
        (dict(task="neurogym:GoNogo-v0", task_options=["colour=1"]), "refuses the options"),
        (dict(task="ring", task_options=["a=1"]), "go with a neurogym task"),
    ],
)
def test_bad_neurogym_settings_are_one_line(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_splits(RunConfig.from_dict({"batch_size": 10, **settings}))
    assert len(str(error.value).splitlines()) == 1
    options = [a for o in settings.get("task_options", []) for a in ("--task-option", o)]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "r"), "--task", settings["task"], *options])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_gnode_learns_go_no_go_and_is_analysed(tmp_path):
    args = ["train", "--out", str(tmp_path / "run"), "--task", "neurogym:GoNogo-v0", "--dt", "0.05", "--tau", "0.1",
            "--dim", "8", "--dynamics", "32", "--n-train", "200", "--n-val", "100", "--batch", "20", "--epochs", "25",
            "--lr", "1e-2", "--decay", "0", "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["observation"] == "StepCrossEntropy"
    from gnode import load, predict

    config = RunConfig.from_dict(json.loads((tmp_path / "run" / "config.json").read_text()))
    val = load_splits(config).val
    logits, _ = predict(load(tmp_path / "run" / "model.npz"), val.inputs)
    assert decision_accuracy(logits, val.targets, val.mask) > 0.9  # chance: 0.5 (go or no-go)
    analysis = runner.invoke(app, ["analyze", str(tmp_path / "run"), "--starts", "64", "--trials", "8", "--input",
                                   "mean-by:ground_truth"])  # fmt: skip
    assert analysis.exit_code == 0, analysis.output
    folders = sorted((tmp_path / "run" / "analysis").glob("ground_truth=*"))
    assert len(folders) == 2  # one analysis per condition (go, no-go), each at its trials' mean input
    for folder in folders:
        assert len(json.loads((folder / "summary.json").read_text())["held_input"]) == 3
    bad = runner.invoke(app, ["analyze", str(tmp_path / "run"), "--out", str(tmp_path / "a"), "--input", "mean-by:x"])
    assert bad.exit_code == 2 and "no condition 'x'" in bad.stderr and not (tmp_path / "a").exists()
