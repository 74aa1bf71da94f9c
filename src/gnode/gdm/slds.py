"""Switching linear dynamical systems — SLDS (sticky Markov transitions) and recurrent-only rSLDS — fitted by
variational EM with a structured mean-field posterior ``q(z) q(x)`` (the baselines of lrrnn_gdm.md §B.7):

    z_t | z_{t−1}, x_{t−1} ∼ P[z_{t−1}]  (sticky)   or   softmax(R x_{t−1} + r)  (recurrent-only)
    x_t = A_{z_t} x_{t−1} + b_{z_t} + N(0, diag σ²_{z_t}),     y_t = C x_t + d + N(0, diag η)

The E-step alternates the exact ``q(x)`` given ``q(z)`` (a Gaussian chain, :mod:`gnode.gdm.chain`) and the exact
``q(z)`` given ``q(x)`` (HMM smoothing by dynamax). For the recurrent-only transitions two simplifications
(documented choices): ``q(z)`` uses the transition probabilities at ``E[x_{t−1}]``, and ``q(x)`` leaves out the
transition term (ssm's Laplace-EM keeps it). The M-step is closed form except R, r (a weighted multinomial logistic
regression by Adam). States of a new sequence are inferred by the same E-step with the parameters fixed.
"""

from __future__ import annotations

import abc
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

from gnode.errors import ConfigError, DivergenceError
from gnode.gdm.chain import chain_posterior
from gnode.gdm.data import check_observations, check_states
from gnode.gdm.em import (
    all_finite,
    greedy_forecast,
    initial_state_probs,
    kmeans_states,
    sticky_transitions,
    weighted_regression,
)
from gnode.optional import optional_import
from gnode.train.optim import adamw
from gnode.train.step import scan_steps


class AbstractTransitions(eqx.Module):
    """How the discrete state switches: the transition probabilities, the next-state row of a forecast, and the
    M-step of the parameters they use."""

    @abc.abstractmethod
    def probs(
        self, model: SLDS, x_prev: Float[Array, "pairs latent"]
    ) -> Float[Array, "pairs modes modes"] | Float[Array, "modes modes"]:
        """``P(z_t | z_{t−1}, x_{t−1})``: per step, or one matrix for all steps."""

    @abc.abstractmethod
    def next_row(self, model: SLDS, x: Float[Array, " latent"], z: Int[Array, ""]) -> Float[Array, " modes"]:
        """``P(z_{t+1} | z_t = z, x_t = x)``."""

    @abc.abstractmethod
    def m_step(self, model: SLDS, q: Posterior, stickiness: float) -> dict[str, Array]:
        """The updated transition parameters, by name."""


class Sticky(AbstractTransitions):
    """A Markov chain ``z_t ∼ P[z_{t−1}]`` with a Dirichlet prior that favours staying (the SLDS)."""

    def probs(
        self, model: SLDS, x_prev: Float[Array, "pairs latent"]
    ) -> Float[Array, "pairs modes modes"] | Float[Array, "modes modes"]:
        return model.transition_matrix

    def next_row(self, model: SLDS, x: Float[Array, " latent"], z: Int[Array, ""]) -> Float[Array, " modes"]:
        return model.transition_matrix[z]

    def m_step(self, model: SLDS, q: Posterior, stickiness: float) -> dict[str, Array]:
        return {"transition_matrix": sticky_transitions(q.pair_counts, stickiness)}


class RecurrentOnly(AbstractTransitions):
    """``z_t ∼ softmax(R x_{t−1} + r)``, whatever ``z_{t−1}`` was (the recurrent-only rSLDS)."""

    def probs(
        self, model: SLDS, x_prev: Float[Array, "pairs latent"]
    ) -> Float[Array, "pairs modes modes"] | Float[Array, "modes modes"]:
        rows = jax.nn.softmax(x_prev @ model.recurrent_weight.T + model.recurrent_bias, axis=-1)
        return jnp.broadcast_to(rows[:, None, :], (rows.shape[0], model.states, model.states))

    def next_row(self, model: SLDS, x: Float[Array, " latent"], z: Int[Array, ""]) -> Float[Array, " modes"]:
        return jax.nn.softmax(model.recurrent_weight @ x + model.recurrent_bias)

    def m_step(self, model: SLDS, q: Posterior, stickiness: float) -> dict[str, Array]:
        weight, bias = _fit_recurrent(model, q)
        return {"recurrent_weight": weight, "recurrent_bias": bias}


