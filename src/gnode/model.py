"""A model: a vector field, a rule for the initial state, and a linear readout at every step."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import ArrayLike
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from gnode.errors import ConfigError
from gnode.fields import AbstractField, make_field
from gnode.nn import Initialiser, Linear, glorot_uniform
from gnode.solve import AbstractIntegrator, Euler


class AbstractInitialState(eqx.Module):
    """``h0`` of one trial, from its inputs and, for a rule that infers it (``reads_observations``), from the
    trial's observations."""

    reads_observations: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def __call__(
        self, xs: Float[Array, "time inp"], observed: Float[Array, "time out"] | None = None
    ) -> Float[Array, " state"]: ...

    @abc.abstractmethod
    def mean(self, x0s: Float[Array, "batch inp"]) -> Float[Array, " state"]:
        """The mean ``h0`` over trials whose first input bins are ``x0s`` (where critical initialisation
        linearises)."""


class FixedState(AbstractInitialState):
    """A fixed, untrained ``h0`` (glorot-normal, std sqrt(2/(N+1)), as in the authors' scripts)."""

    h0: Float[Array, " state"] = eqx.field(metadata={"trainable": False})
    reads_observations: ClassVar[bool] = False

    def __init__(self, state_dim: int, *, key: PRNGKeyArray):
        self.h0 = jr.normal(key, (state_dim,)) * jnp.sqrt(2.0 / (state_dim + 1))

    def __call__(self, xs: Float[Array, "time inp"], observed: Array | None = None) -> Float[Array, " state"]:
        return jax.lax.stop_gradient(self.h0)

    def mean(self, x0s: Float[Array, "batch inp"]) -> Float[Array, " state"]:
        return self.h0  # exactly, not a float mean of copies


class ZeroState(AbstractInitialState):
    """``h0 = 0``."""

    state_dim: int = eqx.field(static=True)
    reads_observations: ClassVar[bool] = False

    def __call__(self, xs: Float[Array, "time inp"], observed: Array | None = None) -> Float[Array, " state"]:
        return jnp.zeros((self.state_dim,), xs.dtype)

    def mean(self, x0s: Float[Array, "batch inp"]) -> Float[Array, " state"]:
        return jnp.zeros((self.state_dim,), x0s.dtype)


class LearnedState(AbstractInitialState):
    """``h0 = A x_1 + c``, a trained affine map of the first input bin."""

    encoder: Linear
    reads_observations: ClassVar[bool] = False

    def __init__(self, input_dim: int, state_dim: int, *, init: Initialiser = glorot_uniform, key: PRNGKeyArray):
        self.encoder = Linear(input_dim, state_dim, init=init, key=key)

    def __call__(self, xs: Float[Array, "time inp"], observed: Array | None = None) -> Float[Array, " state"]:
        return self.encoder(xs[0])

    def mean(self, x0s: Float[Array, "batch inp"]) -> Float[Array, " state"]:
        return jnp.mean(jax.vmap(self.encoder)(x0s), axis=0)


class EncoderState(AbstractInitialState):
    """``h0`` inferred from the whole trial, as LFADS's initial-condition encoder (without its variational noise):
    a bidirectional GRU reads the trial's observed ``channels`` and its inputs, forwards and backwards, and a
    linear map takes its two final states to ``h0``. Channels outside ``channels`` (held-out neurons) are never
    read, so the readout's predictions of them score the model (co-smoothing).

    Arguments:
        input_dim: input channels; channels: the observation channels the encoder reads; state_dim: ``N``;
        width: each GRU's hidden size.
    """

    forward: eqx.nn.GRUCell
    backward: eqx.nn.GRUCell
    to_state: Linear
    channels: tuple[int, ...] = eqx.field(static=True)
    reads_observations: ClassVar[bool] = True

    def __init__(self, input_dim: int, channels: Sequence[int], state_dim: int, width: int = 64, *, key: PRNGKeyArray):
        fkey, bkey, skey = jr.split(key, 3)
        self.channels = tuple(int(c) for c in channels)
        read = len(self.channels) + input_dim
        self.forward = eqx.nn.GRUCell(read, width, key=fkey)
        self.backward = eqx.nn.GRUCell(read, width, key=bkey)
        self.to_state = Linear(2 * width, state_dim, key=skey)

    def __call__(self, xs: Float[Array, "time inp"], observed: Array | None = None) -> Float[Array, " state"]:
        if observed is None:
            raise ConfigError("this model infers h0 from each trial's observations: pass them (observed=...)")
        seen = jnp.concatenate([observed[:, jnp.asarray(self.channels, int)], xs], axis=-1)
        final = [_gru_final(self.forward, seen), _gru_final(self.backward, seen[::-1])]
        return self.to_state(jnp.concatenate(final))

    def mean(self, x0s: Float[Array, "batch inp"]) -> Float[Array, " state"]:
        return jnp.zeros((self.to_state.weight.shape[0],), x0s.dtype)  # unknown without observations: the origin


