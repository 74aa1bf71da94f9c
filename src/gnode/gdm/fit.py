"""Training a GDM by Gumbel-softmax black-box variational inference (lrrnn_gdm.md §B.3).

The objective, maximised:

    ELBO = (1/M) Σ_m [log p(z⁽ᵐ⁾ | y) + log p(y | z⁽ᵐ⁾) − log q(z⁽ᵐ⁾ | y)] + H(z̄),   z⁽ᵐ⁾ ∼ q (reparameterised),

where ``H(z̄)`` is the entropy of the states' mean usage (it keeps every state in use). By default the bracket is
averaged over time rather than summed, which weighs the entropy T times more. AdamW with gradient clipping;
the learning rate is constant for ``warmup`` iterations, falls linearly to ``final_fraction`` of itself over the next
2·``warmup``, then holds. Training stops when the ELBO's mean change per iteration over the last ``window``
iterations falls below ``tolerance`` (checked every ``window`` iterations), or at ``max_iterations``.
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
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError, DivergenceError
from gnode.gdm.data import check_observations
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
            known generative model); time_average: the ELBO's first term averaged over time (default), or summed; the
            stopping rule reads the same units. Which the authors used is not known (docs/choices.md); the average
            scored better on both NASCAR variants (docs/results.md).
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

    def __post_init__(self):
        unknown = sorted(set(self.frozen) - set(GDM_PARAMETERS))
        if unknown:
            raise ConfigError(f"unknown GDM parameters {unknown} to freeze; choose from {list(GDM_PARAMETERS)}")
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
    """The objective above for one sequence, averaged over ``samples`` posterior draws; its first term summed over
    time, or averaged over time if ``time_average`` (which weighs the usage entropy T times more)."""
    z = posterior.sample(key, y, model.tau, samples)
    log_joint = jax.vmap(lambda s: model.log_prior(s, y) + model.log_likelihood(y, s))(z)
    usage = jnp.mean(z, axis=(0, 1))
    fit = jnp.mean(log_joint - posterior.log_prob(z, y, model.tau)) / (y.shape[0] if time_average else 1)
    return fit - jnp.sum(usage * jnp.log(usage))


def _trainable(model: GDM, posterior: AbstractPosterior, frozen: tuple[str, ...]):
    spec = jax.tree_util.tree_map(eqx.is_array, (model, posterior))
    fixed = set(frozen) | (set() if model.train_projection else {"projection"})  # also spared by the weight decay
    for name in fixed:
        spec = eqx.tree_at(lambda s, name=name: getattr(s[0], name), spec, False)
    return spec


def fit_gdm(
    y: Float[ArrayLike, "time obs"],
    model: GDM,
    posterior: AbstractPosterior,
    config: GDMFitConfig = GDMFitConfig(),
    *,
    optimizer: optax.GradientTransformation | None = None,
) -> tuple[GDM, AbstractPosterior, dict[str, Any]]:
    """Maximise the ELBO of one sequence.

    Arguments:
        y: observations ``(time, N)``.
        model, posterior: the initial generative model and posterior.
        config: the settings.
        optimizer: any optax transformation (default ``config.optimizer()``, the authors' clipped, scheduled AdamW).
    Returns:
        The trained model and posterior, and the history: ``elbo`` per iteration, ``iterations``, ``stopped_early``.
    Raises:
        DataError: bad observations. DivergenceError: the ELBO became non-finite (the message names the iteration;
            ``state`` holds the (model, posterior) at the start of the last window whose ELBO was finite).
    """
    data = jnp.asarray(check_observations(y, model.observations))
    params, static = eqx.partition((model, posterior), _trainable(model, posterior, config.frozen))
    optimizer = config.optimizer() if optimizer is None else optimizer

    @eqx.filter_jit
    def chunk(params, opt_state, key):
        loss = lambda p, k: -elbo(*eqx.combine(p, static), data, k, config.samples, config.time_average)  # noqa: E731
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
