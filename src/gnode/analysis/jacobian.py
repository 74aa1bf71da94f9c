"""Jacobians of a vector field, their spectra, stability classes, gate decompositions and local time constants.

Eigenvalues are in units of ``1/tau`` (the field is ``tau dh/dt = v``); a local time constant is
``tau / |Re lambda|`` seconds. Results are JAX arrays; only the eigendecomposition runs in NumPy, in float64
(``jnp.linalg.eig`` runs on the CPU only), and its result comes back as JAX arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Complex, Float, Int

from gnode.errors import ConfigError
from gnode.fields import AbstractField

Velocity = Callable[[Float[Array, " state"]], Float[Array, " state"]]


class Autonomous(eqx.Module):
    """``h -> v(h, x*)``: a field with its input held at ``x*`` (zero by default)."""

    field: AbstractField
    x: Float[Array, " inp"]

    def __init__(self, field: AbstractField, x: Float[ArrayLike, " inp"] | None = None):
        self.field = field
        self.x = jnp.zeros((field.input_dim,)) if x is None else jnp.asarray(x, jnp.float32)
        if self.x.shape != (field.input_dim,):
            raise ConfigError(f"the held input must have shape ({field.input_dim},), got {self.x.shape}")

    def __call__(self, h: Float[Array, " state"]) -> Float[Array, " state"]:
        return self.field.velocity(h, self.x)


def check_points(points: Any, state_dim: int | None = None, what: str = "points") -> Float[Array, "count state"]:
    """``points`` as a float32 ``(count, state)`` array, with a one-line error for empty, ragged or non-finite
    input."""
    try:
        points = np.asarray(points, np.float32)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{what} must be a (count, state) array of numbers: {err}") from None
    if points.ndim != 2 or points.shape[0] == 0:
        raise ConfigError(f"{what} must be a non-empty (count, state) array, got shape {points.shape}")
    if state_dim is not None and points.shape[1] != state_dim:
        raise ConfigError(f"{what} have dimension {points.shape[1]}, the field's state has {state_dim}")
    if not np.all(np.isfinite(points)):
        raise ConfigError(f"{what} contain NaN or inf")
    return jnp.asarray(points)


@eqx.filter_jit
def _jacobians(velocity, points):
    return jax.vmap(jax.jacfwd(velocity))(points)


def jacobians(velocity: Velocity, points: Float[ArrayLike, "count state"]) -> Float[Array, "count state state"]:
    """``dv/dh`` at each point."""
    return _jacobians(velocity, jnp.asarray(points, jnp.float32))


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigen-decompositions of a stack of Jacobians, eigenvalues sorted by decreasing real part.

    Attributes:
        jacobians: the matrices; eigenvalues: theirs, complex; eigenvectors: complex, column ``k`` of
            ``eigenvectors[m]`` belongs to ``eigenvalues[m, k]``.
    """

    jacobians: Float[Array, "count state state"]
    eigenvalues: Complex[Array, "count state"]
    eigenvectors: Complex[Array, "count state state"]

    @classmethod
    def of(cls, jacobians: Float[ArrayLike, "count state state"]) -> Spectrum:
        """The sorted eigendecompositions of ``jacobians`` (computed in float64 NumPy)."""
        jac = np.asarray(jacobians, np.float64)
        values, vectors = np.linalg.eig(jac)
        order = np.argsort(-values.real, axis=-1, kind="stable")
        values = np.take_along_axis(values, order, axis=-1)
        vectors = np.take_along_axis(vectors, order[:, None, :], axis=-1)
        # complex even where every eigenvalue is real (NumPy then returns a real array)
        return cls(
            jnp.asarray(jac, jnp.float32), jnp.asarray(values, jnp.complex64), jnp.asarray(vectors, jnp.complex64)
        )

    def unstable_directions(self, tol: float) -> Int[Array, " count"]:
        """Number of eigenvalues with real part above ``tol``, per point."""
        return jnp.sum(self.eigenvalues.real > tol, axis=-1)

    def stability(self, tol: float) -> list[str]:
        """``"stable"`` (no eigenvalue with Re > tol), ``"unstable"`` (all of them) or ``"saddle-k"``
        (``k`` unstable directions), per point."""
        n = self.eigenvalues.shape[-1]
        unstable = self.unstable_directions(tol).tolist()
        return ["stable" if k == 0 else "unstable" if k == n else f"saddle-{k}" for k in unstable]

    def time_constants(self, tau: float) -> Float[Array, "count state"]:
        """Local time constants ``tau / |Re lambda|`` in seconds (inf for a zero real part)."""
        return tau / jnp.abs(self.eigenvalues.real)


def spectrum(velocity: Velocity, points: Float[ArrayLike, "count state"]) -> Spectrum:
    """Jacobians of ``velocity`` at ``points`` and their eigen-decompositions."""
    return Spectrum.of(jacobians(velocity, points))


@eqx.filter_jit
def _gate_parts(field, x, points):
    gate = jax.vmap(lambda h: field.gate(h, x))(points)
    ungated = jax.vmap(jax.jacfwd(lambda h: field.ungated_velocity(h, x)))(points)
    return gate, ungated


def gate_decomposition(
    field: AbstractField, points: Float[ArrayLike, "count state"], x: Float[ArrayLike, " inp"] | None = None
) -> tuple[Float[Array, "count state"], Spectrum]:
    """The two parts of a gated field's Jacobian at a fixed point, ``J = diag(G) (-I + dF/dh)``.

    Returns: the gate values ``G(h, x)`` and the spectrum of ``-I + dF/dh``. (Away from fixed points ``J`` has
    the extra term ``diag(-h + F) dG/dh``.)
    """
    x = jnp.zeros((field.input_dim,)) if x is None else jnp.asarray(x, jnp.float32)
    gate, ungated = _gate_parts(field, x, jnp.asarray(points, jnp.float32))
    return gate, Spectrum.of(ungated)


@eqx.filter_jit
def _along(field, states, inputs):
    def one(h, x):
        return jax.jacfwd(lambda s: field.velocity(s, x))(h), field.gate(h, x)

    return jax.vmap(jax.vmap(one))(states, inputs)


@dataclasses.dataclass(frozen=True)
class TrajectorySpectra:
    """Jacobian spectra along trajectories: ``spectrum`` over the flattened ``(batch * time)`` states,
    with the gate values and local time constants per trial and time."""

    spectrum: Spectrum
    gates: Float[Array, "batch time state"]
    time_constants: Float[Array, "batch time state"]


def along_trajectories(
    field: AbstractField,
    states: Float[ArrayLike, "batch time state"],
    inputs: Float[ArrayLike, "batch time inp"],
    tau: float,
) -> TrajectorySpectra:
    """Jacobian ``dv/dh (h_t, x_t)``, its eigenvalues, local time constants and gate values at every state of
    every trial (``states[:, t]`` paired with the input ``inputs[:, t]`` that drives it)."""
    states, inputs = np.asarray(states, np.float32), np.asarray(inputs, np.float32)
    if states.ndim != 3 or inputs.shape[:2] != states.shape[:2]:
        raise ConfigError(f"states {states.shape} and inputs {inputs.shape} must be (batch, time, .) alike")
    jac, gates = _along(field, jnp.asarray(states), jnp.asarray(inputs))
    batch, steps, n = states.shape
    spec = Spectrum.of(jac.reshape(-1, n, n))
    return TrajectorySpectra(spec, gates, spec.time_constants(tau).reshape(batch, steps, n))
