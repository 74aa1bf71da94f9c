"""Continuous normalizing flows trained by conditional flow matching (Lipman et al. 2023), CondOT path.

A velocity field ``v(x, [c,] t)`` carries N(0, I) at t = 0 to the data at t = 1. Training regresses ``v`` on
``x1 − x0`` at ``x_t = t x1 + (1 − t) x0``; sampling integrates ``dx/dt = v`` with the explicit midpoint rule
(Connector: step 0.05). About twenty lines, so no flow-matching library is needed.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError

Velocity = Callable[..., Float[Array, " dim"]]  # v(x, t) or v(x, t, c), e.g. a VelocityField


class VelocityField(eqx.Module):
    """``v(x, c, t)``: an MLP of ``[x, c, t]`` (Connector: 4 hidden layers of 128, swish).

    Arguments:
        dim: size of x; condition: size of c (0: unconditional); width, depth: hidden layers.
    """

    mlp: eqx.nn.MLP
    dim: int = eqx.field(static=True)
    condition: int = eqx.field(static=True)

    def __init__(self, dim: int, condition: int = 0, *, width: int = 128, depth: int = 4, key: PRNGKeyArray):
        if dim <= 0 or condition < 0 or width <= 0 or depth < 1:
            raise ConfigError(f"need dim > 0, condition >= 0, width > 0, depth >= 1; got {dim}, {condition}, {width}, "
                              f"{depth}")  # fmt: skip
        self.dim, self.condition = int(dim), int(condition)
        self.mlp = eqx.nn.MLP(self.dim + self.condition + 1, self.dim, width, depth, activation=jax.nn.swish, key=key)

    def __call__(self, x: Float[Array, " dim"], t: Float[Array, ""], c: Float[Array, " cond"] | None = None):
        parts = [x] if c is None else [x, c]
        return self.mlp(jnp.concatenate([*parts, jnp.reshape(t, (1,))]))


def cfm_loss(
    field: Velocity, x1: Float[Array, "batch dim"], key: PRNGKeyArray, c: Float[Array, "batch cond"] | None = None
) -> Float[Array, ""]:
    """The conditional flow-matching loss ``E ‖v(x_t, c, t) − (x1 − x0)‖²`` on one batch (mean over entries)."""
    k0, kt = jr.split(key)
    x0 = jr.normal(k0, x1.shape)
    t = jr.uniform(kt, (x1.shape[0],))
    xt = t[:, None] * x1 + (1 - t[:, None]) * x0
    v = jax.vmap(field)(xt, t) if c is None else jax.vmap(field)(xt, t, c)
    return jnp.mean((v - (x1 - x0)) ** 2)


def transport(
    field: Velocity, x0: Float[Array, "batch dim"], c: Float[Array, "batch cond"] | None = None, steps: int = 20
) -> Float[Array, "batch dim"]:
    """Integrate ``dx/dt = v(x, c, t)`` from t = 0 to 1 by ``steps`` explicit-midpoint steps."""
    h = 1.0 / steps

    def v(x, ts):
        return jax.vmap(field)(x, ts) if c is None else jax.vmap(field)(x, ts, c)

    def step(x, t):
        ts = jnp.full((x.shape[0],), t)
        return x + h * v(x + 0.5 * h * v(x, ts), ts + 0.5 * h), None

    x, _ = jax.lax.scan(step, x0, jnp.arange(steps) * h)
    return x
