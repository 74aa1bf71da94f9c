"""N-CODE, and the neural ODE it is compared with as its special case.

N-CODE (ncode.md §2.2; the coupled system, with notation chosen here)::

    z(0) = encoder(x),   theta(0) = gamma(x)
    dz/dt = f(z; theta),  d theta / dt = g(t, z, theta)   (0, open loop, or closed loop)
    y = readout(z(T))

The neural ODE is ``z(0) = encoder(x)``, ``dz/dt = f(z; theta)`` with one learned ``theta`` for every input,
``y = readout(z(T))``: N-CODE with a constant control and no control dynamics (:func:`neural_ode` builds it, so one
code path solves both); an augmented neural ODE (Dupont et al. 2019) is the same with an encoder that appends zero
channels (:class:`Augment`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError
from gnode.ncode.control import AbstractControlDynamics, AbstractControlMap, ConstantControl, Static
from gnode.ncode.flow import FlowSolution, FlowSolver
from gnode.ncode.functional import AbstractFunctionalField


class Augment(eqx.Module):
    """Append ``extra`` zero entries along axis 0 (the channels of an image, the entries of a vector)."""

    extra: int = eqx.field(static=True)

    def __call__(
        self, x: Float[Array, "..."], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "..."]:  # key: eqx.nn.Sequential passes one
        return jnp.concatenate([x, jnp.zeros((self.extra, *x.shape[1:]), x.dtype)])


class Reshape(eqx.Module):
    """Reshape one sample to ``shape``."""

    shape: tuple[int, ...] = eqx.field(static=True)

    def __call__(
        self, x: Float[Array, "..."], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "..."]:  # key: eqx.nn.Sequential passes one
        return x.reshape(self.shape)


class LearnedConstant(eqx.Module):
    """Ignore the input and return a learned array (the shared start of a decoder's state)."""

    value: Array

    def __call__(
        self, x: Float[Array, "..."], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "..."]:  # key: eqx.nn.Sequential passes one
        return self.value


def _output_shape(function, in_shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """The shape ``function`` returns for one input, or a one-line error naming ``what`` (checked once, before any
    jitted solve)."""
    try:
        return eqx.filter_eval_shape(function, jax.ShapeDtypeStruct(in_shape, jnp.float32)).shape
    except (TypeError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"the {what} does not accept inputs of shape {in_shape}: {first}") from None


def _check_encoder(encoder, in_shape, state_shape, what: str) -> None:
    out = _output_shape(encoder, in_shape, "encoder")
    if out != tuple(state_shape):
        raise ConfigError(f"the encoder maps inputs {in_shape} to {out}, but the {what} needs {tuple(state_shape)}")


class NCODE(eqx.Module):
    """A neurally-controlled ODE: each input sets, and (open or closed loop) steers, its own vector field.

    Arguments:
        field: the functional field ``f(z; theta)``.
        control: ``gamma``, from the flattened input to ``theta(0)``.
        dynamics: ``d theta / dt`` (:class:`Static`, :class:`OpenLoop`, :class:`ClosedLoop`).
        encoder: input to ``z(0)`` (``eqx.nn.Identity()``, a linear map, :class:`Augment`, ...).
        readout: ``z(T)`` to the output.
        solver: how the flow is integrated.
        in_shape: the shape of one input (checked against the encoder and the control map).
    """

    field: AbstractFunctionalField
    control: AbstractControlMap
    dynamics: AbstractControlDynamics
    encoder: eqx.Module
    readout: eqx.Module
    solver: FlowSolver
    in_shape: tuple[int, ...] = eqx.field(static=True)

    def __check_init__(self):
        p = self.field.size
        if self.control.size != p:
            raise ConfigError(f"the control map gives theta of length {self.control.size}, the field needs {p}")
        if self.dynamics.size not in (None, p):
            raise ConfigError(f"the control dynamics move {self.dynamics.size} weights but the field has {p}")
        _check_encoder(self.encoder, self.in_shape, self.field.state_shape, "field")
        _output_shape(lambda x: self.control(x.ravel()), self.in_shape, "control map")

    def flow(self, x: Float[Array, "..."], ts: Float[Array, " save"] | None = None) -> FlowSolution:
        """Solve for one input. Returns: ``y1 = (z(T), theta(T))``, ``ys`` the same at ``ts``, and the NFE."""
        z0, theta0 = self.encoder(x), self.control(x.ravel())
        if isinstance(self.dynamics, Static):
            # theta stays theta0: integrate z alone, so step sizes are those of the neural ODE with these weights
            sol = self.solver.solve(lambda t, z, args: args[0].field(z, args[1]), z0, ts, (self, theta0))
            thetas = None if ts is None else jnp.broadcast_to(theta0, (ts.shape[0], theta0.shape[0]))
            return FlowSolution((sol.y1, theta0), None if ts is None else (sol.ys, thetas), sol.nfe)

        def rhs(t, state, model):
            z, theta = state
            return model.field(z, theta), model.dynamics(t, z, theta)

        return self.solver.solve(rhs, (z0, theta0), ts, self)

    def __call__(self, x: Float[Array, "..."]) -> Array:
        """The readout of ``z(T)`` for one input."""
        return self.readout(self.flow(x).y1[0])


def neural_ode(
    field: AbstractFunctionalField,
    theta: Float[Array, " params"],
    encoder: eqx.Module,
    readout: eqx.Module,
    solver: FlowSolver,
    in_shape: tuple[int, ...],
) -> NCODE:
    """The neural ODE ``z(0) = encoder(x)``, ``dz/dt = f(z; theta)``, ``y = readout(z(T))``, ``theta`` learned and
    the same for every input: an :class:`NCODE` with a :class:`ConstantControl` and :class:`Static` dynamics.

    Arguments:
        field: the functional field ``f``; theta: its starting weights (e.g. ``field.init_theta(key)``, or
            ``field.flatten`` of an existing network's arrays).
        encoder, readout, solver, in_shape: as for :class:`NCODE`.
    """
    return NCODE(field, ConstantControl(theta), Static(), encoder, readout, solver, tuple(in_shape))


class Autoencoder(eqx.Module):
    """``x -> code -> decoder(code)``; the decoder maps the code to an image through a flow."""

    encoder: eqx.nn.MLP
    decoder: NCODE

    def __call__(self, x: Float[Array, " inp"]) -> Array:
        return self.decoder(self.encoder(x))

    def encode(self, x: Float[Array, " inp"]) -> Array:
        return self.encoder(x)


@eqx.filter_jit
def evaluate(model: NCODE, xs: Float[Array, "batch ..."]) -> tuple[Array, Array]:
    """Outputs and forward NFE of a batch (one adaptive solve per sample)."""
    return jax.vmap(lambda x: model(x))(xs), jax.vmap(lambda x: model.flow(x).nfe)(xs)
