"""Dynamical similarity (DSA) on linear systems with known answers."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from gnode.analysis.similarity import delay_embedding, dmd_operator, dsa, procrustes_distance
from gnode.errors import ConfigError


def simulate(a, trials=20, steps=40, seed=0):
    rng = np.random.default_rng(seed)
    z = [rng.normal(size=(trials, a.shape[0]))]
    for _ in range(steps - 1):
        z.append(z[-1] @ a.T)
    return np.stack(z, axis=1)


def rotation(theta, decay):
    return decay * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def test_dmd_recovers_a_linear_system_up_to_its_coordinates():
    a = np.array([[0.95, 0.1, 0.0], [-0.1, 0.95, 0.0], [0.0, 0.0, 0.8]])
    found = dmd_operator(simulate(a), delays=1, rank=3)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(found)), np.sort_complex(np.linalg.eigvals(a)),
                               atol=1e-8)  # fmt: skip
    assert delay_embedding(simulate(a, steps=10), 3).shape == (20, 8, 9)


def test_procrustes_distance_is_zero_for_conjugate_operators_including_reflections():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4)) * 0.3
    for q in (ortho_group.rvs(4, random_state=2), np.diag([-1.0, 1, 1, 1]) @ ortho_group.rvs(4, random_state=3)):
        assert procrustes_distance(a, q @ a @ q.T) < 2e-3
    assert procrustes_distance(a, rng.normal(size=(4, 4)) * 0.3) > 0.3


def test_dsa_sees_the_same_dynamics_in_other_coordinates_and_tells_different_ones_apart():
    spiral = rotation(0.2, 0.97)
    q = ortho_group.rvs(2, random_state=4)
    same = dsa(simulate(spiral), simulate(spiral, seed=1) @ q.T, delays=2, rank=4)
    other = dsa(simulate(spiral), simulate(rotation(0.02, 0.8)), delays=2, rank=4)
    assert same.distance < 0.01 and other.distance > 0.2
    assert same.operators[0].shape == (4, 4)


@pytest.mark.parametrize("kwargs, message", [(dict(delays=50), "delays must be"), (dict(rank=9), "rank must be")])
def test_bad_settings(kwargs, message):
    x = simulate(rotation(0.1, 0.9), steps=20)
    with pytest.raises(ConfigError, match=message):
        dsa(x, x, **{"delays": 2, "rank": 2, **kwargs})
