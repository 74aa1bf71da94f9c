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

Both diffrax users in gnode — :class:`Adaptive` and N-CODE's :class:`gnode.ncode.flow.FlowSolver` — go through
one wrapper, :func:`solve_ode`, which also counts the vector-field evaluations.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from gnode.errors import ConfigError
from gnode.fields import AbstractField

# Vector-field evaluations per step, and whether the solver evaluates once more before the first step
# (first-same-as-last schemes reuse the last stage of a step as the first of the next). Checked against a
# counting vector field in tests/test_ncode_flow.py.
EVALUATIONS: dict[type, tuple[int, int]] = {
    diffrax.Euler: (1, 0),
    diffrax.Heun: (2, 0),
    diffrax.Midpoint: (2, 0),
    diffrax.Ralston: (2, 0),
    diffrax.Bosh3: (3, 1),
    diffrax.Tsit5: (6, 1),
    diffrax.Dopri5: (6, 1),
    diffrax.Dopri8: (13, 1),
}


def solve_ode(
    rhs: Callable[[Float[Array, ""], PyTree, PyTree], PyTree],
    y0: PyTree,
    t0: float | Float[Array, ""],
    t1: float | Float[Array, ""],
    *,
    solver: diffrax.AbstractSolver,
    adjoint: diffrax.AbstractAdjoint,
    max_steps: int,
    steps: int | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    ts: Float[Array, " save"] | None = None,
    save_t1: bool = True,
    jump_ts: Float[Array, " jumps"] | None = None,
    args: PyTree = None,
) -> tuple[PyTree | None, PyTree | None, Int[Array, ""]]:
    """``dy/dt = rhs(t, y, args)`` from ``y0`` at ``t0`` to ``t1`` with diffrax: gnode's one diffrax call.

    Arguments:
        solver, adjoint, max_steps: diffrax's; steps: equal steps (None: adaptive, PID with ``rtol`` / ``atol``);
            ts: times at which to save the state; save_t1: save it at ``t1`` too; jump_ts: times the adaptive
            controller must step to exactly (the edges of piecewise-constant inputs); args: what ``rhs``
            differentiates through (the backward-solve adjoint gives gradients only for ``y0`` and ``args``).
    Returns:
        The states at ``ts`` (or None), the state at ``t1`` (or None), and the vector-field evaluations of the
        forward solve (rejected steps included; NaN-free only for the solvers of :data:`EVALUATIONS`). A solve
        that fails (the step budget ``max_steps`` spent, as a stiff field can make it) gives NaN states instead of
        raising, so a fit treats it like any non-finite loss: that ensemble member diverges, the others train on.
    """
    if steps is None:
        dt0, controller = None, diffrax.PIDController(rtol=rtol, atol=atol)
        if jump_ts is not None:
            controller = diffrax.ClipStepSizeController(controller, jump_ts=jump_ts)
    else:
        dt0, controller = (t1 - t0) / steps, diffrax.ConstantStepSize()
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        solver,
        t0=t0,
        t1=t1,
        dt0=dt0,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(t1=save_t1, ts=ts),
        stepsize_controller=controller,
        adjoint=adjoint,
        max_steps=max_steps,
        throw=False,
    )
    failed = sol.result != diffrax.RESULTS.successful
    states = jax.tree_util.tree_map(lambda a: jnp.where(failed, jnp.nan, a), sol.ys)
    per_step, first = EVALUATIONS.get(type(solver), (0, 0))
    nfe = per_step * sol.stats["num_steps"] + first
    # diffrax stacks the saves at ``ts`` first and the one at t1 last.
    at_t1 = jax.tree_util.tree_map(lambda a: a[-1], states) if save_t1 else None
    at_ts = None if ts is None else jax.tree_util.tree_map(lambda a: a[:-1] if save_t1 else a, states)
    return at_ts, at_t1, nfe


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

    def integrate_batch(
        self,
        field: AbstractField,
        h0s: Float[Array, "batch state"],
        xs: Float[Array, "batch time inp"],
        ts: Float[Array, "batch time"] | None,
        t0: float | Float[Array, ""],
        tau: float,
        *,
        dt: float | None = None,
    ) -> Float[Array, "batch time state"]:
        """:meth:`integrate` for every sample of a batch; ``ts`` None: the regular grid ``t0 + dt * (1..T)``."""
        if ts is None:
            grid = t0 + dt * jnp.arange(1, xs.shape[1] + 1, dtype=xs.dtype)
            return jax.vmap(lambda h0, x: self.integrate(field, h0, x, grid, t0, tau, dt=dt))(h0s, xs)
        return jax.vmap(lambda h0, x, t: self.integrate(field, h0, x, t, t0, tau))(h0s, xs, ts)

    def for_split_batch(self) -> AbstractIntegrator:
        """The integrator for one device's share of a minibatch split over devices
        (:func:`gnode.train.step.make_loss`); itself unless an integrator measured otherwise."""
        return self


# Batches above this many samples x field parameters are differentiated through the scan: their in-loop gradient
# products are large enough to run well, and the hoisted form's extra forward pass costs more than it saves.
HOISTED_MAX_WORK = 3_000_000


