import dataclasses

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from gnode.connector.identify import ridge_loadings
from gnode.connector.model import ConnectorConfig, ConstantRate, CosineDecay, fit_connector, ridge_targets
from gnode.errors import ConfigError, DataError
from gnode.reproduce.connector.generators import make_connectivity, simulate_grid

SMALL = ConnectorConfig(width=16, depth=2, m_epochs=5, n_epochs=5, samples=100, batch=32)


@pytest.fixture(scope="module")
def ring():
    c = make_connectivity("ring", neurons=200)
    return c, simulate_grid(c.network(), size=6, time=30)


def test_ridge_targets_in_jax_equal_the_numpy_estimate(ring):
    c, trials = ring
    expected = ridge_loadings(trials.latents, c.m, ridge=1e-2)
    got = ridge_targets(jnp.asarray(trials.latents), jnp.asarray(c.m, jnp.float32), 0.1, 1e-2)
    np.testing.assert_allclose(got, expected, rtol=2e-2, atol=2e-2 * np.abs(expected).max())


def test_ridge_targets_on_a_subset_of_rows(ring):
    c, trials = ring
    latents, m = jnp.asarray(trials.latents), jnp.asarray(c.m, jnp.float32)
    total = latents.shape[0] * (latents.shape[1] - 1)  # 36 trials x 29 steps
    every = ridge_targets(latents, m, 0.1, 1e-4)
    # all rows, in any order, are every row: the weight is 1 and the sums are the same
    np.testing.assert_allclose(ridge_targets(latents, m, 0.1, 1e-4, rows=jr.permutation(jr.key(0), total)), every,
                               rtol=1e-3, atol=1e-3 * float(jnp.abs(every).max()))  # fmt: skip
    # a third of the rows, weighted to stand for all, gives nearly the same targets; unweighted, λ would weigh 3x
    third = jr.choice(jr.key(1), total, (total // 3,), replace=False)
    error = float(jnp.linalg.norm(ridge_targets(latents, m, 0.1, 1e-4, rows=third) - every) / jnp.linalg.norm(every))
    assert error < 0.05, error
    with pytest.raises(ConfigError, match="ridge_rows"):
        ConnectorConfig(ridge_rows=0)


def test_more_ridge_rows_than_there_are_is_every_row_exactly(ring):
    c, trials = ring
    model, _ = fit_connector(c.m, trials.latents, SMALL)  # 1,044 rows < the default 4,000
    exact, _ = fit_connector(c.m, trials.latents, dataclasses.replace(SMALL, ridge_rows=None))
    np.testing.assert_array_equal(model.sample(jr.key(0), 10)[1], exact.sample(jr.key(0), 10)[1])
    fewer, _ = fit_connector(c.m, trials.latents, dataclasses.replace(SMALL, ridge_rows=500))
    assert not np.array_equal(fewer.sample(jr.key(0), 10)[1], exact.sample(jr.key(0), 10)[1])


def test_fit_and_sample_shapes_history_and_noise(ring):
    c, trials = ring
    model, history = fit_connector(c.m, trials.latents, SMALL)
    assert len(history["m_loss"]) == 5 and len(history["n_loss"]) == 5
    assert all(np.isfinite(history["m_loss"] + history["n_loss"]))
    m, n = model.sample(jr.key(0), 300, sigma=0.0)
    assert m.shape == n.shape == (300, 2)
    _, noisy = model.sample(jr.key(0), 300, sigma=2.0)
    assert float(jnp.var(noisy - n)) == pytest.approx(4.0, rel=0.25)  # the same draw plus 2 ε
    again, _ = fit_connector(c.m, trials.latents, SMALL)
    np.testing.assert_array_equal(again.sample(jr.key(0), 10)[1], model.sample(jr.key(0), 10)[1])  # deterministic


@pytest.mark.bad_input
def test_bad_inputs(ring):
    c, trials = ring
    with pytest.raises(DataError, match="need m rows"):
        fit_connector(c.m, trials.latents[..., :1], SMALL)
    with pytest.raises(DataError, match="NaN"):
        fit_connector(np.full_like(c.m, np.nan), trials.latents, SMALL)
    with pytest.raises(ConfigError, match="batch"):
        fit_connector(c.m[:10], trials.latents, SMALL)
    with pytest.raises(ConfigError):
        ConnectorConfig(alpha=2.0)
    with pytest.raises(ConfigError, match="schedule must be"):
        ConnectorConfig(schedule="cosine")


def test_schedules_set_each_stages_rate():
    assert ConstantRate()(1e-3, 100) == 1e-3
    decay = CosineDecay()(1e-3, 100)
    assert decay(0) == pytest.approx(1e-3) and decay(50) == pytest.approx(5e-4) and decay(100) == pytest.approx(0.0)
    assert isinstance(ConnectorConfig().schedule, CosineDecay)  # the default: see docs/choices.md
    assert ConnectorConfig(schedule=ConstantRate()).to_dict()["schedule"] == "ConstantRate"
    params = {"w": jnp.ones(3)}
    for schedule in (ConstantRate(), CosineDecay()):
        optimizer = ConnectorConfig(schedule=schedule).optimizer(10)
        assert isinstance(optimizer, optax.GradientTransformation)
        optimizer.update(params, optimizer.init(params), params)
