import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.analysis.attractors import dimensions
from gnode.analysis.fixed_points import FixedPointFinder, box_starts, sample_starts, unique_points
from gnode.analysis.jacobian import Autonomous, spectrum
from gnode.errors import ConfigError
from gnode.fields import GNODE

RADIUS = 1.5


def ring(h):
    """A planar ring attractor of radius 1.5: radial flow onto the circle, no tangential flow."""
    return h * (1.0 - jnp.sqrt(jnp.sum(h * h) + 1e-12) / RADIUS)


def bistable(h):
    return jnp.array([h[0] - h[0] ** 3, -2.0 * h[1]])


A = jnp.array([[-1.0, 2.0, 0.0], [0.0, -3.0, 1.0], [0.0, 0.0, -0.5]])


def test_ring_attractor_points_on_the_ring_with_dimension_one():
    starts = box_starts([-2.5, -2.5], [2.5, 2.5], 300)
    found = FixedPointFinder()(ring, starts)
    radii = np.linalg.norm(found.points, axis=1)
    on_ring = radii > 0.5
    assert on_ring.sum() > 50  # many distinct points along the ring, not a few minima
    np.testing.assert_allclose(radii[on_ring], RADIUS, atol=1e-4)
    assert np.all(radii[~on_ring] < 1e-3)  # the only other fixed point is the unstable origin
    assert [s for s, r in zip(found.stability, on_ring, strict=True) if not r] in ([], ["unstable"])
    angles = np.arctan2(found.points[on_ring, 1], found.points[on_ring, 0])
    assert np.ptp(angles) > 5.5  # spread around the whole circle
    # slow points too lie near the ring, with one slow direction (the tangent)
    slow = found.slow_points[np.linalg.norm(found.slow_points, axis=1) > 0.5]
    np.testing.assert_allclose(np.linalg.norm(slow, axis=1), RADIUS, atol=2e-2)
    np.testing.assert_array_equal(dimensions(spectrum(ring, found.points[on_ring])), 1)


def test_bistable_system_two_stable_points_and_a_saddle():
    found = FixedPointFinder()(bistable, box_starts([-2, -2], [2, 2], 200))
    assert sorted(found.stability) == ["saddle-1", "stable", "stable"]
    order = np.argsort(found.points[:, 0])
    np.testing.assert_allclose(found.points[order], [[-1, 0], [0, 0], [1, 0]], atol=1e-5)
    saddle = found.stability.index("saddle-1")
    np.testing.assert_allclose(found.spectrum.eigenvalues[saddle].real, [1.0, -2.0], atol=1e-5)
    assert found.count("stable") == 2 and found.count("saddle") == 1


def test_linear_system_eigenvalues():
    found = FixedPointFinder()(lambda h: A @ h, box_starts([-1] * 3, [1] * 3, 64))
    assert len(found.points) == 1 and found.stability == ["stable"]
    np.testing.assert_allclose(found.points[0], 0.0, atol=1e-5)
    np.testing.assert_allclose(found.spectrum.eigenvalues[0].real, [-0.5, -1.0, -3.0], atol=1e-5)
    assert found.q[0] < 1e-10
    # eigenvectors are eigenvectors
    vals, vecs = found.spectrum.eigenvalues[0], found.spectrum.eigenvectors[0]
    np.testing.assert_allclose(np.asarray(A) @ vecs, vecs * vals, atol=1e-5)


def test_unique_points_keeps_the_best_of_each_cluster():
    points = np.array([[0.0, 0.0], [1e-4, 0.0], [1.0, 1.0], [1.0, 1.0 + 5e-4]])
    keep = unique_points(points, np.array([2.0, 1.0, 3.0, 4.0]), tol=1e-3)
    assert sorted(keep.tolist()) == [1, 2]


def test_gnode_field_fixed_points_are_zeros_of_the_velocity():
    field = GNODE(2, 1, flow_widths=(16,), key=jr.key(0))
    found = FixedPointFinder()(Autonomous(field), box_starts([-2, -2], [2, 2], 64))
    assert len(found.points) >= 1
    speeds = np.linalg.norm([np.asarray(field.velocity(jnp.asarray(p), jnp.zeros(1))) for p in found.points], axis=1)
    assert np.all(speeds < 2e-5)


@pytest.mark.parametrize(
    "starts, message",
    [
        (np.zeros((0, 2)), "non-empty"),
        (np.zeros((4, 3)), "dimension"),
        (np.full((4, 2), np.nan), "NaN"),
    ],
)
def test_bad_initial_states(starts, message):
    field = GNODE(2, 1, flow_widths=(4,), key=jr.key(0))
    with pytest.raises(ConfigError, match=message):
        FixedPointFinder()(Autonomous(field), starts)


def test_bad_settings_and_starts():
    with pytest.raises(ConfigError, match="fixed_tol"):
        FixedPointFinder(fixed_tol=1e-3, slow_tol=1e-6)
    with pytest.raises(ConfigError, match="positive count"):
        sample_starts(np.zeros((5, 2)), 0, 0.1)
    with pytest.raises(ConfigError, match="lo <= hi"):
        box_starts([1.0], [0.0], 4)


def test_starts_are_deterministic():
    states = np.random.default_rng(0).normal(size=(3, 10, 2))
    np.testing.assert_array_equal(sample_starts(states, 7, 0.1, seed=3), sample_starts(states, 7, 0.1, seed=3))
    assert sample_starts(states, 7, 0.1).shape == (7, 2)


def test_refining_from_a_looser_tolerance_finds_the_same_points():
    starts = box_starts([-2, -2], [2, 2], 100)
    strict = FixedPointFinder()(bistable, starts)
    loose = FixedPointFinder(max_steps=50, refine_tol=1e-1)(bistable, starts)
    assert loose.descent_steps <= 50 and sorted(loose.stability) == sorted(strict.stability)
    np.testing.assert_allclose(np.sort(loose.points[:, 0]), np.sort(strict.points[:, 0]), atol=1e-5)
    with pytest.raises(ConfigError, match="refine_tol"):
        FixedPointFinder(refine_tol=1e-9)
