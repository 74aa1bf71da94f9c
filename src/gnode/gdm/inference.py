"""What a trained GDM says about a sequence: soft states, one-step reconstructions, k-step forecasts (§B.3).

All three need only a forward pass of the amortised posterior, so a test sequence is inferred without
re-optimisation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import ArrayLike
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.gdm.model import GDM
from gnode.gdm.posterior import AbstractPosterior


def soft_states(
    posterior: AbstractPosterior, y: Float[ArrayLike, "time obs"], tau: float, key: PRNGKeyArray, draws: int = 20
) -> Float[Array, "time modes"]:
    """The mean of ``draws`` posterior samples (the authors' soft states; their argmax is the hard state)."""
    return jnp.mean(posterior.sample(key, y, tau, draws), axis=0)


def reconstruct(
    model: GDM, posterior: AbstractPosterior, y: Float[ArrayLike, "time obs"], key: PRNGKeyArray, draws: int = 20
) -> Float[Array, "time obs"]:
    """One-step predictions ``Σ_k z_{t,k} μ_{k,t}(y_{t−1})``, averaged over ``draws`` posterior samples."""
    z = posterior.sample(key, y, model.tau, draws)
    return jnp.mean(jax.vmap(lambda s: model.reconstruct(y, s))(z), axis=0)


def forecast(
    model: GDM,
    posterior: AbstractPosterior,
    y: Float[ArrayLike, "time obs"],
    steps: int,
    key: PRNGKeyArray,
    draws: int = 100,
) -> Float[Array, "forecast obs"]:
    """``steps``-ahead predictions of ``y[steps:]``: from every time t, the posterior's state at t and the observed
    ``y_t`` are rolled forward ``steps`` times by :meth:`GDM.forecast` (the last prediction is kept)."""
    kz, kf = jr.split(key)
    z = soft_states(posterior, y, model.tau, kz)
    starts = y.shape[0] - steps
    keys = jr.split(kf, starts)
    return jax.vmap(lambda y0, z0, k: model.forecast(k, y0, z0, steps, draws)[-1])(y[:starts], z[:starts], keys)
