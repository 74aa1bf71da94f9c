import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.data import SequenceData
from gnode.errors import ConfigError, DataError, DivergenceError
from gnode.losses import CrossEntropy, loss_named
from gnode.model import FixedState, make_model, predict
from gnode.solve import Adaptive, Euler
from gnode.tasks import make_flipflop
from gnode.train import RunDir, TrainConfig, fit, load_tree, save_tree
from gnode.train.driver import new_train_state
from gnode.train.ensemble import fit_ensemble, stack


@pytest.fixture(scope="module")
def square():
    return make_flipflop("square", n_train=200, n_val=50)


def small(seed=0, **kw):
    return make_model("gnode", 2, 2, 2, flow_widths=(32, 32), key=jr.key(seed), **kw)


def leaves(tree):
    return jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))


def test_learns_four_point_task_and_keeps_best_validation():
    train, val = make_flipflop("four_point", n_train=200, n_val=50)
    config = TrainConfig(lr=3e-3, weight_decay=1e-3, batch_size=10, epochs=15)
    result = fit(small(), train, val, config, progress=False)
    val_losses = [row["val_loss"] for row in result.history]
    best = int(np.argmin(val_losses)) + 1
    assert result.summary["best_epoch"] == best
    pred, _ = predict(result.model, jnp.asarray(val.inputs))
    np.testing.assert_allclose(float(jnp.mean((pred - val.targets) ** 2)), min(val_losses), rtol=1e-4)
    assert result.history[best - 1]["val_metric"] > 0.9  # R² on held-out trials


def test_same_seed_same_result_different_seed_differs(square):
    train, val = square
    config = TrainConfig(lr=1e-2, batch_size=20, epochs=2, seed=3)
    a = fit(small(), train, val, config, progress=False)
    b = fit(small(), train, val, config, progress=False)
    c = fit(small(), train, val, TrainConfig(lr=1e-2, batch_size=20, epochs=2, seed=4), progress=False)
    for x, y in zip(leaves(a.final_model), leaves(b.final_model), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(leaves(a.final_model), leaves(c.final_model), strict=True))


def test_fixed_initial_state_is_not_trained(square):
    train, val = square
    model = small(initial_state="fixed")
    result = fit(model, train, val, TrainConfig(lr=1e-2, weight_decay=0.1, batch_size=50, epochs=2), progress=False)
    assert isinstance(result.final_model.initial_state, FixedState)
    np.testing.assert_array_equal(result.final_model.initial_state.h0, model.initial_state.h0)


def test_divergence_stops_with_named_error_and_keeps_last_good_checkpoint(square, tmp_path):
    train, val = square
    run = RunDir.create(tmp_path / "run", {"x": 1})
    config = TrainConfig(lr=1e-3, batch_size=50, epochs=2)
    fit(small(), train, val, config, run_dir=run, progress=False)
    template, _ = new_train_state(small(), config)
    state, meta = load_tree(run.checkpoint_path, template)
    # from epoch 3 on an absurd learning rate makes the loss overflow
    state.opt_state.hyperparams["learning_rate"] = jnp.asarray(1e30, jnp.float32)
    save_tree(run.checkpoint_path, state, meta)
    before = run.checkpoint_path.read_bytes()
    with pytest.raises(DivergenceError, match="non-finite loss at epoch 3") as raised:
        fit(
            small(), train, val, TrainConfig(lr=1e-3, batch_size=50, epochs=5), run_dir=run, resume=True, progress=False
        )
    assert run.checkpoint_path.read_bytes() == before
    info = raised.value.state[1]  # the cost of a divergent fit is reported whole too
    assert info["earlier_epoch_seconds"] == sum(row["seconds"] for row in run.read_metrics())
    assert info["fit_seconds"] > info["earlier_epoch_seconds"]
    good, meta = load_tree(run.checkpoint_path, template)
    assert meta["epoch"] == 2 and all(np.isfinite(x).all() for x in leaves(good.params))
    assert [row["epoch"] for row in run.read_metrics()] == [1, 2]


