import dataclasses
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnode.errors import CheckpointError, ConfigError, DivergenceError
from gnode.experiment import RunConfig, build, load_run, train_run
from gnode.train import RunDir, load_tree, save_tree
from gnode.train.driver import new_train_state

SMALL = dict(task="four_point", dim=2, dynamics=(8,), batch_size=50, n_train=100, n_val=20)


def poison_learning_rate(out, config):
    """Make every step after the checkpoint overflow (lr 1e30), as a divergent run would."""
    run = RunDir(out)
    model, _, _ = build(config)
    template, _ = new_train_state(model, config.train_config())
    state, meta = load_tree(run.checkpoint_path, template)
    state.opt_state.hyperparams["learning_rate"] = jnp.asarray(1e30, jnp.float32)
    save_tree(run.checkpoint_path, state, meta)


def test_summary_and_reload(tmp_path):
    config = RunConfig(**SMALL, epochs=2)
    summary = train_run(config, tmp_path / "r", progress=False)
    assert summary["diverged_at_epoch"] is None and summary["parameters"] > 0
    model, loaded = load_run(tmp_path / "r")
    assert loaded == config and model.field.state_dim == 2


def test_divergence_raises_or_keeps_best(tmp_path):
    config = RunConfig(**SMALL, epochs=2)
    train_run(config, tmp_path / "r", progress=False)
    poison_learning_rate(tmp_path / "r", config)
    longer = RunConfig(**SMALL, epochs=4)
    with pytest.raises(DivergenceError):
        train_run(longer, tmp_path / "r", resume=True, progress=False)
    summary = train_run(longer, tmp_path / "r", resume=True, progress=False, keep_best_on_divergence=True)
    assert summary["diverged_at_epoch"] == 3 and summary["best_epoch"] in (1, 2)
    assert jnp.isfinite(summary["val_mse"])


def test_a_run_that_diverges_in_its_first_epoch_keeps_its_initial_model(tmp_path):
    config = RunConfig(**SMALL, epochs=3, lr=1e30)
    with pytest.raises(DivergenceError, match="epoch 1"):
        train_run(config, tmp_path / "a", progress=False)
    summary = train_run(config, tmp_path / "b", progress=False, keep_best_on_divergence=True)
    assert summary["diverged_at_epoch"] == 1 and summary["best_epoch"] == -1 and np.isfinite(summary["val_mse"])
    kept, _ = load_run(tmp_path / "b")
    initial, _, _ = build(config)
    for a, b in zip(jax.tree.leaves(kept), jax.tree.leaves(initial), strict=True):
        np.testing.assert_array_equal(a, b)


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown config keys"):
        RunConfig.from_dict({"task": "ring", "layers": 3})
    with pytest.raises(ConfigError, match="unknown task"):
        RunConfig(task="copy")
    with pytest.raises(ConfigError, match="model 'gru' has single-layer networks"):
        RunConfig(model="gru", dynamics=(8,))


@pytest.mark.parametrize(("model", "widths"), [("gnode", (316, 316)), ("node", (316, 316)), ("gru", ()), ("lstm", ())])
def test_hidden_widths_default_to_the_models_own(model, widths):
    config = RunConfig(model=model, dim=4)
    assert config.dynamics == widths
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config  # stored resolved


def test_init_from_starts_at_the_other_runs_model(tmp_path):
    train_run(RunConfig(**SMALL, epochs=2), tmp_path / "a", progress=False)
    start, _ = load_run(tmp_path / "a")
    # a vanishing learning rate and no decay: the fine-tuned model stays where it started
    tuned = RunConfig(**{**SMALL, "n_train": 50}, epochs=1, hold=5, init_from=str(tmp_path / "a"), lr=1e-12)
    train_run(dataclasses.replace(tuned, weight_decay=0.0), tmp_path / "b", progress=False)
    model, config = load_run(tmp_path / "b")
    assert config.hold == 5 and config.init_from == str(tmp_path / "a")
    for got, want in zip(jax.tree.leaves(model), jax.tree.leaves(start), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # resuming needs only the run's own checkpoint, not the run it started from
    shutil.rmtree(tmp_path / "a")
    resumed = train_run(
        dataclasses.replace(tuned, weight_decay=0.0, epochs=2), tmp_path / "b", resume=True, progress=False
    )
    assert resumed["epochs"] == 2
    train_run(RunConfig(**SMALL, epochs=1), tmp_path / "a", progress=False)
    with pytest.raises(CheckpointError, match=r"init_from .* differs from this run.s in shape"):
        train_run(RunConfig(**{**SMALL, "dim": 3}, init_from=str(tmp_path / "a")), tmp_path / "c", progress=False)
    with pytest.raises(CheckpointError, match=r"init_from .* not found"):
        train_run(RunConfig(**SMALL, init_from=str(tmp_path / "none")), tmp_path / "d", progress=False)


def test_resume_a_run_written_before_newer_settings(tmp_path):
    config = RunConfig(**SMALL, epochs=1)
    train_run(config, tmp_path / "r", progress=False)
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    for key in ("steps", "hold", "init_from"):  # settings added later keep their defaults
        del saved[key]
    (tmp_path / "r" / "config.json").write_text(json.dumps(saved))
    summary = train_run(dataclasses.replace(config, epochs=2), tmp_path / "r", resume=True, progress=False)
    assert summary["best_epoch"] in (1, 2)
