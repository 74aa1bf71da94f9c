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

from gnode.compilation import jit
from gnode.errors import ConfigError, DivergenceError
from gnode.gdm.chain import chain_posterior
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
    def m_step(
        self, model: SLDS, q: Posterior, real: Float[Array, "trials time"], stickiness: float
    ) -> dict[str, Array]:
        """The updated transition parameters, by name, from the posteriors of trials (``real``: 1 on real steps)."""


class Sticky(AbstractTransitions):
    """A Markov chain ``z_t ∼ P[z_{t−1}]`` with a Dirichlet prior that favours staying (the SLDS)."""

    def probs(
        self, model: SLDS, x_prev: Float[Array, "pairs latent"]
    ) -> Float[Array, "pairs modes modes"] | Float[Array, "modes modes"]:
        return model.transition_matrix

    def next_row(self, model: SLDS, x: Float[Array, " latent"], z: Int[Array, ""]) -> Float[Array, " modes"]:
        return model.transition_matrix[z]

    def m_step(
        self, model: SLDS, q: Posterior, real: Float[Array, "trials time"], stickiness: float
    ) -> dict[str, Array]:
        return {"transition_matrix": sticky_transitions(q.pair_counts.sum(0), stickiness)}


class RecurrentOnly(AbstractTransitions):
    """``z_t ∼ softmax(R x_{t−1} + r)``, whatever ``z_{t−1}`` was (the recurrent-only rSLDS)."""

    def probs(
        self, model: SLDS, x_prev: Float[Array, "pairs latent"]
    ) -> Float[Array, "pairs modes modes"] | Float[Array, "modes modes"]:
        rows = jax.nn.softmax(x_prev @ model.recurrent_weight.T + model.recurrent_bias, axis=-1)
        return jnp.broadcast_to(rows[:, None, :], (rows.shape[0], model.states, model.states))

    def next_row(self, model: SLDS, x: Float[Array, " latent"], z: Int[Array, ""]) -> Float[Array, " modes"]:
        return jax.nn.softmax(model.recurrent_weight @ x + model.recurrent_bias)

    def m_step(
        self, model: SLDS, q: Posterior, real: Float[Array, "trials time"], stickiness: float
    ) -> dict[str, Array]:
        weight, bias = _fit_recurrent(model, q, real)
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
    """``q(z)``: marginals ``(T, K)``, expected transitions and its HMM's log normaliser; ``q(x)``: means,
    covariances, lag-one covariances and ``log det`` of its precision. Trials: a leading trials axis on each."""

    probs: Float[Array, "*trials time modes"]
    pair_counts: Float[Array, "*trials modes modes"]
    mean: Float[Array, "*trials time latent"]
    cov: Float[Array, "*trials time latent latent"]
    cross: Float[Array, "*trials pairs latent latent"]
    log_det: Float[Array, "*trials"]
    normaliser: Float[Array, "*trials"]


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
    return q_cov + q_mean[..., :, None] * q_mean[..., None, :]


def x_step(
    model: SLDS,
    y: Float[Array, "time obs"],
    probs: Float[Array, "time modes"],
    length: Int[ArrayLike, ""] | None = None,
):
    """The Gaussian chain ``q(x)`` given the state marginals: ``(mean, cov, cross, log det J)``. Padded steps (from
    ``length`` on) are cut from the chain and given ``x ∼ N(0, I)``."""
    t, d = y.shape[0], model.initial_mean.shape[0]
    real = real_steps(t, length)
    precision = 1.0 / model.dynamics_variance  # (K, D)
    w = probs[1:] * real[1:, None]  # (T-1, K)
    p_mix = jnp.einsum("tk,kd->td", w, precision)  # diagonal of Σ_k w P_k
    a_p_a = jnp.einsum("tk,kei,ke,kej->tij", w, model.dynamics, precision, model.dynamics)
    a_p = jnp.einsum("tk,kei,ke->tie", w, model.dynamics, precision)  # Σ_k w A_kᵀ P_k
    obs_precision = model.emission.T @ (model.emission / model.emission_variance[:, None])
    diagonal = real[:, None, None] * obs_precision + (1 - real)[:, None, None] * jnp.eye(d)
    diagonal = diagonal.at[0].add(jnp.diag(1.0 / model.initial_variance))
    diagonal = diagonal.at[1:].add(jax.vmap(jnp.diag)(p_mix))
    diagonal = diagonal.at[:-1].add(a_p_a)
    upper = -a_p
    linear = real[:, None] * (((y - model.emission_bias) / model.emission_variance) @ model.emission)
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
    length: Int[ArrayLike, ""] | None = None,
) -> tuple[Float[Array, "time modes"], Float[Array, "modes modes"], Float[Array, ""]]:
    """The state marginals ``q(z)`` given ``q(x)`` (HMM smoothing), the expected transition counts and the log
    normaliser ``log Σ_z p(z) exp E_q(x)[log p(x | z)]``."""
    log_likelihoods = jnp.concatenate(
        [jnp.zeros((1, model.states)), _dynamics_log_likelihoods(model, mean, cov, cross)]
    )
    return smooth_states(model.initial_probs, model.transition_probs(mean[:-1]), log_likelihoods, length)


