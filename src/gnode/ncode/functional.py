"""Vector fields whose weights are an argument: ``f(z; theta)`` with ``theta`` one flat vector.

In N-CODE the weights of the state's vector field are themselves a state variable, so the field holds no
parameters: it knows only its shapes, how to cut ``theta`` into weight arrays, and a default initial ``theta``.
"""

from __future__ import annotations

import abc
import itertools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError
from gnode.nn import Activation, check_function


class AbstractFunctionalField(eqx.Module):
    """``f(z; theta)``: a parameter-free vector field on states of shape ``state_shape``."""

    state_shape: eqx.AbstractVar[tuple[int, ...]]

    @property
    @abc.abstractmethod
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shapes of the weight arrays, in the order they are read from ``theta``."""

    @abc.abstractmethod
    def apply(self, z: Float[Array, "..."], weights: tuple[Array, ...]) -> Float[Array, "..."]:
        """The velocity at ``z`` for weight arrays of :attr:`shapes`."""

    @property
    def size(self) -> int:
        """p, the length of ``theta``."""
        return int(sum(math.prod(s) for s in self.shapes))

    def unflatten(self, theta: Float[Array, " params"]) -> tuple[Array, ...]:
        """Cut ``theta`` into the weight arrays."""
        bounds = np.cumsum([0] + [math.prod(s) for s in self.shapes])
        return tuple(theta[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], self.shapes, strict=True))

    def flatten(self, weights: Sequence[ArrayLike]) -> Float[Array, " params"]:
        """``theta`` from weight arrays of :attr:`shapes` (the inverse of :meth:`unflatten`)."""
        shapes = tuple(tuple(jnp.shape(w)) for w in weights)
        if shapes != self.shapes:
            raise ConfigError(f"the field's weights have shapes {list(self.shapes)}, got {list(shapes)}")
        return jnp.concatenate([jnp.ravel(jnp.asarray(w, jnp.float32)) for w in weights])

    def __call__(self, z: Float[Array, "..."], theta: Float[Array, " params"]) -> Float[Array, "..."]:
        """The velocity ``f(z; theta)``, of the shape of ``z``."""
        return self.apply(z, self.unflatten(theta))

    def init_theta(self, key: PRNGKeyArray) -> Float[Array, " params"]:
        """A default ``theta``: LeCun-normal weights (variance 1 / fan-in), zero biases."""
        keys = jr.split(key, len(self.shapes))
        parts = []
        for k, shape in zip(keys, self.shapes, strict=True):
            if len(shape) == 1:
                parts.append(jnp.zeros(shape))
            else:
                fan_in = math.prod(shape[1:])
                parts.append(jr.normal(k, shape) / math.sqrt(fan_in))
        return self.flatten(parts)


class FunctionalMLP(AbstractFunctionalField):
    """``f(z; theta) = W_L phi(... phi(W_1 z + b_1) ...) + b_L`` on vectors of ``dim`` entries.

    Arguments:
        dim: the state dimension.
        widths: the hidden layers' widths (``()``: an affine field ``W z + b``).
        activation: the hidden nonlinearity (a function; ``jnp.tanh`` by default).
    """

    state_shape: tuple[int, ...] = eqx.field(static=True)
    widths: tuple[int, ...] = eqx.field(static=True)
    activation: Activation = eqx.field(static=True)

    def __init__(self, dim: int, widths: tuple[int, ...] = (16,), activation: Activation = jnp.tanh):
        if int(dim) <= 0 or any(int(w) <= 0 for w in widths):
            raise ConfigError(f"dim and hidden widths must be positive, got dim={dim}, widths={tuple(widths)}")
        self.state_shape = (int(dim),)
        self.widths = tuple(int(w) for w in widths)
        self.activation = check_function(activation, "activation")

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        sizes = (self.state_shape[0], *self.widths, self.state_shape[0])
        shapes = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            shapes += [(fan_out, fan_in), (fan_out,)]
        return tuple(shapes)

    def apply(self, z: Float[Array, "..."], weights: tuple[Array, ...]) -> Float[Array, "..."]:
        phi = self.activation
        layers = len(weights) // 2
        for i in range(layers):
            z = weights[2 * i] @ z + weights[2 * i + 1]
            if i < layers - 1:
                z = phi(z)
        return z


class FunctionalConv(AbstractFunctionalField):
    """``f(z; theta) = conv_2(phi(conv_1(z) + b_1)) + b_2`` on images ``(channels, height, width)``;
    'same' padding, so the velocity has the shape of ``z``.

    Arguments:
        channels, height, width: the state's shape.
        hidden: channels of the hidden layer.
        kernel: the (odd) kernel size.
        activation: the hidden nonlinearity.
    """

    state_shape: tuple[int, ...] = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    kernel: int = eqx.field(static=True)
    activation: Activation = eqx.field(static=True)

    def __init__(
        self,
        channels: int,
        height: int,
        width: int,
        hidden: int = 8,
        kernel: int = 3,
        activation: Activation = jnp.tanh,
    ):
        if min(channels, height, width, hidden) <= 0 or kernel <= 0 or kernel % 2 == 0:
            raise ConfigError(
                f"need positive sizes and an odd kernel, got {channels}x{height}x{width}, hidden {hidden}, "
                f"kernel {kernel}"
            )
        self.state_shape = (int(channels), int(height), int(width))
        self.hidden = int(hidden)
        self.kernel = int(kernel)
        self.activation = check_function(activation, "activation")

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        c, k, h = self.state_shape[0], self.kernel, self.hidden
        return ((h, c, k, k), (h,), (c, h, k, k), (c,))

    def apply(self, z: Float[Array, "..."], weights: tuple[Array, ...]) -> Float[Array, "..."]:
        w1, b1, w2, b2 = weights
        conv = lambda x, w: jax.lax.conv_general_dilated(x[None], w, (1, 1), "SAME")[0]  # noqa: E731
        hidden = self.activation(conv(z, w1) + b1[:, None, None])
        return conv(hidden, w2) + b2[:, None, None]
