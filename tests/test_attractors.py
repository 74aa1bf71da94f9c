import numpy as np
import pytest

from gnode.analysis.attractors import (
    chamfer_distance,
    coverage,
    dimensions,
    drift_statistics,
    hausdorff_distance,
    manifold_dimension,
    shape_match,
)
from gnode.analysis.jacobian import Spectrum
from gnode.errors import ConfigError
from gnode.tasks import Box, circle


def test_distances_between_shifted_sets():
    a = np.random.default_rng(0).normal(size=(50, 2)) * 10
    b = a + np.array([0.01, 0.0])  # each point's nearest neighbour is its shifted twin
    assert chamfer_distance(a, b) == pytest.approx(0.01, rel=1e-6)
    assert hausdorff_distance(a, b) == pytest.approx(0.01, rel=1e-6)
    outlier = np.concatenate([b, [[100.0, 100.0]]])
    assert hausdorff_distance(a, outlier) > 50  # Hausdorff sees the worst point, Chamfer the average
    assert chamfer_distance(a, outlier) < 2
    with pytest.raises(ConfigError):
        chamfer_distance(a, np.zeros((0, 2)))


def test_coverage_of_half_a_circle():
    ring = circle(2.0)
    theta = np.linspace(0, np.pi, 200)
    half = 2.0 * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    assert coverage(ring, half, delta=0.05, samples=1000) == pytest.approx(0.5, abs=0.01)
    full = ring.sample(500)
    match = shape_match(ring, full)
    assert match["coverage"] == 1.0 and match["chamfer"] < 0.02 and match["diameter"] == 4.0


def test_coverage_of_a_box_by_its_corner():
    assert coverage(Box((1.0, 1.0)), np.array([[1.0, 1.0]]), delta=1.0) == pytest.approx(np.pi / 16, abs=0.03)


def test_dimensions_count_slow_directions():
    spec = Spectrum.of(np.stack([np.diag([-1e-3, -1.0]), np.diag([-2e-2, 1e-2]), np.diag([-0.5, -2.0])]))
    np.testing.assert_array_equal(dimensions(spec, 0.1), [1, 2, 0])
    np.testing.assert_array_equal(dimensions(spec, 0.01), [1, 0, 0])
    assert manifold_dimension(spec) == 1
    with pytest.raises(ConfigError):
        manifold_dimension(Spectrum.of(np.zeros((0, 2, 2))))


def test_drift_statistics():
    held = np.zeros((4, 11, 2))
    held[:, -1, 0] = [0.0, 0.1, 0.2, 0.4]
    stats = drift_statistics(held, seconds=10.0, diameter=4.0)
    assert stats["median_drift"] == pytest.approx(0.15)
    assert stats["median_drift_per_second"] == pytest.approx(0.015)
    assert stats["median_drift_fraction"] == pytest.approx(0.0375)