def e_step(
    model: SLDS,
    y: Float[Array, "time obs"],
    probs: Float[Array, "time modes"],
    rounds: int,
    length: Int[ArrayLike, ""] | None = None,
) -> Posterior:
    """``rounds`` alternations of :func:`x_step` and :func:`z_step` for one sequence, from the marginals ``probs``."""

    def round_(carry, _):
        probs, _pairs, _normaliser = carry
        mean, cov, cross, log_det = x_step(model, y, probs, length)
        return z_step(model, mean, cov, cross, length), (mean, cov, cross, log_det)

    start = (probs, jnp.zeros((model.states, model.states)), jnp.zeros(()))
    (probs, pairs, normaliser), (means, covs, crosses, log_dets) = jax.lax.scan(round_, start, None, length=rounds)
    return Posterior(probs, pairs, means[-1], covs[-1], crosses[-1], log_dets[-1], normaliser)


def slds_elbo(model: SLDS, y: Float[Array, "time obs"], q: Posterior, length: Int[ArrayLike, ""] | None = None):
    """The evidence lower bound of one sequence (real steps only) under the structured mean field ``q(z) q(x)``
    that :func:`e_step` returns (its ``q(z)`` optimal for its ``q(x)``):
    ``log Σ_z p(z) exp E_q[log p(x | z)] + E_q[log p(y | x)] + E_q[log p(x_1)] + H(q(x))``.
    For the recurrent-only transitions it is the bound of the E-step's surrogate (transitions at ``E[x_{t−1}]``)."""
    t, d = q.mean.shape
    real = real_steps(t, length)
    residual = y - q.mean @ model.emission.T - model.emission_bias
    spread = jnp.einsum("ni,tij,nj->tn", model.emission, q.cov, model.emission)
    emission_terms = (residual**2 + spread) / model.emission_variance + jnp.log(2 * jnp.pi * model.emission_variance)
    emission = -0.5 * jnp.sum(emission_terms, axis=-1)
    first_terms = ((q.mean[0] - model.initial_mean) ** 2 + jnp.diagonal(q.cov[0])) / model.initial_variance
    first = -0.5 * jnp.sum(jnp.log(2 * jnp.pi * model.initial_variance) + first_terms)
    entropy = 0.5 * (jnp.sum(real) * d * jnp.log(2 * jnp.pi * jnp.e) - q.log_det)  # the padded N(0, I) cancel out
    return q.normaliser + jnp.sum(real * emission) + first + entropy


