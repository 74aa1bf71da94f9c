import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.errors import ConfigError


def small(neurons=50, rank=2, seed=0, **kwargs):
    k1, k2 = jr.split(jr.key(seed))
    return LowRankRNN(jr.normal(k1, (neurons, rank)), 2.0 * jr.normal(k2, (neurons, rank)), **kwargs)


def test_step_matches_the_full_connectivity_matrix():
    net = small()
    h = jr.normal(jr.key(1), (50,))
    expected = h + 0.1 * (-h + net.effective_connectivity() @ jnp.tanh(h))
    np.testing.assert_allclose(net.step(h), expected, rtol=1e-5, atol=1e-6)


def test_latent_dynamics_are_the_network_dynamics_in_the_column_space_of_m():
    net = small()
    kappa0 = jnp.array([0.7, -1.1])
    hs = net.simulate(net.m @ kappa0, 30)
    ks = net.simulate_latent(kappa0, 30)
    np.testing.assert_allclose(hs, ks @ net.m.T, rtol=1e-4, atol=1e-4)


def test_inputs_and_bias_enter_the_step():
    net = small(inputs=jnp.ones((50, 1)), bias=jnp.full((50,), 0.5))
    h = jnp.zeros(50)
    np.testing.assert_allclose(net.step(h, jnp.array([2.0])), 0.1 * 2.5 * jnp.ones(50), rtol=1e-6)
    assert net.simulate(h, 5, jnp.ones((5, 1))).shape == (6, 50)


def test_latent_grid_and_flow_field_error():
    grid = latent_grid(20, 2.4)
    assert (
        grid.shape == (400, 2) and float(grid.min()) == pytest.approx(-2.4) and float(grid.max()) == pytest.approx(2.4)
    )
    field = small().latent_velocity(grid)
    assert flow_field_error(field, field) == 0.0
    assert flow_field_error(field, 1.1 * field) == pytest.approx(0.1, rel=1e-5)


@pytest.mark.parametrize(
    "make",
    [lambda: LowRankRNN(jnp.ones((5, 2)), jnp.ones((5, 3))), lambda: small(alpha=0.0),
     lambda: small(inputs=jnp.ones((4, 1))), lambda: small(bias=jnp.ones(3)), lambda: small(activation="cosine"),
     lambda: latent_grid(1)],
)  # fmt: skip
@pytest.mark.bad_input
def test_bad_shapes_and_settings_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()
