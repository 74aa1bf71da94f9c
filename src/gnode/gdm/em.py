"""Pieces shared by the EM-fitted baselines (SLDS, rSLDS, ARHMM): k-means initial states, state-weighted least
squares, the updates of the initial-state and transition probabilities, and greedy forecasts."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

from gnode.optional import optional_import


def all_finite(tree) -> bool:
    """Whether every array of ``tree`` is finite (an EM iteration that produced NaN or inf is refused)."""
    return all(bool(jnp.isfinite(a).all()) for a in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array)))


def kmeans_states(
    series: Float[ArrayLike, "trials time latent"], lengths: Int[ArrayLike, " trials"], states: int, seed: int
) -> tuple[Float[np.ndarray, "trials time modes"], Float[np.ndarray, "modes modes"]]:
    """Initial hard states: k-means on (value, change) of every trial's real steps (each trial's first step takes
    its second's label). Returns the one-hot states ``(trials, time, K)`` (zero on padding) and the transition counts
    ``(K, K)`` within trials."""
    from sklearn.cluster import KMeans

    series, lengths = np.asarray(series), np.asarray(lengths)
    features = np.concatenate(
        [np.hstack([s[: n - 1], np.diff(s[:n], axis=0)]) for s, n in zip(series, lengths, strict=True)]
    )
    found = KMeans(states, random_state=seed, n_init=10).fit_predict(features)
    probs = np.zeros((*series.shape[:2], states))
    counts = np.zeros((states, states))
    for i, part in enumerate(np.split(found, np.cumsum(lengths - 1)[:-1])):
        labels = np.concatenate([part[:1], part])
        np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
        probs[i, : lengths[i]] = np.eye(states)[labels]
    return probs, counts


def real_steps(steps: int, length: Int[ArrayLike, "*trials"] | None) -> Float[Array, "*trials time"]:
    """1 on a sequence's first ``length`` steps, 0 on its padding (None: every step is real); one row per length
    when given several."""
    return (
        jnp.ones(steps) if length is None else (jnp.arange(steps) < jnp.asarray(length)[..., None]).astype(jnp.float32)
    )


def smooth_states(
    initial_probs: Float[Array, " modes"],
    transitions: Float[Array, "modes modes"] | Float[Array, "pairs modes modes"],
    log_likelihoods: Float[Array, "time modes"],
    length: Int[ArrayLike, ""] | None = None,
) -> tuple[Float[Array, "time modes"], Float[Array, "modes modes"], Float[Array, ""]]:
    """HMM smoothing (dynamax) of one sequence padded at the end: the padded steps carry no evidence and their
    transitions are not counted.

    Returns:
        The state marginals ``(time, K)`` (on padding: the prior run forward), the expected transition counts within
        the real steps, and the marginal log-likelihood of the real steps.
    """
    hmm = optional_import("dynamax.hidden_markov_model.inference", "gdm")
    steps, states = log_likelihoods.shape
    real = real_steps(steps, length)
    matrices = jnp.broadcast_to(transitions, (steps - 1, states, states))
    posterior = hmm.hmm_smoother(initial_probs, matrices, log_likelihoods * real[:, None])
    pairs = jnp.einsum("t,tij->ij", real[1:], posterior.trans_probs)
    return posterior.smoothed_probs, pairs, posterior.marginal_loglik


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