def m_step(
    model: SLDS, y: Float[Array, "trials time obs"], lengths: Int[Array, " trials"], q: Posterior, config: SLDSConfig
) -> SLDS:
    """Closed-form updates from the posteriors of trials padded at the end (recurrent weights: 100 Adam steps on the
    expected log-likelihood)."""
    trials, t, d = q.mean.shape
    real = real_steps(t, lengths)  # (trials, T)
    u = jnp.concatenate([q.mean, jnp.ones((trials, t, 1))], axis=2)  # E[[x, 1]]
    xx = _second_moments(q.mean, q.cov)
    uu = jnp.zeros((trials, t, d + 1, d + 1)).at[..., :d, :d].set(xx).at[..., :d, d].set(q.mean)
    uu = uu.at[..., d, :d].set(q.mean).at[..., d, d].set(1.0)
    # dynamics: x_t on [x_{t−1}, 1], weighted by q(z_t = k) on real steps
    cross_moment = jnp.swapaxes(q.cross, -1, -2) + q.mean[:, 1:, :, None] * q.mean[:, :-1, None, :]  # E[x_t x_{t−1}ᵀ]
    xu = jnp.concatenate([cross_moment, q.mean[:, 1:, :, None]], axis=-1).reshape(-1, d, d + 1)
    uu_prev, xx_next = uu[:, :-1].reshape(-1, d + 1, d + 1), xx[:, 1:].reshape(-1, d, d)
    w = (q.probs[:, 1:] * real[:, 1:, None]).reshape(-1, model.states)
    coef = weighted_regression(w, xu, uu_prev)  # (K, D, D+1)
    # E[(x_t − W u)²] diagonal = E[x x] − 2 W E[u x] + W E[u u] Wᵀ, per state
    resid = (jnp.einsum("tk,tii->ki", w, xx_next) - 2 * jnp.einsum("kij,tk,tij->ki", coef, w, xu)
             + jnp.einsum("kij,tk,tjl,kil->ki", coef, w, uu_prev, coef))  # fmt: skip
    variance = jnp.maximum(resid / (w.sum(0)[:, None] + 1e-8), 1e-4)
    # emissions: y_t on [x_t, 1], real steps only
    weight, flat_u, flat_uu, flat_y = (
        real.reshape(-1, 1),
        u.reshape(-1, d + 1),
        uu.reshape(-1, d + 1, d + 1),
        y.reshape(-1, y.shape[-1]),
    )
    emission = weighted_regression(weight, flat_y[:, :, None] * flat_u[:, None, :], flat_uu)[0]
    prediction_sq = jnp.einsum("ni,tij,nj->tn", emission, flat_uu, emission)
    squared = flat_y**2 - 2 * flat_y * (flat_u @ emission.T) + prediction_sq
    emission_variance = jnp.maximum(jnp.sum(weight * squared, axis=0) / jnp.sum(weight), 1e-6)
    first_mean = q.mean[:, 0].mean(0)
    first_spread = jnp.diagonal(q.cov[:, 0], axis1=-2, axis2=-1) + (q.mean[:, 0] - first_mean) ** 2
    updates = {
        "initial_probs": initial_state_probs(q.probs[:, 0].mean(0)),
        "dynamics": coef[:, :, :d],
        "offsets": coef[:, :, d],
        "dynamics_variance": variance,
        "initial_mean": first_mean,
        "initial_variance": jnp.maximum(first_spread.mean(0), 1e-4),
        "emission": emission[:, :d],
        "emission_bias": emission[:, d],
        "emission_variance": emission_variance,
    }
    updates.update(model.transitions.m_step(model, q, real, config.stickiness))
    names = tuple(updates)
    return eqx.tree_at(lambda m: tuple(getattr(m, n) for n in names), model, tuple(updates[n] for n in names))


def _fit_recurrent(model: SLDS, q: Posterior, real: Float[Array, "trials time"], steps: int = 100):
    """Maximise ``Σ_t Σ_k q(z_t = k) log softmax(R E[x_{t−1}] + r)_k`` over real steps (plus a small ridge) by Adam."""
    optimizer = adamw(0.05)  # Adam: no decay
    params = (model.recurrent_weight, model.recurrent_bias)
    previous = q.mean[:, :-1].reshape(-1, q.mean.shape[-1])
    targets = (q.probs[:, 1:] * real[:, 1:, None]).reshape(-1, model.states)
    count = jnp.sum(real[:, 1:])

    def loss(p, _):
        logits = previous @ p[0].T + p[1]
        return -jnp.sum(targets * jax.nn.log_softmax(logits)) / count + 1e-4 * jnp.sum(p[0] ** 2)

    params, _, _ = scan_steps(loss, optimizer, params, optimizer.init(params), None, length=steps)
    return params