TRANSITIONS = {"sticky": Sticky, "recurrent_only": RecurrentOnly}  # names for the CLI and config files


class SLDS(eqx.Module):
    """Parameters of an SLDS or rSLDS (see the module docstring); ``transitions`` says which."""

    initial_probs: Float[Array, " modes"]
    transition_matrix: Float[Array, "modes modes"]
    recurrent_weight: Float[Array, "modes latent"]
    recurrent_bias: Float[Array, " modes"]
    dynamics: Float[Array, "modes latent latent"]
    offsets: Float[Array, "modes latent"]
    dynamics_variance: Float[Array, "modes latent"]
    initial_mean: Float[Array, " latent"]
    initial_variance: Float[Array, " latent"]
    emission: Float[Array, "obs latent"]
    emission_bias: Float[Array, " obs"]
    emission_variance: Float[Array, " obs"]
    transitions: AbstractTransitions

    @property
    def states(self) -> int:
        return self.initial_probs.shape[0]

    def transition_probs(
        self, x_prev: Float[Array, "pairs latent"]
    ) -> Float[Array, "pairs modes modes"] | Float[Array, "modes modes"]:
        return self.transitions.probs(self, x_prev)


class Posterior(eqx.Module):
    """``q(z)``: marginals ``(T, K)`` and expected transitions; ``q(x)``: means, covariances, lag-one covariances."""

    probs: Float[Array, "time modes"]
    pair_counts: Float[Array, "modes modes"]
    mean: Float[Array, "time latent"]
    cov: Float[Array, "time latent latent"]
    cross: Float[Array, "time-1 latent latent"]


@dataclasses.dataclass(frozen=True)
class SLDSConfig:
    """Settings of :func:`fit_slds`.

    Attributes:
        transitions: :class:`Sticky` (SLDS) or :class:`RecurrentOnly` (rSLDS); latent: D; iterations: EM
            iterations (the authors' ssm runs: 100); inner: E-step rounds per iteration; stickiness: κ, the
            Dirichlet prior weight on staying (ssm's default 100, with α = 1 elsewhere); seed: initialisation
            (k-means).
    """

    transitions: AbstractTransitions = Sticky()
    latent: int = 2
    iterations: int = 100
    inner: int = 1
    stickiness: float = 100.0
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.transitions, AbstractTransitions):
            raise ConfigError(f"transitions must be Sticky() or RecurrentOnly(), got {self.transitions!r}")
        if min(self.latent, self.iterations, self.inner) <= 0 or self.stickiness < 0:
            raise ConfigError(f"SLDS sizes and iterations must be positive, got {self}")


def _second_moments(q_mean, q_cov):
    return q_cov + q_mean[:, :, None] * q_mean[:, None, :]


def x_step(model: SLDS, y: Float[Array, "time obs"], probs: Float[Array, "time modes"]):
    """The Gaussian chain ``q(x)`` given the state marginals."""
    t, d = y.shape[0], model.initial_mean.shape[0]
    precision = 1.0 / model.dynamics_variance  # (K, D)
    w = probs[1:]  # (T-1, K)
    p_mix = jnp.einsum("tk,kd->td", w, precision)  # diagonal of Σ_k w P_k
    a_p_a = jnp.einsum("tk,kei,ke,kej->tij", w, model.dynamics, precision, model.dynamics)
    a_p = jnp.einsum("tk,kei,ke->tie", w, model.dynamics, precision)  # Σ_k w A_kᵀ P_k
    obs_precision = model.emission.T @ (model.emission / model.emission_variance[:, None])
    diagonal = jnp.broadcast_to(obs_precision, (t, d, d))
    diagonal = diagonal.at[0].add(jnp.diag(1.0 / model.initial_variance))
    diagonal = diagonal.at[1:].add(jax.vmap(jnp.diag)(p_mix))
    diagonal = diagonal.at[:-1].add(a_p_a)
    upper = -a_p
    linear = ((y - model.emission_bias) / model.emission_variance) @ model.emission
    linear = linear.at[0].add(model.initial_mean / model.initial_variance)
    linear = linear.at[1:].add(jnp.einsum("tk,kd,kd->td", w, precision, model.offsets))
    linear = linear.at[:-1].add(-jnp.einsum("tk,kei,ke,ke->ti", w, model.dynamics, precision, model.offsets))
    return chain_posterior(diagonal, upper, linear)


