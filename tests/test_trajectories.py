import itertools

import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.tasks.trajectories import random_trajectories


def test_spline_passes_through_its_knots():
    # K = 5 knots at 0, 1/4, ..., 1 fall on the observation times i/100 for i = 25, 50, 75, 100
    targets = random_trajectories(3, 5, 2, 100, seed=7)
    points = np.random.default_rng(7).standard_normal((3, 5, 2))
    assert targets.shape == (3, 100, 2) and targets.dtype == np.float32
    np.testing.assert_allclose(targets[:, [24, 49, 74, 99]], points[:, 1:], atol=1e-6)


def test_same_seed_same_targets_and_one_knot_is_a_constant():
    a = random_trajectories(2, 8, 3, 50, seed=(1, 8, 0))
    np.testing.assert_array_equal(a, random_trajectories(2, 8, 3, 50, seed=(1, 8, 0)))
    assert not np.array_equal(a, random_trajectories(2, 8, 3, 50, seed=(1, 8, 1)))
    constant = random_trajectories(4, 1, 2, 30)
    np.testing.assert_array_equal(constant, np.repeat(constant[:, :1], 30, axis=1))


@pytest.mark.parametrize("kind", ["spline", "gp"])
def test_roughness_grows_with_the_number_of_knots(kind):
    def roughness(knots):
        x = random_trajectories(200, knots, 1, 200, kind=kind, seed=knots)
        return np.mean(np.diff(x, axis=1) ** 2) / np.mean(x**2)

    values = [roughness(k) for k in (2, 4, 8, 16)]
    assert all(b > 2.5 * a for a, b in itertools.pairwise(values))  # ~K^2 for a fixed duration


def test_gp_targets_have_the_kernel_covariance():
    x = random_trajectories(4000, 4, 1, 40, kind="gp", seed=0)[..., 0]
    covariance = x.T @ x / len(x)
    times = np.arange(1, 41) / 40
    expected = np.exp(-0.5 * ((times[:, None] - times[None, :]) * 4) ** 2)
    np.testing.assert_allclose(covariance, expected, atol=0.08)


def test_bad_target_settings():
    with pytest.raises(ConfigError, match="unknown target kind"):
        random_trajectories(1, 4, 2, 10, kind="fourier")
    with pytest.raises(ConfigError, match="must be positive"):
        random_trajectories(1, 0, 2, 10)
