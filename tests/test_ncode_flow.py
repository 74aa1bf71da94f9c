import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.ncode.flow import FlowSolver, make_flow_solver


def counted(solver: FlowSolver):
    """Run a stiff-ish scalar flow with a vector field that counts its calls; returns (reported NFE, counted)."""
    calls = [0]

    def tick(_):
        calls[0] += 1

    def rhs(t, y, args):
        jax.debug.callback(tick, t)
        return -4.0 * y * jnp.cos(3.0 * t)

    sol = jax.jit(lambda y0: solver.solve(rhs, y0))(jnp.ones(2))
    jax.effects_barrier()
    return int(sol.nfe), calls[0]


@pytest.mark.parametrize("name", ["euler", "heun", "bosh3", "tsit5", "dopri5", "dopri8"])
def test_reported_nfe_equals_counted_evaluations_with_fixed_steps(name):
    reported, calls = counted(make_flow_solver(name, steps=7))
    assert reported == calls


@pytest.mark.parametrize("name", ["heun", "bosh3", "tsit5", "dopri5"])
def test_reported_nfe_equals_counted_evaluations_with_adaptive_steps(name):
    reported, calls = counted(make_flow_solver(name, rtol=1e-5, atol=1e-5))
    assert reported == calls > 10


@pytest.mark.parametrize(("name", "order"), [("euler", 1), ("heun", 2), ("bosh3", 3)])
def test_fixed_step_convergence_order(name, order):
    def error(steps):
        sol = make_flow_solver(name, steps=steps).solve(lambda t, y, args: -y + jnp.sin(t), jnp.array(1.0))
        exact = 1.5 * np.exp(-1.0) + 0.5 * (np.sin(1.0) - np.cos(1.0))
        return abs(float(sol.y1) - exact)

    observed = np.log2(error(16) / error(32))
    assert observed == pytest.approx(order, abs=0.15)


def test_saves_at_requested_times_and_pytree_states():
    ts = jnp.linspace(0.0, 1.0, 5)
    sol = FlowSolver(steps=50).solve(
        lambda t, y, args: (-y[0], 2.0 * jnp.ones_like(y[1])), (jnp.ones(3), jnp.zeros(2)), ts
    )
    np.testing.assert_allclose(sol.ys[0][:, 0], np.exp(-np.asarray(ts)), rtol=1e-5)
    np.testing.assert_allclose(sol.ys[1][:, 0], 2.0 * np.asarray(ts), atol=1e-5)
    np.testing.assert_allclose(sol.y1[0], np.exp(-1.0), rtol=1e-5)


def test_backsolve_adjoint_gradient_matches_backprop():
    def loss(a, adjoint):
        solver = make_flow_solver("tsit5", adjoint=adjoint, rtol=1e-8, atol=1e-8)
        return solver.solve(lambda t, y, a: -a * y + jnp.sin(a * t), jnp.array([1.0, 0.5]), args=a).y1.sum()

    a = jnp.array(0.7)
    np.testing.assert_allclose(jax.grad(loss)(a, "adjoint"), jax.grad(loss)(a, "backprop"), rtol=1e-3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: make_flow_solver("rk4"), "unknown solver"),
        (lambda: make_flow_solver("tsit5", adjoint="magic"), "unknown adjoint"),
        (lambda: FlowSolver(diffrax.Euler()), "Euler has no error estimate"),
        (lambda: FlowSolver(diffrax.Kvaerno5()), "unsupported solver"),
        (lambda: FlowSolver(steps=0), "steps must be positive"),
        (lambda: FlowSolver(t1=0.0), "t1 must be positive"),
    ],
)
def test_bad_solver_settings_are_config_errors(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_a_solve_that_spends_its_step_budget_gives_nan_instead_of_raising():
    stiff = FlowSolver(max_steps=16)  # dz/dt = -1e4 z needs thousands of Tsit5 steps on [0, 1]
    sol = stiff.solve(lambda t, z, args: -1e4 * z, jnp.ones(3), ts=jnp.array([0.5]))
    assert np.isnan(np.asarray(sol.y1)).all() and np.isnan(np.asarray(sol.ys)).all()
    sol = FlowSolver().solve(lambda t, z, args: -z, jnp.ones(3))  # within budget: untouched
    np.testing.assert_allclose(sol.y1, np.exp(-1.0), rtol=1e-3)
