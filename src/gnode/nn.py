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

from gnode.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "swish": jax.nn.swish,
    "gelu": jax.nn.gelu,
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda a: a,
}

INITS = ("glorot_uniform", "glorot_normal", "kaiming_uniform", "kaiming_normal", "critical_normal")

BIAS_SCALE = 1e-3  # biases ~ 0.001 * N(0, 1), as in the authors' scripts


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return name


def check_init(name: str) -> str:
    if name not in INITS:
        raise ConfigError(f"unknown initialisation {name!r}; choose one of {list(INITS)}")
    return name


def init_weight(key: PRNGKeyArray, shape: tuple[int, int], fan_in: int, fan_out: int, scheme: str) -> Array:
    """Draw a weight matrix of ``shape`` (out, in).

    ``glorot_*`` use fans (in, out) of the whole layer, so a first layer split into ``W h`` and
    ``U x`` uses the fans of each matrix separately, as the authors' Flux code does.
    ``kaiming_*`` use gain sqrt(2) (Flux defaults); ``critical_normal`` is N(0, 1/fan_in), the
    base draw of the critical initialisation (:func:`gnode.init.critical_init` rescales it).
    """
    if scheme == "glorot_uniform":
        limit = jnp.sqrt(6.0 / (fan_in + fan_out))
        return jr.uniform(key, shape, minval=-limit, maxval=limit)
    if scheme == "glorot_normal":
        return jr.normal(key, shape) * jnp.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "kaiming_uniform":
        limit = jnp.sqrt(2.0) * jnp.sqrt(3.0 / fan_in)
        return jr.uniform(key, shape, minval=-limit, maxval=limit)
    if scheme == "kaiming_normal":
        return jr.normal(key, shape) * jnp.sqrt(2.0 / fan_in)
    if scheme == "critical_normal":
        return jr.normal(key, shape) / jnp.sqrt(fan_in)
    raise ConfigError(f"unknown initialisation {scheme!r}; choose one of {list(INITS)}")


def init_bias(key: PRNGKeyArray, size: int) -> Array:
    return BIAS_SCALE * jr.normal(key, (size,))


def check_widths(widths: Sequence[int], what: str) -> tuple[int, ...]:
    widths = tuple(int(w) for w in widths)
    if any(w <= 0 for w in widths):
        raise ConfigError(f"{what} widths must be positive, got {list(widths)}")
    return widths


class Linear(eqx.Module):
    """Affine map ``y = W x + b`` (``b`` optional)."""

    weight: Float[Array, "out inp"]
    bias: Float[Array, " out"] | None

    def __init__(self, inp: int, out: int, *, key: PRNGKeyArray, init: str = "glorot_uniform", bias: bool = True):
        wkey, bkey = jr.split(key)
        self.weight = init_weight(wkey, (out, inp), inp, out, check_init(init))
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
        activation: hidden nonlinearity.
        final_activation: output nonlinearity.
        init: weight initialiser (see :func:`init_weight`).
        key: PRNG key.
    """

    state_weight: Float[Array, "w0 state"]
    input_weight: Float[Array, "w0 inp"]
    first_bias: Float[Array, " w0"]
    layers: tuple[Linear, ...]
    activation: str = eqx.field(static=True)
    final_activation: str = eqx.field(static=True)

    def __init__(
        self,
        state_dim: int,
        input_dim: int,
        out_dim: int,
        widths: Sequence[int] = (),
        *,
        activation: str = "relu",
        final_activation: str = "identity",
        init: str = "glorot_uniform",
        key: PRNGKeyArray,
    ):
        widths = check_widths(widths, "MLP")
        sizes = (*widths, out_dim)
        keys = jr.split(key, len(sizes) + 2)
        w0 = sizes[0]
        self.state_weight = init_weight(keys[0], (w0, state_dim), state_dim, w0, check_init(init))
        self.input_weight = init_weight(keys[1], (w0, input_dim), max(input_dim, 1), w0, init)
        self.first_bias = init_bias(keys[2], w0)
        self.layers = tuple(Linear(sizes[i], sizes[i + 1], key=keys[i + 3], init=init) for i in range(len(sizes) - 1))
        self.activation = check_activation(activation)
        self.final_activation = check_activation(final_activation)

    @property
    def num_weight_layers(self) -> int:
        return 1 + len(self.layers)

    def project_input(self, x: Float[Array, " inp"]) -> Float[Array, " w0"]:
        """The input's contribution ``U x`` to the first layer (no bias on ``U``)."""
        return x @ self.input_weight.T

    def from_projection(self, h: Float[Array, " state"], drive: Float[Array, " w0"]) -> Array:
        """Evaluate the MLP given ``drive = U x`` computed by :meth:`project_input`."""
        return self.from_first_products(h @ self.state_weight.T, drive)

    def from_first_products(self, wh: Float[Array, " w0"], drive: Float[Array, " w0"]) -> Array:
        """Evaluate the MLP given ``W h`` (see :func:`state_products`) and ``U x``."""
        s = wh + drive + self.first_bias
        if not self.layers:
            return ACTIVATIONS[self.final_activation](s)
        hidden = ACTIVATIONS[self.activation]
        s = hidden(s)
        for layer in self.layers[:-1]:
            s = hidden(layer(s))
        return ACTIVATIONS[self.final_activation](self.layers[-1](s))

    def __call__(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Array:
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
