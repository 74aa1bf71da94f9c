import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.model import parameter_count
from gnode.ncode.control import (
    AbstractControlMap,
    ClosedLoop,
    ConstantControl,
    MLPControl,
    OpenLoop,
    Static,
    make_dynamics,
)
from gnode.ncode.flow import FlowSolver, make_flow_solver
from gnode.ncode.functional import FunctionalMLP
from gnode.ncode.model import NCODE, Augment, LearnedConstant, neural_ode

IDENTITY = eqx.nn.Identity()


def test_neural_ode_is_exactly_the_ode_of_its_network():
    # dz/dt = mlp(z) solved directly, against neural_ode (N-CODE with a constant control) holding mlp's weights
    mlp = eqx.nn.MLP(3, 3, 6, 1, activation=jnp.tanh, key=jr.key(1))
    field = FunctionalMLP(3, (6,))
    theta = field.flatten([x for la in mlp.layers for x in (la.weight, la.bias)])
    np.testing.assert_array_equal(field.unflatten(theta)[2], mlp.layers[1].weight)
    solver = make_flow_solver("tsit5", rtol=1e-6, atol=1e-6)  # adaptive: the step sizes must agree too
    node = neural_ode(field, theta, IDENTITY, IDENTITY, solver, (3,))
    xs = jr.normal(jr.key(2), (8, 3))
    direct = jax.vmap(lambda x: solver.solve(lambda t, z, m: m(z), x, None, mlp))(xs)
    np.testing.assert_array_equal(jax.vmap(node)(xs), direct.y1)
    np.testing.assert_array_equal(jax.vmap(lambda x: node.flow(x).nfe)(xs), direct.nfe)


def test_open_loop_weights_do_not_depend_on_the_state_but_closed_loop_weights_do():
    field = FunctionalMLP(2, (4,))
    theta0 = field.init_theta(jr.key(0))
    ts = jnp.linspace(0, 1, 6)
    x = jnp.array([0.3, -0.7])
    start_a, start_b = LearnedConstant(jnp.array([1.0, 2.0])), LearnedConstant(jnp.array([-3.0, 0.5]))
    solver = FlowSolver(steps=20)
    for dynamics, independent in (
        (OpenLoop(field.size, scale=1.0, key=jr.key(1)), True),
        (ClosedLoop(2, field.size, scale=1.0, key=jr.key(1)), False),
    ):
        a = NCODE(field, MLPControl(2, theta0, key=jr.key(2)), dynamics, start_a, IDENTITY, solver, (2,))
        b = eqx.tree_at(lambda m: m.encoder, a, start_b)
        thetas_a, thetas_b = a.flow(x, ts).ys[1], b.flow(x, ts).ys[1]
        assert not np.allclose(a.flow(x).y1[0], b.flow(x).y1[0])  # different states ...
        assert np.array_equal(thetas_a, thetas_b) == independent  # ... and the same weights only in open loop
        assert not np.allclose(thetas_a[0], thetas_a[-1])  # the weights move


def test_known_answer_reflection_by_a_constant_per_input_field():
    # f(z; theta) = W z + b with W = 0, b = -2x / T: z(T) = x - 2x = -x for every x (ncode.md §2.3).
    field = FunctionalMLP(1, ())

    class Reflect(AbstractControlMap):  # a user's own control map
        size: int = eqx.field(static=True, default=2)

        def __call__(self, x):
            return jnp.concatenate([jnp.zeros(1), -2.0 * x])

    model = NCODE(field, Reflect(), Static(), IDENTITY, IDENTITY, make_flow_solver("tsit5"), (1,))
    xs = jnp.linspace(-1, 1, 11)[:, None]
    np.testing.assert_allclose(jax.vmap(model)(xs), -xs, atol=1e-6)


def test_neural_ode_trajectories_keep_their_order_in_one_dimension():
    field = FunctionalMLP(1, (16,))
    theta = field.init_theta(jr.key(3)).at[32:48].multiply(5)  # a stronger last layer
    node = neural_ode(field, theta, IDENTITY, IDENTITY, FlowSolver(steps=50), (1,))
    xs = jnp.linspace(-1, 1, 41)[:, None]
    ends = jax.vmap(node)(xs)[:, 0]
    assert np.all(np.diff(np.asarray(ends)) > 0)


def test_augmented_state_and_parameter_count():
    field = FunctionalMLP(5, (7,))
    node = neural_ode(field, field.init_theta(jr.key(0)), Augment(3), eqx.nn.Linear(5, 2, key=jr.key(1)),
                      FlowSolver(steps=4), (2,))  # fmt: skip
    assert node(jnp.ones(2)).shape == (2,)
    assert parameter_count(node) == (5 * 7 + 7 + 7 * 5 + 5) + (5 * 2 + 2)


def test_mismatched_sizes_and_unknown_modes_are_one_line_config_errors():
    field = FunctionalMLP(2, (4,))
    theta0 = field.init_theta(jr.key(0))
    solver = FlowSolver(steps=4)
    key = jr.key(1)
    cases = [
        (lambda: NCODE(field, ConstantControl(jnp.zeros(5)), Static(), IDENTITY, IDENTITY, solver, (2,)),
         "control map gives theta of length 5"),
        (lambda: NCODE(field, ConstantControl(theta0), OpenLoop(7, key=key), IDENTITY, IDENTITY, solver, (2,)),
         "control dynamics move 7 weights"),
        (lambda: NCODE(field, ConstantControl(theta0), Static(), IDENTITY, IDENTITY, solver, (3,)),
         "encoder maps inputs"),
        (lambda: NCODE(field, MLPControl(3, theta0, key=key), Static(), IDENTITY, IDENTITY, solver, (2,)),
         "control map does not accept inputs"),
        (lambda: make_dynamics("feedback", 2, field.size, key=key), "unknown control mode"),
        (lambda: neural_ode(field, jnp.zeros(3), IDENTITY, IDENTITY, solver, (2,)), "theta of length 3"),
        (lambda: field.flatten([jnp.zeros((4, 2)), jnp.zeros(4), jnp.zeros((2, 3)), jnp.zeros(2)]), "shapes"),
    ]  # fmt: skip
    for make, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