def _gru_final(cell: eqx.nn.GRUCell, sequence: Float[Array, "time read"]) -> Float[Array, " width"]:
    """The last state of ``cell`` run over ``sequence`` from zero: ``eqx.nn.GRUCell``'s equations, with the input side
    of the gates computed for all steps before the loop (one large product instead of one per step)."""
    drive = sequence @ cell.weight_ih.T + cell.bias

    def step(h, gates):
        ir, iz, i_n = jnp.split(gates, 3)
        hr, hz, hn = jnp.split(h @ cell.weight_hh.T, 3)
        reset, update = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
        new = jnp.tanh(i_n + reset * (hn + cell.bias_n))
        return new + update * (h - new), None

    return jax.lax.scan(step, jnp.zeros(cell.hidden_size, sequence.dtype), drive)[0]


INITIAL_STATES = ("learned", "fixed", "zero", "encoder")


class Model(eqx.Module):
    """``tau dh/dt = v(h, x)``, ``h(t0) = h0(x_1)``, ``y = W_out h + b_out`` at every observation.

    Arguments:
        field: the vector field.
        initial_state: rule for ``h0``.
        readout: linear map from state to output.
        tau: time constant; dt: default bin width (``ts = dt * (1..T)`` when no times are given).
    """

    field: AbstractField
    initial_state: AbstractInitialState
    readout: Linear
    tau: float = eqx.field(static=True, default=0.01)
    dt: float = eqx.field(static=True, default=0.01)

    def __call__(
        self,
        xs: Float[Array, "time inp"],
        ts: Float[Array, " time"] | None = None,
        integrator: AbstractIntegrator = Euler(),
        t0: float = 0.0,
        observed: Float[Array, "time out"] | None = None,
    ) -> tuple[Float[Array, "time out"], Float[Array, "time state"]]:
        """One sample; ``observed``: its observations, for an initial state that reads them (:class:`EncoderState`).

        Returns: readouts ``ys`` and states ``hs`` at the observation times."""
        return self.run_from(self.initial_state(xs, observed), xs, ts, integrator, t0)

    def run_from(
        self,
        h0: Float[Array, " state"],
        xs: Float[Array, "time inp"],
        ts: Float[Array, " time"] | None = None,
        integrator: AbstractIntegrator = Euler(),
        t0: float = 0.0,
    ) -> tuple[Float[Array, "time out"], Float[Array, "time state"]]:
        """One sample from the initial state ``h0`` (at ``t0``). Returns: readouts and states, as :meth:`__call__`."""
        regular = ts is None
        if regular:
            ts = t0 + self.dt * jnp.arange(1, xs.shape[0] + 1, dtype=xs.dtype)
        hs = integrator.integrate(self.field, h0, xs, ts, t0, self.tau, dt=self.dt if regular else None)
        return jax.vmap(self.readout)(hs), hs

    def batch(
        self,
        xs: Float[Array, "batch time inp"],
        ts: Float[Array, "batch time"] | None = None,
        integrator: AbstractIntegrator = Euler(),
        observed: Float[Array, "batch time out"] | None = None,
    ) -> tuple[Float[Array, "batch time out"], Float[Array, "batch time state"]]:
        """A batch of samples (``ts`` per sample, or ``None`` for the regular grid; ``observed`` as in
        :meth:`__call__`)."""
        h0s = jax.vmap(self.initial_state, in_axes=(0, None if observed is None else 0))(xs, observed)
        hs = integrator.integrate_batch(self.field, h0s, xs, ts, 0.0, self.tau, dt=self.dt if ts is None else None)
        return jax.vmap(jax.vmap(self.readout))(hs), hs


def trainable(model: PyTree) -> PyTree[bool]:
    """Filter spec: every floating array leaf, except in the fields of any Module declared
    ``eqx.field(metadata={"trainable": False})`` (a :class:`FixedState`'s ``h0``; neither trained nor decayed)."""
    spec = jax.tree_util.tree_map(eqx.is_inexact_array, model)
    _untrain(model, spec)
    return spec