def _initialize(data: SwitchingData, states: int, config: SLDSConfig) -> tuple[SLDS, Posterior]:
    """PCA of every real step for the emissions and latents, k-means on (position, velocity) of the latents for the
    states, then one M-step from those hard assignments."""
    d = config.latent
    real = data.mask
    centre = data.observations[real].mean(0)
    _, _, vt = np.linalg.svd(data.observations[real] - centre, full_matrices=False)
    x = (data.observations - centre) @ vt[:d].T * real[..., None]
    probs, pairs = kmeans_states(x, data.lengths, states, config.seed)
    trials, t = real.shape
    pair_counts = jnp.zeros((trials, states, states)).at[0].set(jnp.asarray(pairs, jnp.float32))  # all counted once
    q = Posterior(jnp.asarray(probs, jnp.float32), pair_counts, jnp.asarray(x, jnp.float32),
                  jnp.broadcast_to(1e-4 * jnp.eye(d), (trials, t, d, d)), jnp.zeros((trials, t - 1, d, d)),
                  jnp.zeros(trials), jnp.zeros(trials))  # fmt: skip
    n = data.observations.shape[2]
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
    return m_step(template, jnp.asarray(data.observations), jnp.asarray(data.lengths), q, config), q


def _trials(y: Float[ArrayLike, "time obs"] | SwitchingData, observations: int | None = None) -> SwitchingData:
    data = y if isinstance(y, SwitchingData) else switching_data(check_observations(y, observations))
    if observations is not None:
        data.check_model(observations, 0)
    return data


def _squeeze(q: Posterior) -> Posterior:
    return jax.tree_util.tree_map(lambda a: a[0], q)


def fit_slds(
    y: Float[ArrayLike, "time obs"] | SwitchingData, states: int, config: SLDSConfig = SLDSConfig()
) -> tuple[SLDS, Posterior]:
    """Fit an SLDS / rSLDS by variational EM to one sequence ``(time, N)`` or to trials
    (:func:`~gnode.gdm.data.switching_data`; their inputs are not used).

    Returns:
        The parameters and the training posterior (of the sequence, or with a leading trials axis for trials).
    """
    check_states(states)
    data = _trials(y)
    if config.latent > data.observations.shape[2]:
        raise ConfigError(f"latent dimension {config.latent} exceeds the {data.observations.shape[2]} observed")
    model, q = _initialize(data, states, config)
    ys, lengths = jnp.asarray(data.observations), jnp.asarray(data.lengths)
    probs = q.probs
    step = dataclasses.replace(config, iterations=1, seed=0)  # only what shapes one iteration: one compilation
    for iteration in range(config.iterations):
        new_model, new_probs = _em_iteration(model, ys, lengths, probs, step)
        if not all_finite((new_model, new_probs)):
            raise DivergenceError(f"SLDS EM became non-finite at iteration {iteration}", state=model)
        model, probs = new_model, new_probs
    q = _e_steps(model, ys, lengths, probs, config.inner)
    return model, (q if isinstance(y, SwitchingData) else _squeeze(q))


@jit
def _e_steps(model: SLDS, ys, lengths, probs, rounds: int) -> Posterior:
    return jax.vmap(lambda y, p, n: e_step(model, y, p, rounds, n))(ys, probs, lengths)


@jit
def _em_iteration(model: SLDS, ys, lengths, probs, config: SLDSConfig):
    # module level, so that fits with different seeds and lengths reuse one compilation
    q = jax.vmap(lambda y, p, n: e_step(model, y, p, config.inner, n))(ys, probs, lengths)
    return m_step(model, ys, lengths, q, config), q.probs


def infer(model: SLDS, y: Float[ArrayLike, "time obs"] | SwitchingData, rounds: int = 20) -> Posterior:
    """The posterior of a new sequence (or of trials: a leading trials axis) under fixed parameters: ``rounds``
    E-step alternations from uniform states (the authors' ``approximate_posterior``: 20)."""
    data = _trials(y, model.emission.shape[0])
    ys, lengths = jnp.asarray(data.observations), jnp.asarray(data.lengths)
    start = jnp.full((*ys.shape[:2], model.states), 1.0 / model.states)
    q = _e_steps(model, ys, lengths, start, rounds)
    return q if isinstance(y, SwitchingData) else _squeeze(q)


def slds_log_evidence(model: SLDS, data: SwitchingData, rounds: int = 20) -> float:
    """``Σ_trials ELBO`` of trials under fixed parameters (:func:`slds_elbo` after :func:`infer`)."""
    q = infer(model, data, rounds)
    ys, lengths = jnp.asarray(data.observations), jnp.asarray(data.lengths)
    bound = jit(lambda m, y, q, n: jax.vmap(lambda *a: slds_elbo(m, *a))(y, q, n).sum())
    return float(bound(model, ys, q, lengths))


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