def test_a_resumed_fit_counts_the_seconds_of_the_epochs_run_before(square, tmp_path):
    train, val = square
    run = RunDir.create(tmp_path / "run", {"x": 1})
    first = fit(small(), train, val, TrainConfig(lr=1e-3, batch_size=50, epochs=2), run_dir=run, progress=False)
    assert first.summary["earlier_epoch_seconds"] == 0.0
    ran = [row["seconds"] for row in run.read_metrics()]
    assert len(ran) == 2 and min(ran) > 0
    config = TrainConfig(lr=1e-3, batch_size=50, epochs=3)
    resumed = fit(small(), train, val, config, run_dir=run, resume=True, progress=False)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]
    assert resumed.summary["earlier_epoch_seconds"] == sum(ran)
    # the whole cost: this call's wall time, compilation and the new epoch included, on top of the earlier epochs
    assert first.summary["fit_seconds"] > sum(ran)
    assert resumed.summary["fit_seconds"] > sum(ran) + resumed.history[-1]["seconds"]


def test_ensemble_matches_separate_fits(square):
    train, val = square
    lrs, decays, seeds = [1e-2, 3e-3], [1e-3, 1e-1], [5, 6]
    models = [small(seed=s) for s in (0, 1)]
    stacked = stack(models)
    config = TrainConfig(batch_size=20, epochs=3)
    # through the scan: the hoisted gradients round differently batched over members and alone, and Adam lifts
    # those differences on the dead units' zero gradients to lr-sized steps (their gradients agree to 2e-6 in
    # tests/test_hoisted.py)
    plain = Euler(hoisted_gradients=False)
    ens = fit(
        stacked,
        train,
        val,
        config,
        integrator=plain,
        members=2,
        hyperparams={"lr": lrs, "weight_decay": decays},
        seeds=np.array(seeds),
        progress=False,
    )
    for i in range(2):
        single = fit(
            models[i],
            train,
            val,
            TrainConfig(lr=lrs[i], weight_decay=decays[i], batch_size=20, epochs=3, seed=seeds[i]),
            integrator=plain,
            progress=False,
        )
        for x, y in zip(leaves(single.final_model), leaves(ens.final_model), strict=True):
            # float32 sums differ in order between batched and single matmuls; Adam's normalisation lifts
            # those rounding differences of tiny gradients to ~lr-sized steps, hence atol ~ lr / 10
            np.testing.assert_allclose(x, y[i], atol=1e-3)
        np.testing.assert_allclose(single.history[-1]["val_loss"], ens.history[-1]["val_loss"][i], rtol=2e-3)


def test_ensemble_with_one_data_set_per_member_matches_separate_fits():
    data = [make_flipflop(task, n_train=60, n_val=20) for task in ("square", "ring")]
    models = [small(seed=s) for s in (0, 1)]
    config = TrainConfig(lr=3e-3, batch_size=20, epochs=2)
    _, ens = fit_ensemble(models, [d[0] for d in data], [d[1] for d in data], config, progress=False)
    for i, (train, val) in enumerate(data):
        single = fit(models[i], train, val, dataclasses.replace(config, seed=config.seed + i), progress=False)
        for x, y in zip(leaves(single.final_model), leaves(ens.final_model), strict=True):
            np.testing.assert_allclose(x, y[i], atol=3e-4)  # see test_ensemble_matches_separate_fits
        np.testing.assert_allclose(single.history[-1]["val_loss"], ens.history[-1]["val_loss"][i], rtol=2e-3)
    with pytest.raises(ConfigError, match="1 per-member data sets for an ensemble of 2"):
        fit_ensemble(models, [data[0][0]], [data[0][1]], config, progress=False)
    with pytest.raises(DataError, match="equal shapes"):
        short = make_flipflop("ring", n_train=40, n_val=20)
        fit_ensemble(models, [data[0][0], short[0]], [data[0][1], short[1]], config, progress=False)


def test_ensemble_freezes_a_diverged_member(square):
    train, val = square
    models = [small(seed=s) for s in (0, 1)]
    best, ens = fit_ensemble(models, train, val, TrainConfig(batch_size=50, epochs=3), lrs=[1e-3, 1e30], progress=False)
    assert len(best) == 2 and best[0].field.flow.state_weight.shape == (32, 2)
    assert ens.summary["diverged"] == [False, True]
    assert np.isfinite(ens.history[-1]["val_loss"][0])
    assert all(np.isfinite(x).all() for x in leaves(ens.final_model))


