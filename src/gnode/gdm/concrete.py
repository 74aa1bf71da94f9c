"""The Concrete (Gumbel-softmax, relaxed one-hot) distribution on the simplex (Maddison et al. 2017).

A sample is ``softmax((logits + g) / τ)`` with ``g`` standard Gumbel noise; its density with respect to the Lebesgue
measure on the first K − 1 coordinates is

    p(z) = (K − 1)! τ^{K−1} Π_k π_k z_k^{−τ−1} / (Σ_k π_k z_k^{−τ})^K,     π = softmax(logits).

GDM scores both its transitions and its posterior with this density (lrrnn_gdm.md §B.2); like the authors' code, the
log-density renormalises z to sum to one first. Coordinates that underflowed to zero (steep logits, e.g. the standard
NASCAR's true transitions) are floored at the smallest normal float.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import gammaln
from jaxtyping import Array, Float, PRNGKeyArray


def concrete_sample(
    key: PRNGKeyArray, logits: Float[Array, "... modes"], tau: float | Float[Array, ""]
) -> Float[Array, "... modes"]:
    """A reparameterised sample ``softmax((logits + Gumbel) / τ)`` of the shape of ``logits``."""
    return jax.nn.softmax((logits + jr.gumbel(key, logits.shape)) / tau, axis=-1)


def concrete_log_prob(
    z: Float[Array, "... modes"], logits: Float[Array, "... modes"], tau: float | Float[Array, ""]
) -> Float[Array, "..."]:
    """``log p(z)`` of the Concrete distribution (the closed form above), over the last axis.

    Arguments:
        z: points of the open simplex (renormalised to sum to one here).
        logits: unnormalised log-probabilities (any shift leaves the density unchanged).
        tau: the temperature, > 0.
    Returns:
        The log-density, one value per leading index.
    """
    z = z / jnp.sum(z, axis=-1, keepdims=True)
    k = z.shape[-1]
    log_z = jnp.log(jnp.maximum(z, jnp.finfo(z.dtype).tiny))  # a coordinate that underflowed to 0 would give -inf
    score = logits - tau * log_z
    return (
        gammaln(k)
        + (k - 1) * jnp.log(tau)
        + jnp.sum(score, axis=-1)
        - k * jax.nn.logsumexp(score, axis=-1)
        - jnp.sum(log_z, axis=-1)
    )
