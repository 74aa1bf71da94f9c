"""What a training run minimises: the data it accepts and the loss of a model on one batch.

:func:`gnode.train.driver.fit` is written once against :class:`AbstractObjective`. Two objectives exist:

- :class:`SequenceObjective` — a :class:`gnode.model.Model` on :class:`gnode.data.SequenceData` (readout at every
  step for ``mse``, at each sequence's last observed step for ``cross_entropy``), integrated by an integrator.
- :class:`MapObjective` — any model that maps one input array to one output array (``model(x) -> y``), on
  :class:`ArrayData`; used by the seed systems whose models are not sequence models (N-CODE).
"""

from __future__ import annotations

import abc
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PyTree

from gnode.data import AbstractData, ArrayData, SequenceData, validate
from gnode.errors import DataError
from gnode.losses import MSE, AbstractLoss, Poisson, StepCrossEntropy, check_loss
from gnode.solve import AbstractIntegrator, Euler


class AbstractObjective(eqx.Module):
    """A loss and the data it is defined on."""

    loss: eqx.AbstractVar[AbstractLoss]

    @abc.abstractmethod
    def arrays(self, model: PyTree, data: AbstractData, name: str) -> dict[str, Array | None]:
        """Check ``data`` against ``model`` (one-line :class:`DataError` naming ``name``) and return its arrays,
        each with the samples on axis 0."""

    @abc.abstractmethod
    def predict(self, model: PyTree, batch: dict[str, Array | None]) -> Float[Array, "batch ..."]:
        """The model's outputs on ``batch``, one row per sample, each a function of its own sample only (so a
        minibatch may be split over devices, :func:`gnode.train.step.make_loss`)."""

    @abc.abstractmethod
    def score(
        self, pred: Float[Array, "batch ..."], batch: dict[str, Array | None]
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """The loss and its metric (R² for :class:`MSE`, accuracy for :class:`CrossEntropy`) of the outputs
        ``pred`` of :meth:`predict` on the whole ``batch``."""

    def __call__(self, model: PyTree, batch: dict[str, Array | None]) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """Returns: the loss and its metric of ``model`` on ``batch``."""
        return self.score(self.predict(model, batch), batch)

    def for_split_batch(self) -> AbstractObjective:
        """The objective for one device's share of a minibatch split over devices; itself by default."""
        return self

    @property
    def metric_name(self) -> str:
        return self.loss.metric_name


class SequenceObjective(AbstractObjective):
    """A sequence model's loss on :class:`SequenceData`.

    Arguments:
        loss: :class:`gnode.losses.MSE` (every observed step) or :class:`gnode.losses.CrossEntropy` (the last
            observed step).
        integrator: the solver used in training.
    """

    loss: AbstractLoss = MSE()
    integrator: AbstractIntegrator = Euler()

    def __check_init__(self):
        check_loss(self.loss)

    def arrays(self, model: PyTree, data: AbstractData, name: str) -> dict[str, Array | None]:
        if not isinstance(data, SequenceData):
            raise DataError(f"{name}: a sequence model trains on SequenceData, got {type(data).__name__}")
        data = validate(data, name)
        d = data.inputs.shape[-1]
        if d != model.field.input_dim:
            raise DataError(f"{name}: inputs have {d} channels, the model expects {model.field.input_dim}")
        check_targets(data.targets, data.is_classification, model.readout.weight.shape[0], self.loss, name)
        if model.initial_state.reads_observations and data.is_classification:
            raise DataError(f"{name}: an initial state inferred from observations needs sequence targets, not labels")
        return {
            "inputs": jnp.asarray(data.inputs),
            "targets": jnp.asarray(data.targets),
            "mask": None if data.mask is None else jnp.asarray(data.mask),
            "times": None if data.times is None else jnp.asarray(data.times),
        }

    def for_split_batch(self) -> SequenceObjective:
        return dataclasses.replace(self, integrator=self.integrator.for_split_batch())

    def predict(self, model: PyTree, batch: dict[str, Array | None]) -> Float[Array, "batch time out"]:
        observed = None if self.loss.classification else batch["targets"]
        return model.batch(batch["inputs"], batch["times"], self.integrator, observed)[0]

    def score(
        self, pred: Float[Array, "batch time out"], batch: dict[str, Array | None]
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        return self.loss.of_sequences(pred, batch["targets"], batch["mask"])


def check_targets(targets: np.ndarray, classification: bool, out: int, loss: AbstractLoss, name: str) -> None:
    """Targets agree with the loss and with the model's ``out`` outputs (channels, or classes)."""
    if not loss.classification:
        if classification:
            raise DataError(f"{name}: class labels given but the loss is {type(loss).__name__} (use CrossEntropy())")
        if targets.shape[-1] != out:
            raise DataError(f"{name}: targets have {targets.shape[-1]} channels, the readout has {out}")
        if isinstance(loss, StepCrossEntropy) and ((targets < 0).any() or (targets.sum(-1) > 1 + 1e-5).any()):
            raise DataError(f"{name}: step cross-entropy needs class probabilities per step (e.g. one-hot labels)")
        if isinstance(loss, Poisson) and (targets < 0).any():
            raise DataError(f"{name}: a Poisson likelihood needs counts >= 0, got {float(targets.min()):g}")
    elif not classification:
        raise DataError(f"{name}: cross_entropy needs integer class labels of shape (samples,)")
    elif targets.max() >= out:
        raise DataError(f"{name}: label {int(targets.max())} but the readout has only {out} classes")


class MapObjective(AbstractObjective):
    """The loss of a model mapping one input array to one output array, ``model(x) -> y``.

    Arguments:
        loss: :class:`gnode.losses.MSE` or :class:`gnode.losses.CrossEntropy` (``y`` are the class logits).
        in_shape, out_shape: the shapes of one input and of one output (``(classes,)`` for cross-entropy).
    """

    loss: AbstractLoss
    in_shape: tuple[int, ...] = eqx.field(static=True)
    out_shape: tuple[int, ...] = eqx.field(static=True)

    def __check_init__(self):
        check_loss(self.loss)

    def arrays(self, model: PyTree, data: AbstractData, name: str) -> dict[str, Array | None]:
        if not isinstance(data, ArrayData):
            raise DataError(f"{name}: expected ArrayData, got {type(data).__name__}")
        x = np.asarray(data.inputs, np.float32)
        y = np.asarray(data.targets)
        if x.ndim < 1 or x.shape[0] == 0 or x.shape[1:] != self.in_shape:
            shape = ", ".join(map(str, self.in_shape))
            raise DataError(f"{name}: inputs must have shape (samples, {shape}), got {x.shape}")
        if y.shape[0] != x.shape[0]:
            raise DataError(f"{name}: {x.shape[0]} input samples but {y.shape[0]} targets")
        if not np.isfinite(x).all():
            raise DataError(f"{name}: inputs contain NaN or inf")
        classification = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
        if classification and (y < 0).any():
            raise DataError(f"{name}: class labels must be non-negative integers")
        if not classification:
            y = y.astype(np.float32)
            if y.shape[1:] != self.out_shape:
                shape = ", ".join(map(str, self.out_shape))
                raise DataError(f"{name}: targets must have shape (samples, {shape}), got {y.shape}")
            if not np.isfinite(y).all():
                raise DataError(f"{name}: targets contain NaN or inf")
        check_targets(y, classification, self.out_shape[-1], self.loss, name)
        return {"inputs": jnp.asarray(x), "targets": jnp.asarray(y)}

    def predict(self, model: PyTree, batch: dict[str, Array | None]) -> Float[Array, "batch ..."]:
        return jax.vmap(model)(batch["inputs"])

    def score(
        self, pred: Float[Array, "batch ..."], batch: dict[str, Array | None]
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        return self.loss.of_arrays(pred, batch["targets"])
