"""Log-likelihoods of observation models and the scores of fits to recordings: held-out log-likelihood, bits per
spike, co-smoothing (the Neural Latents Benchmark's definitions) and rate R².

Every function takes ``(batch, time, channels)`` arrays and an optional mask, ``(batch, time)`` or
``(batch, time, channels)``, 1 where an entry is observed; sums and means run over observed entries only.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import gammaln
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

LOG_FLOOR = 1e-8  # log(rate + LOG_FLOOR): a rate that underflows to zero costs a large finite amount, not NaN

Counts = Float[ArrayLike, "batch time channels"]
Mask = Float[ArrayLike, "batch time channels"] | Float[ArrayLike, "batch time"] | None


def observed_entries(mask: Mask, like: Array) -> Array:
    """``mask`` broadcast to ``like``'s shape (ones when None)."""
    if mask is None:
        return jnp.ones_like(like)
    mask = jnp.asarray(mask, like.dtype)
    return jnp.broadcast_to(mask[..., None] if mask.ndim == 2 else mask, like.shape)


def channel_mean(values: Counts, mask: Mask = None) -> Float[Array, " channels"]:
    """Each channel's mean over the observed entries (0 for a channel with none)."""
    values = jnp.asarray(values)
    m = observed_entries(mask, values)
    return jnp.sum(m * values, axis=(0, 1)) / jnp.maximum(jnp.sum(m, axis=(0, 1)), 1.0)


def poisson_log_likelihood(rates: Counts, counts: Counts, mask: Mask = None) -> Float[Array, ""]:
    """``sum log P(counts | rates)`` over observed entries, ``log y!`` included (nats)."""
    rates, counts = jnp.asarray(rates), jnp.asarray(counts)
    m = observed_entries(mask, counts)
    return jnp.sum(m * (counts * jnp.log(rates + LOG_FLOOR) - rates - gammaln(counts + 1.0)))


def poisson_loss(rates: Counts, counts: Counts, mask: Mask = None) -> Float[Array, ""]:
    """Mean negative Poisson log-likelihood per observed entry, less the constant ``log y!`` (what a fit
    minimises)."""
    rates, counts = jnp.asarray(rates), jnp.asarray(counts)
    m = observed_entries(mask, counts)
    return jnp.sum(m * (rates - counts * jnp.log(rates + LOG_FLOOR))) / jnp.maximum(jnp.sum(m), 1.0)


def bits_per_spike(rates: Counts, counts: Counts, mask: Mask = None) -> Float[Array, ""]:
    """How much better ``rates`` predict ``counts`` than each channel's mean rate over the observed entries, in bits
    per spike: ``(log L(rates) - log L(mean rates)) / (spikes * ln 2)`` (the Neural Latents Benchmark's score; 0 for
    the mean-rate model, higher is better)."""
    rates, counts = jnp.asarray(rates), jnp.asarray(counts)
    m = observed_entries(mask, counts)
    null = jnp.broadcast_to(channel_mean(counts, m), counts.shape)
    gain = poisson_log_likelihood(rates, counts, m) - poisson_log_likelihood(null, counts, m)
    return gain / (jnp.maximum(jnp.sum(m * counts), 1.0) * jnp.log(2.0))


def co_smoothing(
    rates: Counts, counts: Counts, held_out: Int[ArrayLike, " held"], mask: Mask = None
) -> Float[Array, ""]:
    """Bits per spike on the ``held_out`` channels (indices) only: the score of rates predicted for neurons the
    model's encoder never saw, from the trials' other (held-in) neurons."""
    rates, counts, held_out = jnp.asarray(rates), jnp.asarray(counts), jnp.asarray(held_out)
    m = observed_entries(mask, counts)
    return bits_per_spike(rates[..., held_out], counts[..., held_out], m[..., held_out])


def gaussian_log_likelihood(
    pred: Counts, targets: Counts, variance: Float[ArrayLike, " channels"], mask: Mask = None
) -> Float[Array, ""]:
    """``sum log N(targets | pred, variance)`` over observed entries (nats), one variance per channel."""
    pred, targets, variance = jnp.asarray(pred), jnp.asarray(targets), jnp.asarray(variance)
    m = observed_entries(mask, targets)
    terms = -0.5 * ((targets - pred) ** 2 / variance + jnp.log(2 * jnp.pi * variance))
    return jnp.sum(m * terms)


def residual_variance(pred: Counts, targets: Counts, mask: Mask = None) -> Float[Array, " channels"]:
    """Each channel's mean squared residual over observed entries: the maximum-likelihood variance of a Gaussian
    observation model whose mean is ``pred`` (how a fit with the MSE loss gets its likelihood)."""
    return channel_mean((jnp.asarray(targets) - jnp.asarray(pred)) ** 2, mask) + 1e-12
