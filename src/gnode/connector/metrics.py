"""How connectivities are compared (lrrnn_gdm.md §A.6), with well-kept libraries: Gaussian-mixture model selection
and k-means from scikit-learn, optimal transport from POT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from gnode.connector.lowrank import LowRankRNN, latent_grid
from gnode.errors import ConfigError, DataError
from gnode.optional import optional_import
from gnode.selection import fold_mean_se


def _points(points: np.ndarray, name: str = "points") -> np.ndarray:
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[0] < 2:
        raise DataError(f"{name} must have shape (samples >= 2, features), got {points.shape}")
    if not np.isfinite(points).all():
        raise DataError(f"{name} contain NaN or inf")
    return points


def gmm_cross_validation(
    points: Float[ArrayLike, "count dim"], components: Sequence[int] = range(1, 10), folds: int = 5, seed: int = 42
) -> dict[int, list[float]]:
    """Held-out log-likelihood of a full-covariance Gaussian mixture for each number of components (k-fold,
    shuffled with ``seed``); :func:`best_components` reads the number of populations the points support from it.

    Arguments:
        points: ``(neurons, features)``, e.g. ``[m, n]`` per neuron.
    Returns:
        ``{k: [mean held-out log-likelihood per point, one per fold]}``.
    """
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import KFold

    points = _points(points)
    if folds < 2 or min(components) < 1:
        raise ConfigError(f"need folds >= 2 and components >= 1, got {folds}, {list(components)}")
    scores = {}
    for k in components:
        held_out = []
        for train, test in KFold(folds, shuffle=True, random_state=seed).split(points):
            mixture = GaussianMixture(k, covariance_type="full", random_state=seed).fit(points[train])
            held_out.append(mixture.score(points[test]))
        scores[int(k)] = [float(x) for x in held_out]
    return scores


SELECTION_RULES = ("one_se", "max")


def best_components(scores: dict[int, list[float]], rule: str = "one_se") -> int:
    """The number of mixture components the cross-validation supports.

    Arguments:
        scores: per-fold held-out log-likelihoods from :func:`gmm_cross_validation`.
        rule: ``max`` — the highest mean; ``one_se`` (default) — the fewest components whose mean is within one
            standard error (over folds) of the highest: past the true number the curve is flat within fold noise, so
            its argmax there is noise.
    Returns:
        The number of components.
    """
    if rule not in SELECTION_RULES:
        raise ConfigError(f"unknown rule {rule!r}; choose one of {list(SELECTION_RULES)}")
    means = {k: fold_mean_se(v)[0] for k, v in scores.items()}
    best = max(means, key=means.get)
    if rule == "max":
        return best
    spread = fold_mean_se(scores[best])[1]
    return min(k for k, v in means.items() if v >= means[best] - spread)


def transport_distance(
    a: Float[ArrayLike, "count dim"], b: Float[ArrayLike, "other dim"], blur: float | None = None
) -> float:
    """Optimal-transport cost between two point clouds with uniform weights and squared Euclidean ground cost (POT):
    exact (network simplex, the squared 2-Wasserstein distance) when ``blur`` is None, else entropic (log-domain
    Sinkhorn with regularisation ``blur²``, as geomloss's ``blur`` for p = 2; Connector used 0.05)."""
    ot = optional_import("ot", "connector")
    a, b = _points(a, "first points"), _points(b, "second points")
    if a.shape[1] != b.shape[1]:
        raise DataError(f"point clouds of dimension {a.shape[1]} and {b.shape[1]}")
    cost = ot.dist(a, b)  # squared Euclidean
    wa, wb = np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b))
    if blur is None:
        return float(ot.emd2(wa, wb, cost, numItermax=1_000_000))
    return float(ot.sinkhorn2(wa, wb, cost, reg=blur**2, method="sinkhorn_log", numItermax=5000, stopThr=1e-7))


def connector_distance(
    data_m: Float[ArrayLike, "count rank"],
    conditional_mean: Callable[[np.ndarray], np.ndarray],
    model_m: Float[ArrayLike, "neurons rank"],
    model_n: Float[ArrayLike, "neurons rank"],
    blur: float | None = None,
) -> float:
    """Connector's distance from a model to a data set: the transport cost between the data's and the model's m, plus
    the mean squared gap between the model's n (sampled at σ = 0) and the data's E[n | m] at the model's m."""
    gap = np.mean(np.sum((conditional_mean(np.asarray(model_m)) - np.asarray(model_n)) ** 2, axis=1))
    return transport_distance(data_m, model_m, blur) + float(gap)


def kmeans_clusters(
    points: Float[ArrayLike, "count dim"], clusters: int = 4, seed: int = 42
) -> Int[np.ndarray, " count"]:
    """k-means labels of ``points`` (scikit-learn, ``n_init=10``)."""
    from sklearn.cluster import KMeans

    return KMeans(clusters, n_init=10, random_state=seed).fit_predict(_points(points))


def silence(network: LowRankRNN, neurons: Int[ArrayLike, " silenced"] | Sequence[int]) -> LowRankRNN:
    """In-silico inactivation: ``m_i = 0`` for the given neurons, so ``φ(m_iᵀ κ) = 0`` and they drive nothing."""
    import equinox as eqx

    mask = np.ones(network.neurons, bool)
    mask[np.asarray(neurons)] = False
    return eqx.tree_at(lambda net: net.m, network, network.m * mask[:, None])


def inactivation_change(
    network: LowRankRNN, neurons: Int[ArrayLike, " silenced"] | Sequence[int], size: int = 30, extent: float = 2.4
) -> Float[np.ndarray, "count rank"]:
    """The change of the flow field on a grid when ``neurons`` are silenced, ``(size², R)``."""
    grid = latent_grid(size, extent)
    return np.asarray(silence(network, neurons).latent_velocity(grid) - network.latent_velocity(grid))
