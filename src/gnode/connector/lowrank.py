"""Low-rank RNNs: ``J = M Nᵀ / N_neurons``, the discrete-time dynamics of Connector (lrrnn_gdm.md §A.2.1).

    h_{t+1} = h_t + α (−h_t + (1/N) M Nᵀ φ(h_t) + B u_t + d),        r_t = φ(h_t)

With no inputs and no bias, a state ``h = M κ`` stays in the column space of M and the R latents follow

    κ_{t+1} = κ_t + α (−κ_t + (1/N) Σ_i n_i φ(m_iᵀ κ_t))                                       (A1)

so every question about the dynamics (fixed points, flow field, inactivation) can be asked of κ in R dimensions.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from gnode.errors import ConfigError
from gnode.nn import Activation, check_function


class LowRankRNN(eqx.Module):
    """A rank-R RNN of ``neurons`` units.

    Arguments:
        m: input loadings ``(neurons, R)`` (row i is neuron i's m_i).
        n: output loadings ``(neurons, R)``.
        alpha: the Euler step ``dt / tau`` (0.1 in Connector).
        activation: φ (``tanh``).
        inputs: input weights B ``(neurons, inputs)`` or None; bias: d ``(neurons,)`` or None.
    """

    m: Float[Array, "neurons rank"]
    n: Float[Array, "neurons rank"]
    inputs: Float[Array, "neurons inp"] | None = None
    bias: Float[Array, " neurons"] | None = None
    alpha: float = eqx.field(static=True, default=0.1)
    activation: Activation = eqx.field(static=True, default=jnp.tanh)

    def __check_init__(self):
        if self.m.ndim != 2 or self.m.shape != self.n.shape:
            raise ConfigError(f"m and n must both have shape (neurons, rank), got {self.m.shape} and {self.n.shape}")
        if self.inputs is not None and (self.inputs.ndim != 2 or self.inputs.shape[0] != self.m.shape[0]):
            raise ConfigError(f"input weights must have shape ({self.m.shape[0]}, inputs), got {self.inputs.shape}")
        if self.bias is not None and self.bias.shape != (self.m.shape[0],):
            raise ConfigError(f"bias must have shape ({self.m.shape[0]},), got {self.bias.shape}")
        if not 0 < self.alpha <= 1:
            raise ConfigError(f"alpha must be in (0, 1], got {self.alpha}")
        check_function(self.activation, "activation")

    @property
    def neurons(self) -> int:
        return self.m.shape[0]

    @property
    def rank(self) -> int:
        return self.m.shape[1]

    def phi(self, h: Array) -> Array:
        return self.activation(h)

    def drive(self, u: Float[Array, " inp"] | None) -> Float[Array, " neurons"] | float:
        """``B u + d`` (0 without inputs or bias)."""
        total = 0.0
        if self.inputs is not None and u is not None:
            total = total + self.inputs @ u
        if self.bias is not None:
            total = total + self.bias
        return total

    def step(self, h: Float[Array, " neurons"], u: Float[Array, " inp"] | None = None) -> Float[Array, " neurons"]:
        """One step of the network."""
        recurrent = self.m @ (self.n.T @ self.phi(h)) / self.neurons  # never forms the N x N matrix
        return h + self.alpha * (-h + recurrent + self.drive(u))

    def simulate(
        self, h0: Float[Array, " neurons"], steps: int, inputs: Float[Array, "steps inp"] | None = None
    ) -> Float[Array, "time neurons"]:
        """Potentials ``h_0 .. h_steps`` (``time = steps + 1``; rates are ``phi`` of them)."""
        xs = inputs if inputs is not None else jnp.zeros((steps, 0))

        def body(h, u):
            h = self.step(h, u if inputs is not None else None)
            return h, h

        _, hs = jax.lax.scan(body, h0, xs, length=steps)
        return jnp.concatenate([h0[None], hs])

    def latent_velocity(
        self, kappa: Float[ArrayLike, "*#batch rank"], drive: Float[ArrayLike, "*#batch inp"] | None = None
    ) -> Float[Array, "*#batch rank"]:
        """``(κ_{t+1} − κ_t) / α = −κ + (1/N) Σ_i n_i φ(m_iᵀ κ + b_iᵀ ũ + d_i)``, any leading axes.

        Arguments:
            kappa: the latents; drive: ũ, the inputs as the network has filtered them (:func:`input_drive`;
                None: no inputs).
        """
        pre = kappa @ self.m.T
        if drive is not None and self.inputs is not None:
            pre = pre + drive @ self.inputs.T
        if self.bias is not None:
            pre = pre + self.bias
        return -kappa + self.phi(pre) @ self.n / self.neurons

    def simulate_latent(
        self,
        kappa0: Float[ArrayLike, "*batch rank"],
        steps: int,
        drive: Float[ArrayLike, "*batch time inp"] | None = None,
    ) -> Float[Array, "*batch time rank"]:
        """Latents ``κ_0 .. κ_steps`` of (A1) from each start (``time = steps + 1``), time on the second-to-last axis;
        ``drive``: ũ at each step (at least ``steps`` of them), or None without inputs."""
        kappa0 = jnp.asarray(kappa0)
        xs = None if drive is None else jnp.moveaxis(jnp.asarray(drive)[..., :steps, :], -2, 0)

        def body(kappa, u):
            kappa = kappa + self.alpha * self.latent_velocity(kappa, u)
            return kappa, kappa

        _, ks = jax.lax.scan(body, kappa0, xs, length=steps)
        return jnp.moveaxis(jnp.concatenate([kappa0[None], ks]), 0, -2)

    def effective_connectivity(self) -> Float[Array, "neurons neurons"]:
        """``J = M Nᵀ / N`` (neurons × neurons: form it only for small networks)."""
        return self.m @ self.n.T / self.neurons


def input_drive(inputs: Float[ArrayLike, "*batch time inp"], alpha: float) -> Float[Array, "*batch time inp"]:
    """ũ: the inputs as a network of step ``alpha`` has filtered them, ``ũ_0 = 0``, ``ũ_{t+1} = (1 − α) ũ_t + α u_t``.

    A network started at ``h_0`` has ``h_t = M κ_t + B ũ_t + (1 − α)^t (h_0 − M κ_0)``, so with inputs the latents
    κ follow (A1) with ``b_iᵀ ũ_t`` added inside φ.
    """
    inputs = jnp.moveaxis(jnp.asarray(inputs), -2, 0)

    def body(u_filtered, u):
        return (1 - alpha) * u_filtered + alpha * u, u_filtered

    _, filtered = jax.lax.scan(body, jnp.zeros_like(inputs[0]), inputs)
    return jnp.moveaxis(filtered, 0, -2)


def latent_grid(size: int = 20, extent: float = 2.4) -> Float[Array, "count 2"]:
    """A ``size × size`` grid over ``[−extent, extent]²`` (the Connector initial conditions: 20 × 20, 2.4)."""
    if size < 2 or not extent > 0:
        raise ConfigError(f"need size >= 2 and extent > 0, got {size}, {extent}")
    axis = jnp.linspace(-extent, extent, size)
    a, b = jnp.meshgrid(axis, axis, indexing="xy")
    return jnp.stack([a.ravel(), b.ravel()], axis=1)


def flow_field_error(reference: Float[ArrayLike, "count rank"], other: Float[ArrayLike, "count rank"]) -> float:
    """Relative error ``‖other − reference‖ / ‖reference‖`` of two flow fields on the same grid."""
    return float(jnp.linalg.norm(other - reference) / jnp.linalg.norm(reference))
