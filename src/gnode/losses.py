"""Losses on batches of model outputs."""

from __future__ import annotations

import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int


def masked_mse(
    pred: Float[Array, "batch time out"],
    target: Float[Array, "batch time out"],
    mask: Float[Array, "batch time out"] | Float[Array, "batch time"] | None = None,
) -> Float[Array, ""]:
    """Mean squared error over observed entries (all entries when ``mask`` is None)."""
    sq = (pred - target) ** 2
    if mask is None:
        return jnp.mean(sq)
    if mask.ndim == 2:
        mask = mask[..., None]
    mask = jnp.broadcast_to(mask, sq.shape)
    return jnp.sum(sq * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def last_index(mask: Float[Array, "batch time"] | None, batch: int, time: int) -> Int[Array, " batch"]:
    """Index of the last observed step of each sequence (the last step when ``mask`` is None)."""
    if mask is None:
        return jnp.full((batch,), time - 1)
    if mask.ndim == 3:
        mask = mask.max(axis=-1)
    return time - 1 - jnp.argmax(mask[:, ::-1] > 0, axis=1)


def last_state_cross_entropy(
    logits: Float[Array, "batch time classes"],
    labels: Int[Array, " batch"],
    mask: Float[Array, "batch time"] | None = None,
) -> Float[Array, ""]:
    """Cross-entropy of the readout at each sequence's last observed step."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(last_readout(logits, mask), labels))


def accuracy(logits, labels, mask=None) -> Float[Array, ""]:
    """Fraction of sequences whose readout at the last observed step picks the right class."""
    return jnp.mean(jnp.argmax(last_readout(logits, mask), axis=-1) == labels)


def last_readout(
    logits: Float[Array, "batch time classes"], mask: Float[Array, "batch time"] | None
) -> Float[Array, "batch classes"]:
    """The readout of each sequence at its last observed step."""
    idx = last_index(mask, logits.shape[0], logits.shape[1])
    return logits[jnp.arange(logits.shape[0]), idx]


def r2_score(pred: Array, target: Array, mask: Array | None = None) -> Float[Array, ""]:
    """Coefficient of determination over observed entries, pooled over output channels."""
    if mask is None:
        mask = jnp.ones_like(target)
    elif mask.ndim == 2:
        mask = jnp.broadcast_to(mask[..., None], target.shape)
    n = jnp.maximum(mask.sum(axis=(0, 1)), 1.0)
    mean = (target * mask).sum(axis=(0, 1)) / n
    ss_res = jnp.sum(mask * (pred - target) ** 2)
    ss_tot = jnp.sum(mask * (target - mean) ** 2)
    return 1.0 - ss_res / ss_tot
