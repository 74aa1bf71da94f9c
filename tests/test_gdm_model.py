import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.stats import norm, poisson

from gnode.errors import ConfigError
from gnode.gdm.model import GDM, PoissonEmission


@pytest.fixture
def data():
    return jr.normal(jr.key(1), (30, 5))


def test_gaussian_likelihood_of_hard_states_is_the_per_state_linear_model(data):
    model = GDM(5, 3, key=jr.key(0))
    labels = np.arange(30) % 3
    z = jnp.eye(3)[labels]
    f, y = np.asarray(model.projection), np.asarray(data)
    means = [np.asarray(model.initial_means[labels[0]])]
    means += [
        np.asarray(model.dynamics[labels[t]]) @ f @ y[t - 1] + np.asarray(model.offsets[labels[t]])
        for t in range(1, 30)
    ]
    sd = np.exp(0.5 * np.asarray(model.log_variance))
    expected = sum(norm.logpdf(y[t], means[t], sd).sum() for t in range(30))
    assert float(model.log_likelihood(data, z).sum()) == pytest.approx(expected, rel=1e-4)


def test_poisson_likelihood_uses_the_softplus_rate():
    model = GDM(4, 2, emission=PoissonEmission(), key=jr.key(0))
    counts = jr.poisson(jr.key(2), 2.0, (20, 4)).astype(jnp.float32)
    z = jnp.full((20, 2), 0.5)
    rate = np.asarray(model.reconstruct(counts, z))
    assert np.all(rate > 0)
    assert float(model.log_likelihood(counts, z).sum()) == pytest.approx(
        poisson.logpmf(np.asarray(counts), rate).sum(), rel=1e-4
    )


def test_stickiness_mixes_the_previous_state_into_the_logits(data):
    model = eqx.tree_at(lambda m: m.transitions.stickiness, GDM(5, 3, key=jr.key(0)), jnp.asarray(1.0))
    z = jnp.broadcast_to(jnp.array([0.2, 0.5, 0.3]), (30, 3))
    logits = model.state_logits(data, z)
    assert np.allclose(logits[1:], z[1:]) and np.allclose(logits[0], model.initial_logits)  # γ = 1: the last state


def test_the_projection_gets_no_gradient_unless_trained(data):
    z = jnp.full((30, 3), 1 / 3)
    for train, expect_zero in ((False, True), (True, False)):
        model = GDM(5, 3, train_projection=train, key=jr.key(0))
        grads = eqx.filter_grad(lambda m: jnp.sum(m.log_likelihood(data, z) + m.log_prior(z, data)))(model)
        assert bool(jnp.all(grads.projection == 0)) == expect_zero


def test_forecast_with_identical_states_is_the_linear_map_iterated(data):
    model = GDM(5, 3, key=jr.key(0))
    model = eqx.tree_at(lambda m: (m.dynamics, m.offsets), model,
                        (jnp.broadcast_to(model.dynamics[0], model.dynamics.shape), jnp.ones((3, 5))))  # fmt: skip
    ys = model.forecast(jr.key(3), data[0], jnp.array([1.0, 0, 0]), steps=4, draws=7)
    y = np.asarray(data[0])
    a, f = np.asarray(model.dynamics[0]), np.asarray(model.projection)
    for step in range(4):
        y = a @ f @ y + 1.0
        assert np.allclose(ys[step], y, atol=1e-4)


@pytest.mark.bad_input
def test_bad_settings_are_one_line_errors():
    for kwargs, message in ((dict(states=1), "K >= 2"), (dict(emission="poisson"), "emission must be"),
                            (dict(tau=0.0), "temperature"), (dict(observations=0), "observations >= 1")):  # fmt: skip
        settings = {"observations": 5, "states": 3, **kwargs}
        with pytest.raises(ConfigError, match=message):
            GDM(settings.pop("observations"), settings.pop("states"), key=jr.key(0), **settings)
    assert jax.tree_util.tree_leaves(GDM(5, 2, key=jr.key(0)))  # a valid one builds
