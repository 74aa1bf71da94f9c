import jax.numpy as jnp
import pytest

from gnode.errors import ConfigError, DivergenceError
from gnode.experiment import RunConfig, build, load_run, train_run
from gnode.train import RunDir, load_tree, save_tree
from gnode.train.fit import new_train_state

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


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown config keys"):
        RunConfig.from_dict({"task": "ring", "layers": 3})
    with pytest.raises(ConfigError, match="unknown task"):
        RunConfig(task="copy")
