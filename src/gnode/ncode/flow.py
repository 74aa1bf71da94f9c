"""Solving ``dy/dt = F(t, y)`` on ``[0, t1]`` with diffrax, counting the vector-field evaluations (NFE).

One object, :class:`FlowSolver`, holds the choices (a diffrax solver; a fixed number of steps or an adaptive PID
controller; an adjoint, i.e. how gradients are taken), so a model says *what* it integrates and the solver *how*.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax
import equinox as eqx
from jaxtyping import Array, Float, Int, PyTree

from gnode.errors import ConfigError, by_name
from gnode.solve import EVALUATIONS, solve_ode

SOLVERS = {cls.__name__.lower(): cls for cls in EVALUATIONS}
ADJOINTS = {"backprop": diffrax.RecursiveCheckpointAdjoint, "adjoint": diffrax.BacksolveAdjoint}


class FlowSolution(eqx.Module):
    """``y1``: the state at ``t1``; ``ys``: the states at the save times (None if none were asked);
    ``nfe``: vector-field evaluations of the forward solve, rejected steps included."""

    y1: PyTree
    ys: PyTree | None
    nfe: Int[Array, ""]


class FlowSolver(eqx.Module):
    """How a flow is integrated from 0 to ``t1``.

    Arguments:
        solver: a diffrax solver (Euler, Heun, Midpoint, Ralston, Bosh3, Tsit5, Dopri5, Dopri8).
        t1: the end time.
        steps: a fixed number of equal steps; None: adaptive steps (PID controller, ``rtol`` / ``atol``).
        rtol, atol: tolerances of the adaptive controller.
        adjoint: ``diffrax.RecursiveCheckpointAdjoint()`` (backpropagate through the solver's steps) or
            ``diffrax.BacksolveAdjoint()`` (solve the adjoint ODE backwards).
        max_steps: the step budget of one solve.
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    t1: float = eqx.field(static=True, default=1.0)
    steps: int | None = eqx.field(static=True, default=None)
    rtol: float = eqx.field(static=True, default=1e-3)
    atol: float = eqx.field(static=True, default=1e-3)
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    max_steps: int = eqx.field(static=True, default=4096)

    def __check_init__(self):
        if type(self.solver) not in EVALUATIONS:
            raise ConfigError(f"unsupported solver {type(self.solver).__name__}; choose one of {sorted(SOLVERS)}")
        if not self.t1 > 0:
            raise ConfigError(f"t1 must be positive, got {self.t1}")
        if self.steps is not None and self.steps <= 0:
            raise ConfigError(f"steps must be positive, got {self.steps}")
        if self.steps is None and EVALUATIONS[type(self.solver)][0] == 1:
            raise ConfigError("Euler has no error estimate: give a fixed number of steps")
        if not (self.rtol > 0 and self.atol > 0):
            raise ConfigError(f"rtol and atol must be positive, got {self.rtol}, {self.atol}")

    def solve(
        self,
        rhs: Callable[[Float[Array, ""], PyTree, PyTree], PyTree],
        y0: PyTree,
        ts: Float[Array, " save"] | None = None,
        args: PyTree = None,
    ) -> FlowSolution:
        """Integrate ``dy/dt = rhs(t, y, args)`` from ``y0`` at t = 0.

        Arguments:
            rhs: the vector field, a function of time, state (any PyTree) and ``args``.
            y0: the initial state.
            ts: times in ``[0, t1]`` at which to save the state as well.
            args: everything ``rhs`` differentiates through (the model): the backward-solve adjoint gives
                gradients only for ``y0`` and ``args``, not for values ``rhs`` closes over.
        Returns:
            A :class:`FlowSolution`.
        """
        ys, y1, nfe = solve_ode(
            rhs,
            y0,
            0.0,
            self.t1,
            solver=self.solver,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            steps=self.steps,
            rtol=self.rtol,
            atol=self.atol,
            ts=ts,
            args=args,
        )
        return FlowSolution(y1, ys, nfe)


def make_flow_solver(
    solver: str = "tsit5", *, steps: int | None = None, adjoint: str = "backprop", **kwargs
) -> FlowSolver:
    """A :class:`FlowSolver` from names (the CLI and experiment configs call this)."""
    solver_class, adjoint_class = by_name(SOLVERS, solver, "solver"), by_name(ADJOINTS, adjoint, "adjoint")
    return FlowSolver(solver_class(), steps=steps, adjoint=adjoint_class(), **kwargs)
