"""Integration of ``tau dh/dt = v(h, x(t))`` over a sequence of input bins.

Conventions (for one sample): ``xs[k]`` is the input of bin ``k``, which ends at observation time
``ts[k]`` and starts at ``ts[k-1]`` (``t0`` for the first bin); ``hs[k]`` is the state at
``ts[k]``. Irregular sampling is just irregular ``ts``; padded steps repeat the last time
(zero-length bins leave the state unchanged).

Two integrators share one interface, ``integrate(field, h0, xs, ts, t0, tau)``:

- :class:`Euler` — the fast path: explicit Euler steps inside one ``lax.scan``,
  ``h <- h + alpha v(h, x_k)`` with ``alpha = dt_k / (tau * substeps)``. With the paper's
  ``dt = tau`` and one substep a gnODE step is exactly ``(1 - z) h + z F``.
- :class:`Adaptive` — the accurate path: a diffrax solver with a PID step-size controller that
  stops at bin edges, inputs piecewise-constant or linear in time, outputs saved at ``ts``.
"""

from __future__ import annotations

import abc

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from gnode.errors import ConfigError
from gnode.fields import AbstractField


class AbstractIntegrator(eqx.Module):
    """Maps ``(field, h0, xs, ts)`` to the states ``hs`` at the observation times."""

    @abc.abstractmethod
    def integrate(
        self,
        field: AbstractField,
        h0: Float[Array, " state"],
        xs: Float[Array, "time inp"],
        ts: Float[Array, " time"],
        t0: float | Float[Array, ""],
        tau: float,
        *,
        dt: float | None = None,
    ) -> Float[Array, "time state"]:
        """``dt``: the bin width when ``ts`` is the regular grid ``t0 + dt * (1..T)`` (lets a fixed-step
        integrator use a constant step), else None."""


class Euler(AbstractIntegrator):
    """Explicit Euler over input bins, ``substeps`` equal steps per bin, in one ``lax.scan``.

    Arguments:
        substeps: Euler steps per bin (1 is the paper's setting).
        unroll: ``lax.scan`` unroll factor (a speed knob; the same results up to float rounding).
    """

    substeps: int = eqx.field(static=True, default=1)
    unroll: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if self.substeps < 1 or self.unroll < 1:
            raise ConfigError(f"substeps and unroll must be >= 1, got {self.substeps}, {self.unroll}")

    def integrate(self, field, h0, xs, ts, t0, tau, *, dt=None):
        drives = jax.vmap(field.project_input)(xs)  # hoisted out of the time loop
        if dt is None:
            alphas = jnp.diff(ts, prepend=jnp.asarray(t0, ts.dtype)[None]) / (tau * self.substeps)
        else:
            alphas = None  # a regular grid: one constant step, folded into the compiled loop
            alpha = dt / (tau * self.substeps)

        def step(h, inputs):
            drive, a = inputs if alphas is not None else (inputs, alpha)
            for _ in range(self.substeps):
                h = h + a * field.velocity_from_projection(h, drive)
            return h, h

        _, hs = jax.lax.scan(step, h0, drives if alphas is None else (drives, alphas), unroll=self.unroll)
        return hs


INTERPOLATIONS = ("constant", "linear")


class Adaptive(AbstractIntegrator):
    """An adaptive diffrax solve; inputs held constant over each bin or interpolated linearly.

    Arguments:
        solver: a diffrax solver (``Tsit5()`` default; ``Dopri5()`` etc.).
        rtol, atol: tolerances of the PID controller.
        interpolation: ``"constant"`` (x = xs[k] on bin k) or ``"linear"`` (through (ts[k], xs[k])).
        adjoint: a diffrax adjoint (backprop through the solver by default).
        max_steps: the solver's step budget.
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    rtol: float = 1e-6
    atol: float = 1e-6
    interpolation: str = eqx.field(static=True, default="constant")
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    max_steps: int = eqx.field(static=True, default=16_384)

    def __check_init__(self):
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"unknown interpolation {self.interpolation!r}; choose one of {list(INTERPOLATIONS)}")

    def input_at(self, t, xs, ts):
        if self.interpolation == "constant":
            k = jnp.clip(jnp.searchsorted(ts, t, side="left"), 0, ts.shape[0] - 1)
            return xs[k]
        return jax.vmap(jnp.interp, in_axes=(None, None, 1))(t, ts, xs)

    def integrate(self, field, h0, xs, ts, t0, tau, *, dt=None):
        def rhs(t, h, args):
            return field.velocity(h, self.input_at(t, xs, ts)) / tau

        controller = diffrax.ClipStepSizeController(diffrax.PIDController(rtol=self.rtol, atol=self.atol), jump_ts=ts)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(rhs),
            self.solver,
            t0=t0,
            t1=ts[-1],
            dt0=None,
            y0=h0,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
        )
        return sol.ys