class Euler(AbstractIntegrator):
    """Explicit Euler over input bins, ``substeps`` equal steps per bin, in one ``lax.scan``.

    Arguments:
        substeps: Euler steps per bin (1 is the paper's setting).
        unroll: ``lax.scan`` unroll factor (a speed knob; the same results up to float rounding).
        hoisted_gradients: differentiate a batch (:meth:`integrate_batch`) with :func:`hoisted_rollout`: the
            backward loop carries only the states' cotangents, and the field's parameter gradients of all steps
            are computed after it, as products over every (time, sample) row (a speed knob; the same gradients
            up to float rounding). None (default): when the batch's work, samples x the field's parameters, is
            below :data:`HOISTED_MAX_WORK`, where it was measured to pay (``benchmarks/data_parallel.py``).
    """

    substeps: int = eqx.field(static=True, default=1)
    unroll: int = eqx.field(static=True, default=1)
    hoisted_gradients: bool | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.substeps < 1 or self.unroll < 1:
            raise ConfigError(f"substeps and unroll must be >= 1, got {self.substeps}, {self.unroll}")

    def for_split_batch(self) -> Euler:
        # measured (benchmarks/train_step.py): on a device's share of a split minibatch the hoisted gradients cost
        # more than they save, so by default a share is differentiated through the scan
        return self if self.hoisted_gradients is not None else dataclasses.replace(self, hoisted_gradients=False)

    def bin_step(
        self, field: AbstractField, h: Float[Array, " state"], drive: PyTree, alpha: float | Float[Array, ""]
    ) -> Float[Array, " state"]:
        """One bin: ``substeps`` Euler steps ``h <- h + alpha v(h)`` with the bin's input drive."""
        for _ in range(self.substeps):
            h = h + alpha * field.velocity_from_projection(h, drive)
        return h

    def step_sizes(
        self, ts: Float[Array, "*batch time"] | None, t0: float | Float[Array, ""], tau: float, dt: float | None
    ) -> Float[Array, "*batch time"] | float:
        """Each bin's Euler step ``dt_k / (tau * substeps)`` along the last axis of ``ts``; with ``dt`` (a regular
        grid) one float for every bin, which the compiled loop folds in as a constant."""
        if dt is not None:
            return dt / (tau * self.substeps)
        return jnp.diff(ts, axis=-1, prepend=jnp.full_like(ts[..., :1], t0)) / (tau * self.substeps)

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
        drives = jax.vmap(field.project_input)(xs)  # hoisted out of the time loop
        alphas = self.step_sizes(ts, t0, tau, dt)
        regular = dt is not None

        def step(h, inputs):
            drive, alpha = (inputs, alphas) if regular else inputs
            h = self.bin_step(field, h, drive, alpha)
            return h, h

        _, hs = jax.lax.scan(step, h0, drives if regular else (drives, alphas), unroll=self.unroll)
        return hs

    def integrate_batch(
        self,
        field: AbstractField,
        h0s: Float[Array, "batch state"],
        xs: Float[Array, "batch time inp"],
        ts: Float[Array, "batch time"] | None,
        t0: float | Float[Array, ""],
        tau: float,
        *,
        dt: float | None = None,
    ) -> Float[Array, "batch time state"]:
        params, rest = eqx.partition(field, eqx.is_inexact_array)
        hoisted = self.hoisted_gradients
        if hoisted is None:
            parameters = sum(a.size for a in jax.tree_util.tree_leaves(params))
            hoisted = xs.shape[0] * parameters < HOISTED_MAX_WORK
        if not hoisted:
            return super().integrate_batch(field, h0s, xs, ts, t0, tau, dt=dt)
        time_major = lambda a: jnp.swapaxes(a, 0, 1)  # noqa: E731
        drives = jax.tree_util.tree_map(time_major, jax.vmap(jax.vmap(field.project_input))(xs))
        alphas = self.step_sizes(ts, t0, tau, dt if ts is None else None)
        if ts is not None:
            alphas = time_major(alphas)

        def step(params, h, drive, alpha):
            return self.bin_step(eqx.combine(params, rest), h, drive, alpha)

        return time_major(hoisted_rollout(step, params, h0s, drives, alphas, self.unroll))


