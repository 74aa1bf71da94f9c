"""Vector fields: the velocity ``v(h, x)`` in ``tau dh/dt = v(h, x)``.

Every field works on one sample (``h`` of shape ``(N,)``, ``x`` of shape ``(d,)``); batches
and ensembles are ``vmap``-ed outside. The input enters each first layer linearly, so a field
splits ``velocity(h, x)`` into ``project_input(x)`` (done once for a whole sequence, outside
the time loop) and ``velocity_from_projection(h, drive)`` (inside it).
"""

import abc
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from equinox import AbstractVar
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError
from gnode.nn import MLP, Activation, Initialiser, glorot_uniform, identity, initialiser, state_products
from gnode.nn import activation as activation_by_name


def _check_dims(state_dim: int, input_dim: int) -> None:
    if int(state_dim) <= 0:
        raise ConfigError(f"state dimension must be positive, got {state_dim}")
    if int(input_dim) < 0:
        raise ConfigError(f"input dimension must be non-negative, got {input_dim}")


class AbstractField(eqx.Module):
    """A vector field ``tau dh/dt = v(h, x)``."""

    @property
    @abc.abstractmethod
    def state_dim(self) -> int: ...

    @property
    @abc.abstractmethod
    def input_dim(self) -> int: ...

    @property
    @abc.abstractmethod
    def flow_layers(self) -> int:
        """Number of weight layers of the flow network F (the ``L`` of critical initialisation)."""

    @abc.abstractmethod
    def project_input(self, x: Float[Array, " inp"]) -> Any:
        """The linear input drive of every first layer, a PyTree of arrays."""

    @abc.abstractmethod
    def velocity_from_projection(self, h: Float[Array, " state"], drive: Any) -> Float[Array, " state"]: ...

    @abc.abstractmethod
    def ungated_velocity(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        """``-h + F(h, x)`` with any gate divided out."""

    @abc.abstractmethod
    def gate(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        """The per-unit gate G(h, x) (ones for an ungated field)."""

    def velocity(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        """Arguments: state ``h`` (N,), input ``x`` (d,). Returns: ``v(h, x)`` (N,)."""
        return self.velocity_from_projection(h, self.project_input(x))


def _flow_mlp(state_dim, input_dim, widths, activation, flow_output, init, key) -> MLP:
    """F: an MLP from (h, x) back to the state space."""
    return MLP(
        state_dim, input_dim, state_dim, widths, activation=activation, final_activation=flow_output, init=init, key=key
    )


class AbstractFlowField(AbstractField):
    """A field built around a flow network ``F`` (an :class:`MLP`), which fixes its sizes."""

    flow: AbstractVar[MLP]

    @property
    def state_dim(self) -> int:
        return self.flow.state_weight.shape[-1]

    @property
    def input_dim(self) -> int:
        return self.flow.input_weight.shape[-1]

    @property
    def flow_layers(self) -> int:
        return self.flow.num_weight_layers


class NODE(AbstractFlowField):
    """Neural ODE: ``v = -h + F(h, x)``, F an MLP (relu hidden layers, identity output by default).

    Arguments:
        state_dim, input_dim: sizes of ``h`` and ``x``.
        flow_widths: hidden widths of F (``()``: one layer).
        activation: hidden nonlinearity of F; flow_output: its output nonlinearity.
        init: weight initialiser; key: PRNG key.
    """

    flow: MLP

    def __init__(
        self,
        state_dim: int,
        input_dim: int,
        flow_widths: Sequence[int] = (),
        *,
        activation: Activation = jax.nn.relu,
        flow_output: Activation = identity,
        init: Initialiser = glorot_uniform,
        key: PRNGKeyArray,
    ):
        _check_dims(state_dim, input_dim)
        self.flow = _flow_mlp(state_dim, input_dim, flow_widths, activation, flow_output, init, key)

    def project_input(self, x: Float[Array, " inp"]) -> Any:
        return self.flow.project_input(x)

    def velocity_from_projection(self, h: Float[Array, " state"], drive: Any) -> Float[Array, " state"]:
        return -h + self.flow.from_projection(h, drive)

    def ungated_velocity(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return self.velocity(h, x)

    def gate(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return jnp.ones_like(h)


class GNODE(AbstractFlowField):
    """Gated neural ODE: ``v = G(h, x) * (-h + F(h, x))``, G an MLP with a sigmoid output.

    Arguments:
        state_dim, input_dim: sizes of ``h`` and ``x``.
        flow_widths: hidden widths of F; gate_widths: hidden widths of G (``()``: one layer each).
        activation: hidden nonlinearity of F and G; flow_output: F's output nonlinearity.
        init: weight initialiser; key: PRNG key.
    """

    flow: MLP
    gate_net: MLP

    def __init__(
        self,
        state_dim: int,
        input_dim: int,
        flow_widths: Sequence[int] = (),
        gate_widths: Sequence[int] = (),
        *,
        activation: Activation = jax.nn.relu,
        flow_output: Activation = identity,
        init: Initialiser = glorot_uniform,
        key: PRNGKeyArray,
    ):
        _check_dims(state_dim, input_dim)
        fkey, gkey = jr.split(key)
        self.flow = _flow_mlp(state_dim, input_dim, flow_widths, activation, flow_output, init, fkey)
        self.gate_net = MLP(
            state_dim,
            input_dim,
            state_dim,
            gate_widths,
            activation=activation,
            final_activation=jax.nn.sigmoid,
            init=init,
            key=gkey,
        )

    def project_input(self, x: Float[Array, " inp"]) -> Any:
        return self.flow.project_input(x), self.gate_net.project_input(x)

    def velocity_from_projection(self, h: Float[Array, " state"], drive: Any) -> Float[Array, " state"]:
        flow_drive, gate_drive = drive
        flow_wh, gate_wh = state_products(h, self.flow, self.gate_net)
        gate = self.gate_net.from_first_products(gate_wh, gate_drive)
        return gate * (self.flow.from_first_products(flow_wh, flow_drive) - h)

    def ungated_velocity(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return -h + self.flow(h, x)

    def gate(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return self.gate_net(h, x)


class GRU(AbstractFlowField):
    """Continuous-time GRU: ``v = z * (-h + tanh(W_h (r * h) + U_h x + b_h))``.

    ``z = sigmoid(W_z h + U_z x + b_z)`` is the update gate and ``r`` the reset gate, so one Euler
    step with ``alpha = dt / tau`` is ``h' = (1 - alpha z) h + alpha z h~``.
    """

    flow: MLP  # the candidate tanh(W_h (r * h) + U_h x + b_h)
    update: MLP
    reset: MLP

    def __init__(self, state_dim: int, input_dim: int, *, init: Initialiser = glorot_uniform, key: PRNGKeyArray):
        _check_dims(state_dim, input_dim)
        zkey, rkey, hkey = jr.split(key, 3)
        kwargs = dict(init=init)
        self.update = MLP(state_dim, input_dim, state_dim, (), final_activation=jax.nn.sigmoid, key=zkey, **kwargs)
        self.reset = MLP(state_dim, input_dim, state_dim, (), final_activation=jax.nn.sigmoid, key=rkey, **kwargs)
        self.flow = MLP(state_dim, input_dim, state_dim, (), final_activation=jnp.tanh, key=hkey, **kwargs)

    def project_input(self, x: Float[Array, " inp"]) -> Any:
        return self.update.project_input(x), self.reset.project_input(x), self.flow.project_input(x)

    def _parts(self, h, drive):
        z_drive, r_drive, h_drive = drive
        z_wh, r_wh = state_products(h, self.update, self.reset)
        z = self.update.from_first_products(z_wh, z_drive)
        r = self.reset.from_first_products(r_wh, r_drive)
        return z, self.flow.from_projection(r * h, h_drive)

    def velocity_from_projection(self, h: Float[Array, " state"], drive: Any) -> Float[Array, " state"]:
        z, candidate = self._parts(h, drive)
        return z * (candidate - h)

    def ungated_velocity(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return self._parts(h, self.project_input(x))[1] - h

    def gate(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return self.update(h, x)


class LSTM(AbstractField):
    """Continuous-time LSTM on the state ``s = [h; c]`` (``state_dim = 2 * units``): ``v = LSTM(s, x) - s``.

    ``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of one affine map of ``(h, x)``; ``c' = f c + i g``,
    ``h' = o tanh(c')``. One Euler step with ``alpha = 1`` is exactly the discrete LSTM cell; smaller
    steps relax towards it. The readout sees both ``h`` and ``c``.
    """

    cell: MLP  # (h, x) -> the pre-activations of i, f, g, o

    def __init__(self, state_dim: int, input_dim: int, *, init: Initialiser = glorot_uniform, key: PRNGKeyArray):
        _check_dims(state_dim, input_dim)
        if state_dim % 2:
            raise ConfigError(f"an LSTM's state is [h; c]: its dimension must be even, got {state_dim}")
        units = state_dim // 2
        self.cell = MLP(units, input_dim, 4 * units, (), init=init, key=key)

    @property
    def state_dim(self) -> int:
        return 2 * self.cell.state_weight.shape[-1]

    @property
    def input_dim(self) -> int:
        return self.cell.input_weight.shape[-1]

    @property
    def flow_layers(self) -> int:
        return 1

    def project_input(self, x: Float[Array, " inp"]) -> Any:
        return self.cell.project_input(x)

    def velocity_from_projection(self, s: Float[Array, " state"], drive: Any) -> Float[Array, " state"]:
        h, c = jnp.split(s, 2)
        i, f, g, o = jnp.split(self.cell.from_projection(h, drive), 4)
        c_next = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jnp.concatenate([jax.nn.sigmoid(o) * jnp.tanh(c_next), c_next]) - s

    def ungated_velocity(self, s: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return self.velocity(s, x)

    def gate(self, s: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return jnp.ones_like(s)


class FunctionField(AbstractField):
    """Any JAX function ``v(h, x)`` as a field — a hand-written RNN, a model from elsewhere — so that gnode can
    integrate it and read its dynamics (:func:`gnode.analysis.analyze_field`). It has no gate (ones).

    Arguments:
        function: ``v(h, x) -> tau dh/dt``, ``h`` of shape ``(state_dim,)``, ``x`` of shape ``(input_dim,)``.
        state_dim, input_dim: the sizes of ``h`` and ``x`` (0 for an autonomous field).
    """

    function: Callable[[Array, Array], Array]
    sizes: tuple[int, int] = eqx.field(static=True)

    def __init__(self, function: Callable[[Array, Array], Array], state_dim: int, input_dim: int = 0):
        _check_dims(state_dim, input_dim)
        if not callable(function):
            raise ConfigError(f"a field's function must be callable v(h, x), got {function!r}")
        self.function = function
        self.sizes = (int(state_dim), int(input_dim))

    @property
    def state_dim(self) -> int:
        return self.sizes[0]

    @property
    def input_dim(self) -> int:
        return self.sizes[1]

    @property
    def flow_layers(self) -> int:
        return 1

    def project_input(self, x: Float[Array, " inp"]) -> Any:
        return x

    def velocity_from_projection(self, h: Float[Array, " state"], drive: Any) -> Float[Array, " state"]:
        return self.function(h, drive)

    def ungated_velocity(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return self.function(h, x)

    def gate(self, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, " state"]:
        return jnp.ones_like(h)


def MGRU(state_dim: int, input_dim: int, *, init: Initialiser = glorot_uniform, key: PRNGKeyArray) -> GNODE:
    """Continuous-time minimal GRU: a :class:`GNODE` whose F is one tanh layer and G one sigmoid layer."""
    return GNODE(state_dim, input_dim, (), (), flow_output=jnp.tanh, init=init, key=key)


def RNN(state_dim: int, input_dim: int, *, init: Initialiser = glorot_uniform, key: PRNGKeyArray) -> NODE:
    """Leaky RNN: a :class:`NODE` with ``F = tanh(W h + U x + b)``."""
    return NODE(state_dim, input_dim, (), flow_output=jnp.tanh, init=init, key=key)


FIELDS = ("gnode", "node", "mgru", "gru", "rnn", "lstm")
LAYERED_FIELDS = ("gnode", "node")  # the models whose F takes hidden widths; the others are single-layer


def default_flow_widths(name: str) -> tuple[int, ...]:
    """The hidden widths of F a model gets when none are given: the 2-D flip-flop networks' two layers of 316 for
    ``gnode`` and ``node``, none for the single-layer models."""
    return (316, 316) if name in LAYERED_FIELDS else ()


def check_field_settings(
    name: str,
    *,
    flow_widths: Sequence[int] = (),
    gate_widths: Sequence[int] = (),
    activation: str = "relu",
    init: str = "glorot_uniform",
) -> None:
    """Refuse the settings :func:`make_field` refuses, without building anything (a config is checked this way
    before its data are read).

    Raises:
        ConfigError: an unknown model, activation or initialiser; hidden widths for a single-layer model; gate
            widths for a model without a separate gate network.
    """
    activation_by_name(activation)
    initialiser(init)
    if name not in FIELDS:
        raise ConfigError(f"unknown model {name!r}; choose one of {list(FIELDS)}")
    if name != "gnode" and tuple(gate_widths):
        raise ConfigError(f"model {name!r} has no gate network to widen; do not pass gate widths")
    if name not in LAYERED_FIELDS and tuple(flow_widths):
        raise ConfigError(
            f"model {name!r} has single-layer networks; set no hidden widths (dynamics = [], --dynamics '')"
        )


def make_field(
    name: str,
    state_dim: int,
    input_dim: int,
    *,
    flow_widths: Sequence[int] = (),
    gate_widths: Sequence[int] = (),
    activation: str = "relu",
    init: str = "glorot_uniform",
    key: PRNGKeyArray,
) -> AbstractField:
    """Build a field by name (``gnode``, ``node``, ``mgru``, ``gru``, ``rnn``, ``lstm``), its activation and
    initialiser by name too (the CLI and config files call this; in code, build the classes directly).

    Raises:
        ConfigError: settings that :func:`check_field_settings` refuses.
    """
    check_field_settings(name, flow_widths=flow_widths, gate_widths=gate_widths, activation=activation, init=init)
    phi, weights = activation_by_name(activation), initialiser(init)
    if name == "gnode":
        return GNODE(state_dim, input_dim, flow_widths, gate_widths, activation=phi, init=weights, key=key)
    if name == "node":
        return NODE(state_dim, input_dim, flow_widths, activation=phi, init=weights, key=key)
    return {"mgru": MGRU, "gru": GRU, "rnn": RNN, "lstm": LSTM}[name](state_dim, input_dim, init=weights, key=key)


def jacobian(field: AbstractField, h: Float[Array, " state"], x: Float[Array, " inp"]) -> Float[Array, "state state"]:
    """``dv/dh`` at ``(h, x)``."""
    return jax.jacfwd(field.velocity)(h, x)