def test_classification_from_last_state():
    # sign of the sum of a short sequence: a task a 2-D gnODE learns in a few epochs
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8, 1)).astype(np.float32)
    labels = (x.sum(axis=(1, 2)) > 0).astype(np.int32)
    data = SequenceData(x, labels)
    model = make_model("gnode", 2, 1, 2, flow_widths=(16,), key=jr.key(0))
    config = TrainConfig(lr=1e-2, weight_decay=1e-3, batch_size=20, epochs=15, loss=CrossEntropy())
    result = fit(model, data.subset(slice(0, 250)), data.subset(slice(250, 300)), config, progress=False)
    assert max(row["val_metric"] for row in result.history) > 0.9


@pytest.mark.bad_input
def test_bad_inputs_to_fit(square):
    train, val = square
    with pytest.raises(DataError, match="2 channels"):
        fit(make_model("gnode", 2, 3, 2, key=jr.key(0)), train, val, TrainConfig(epochs=1), progress=False)
    with pytest.raises(DataError, match="NaN"):
        bad = SequenceData(np.where(np.arange(100)[None, :, None] == 5, np.nan, train.inputs), train.targets)
        fit(small(), bad, val, TrainConfig(epochs=1), progress=False)
    with pytest.raises(ConfigError, match="batch size"):
        fit(small(), train, val, TrainConfig(batch_size=1000, epochs=1), progress=False)
    with pytest.raises(ConfigError):
        TrainConfig(lr=-1.0)
    with pytest.raises(ConfigError, match="loss must be an AbstractLoss"):
        TrainConfig(loss="mse")  # a name where an object belongs
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        loss_named("hinge")


def test_ensemble_rejects_unequal_members():
    with pytest.raises(ConfigError, match="equal shapes"):
        stack([small(), make_model("gnode", 2, 2, 2, flow_widths=(16, 32), key=jr.key(0))])


def test_training_through_the_adaptive_solver(square):
    train, val = square
    model = make_model("gnode", 2, 2, 2, flow_widths=(8,), key=jr.key(0))
    sub = lambda d: d.subset(slice(0, 20))  # noqa: E731
    result = fit(
        model,
        sub(train),
        sub(val),
        TrainConfig(lr=1e-2, batch_size=10, epochs=2),
        integrator=Adaptive(rtol=1e-4, atol=1e-4),
        progress=False,
    )
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] * 1.5
    assert all(np.isfinite(x).all() for x in leaves(result.final_model))


SHARDED_SCRIPT = """
from gnode.devices import use_cpu_cores
use_cpu_cores(2)
import jax, jax.random as jr, numpy as np
from gnode.model import make_model
from gnode.tasks import make_flipflop
from gnode.train import TrainConfig
from gnode.train.ensemble import fit_ensemble
assert jax.device_count() == 2
train, val = make_flipflop("square", n_train=40, n_val=10)
models = [make_model("gnode", 2, 2, 2, flow_widths=(8,), key=jr.key(s)) for s in range(4)]
_, result = fit_ensemble(models, train, val, TrainConfig(batch_size=20, epochs=2), seeds=[0, 1, 2, 3],
                         progress=False)
print(repr(np.asarray(result.history[-1]["val_loss"]).tolist()))
"""


def test_ensemble_sharded_over_cpu_devices_gives_the_same_result(square):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    sharded = np.array(eval(out.stdout.strip().splitlines()[-1]))
    train, val = make_flipflop("square", n_train=40, n_val=10)
    models = [make_model("gnode", 2, 2, 2, flow_widths=(8,), key=jr.key(s)) for s in range(4)]
    _, result = fit_ensemble(
        models, train, val, TrainConfig(batch_size=20, epochs=2), seeds=[0, 1, 2, 3], progress=False
    )
    np.testing.assert_allclose(sharded, np.asarray(result.history[-1]["val_loss"]), rtol=1e-5)


