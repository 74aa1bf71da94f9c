import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.model import make_model, parameter_count, predict
from gnode.solve import Adaptive


def test_initial_state_rules():
    x = jr.normal(jr.key(0), (7, 3))
    learned = make_model("gnode", 4, 3, 2, key=jr.key(1))
    enc = learned.initial_state.encoder
    np.testing.assert_allclose(learned.initial_state(x), enc.weight @ x[0] + enc.bias, atol=1e-6)
    zero = make_model("gnode", 4, 3, 2, initial_state="zero", key=jr.key(1))
    assert not np.any(zero.initial_state(x))
    fixed = make_model("gnode", 4, 3, 2, initial_state="fixed", key=jr.key(1))
    grad = jax.grad(lambda m: jnp.sum(m(x)[0]))(fixed)
    assert not np.any(grad.initial_state.h0)
    assert parameter_count(fixed) == parameter_count(zero)
    assert parameter_count(learned) == parameter_count(zero) + 3 * 4 + 4


def test_encoder_state_reads_only_its_channels_of_the_whole_trial():
    xs = jr.normal(jr.key(0), (9, 2))
    ys = jr.normal(jr.key(1), (9, 5))
    model = make_model("gnode", 3, 2, 5, initial_state="encoder", encoder_channels=(0, 2, 3), key=jr.key(2))
    h0 = model.initial_state(xs, ys)
    held_out = ys.at[:, (1, 4)].set(100.0)  # channels the encoder never reads
    np.testing.assert_array_equal(model.initial_state(xs, held_out), h0)
    late = ys.at[-1, 0].add(1.0)  # the last step of a read channel moves h0 (the backward GRU sees it first)
    assert not np.allclose(model.initial_state(xs, late), h0)
    out, _ = model(xs, observed=ys)
    np.testing.assert_allclose(model(xs, observed=held_out)[0], out)  # predictions of held-out channels too
    with pytest.raises(ConfigError, match="observed"):
        model(xs)
    cell = model.initial_state.forward  # the hoisted loop is equinox's cell, step by step
    reference = jax.lax.scan(lambda h, x: (cell(x, h), None), jnp.zeros(cell.hidden_size),
                             jnp.concatenate([ys[:, (0, 2, 3)], xs], axis=-1))[0]  # fmt: skip
    from gnode.model import _gru_final

    np.testing.assert_allclose(_gru_final(cell, jnp.concatenate([ys[:, (0, 2, 3)], xs], axis=-1)), reference,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    with pytest.raises(ConfigError, match="encoder reads channels"):
        make_model("gnode", 3, 2, 5, initial_state="encoder", encoder_channels=(5,), key=jr.key(2))


def test_readout_at_every_step_and_time_grid():
    model = make_model("node", 3, 2, 5, flow_widths=(8,), key=jr.key(0))
    xs = jr.normal(jr.key(1), (10, 2))
    ys, hs = model(xs)
    assert ys.shape == (10, 5) and hs.shape == (10, 3)
    np.testing.assert_allclose(ys, hs @ model.readout.weight.T + model.readout.bias, atol=1e-6)
    ys2, _ = model(xs, ts=0.01 * jnp.arange(1, 11))
    np.testing.assert_allclose(ys, ys2, atol=1e-6)


def test_per_sample_times_in_a_batch():
    model = make_model("gnode", 2, 1, 1, flow_widths=(8,), tau=0.1, key=jr.key(0))
    xs = jr.normal(jr.key(1), (3, 6, 1))
    ts = jnp.sort(jr.uniform(jr.key(2), (3, 6)), axis=1)
    for integrator in (None, Adaptive()):
        kwargs = {} if integrator is None else {"integrator": integrator}
        batch, _ = predict(model, xs, ts, **kwargs)
        for i in range(3):
            single, _ = model(xs[i], ts[i], **kwargs)
            # adaptive: step choices may differ by float rounding, so agree to the solver's tolerance
            np.testing.assert_allclose(batch[i], single, atol=1e-5 if integrator is None else 1e-4)


def test_make_model_errors():
    with pytest.raises(ConfigError, match="initial state"):
        make_model("gnode", 2, 1, 1, initial_state="random", key=jr.key(0))
    with pytest.raises(ConfigError, match="output dimension"):
        make_model("gnode", 2, 1, 0, key=jr.key(0))
    with pytest.raises(ConfigError, match="tau"):
        make_model("gnode", 2, 1, 1, tau=0.0, key=jr.key(0))


def test_matched_size_is_the_nearest_count_and_the_smaller_on_ties():
    from gnode.model import matched_size

    assert matched_size(lambda k: k * k, 50) == 7  # 49
    assert matched_size(lambda k: k * k, 57) == 8  # 64 is nearer than 49
    assert matched_size(lambda k: 2 * k, 5) == 2  # 4 and 6 tie
    assert matched_size(lambda k: k, 0) == 1 and matched_size(lambda k: k, 10**9, largest=100) == 100
