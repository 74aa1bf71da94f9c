"""The autoregressive HMM baseline: ``y_t = A_{z_t} y_{t−1} + b_{z_t} + N(0, Σ_{z_t})`` with sticky Markov states,
fitted by EM — the E-step is dynamax's HMM smoother, the M-step state-weighted ridge regression (dynamax's own
``LinearAutoregressiveHMM`` M-step is unregularised and returned NaN on NASCAR, whose observations span only two
dimensions). States of a new sequence: HMM smoothing with the parameters fixed.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

from gnode.compilation import jit
from gnode.errors import ConfigError, DivergenceError
from gnode.gdm.data import SwitchingData, check_observations, check_states, switching_data
from gnode.gdm.em import (
    all_finite,
    greedy_forecast,
    initial_state_probs,
    kmeans_states,
    real_steps,
    smooth_states,
    sticky_transitions,
    weighted_regression,
)


class ARHMM(eqx.Module):
    """Parameters: ``initial_probs``, ``transition_matrix``, per-state ``weights`` A_k, ``biases`` b_k, ``covs`` Σ_k."""

    initial_probs: Float[Array, " modes"]
    transition_matrix: Float[Array, "modes modes"]
    weights: Float[Array, "modes obs obs"]
    biases: Float[Array, "modes obs"]
    covs: Float[Array, "modes obs obs"]

    @property
    def states(self) -> int:
        return self.initial_probs.shape[0]

    def log_likelihoods(self, y: Float[ArrayLike, "time obs"]) -> Float[Array, "time modes"]:
        """``log N(y_t; A_k y_{t−1} + b_k, Σ_k)`` for t ≥ 1 (zero at t = 0, which has no predecessor)."""
        mean = jnp.einsum("kij,tj->tki", self.weights, y[:-1]) + self.biases
        residual = y[1:, None, :] - mean
        chol = jnp.linalg.cholesky(self.covs)
        solved = jax.vmap(lambda r: jax.scipy.linalg.solve_triangular(chol, r[..., None], lower=True)[..., 0])(residual)
        log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=-1)
        dim = y.shape[1]
        ll = -0.5 * (jnp.sum(solved**2, axis=-1) + log_det + dim * jnp.log(2 * jnp.pi))
        return jnp.concatenate([jnp.zeros((1, self.states)), ll])

    def smooth(
        self, y: Float[ArrayLike, "time obs"], length: Int[ArrayLike, ""] | None = None
    ) -> tuple[Float[Array, "time modes"], Float[Array, "modes modes"], Float[Array, ""]]:
        """State marginals, expected transition counts and the marginal log-likelihood ``log p(y_{2:T} | y_1)`` of a
        sequence (padded at the end after ``length`` steps), by dynamax's HMM smoother."""
        return smooth_states(self.initial_probs, self.transition_matrix, self.log_likelihoods(y), length)


@dataclasses.dataclass(frozen=True)
class ARHMMConfig:
    """iterations: EM iterations; stickiness: κ of the transition prior; ridge: of the regressions (and added to
    the covariances); seed: the k-means initialisation."""

    iterations: int = 100
    stickiness: float = 100.0
    ridge: float = 1e-4
    seed: int = 0

    def __post_init__(self):
        if self.iterations <= 0 or self.stickiness < 0 or self.ridge <= 0:
            raise ConfigError(f"need iterations > 0, stickiness >= 0 and ridge > 0, got {self}")


def m_step(
    y: Float[Array, "trials time obs"],
    lengths: Int[Array, " trials"],
    probs: Float[Array, "trials time modes"],
    counts: Float[Array, "modes modes"],
    config: ARHMMConfig,
) -> ARHMM:
    """Closed-form updates from the state marginals and transition counts of trials padded at the end."""
    trials, t, n = y.shape
    real = real_steps(t, lengths)[:, 1:, None]
    u = jnp.concatenate([y[:, :-1], jnp.ones((trials, t - 1, 1))], axis=2).reshape(-1, n + 1)
    w = (probs[:, 1:] * real).reshape(-1, probs.shape[-1])
    after = y[:, 1:].reshape(-1, n)
    coef = weighted_regression(w, after[:, :, None] * u[:, None, :], u[:, :, None] * u[:, None, :], config.ridge)
    residual = after[:, None, :] - jnp.einsum("koi,ti->tko", coef, u)
    covs = jnp.einsum("tk,tki,tkj->kij", w, residual, residual) / (w.sum(0)[:, None, None] + 1e-8)
    return ARHMM(
        initial_probs=initial_state_probs(probs[:, 0].mean(0)),
        transition_matrix=sticky_transitions(counts, config.stickiness),
        weights=coef[:, :, :n],
        biases=coef[:, :, n],
        covs=covs + config.ridge * jnp.eye(n),
    )


