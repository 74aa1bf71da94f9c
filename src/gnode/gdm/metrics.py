"""Scores of switching models (lrrnn_gdm.md §B.6), the same for GDM and the baselines."""

from __future__ import annotations

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from gnode.errors import DataError


def mean_r2(prediction: Float[ArrayLike, "time obs"], target: Float[ArrayLike, "time obs"]) -> float:
    """R² of each output dimension, ``1 − SS_res / SS_tot``, averaged over dimensions (the authors' R²)."""
    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape or target.ndim != 2:
        raise DataError(f"need predictions and targets of one shape (time, dims), got {prediction.shape}, "
                        f"{target.shape}")  # fmt: skip
    residual = np.sum((target - prediction) ** 2, axis=0)
    total = np.sum((target - target.mean(0)) ** 2, axis=0)
    return float(np.mean(1 - residual / total))


def state_accuracy(
    train_states: Float[ArrayLike, "time modes"],
    train_labels: Int[ArrayLike, " time"],
    test_states: Float[ArrayLike, "test modes"],
    test_labels: Int[ArrayLike, " test"],
    k: int = 10,
) -> float:
    """ "State quality": a k-nearest-neighbour classifier (Euclidean, k = 10) from the inferred states of the training
    sequence to its true labels, scored on the test sequence. States may be soft (GDM) or one-hot (baselines); the
    model's state numbering need not match the labels'."""
    from sklearn.neighbors import KNeighborsClassifier

    train_states, test_states = np.asarray(train_states), np.asarray(test_states)
    if train_states.shape[0] != len(train_labels) or test_states.shape[0] != len(test_labels):
        raise DataError("states and labels differ in length")
    classifier = KNeighborsClassifier(n_neighbors=k).fit(train_states, np.asarray(train_labels))
    return float(classifier.score(test_states, np.asarray(test_labels)))


def switching_rate(states: Float[ArrayLike, "time modes"] | Int[ArrayLike, " time"]) -> float:
    """Changes of the most likely state per time step (``states``: probabilities, or state labels)."""
    labels = np.asarray(states).argmax(-1) if np.ndim(states) == 2 else np.asarray(states)
    return float(np.mean(labels[1:] != labels[:-1]))


def matched_accuracy(inferred: Int[ArrayLike, " time"], truth: Int[ArrayLike, " time"]) -> float:
    """The share of steps whose inferred state is the true one, after the best one-to-one renaming of the inferred
    states (Hungarian matching on the confusion counts; a model's state numbers are its own)."""
    from scipy.optimize import linear_sum_assignment

    inferred, truth = np.asarray(inferred), np.asarray(truth)
    if inferred.shape != truth.shape or inferred.ndim != 1 or len(truth) == 0:
        raise DataError(f"need inferred and true labels of one length, got {inferred.shape} and {truth.shape}")
    size = int(max(inferred.max(), truth.max())) + 1
    counts = np.zeros((size, size))
    np.add.at(counts, (inferred, truth), 1.0)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(truth))
