import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.nn import MLP, Linear, activation, identity, initialiser


def test_mlp_matches_layer_by_layer_formula():
    mlp = MLP(3, 2, 5, (7, 4), activation=jnp.tanh, final_activation=identity, key=jr.key(0))
    h, x = jr.normal(jr.key(1), (3,)), jr.normal(jr.key(2), (2,))
    s = jnp.tanh(mlp.state_weight @ h + mlp.input_weight @ x + mlp.first_bias)
    s = jnp.tanh(mlp.layers[0].weight @ s + mlp.layers[0].bias)
    expected = mlp.layers[1].weight @ s + mlp.layers[1].bias
    np.testing.assert_allclose(mlp(h, x), expected, rtol=1e-6, atol=1e-6)
    assert mlp.num_weight_layers == 3


def test_single_layer_mlp_and_shapes():
    mlp = MLP(4, 1, 4, (), final_activation=jax.nn.sigmoid, key=jr.key(0))
    out = mlp(jnp.ones(4), jnp.ones(1))
    assert out.shape == (4,) and bool(jnp.all((out > 0) & (out < 1)))
    assert mlp.num_weight_layers == 1


def test_glorot_uniform_range_and_small_biases():
    lin = Linear(300, 200, key=jr.key(0))
    limit = np.sqrt(6 / 500)
    w = np.asarray(lin.weight)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.01 * limit
    assert np.abs(np.asarray(lin.bias)).std() < 0.002


@pytest.mark.parametrize(
    "kwargs", [dict(activation="softplusx"), dict(final_activation="nope"), dict(init="orthogonal")]
)
@pytest.mark.bad_input
def test_names_where_functions_belong_are_config_errors(kwargs):
    with pytest.raises(ConfigError, match="must be a function"):
        MLP(2, 1, 2, (3,), key=jr.key(0), **kwargs)


def test_names_resolve_at_the_boundary_or_fail_in_one_line():
    assert activation("tanh") is jnp.tanh and initialiser("kaiming_normal").__name__ == "kaiming_normal"
    with pytest.raises(ConfigError, match="unknown activation 'softplusx'"):
        activation("softplusx")
    with pytest.raises(ConfigError, match="unknown initialisation 'orthogonal'"):
        initialiser("orthogonal")


def test_nonpositive_widths_rejected():
    with pytest.raises(ConfigError, match="positive"):
        MLP(2, 1, 2, (3, 0), key=jr.key(0))