def fit_arhmm(
    y: Float[ArrayLike, "time obs"] | SwitchingData, states: int, config: ARHMMConfig = ARHMMConfig()
) -> ARHMM:
    """EM from k-means states on one sequence ``(time, N)`` or on trials (:func:`~gnode.gdm.data.switching_data`)."""
    check_states(states)
    data = y if isinstance(y, SwitchingData) else switching_data(check_observations(y))
    probs, counts = kmeans_states(data.observations, data.lengths, states, config.seed)
    ys, lengths = jnp.asarray(data.observations), jnp.asarray(data.lengths)
    probs, counts = jnp.asarray(probs, jnp.float32), jnp.asarray(counts, jnp.float32)
    step = dataclasses.replace(config, iterations=1, seed=0)  # only what shapes one iteration: one compilation
    for iteration in range(config.iterations):
        new_probs, new_counts, _ = _em_iteration(ys, lengths, probs, counts, step)
        if not all_finite((new_probs, new_counts)):
            last = m_step(ys, lengths, probs, counts, config)
            raise DivergenceError(f"ARHMM EM became non-finite at iteration {iteration}", state=last)
        probs, counts = new_probs, new_counts
    return m_step(ys, lengths, probs, counts, config)


@jit
def _em_iteration(
    ys: Float[Array, "trials time obs"],
    lengths: Int[Array, " trials"],
    probs: Float[Array, "trials time modes"],
    counts: Float[Array, "modes modes"],
    config: ARHMMConfig,
):
    # module level, so that fits with different seeds and lengths reuse one compilation
    model = m_step(ys, lengths, probs, counts, config)
    probs, pairs, log_likelihoods = jax.vmap(model.smooth)(ys, lengths)
    return probs, pairs.sum(0), log_likelihoods.sum()


def arhmm_log_likelihood(model: ARHMM, data: SwitchingData) -> float:
    """``Σ_trials log p(y_{2:T} | y_1)`` of trials under fixed parameters (the exact marginal likelihood)."""
    data.check_model(model.weights.shape[1], 0)
    run = jit(lambda m, y, n: jax.vmap(m.smooth)(y, n)[2].sum())
    return float(run(model, jnp.asarray(data.observations), jnp.asarray(data.lengths)))


def arhmm_states(model: ARHMM, y: Float[ArrayLike, "time obs"]) -> Float[Array, "time modes"]:
    """Smoothed state probabilities of a sequence under fixed parameters."""
    return jit(lambda m, y: m.smooth(y)[0])(model, jnp.asarray(check_observations(y, model.weights.shape[1])))


def arhmm_one_step(
    model: ARHMM, y: Float[ArrayLike, "time obs"], probs: Float[ArrayLike, "time modes"]
) -> Float[Array, "time obs"]:
    """``Σ_k p(z_t = k)(A_k y_{t−1} + b_k)`` (the first step: ``y_0`` itself, which has no predecessor)."""
    nxt = jnp.einsum("tk,kij,tj->ti", probs[1:], model.weights, y[:-1]) + probs[1:] @ model.biases
    return jnp.concatenate([y[:1], nxt])


def arhmm_forecast(
    model: ARHMM, y: Float[ArrayLike, "time obs"], probs: Float[ArrayLike, "time modes"], steps: int
) -> Array:
    """``steps``-ahead predictions of ``y[steps:]``, taking the most likely next state at each step (greedy)."""
    rows = lambda y, z: model.transition_matrix[z]  # noqa: E731
    return greedy_forecast(model.weights, model.biases, rows, jnp.asarray(y), jnp.asarray(probs), steps)