def hoisted_rollout(
    step: Callable[[PyTree, Array, PyTree, Array], Array],
    params: PyTree,
    h0s: Float[Array, "batch state"],
    drives: PyTree,
    alphas: Float[Array, "time batch"] | float,
    unroll: int = 1,
) -> Float[Array, "time batch state"]:
    """The states ``h_t = step(params, h_{t-1}, drive_t, alpha_t)`` of a batch (time-major), with a custom VJP.

    Autodiff through a scan computes every parameter gradient inside the backward loop, one small
    ``(width x batch) @ (batch x width)`` product per step. Here the backward loop (JAX's own, on the stored
    residuals) carries only the states' cotangents ``g_t``; then one VJP of ``step`` vmapped over all
    ``time x batch`` rows gives the parameter and drive gradients, ``sum_t (d step / d params)^T g_t``, as a few
    large products. That replay costs one more forward pass, in large products too.

    Arguments:
        step: one sample's step ``(params, h, drive, alpha) -> h``.
        drives, alphas: per (time, sample); ``alphas`` may be one float for every step.
    """
    regular = not isinstance(alphas, jax.Array)
    per_sample = jax.vmap(step, in_axes=(None, 0, 0, None if regular else 0))

    def states(params, h0s, drives, probes):
        def body(h, inputs):
            drive, alpha, probe = inputs
            h = per_sample(params, h, drive, alphas if regular else alpha) + probe
            return h, h

        xs = (drives, None if regular else alphas, probes)
        return jax.lax.scan(body, h0s, xs, unroll=unroll)[1]

    zeros = lambda: jnp.zeros((jax.tree_util.tree_leaves(drives)[0].shape[0], *h0s.shape), h0s.dtype)  # noqa: E731

    @jax.custom_vjp
    def rollout(params, h0s, drives):
        return states(params, h0s, drives, zeros())

    def forward(params, h0s, drives):
        # the parameters are constants here, so the pullback's loop computes no parameter gradient; an additive
        # zero probe on every h_t receives h_t's whole cotangent g_t
        hs, pullback = jax.vjp(lambda h0s, probes: states(params, h0s, drives, probes), h0s, zeros())
        return hs, (pullback, params, h0s, drives, hs)

    def backward(residuals, cotangent):
        pullback, params, h0s, drives, hs = residuals
        dh0s, g = pullback(cotangent)
        previous = jnp.concatenate([h0s[None], hs[:-1]])
        rows = lambda a: a.reshape(-1, *a.shape[2:])  # noqa: E731 — (time, batch, ...) -> (time * batch, ...)
        flat_alphas = alphas if regular else rows(alphas)
        replay = lambda p, d: per_sample(p, rows(previous), d, flat_alphas)  # noqa: E731 — time x batch rows
        _, vjp = jax.vjp(replay, params, jax.tree_util.tree_map(rows, drives))
        dparams, ddrives = vjp(rows(g))
        unrows = lambda a, like: a.reshape(like.shape)  # noqa: E731
        return dparams, dh0s, jax.tree_util.tree_map(unrows, ddrives, drives)

    rollout.defvjp(forward, backward)
    return rollout(params, h0s, drives)


class AbstractInterpolation(eqx.Module):
    """The input ``x(t)`` between the observation times, from the bins ``xs`` that end at ``ts``."""

    @abc.abstractmethod
    def __call__(
        self, t: Float[Array, ""], xs: Float[Array, "time inp"], ts: Float[Array, " time"]
    ) -> Float[Array, " inp"]: ...


class PiecewiseConstant(AbstractInterpolation):
    """``x = xs[k]`` on bin ``k``, ``(ts[k-1], ts[k]]``: each input held over its bin."""

    def __call__(
        self, t: Float[Array, ""], xs: Float[Array, "time inp"], ts: Float[Array, " time"]
    ) -> Float[Array, " inp"]:
        k = jnp.clip(jnp.searchsorted(ts, t, side="left"), 0, ts.shape[0] - 1)
        return xs[k]


class PiecewiseLinear(AbstractInterpolation):
    """Straight lines through ``(ts[k], xs[k])`` (held constant before the first and after the last)."""

    def __call__(
        self, t: Float[Array, ""], xs: Float[Array, "time inp"], ts: Float[Array, " time"]
    ) -> Float[Array, " inp"]:
        return jax.vmap(jnp.interp, in_axes=(None, None, 1))(t, ts, xs)


INTERPOLATIONS = {"constant": PiecewiseConstant, "linear": PiecewiseLinear}  # names for the CLI and config files


class Adaptive(AbstractIntegrator):
    """An adaptive diffrax solve; inputs held constant over each bin or interpolated linearly.

    Arguments:
        solver: a diffrax solver (``Tsit5()`` default; ``Dopri5()`` etc.).
        rtol, atol: tolerances of the PID controller.
        interpolation: how the input varies within a bin: :class:`PiecewiseConstant` (default) or
            :class:`PiecewiseLinear` (or your :class:`AbstractInterpolation`).
        adjoint: a diffrax adjoint (backprop through the solver by default).
        max_steps: the solver's step budget.
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    rtol: float = 1e-6
    atol: float = 1e-6
    interpolation: AbstractInterpolation = PiecewiseConstant()
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    max_steps: int = eqx.field(static=True, default=16_384)

    def __check_init__(self):
        if not isinstance(self.interpolation, AbstractInterpolation):
            raise ConfigError(
                f"interpolation must be an AbstractInterpolation (e.g. PiecewiseLinear()), got {self.interpolation!r}"
            )

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
        def rhs(t, h, args):
            return field.velocity(h, self.interpolation(t, xs, ts)) / tau

        hs, _, _ = solve_ode(
            rhs,
            h0,
            t0,
            ts[-1],
            solver=self.solver,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            rtol=self.rtol,
            atol=self.atol,
            ts=ts,
            save_t1=False,
            jump_ts=ts,
        )
        return hs
