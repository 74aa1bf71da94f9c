"""LINT (Valente et al. 2022): fit a low-rank RNN to recorded rates by backpropagation through time — the baseline
whose connectivity Connector shows to be partly spurious (lrrnn_gdm.md §A.3 Stage 0, §A.2.3).

The loss sees N only through ``X N`` (X the rates), so gradient descent never moves the part of the initial N in
the null space of X: a fitted N is the identifiable part plus whatever the initialisation put there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

from gnode.connector.lowrank import LowRankRNN
from gnode.data import ArrayData
from gnode.errors import ConfigError, DataError
from gnode.losses import MSE
from gnode.train.driver import TrainConfig, fit
from gnode.train.objective import MapObjective


class RateModel(eqx.Module):
    """``start -> φ(h_1 .. h_T)``: the rates a :class:`LowRankRNN` produces from a given first potential (the data's).

    ``start`` is ``h_0`` ``(neurons,)``, or for a network with inputs ``h_0`` followed by the ``steps`` inputs
    ``u_0 .. u_{steps−1}`` flattened (``neurons + steps · inp``): one array per trial, as the trainer batches them.
    With ``in_span``, the network starts from ``h_0``'s projection on the column space of m (its latents, a mean over
    neurons, rather than every neuron's noisy first potential).
    """

    network: LowRankRNN
    steps: int = eqx.field(static=True)
    in_span: bool = eqx.field(static=True, default=False)

    def __call__(self, start: Float[Array, " packed"]) -> Float[Array, "steps neurons"]:
        neurons = self.network.neurons
        inputs = None if self.network.inputs is None else start[neurons:].reshape(self.steps, -1)
        h0 = start[:neurons]
        if self.in_span:  # the bias d is the potential's resting level: project what lies beyond it
            rest = 0.0 if self.network.bias is None else self.network.bias
            h0 = rest + self.network.m @ (jnp.linalg.pinv(self.network.m) @ (h0 - rest))
        return self.network.phi(self.network.simulate(h0, self.steps, inputs)[1:])


def pack_starts(
    potentials: Float[np.ndarray, "batch time neurons"], inputs: Float[np.ndarray, "batch time inp"] | None
) -> Float[np.ndarray, "batch packed"]:
    """Each trial's :class:`RateModel` argument: its first potential, then its inputs of every step but the last."""
    if inputs is None:
        return potentials[:, 0]
    return np.concatenate([potentials[:, 0], inputs[:, :-1].reshape(len(inputs), -1)], axis=1)


@dataclasses.dataclass(frozen=True)
class LintConfig:
    """LINT settings (the authors': rank 2, init N(0, 2²), Adam 1e-3, batch 10, 1000 epochs, best validation kept).

    Attributes:
        rank: R; init_std: standard deviation of the initial m and n; lr, batch, epochs, patience: training;
        seed: initialisation and data order; start_in_span: start each trial from the projection of its first
        potential on the column space of m (:class:`RateModel`; for noisy recorded rates) instead of the potential;
        bias: learn a bias d per neuron (starts at 0), each neuron's resting potential.
    """

    rank: int = 2
    init_std: float = 2.0
    lr: float = 1e-3
    batch: int = 10
    epochs: int = 1000
    patience: int | None = None
    seed: int = 0
    start_in_span: bool = False
    bias: bool = False

    def __post_init__(self):
        if min(self.rank, self.batch, self.epochs) <= 0 or not (self.init_std > 0 and self.lr > 0):
            raise ConfigError(f"LINT settings must be positive, got {self}")


def fit_lint(
    potentials: Float[ArrayLike, "batch time neurons"],
    train: Int[ArrayLike, " train"] | Sequence[int],
    val: Int[ArrayLike, " val"] | Sequence[int],
    config: LintConfig = LintConfig(),
    alpha: float = 0.1,
    inputs: Float[ArrayLike, "batch time inp"] | None = None,
) -> LowRankRNN:
    """Fit a rank-``config.rank`` RNN to the rates ``tanh(potentials)``, each trial started from its first potential.

    Arguments:
        potentials: ``(trials, time, neurons)``; train, val: trial indices; config: the settings; alpha: the step;
        inputs: ``(trials, time, inp)`` external inputs (step t's drives the step from t to t + 1; their weights B
            start N(0, 1)) or None.
    Returns:
        The fitted network (best validation loss).
    """
    potentials = np.asarray(potentials, np.float32)
    if potentials.ndim != 3 or potentials.shape[1] < 2:
        raise DataError(f"potentials must have shape (trials, time >= 2, neurons), got {potentials.shape}")
    if not np.isfinite(potentials).all():
        raise DataError("potentials contain NaN or inf")
    trials, time, neurons = potentials.shape
    if inputs is not None:
        inputs = np.asarray(inputs, np.float32)
        if inputs.ndim != 3 or inputs.shape[:2] != (trials, time) or not np.isfinite(inputs).all():
            raise DataError(f"inputs must be finite, of shape ({trials}, {time}, inp), got {inputs.shape}")
    km, kn, kb = jr.split(jr.key(config.seed), 3)
    network = LowRankRNN(
        config.init_std * jr.normal(km, (neurons, config.rank)),
        config.init_std * jr.normal(kn, (neurons, config.rank)),
        inputs=None if inputs is None else jr.normal(kb, (neurons, inputs.shape[2])),
        bias=jnp.zeros(neurons) if config.bias else None,
        alpha=alpha,
    )
    starts = pack_starts(potentials, inputs)
    split = lambda index: ArrayData(starts[index], np.tanh(potentials[index, 1:]))  # noqa: E731
    objective = MapObjective(MSE(), starts.shape[1:], (time - 1, neurons))
    settings = TrainConfig(
        lr=config.lr, weight_decay=0.0, batch_size=config.batch, epochs=config.epochs, seed=config.seed,
        patience=config.patience,
    )  # fmt: skip
    model = RateModel(network, time - 1, config.start_in_span)
    result = fit(model, split(train), split(val), settings, objective=objective, progress=False)
    return result.model.network


def latents_of(
    network: LowRankRNN, potentials: Float[ArrayLike, "... neurons"], drive: Float[ArrayLike, "... inp"] | None = None
) -> Float[Array, "... rank"]:
    """The latents of potentials in the column space of m: ``κ = (h − ũ Bᵀ − d) · pinv(mᵀ)``, ``drive`` ũ the filtered
    inputs (:func:`gnode.connector.lowrank.input_drive`) of a network with inputs, d its bias if it has one."""
    potentials = jnp.asarray(potentials)
    if drive is not None and network.inputs is not None:
        potentials = potentials - jnp.asarray(drive) @ network.inputs.T
    if network.bias is not None:
        potentials = potentials - network.bias
    return potentials @ jnp.linalg.pinv(network.m.T)


def align(
    network: LowRankRNN, latents: Float[ArrayLike, "... rank"], reference: Float[ArrayLike, "... rank"]
) -> tuple[LowRankRNN, Float[np.ndarray, "rank rank"]]:
    """Express a fitted network in the reference latent frame (the gauge κ → κ C, m → m C⁻ᵀ, n → n C leaves its
    rates and dynamics unchanged); C is the least-squares map from ``latents`` to ``reference``.

    Arguments:
        network: the fitted network; latents: its latents ``(..., R)``; reference: the reference latents, same shape.
    Returns:
        The aligned network and C ``(R, R)`` (any latents of the network in the reference frame: ``κ @ C``).
    """
    flat = np.asarray(latents, np.float64).reshape(-1, network.rank)
    target = np.asarray(reference, np.float64).reshape(-1, network.rank)
    change, *_ = np.linalg.lstsq(flat, target, rcond=None)  # κ_ref ≈ κ C
    m = np.asarray(network.m, np.float64) @ np.linalg.inv(change).T
    n = np.asarray(network.n, np.float64) @ change
    new = eqx.tree_at(lambda net: (net.m, net.n), network, (jnp.asarray(m, jnp.float32), jnp.asarray(n, jnp.float32)))
    return new, change