def _dynamics_log_likelihoods(
    model: SLDS,
    mean: Float[Array, "time latent"],
    cov: Float[Array, "time latent latent"],
    cross: Float[Array, "time-1 latent latent"],
) -> Float[Array, "time-1 modes"]:
    """``E_q[log N(x_t; A_k x_{t−1} + b_k, diag σ²_k)]`` for t ≥ 1."""
    residual = mean[1:, None, :] - jnp.einsum("kij,tj->tki", model.dynamics, mean[:-1]) - model.offsets  # (T-1,K,D)
    a_cov_a = jnp.einsum("kij,tjl,kil->tki", model.dynamics, cov[:-1], model.dynamics)
    a_cross = jnp.einsum("kij,tji->tki", model.dynamics, cross)  # diag of A Cov(x_{t−1}, x_t)
    expected = residual**2 + jnp.diagonal(cov[1:], axis1=1, axis2=2)[:, None, :] + a_cov_a - 2 * a_cross
    return -0.5 * jnp.sum(jnp.log(2 * jnp.pi * model.dynamics_variance) + expected / model.dynamics_variance, axis=-1)


def z_step(
    model: SLDS,
    mean: Float[Array, "time latent"],
    cov: Float[Array, "time latent latent"],
    cross: Float[Array, "time-1 latent latent"],
) -> tuple[Float[Array, "time modes"], Float[Array, "modes modes"]]:
    """The state marginals ``q(z)`` given ``q(x)`` (HMM smoothing)."""
    hmm = optional_import("dynamax.hidden_markov_model.inference", "gdm")
    log_likelihoods = jnp.concatenate(
        [jnp.zeros((1, model.states)), _dynamics_log_likelihoods(model, mean, cov, cross)]
    )
    transitions = model.transition_probs(mean[:-1])
    posterior = hmm.hmm_smoother(model.initial_probs, transitions, log_likelihoods)
    pairs = posterior.trans_probs if posterior.trans_probs.ndim == 2 else posterior.trans_probs.sum(0)
    return posterior.smoothed_probs, pairs


def e_step(model: SLDS, y: Float[Array, "time obs"], probs: Float[Array, "time modes"], rounds: int) -> Posterior:
    """``rounds`` alternations of :func:`x_step` and :func:`z_step`, starting from the marginals ``probs``."""

    def round_(carry, _):
        probs, _pairs = carry
        mean, cov, cross = x_step(model, y, probs)
        return z_step(model, mean, cov, cross), (mean, cov, cross)

    start = (probs, jnp.zeros((model.states, model.states)))
    (probs, pairs), (means, covs, crosses) = jax.lax.scan(round_, start, None, length=rounds)
    return Posterior(probs, pairs, means[-1], covs[-1], crosses[-1])