def test_early_stopping_waits_patience_epochs_after_the_last_improvement(square, tmp_path):
    train, val = square
    # a learning rate that underflows: the loss never changes, so epoch 1 stays the best
    frozen = TrainConfig(lr=1e-38, batch_size=50, epochs=30, patience=3)
    result = fit(small(), train, val, frozen, progress=False, run_dir=RunDir.create(tmp_path / "run", {}))
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert result.summary["epochs_run"] == 4 and result.summary["best_epoch"] == 1
    resumed = fit(
        small(),
        train,
        val,
        frozen,
        progress=False,
        run_dir=RunDir.create(tmp_path / "run", {}, resume=True),
        resume=True,
    )
    assert resumed.history == result.history[:4] and resumed.summary["epochs_run"] == 4  # no further epochs
    learning = dataclasses.replace(frozen, lr=3e-3, epochs=8)
    assert fit(small(), train, val, learning, progress=False).summary["epochs_run"] == 8  # improving: no stop
    _, ensemble = fit_ensemble([small(0), small(1)], train, val, frozen, progress=False)
    assert ensemble.summary["epochs_run"] == 4


def test_any_optax_transformation_and_callbacks_see_every_epoch(square):
    import optax

    from gnode.train import Callback, adamw

    class Record(Callback):
        def __init__(self):
            self.events = []

        def on_start(self, start_epoch, epochs):
            self.events.append(("start", start_epoch, epochs))

        def on_epoch(self, epoch, row, state, *, last):
            self.events.append(("epoch", epoch, last, int(state.epoch)))

        def on_end(self, best, final, summary):
            self.events.append(("end", summary["epochs_run"]))

        def close(self):
            self.events.append(("close",))

    train, val = square
    config = TrainConfig(lr=3e-3, weight_decay=1e-3, batch_size=20, epochs=3)
    record = Record()
    default = fit(small(), train, val, config, progress=False, callbacks=[record])
    assert record.events == [("start", 0, 3), *[("epoch", e, e == 3, e) for e in (1, 2, 3)], ("end", 3), ("close",)]
    # the default optimiser is the shared AdamW builder with the config's rate and decay: passing it changes nothing
    same = fit(small(), train, val, config, progress=False, optimizer=adamw(3e-3, 1e-3, injectable=True))
    for a, b in zip(leaves(default.model), leaves(same.model), strict=True):
        np.testing.assert_array_equal(a, b)
    sgd = fit(small(), train, val, config, progress=False, optimizer=optax.sgd(1e-2))
    assert sgd.summary["best_val_loss"] != default.summary["best_val_loss"]
    with pytest.raises(ConfigError, match="inject_hyperparams"):  # per-member rates need an injectable optimiser
        fit_ensemble([small(0), small(1)], train, val, config, lrs=[1e-3, 3e-3], optimizer=optax.sgd(1e-2))


def test_a_callback_can_stop_the_fit_and_divergence_is_a_callback(square, tmp_path):
    from gnode.train import Callback, StopOnDivergence

    class StopAtTwo(Callback):
        def __init__(self):
            self.lasts = []

        def should_stop(self, epoch, state):
            return epoch >= 2

        def on_epoch(self, epoch, row, state, *, last):
            self.lasts.append(last)

    train, val = square
    stop = StopAtTwo()
    result = fit(small(), train, val, TrainConfig(batch_size=20, epochs=5), progress=False, callbacks=[stop])
    assert len(result.history) == 2 and stop.lasts == [False, True] and result.summary["epochs_run"] == 2
    guard = StopOnDivergence("here")
    state, _ = new_train_state(small(), TrainConfig())
    guard.check(1, state)  # a finite state passes
    with pytest.raises(DivergenceError, match="non-finite loss at epoch 4; the last good state is epoch 3 in here"):
        guard.check(4, eqx.tree_at(lambda s: s.diverged, state, jnp.asarray(True)))
    with pytest.raises(DivergenceError, match=r"at epoch 1; the last good state is the initial one$"):  # no checkpoint
        guard.check(1, eqx.tree_at(lambda s: s.diverged, state, jnp.asarray(True)))
