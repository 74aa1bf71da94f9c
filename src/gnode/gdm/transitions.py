"""How a GDM's relaxed state switches: the Concrete logits of ``z_t`` from the past (lrrnn_gdm.md §B.2).

- :class:`LinearTransitions` — ``ℓ_t = (1 − γ)(R x_{t−1} + r + W u_t) + γ z_{t−1}`` (B1): the previous projected
  observation, the previous state (stickiness γ, learned, unconstrained) and the current inputs ``u_t``.
- :class:`GRUTransitions` — ``ℓ_t = Linear(GRU([x_{1:t−1}, u_{2:t}]))``: a recurrent network of the whole past (the
  authors' batched RNN variant: GRU of 16 units, no γ).

Both give the logits of a whole sequence at once (:meth:`~AbstractRelaxedTransitions.logits`) and one step at a
time from a carried state (:meth:`~AbstractRelaxedTransitions.step`, for forecasts).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray, PyTree


class AbstractRelaxedTransitions(eqx.Module):
    """Transition logits of a relaxed switching state."""

    @abc.abstractmethod
    def initial_carry(self) -> PyTree:
        """What :meth:`step` carries, before the first transition."""

    @abc.abstractmethod
    def step(
        self, carry: PyTree, x_prev: Float[Array, " proj"], z_prev: Float[Array, " modes"], u: Float[Array, " inp"]
    ) -> tuple[PyTree, Float[Array, " modes"]]:
        """The logits of ``z_t`` from ``x_{t−1}``, ``z_{t−1}`` and ``u_t``, and the new carry."""

    def logits(
        self, x_prev: Float[Array, "time proj"], z_prev: Float[Array, "time modes"], u: Float[Array, "time inp"]
    ) -> Float[Array, "time modes"]:
        """:meth:`step` along a sequence of ``(x_{t−1}, z_{t−1}, u_t)``."""

        def step(carry, row):
            return self.step(carry, *row)

        return jax.lax.scan(step, self.initial_carry(), (x_prev, z_prev, u))[1]


class LinearTransitions(AbstractRelaxedTransitions):
    """(B1) with inputs: ``ℓ_t = (1 − γ)(R x_{t−1} + r + W u_t) + γ z_{t−1}``.

    Arguments:
        projection: D; states: K; inputs: U (0: none).
        key: the authors' initialisation: R ∼ N(0, 1), r = 0, γ = 0.1 (and W = 0).
    """

    weight: Float[Array, "modes proj"]
    bias: Float[Array, " modes"]
    input_weight: Float[Array, "modes inp"]
    stickiness: Float[Array, ""]

    def __init__(self, projection: int, states: int, inputs: int = 0, *, key: PRNGKeyArray):
        self.weight = jr.normal(key, (states, projection))
        self.bias = jnp.zeros(states)
        self.input_weight = jnp.zeros((states, inputs))
        self.stickiness = jnp.asarray(0.1, jnp.float32)  # not weakly typed: an update would change its type

    def initial_carry(self) -> PyTree:
        return None

    def step(
        self, carry: PyTree, x_prev: Float[Array, " proj"], z_prev: Float[Array, " modes"], u: Float[Array, " inp"]
    ) -> tuple[PyTree, Float[Array, " modes"]]:
        return carry, self.logits(x_prev, z_prev, u)

    def logits(
        self,
        x_prev: Float[Array, "*time proj"],
        z_prev: Float[Array, "*time modes"],
        u: Float[Array, "*time inp"],
    ) -> Float[Array, "*time modes"]:
        recurrent = x_prev @ self.weight.T + self.bias + u @ self.input_weight.T
        return (1 - self.stickiness) * recurrent + self.stickiness * z_prev


class GRUTransitions(AbstractRelaxedTransitions):
    """``ℓ_t = Linear(h_t)``, ``h_t = GRU(h_{t−1}, [x_{t−1}, u_t])`` from ``h = 0`` (the authors' RNN variant).

    Arguments:
        projection: D; states: K; inputs: U (0: none); hidden: the GRU's units (the authors': 16).
        key: equinox's default initialisation of the GRU cell and the linear readout.
    """

    cell: eqx.nn.GRUCell
    readout: eqx.nn.Linear

    def __init__(self, projection: int, states: int, inputs: int = 0, hidden: int = 16, *, key: PRNGKeyArray):
        kc, kr = jr.split(key)
        self.cell = eqx.nn.GRUCell(projection + inputs, hidden, key=kc)
        self.readout = eqx.nn.Linear(hidden, states, key=kr)

    def initial_carry(self) -> PyTree:
        return jnp.zeros(self.cell.hidden_size)

    def step(
        self, carry: PyTree, x_prev: Float[Array, " proj"], z_prev: Float[Array, " modes"], u: Float[Array, " inp"]
    ) -> tuple[PyTree, Float[Array, " modes"]]:
        hidden = self.cell(jnp.concatenate([x_prev, u]), carry)
        return hidden, self.readout(hidden)
