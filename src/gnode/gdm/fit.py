"""Training a GDM by Gumbel-softmax black-box variational inference (lrrnn_gdm.md §B.3).

The objective, maximised:

    ELBO = (1/M) Σ_m [log p(z⁽ᵐ⁾ | y) + log p(y | z⁽ᵐ⁾) − log q(z⁽ᵐ⁾ | y)] + H(z̄),   z⁽ᵐ⁾ ∼ q (reparameterised),

where ``H(z̄)`` is the entropy of the states' mean usage (it keeps every state in use). The authors' code sums the
bracket over time; gnode by default averages it over time (a documented choice, docs/choices.md), which weighs the
entropy T times more. Many trials: the bracket is summed over each trial's real steps (padding masked), then
averaged over the trials (summed objective) or divided by all real steps (averaged objective).

AdamW with gradient clipping; the learning rate is constant for ``warmup`` iterations, falls linearly to
``final_fraction`` of itself over the next 2·``warmup``, then holds. Training stops when the ELBO's mean change per
iteration over the last ``window`` iterations falls below ``tolerance`` (checked every ``window`` iterations), or at
``max_iterations``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, PRNGKeyArray

from gnode.compilation import jit
from gnode.errors import ConfigError, DivergenceError
from gnode.gdm.concrete import concrete_log_prob, concrete_sample
from gnode.gdm.data import SwitchingData, check_observations, switching_data
from gnode.gdm.em import real_steps
from gnode.gdm.model import GDM, GDM_PARAMETERS
from gnode.gdm.posterior import AbstractPosterior
from gnode.train.optim import adamw
from gnode.train.step import scan_steps


@dataclasses.dataclass(frozen=True)
class GDMFitConfig:
    """Settings of :func:`fit_gdm` (defaults: the authors', §B.3).

    Attributes:
        samples: M, posterior samples per iteration; lr, weight_decay: AdamW; clip_norm: global gradient-norm clip;
            warmup, final_fraction: the learning-rate schedule; max_iterations; window, tolerance: the stopping rule
            (``max_iterations`` must be a multiple of ``window``); seed: the Monte Carlo draws; frozen: names of GDM
            parameters held at their initial values (e.g. all of :data:`GDM_PARAMETERS` fits only the posterior to a
            known generative model); time_average: the ELBO's first term averaged over time (default, gnode's
            choice), or summed over time as the authors' code does; the stopping rule reads the same units. The
            average scored better on both NASCAR variants (docs/results.md). batch: trials per iteration, drawn
            anew each iteration without replacement (None: all; the authors' batched runs: 35, RNN variant 14).
    """

    samples: int = 10
    lr: float = 1e-2
    weight_decay: float = 1e-4
    clip_norm: float = 1.0
    warmup: int = 200
    final_fraction: float = 0.1
    max_iterations: int = 4000
    window: int = 100
    tolerance: float = 1e-4
    seed: int = 0
    frozen: tuple[str, ...] = ()
    time_average: bool = True
    batch: int | None = None

    def __post_init__(self):
        unknown = sorted(set(self.frozen) - set(GDM_PARAMETERS))
        if unknown:
            raise ConfigError(f"unknown GDM parameters {unknown} to freeze; choose from {list(GDM_PARAMETERS)}")
        if self.batch is not None and (not isinstance(self.batch, int) or self.batch <= 0):
            raise ConfigError(f"batch must be a positive number of trials (or None: all), got {self.batch!r}")
        if min(self.samples, self.warmup, self.max_iterations, self.window) <= 0:
            raise ConfigError(f"samples, warmup, max_iterations and window must be positive, got {self}")
        if self.max_iterations % self.window:
            raise ConfigError(f"max_iterations {self.max_iterations} must be a multiple of window {self.window}")
        if not (self.lr > 0 and self.weight_decay >= 0 and self.clip_norm > 0 and 0 < self.final_fraction <= 1):
            raise ConfigError(f"need lr > 0, weight_decay >= 0, clip_norm > 0, final_fraction in (0, 1]: {self}")

    def optimizer(self) -> optax.GradientTransformation:
        rate = optax.join_schedules(
            [
                optax.constant_schedule(self.lr),
                optax.linear_schedule(self.lr, self.lr * self.final_fraction, 2 * self.warmup),
                optax.constant_schedule(self.lr * self.final_fraction),
            ],
            [self.warmup, 3 * self.warmup],
        )
        return adamw(rate, self.weight_decay, self.clip_norm)


def elbo(
    model: GDM,
    posterior: AbstractPosterior,
    y: Float[Array, "time obs"],
    key: PRNGKeyArray,
    samples: int,
    time_average: bool = False,
) -> Float[Array, ""]:
    """The objective above for one sequence without inputs (:func:`batch_elbo` of one trial)."""
    return batch_elbo(model, posterior, y[None], jnp.zeros((1, y.shape[0], 0)), None, key, samples, time_average)


def batch_elbo(
    model: GDM,
    posterior: AbstractPosterior,
    y: Float[Array, "trials time obs"],
    u: Float[Array, "trials time inp"],
    lengths: Int[Array, " trials"] | None,
    key: PRNGKeyArray,
    samples: int,
    time_average: bool = False,
) -> Float[Array, ""]:
    """The objective above for trials padded at the end, averaged over ``samples`` posterior draws per trial.

    Its first term is summed over each trial's real steps, then averaged over trials (the authors' objective), or,
    if ``time_average``, divided by the number of real steps (which weighs the usage entropy once against a per-step
    fit). The usage ``z̄`` is the mean of every real step's sampled state. One trial reduces both to the
    single-sequence objective.

    Arguments:
        y, u: observations and inputs ``(trials, time, ·)`` (the posterior reads both, inputs last).
        lengths: each trial's real steps (None: all).
    """
    terms, z, real = elbo_terms(model, posterior, y, u, lengths, key, samples)
    fit = jnp.sum(terms * real) / (jnp.sum(real) if time_average else y.shape[0])
    usage = jnp.sum(z * real[:, None, :, None], axis=(0, 1, 2)) / (samples * jnp.sum(real))
    return fit - jnp.sum(usage * jnp.log(usage))


def elbo_terms(
    model: GDM,
    posterior: AbstractPosterior,
    y: Float[Array, "trials time obs"],
    u: Float[Array, "trials time inp"],
    lengths: Int[Array, " trials"] | None,
    key: PRNGKeyArray,
    samples: int,
) -> tuple[Float[Array, "trials time"], Float[Array, "trials samples time modes"], Float[Array, "trials time"]]:
    """Each step's ``log p(z_t | ·) + log p(y_t | ·) − log q(z_t | y)``, averaged over ``samples`` posterior draws;
    the draws; and 1 on the real steps (0 on padding)."""
    trials, steps = y.shape[:2]
    lengths = jnp.full(trials, steps) if lengths is None else lengths
    features = jnp.concatenate([y, u], axis=-1)
    logits = jax.vmap(posterior.logits)(features, lengths)
    # one draw for all trials: the same numbers as a single trial's draw when there is one
    z = concrete_sample(key, jnp.broadcast_to(logits[:, None], (trials, samples, steps, model.states)), model.tau)
    real = real_steps(steps, lengths)

    def trial_terms(y_i, u_i, z_i, logits_i):
        return jax.vmap(lambda s: model.log_prior(s, y_i, u_i))(z_i) - concrete_log_prob(z_i, logits_i, model.tau)

    # the likelihood takes every trial and sample at once: one matrix product (GDM.reconstruct)
    likelihood = model.log_likelihood(y[:, None], z, u[:, None])
    terms = jax.vmap(trial_terms)(y, u, z, logits) + likelihood  # (trials, samples, time)
    return jnp.mean(terms, axis=1), z, real


def _trainable(model: GDM, posterior: AbstractPosterior, frozen: tuple[str, ...]):
    spec = jax.tree_util.tree_map(eqx.is_array, (model, posterior))
    fixed = set(frozen) | (set() if model.train_projection else {"projection"})  # also spared by the weight decay
    for name in fixed:
        spec = eqx.tree_at(lambda s, name=name: getattr(s[0], name), spec, False)
    return spec


def fit_gdm(
    y: Float[ArrayLike, "time obs"] | SwitchingData,
    model: GDM,
    posterior: AbstractPosterior,
    config: GDMFitConfig = GDMFitConfig(),
    *,
    optimizer: optax.GradientTransformation | None = None,
) -> tuple[GDM, AbstractPosterior, dict[str, Any]]:
    """Maximise the ELBO of one sequence or of many trials.

    Arguments:
        y: observations ``(time, N)``, or trials (:func:`~gnode.gdm.data.switching_data`: lengths, inputs).
        model, posterior: the initial generative model and posterior (which reads ``N + U`` features).
        config: the settings (``batch``: trials per iteration).
        optimizer: any optax transformation (default ``config.optimizer()``, the authors' clipped, scheduled AdamW).
    Returns:
        The trained model and posterior, and the history: ``elbo`` per iteration, ``iterations``, ``stopped_early``.
    Raises:
        DataError: bad observations. DivergenceError: the ELBO became non-finite (the message names the iteration;
            ``state`` holds the (model, posterior) at the start of the last window whose ELBO was finite).
    """
    data = switching_data(check_observations(y, model.observations)) if not isinstance(y, SwitchingData) else y
    data.check_model(model.observations, model.inputs)
    ys, us, lengths = (jnp.asarray(a) for a in (data.observations, data.inputs, data.lengths))
    batch = data.num_trials if config.batch is None else min(config.batch, data.num_trials)
    whole = batch == data.num_trials
    params, static = eqx.partition((model, posterior), _trainable(model, posterior, config.frozen))
    optimizer = config.optimizer() if optimizer is None else optimizer

    def loss(p, key):
        if whole:  # the single-sequence draws are kept exactly
            picked = (ys, us, lengths)
        else:
            index = jr.permutation(jr.fold_in(key, 1), data.num_trials)[:batch]
            picked = (ys[index], us[index], lengths[index])
        return -batch_elbo(*eqx.combine(p, static), *picked, key, config.samples, config.time_average)

    @jit
    def chunk(params, opt_state, key):
        params, opt_state, losses = scan_steps(loss, optimizer, params, opt_state, jr.split(key, config.window))
        return (params, opt_state), -losses

    opt_state = optimizer.init(params)
    verified = params
    history: list[float] = []
    stopped = False
    for start in range(0, config.max_iterations, config.window):
        (new_params, new_state), values = chunk(params, opt_state, jr.fold_in(jr.key(config.seed), start))
        values = np.asarray(values)
        if not np.isfinite(values).all():
            bad = start + int(np.argmax(~np.isfinite(values)))
            # a value is that of the parameters its step starts from: the last finite window began good
            raise DivergenceError(
                f"the GDM ELBO became non-finite at iteration {bad}", state=eqx.combine(verified, static)
            )
        verified, params, opt_state = params, new_params, new_state
        history.extend(values.tolist())
        if (
            len(history) > config.window
            and (history[-1] - history[-1 - config.window]) / config.window < config.tolerance
        ):
            stopped = True
            break
    model, posterior = eqx.combine(params, static)
    return model, posterior, {"elbo": history, "iterations": len(history), "stopped_early": stopped}