def m_step(model: SLDS, y: Float[Array, "time obs"], q: Posterior, config: SLDSConfig) -> SLDS:
    """Closed-form updates (recurrent weights: 100 Adam steps on the expected log-likelihood)."""
    t, d = q.mean.shape
    ones = jnp.ones((t, 1))
    u = jnp.concatenate([q.mean, ones], axis=1)  # E[[x, 1]]
    xx = _second_moments(q.mean, q.cov)
    uu = jnp.zeros((t, d + 1, d + 1)).at[:, :d, :d].set(xx).at[:, :d, d].set(q.mean).at[:, d, :d].set(q.mean)
    uu = uu.at[:, d, d].set(1.0)
    # dynamics: x_t on [x_{t−1}, 1], weighted by q(z_t = k)
    cross_moment = jnp.swapaxes(q.cross, 1, 2) + q.mean[1:, :, None] * q.mean[:-1, None, :]  # E[x_t x_{t−1}ᵀ]
    xu = jnp.concatenate([cross_moment, q.mean[1:, :, None]], axis=2)  # E[x_t [x_{t−1}, 1]ᵀ]
    w = q.probs[1:]
    coef = weighted_regression(w, xu, uu[:-1])  # (K, D, D+1)
    # E[(x_t − W u)²] diagonal = E[x x] − 2 W E[u x] + W E[u u] Wᵀ, per state
    resid = (jnp.einsum("tk,tii->ki", w, xx[1:]) - 2 * jnp.einsum("kij,tk,tij->ki", coef, w, xu)
             + jnp.einsum("kij,tk,tjl,kil->ki", coef, w, uu[:-1], coef))  # fmt: skip
    variance = jnp.maximum(resid / (w.sum(0)[:, None] + 1e-8), 1e-4)
    # emissions: y_t on [x_t, 1]
    yu = y[:, :, None] * u[:, None, :]
    emission = weighted_regression(ones, yu, uu)[0]
    prediction_sq = jnp.einsum("ni,tij,nj->tn", emission, uu, emission)
    emission_variance = jnp.maximum(jnp.mean(y**2 - 2 * y * (u @ emission.T) + prediction_sq, axis=0), 1e-6)
    updates = {
        "initial_probs": initial_state_probs(q.probs[0]),
        "dynamics": coef[:, :, :d],
        "offsets": coef[:, :, d],
        "dynamics_variance": variance,
        "initial_mean": q.mean[0],
        "initial_variance": jnp.maximum(jnp.diagonal(q.cov[0]), 1e-4),
        "emission": emission[:, :d],
        "emission_bias": emission[:, d],
        "emission_variance": emission_variance,
    }
    updates.update(model.transitions.m_step(model, q, config.stickiness))
    names = tuple(updates)
    return eqx.tree_at(lambda m: tuple(getattr(m, n) for n in names), model, tuple(updates[n] for n in names))


def _fit_recurrent(model: SLDS, q: Posterior, steps: int = 100):
    """Maximise ``Σ_t Σ_k q(z_t = k) log softmax(R E[x_{t−1}] + r)_k`` (plus a small ridge) by Adam."""
    optimizer = adamw(0.05)  # Adam: no decay
    params = (model.recurrent_weight, model.recurrent_bias)

    def loss(p, _):
        logits = q.mean[:-1] @ p[0].T + p[1]
        return -jnp.mean(jnp.sum(q.probs[1:] * jax.nn.log_softmax(logits), axis=-1)) + 1e-4 * jnp.sum(p[0] ** 2)

    params, _, _ = scan_steps(loss, optimizer, params, optimizer.init(params), None, length=steps)
    return params


def _initialize(y: np.ndarray, states: int, config: SLDSConfig) -> tuple[SLDS, Posterior]:
    """PCA for the emissions and latents, k-means on (position, velocity) of the latents for the states, then one
    M-step from those hard assignments."""
    d = config.latent
    centre = y.mean(0)
    _, _, vt = np.linalg.svd(y - centre, full_matrices=False)
    x = (y - centre) @ vt[:d].T
    probs, pairs = kmeans_states(x, states, config.seed)
    t = y.shape[0]
    q = Posterior(jnp.asarray(probs, jnp.float32), jnp.asarray(pairs, jnp.float32), jnp.asarray(x, jnp.float32),
                  jnp.broadcast_to(1e-4 * jnp.eye(d), (t, d, d)), jnp.zeros((t - 1, d, d)))  # fmt: skip
    n = y.shape[1]
    template = SLDS(
        initial_probs=jnp.full(states, 1.0 / states),
        transition_matrix=jnp.full((states, states), 1.0 / states),
        recurrent_weight=jnp.zeros((states, d)),
        recurrent_bias=jnp.zeros(states),
        dynamics=jnp.broadcast_to(jnp.eye(d), (states, d, d)),
        offsets=jnp.zeros((states, d)),
        dynamics_variance=jnp.ones((states, d)),
        initial_mean=jnp.zeros(d),
        initial_variance=jnp.ones(d),
        emission=jnp.asarray(vt[:d].T, jnp.float32),
        emission_bias=jnp.asarray(centre, jnp.float32),
        emission_variance=jnp.ones(n),
        transitions=config.transitions,
    )
    return m_step(template, jnp.asarray(y), q, config), q


