import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.connector.lint import LintConfig, RateModel, align, fit_lint, latents_of
from gnode.connector.lowrank import LowRankRNN
from gnode.errors import ConfigError, DataError
from gnode.reproduce.connector.generators import make_connectivity, simulate_grid


@pytest.fixture(scope="module")
def bistable():
    c = make_connectivity("bistable", neurons=60)
    return c, simulate_grid(c.network(), size=5, time=20)


def test_alignment_undoes_a_change_of_latent_frame(bistable):
    c, trials = bistable
    net = c.network()
    change = np.array([[1.5, 0.3], [-0.4, 0.8]])
    moved = LowRankRNN(jnp.asarray(c.m @ np.linalg.inv(change).T, jnp.float32), jnp.asarray(c.n @ change, jnp.float32))
    h = trials.latents @ c.m.T
    # the same network in another frame: identical potentials
    np.testing.assert_allclose(moved.simulate(jnp.asarray(h[0, 0]), 19), h[0], rtol=1e-3, atol=1e-3)
    latents = np.asarray(latents_of(moved, h))
    back, change = align(moved, latents, trials.latents)
    np.testing.assert_allclose(latents @ change, trials.latents, atol=1e-4)
    np.testing.assert_allclose(back.m, net.m, atol=1e-4)
    np.testing.assert_allclose(back.n, net.n, atol=1e-3)


def test_lint_lowers_the_rate_error_and_keeps_the_best_validation_model(bistable):
    c, trials = bistable
    h = trials.latents @ c.m.T
    config = LintConfig(epochs=40, lr=3e-2, batch=5)
    fitted = fit_lint(h, np.arange(20), np.arange(20, 25), config)
    start = fit_lint(h, np.arange(20), np.arange(20, 25), LintConfig(epochs=1, lr=1e-9, batch=5))
    rates = np.tanh(h[:, 1:])

    def error(net):
        return float(
            np.mean((np.asarray(jnp.stack([RateModel(net, 19)(jnp.asarray(x)) for x in h[:, 0]])) - rates) ** 2)
        )

    assert error(fitted) < 0.5 * error(start)


@pytest.mark.bad_input
def test_bad_inputs_are_one_line_errors():
    with pytest.raises(DataError, match="potentials must have shape"):
        fit_lint(np.zeros((3, 10)), [0], [1])
    with pytest.raises(DataError, match="NaN"):
        fit_lint(np.full((3, 4, 5), np.nan), [0], [1])
    with pytest.raises(ConfigError):
        LintConfig(rank=0)


def test_rate_model_shape():
    net = LowRankRNN(jr.normal(jr.key(0), (7, 2)), jr.normal(jr.key(1), (7, 2)))
    assert RateModel(net, 4)(jnp.zeros(7)).shape == (4, 7)
