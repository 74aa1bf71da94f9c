"""The control of N-CODE: where the field's weights start, ``theta(0) = gamma(x)``, and how they move.

The paper's abstract fixes only that the weights are "dynamic variables governed by a trainable map from initial or
current activation state" (open and closed loop); the exact equations were not available (ncode.md §2.2), so every
reading is an option here:

- control maps ``gamma``: :class:`ConstantControl` (one learned ``theta0`` for every input) or :class:`MLPControl`
  (``theta0 + MLP(x)``, a per-input start);
- control dynamics ``d theta / dt``: :class:`Static` (0: a per-input but fixed field), :class:`OpenLoop`
  (``g(theta, t)``: the whole trajectory of ``theta`` is set by its start, hence by ``x`` alone) and
  :class:`ClosedLoop` (``g(z, theta, t)``: feedback from the current state).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError

MODES = ("static", "open", "closed")


def small_mlp(in_size: int, out_size: int, width: int, depth: int, scale: float, key: PRNGKeyArray) -> eqx.nn.MLP:
    """A tanh MLP whose last layer starts scaled by ``scale`` (small: the control starts near its default)."""
    if min(in_size, out_size, width) <= 0 or depth < 0:
        raise ConfigError(f"MLP sizes must be positive, got in {in_size}, out {out_size}, width {width}, depth {depth}")
    mlp = eqx.nn.MLP(in_size, out_size, width, depth, activation=jnp.tanh, key=key)
    last = mlp.layers[-1]
    return eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), mlp, (last.weight * scale, last.bias * 0))


class AbstractControlMap(eqx.Module):
    """``gamma``: the input's flat features ``(in_size,)`` to ``theta(0)`` of length ``size``."""

    size: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " inp"]) -> Float[Array, " size"]: ...


class ConstantControl(AbstractControlMap):
    """``theta(0) = theta0`` for every input (a learned constant): with :class:`Static` this is a neural ODE."""

    theta0: Float[Array, " size"]
    size: int = eqx.field(static=True)

    def __init__(self, theta0: Float[Array, " size"]):
        self.theta0 = jnp.asarray(theta0)
        self.size = int(self.theta0.shape[0])

    def __call__(self, x: Float[Array, " inp"]) -> Float[Array, " size"]:
        return self.theta0


class MLPControl(AbstractControlMap):
    """``theta(0) = theta0 + MLP(x)``: a per-input start around a learned default ``theta0``.

    Arguments:
        in_size: input features; theta0: the default weights (e.g. ``field.init_theta``).
        width, depth: the MLP's hidden layers (depth 0: linear); scale: its last layer's initial scale.
    """

    theta0: Float[Array, " size"]
    mlp: eqx.nn.MLP
    size: int = eqx.field(static=True)

    def __init__(
        self, in_size: int, theta0: Float[Array, " size"], *, width: int = 32, depth: int = 1, scale: float = 0.1,
        key: PRNGKeyArray,
    ):  # fmt: skip
        self.theta0 = jnp.asarray(theta0)
        self.size = int(self.theta0.shape[0])
        self.mlp = small_mlp(in_size, self.size, width, depth, scale, key)

    def __call__(self, x: Float[Array, " inp"]) -> Float[Array, " size"]:
        return self.theta0 + self.mlp(x)


class AbstractControlDynamics(eqx.Module):
    """``d theta / dt`` as a function of time, the state ``z`` and ``theta``; ``size``: the length of the ``theta``
    it moves (None: any)."""

    size: eqx.AbstractVar[int | None]

    @abc.abstractmethod
    def __call__(self, t: Float[Array, ""], z: Array, theta: Float[Array, " size"]) -> Float[Array, " size"]: ...


class Static(AbstractControlDynamics):
    """``d theta / dt = 0``: each input keeps the field ``f(.; gamma(x))``."""

    size: int | None = eqx.field(static=True, default=None)

    def __call__(self, t: Float[Array, ""], z: Array, theta: Float[Array, " size"]) -> Float[Array, " size"]:
        return jnp.zeros_like(theta)


class OpenLoop(AbstractControlDynamics):
    """``d theta / dt = g(theta, t)``: an MLP of ``[theta, t]``; no feedback from ``z``."""

    mlp: eqx.nn.MLP
    size: int = eqx.field(static=True)

    def __init__(self, size: int, *, width: int = 32, depth: int = 1, scale: float = 0.1, key: PRNGKeyArray):
        self.size = int(size)
        self.mlp = small_mlp(self.size + 1, self.size, width, depth, scale, key)

    def __call__(self, t: Float[Array, ""], z: Array, theta: Float[Array, " size"]) -> Float[Array, " size"]:
        return self.mlp(jnp.concatenate([theta, t[None]]))


class ClosedLoop(AbstractControlDynamics):
    """``d theta / dt = g(z, theta, t)``: an MLP of ``[z (flattened), theta, t]``."""

    mlp: eqx.nn.MLP
    size: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)

    def __init__(
        self, state_size: int, size: int, *, width: int = 32, depth: int = 1, scale: float = 0.1, key: PRNGKeyArray
    ):
        self.size, self.state_size = int(size), int(state_size)
        self.mlp = small_mlp(self.state_size + self.size + 1, self.size, width, depth, scale, key)

    def __call__(self, t: Float[Array, ""], z: Array, theta: Float[Array, " size"]) -> Float[Array, " size"]:
        return self.mlp(jnp.concatenate([z.ravel(), theta, t[None]]))


def make_dynamics(
    mode: str, state_size: int, size: int, *, width: int = 32, depth: int = 1, scale: float = 0.1,
    key: PRNGKeyArray,
) -> AbstractControlDynamics:  # fmt: skip
    """The control dynamics of ``mode`` (``static``, ``open`` or ``closed``)."""
    if mode == "static":
        return Static()
    if mode == "open":
        return OpenLoop(size, width=width, depth=depth, scale=scale, key=key)
    if mode == "closed":
        return ClosedLoop(state_size, size, width=width, depth=depth, scale=scale, key=key)
    raise ConfigError(f"unknown control mode {mode!r}; choose one of {list(MODES)}")