def fit_slds(y: Float[ArrayLike, "time obs"], states: int, config: SLDSConfig = SLDSConfig()) -> tuple[SLDS, Posterior]:
    """Fit an SLDS / rSLDS to one sequence ``(time, N)`` by variational EM.

    Returns:
        The parameters and the training sequence's posterior.
    """
    check_states(states)
    y = check_observations(y)
    if config.latent > y.shape[1]:
        raise ConfigError(f"latent dimension {config.latent} exceeds the {y.shape[1]} observed")
    model, q = _initialize(y, states, config)
    data = jnp.asarray(y)
    probs = q.probs
    step = dataclasses.replace(config, iterations=1, seed=0)  # only what shapes one iteration: one compilation
    for iteration in range(config.iterations):
        new_model, new_probs = _em_iteration(model, data, probs, step)
        if not all_finite((new_model, new_probs)):
            raise DivergenceError(f"SLDS EM became non-finite at iteration {iteration}", state=model)
        model, probs = new_model, new_probs
    return model, eqx.filter_jit(e_step)(model, data, probs, config.inner)


@eqx.filter_jit
def _em_iteration(model: SLDS, data: Float[Array, "time obs"], probs: Float[Array, "time modes"], config: SLDSConfig):
    # module level, so that fits with different seeds and lengths reuse one compilation
    q = e_step(model, data, probs, config.inner)
    return m_step(model, data, q, config), q.probs


def infer(model: SLDS, y: Float[ArrayLike, "time obs"], rounds: int = 20) -> Posterior:
    """The posterior of a new sequence under fixed parameters: ``rounds`` E-step alternations from uniform states
    (the authors' ``approximate_posterior``: 20)."""
    y = jnp.asarray(check_observations(y, model.emission.shape[0]))
    start = jnp.full((y.shape[0], model.states), 1.0 / model.states)
    return eqx.filter_jit(e_step)(model, y, start, rounds)


def one_step_prediction(model: SLDS, q: Posterior) -> Float[Array, "time obs"]:
    """``C Σ_k q(z_t = k)(A_k E[x_{t−1}] + b_k) + d`` (the first step: ``C E[x_0] + d``)."""
    nxt = jnp.einsum("tk,kij,tj->ti", q.probs[1:], model.dynamics, q.mean[:-1]) + q.probs[1:] @ model.offsets
    x = jnp.concatenate([q.mean[:1], nxt])
    return x @ model.emission.T + model.emission_bias


def smooth(model: SLDS, q: Posterior) -> Float[Array, "time obs"]:
    """``C E[x_t] + d`` (ssm's ``smooth``: it has seen y_t)."""
    return q.mean @ model.emission.T + model.emission_bias


def forecast(model: SLDS, q: Posterior, steps: int) -> Float[Array, "forecast obs"]:
    """``steps``-ahead predictions of ``y[steps:]``: from ``E[x_t]`` and the most likely state, the most likely next
    state is taken at each step (greedy, as the authors' ``slds_k_step_ahead``)."""

    def rows(x, z):
        return model.transitions.next_row(model, x, z)

    x = greedy_forecast(model.dynamics, model.offsets, rows, q.mean, q.probs, steps)
    return x @ model.emission.T + model.emission_bias
