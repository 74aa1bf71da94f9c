"""Critical initialisation: put the un-gated flow ``-h + F`` at the edge of stability.

The recipe of the authors' code (gnode.md section 2.2): linearise ``V(h) = -h + F(h, xbar)`` at
the initial state, take ``eta = max Re eig(dV/dh)``, and multiply every parameter of the field by
``sigma = (1 / (eta + 1)) ** (1 / L)``, ``L`` the number of weight layers of F. For a ReLU F with
near-zero biases F is positively homogeneous, so one step sets ``max Re eig`` to 0. Where the
biases are not negligible (a state near 0, as a learned ``h0`` of a silent first bin gives) or F is
not homogeneous (tanh), one step falls short, so by default the step is repeated until
``|max Re eig| < tol``; ``max_iterations=1`` is the authors' one-shot recipe.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from gnode.errors import ConfigError
from gnode.model import Model


@dataclasses.dataclass(frozen=True)
class CriticalInitReport:
    scale: float  # product of the applied factors
    iterations: int
    eta_before: float  # max Re eig of the un-gated Jacobian before
    eta_after: float  # ... and after


def max_real_eigenvalue(model: Model, h: Float[ArrayLike, " state"], x: Float[ArrayLike, " inp"]) -> float:
    """``max Re eig`` of ``d(-h + F)/dh`` at ``(h, x)``."""
    jac = jax.jacfwd(model.field.ungated_velocity)(h, x)
    return float(np.max(np.linalg.eigvals(np.asarray(jac, dtype=np.float64)).real))


def critical_gain(model: Model, h: Float[ArrayLike, " state"], x: Float[ArrayLike, " inp"]) -> float:
    """The factor on every weight of F that would put ``max Re eig`` at 0 if F were homogeneous:
    ``(1 / (eta + 1)) ** (1 / L)``. For weights drawn N(0, 1/fan_in) this is the critical gain."""
    return _gain(max_real_eigenvalue(model, h, x), model.field.flow_layers)


def _gain(eta: float, layers: int) -> float:
    if eta + 1.0 <= 0.0:
        raise ConfigError(f"critical init needs max Re eig > -1 at the initial state, got {eta:.3f}")
    return (1.0 / (eta + 1.0)) ** (1.0 / layers)


def reference_point(model: Model, inputs: Float[ArrayLike, "batch time inp"]) -> tuple[Array, Array]:
    """The linearisation point: the trials' mean initial state and the mean input."""
    inputs = jnp.asarray(inputs)
    return model.initial_state.mean(inputs[:, 0]), jnp.mean(inputs, axis=(0, 1))


def scale_field(model: Model, factor: float) -> Model:
    """Multiply every parameter of the field (F, G and their biases) by ``factor``."""
    field = jax.tree_util.tree_map(lambda a: a * factor if eqx.is_inexact_array(a) else a, model.field)
    return eqx.tree_at(lambda m: m.field, model, field)


def critical_init(
    model: Model, inputs: Float[ArrayLike, "batch time inp"], *, tol: float = 1e-3, max_iterations: int = 50
) -> tuple[Model, CriticalInitReport]:
    """Rescale the field of ``model`` so ``max Re eig(d(-h + F)/dh) = 0`` at the initial state.

    Arguments:
        model: a model (draw it with ``init="critical_normal"`` for the authors' recipe).
        inputs: the task inputs; their mean over samples and bins is the linearisation input.
        tol: stop when ``|max Re eig| < tol``.
        max_iterations: most rescaling steps (1 is the authors' recipe).
    Returns:
        The rescaled model and a report.
    """
    if max_iterations < 1:
        raise ConfigError(f"max_iterations must be >= 1, got {max_iterations}")
    h, x = reference_point(model, inputs)
    eta0 = eta = max_real_eigenvalue(model, h, x)
    total, steps = 1.0, 0
    for _ in range(max_iterations):
        if abs(eta) < tol:
            break
        factor = _gain(eta, model.field.flow_layers)  # eta is already known: no second eigendecomposition
        model = scale_field(model, factor)
        total *= factor
        steps += 1
        eta = max_real_eigenvalue(model, h, x)
    return model, CriticalInitReport(scale=total, iterations=steps, eta_before=eta0, eta_after=eta)
