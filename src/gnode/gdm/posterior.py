"""Amortised posteriors ``q(z_{1:T} | y) = Π_t Concrete(z_t; logits_t(y), τ)`` (mean-field over time, §B.2).

- :class:`LinearPosterior` — ``logits_t = W y_t + c``: sees only the current observation, so inferring the states of
  a new sequence is one matrix product (the authors' linear GDM; W ∼ 0.8 N(0, 1)).
- :class:`GRUPosterior` — a bidirectional GRU (64 units each way) over the whole sequence, then a linear layer.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, PRNGKeyArray

from gnode.errors import ConfigError
from gnode.gdm.concrete import concrete_log_prob, concrete_sample

POSTERIORS = ("linear", "gru")


class AbstractPosterior(eqx.Module):
    """Per-time Concrete logits of the states given a whole sequence (its observations, and its inputs after them
    where the model has inputs).

    ``length``: the sequence's true length when it is padded at the end; the logits of its steps are then exactly
    those of the unpadded sequence (``None``: every step is real).
    """

    @abc.abstractmethod
    def logits(
        self, y: Float[Array, "time obs"], length: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "time modes"]: ...

    def sample(
        self,
        key: PRNGKeyArray,
        y: Float[Array, "time obs"],
        tau: float,
        count: int,
        length: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "count time modes"]:
        logits = self.logits(y, length)
        return concrete_sample(key, jnp.broadcast_to(logits, (count, *logits.shape)), tau)

    def log_prob(
        self, z: Float[Array, "... time modes"], y: Float[Array, "time obs"], tau: float
    ) -> Float[Array, "..."]:
        return jnp.sum(concrete_log_prob(z, self.logits(y), tau), axis=-1)


class LinearPosterior(AbstractPosterior):
    """``logits_t = W y_t + c``."""

    weight: Float[Array, "modes obs"]
    bias: Float[Array, " modes"]

    def __init__(self, observations: int, states: int, *, key: PRNGKeyArray):
        self.weight = 0.8 * jr.normal(key, (states, observations))
        self.bias = jnp.zeros(states)

    def logits(
        self, y: Float[Array, "time obs"], length: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "time modes"]:
        return y @ self.weight.T + self.bias


class GRUPosterior(AbstractPosterior):
    """A bidirectional GRU over the sequence and a linear map of both directions' states to the logits."""

    forward_cell: eqx.nn.GRUCell
    backward_cell: eqx.nn.GRUCell
    readout: eqx.nn.Linear

    def __init__(self, observations: int, states: int, hidden: int = 64, *, key: PRNGKeyArray):
        kf, kb, kr = jr.split(key, 3)
        self.forward_cell = eqx.nn.GRUCell(observations, hidden, key=kf)
        self.backward_cell = eqx.nn.GRUCell(observations, hidden, key=kb)
        self.readout = eqx.nn.Linear(2 * hidden, states, key=kr)

    def logits(
        self, y: Float[Array, "time obs"], length: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "time modes"]:
        def run(cell, ys):
            def step(h, y_t):
                h = cell(y_t, h)
                return h, h

            return jax.lax.scan(step, jnp.zeros(cell.hidden_size), ys)[1]

        steps = jnp.arange(y.shape[0])
        # backwards from each sequence's own last step: reverse its first `length` steps (an involution)
        order = steps[::-1] if length is None else jnp.where(steps < length, length - 1 - steps, steps)
        both = jnp.concatenate([run(self.forward_cell, y), run(self.backward_cell, y[order])[order]], axis=-1)
        return jax.vmap(self.readout)(both)


def make_posterior(kind: str, observations: int, states: int, *, key: PRNGKeyArray) -> AbstractPosterior:
    """``linear`` or ``gru`` (the CLI's names); ``observations``: the features it reads (observations and inputs)."""
    if kind not in POSTERIORS:
        raise ConfigError(f"unknown posterior {kind!r}; choose one of {list(POSTERIORS)}")
    cls = LinearPosterior if kind == "linear" else GRUPosterior
    return cls(observations, states, key=key)
