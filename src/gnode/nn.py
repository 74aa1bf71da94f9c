"""Building blocks: weight initialisers and the MLP used for flow fields and gates.

An MLP here follows the gnODE paper's form: the first layer is ``W h + U x + b`` (the state
and the input enter through separate matrices, the input one without a bias), hidden layers
are ``phi(W s + b)``, and the output layer applies a final nonlinearity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError, by_name


def identity(x: Array) -> Array:
    """``x``: the identity as a named function (so that a model holding it can be saved)."""
    return x


Activation = Callable[[Array], Array]
Initialiser = Callable[[PRNGKeyArray, tuple[int, int], int, int], Array]

# Library signatures take these functions themselves; the names are for the CLI and config files.
ACTIVATIONS: dict[str, Activation] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "swish": jax.nn.swish,
    "gelu": jax.nn.gelu,
    "sigmoid": jax.nn.sigmoid,
    "identity": identity,
}

BIAS_SCALE = 1e-3  # biases ~ 0.001 * N(0, 1), as in the authors' scripts


def glorot_uniform(key: PRNGKeyArray, shape: tuple[int, int], fan_in: int, fan_out: int) -> Float[Array, "rows cols"]:
    """U(±sqrt(6 / (fan_in + fan_out))). A first layer split into ``W h`` and ``U x`` uses the fans of each matrix
    separately, as the authors' Flux code does."""
    limit = jnp.sqrt(6.0 / (fan_in + fan_out))
    return jr.uniform(key, shape, minval=-limit, maxval=limit)


def glorot_normal(key: PRNGKeyArray, shape: tuple[int, int], fan_in: int, fan_out: int) -> Float[Array, "rows cols"]:
    """N(0, 2 / (fan_in + fan_out))."""
    return jr.normal(key, shape) * jnp.sqrt(2.0 / (fan_in + fan_out))


def kaiming_uniform(key: PRNGKeyArray, shape: tuple[int, int], fan_in: int, fan_out: int) -> Float[Array, "rows cols"]:
    """U(±sqrt(2) sqrt(3 / fan_in)) (gain sqrt(2), Flux's default)."""
    limit = jnp.sqrt(2.0) * jnp.sqrt(3.0 / fan_in)
    return jr.uniform(key, shape, minval=-limit, maxval=limit)


def kaiming_normal(key: PRNGKeyArray, shape: tuple[int, int], fan_in: int, fan_out: int) -> Float[Array, "rows cols"]:
    """N(0, 2 / fan_in)."""
    return jr.normal(key, shape) * jnp.sqrt(2.0 / fan_in)


def critical_normal(key: PRNGKeyArray, shape: tuple[int, int], fan_in: int, fan_out: int) -> Float[Array, "rows cols"]:
    """N(0, 1 / fan_in): the base draw of the critical initialisation (:func:`gnode.init.critical_init` rescales
    it)."""
    return jr.normal(key, shape) / jnp.sqrt(fan_in)


INITIALISERS: dict[str, Initialiser] = {
    f.__name__: f for f in (glorot_uniform, glorot_normal, kaiming_uniform, kaiming_normal, critical_normal)
}
INITS = tuple(INITIALISERS)


def activation(name: str) -> Activation:
    """The activation called ``name`` (for the CLI and config files).

    Raises:
        ConfigError: an unknown name.
    """
    return by_name(ACTIVATIONS, name, "activation")


def initialiser(name: str) -> Initialiser:
    """The weight initialiser called ``name`` (for the CLI and config files).

    Raises:
        ConfigError: an unknown name.
    """
    return by_name(INITIALISERS, name, "initialisation")


def check_function(function, what: str) -> Callable:
    """``function`` if it is callable; a one-line error otherwise (a name passed where an object belongs)."""
    if not callable(function):
        raise ConfigError(f"{what} must be a function, got {function!r} (resolve names with gnode.nn.{what})")
    return function


def init_bias(key: PRNGKeyArray, size: int) -> Array:
    return BIAS_SCALE * jr.normal(key, (size,))


def check_widths(widths: Sequence[int], what: str) -> tuple[int, ...]:
    widths = tuple(int(w) for w in widths)
    if any(w <= 0 for w in widths):
        raise ConfigError(f"{what} widths must be positive, got {list(widths)}")
    return widths


