import jax.numpy as jnp
import numpy as np
import pytest

from gnode.connector.identify import loading_correlation, ridge_loadings
from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.errors import DataError
from gnode.reproduce.connector.generators import ENSEMBLES, make_connectivity, simulate_grid


@pytest.mark.parametrize("name", ENSEMBLES)
def test_ridge_estimate_recovers_the_conditional_mean_not_the_weights(name):
    c = make_connectivity(name)
    net = c.network()
    estimate = ridge_loadings(simulate_grid(net).latents, c.m)
    to_g = loading_correlation(estimate, c.conditional_mean)
    to_n = loading_correlation(estimate, c.n)
    assert to_g > 0.98 and to_g - to_n > 0.05
    grid = latent_grid(30, 2.4)
    rebuilt = LowRankRNN(net.m, jnp.asarray(estimate, jnp.float32))
    assert flow_field_error(net.latent_velocity(grid), rebuilt.latent_velocity(grid)) < 0.02


def test_ridge_is_exact_on_a_small_full_rank_problem():
    rng = np.random.default_rng(0)
    m, n = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    net = LowRankRNN(jnp.asarray(m), jnp.asarray(n))
    latents = np.asarray(net.simulate_latent(jnp.asarray(rng.normal(size=(40, 2))), 30))
    np.testing.assert_allclose(ridge_loadings(latents, m, ridge=1e-12), n, rtol=1e-3, atol=1e-3)


@pytest.mark.bad_input
def test_bad_inputs_are_data_errors():
    with pytest.raises(DataError, match="need latents"):
        ridge_loadings(np.zeros((4, 10)), np.zeros((5, 2)))
    with pytest.raises(DataError, match="NaN"):
        ridge_loadings(np.full((2, 3, 2), np.nan), np.zeros((5, 2)))