def _untrain(node: PyTree, spec: PyTree) -> None:
    """Set ``spec`` to False under every field of ``node`` marked untrainable. ``spec`` is a fresh copy of the
    tree's structure (from ``tree_map``), so its Modules may be written in place."""
    if isinstance(node, eqx.Module):
        for field in dataclasses.fields(node):
            if field.metadata.get("static") or not hasattr(node, field.name):
                continue
            if field.metadata.get("trainable") is False:
                object.__setattr__(spec, field.name, jax.tree_util.tree_map(lambda _: False, getattr(spec, field.name)))
            else:
                _untrain(getattr(node, field.name), getattr(spec, field.name))
    elif isinstance(node, list | tuple):
        for child, child_spec in zip(node, spec, strict=True):
            _untrain(child, child_spec)
    elif isinstance(node, dict):
        for key in node:
            _untrain(node[key], spec[key])


def make_model(
    model: str,
    state_dim: int,
    input_dim: int,
    output_dim: int,
    *,
    flow_widths: Sequence[int] = (),
    gate_widths: Sequence[int] = (),
    activation: str = "relu",
    init: str = "glorot_uniform",
    initial_state: str = "learned",
    encoder_channels: Sequence[int] | None = None,
    encoder_width: int = 64,
    tau: float = 0.01,
    dt: float = 0.01,
    key: PRNGKeyArray,
) -> Model:
    """Build a :class:`Model` from names and sizes (the CLI and config files call this).

    ``encoder_channels`` and ``encoder_width`` set an ``encoder`` initial state (:class:`EncoderState`; default:
    it reads every output channel)."""
    if int(output_dim) <= 0:
        raise ConfigError(f"output dimension must be positive, got {output_dim}")
    if not (tau > 0 and dt > 0):
        raise ConfigError(f"tau and dt must be positive, got tau={tau}, dt={dt}")
    if initial_state not in INITIAL_STATES:
        raise ConfigError(f"unknown initial state {initial_state!r}; choose one of {list(INITIAL_STATES)}")
    fkey, hkey, rkey = jr.split(key, 3)
    field = make_field(
        model,
        state_dim,
        input_dim,
        flow_widths=flow_widths,
        gate_widths=gate_widths,
        activation=activation,
        init=init,
        key=fkey,
    )
    if initial_state == "learned":
        h0 = LearnedState(input_dim, state_dim, key=hkey)
    elif initial_state == "fixed":
        h0 = FixedState(state_dim, key=hkey)
    elif initial_state == "encoder":
        channels = range(output_dim) if encoder_channels is None else encoder_channels
        if not all(0 <= int(c) < output_dim for c in channels) or encoder_width <= 0:
            raise ConfigError(f"the encoder reads channels among the {output_dim} outputs with a positive width")
        h0 = EncoderState(input_dim, channels, state_dim, encoder_width, key=hkey)
    else:
        h0 = ZeroState(state_dim)
    readout = Linear(state_dim, output_dim, key=rkey)
    return Model(field, h0, readout, tau=float(tau), dt=float(dt))


def matched_size(count: Callable[[int], int], budget: int, largest: int = 1 << 16) -> int:
    """The size ``k`` in ``[1, largest]`` whose ``count(k)`` (increasing in ``k``, e.g. a parameter count) is
    nearest ``budget``; the smaller size on a tie. A bisection: about ``log2(largest)`` calls of ``count``."""
    low, high = 1, largest
    while low < high:  # the smallest size reaching the budget
        mid = (low + high) // 2
        low, high = (mid + 1, high) if count(mid) < budget else (low, mid)
    return min({max(1, low - 1), low}, key=lambda k: (abs(count(k) - budget), k))


def parameter_count(model: PyTree) -> int:
    """Trained scalars of any model (every family): its floating arrays, less a :class:`FixedState`'s ``h0``."""
    params = eqx.filter(model, trainable(model))
    return sum(x.size for x in jax.tree_util.tree_leaves(params))


@eqx.filter_jit
def predict(
    model: Model,
    xs: Float[ArrayLike, "batch time inp"],
    ts: Float[ArrayLike, "batch time"] | None = None,
    integrator: AbstractIntegrator = Euler(),
    observed: Float[ArrayLike, "batch time out"] | None = None,
) -> tuple[Float[Array, "batch time out"], Float[Array, "batch time state"]]:
    """Jitted :meth:`Model.batch`: readouts and states of a batch of samples (NumPy or JAX arrays)."""
    as_array = lambda a: None if a is None else jnp.asarray(a)  # noqa: E731
    return model.batch(jnp.asarray(xs), as_array(ts), integrator, as_array(observed))
