"""Losses on batches of model outputs: the functions, and the loss objects fits take (:class:`MSE`,
:class:`CrossEntropy`, :class:`StepCrossEntropy`, :class:`Poisson`)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

from gnode.errors import ConfigError, by_name
from gnode.likelihoods import bits_per_spike, channel_mean, observed_entries, poisson_loss


def masked_mse(
    pred: Float[Array, "batch time out"],
    target: Float[Array, "batch time out"],
    mask: Float[Array, "batch time out"] | Float[Array, "batch time"] | None = None,
) -> Float[Array, ""]:
    """Mean squared error over observed entries (all entries when ``mask`` is None)."""
    sq = (pred - target) ** 2
    if mask is None:
        return jnp.mean(sq)
    mask = observed_entries(mask, sq)
    return jnp.sum(sq * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def last_index(mask: Float[ArrayLike, "batch time"] | None, batch: int, time: int) -> Int[Array, " batch"]:
    """Index of the last observed step of each sequence (the last step when ``mask`` is None)."""
    if mask is None:
        return jnp.full((batch,), time - 1)
    if mask.ndim == 3:
        mask = mask.max(axis=-1)
    return time - 1 - jnp.argmax(mask[:, ::-1] > 0, axis=1)


def last_state_cross_entropy(
    logits: Float[Array, "batch time classes"],
    labels: Int[Array, " batch"],
    mask: Float[Array, "batch time"] | None = None,
) -> Float[Array, ""]:
    """Cross-entropy of the readout at each sequence's last observed step."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(last_readout(logits, mask), labels))


def accuracy(
    logits: Float[Array, "batch time classes"],
    labels: Int[Array, " batch"],
    mask: Float[Array, "batch time"] | None = None,
) -> Float[Array, ""]:
    """Fraction of sequences whose readout at the last observed step picks the right class."""
    return jnp.mean(jnp.argmax(last_readout(logits, mask), axis=-1) == labels)


def last_readout(
    logits: Float[Array, "batch time classes"], mask: Float[Array, "batch time"] | None
) -> Float[Array, "batch classes"]:
    """The readout of each sequence at its last observed step."""
    idx = last_index(mask, logits.shape[0], logits.shape[1])
    return logits[jnp.arange(logits.shape[0]), idx]


