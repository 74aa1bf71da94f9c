import numpy as np
import pytest

from gnode.connector.metrics import (
    best_components,
    connector_distance,
    gmm_cross_validation,
    inactivation_change,
    kmeans_clusters,
    transport_distance,
)
from gnode.errors import ConfigError, DataError
from gnode.reproduce.connector.generators import make_connectivity, quadstable_mean


@pytest.fixture(scope="module")
def quad():
    return make_connectivity("quadstable")


def test_gmm_cross_validation_finds_the_four_populations(quad):
    scores = gmm_cross_validation(np.hstack([quad.m, quad.n]), components=range(2, 7))
    assert best_components(scores) == best_components(scores, "max") == 4
    assert all(len(folds) == 5 for folds in scores.values())


def test_one_standard_error_rule_takes_the_fewest_components_within_fold_noise():
    scores = {2: [-6.0, -6.2], 4: [-5.0, -5.2], 7: [-4.95, -5.15]}  # 7 beats 4 by 0.05; its standard error is 0.1
    assert best_components(scores, "max") == 7
    assert best_components(scores) == 4
    assert best_components({2: [-6.0, -6.2], 4: [-5.0, -5.2], 7: [-4.0, -4.2]}) == 7
    with pytest.raises(ConfigError, match="unknown rule"):
        best_components(scores, "bic")


def test_transport_distance_is_the_squared_shift_and_zero_for_a_permutation():
    a = np.random.default_rng(0).normal(size=(200, 2))
    assert transport_distance(a, a + np.array([1.0, 0.0])) == pytest.approx(1.0, abs=1e-9)
    assert transport_distance(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)
    assert transport_distance(a, a + np.array([1.0, 0.0]), blur=0.2) == pytest.approx(1.0, abs=0.15)


def test_connector_distance_is_smallest_for_the_own_ensemble(quad):
    other = make_connectivity("quadstable", seed=1)
    own = connector_distance(quad.m, quadstable_mean, other.m, quadstable_mean(other.m))
    ring = make_connectivity("ring")
    foreign = connector_distance(quad.m, quadstable_mean, ring.m, ring.conditional_mean)
    assert own < 0.1 < foreign


def test_silencing_a_kmeans_cluster_matches_silencing_its_population(quad):
    labels = kmeans_clusters(np.hstack([quad.m, quad.n]))
    network = quad.network()
    truth = inactivation_change(network, np.flatnonzero(quad.population == 0))
    cluster = np.argmax([np.sum((labels == k) & (quad.population == 0)) for k in range(4)])
    estimate = inactivation_change(network, np.flatnonzero(labels == cluster))
    assert np.linalg.norm(estimate - truth) / np.linalg.norm(truth) < 0.2
    # population 2 mirrors population 0 ((m, n) -> (-m, -n) leaves n tanh(mᵀκ) unchanged); 1 and 3 do not
    other = inactivation_change(network, np.flatnonzero(quad.population == 1))
    assert np.linalg.norm(other - truth) / np.linalg.norm(truth) > 1.0


@pytest.mark.bad_input
def test_bad_points_are_data_errors():
    with pytest.raises(DataError):
        gmm_cross_validation(np.zeros(5))
    with pytest.raises(DataError):
        transport_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(DataError, match="NaN"):
        kmeans_clusters(np.full((5, 2), np.nan))
