import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.init import critical_gain, critical_init
from gnode.model import make_model
from gnode.tasks import make_flipflop


@pytest.mark.parametrize("name, widths", [("gnode", (100, 100, 100)), ("node", (64, 64)), ("gnode", (316, 316))])
def test_critical_init_puts_leading_eigenvalue_at_zero(name, widths):
    train, _ = make_flipflop("three_bit_variable", n_train=50, n_val=10)
    model = make_model(name, 6, 3, 3, flow_widths=widths, init="critical_normal", key=jr.key(0))
    model, report = critical_init(model, train.inputs)
    assert abs(report.eta_after) < 0.05
    assert abs(report.eta_before) > 0.05  # it actually had to move


def test_one_shot_recipe_suffices_for_relu_away_from_zero():
    # the authors' single step is exact for a homogeneous ReLU F at a state far above the bias scale
    train, _ = make_flipflop("three_bit_variable", n_train=50, n_val=10)
    model = make_model(
        "node", 6, 3, 3, flow_widths=(100, 100), init="critical_normal", initial_state="fixed", key=jr.key(0)
    )
    model, report = critical_init(model, train.inputs, max_iterations=1)
    assert report.iterations == 1 and abs(report.eta_after) < 0.05


def test_critical_init_iterates_for_tanh():
    train, _ = make_flipflop("square", n_train=20, n_val=5)
    model = make_model("node", 8, 2, 2, flow_widths=(64,), activation="tanh", init="kaiming_normal", key=jr.key(3))
    _, once = critical_init(model, train.inputs, max_iterations=1)
    _, many = critical_init(model, train.inputs, tol=1e-3)
    assert abs(many.eta_after) < 0.01
    assert abs(many.eta_after) <= abs(once.eta_after)


@pytest.mark.parametrize("hidden_layers", [1, 2, 3])
def test_mean_field_critical_gain_of_wide_relu_flow(hidden_layers):
    # W ~ N(0, g^2 / fan_in): the edge of stability of -h + F sits at g_c = 2^(L / (2 (L + 1))).
    n = 400
    gains = []
    for seed in range(3):
        model = make_model(
            "node",
            n,
            1,
            1,
            flow_widths=(n,) * hidden_layers,
            init="critical_normal",
            initial_state="zero",
            key=jr.key(seed),
        )
        gains.append(critical_gain(model, jr.normal(jr.key(100 + seed), (n,)), jnp.zeros(1)))
    expected = 2 ** (hidden_layers / (2 * (hidden_layers + 1)))
    assert abs(np.mean(gains) / expected - 1) < 0.05


def test_critical_init_refuses_impossible_case():
    model = make_model("node", 3, 1, 1, flow_widths=(4,), key=jr.key(0))
    import equinox as eqx

    # F = -2 h makes every eigenvalue of -I + dF/dh equal to -3 < -1
    flow = eqx.tree_at(
        lambda f: (f.state_weight, f.layers[0].weight),
        model.field.flow,
        (jnp.concatenate([jnp.eye(3), -jnp.eye(3)[:1]]), jnp.zeros((3, 4)).at[:, :3].set(-2 * jnp.eye(3))),
    )
    model = eqx.tree_at(lambda m: m.field.flow, model, flow)
    with pytest.raises(ConfigError, match="max Re eig"):
        critical_init(model, jnp.abs(jr.normal(jr.key(0), (4, 5, 1))) + 1.0)
