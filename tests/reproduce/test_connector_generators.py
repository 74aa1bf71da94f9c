import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.reproduce.connector.generators import (
    ENSEMBLES,
    count_points,
    make_connectivity,
    phase_summary,
    simulate_grid,
)


@pytest.fixture(scope="module")
def worlds():
    out = {}
    for name in ENSEMBLES:
        c = make_connectivity(name)
        out[name] = (c, c.network(), simulate_grid(c.network()))
    return out


def test_statistics_of_the_ensembles():
    for name in ENSEMBLES:
        c = make_connectivity(name)
        assert c.m.shape == c.n.shape == (1000, 2)
        np.testing.assert_allclose(np.cov(c.m.T), np.eye(2), atol=0.15)
        if name != "quadstable":
            cross = np.cov(np.hstack([c.n, c.m]).T)[:2, 2:]
            expected = {"bistable": [[1.2, 0.8], [0, 1.6]], "limit_cycle": [[1.6, -0.8], [0.8, 1.6]]}
            np.testing.assert_allclose(cross, expected.get(name, 1.6 * np.eye(2)), atol=0.2)
            np.testing.assert_allclose(np.diag(np.cov(c.n.T)), [4, 4], rtol=0.12)
    quad = make_connectivity("quadstable")
    assert np.bincount(quad.population).tolist() == [250] * 4
    np.testing.assert_array_equal(make_connectivity("ring", seed=1).m, make_connectivity("ring", seed=1).m)


def final_states(network, steps=1000):
    from gnode.connector.lowrank import latent_grid

    return np.asarray(network.simulate_latent(latent_grid(20, 2.4), steps)[:, -1])


def test_phase_portraits(worlds):
    _, quad, _ = worlds["quadstable"]
    ends = final_states(quad)
    assert count_points(ends) == 4 and np.allclose(np.linalg.norm(ends, axis=1), 1.8, atol=0.1)
    assert count_points(final_states(worlds["bistable"][1])) == 2
    # the ring: the 100-step trials end on a closed curve near |κ| ≈ 1, all the way round, where the flow has
    # almost stopped (what is left is the finite-N drift, which shrinks with N)
    _, ring, trials = worlds["ring"]
    start, last = trials.latents[:, 0], trials.latents[:, -1]
    speed = lambda k: np.linalg.norm(np.asarray(ring.latent_velocity(k)), axis=1)  # noqa: E731
    assert np.allclose(np.linalg.norm(last, axis=1), 0.9, atol=0.13)
    assert speed(last).max() < 0.08 < 0.3 < np.median(speed(start))
    octants = np.floor((np.arctan2(last[:, 1], last[:, 0]) + np.pi) / (np.pi / 4)).astype(int) % 8
    assert set(octants.tolist()) == set(range(8))
    # the limit cycle keeps moving on its orbit
    _, cycle, _ = worlds["limit_cycle"]
    ends = final_states(cycle)
    assert np.linalg.norm(np.asarray(cycle.latent_velocity(ends)), axis=1).min() > 0.3
    assert np.allclose(np.linalg.norm(ends, axis=1), 1.0, atol=0.15)


def test_trajectories_shapes_and_rates(worlds):
    c, _, trials = worlds["bistable"]
    assert trials.latents.shape == (400, 100, 2) and trials.rates.shape == (400, 100, 1000)
    np.testing.assert_allclose(trials.rates[3, 7], np.tanh(trials.latents[3, 7] @ c.m.T), rtol=1e-4, atol=1e-5)


def test_unknown_ensemble_and_bad_sizes():
    with pytest.raises(ConfigError, match="unknown ensemble"):
        make_connectivity("tristable")
    with pytest.raises(ConfigError):
        make_connectivity("quadstable", neurons=1001)


def test_phase_summary_counts_the_attractors(worlds):
    _, net, trials = worlds["quadstable"]
    summary = phase_summary(net, trials, long=500)
    assert summary["end_points_after_500_steps"] == 4 and summary["speed_after_500_steps_max"] < 1e-3
    _, cycle, trials = worlds["limit_cycle"]
    assert phase_summary(cycle, trials, long=500)["speed_after_500_steps_min"] > 0.3