class Linear(eqx.Module):
    """Affine map ``y = W x + b`` (``b`` optional); ``init`` draws ``W`` (one of :data:`INITIALISERS`, or yours)."""

    weight: Float[Array, "out inp"]
    bias: Float[Array, " out"] | None

    def __init__(self, inp: int, out: int, *, key: PRNGKeyArray, init: Initialiser = glorot_uniform, bias: bool = True):
        wkey, bkey = jr.split(key)
        self.weight = check_function(init, "initialiser")(wkey, (out, inp), inp, out)
        self.bias = init_bias(bkey, out) if bias else None

    def __call__(self, x: Float[Array, " inp"]) -> Float[Array, " out"]:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


class MLP(eqx.Module):
    """``phi_out(W_L ... phi(W_1 phi(W_0 h + U x + b_0) + b_1) ... + b_L)``.

    Arguments:
        state_dim: size of ``h``.
        input_dim: size of ``x`` (0 for an autonomous map).
        out_dim: output size.
        widths: hidden widths; ``()`` is a single layer ``phi_out(W h + U x + b)``.
        activation: hidden nonlinearity (a function, e.g. ``jax.nn.relu``).
        final_activation: output nonlinearity.
        init: weight initialiser (one of :data:`INITIALISERS`, or any function of ``(key, shape, fan_in,
            fan_out)``).
        key: PRNG key.
    """

    state_weight: Float[Array, "width state"]
    input_weight: Float[Array, "width inp"]
    first_bias: Float[Array, " width"]
    layers: tuple[Linear, ...]
    activation: Activation = eqx.field(static=True)
    final_activation: Activation = eqx.field(static=True)

    def __init__(
        self,
        state_dim: int,
        input_dim: int,
        out_dim: int,
        widths: Sequence[int] = (),
        *,
        activation: Activation = jax.nn.relu,
        final_activation: Activation = identity,
        init: Initialiser = glorot_uniform,
        key: PRNGKeyArray,
    ):
        widths = check_widths(widths, "MLP")
        sizes = (*widths, out_dim)
        keys = jr.split(key, len(sizes) + 2)
        w0 = sizes[0]
        check_function(init, "initialiser")
        self.state_weight = init(keys[0], (w0, state_dim), state_dim, w0)
        self.input_weight = init(keys[1], (w0, input_dim), max(input_dim, 1), w0)
        self.first_bias = init_bias(keys[2], w0)
        self.layers = tuple(Linear(sizes[i], sizes[i + 1], key=keys[i + 3], init=init) for i in range(len(sizes) - 1))
        self.activation = check_function(activation, "activation")
        self.final_activation = check_function(final_activation, "activation")

    @property
    def num_weight_layers(self) -> int:
        return 1 + len(self.layers)

    def project_input(self, x: Float[Array, " inp"]) -> Float[Array, " width"]:
        """The input's contribution ``U x`` to the first layer (no bias on ``U``)."""
        return x @ self.input_weight.T

    def from_projection(self, h: Float[Array, " state"], drive: Float[Array, " width"]) -> Float[Array, " out"]:
        """Evaluate the MLP given ``drive = U x`` computed by :meth:`project_input`."""
        return self.from_first_products(h @ self.state_weight.T, drive)

    def from_first_products(self, wh: Float[Array, " width"], drive: Float[Array, " width"]) -> Float[Array, " out"]:
        """Evaluate the MLP given ``W h`` (see :func:`state_products`) and ``U x``."""
        s = wh + drive + self.first_bias
        if not self.layers:
            return self.final_activation(s)
        s = self.activation(s)
        for layer in self.layers[:-1]:
            s = self.activation(layer(s))
        return self.final_activation(self.layers[-1](s))

    def __call__(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " out"]:
        return self.from_projection(h, self.project_input(x))


def state_products(h: Float[Array, " state"], *mlps: MLP) -> list[Array]:
    """``[m.state_weight @ h for m in mlps]`` as one matmul.

    Networks that read the same state (F and G of a gnODE, the gates of a GRU) share one product with
    their stacked weights: fewer, larger matmuls inside the time loop (the stacking is loop-invariant).
    """
    if len(mlps) == 1:
        return [h @ mlps[0].state_weight.T]
    stacked = h @ jnp.concatenate([m.state_weight for m in mlps], axis=0).T
    sizes = [m.state_weight.shape[0] for m in mlps]
    return list(jnp.split(stacked, np.cumsum(sizes)[:-1]))
