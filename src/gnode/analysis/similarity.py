"""How alike two dynamical systems are: Dynamical Similarity Analysis (DSA; Ostrow et al., NeurIPS 2023), from
trajectories alone, whatever the coordinates of each system.

1. **Delay embedding.** Each system's trajectories ``(trials, time, dim)`` are stacked with ``delays - 1`` lagged
   copies (a Hankel embedding), so a partly observed or low-dimensional state still shows its dynamics.
2. **DMD.** The embedded states are reduced to their top ``rank`` principal components, and a linear operator ``A``
   with ``z_{t+1} ≈ A z_t + c`` is fitted by least squares (dynamic mode decomposition): the system's local linear
   dynamics in its own coordinates.
3. **Procrustes over vector fields.** The distance between systems is ``min_C ||A - C B C^T||_F`` over orthogonal
   ``C`` (the same dynamics in rotated or reflected coordinates have distance 0), reported relative to
   ``(||A||_F + ||B||_F) / 2`` so that 0 means the same dynamics and values near 1 or above unrelated ones. The
   minimisation runs Adam on ``C = expm(S - S^T)`` from several starts, with and without a reflection.

Both systems must be embedded at the same ``rank``; choose ``delays`` and ``rank`` so that ``rank <= delays * dim``
for each.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from gnode.errors import ConfigError


def delay_embedding(trajectories: Float[ArrayLike, "trials time dim"], delays: int) -> np.ndarray:
    """``(trials, time - delays + 1, delays * dim)``: each state followed by its next ``delays - 1`` states."""
    x = np.asarray(trajectories, np.float64)
    if x.ndim != 3 or not np.isfinite(x).all():
        raise ConfigError(f"trajectories must be finite (trials, time, dim), got shape {x.shape}")
    if not 1 <= delays < x.shape[1]:
        raise ConfigError(f"delays must be in [1, {x.shape[1] - 1}] for trials of {x.shape[1]} steps, got {delays}")
    steps = x.shape[1] - delays + 1
    return np.concatenate([x[:, k : k + steps] for k in range(delays)], axis=-1)


def dmd_operator(trajectories: Float[ArrayLike, "trials time dim"], delays: int, rank: int) -> np.ndarray:
    """The ``(rank, rank)`` DMD operator of the delay-embedded trajectories (see the module docstring)."""
    embedded = delay_embedding(trajectories, delays)
    if not 1 <= rank <= embedded.shape[-1]:
        raise ConfigError(f"rank must be in [1, {embedded.shape[-1]}] (delays x dim), got {rank}")
    flat = embedded.reshape(-1, embedded.shape[-1])
    mean = flat.mean(0)
    basis = np.linalg.svd(flat - mean, full_matrices=False)[2][:rank]
    z = (embedded - mean) @ basis.T
    before, after = z[:, :-1].reshape(-1, rank), z[:, 1:].reshape(-1, rank)
    with_offset = np.concatenate([before, np.ones((len(before), 1))], axis=1)  # the centring leaves an offset
    solution = np.linalg.lstsq(with_offset, after, rcond=None)[0]
    return solution[:rank].T  # z_{t+1} = A z_t + c


def _rotation(skew: Float[Array, "n n"]) -> Float[Array, "n n"]:
    return jax.scipy.linalg.expm(skew - skew.T)


@eqx.filter_jit
def _best_rotation(a, b, starts, steps: int):
    optimizer = optax.adam(0.05)

    def loss(skew):
        c = _rotation(skew)
        return jnp.sum((a - c @ b @ c.T) ** 2)

    def descend(skew):
        def step(carry, _):
            skew, state = carry
            value, grad = jax.value_and_grad(loss)(skew)
            updates, state = optimizer.update(grad, state)
            return (skew + updates, state), value

        (skew, _), _ = jax.lax.scan(step, (skew, optimizer.init(skew)), None, length=steps)
        return loss(skew)

    return jnp.min(jax.vmap(descend)(starts))


@dataclasses.dataclass(frozen=True)
class Similarity:
    """The result of :func:`dsa`.

    Attributes:
        distance: ``min_C ||A - C B C^T||_F / ((||A||_F + ||B||_F) / 2)`` (0: the same dynamics).
        operators: the two DMD operators ``A`` and ``B``.
    """

    distance: float
    operators: tuple[np.ndarray, np.ndarray]


def procrustes_distance(a: Float[ArrayLike, "n n"], b: Float[ArrayLike, "n n"], *, starts: int = 8,
                        steps: int = 400, seed: int = 0) -> float:  # fmt: skip
    """``min_C ||A - C B C^T||_F`` over orthogonal ``C``, relative to the operators' mean norm."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ConfigError(f"operators must be square and of one size, got {a.shape} and {b.shape}")
    n = a.shape[0]
    flip = np.eye(n)
    flip[0, 0] = -1.0  # rotations from expm have det +1: try the reflected B too
    skews = jr.normal(jr.key(seed), (starts, n, n)) * 0.5
    best = min(
        float(_best_rotation(jnp.asarray(a, jnp.float32), jnp.asarray(m @ b @ m, jnp.float32), skews, steps))
        for m in (np.eye(n), flip)
    )
    return float(np.sqrt(max(best, 0.0)) / ((np.linalg.norm(a) + np.linalg.norm(b)) / 2))


def dsa(
    first: Float[ArrayLike, "trials time dim"],
    second: Float[ArrayLike, "trials time dim2"],
    *,
    delays: int = 4,
    rank: int = 6,
    starts: int = 8,
    steps: int = 400,
    seed: int = 0,
) -> Similarity:
    """Dynamical similarity of two systems from their trajectories (see the module docstring).

    Arguments:
        first, second: each system's trajectories (their dimensions may differ).
        delays, rank: the delay embedding and the DMD rank (the same for both).
        starts, steps, seed: the Procrustes minimisation's random starts and Adam steps.
    """
    a, b = dmd_operator(first, delays, rank), dmd_operator(second, delays, rank)
    return Similarity(procrustes_distance(a, b, starts=starts, steps=steps, seed=seed), (a, b))
