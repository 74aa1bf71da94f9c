import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.tasks import FLIPFLOP_TASKS, Annulus, Box, Points, circle


def test_points_and_corners():
    corners = Points.corners((1.0, 2.0))
    assert corners.dimension == 0 and corners.dim == 2
    assert sorted(map(tuple, corners.sample(10))) == [(-1, -2), (-1, 2), (1, -2), (1, 2)]
    assert corners.diameter() == pytest.approx(2 * np.sqrt(5))


def test_box_sample_fills_the_box():
    box = Box((2.0, 1.0))
    points = box.sample(400)
    assert box.dimension == 2 and len(points) >= 400
    np.testing.assert_allclose(points.min(0), [-2, -1])
    np.testing.assert_allclose(points.max(0), [2, 1])
    assert box.diameter() == pytest.approx(2 * np.sqrt(5))


def test_circle_and_annulus():
    ring = circle(2.0)
    points = ring.sample(100)
    assert ring.dimension == 1 and len(points) == 100
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 2.0)
    annulus = Annulus(1.0, 2.0)
    radii = np.linalg.norm(annulus.sample(500), axis=1)
    assert annulus.dimension == 2 and len(radii) > 300
    assert radii.min() >= 1.0 and radii.max() <= 2.0 and radii.min() < 1.1 and radii.max() > 1.9
    with pytest.raises(ConfigError):
        Annulus(2.0, 1.0)


def test_every_flipflop_task_has_a_storable_set_in_its_output_space():
    for name, spec in FLIPFLOP_TASKS.items():
        assert spec.storable is not None and spec.storable.dim == spec.channels, name
    assert FLIPFLOP_TASKS["ring"].storable.dimension == 1
    assert FLIPFLOP_TASKS["three_bit_variable"].storable.dimension == 3