def r2_score(
    pred: Float[ArrayLike, "batch time out"],
    target: Float[ArrayLike, "batch time out"],
    mask: Float[ArrayLike, "batch time out"] | Float[ArrayLike, "batch time"] | None = None,
) -> Float[Array, ""]:
    """Coefficient of determination over observed entries, pooled over output channels."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    mask = observed_entries(mask, target)
    mean = channel_mean(target, mask)
    ss_res = jnp.sum(mask * (pred - target) ** 2)
    ss_tot = jnp.sum(mask * (target - mean) ** 2)
    return 1.0 - ss_res / ss_tot


class AbstractLoss(eqx.Module):
    """What a fit minimises, on sequences or on single arrays, and the metric reported beside it."""

    classification: eqx.AbstractClassVar[bool]  # targets are integer class labels
    metric_name: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def of_sequences(
        self, pred: Float[Array, "batch time out"], targets: Array, mask: Array | None
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """The loss and the metric of readouts at every step (``targets`` and ``mask`` as in ``SequenceData``)."""

    @abc.abstractmethod
    def of_arrays(self, pred: Float[Array, "batch ..."], targets: Array) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """The loss and the metric of one output array per sample."""


class MSE(AbstractLoss):
    """Mean squared error over the observed entries; the metric is R²."""

    classification: ClassVar[bool] = False
    metric_name: ClassVar[str] = "r2"

    def of_sequences(
        self, pred: Float[Array, "batch time out"], targets: Array, mask: Array | None
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        return masked_mse(pred, targets, mask), r2_score(pred, targets, mask)

    def of_arrays(self, pred: Float[Array, "batch ..."], targets: Array) -> tuple[Float[Array, ""], Float[Array, ""]]:
        flat = lambda a: a.reshape(a.shape[0], 1, -1)  # noqa: E731 — r2_score pools (batch, time, out)
        return jnp.mean((pred - targets) ** 2), r2_score(flat(pred), flat(targets))


class CrossEntropy(AbstractLoss):
    """Cross-entropy of class labels; a sequence is classified at its last observed step. The metric is accuracy."""

    classification: ClassVar[bool] = True
    metric_name: ClassVar[str] = "accuracy"

    def of_sequences(
        self, pred: Float[Array, "batch time out"], targets: Array, mask: Array | None
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        return last_state_cross_entropy(pred, targets, mask), accuracy(pred, targets, mask)

    def of_arrays(self, pred: Float[Array, "batch ..."], targets: Array) -> tuple[Float[Array, ""], Float[Array, ""]]:
        loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(pred, targets))
        return loss, jnp.mean(jnp.argmax(pred, axis=-1) == targets)


class StepCrossEntropy(AbstractLoss):
    """Cross-entropy at every observed step against target class probabilities (one-hot labels per step, e.g. a
    neurogym task's ground truth); the metric is the accuracy of the most probable class over the observed steps."""

    classification: ClassVar[bool] = False
    metric_name: ClassVar[str] = "step_accuracy"

    def of_sequences(
        self, pred: Float[Array, "batch time out"], targets: Array, mask: Array | None
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        weight = jnp.ones(pred.shape[:2]) if mask is None else (mask.max(axis=-1) if mask.ndim == 3 else mask)
        total = jnp.maximum(jnp.sum(weight), 1.0)
        loss = jnp.sum(weight * optax.softmax_cross_entropy(pred, targets)) / total
        hits = jnp.argmax(pred, axis=-1) == jnp.argmax(targets, axis=-1)
        return loss, jnp.sum(weight * hits) / total

    def of_arrays(self, pred: Float[Array, "batch ..."], targets: Array) -> tuple[Float[Array, ""], Float[Array, ""]]:
        return self.of_sequences(pred[:, None], targets[:, None], None)


class Poisson(AbstractLoss):
    """Poisson likelihood of counts (spikes per bin) with rate ``link(readout)``: the loss is the mean negative
    log-likelihood per observed entry, less its constant ``log y!``; the metric is bits per spike against each
    channel's mean rate (:func:`gnode.likelihoods.bits_per_spike`).

    Arguments:
        link: readout to rate, ``jax.nn.softplus`` (default) or ``jnp.exp``. The log-rate is ``log(rate + 1e-8)``,
            so a rate that underflows to 0 costs a large finite loss, not NaN (as PyTorch's ``PoissonNLLLoss``).
    """

    link: Callable[[Array], Array] = eqx.field(static=True, default=jax.nn.softplus)
    classification: ClassVar[bool] = False
    metric_name: ClassVar[str] = "bits_per_spike"

    def rates(self, pred: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """The rates of readouts ``pred``."""
        return self.link(pred)

    def readout_of(self, rates: Float[ArrayLike, " out"]) -> Float[Array, " out"]:
        """The readout whose rate is ``rates`` (floored at 1e-3), for the links gnode knows (softplus, exp): a fit
        that starts its readout bias there starts at each channel's mean rate."""
        rates = jnp.maximum(jnp.asarray(rates, jnp.float32), 1e-3)
        if self.link is jax.nn.softplus:
            return jnp.log(jnp.expm1(rates))
        if self.link is jnp.exp:
            return jnp.log(rates)
        raise ConfigError(f"no inverse known for the link {self.link!r}")

    def of_sequences(
        self, pred: Float[Array, "batch time out"], targets: Array, mask: Array | None
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        rates = self.rates(pred)
        return poisson_loss(rates, targets, mask), bits_per_spike(rates, targets, mask)

    def of_arrays(self, pred: Float[Array, "batch ..."], targets: Array) -> tuple[Float[Array, ""], Float[Array, ""]]:
        flat = lambda a: a.reshape(a.shape[0], 1, -1)  # noqa: E731 — (batch, time, out) as for sequences
        return self.of_sequences(flat(pred), flat(targets), None)


LOSSES: dict[str, type[AbstractLoss]] = {
    "mse": MSE,
    "cross_entropy": CrossEntropy,
    "step_cross_entropy": StepCrossEntropy,
    "poisson": Poisson,
}


def loss_named(name: str) -> AbstractLoss:
    """The loss called ``name`` (a key of :data:`LOSSES`), for the CLI and config files.

    Raises:
        ConfigError: an unknown name.
    """
    return by_name(LOSSES, name, "loss")()


def check_loss(loss: Any) -> AbstractLoss:
    """``loss`` if it is an :class:`AbstractLoss`; a one-line error otherwise (a name where an object belongs)."""
    if not isinstance(loss, AbstractLoss):
        raise ConfigError(f"loss must be an AbstractLoss such as MSE() or Poisson(), got {loss!r}")
    return loss
