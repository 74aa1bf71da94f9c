"""Connector: a distribution over the loadings of a low-rank RNN, learned in two stages (lrrnn_gdm.md §A.3).

1. An m-flow learns p(m) from the per-neuron input loadings m_i (conditional flow matching on the rows of M).
2. A conditional n-flow learns n given m. Its targets are made anew each iteration: draw S loadings from the frozen
   m-flow, solve the ridge regression (A3) of the latent steps on their rates, and regress the flow on those
   identifiable loadings. Sampling adds ``σ ε`` to the flow's n — the maximum-entropy completion of the part the
   dynamics leave free (σ is a parameter: Connector uses 1 to compare flow fields, 0 for distances).
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.linalg as jsl
import numpy as np
import optax
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, PRNGKeyArray

from gnode.connector.flows import VelocityField, cfm_loss, transport
from gnode.connector.lowrank import LowRankRNN
from gnode.errors import ConfigError, DataError, DivergenceError
from gnode.train.optim import adamw
from gnode.train.step import gradient_step, scan_steps


class AbstractSchedule(eqx.Module):
    """A stage's learning rate, from the base rate ``lr`` and the stage's number of updates."""

    @abc.abstractmethod
    def __call__(self, lr: float, steps: int) -> optax.ScalarOrSchedule: ...


class ConstantRate(AbstractSchedule):
    """``lr`` throughout (the authors')."""

    def __call__(self, lr: float, steps: int) -> optax.ScalarOrSchedule:
        return lr


class CosineDecay(AbstractSchedule):
    """A cosine decay from ``lr`` to zero over the stage."""

    def __call__(self, lr: float, steps: int) -> optax.ScalarOrSchedule:
        return optax.cosine_decay_schedule(lr, steps)


SCHEDULES = {"constant": ConstantRate, "cosine": CosineDecay}  # names for the CLI


class Connector(eqx.Module):
    """The two flows. ``m_flow`` on R-dimensional m; ``n_flow`` on n given m; ``scale`` multiplies the n-flow."""

    m_flow: VelocityField
    n_flow: VelocityField
    scale: float = eqx.field(static=True, default=1.0)
    steps: int = eqx.field(static=True, default=20)

    @property
    def rank(self) -> int:
        return self.n_flow.dim

    @property
    def inputs(self) -> int:
        """The numbers the m-flow draws per neuron past the R loadings: input weights b_i and a bias d_i if the
        network has them (``[m_i, b_i, d_i]``; :meth:`network` splits them)."""
        return self.m_flow.dim - self.n_flow.dim

    def sample_m(self, key: PRNGKeyArray, count: int) -> Float[Array, "neurons loading"]:
        return transport(self.m_flow, jr.normal(key, (count, self.m_flow.dim)), steps=self.steps)

    def sample_n(
        self, key: PRNGKeyArray, m: Float[Array, "neurons loading"], sigma: float = 0.0
    ) -> Float[Array, "neurons rank"]:
        """n given m: the flow's conditional mean estimate, plus ``sigma`` times standard normal noise."""
        k0, k1 = jr.split(key)
        mean = transport(self.n_flow, jr.normal(k0, (m.shape[0], self.rank)), m, steps=self.steps) * self.scale
        return mean + sigma * jr.normal(k1, mean.shape)

    def sample(self, key: PRNGKeyArray, count: int, sigma: float = 0.0) -> tuple[Array, Array]:
        """A network of ``count`` neurons: loadings ``(m, n)``."""
        km, kn = jr.split(key)
        m = self.sample_m(km, count)
        return m, self.sample_n(kn, m, sigma)

    def network(
        self, key: PRNGKeyArray, count: int, sigma: float = 0.0, alpha: float = 0.1, bias: bool = False
    ) -> LowRankRNN:
        """A sampled network of ``count`` neurons: the m draw's columns past the rank are its input weights, and with
        ``bias`` its last column the bias d (the per-neuron vector ``[m_i, b_i, d_i]``)."""
        m, n = self.sample(key, count, sigma)
        extra = m[:, self.rank :]
        weights = extra[:, :-1] if bias else extra
        return LowRankRNN(m[:, : self.rank], n, inputs=weights if weights.shape[1] else None,
                          bias=extra[:, -1] if bias else None, alpha=alpha)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ConnectorConfig:
    """Settings of both stages (defaults: the authors' quadstable run, lrrnn_gdm.md §A.3).

    Attributes:
        width, depth: hidden layers of both velocity MLPs; m_epochs: passes over the rows of M (minibatches of
            ``batch``); n_epochs: full-batch steps of the n-flow; lr, weight_decay: AdamW; ridge: λ of (A3);
            samples: S, loadings drawn from the m-flow per n-flow step; ridge_rows: at most this many rows (trial
            steps) in each step's ridge regression (A3), drawn afresh each step (with replacement) and weighted to
            stand for all (None: every row, the authors'). The Gram matrix costs rows × S²; 4,000 of the synthetic
            sets' 23,760 rows move the targets by ≤ 1.1 % and the flow field by ≤ 0.17 %, 4× faster
            (docs/choices.md); alpha: the RNN's step; scale: the n-flow's output scale; steps: midpoint steps of the
            sampler; schedule: each stage's learning rate, :class:`ConstantRate` (the authors') or
            :class:`CosineDecay` (decaying to zero over the stage; the default — at a constant rate the final m-flow
            depends on the last minibatches: its flow field varied 6.6–10.4 % over seeds, against 4.4–7.1 % with the
            decay; docs/choices.md); seed.
    """

    width: int = 128
    depth: int = 4
    m_epochs: int = 1000
    n_epochs: int = 1000
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    ridge: float = 1e-4
    samples: int = 1000
    ridge_rows: int | None = 4000
    alpha: float = 0.1
    scale: float = 1.0
    steps: int = 20
    schedule: AbstractSchedule = dataclasses.field(default_factory=CosineDecay)
    seed: int = 0

    def __post_init__(self):
        sizes = (self.width, self.depth, self.m_epochs, self.n_epochs, self.batch, self.samples, self.steps)
        if self.ridge_rows is not None and self.ridge_rows <= 0:
            raise ConfigError(f"ridge_rows must be positive (or None: every row), got {self.ridge_rows}")
        if min(sizes) <= 0 or not (self.lr > 0 and self.ridge > 0 and 0 < self.alpha <= 1 and self.scale > 0):
            raise ConfigError(f"connector settings must be positive (alpha in (0, 1]), got {self}")
        if not isinstance(self.schedule, AbstractSchedule):
            raise ConfigError(f"schedule must be ConstantRate() or CosineDecay(), got {self.schedule!r}")

    def optimizer(self, steps: int) -> optax.GradientTransformation:
        """AdamW for a stage of ``steps`` updates, at the rate ``schedule`` gives."""
        return adamw(self.schedule(self.lr, steps), self.weight_decay)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values (the schedule by its class name)."""
        return {**dataclasses.asdict(self), "schedule": type(self.schedule).__name__}


def ridge_targets(
    latents: Float[Array, "batch time rank"],
    m: Float[Array, "count loading"],
    alpha: float,
    ridge: float,
    drive: Float[Array, "batch time inp"] | None = None,
    rows: Int[Array, " picked"] | None = None,
) -> Float[Array, "count rank"]:
    """(A3) in JAX for the latents and S (``count``) sampled loadings ``m`` (with ``drive``, the filtered inputs ũ:
    ``[m_i, b_i]``; :func:`gnode.connector.identify.ridge_loadings`).

    ``rows``: indices of the trial steps (``trial · (time − 1) + t``) to regress on, their squared errors weighted by
    ``all rows / picked`` so that the penalty λ keeps its weight against the data (None: every row)."""
    rank = latents.shape[-1]
    state = latents if drive is None else jnp.concatenate([latents, drive], axis=-1)
    k = state[:, :-1].reshape(-1, state.shape[-1])
    y = (latents[:, 1:] - (1 - alpha) * latents[:, :-1]).reshape(-1, rank)
    weight = 1.0
    if rows is not None:
        weight = k.shape[0] / rows.shape[0]
        k, y = k[rows], y[rows]
    x = jnp.tanh(k @ m.T)
    scale = alpha / m.shape[0]
    gram = weight * scale**2 * (x.T @ x) + ridge * jnp.eye(m.shape[0])
    # symmetric positive definite (λ > 0): Cholesky, half the work of LU
    return jsl.cho_solve(jsl.cho_factor(gram), weight * scale * (x.T @ y))


def _check(
    m_rows: np.ndarray, latents: np.ndarray, drive: np.ndarray | None, config: ConnectorConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    m_rows = np.asarray(m_rows, np.float32)
    latents = np.asarray(latents, np.float32)
    inputs = 0 if drive is None else np.shape(drive)[-1]
    if m_rows.ndim != 2 or latents.ndim != 3 or latents.shape[2] + inputs != m_rows.shape[1] or latents.shape[1] < 2:
        raise DataError(f"need m rows (neurons, R{' + inputs' if inputs else ''}) and latents (trials, time >= 2, R), "
                        f"got {m_rows.shape}, {latents.shape}")  # fmt: skip
    if drive is not None:
        drive = np.asarray(drive, np.float32)
        if drive.shape[:2] != latents.shape[:2] or not np.isfinite(drive).all():
            raise DataError(f"need a finite drive (trials, time, inp) like the latents, got {drive.shape}")
    if not (np.isfinite(m_rows).all() and np.isfinite(latents).all()):
        raise DataError("m rows or latents contain NaN or inf")
    if m_rows.shape[0] < config.batch:
        raise ConfigError(f"batch {config.batch} exceeds the {m_rows.shape[0]} rows of M")
    return m_rows, latents, drive


def fit_connector(
    m_rows: Float[ArrayLike, "neurons loading"],
    latents: Float[ArrayLike, "batch time rank"],
    config: ConnectorConfig = ConnectorConfig(),
    drive: Float[ArrayLike, "batch time inp"] | None = None,
) -> tuple[Connector, dict[str, Any]]:
    """Train both stages.

    Arguments:
        m_rows: the input loadings ``(neurons, R)`` (aligned to the latents' frame); with inputs, each neuron's
            loadings and input weights ``[m_i, b_i]`` ``(neurons, R + inp)``: the m-flow learns their joint law.
        latents: the training trials' latents ``(trials, time, R)``.
        config: the settings.
        drive: the training trials' filtered inputs ũ ``(trials, time, inp)`` (with inputs) or None.
    Returns:
        The trained :class:`Connector` and its history: per epoch (m-flow) and iteration (n-flow), the loss and
        the wall time (the first of each includes compilation).
    """
    m_rows, latents, drive = _check(m_rows, latents, drive, config)
    rank, loading = latents.shape[2], m_rows.shape[1]
    key = jr.key(config.seed)
    km, kn, k1, k2 = jr.split(key, 4)
    model = Connector(
        VelocityField(loading, 0, width=config.width, depth=config.depth, key=km),
        VelocityField(rank, loading, width=config.width, depth=config.depth, key=kn),
        scale=config.scale,
        steps=config.steps,
    )
    rows = jnp.asarray(m_rows)
    batches = rows.shape[0] // config.batch
    optimizer = config.optimizer(config.m_epochs * batches)

    params, static = eqx.partition(model.m_flow, eqx.is_array)

    @jax.jit
    def m_epoch(params, opt_state, key):
        order_key, loss_key = jr.split(key)
        order = jr.permutation(order_key, rows.shape[0])[: batches * config.batch].reshape(batches, config.batch)
        loss = lambda p, step: cfm_loss(eqx.combine(p, static), rows[step[0]], step[1])  # noqa: E731
        params, opt_state, losses = scan_steps(loss, optimizer, params, opt_state, (order, jr.split(loss_key, batches)))
        return params, opt_state, jnp.mean(losses)

    opt_state = optimizer.init(params)
    m_losses, m_seconds = [], []
    verified = params
    for epoch in range(config.m_epochs):
        tick = time.perf_counter()
        new_params, new_state, loss = m_epoch(params, opt_state, jr.fold_in(k1, epoch))
        if not np.isfinite(float(loss)):  # float() waits for the result, so the time is the step's
            # a loss is that of the parameters its step starts from: the last epoch with finite losses began good
            last = eqx.tree_at(lambda c: c.m_flow, model, eqx.combine(verified, static))
            raise DivergenceError(f"Connector's m-flow loss became non-finite at epoch {epoch}", state=last)
        verified, params, opt_state = params, new_params, new_state
        m_losses.append(float(loss))
        m_seconds.append(time.perf_counter() - tick)
    model = eqx.tree_at(lambda c: c.m_flow, model, eqx.combine(params, static))

    data = jnp.asarray(latents)
    filtered = None if drive is None else jnp.asarray(drive)
    optimizer = config.optimizer(config.n_epochs)

    n_params, n_static = eqx.partition(model.n_flow, eqx.is_array)

    total = data.shape[0] * (data.shape[1] - 1)
    subsample = config.ridge_rows is not None and config.ridge_rows < total  # else every row, exactly

    @eqx.filter_jit
    def n_step(model, n_params, opt_state, key):
        ks, kl = jr.split(key)
        m = jax.lax.stop_gradient(model.sample_m(ks, config.samples))
        pick = jr.fold_in(key, 1)  # a key of its own, so that ridge_rows=None keeps the authors' draws
        # rows drawn with replacement: as unbiased for the weighted sums, without choice's sort of every row (13 ms)
        rows = jr.randint(pick, (config.ridge_rows,), 0, total) if subsample else None
        targets = ridge_targets(data, m, config.alpha, config.ridge, filtered, rows) / config.scale
        loss = lambda p: cfm_loss(eqx.combine(p, n_static), targets, kl, m)  # noqa: E731
        return gradient_step(loss, optimizer, n_params, opt_state)

    opt_state = optimizer.init(n_params)
    n_losses, n_seconds = [], []
    last_good = model
    for epoch in range(config.n_epochs):
        tick = time.perf_counter()
        new_params, new_state, loss = n_step(model, n_params, opt_state, jr.fold_in(k2, epoch))
        if not np.isfinite(float(loss)):  # the loss is that of the parameters this step started from
            raise DivergenceError(f"Connector's n-flow loss became non-finite at iteration {epoch}", state=last_good)
        last_good = model
        n_params, opt_state = new_params, new_state
        model = eqx.tree_at(lambda c: c.n_flow, model, eqx.combine(n_params, n_static))
        n_losses.append(float(loss))
        n_seconds.append(time.perf_counter() - tick)
    history = {"m_loss": m_losses, "n_loss": n_losses, "m_seconds": m_seconds, "n_seconds": n_seconds}
    return model, history
