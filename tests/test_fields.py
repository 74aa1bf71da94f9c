import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.fields import GNODE, GRU, LSTM, MGRU, NODE, RNN, make_field
from gnode.solve import Euler

sig = jax.nn.sigmoid


def sample(n=5, d=3, seed=1):
    return jr.normal(jr.key(seed), (n,)), jr.normal(jr.key(seed + 1), (d,))


def test_gnode_with_single_tanh_layer_is_mgru():
    field = MGRU(5, 3, key=jr.key(0))
    assert isinstance(field, GNODE)
    h, x = sample()
    f, g = field.flow, field.gate_net
    z = sig(g.state_weight @ h + g.input_weight @ x + g.first_bias)
    cand = jnp.tanh(f.state_weight @ h + f.input_weight @ x + f.first_bias)
    np.testing.assert_allclose(field.velocity(h, x), z * (-h + cand), atol=1e-6)


def test_gnode_with_gate_fixed_to_one_equals_node():
    gn = GNODE(5, 3, (16, 16), key=jr.key(0))
    # zero weights and a large bias make sigmoid exactly 1.0 in float32
    gate = eqx.tree_at(
        lambda g: (g.state_weight, g.input_weight, g.first_bias),
        gn.gate_net,
        (jnp.zeros_like(gn.gate_net.state_weight), jnp.zeros_like(gn.gate_net.input_weight), jnp.full(5, 50.0)),
    )
    gn = eqx.tree_at(lambda m: m.gate_net, gn, gate)
    node = eqx.tree_at(lambda m: m.flow, NODE(5, 3, (16, 16), key=jr.key(9)), gn.flow)
    for seed in range(5):
        h, x = sample(seed=seed)
        np.testing.assert_allclose(gn.velocity(h, x), node.velocity(h, x), atol=1e-6)


def test_alpha_one_euler_step_is_convex_combination():
    field = GNODE(4, 2, (32,), key=jr.key(0))
    h0, x = sample(4, 2)
    hs = Euler().integrate(field, h0, x[None], jnp.array([0.01]), 0.0, 0.01)
    z, F = field.gate(h0, x), field.flow(h0, x)
    np.testing.assert_allclose(hs[0], (1 - z) * h0 + z * F, atol=1e-6)


def test_rnn_and_gru_formulas():
    h, x = sample()
    rnn = RNN(5, 3, key=jr.key(0))
    f = rnn.flow
    np.testing.assert_allclose(
        rnn.velocity(h, x), -h + jnp.tanh(f.state_weight @ h + f.input_weight @ x + f.first_bias), atol=1e-6
    )
    gru = GRU(5, 3, key=jr.key(0))
    lin = lambda m, s: m.state_weight @ s + m.input_weight @ x + m.first_bias  # noqa: E731
    z, r = sig(lin(gru.update, h)), sig(lin(gru.reset, h))
    cand = jnp.tanh(lin(gru.flow, r * h))
    np.testing.assert_allclose(gru.velocity(h, x), z * (cand - h), atol=1e-6)


def test_alpha_one_euler_step_of_the_lstm_is_the_lstm_cell():
    field = LSTM(8, 3, key=jr.key(0))
    (h, c), x = jnp.split(sample(8, 3)[0], 2), sample(8, 3)[1]
    m = field.cell
    i, f, g, o = jnp.split(m.state_weight @ h + m.input_weight @ x + m.first_bias, 4)
    c_next = sig(f) * c + sig(i) * jnp.tanh(g)
    h_next = sig(o) * jnp.tanh(c_next)
    hs = Euler().integrate(field, jnp.concatenate([h, c]), x[None], jnp.array([0.01]), 0.0, 0.01)
    np.testing.assert_allclose(hs[0], jnp.concatenate([h_next, c_next]), atol=1e-6)
    assert field.state_dim == 8 and field.input_dim == 3


def test_gated_fields_keep_fixed_points_of_ungated_flow():
    field = GNODE(3, 1, (8,), key=jr.key(0))
    h, x = sample(3, 1)
    np.testing.assert_allclose(field.velocity(h, x), field.gate(h, x) * field.ungated_velocity(h, x), atol=1e-6)


def test_make_field_errors():
    with pytest.raises(ConfigError, match="unknown model"):
        make_field("transformer", 2, 1, key=jr.key(0))
    with pytest.raises(ConfigError, match="positive"):
        make_field("gnode", 0, 1, key=jr.key(0))
    with pytest.raises(ConfigError, match="single-layer"):
        make_field("gru", 2, 1, flow_widths=(4,), key=jr.key(0))
    with pytest.raises(ConfigError, match="must be even"):
        make_field("lstm", 5, 1, key=jr.key(0))
