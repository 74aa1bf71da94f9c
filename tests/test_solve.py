import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.fields import GNODE, NODE
from gnode.solve import Adaptive, Euler, PiecewiseLinear


@pytest.fixture(scope="module")
def problem():
    field = GNODE(3, 2, (16,), activation=jnp.tanh, key=jr.key(0))
    xs = jr.normal(jr.key(1), (20, 2))
    ts = 0.05 * jnp.arange(1, 21)
    return field, jnp.array([0.3, -0.2, 0.5]), xs, ts


def test_euler_converges_to_adaptive_at_first_order(problem):
    field, h0, xs, ts = problem
    ref = Adaptive(rtol=1e-8, atol=1e-8).integrate(field, h0, xs, ts, 0.0, 0.1)
    errors = []
    for substeps in (4, 8, 16, 32, 64):
        hs = Euler(substeps=substeps).integrate(field, h0, xs, ts, 0.0, 0.1)
        errors.append(float(jnp.max(jnp.abs(hs - ref))))
    order = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-2
    np.testing.assert_allclose(order, 1.0, atol=0.15)


def test_adaptive_solvers_agree(problem):
    import diffrax

    field, h0, xs, ts = problem
    a = Adaptive(rtol=1e-7, atol=1e-7).integrate(field, h0, xs, ts, 0.0, 0.1)
    b = Adaptive(solver=diffrax.Dopri5(), rtol=1e-7, atol=1e-7).integrate(field, h0, xs, ts, 0.0, 0.1)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_linear_interpolation_of_a_ramp_matches_closed_form():
    # tau dh/dt = -h + x(t) with x linear in t has a closed-form solution; make F(h, x) = x exactly.
    import equinox as eqx

    field = NODE(1, 1, (), key=jr.key(0))
    field = eqx.tree_at(
        lambda f: (f.flow.state_weight, f.flow.input_weight, f.flow.first_bias),
        field,
        (jnp.zeros((1, 1)), jnp.ones((1, 1)), jnp.zeros(1)),
    )
    ts = jnp.linspace(0.1, 2.0, 20)
    xs = ts[:, None]  # x(t) = t
    hs = Adaptive(interpolation=PiecewiseLinear(), rtol=1e-9, atol=1e-9).integrate(
        field, jnp.zeros(1), xs, ts, 0.0, 1.0
    )
    # h' = -h + t, h(0) = 0 -> h = t - 1 + exp(-t)  (x(t) = t also for t < 0.1 by clamping: x = 0.1 there)
    t = np.asarray(ts)
    exact_after = lambda t, t1, h1: (t - 1) + (h1 - (t1 - 1)) * np.exp(-(t - t1))  # noqa: E731
    h_01 = 0.1 * (1 - np.exp(-0.1))  # constant input 0.1 on [0, 0.1]
    np.testing.assert_allclose(np.asarray(hs[:, 0]), exact_after(t, 0.1, h_01), atol=1e-5)


def test_irregular_times_zero_length_bins_leave_state(problem):
    field, h0, xs, _ = problem
    ts = jnp.array([0.1, 0.15, 0.15, 0.15, 0.4] + [0.4] * 15)
    hs = Euler().integrate(field, h0, xs, ts, 0.0, 0.1)
    np.testing.assert_array_equal(hs[1], hs[2])
    np.testing.assert_array_equal(hs[4], hs[-1])


def test_euler_unroll_gives_identical_results(problem):
    field, h0, xs, ts = problem
    a = Euler().integrate(field, h0, xs, ts, 0.0, 0.05)
    b = jax.jit(lambda: Euler(unroll=5).integrate(field, h0, xs, ts, 0.0, 0.05))()
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.bad_input
def test_bad_integrator_options():
    with pytest.raises(ConfigError):
        Euler(substeps=0)
    with pytest.raises(ConfigError, match="must be an AbstractInterpolation"):
        Adaptive(interpolation="linear")  # a name where an object belongs
