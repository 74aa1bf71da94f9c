"""What a trained GDM says about a sequence: soft states, one-step reconstructions, k-step forecasts (§B.3).

All three need only a forward pass of the amortised posterior, so a test sequence is inferred without
re-optimisation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, PRNGKeyArray

from gnode.gdm.model import GDM
from gnode.gdm.posterior import AbstractPosterior


def _features(y: Array, inputs: Array | None) -> Array:
    return y if inputs is None else jnp.concatenate([y, inputs], axis=-1)


def soft_states(
    posterior: AbstractPosterior,
    y: Float[ArrayLike, "time obs"],
    tau: float,
    key: PRNGKeyArray,
    draws: int = 20,
    *,
    inputs: Float[ArrayLike, "time inp"] | None = None,
    length: Int[ArrayLike, ""] | None = None,
) -> Float[Array, "time modes"]:
    """The mean of ``draws`` posterior samples (the authors' soft states; their argmax is the hard state).

    Arguments:
        inputs: the sequence's inputs, where the model has inputs.
        length: the real steps of a sequence padded at the end (the padded steps' values mean nothing).
    """
    return jnp.mean(posterior.sample(key, _features(jnp.asarray(y), inputs), tau, draws, length), axis=0)


def reconstruct(
    model: GDM,
    posterior: AbstractPosterior,
    y: Float[ArrayLike, "time obs"],
    key: PRNGKeyArray,
    draws: int = 20,
    *,
    inputs: Float[ArrayLike, "time inp"] | None = None,
    length: Int[ArrayLike, ""] | None = None,
) -> Float[Array, "time obs"]:
    """One-step predictions ``Σ_k z_{t,k} μ_{k,t}(y_{t−1})``, averaged over ``draws`` posterior samples."""
    y = jnp.asarray(y)
    z = posterior.sample(key, _features(y, inputs), model.tau, draws, length)
    return jnp.mean(jax.vmap(lambda s: model.reconstruct(y, s, inputs))(z), axis=0)


def forecast(
    model: GDM,
    posterior: AbstractPosterior,
    y: Float[ArrayLike, "time obs"],
    steps: int,
    key: PRNGKeyArray,
    draws: int = 100,
    *,
    inputs: Float[ArrayLike, "time inp"] | None = None,
    length: Int[ArrayLike, ""] | None = None,
) -> Float[Array, "forecast obs"]:
    """``steps``-ahead predictions of ``y[steps:]``: from every time t, the posterior's state at t, the observed
    ``y_t`` and the transitions' carry at t are rolled forward ``steps`` times by :meth:`GDM.forecast` with the
    recorded inputs ``u_{t+1..t+steps}`` (the last prediction is kept). A padded sequence's predictions are
    meaningful for targets before its ``length``."""
    y = jnp.asarray(y)
    u = jnp.zeros((y.shape[0], model.inputs)) if inputs is None else jnp.asarray(inputs)
    kz, kf = jr.split(key)
    z = soft_states(posterior, y, model.tau, kz, inputs=inputs, length=length)
    carries = model.carries(y, z, u)
    starts = y.shape[0] - steps
    ahead = jnp.concatenate([u, jnp.zeros((steps, u.shape[1]))])

    def roll(t, carry, k):
        future = jax.lax.dynamic_slice_in_dim(ahead, t + 1, steps)
        return model.forecast(k, y[t], z[t], steps, draws, carry=carry, inputs=future)[-1]

    head = jax.tree_util.tree_map(lambda c: c[:starts], carries)
    return jax.vmap(roll)(jnp.arange(starts), head, jr.split(kf, starts))
