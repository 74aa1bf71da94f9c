import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.analysis.fixed_points import FixedPointFinder, box_starts
from gnode.analysis.jacobian import Autonomous, Spectrum, along_trajectories, gate_decomposition, jacobians, spectrum
from gnode.errors import ConfigError
from gnode.fields import GNODE, NODE
from gnode.model import make_model, predict


def test_spectrum_sorted_and_classified():
    jac = np.stack([np.diag([-1.0, -2.0]), np.diag([-1.0, 3.0]), np.diag([2.0, 0.5]), np.diag([0.0, -1.0])])
    spec = Spectrum.of(jac)
    np.testing.assert_allclose(spec.eigenvalues.real, [[-1, -2], [3, -1], [2, 0.5], [0, -1]])
    assert spec.stability(1e-6) == ["stable", "saddle-1", "unstable", "stable"]
    np.testing.assert_allclose(spec.time_constants(0.01)[0], [0.01, 0.005])
    assert np.isinf(spec.time_constants(0.01)[3, 0])


def test_jacobian_of_a_linear_field():
    a = jnp.array([[0.0, 1.0], [-4.0, -0.4]])
    jac = jacobians(lambda h: a @ h, np.zeros((3, 2)))
    np.testing.assert_allclose(jac, np.broadcast_to(a, (3, 2, 2)))
    spec = spectrum(lambda h: a @ h, np.zeros((1, 2)))
    np.testing.assert_allclose(np.sort(spec.eigenvalues[0].imag), [-np.sqrt(3.96), np.sqrt(3.96)], rtol=1e-6)


def test_gated_jacobian_factorises_at_fixed_points():
    """At a fixed point, J = diag(G) (-I + dF/dh), and the gate does not move the point."""
    field = GNODE(3, 2, flow_widths=(32,), key=jr.key(1))
    found = FixedPointFinder()(Autonomous(field), box_starts([-2] * 3, [2] * 3, 64))
    assert len(found.points) >= 1
    gates, ungated = gate_decomposition(field, found.points)
    np.testing.assert_allclose(found.spectrum.jacobians, gates[:, :, None] * ungated.jacobians, atol=1e-5)
    assert np.all((gates > 0) & (gates < 1))
    # the same point is a fixed point of the ungated field -h + F
    ungated_speed = [np.linalg.norm(field.ungated_velocity(jnp.asarray(p), jnp.zeros(2))) for p in found.points]
    assert max(ungated_speed) < 1e-4


def test_autonomous_checks_the_held_input():
    field = NODE(2, 3, flow_widths=(4,), key=jr.key(0))
    x = jnp.array([1.0, -1.0, 0.5])
    np.testing.assert_allclose(Autonomous(field, x)(jnp.ones(2)), field.velocity(jnp.ones(2), x))
    with pytest.raises(ConfigError, match="shape"):
        Autonomous(field, jnp.zeros(2))


def test_along_trajectories():
    model = make_model("gnode", 3, 2, 2, flow_widths=(8,), key=jr.key(0))
    inputs = np.random.default_rng(0).normal(size=(4, 12, 2)).astype(np.float32)
    _, states = predict(model, jnp.asarray(inputs))
    traj = along_trajectories(model.field, states, inputs, model.tau)
    assert traj.gates.shape == (4, 12, 3) and traj.time_constants.shape == (4, 12, 3)
    h, x = jnp.asarray(states[2, 5]), jnp.asarray(inputs[2, 5])
    expected = jax.jacfwd(lambda s: model.field.velocity(s, x))(h)
    np.testing.assert_allclose(traj.spectrum.jacobians[2 * 12 + 5], expected, atol=1e-6)
    np.testing.assert_allclose(traj.gates[2, 5], model.field.gate(h, x), atol=1e-6)


@pytest.mark.bad_input
def test_along_trajectories_needs_states_and_inputs_alike():
    model = make_model("gnode", 3, 2, 2, flow_widths=(8,), key=jr.key(0))
    inputs = np.zeros((4, 12, 2), np.float32)
    _, states = predict(model, jnp.asarray(inputs))
    with pytest.raises(ConfigError, match="alike"):
        along_trajectories(model.field, states, inputs[:, :5], model.tau)
