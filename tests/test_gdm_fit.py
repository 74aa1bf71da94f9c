import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError, DataError
from gnode.gdm.fit import GDMFitConfig, elbo, fit_gdm
from gnode.gdm.inference import forecast, reconstruct, soft_states
from gnode.gdm.metrics import mean_r2, state_accuracy
from gnode.gdm.model import GDM, GDM_PARAMETERS
from gnode.gdm.posterior import make_posterior
from gnode.reproduce.gdm.nascar import nascar


def fresh(observations=10, states=4, seed=0):
    k1, k2 = jr.split(jr.key(seed))
    return GDM(observations, states, key=k1), make_posterior("linear", observations, states, key=k2)


@pytest.fixture(scope="module")
def trained():
    train, test = nascar("standard", time=500, seed=1), nascar("standard", time=500, seed=2)
    model, posterior = fresh()
    config = GDMFitConfig(max_iterations=1200, window=100, tolerance=-np.inf)  # the full budget: no early stop
    return (*fit_gdm(train.observations, model, posterior, config), train, test)


def test_training_raises_the_elbo_and_fits_standard_nascar(trained):
    model, posterior, history, train, test = trained
    assert history["iterations"] == 1200 and not history["stopped_early"]
    assert np.mean(history["elbo"][-100:]) > np.mean(history["elbo"][:100]) + 2  # per time step: the ELBO's mean
    y = jnp.asarray(train.observations)
    assert mean_r2(np.asarray(reconstruct(model, posterior, y, jr.key(0))), train.observations) > 0.98
    # amortised: the test sequence is inferred by a forward pass, and scored as well as the training one
    test_r2 = mean_r2(np.asarray(reconstruct(model, posterior, jnp.asarray(test.observations), jr.key(0))),
                      test.observations)  # fmt: skip
    assert test_r2 > 0.97
    states = [
        np.asarray(soft_states(posterior, jnp.asarray(d.observations), model.tau, jr.key(1))) for d in (train, test)
    ]
    assert state_accuracy(states[0], train.labels, states[1], test.labels) > 0.75
    assert forecast(model, posterior, y, 3, jr.key(2)).shape == (497, 10)


def test_the_fixed_projection_is_untouched_by_training_and_weight_decay(trained):
    model, *_ = trained
    assert np.array_equal(model.projection, fresh()[0].projection)


def test_a_fixed_model_leaves_only_the_posterior_to_train():
    data = nascar("standard", time=100, seed=1).observations
    model, posterior = fresh()
    config = GDMFitConfig(max_iterations=200, window=100, tolerance=-np.inf, frozen=GDM_PARAMETERS)
    fitted, q, history = fit_gdm(data, model, posterior, config)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(fitted), jax.tree.leaves(model), strict=True))
    assert not np.array_equal(q.weight, posterior.weight)
    assert np.mean(history["elbo"][-20:]) > np.mean(history["elbo"][:20])
    # freezing all but the noise variance trains that one alone
    config = dataclasses.replace(config, frozen=tuple(p for p in GDM_PARAMETERS if p != "log_variance"))
    fitted, *_ = fit_gdm(data, model, posterior, config)
    assert not np.array_equal(fitted.log_variance, model.log_variance)
    assert np.array_equal(fitted.dynamics, model.dynamics) and np.array_equal(
        fitted.transitions.stickiness, model.transitions.stickiness
    )


def test_the_stopping_rule_ends_a_flat_run_early():
    data = nascar("standard", time=100, seed=1).observations
    model, posterior = fresh()
    config = GDMFitConfig(max_iterations=1000, window=50, tolerance=1e9)  # any gain is "too small"
    *_, history = fit_gdm(data, model, posterior, config)
    assert history["stopped_early"] and history["iterations"] == 100  # checked after the second window


def test_the_elbo_is_deterministic_given_the_key():
    y = jnp.asarray(nascar("standard", time=50).observations)
    model, posterior = fresh()
    value = eqx.filter_jit(elbo)
    assert float(value(model, posterior, y, jr.key(0), 4)) == float(value(model, posterior, y, jr.key(0), 4))


def test_a_time_averaged_elbo_divides_only_the_data_term_by_the_length():
    y = jnp.asarray(nascar("soft_sticky", time=50).observations)
    model, posterior = fresh()
    z = posterior.sample(jr.key(0), y, model.tau, 4)
    usage = jnp.mean(z, axis=(0, 1))
    entropy = float(-jnp.sum(usage * jnp.log(usage)))
    summed, averaged = (float(elbo(model, posterior, y, jr.key(0), 4, mean)) for mean in (False, True))
    assert np.isclose(averaged, (summed - entropy) / 50 + entropy, rtol=1e-5)


@pytest.mark.bad_input
def test_bad_inputs_are_one_line_errors():
    model, posterior = fresh()
    data = nascar("standard", time=50).observations
    bad = data.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        fit_gdm(bad, model, posterior)
    with pytest.raises(DataError, match="3 dimensions, the model has 10"):
        fit_gdm(data[:, :3], model, posterior)
    with pytest.raises(DataError, match="time >= 2"):
        fit_gdm(data[0], model, posterior)
    with pytest.raises(ConfigError, match="multiple of window"):
        GDMFitConfig(max_iterations=150, window=100)
    with pytest.raises(ConfigError, match="unknown GDM parameters \\['gamma'\\]"):
        GDMFitConfig(frozen=("gamma",))
