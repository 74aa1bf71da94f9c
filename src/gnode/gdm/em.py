"""Pieces shared by the EM-fitted baselines (SLDS, rSLDS, ARHMM): k-means initial states, state-weighted least
squares, and the sticky Dirichlet update of a transition matrix."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def kmeans_states(series: np.ndarray, states: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial hard states: k-means on (value, change) of a ``(time, D)`` series (the first step takes the second's
    label). Returns the one-hot states ``(time, K)`` and the transition counts ``(K, K)``."""
    from sklearn.cluster import KMeans

    features = np.hstack([series[:-1], np.diff(series, axis=0)])
    labels = KMeans(states, random_state=seed, n_init=10).fit_predict(features)
    labels = np.concatenate([labels[:1], labels])
    counts = np.zeros((states, states))
    np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
    return np.eye(states)[labels], counts


def weighted_regression(
    weights: Float[Array, "T K"],
    outputs_inputs: Float[Array, "T O I"],
    inputs_inputs: Float[Array, "T I I"],
    ridge: float = 1e-6,
) -> Float[Array, "K O I"]:
    """Per state k: ``W_k = (Σ_t w_tk E[o uᵀ]) (Σ_t w_tk E[u uᵀ] + ridge I)⁻¹`` from expected outer products."""
    oi = jnp.einsum("tk,toi->koi", weights, outputs_inputs)
    ii = jnp.einsum("tk,tij->kij", weights, inputs_inputs) + ridge * jnp.eye(inputs_inputs.shape[-1])
    return jnp.linalg.solve(jnp.swapaxes(ii, -1, -2), jnp.swapaxes(oi, -1, -2)).swapaxes(-1, -2)


def sticky_transitions(counts: Float[Array, "K K"], stickiness: float) -> Float[Array, "K K"]:
    """The posterior mode-like update ``P ∝ counts + 1 + κ I`` (a Dirichlet prior with extra weight on staying)."""
    counts = counts + 1.0 + stickiness * jnp.eye(counts.shape[0])
    return counts / counts.sum(1, keepdims=True)
