"""The autoregressive HMM baseline, from dynamax: ``y_t = A_{z_t} y_{t−1} + b_{z_t} + N(0, Σ_{z_t})`` with Markov
states, fitted by EM (k-means initialisation); states of a new sequence by HMM smoothing under fixed parameters.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from gnode.errors import ConfigError
from gnode.optional import optional_import


def _model(states: int, observations: int, stickiness: float):
    hmm = optional_import("dynamax.hidden_markov_model", "gdm")
    return hmm.LinearAutoregressiveHMM(states, observations, num_lags=1, transition_matrix_stickiness=stickiness)


def fit_arhmm(
    y: np.ndarray, states: int, *, iterations: int = 100, stickiness: float = 10.0, seed: int = 0
) -> tuple[Any, dict]:
    """EM on one sequence ``(time, N)``.

    Returns:
        dynamax's parameters and the settings needed to rebuild the model (``states``, ``observations``,
        ``stickiness``).
    """
    from gnode.gdm.fit import check_observations

    if states < 2:
        raise ConfigError(f"a switching model needs K >= 2 states, got {states}")
    if iterations <= 0 or stickiness < 0:
        raise ConfigError(f"need iterations > 0 and stickiness >= 0, got {iterations}, {stickiness}")
    y = jnp.asarray(check_observations(y))
    model = _model(states, y.shape[1], stickiness)
    params, props = model.initialize(jr.key(seed), method="kmeans", emissions=y)
    params, _ = model.fit_em(params, props, y, inputs=model.compute_inputs(y), num_iters=iterations, verbose=False)
    return params, {"states": states, "observations": int(y.shape[1]), "stickiness": stickiness}


def arhmm_states(params: Any, settings: dict, y: np.ndarray) -> Float[Array, "T K"]:
    """Smoothed state probabilities of a sequence under fixed parameters."""
    from gnode.gdm.fit import check_observations

    y = jnp.asarray(check_observations(y, settings["observations"]))
    model = _model(settings["states"], settings["observations"], settings["stickiness"])
    return model.smoother(params, y, inputs=model.compute_inputs(y)).smoothed_probs


def arhmm_one_step(params: Any, y: Float[Array, "T N"], probs: Float[Array, "T K"]) -> Float[Array, "T N"]:
    """``Σ_k p(z_t = k)(A_k y_{t−1} + b_k)`` (the first step: ``y_0`` itself, which has no predecessor)."""
    weights, biases = params.emissions.weights, params.emissions.biases
    nxt = jnp.einsum("tk,kij,tj->ti", probs[1:], weights, y[:-1]) + probs[1:] @ biases
    return jnp.concatenate([y[:1], nxt])


def arhmm_forecast(params: Any, y: Float[Array, "T N"], probs: Float[Array, "T K"], steps: int) -> Array:
    """``steps``-ahead predictions of ``y[steps:]``, taking the most likely next state at each step (greedy)."""
    weights, biases = params.emissions.weights, params.emissions.biases
    matrix = params.transitions.transition_matrix

    def roll(y0, z0):
        def step(carry, _):
            y, z = carry
            z = jnp.argmax(matrix[z])
            return (weights[z] @ y + biases[z], z), None

        return jax.lax.scan(step, (y0, z0), None, length=steps)[0][0]

    starts = y.shape[0] - steps
    return jax.vmap(roll)(y[:starts], jnp.argmax(probs[:starts], axis=-1))
