"""Pieces shared by the EM-fitted baselines (SLDS, rSLDS, ARHMM): k-means initial states, state-weighted least
squares, the updates of the initial-state and transition probabilities, and greedy forecasts."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float


def all_finite(tree) -> bool:
    """Whether every array of ``tree`` is finite (an EM iteration that produced NaN or inf is refused)."""
    return all(bool(jnp.isfinite(a).all()) for a in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array)))


def kmeans_states(
    series: Float[ArrayLike, "time latent"], states: int, seed: int
) -> tuple[Float[np.ndarray, "time modes"], Float[np.ndarray, "modes modes"]]:
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
    weights: Float[Array, "time modes"],
    outputs_inputs: Float[Array, "time out inp"],
    inputs_inputs: Float[Array, "time inp inp"],
    ridge: float = 1e-6,
) -> Float[Array, "modes out inp"]:
    """Per state k: ``W_k = (Σ_t w_tk E[o uᵀ]) (Σ_t w_tk E[u uᵀ] + ridge I)⁻¹`` from expected outer products."""
    oi = jnp.einsum("tk,toi->koi", weights, outputs_inputs)
    ii = jnp.einsum("tk,tij->kij", weights, inputs_inputs) + ridge * jnp.eye(inputs_inputs.shape[-1])
    return jnp.linalg.solve(jnp.swapaxes(ii, -1, -2), jnp.swapaxes(oi, -1, -2)).swapaxes(-1, -2)


def sticky_transitions(counts: Float[Array, "modes modes"], stickiness: float) -> Float[Array, "modes modes"]:
    """The posterior mode-like update ``P ∝ counts + 1 + κ I`` (a Dirichlet prior with extra weight on staying)."""
    counts = counts + 1.0 + stickiness * jnp.eye(counts.shape[0])
    return counts / counts.sum(1, keepdims=True)


def initial_state_probs(first: Float[Array, " modes"], pseudo: float = 1e-2) -> Float[Array, " modes"]:
    """The initial-state distribution from the first step's marginals, with ``pseudo`` counts on every state."""
    return (first + pseudo) / (1 + pseudo * first.shape[0])


def greedy_forecast(
    maps: Float[Array, "modes latent latent"],
    offsets: Float[Array, "modes latent"],
    next_probs: Callable[[Array, Array], Array],
    starts: Float[Array, "time latent"],
    probs: Float[Array, "time modes"],
    steps: int,
) -> Float[Array, "forecast latent"]:
    """From every ``starts[t]`` and its most likely state, ``steps`` times: take the most likely next state under
    ``next_probs(x, z)`` and apply its map, ``x ← A_z x + b_z`` (the authors' greedy ``slds_k_step_ahead``).
    Returns the value reached from each of the first ``T − steps`` starts."""

    def roll(x, z):
        def step(carry, _):
            x, z = carry
            z = jnp.argmax(next_probs(x, z))
            return (maps[z] @ x + offsets[z], z), None

        return jax.lax.scan(step, (x, z), None, length=steps)[0][0]

    count = starts.shape[0] - steps
    return jax.vmap(roll)(starts[:count], jnp.argmax(probs[:count], axis=-1))
