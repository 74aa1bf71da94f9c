"""The one optimiser builder every fit in gnode uses: AdamW, optionally clipped, with a constant or scheduled rate.

A fit that takes an ``optax.GradientTransformation`` (``fit``, ``fit_gdm``, ``fit_connector``) can be given any
other; this builder is their default.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax
from jax.typing import ArrayLike
from jaxtyping import PyTree

from gnode.errors import ConfigError


def adamw(
    learning_rate: float | optax.Schedule,
    weight_decay: float = 0.0,
    clip_norm: float | None = None,
    *,
    injectable: bool = False,
) -> optax.GradientTransformation:
    """AdamW (decoupled decay, as ``torch.optim.AdamW``) after an optional global gradient-norm clip.

    Arguments:
        learning_rate: a rate or an optax schedule; weight_decay: the decoupled decay (0: Adam).
        clip_norm: clip the gradient's global norm to this first (None: off).
        injectable: keep the rate and decay in the optimiser state (``optax.inject_hyperparams``), so that an
            ensemble can give each member its own (see :func:`set_hyperparams`).
    """
    if clip_norm is not None and not clip_norm > 0:
        raise ConfigError(f"clip_norm must be positive, got {clip_norm}")
    build = optax.inject_hyperparams(optax.adamw) if injectable else optax.adamw
    transform = build(learning_rate=learning_rate, weight_decay=weight_decay)
    return transform if clip_norm is None else optax.chain(optax.clip_by_global_norm(clip_norm), transform)


def _hyperparams(opt_state: PyTree) -> dict | None:
    """The injected hyperparameters of a state built by :func:`adamw` (or any ``inject_hyperparams`` one)."""
    for state in (opt_state, *(opt_state if isinstance(opt_state, tuple) else ())):
        if hasattr(state, "hyperparams"):
            return state.hyperparams
    return None


def set_hyperparams(opt_state: PyTree, lr: ArrayLike, weight_decay: ArrayLike) -> PyTree:
    """Write ``lr`` and ``weight_decay`` into an injectable optimiser state (in place of the builder's values).

    Raises:
        ConfigError: the state holds no injected hyperparameters (per-member rates need ``injectable=True``).
    """
    hyperparams = _hyperparams(opt_state)
    if hyperparams is None or "learning_rate" not in hyperparams:
        raise ConfigError("this optimiser keeps no injected learning rate: build it with optax.inject_hyperparams")
    hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
    if "weight_decay" in hyperparams:
        hyperparams["weight_decay"] = jnp.asarray(weight_decay, jnp.float32)
    return opt_state
