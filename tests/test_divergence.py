"""A non-finite loss in any fit stops it with the named DivergenceError, the last good state kept: sequence-model
ensembles (once every member has diverged; a solve that spends its step budget counts as non-finite), LINT, both
Connector flows, GDM and the EM baselines (single sequence models: tests/test_fit.py; the CLI's one line:
tests/test_crashes.py)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.connector import lint
from gnode.connector.model import AbstractSchedule, ConnectorConfig, fit_connector
from gnode.data import ArrayData
from gnode.errors import DivergenceError
from gnode.experiment import sweep_cells, train_group
from gnode.gdm import arhmm, slds
from gnode.gdm.fit import GDMFitConfig, fit_gdm
from gnode.gdm.model import GDM
from gnode.gdm.posterior import make_posterior
from gnode.losses import MSE
from gnode.model import make_model
from gnode.ncode.flow import FlowSolver
from gnode.reproduce.connector.generators import make_connectivity, simulate_grid
from gnode.reproduce.gdm.nascar import nascar
from gnode.tasks import make_flipflop
from gnode.train import TrainConfig
from gnode.train.ensemble import fit_ensemble
from gnode.train.objective import MapObjective

HUGE = 1e30  # a learning rate that overflows the parameters within a few steps


def test_an_ensemble_trains_on_until_every_member_has_diverged():
    train, val = make_flipflop("square", n_train=40, n_val=20, steps=20)
    models = [make_model("gnode", 2, 2, 2, flow_widths=(8,), key=jr.key(s)) for s in range(2)]
    config = TrainConfig(lr=1e-3, weight_decay=0.0, batch_size=20, epochs=3)
    _, result = fit_ensemble(models, train, val, config, lrs=[1e-3, HUGE], progress=False)
    assert result.summary["diverged"] == [False, True] and result.summary["epochs_run"] == 3
    with pytest.raises(DivergenceError, match="every member") as error:
        fit_ensemble(models, train, val, config, lrs=[HUGE, HUGE], progress=False)
    best, info = error.value.state  # each member's best from before: here its initialisation (best epoch -1)
    assert len(best) == 2 and list(info["best_epoch"]) == [-1, -1] and info["epochs_run"] == 1
    for start, kept in zip(models, best, strict=True):
        np.testing.assert_array_equal(
            np.asarray(kept.field.flow.state_weight), np.asarray(start.field.flow.state_weight)
        )
    kept, result = fit_ensemble(models, train, val, config, lrs=[HUGE, HUGE], keep_diverged=True, progress=False)
    assert result.summary["diverged"] == [True, True] and result.summary["best_epoch"] == [-1, -1]
    assert result.summary["epochs_run"] == 1 and result.history == []  # the one epoch run was the diverging one
    for returned, raised in zip(kept, best, strict=True):
        assert eqx.tree_equal(returned, raised)


class Decay(eqx.Module):
    """``dz/dt = -rate z`` on [0, 1]: stiff for a large rate, so an adaptive solve needs many steps."""

    rate: jax.Array
    solver: FlowSolver

    def __call__(self, x):
        return self.solver.solve(lambda t, z, rate: -rate * z, x, args=self.rate).y1


def test_a_member_whose_solve_spends_its_step_budget_diverges_alone():
    x = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
    data = ArrayData(x, x * np.exp(-0.5))  # the map of rate 0.5
    solver = FlowSolver(max_steps=64)  # rate 1 takes a few Tsit5 steps; rate 1e4 needs thousands
    models = [Decay(jnp.array(1.0), solver), Decay(jnp.array(1e4), solver)]
    config = TrainConfig(lr=1e-1, weight_decay=0.0, batch_size=32, epochs=5)
    objective = MapObjective(MSE(), (1,), (1,))
    best, result = fit_ensemble(models, data, data, config, objective=objective, progress=False)
    assert result.summary["diverged"] == [False, True] and result.summary["epochs_run"] == 5
    assert 0.5 < float(best[0].rate) < 0.9  # the other member trained on toward 0.5
    assert float(best[1].rate) == 1e4  # kept as it was: no good step was ever taken
    assert all(np.isnan(row["val_loss"][1]) and np.isfinite(row["val_loss"][0]) for row in result.history)


def test_a_sweep_group_that_diverges_whole_is_recorded_not_raised(tmp_path):
    cells = sweep_cells({"task": "four_point", "dim": 2, "dynamics": [8], "n_train": 40, "n_val": 20,
                         "batch_size": 20, "epochs": 2}, {"lr": [HUGE]})  # fmt: skip
    (row,) = train_group(cells)
    assert row["diverged"] is True and row["best_epoch"] == -1 and np.isfinite(row["val_loss"])  # the init's score


@pytest.fixture(scope="module")
def ring():
    c = make_connectivity("ring", neurons=100)
    return c, simulate_grid(c.network(), size=4, time=20)


def test_lint_stops_at_a_non_finite_loss(ring):
    c, trials = ring
    potentials = trials.latents @ c.m.T
    with pytest.raises(DivergenceError, match="non-finite loss at epoch"):
        lint.fit_lint(potentials, np.arange(10), np.arange(10, 16), lint.LintConfig(epochs=5, lr=HUGE, batch=5))


class OverflowsAt(AbstractSchedule):
    """A huge rate for the stage with ``updates`` updates (the m-flow has epochs x batches, the n-flow n_epochs)."""

    updates: int

    def __call__(self, lr, steps):
        return HUGE if steps == self.updates else lr


@pytest.mark.parametrize(("stage", "updates"), [("m-flow", 3 * 6), ("n-flow", 5)])
def test_connector_flows_stop_and_keep_the_last_good_model(ring, stage, updates):
    c, trials = ring  # 100 neurons in batches of 16: 6 m-flow updates per epoch
    config = ConnectorConfig(width=8, depth=2, m_epochs=3, n_epochs=5, samples=32, batch=16,
                             schedule=OverflowsAt(updates))  # fmt: skip
    with pytest.raises(DivergenceError, match=stage) as error:
        fit_connector(c.m, trials.latents, config)
    m, n = error.value.state.sample(jr.key(0), 10)  # the last good model
    assert np.isfinite(np.asarray(m)).all() and np.isfinite(np.asarray(n)).all()


def test_gdm_stops_and_keeps_the_last_good_window():
    y = nascar("standard", time=200, seed=1).observations
    k1, k2 = jr.split(jr.key(0))
    model, posterior = GDM(y.shape[1], 4, key=k1), make_posterior("linear", y.shape[1], 4, key=k2)
    with pytest.raises(DivergenceError, match="ELBO became non-finite") as error:
        fit_gdm(y, model, posterior, GDMFitConfig(max_iterations=300, lr=HUGE, warmup=100))
    last_model, _ = error.value.state
    assert isinstance(last_model, GDM)


@pytest.mark.parametrize("module", [slds, arhmm])
def test_em_baselines_stop_at_a_non_finite_iteration(monkeypatch, module):
    y = nascar("standard", time=200, seed=1).observations
    real, calls = module._em_iteration, []

    def poisoned(*args):  # the third EM iteration produces NaN
        out = real(*args)
        calls.append(1)
        return tuple(a * np.nan if len(calls) == 3 and hasattr(a, "dtype") else a for a in out)

    monkeypatch.setattr(module, "_em_iteration", poisoned)
    fit = (lambda: slds.fit_slds(y, 4, slds.SLDSConfig(iterations=5))) if module is slds else (
        lambda: arhmm.fit_arhmm(y, 4, arhmm.ARHMMConfig(iterations=5)))  # fmt: skip
    with pytest.raises(DivergenceError, match="EM became non-finite at iteration 2") as error:
        fit()
    assert error.value.state is not None
