"""Fixed and slow points: minimise ``q(h) = 1/2 |v(h)|^2`` from many initial states at once.

Two phases, both vmapped over the initial states in one compiled program:

1. **Descent** (Adam on ``q``, as in Sussillo & Barak 2013): each state moves until ``q < slow_tol`` or
   ``max_steps`` pass; where it crosses ``slow_tol`` is its **slow point**. Stopping there, instead of
   running on, keeps the slow points spread along an approximate continuous attractor (Adam's steps do not
   shrink with the gradient, so a long descent drags every state along the attractor to a few minima).
2. **Refinement** (Levenberg-Marquardt on ``v(h) = 0``, a few lines of ``jnp.linalg``) from each slow point
   (or each point with ``q < refine_tol``).
   It converges quadratically at isolated fixed points and, where the Jacobian is singular (a continuous
   attractor), to a nearby point of the attractor. A refined point with ``q < fixed_tol`` is a **fixed point**.
   (Refining from far off is avoided on purpose: there LM can leap to where a gate shuts, ``v ~ 0`` with
   ``F != h``.)

Fixed points are deduplicated (within ``unique_tol``, keeping the lowest ``q``) and classified by the
eigenvalues of their Jacobian. Units: ``v`` is ``tau dh/dt``, so ``q`` is in (state / tau)^2 and
``sqrt(2 q)`` is the speed; ``slow_tol = 1e-6`` means a speed below 1.4e-3 state units per ``tau``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int
from scipy.spatial import cKDTree

from gnode.analysis.jacobian import Spectrum, Velocity, check_points, spectrum
from gnode.errors import ConfigError


def _speed_squared(velocity: Velocity, h):
    v = velocity(h)
    return 0.5 * jnp.sum(v * v)


@eqx.filter_jit
def _descend(velocity, starts, learning_rate, max_steps, slow_tol):
    """Adam on q for every start until it drops below ``slow_tol``; returns the stopping points, their q
    and the number of steps taken."""
    value_and_grad = jax.vmap(jax.value_and_grad(lambda h: _speed_squared(velocity, h)))
    optimizer = optax.adam(learning_rate)

    def cond(carry):
        step, _, _, q = carry
        return (step < max_steps) & jnp.any(q >= slow_tol)

    def body(carry):
        step, h, opt_state, _ = carry
        q, grad = value_and_grad(h)
        moving = (q >= slow_tol)[:, None]
        updates, opt_state = optimizer.update(jnp.where(moving, grad, 0.0), opt_state)
        return step + 1, h + jnp.where(moving, updates, 0.0), opt_state, q

    q0 = jax.vmap(lambda h: _speed_squared(velocity, h))(starts)
    steps, h, _, _ = jax.lax.while_loop(cond, body, (0, starts, optimizer.init(starts), q0))
    return h, jax.vmap(lambda p: _speed_squared(velocity, p))(h), steps


@eqx.filter_jit
def _refine(velocity, starts, steps, damping):
    """Levenberg-Marquardt on ``v(h) = 0``: ``dh = -(J^T J + mu I)^-1 J^T v``, a step kept only if it lowers q
    (then ``mu`` shrinks 3x, else it grows 4x). ``mu I`` rather than ``mu diag(J^T J)`` keeps the step defined
    where ``J`` is singular, as it is along a continuous attractor."""
    eye = jnp.eye(starts.shape[-1], dtype=starts.dtype)

    def one(h0):
        def step(carry, _):
            h, q, mu = carry
            v, jac = velocity(h), jax.jacfwd(velocity)(h)
            trial = h - jnp.linalg.solve(jac.T @ jac + mu * eye, jac.T @ v)
            q_trial = _speed_squared(velocity, trial)
            better = q_trial < q
            return (
                jnp.where(better, trial, h),
                jnp.where(better, q_trial, q),
                jnp.where(better, mu / 3.0, mu * 4.0),
            ), None

        init = (h0, _speed_squared(velocity, h0), jnp.asarray(damping, h0.dtype))
        (h, q, _), _ = jax.lax.scan(step, init, None, length=steps)
        return h, q

    return jax.vmap(one)(starts)


def unique_points(
    points: Float[ArrayLike, "count state"], scores: Float[ArrayLike, " count"], tol: float
) -> Int[Array, " unique"]:
    """Indices of a subset of ``points`` with no two closer than ``tol``, preferring low ``scores`` (a k-d tree
    query in NumPy)."""
    points, scores = np.asarray(points), np.asarray(scores)
    tree = cKDTree(points)
    taken = np.zeros(len(points), bool)
    keep = []
    for i in np.argsort(scores, kind="stable"):
        if not taken[i]:
            keep.append(i)
            taken[tree.query_ball_point(points[i], tol)] = True
    return jnp.asarray(keep, jnp.int32)


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """What :class:`FixedPointFinder` found.

    Attributes:
        slow_points: where each start's descent crossed ``slow_tol`` (one per successful start, not
            deduplicated: a sample of the slow set); ``slow_q``: their ``q``.
        points: the distinct fixed points (``q < fixed_tol``); ``q``: their ``q``.
        spectrum: Jacobians and eigen-decompositions at ``points``.
        stability: ``"stable"``, ``"saddle-k"`` or ``"unstable"`` per fixed point.
        starts: number of initial states; ``converged``: how many of them refined to ``q < fixed_tol`` (before
            deduplication); ``descent_steps``: Adam steps the slowest start needed; ``descent_q``: every start's
            ``q`` where its descent stopped (to tune ``slow_tol`` and ``max_steps`` when few points are slow).
    """

    slow_points: Float[Array, "slow state"]
    slow_q: Float[Array, " slow"]
    points: Float[Array, "fixed state"]
    q: Float[Array, " fixed"]
    spectrum: Spectrum
    stability: list[str]
    starts: int
    converged: int
    descent_steps: int
    descent_q: Float[Array, " count"]

    def count(self, kind: str) -> int:
        """Number of fixed points whose class starts with ``kind`` (``"stable"``, ``"saddle"``, ``"unstable"``)."""
        return sum(s.startswith(kind) for s in self.stability)

    def summary(self) -> dict:
        return {
            "starts": self.starts,
            "converged": self.converged,
            "slow_points": len(self.slow_points),
            "fixed_points": len(self.points),
            "stable": self.count("stable"),
            "saddles": self.count("saddle"),
            "unstable": self.count("unstable"),
            "max_fixed_q": float(self.q.max()) if len(self.q) else None,
            "descent_steps": self.descent_steps,
            "descent_q_median": float(jnp.median(self.descent_q)),
            "descent_q_min": float(jnp.min(self.descent_q)),
        }


class FixedPointFinder(eqx.Module):
    """Finds slow and fixed points of an autonomous velocity ``h -> v(h)``.

    Arguments:
        learning_rate, max_steps: Adam's step size and its step budget in the descent phase.
        slow_tol: ``q`` below which a point is slow (ends the descent).
        refine_tol: descents that end with ``q`` below this are refined (default ``slow_tol``). A looser value
            (e.g. 1e-4 with a shorter descent) finds fixed points faster when the slow set is not needed.
        fixed_tol: ``q`` below which a refined point is fixed.
        refine_steps, damping: Levenberg-Marquardt's number of steps and initial damping ``mu``.
        unique_tol: fixed points closer than this (state units) are one.
        stability_tol: an eigenvalue with real part above this (1/tau units) is unstable.
    """

    learning_rate: float = 1e-2
    max_steps: int = 2000
    slow_tol: float = 1e-6
    fixed_tol: float = 1e-10
    refine_steps: int = 30
    damping: float = 1e-2
    refine_tol: float | None = None
    unique_tol: float = 1e-3
    stability_tol: float = 1e-4

    def __check_init__(self):
        if not (self.learning_rate > 0 and self.damping > 0 and self.max_steps >= 0 and self.refine_steps >= 0):
            raise ConfigError("learning_rate and damping must be positive, the step budgets non-negative")
        if not 0 < self.fixed_tol <= self.slow_tol:
            raise ConfigError(f"need 0 < fixed_tol <= slow_tol, got {self.fixed_tol}, {self.slow_tol}")
        if self.refine_tol is not None and self.refine_tol < self.slow_tol:
            raise ConfigError(f"need refine_tol >= slow_tol, got {self.refine_tol} < {self.slow_tol}")

    def __call__(self, velocity: Velocity, initial_states: Float[ArrayLike, "count state"]) -> FixedPoints:
        """Arguments: ``velocity`` (``(N,) -> (N,)``, e.g. :class:`gnode.analysis.jacobian.Autonomous`), and
        ``initial_states``. Returns: :class:`FixedPoints`."""
        starts = check_points(initial_states, what="initial states")
        try:
            out = jax.eval_shape(velocity, jnp.zeros(starts.shape[1:]))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"the velocity does not accept states of dimension {starts.shape[1]}: {err}") from None
        if out.shape != starts.shape[1:]:
            raise ConfigError(f"the velocity maps ({starts.shape[1]},) to {out.shape}, not to the state space")
        h, q, steps = _descend(velocity, starts, self.learning_rate, self.max_steps, self.slow_tol)
        slow = q < self.slow_tol
        refine = q < (self.slow_tol if self.refine_tol is None else self.refine_tol)
        refined, refined_q = h[refine], q[refine]
        if refine.any():
            refined, refined_q = _refine(velocity, refined, self.refine_steps, self.damping)
        fixed = refined_q < self.fixed_tol
        keep = unique_points(refined[fixed], refined_q[fixed], self.unique_tol) if fixed.any() else jnp.zeros(0, int)
        points, point_q = refined[fixed][keep], refined_q[fixed][keep]
        n = starts.shape[1]
        spec = spectrum(velocity, points) if len(points) else Spectrum.of(jnp.zeros((0, n, n)))
        return FixedPoints(
            slow_points=h[slow],
            slow_q=q[slow],
            points=points,
            q=point_q,
            spectrum=spec,
            stability=spec.stability(self.stability_tol),
            starts=len(starts),
            converged=int(fixed.sum()),
            descent_steps=int(steps),
            descent_q=q,
        )


def sample_starts(
    states: Float[ArrayLike, "... state"], count: int, noise: float, *, seed: int = 0
) -> Float[Array, "count state"]:
    """``count`` initial states drawn (with replacement) from ``states`` (e.g. trained trajectories), plus
    Gaussian noise of standard deviation ``noise``."""
    states = np.asarray(states, np.float32)
    states = states.reshape(-1, states.shape[-1])
    if count <= 0 or len(states) == 0:
        raise ConfigError(f"need a positive count and some states to sample from, got {count} and {len(states)}")
    rng = np.random.default_rng(seed)
    picked = states[rng.integers(len(states), size=count)]
    return jnp.asarray((picked + noise * rng.normal(size=picked.shape)).astype(np.float32))


def box_starts(
    lo: Float[ArrayLike, " state"] | Sequence[float | int],
    hi: Float[ArrayLike, " state"] | Sequence[float | int],
    count: int,
    *,
    seed: int = 0,
) -> Float[Array, "count state"]:
    """``count`` initial states uniform in the box ``[lo, hi]``."""
    lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    if count <= 0 or lo.shape != hi.shape or lo.ndim != 1 or np.any(hi < lo):
        raise ConfigError(f"need a positive count and a box with lo <= hi, got {count}, {lo}, {hi}")
    return jnp.asarray(np.random.default_rng(seed).uniform(lo, hi, size=(count, lo.size)).astype(np.float32))
