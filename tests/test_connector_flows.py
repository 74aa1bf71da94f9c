import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from gnode.connector.flows import VelocityField, cfm_loss, transport
from gnode.errors import ConfigError


class Constant(eqx.Module):
    dim: int = 2
    condition: int = 0

    def __call__(self, x, t, c=None):
        return jnp.ones_like(x) if c is None else c


def test_transport_integrates_the_velocity_from_zero_to_one():
    x0 = jnp.zeros((3, 2))
    np.testing.assert_allclose(transport(Constant(), x0), 1.0, rtol=1e-6)
    c = jnp.array([[2.0, -1.0]] * 3)
    np.testing.assert_allclose(transport(Constant(condition=2), x0, c), c, rtol=1e-6)


def test_flow_matching_learns_a_shifted_gaussian():
    field = VelocityField(1, width=32, depth=2, key=jr.key(0))
    data = 3.0 + 0.5 * jr.normal(jr.key(1), (512, 1))
    optimizer = optax.adam(3e-3)
    params, static = eqx.partition(field, eqx.is_array)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, key):
        loss, grads = jax.value_and_grad(lambda p: cfm_loss(eqx.combine(p, static), data, key))(params)
        updates, state = optimizer.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    for i in range(600):
        params, state, _ = step(params, state, jr.key(i + 2))
    samples = np.asarray(transport(eqx.combine(params, static), jr.normal(jr.key(9), (2000, 1))))
    assert samples.mean() == pytest.approx(3.0, abs=0.1)
    assert samples.std() == pytest.approx(0.5, abs=0.1)


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError):
        VelocityField(0, key=jr.key(0))
