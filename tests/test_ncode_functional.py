import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.ncode.functional import FunctionalConv, FunctionalMLP
from gnode.nn import identity


def test_mlp_size_and_output_match_an_equinox_mlp_with_the_same_weights():
    field = FunctionalMLP(3, (5, 4))
    assert field.size == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    theta = jr.normal(jr.key(0), (field.size,))
    mlp = eqx.nn.MLP(3, 3, 5, 2, activation=jnp.tanh, key=jr.key(1))
    w = field.unflatten(theta)
    mlp = eqx.tree_at(lambda m: [x for layer in m.layers for x in (layer.weight, layer.bias)], mlp, list(w))
    z = jr.normal(jr.key(2), (3,))
    np.testing.assert_array_equal(field(z, theta), mlp(z))


def test_affine_field_and_default_theta():
    field = FunctionalMLP(2, ())
    assert field.shapes == ((2, 2), (2,))
    theta = field.init_theta(jr.key(0))
    assert theta.shape == (6,) and np.all(theta[4:] == 0)  # zero biases
    w = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    theta = jnp.concatenate([w.ravel(), jnp.array([0.5, -0.5])])
    np.testing.assert_allclose(field(jnp.array([1.0, 1.0]), theta), [3.5, 6.5])


def test_conv_field_matches_a_direct_correlation():
    field = FunctionalConv(2, 5, 6, hidden=3, kernel=3, activation=identity)
    assert field.size == 3 * 2 * 9 + 3 + 2 * 3 * 9 + 2
    theta = jr.normal(jr.key(0), (field.size,))
    z = jr.normal(jr.key(1), (2, 5, 6))
    w1, b1, w2, b2 = (np.asarray(a, np.float64) for a in field.unflatten(theta))

    def correlate(x, w):  # 'same' zero padding, cross-correlation as in every deep-learning library
        c_out, _, k, _ = w.shape
        pad = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        out = np.zeros((c_out, x.shape[1], x.shape[2]))
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                out[:, i, j] = np.einsum("oikl,ikl->o", w, pad[:, i : i + k, j : j + k])
        return out

    expected = correlate(correlate(np.asarray(z, np.float64), w1) + b1[:, None, None], w2) + b2[:, None, None]
    np.testing.assert_allclose(field(z, theta), expected, rtol=1e-4, atol=1e-4)
    assert jax.jit(field)(z, theta).shape == z.shape


@pytest.mark.parametrize(
    "make",
    [lambda: FunctionalMLP(0), lambda: FunctionalMLP(2, (0,)), lambda: FunctionalMLP(2, activation="cosine"),
     lambda: FunctionalConv(1, 4, 4, kernel=2)],
)  # fmt: skip
@pytest.mark.bad_input
def test_bad_sizes_and_names_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()
