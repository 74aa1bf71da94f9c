"""Continuous-attractor metrics: manifold dimension, shape match to a storable set, coverage, memory drift.

Conventions (each one a parameter):

- **Dimension** at a slow point: the number of Jacobian eigenvalues with ``|Re lambda| < threshold * reference``.
  The reference rate is the leak's, 1/tau (every eigenvalue of the bare ``-h`` is -1), so the default
  ``threshold = 0.1`` counts the directions whose local time constant exceeds 10 tau.
- **Chamfer distance** between point sets A and B: the mean of the two mean nearest-neighbour distances,
  ``(mean_a d(a, B) + mean_b d(b, A)) / 2``. **Hausdorff**: the larger of the two directed maxima (scipy).
- **Coverage**: the fraction of an even sample of the storable set that lies within ``delta`` of the readout of
  some slow point; ``delta`` defaults to 5 % of the set's diameter.
- **Memory drift**: run each trial to its end (the state then stores the last pulse), hold the input at zero for
  ``hold_factor`` times the trial length, and measure how far the readout moves.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int
from scipy.spatial import cKDTree
from scipy.spatial.distance import directed_hausdorff

from gnode.analysis.jacobian import Spectrum
from gnode.errors import ConfigError
from gnode.tasks.storable import StorableSet


def dimensions(spectrum: Spectrum, threshold: float = 0.1, reference: float = 1.0) -> Int[Array, " count"]:
    """Per point, the number of eigenvalues with ``|Re lambda| < threshold * reference``."""
    return jnp.sum(jnp.abs(spectrum.eigenvalues.real) < threshold * reference, axis=-1)


def manifold_dimension(spectrum: Spectrum, threshold: float = 0.1, reference: float = 1.0) -> int:
    """The median of :func:`dimensions` over the points (rounded down to an integer)."""
    if len(spectrum.eigenvalues) == 0:
        raise ConfigError("no points to estimate a dimension from")
    return int(np.floor(np.median(np.asarray(dimensions(spectrum, threshold, reference)))))


def _check_sets(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or not len(a) or not len(b) or a.shape[1] != b.shape[1]:
        raise ConfigError(f"point sets must be non-empty (count, dim) arrays of one dim, got {a.shape}, {b.shape}")
    return a, b


def chamfer_distance(a: Float[ArrayLike, "count dim"], b: Float[ArrayLike, "other dim"]) -> float:
    """Symmetric mean nearest-neighbour distance between the point sets ``a`` and ``b``."""
    a, b = _check_sets(a, b)
    return 0.5 * float(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def hausdorff_distance(a: Float[ArrayLike, "count dim"], b: Float[ArrayLike, "other dim"]) -> float:
    """Hausdorff distance between the point sets ``a`` and ``b``."""
    a, b = _check_sets(a, b)
    return float(max(directed_hausdorff(a, b)[0], directed_hausdorff(b, a)[0]))


def _covered(target: np.ndarray, readouts, delta: float) -> float:
    target, readouts = _check_sets(target, readouts)
    return float(np.mean(cKDTree(readouts).query(target)[0] <= delta))


def coverage(
    storable: StorableSet, readouts: Float[ArrayLike, "count out"], delta: float | None = None, *, samples: int = 2000
) -> float:
    """Fraction of an even sample of ``storable`` within ``delta`` (default 5 % of its diameter) of ``readouts``."""
    delta = 0.05 * storable.diameter() if delta is None else delta
    return _covered(storable.sample(samples), readouts, delta)


def shape_match(
    storable: StorableSet, readouts: Float[ArrayLike, "count out"], delta: float | None = None, *, samples: int = 2000
) -> dict:
    """Chamfer and Hausdorff distances (absolute and as a fraction of the set's diameter) and coverage."""
    target = storable.sample(samples)
    diameter = storable.diameter()
    delta = 0.05 * diameter if delta is None else delta
    chamfer, hausdorff = chamfer_distance(readouts, target), hausdorff_distance(readouts, target)
    return {
        "chamfer": chamfer,
        "chamfer_fraction": chamfer / diameter,
        "hausdorff": hausdorff,
        "hausdorff_fraction": hausdorff / diameter,
        "coverage": _covered(target, readouts, delta),
        "delta": delta,
        "diameter": diameter,
    }


def drift_statistics(held: Float[ArrayLike, "batch time out"], seconds: float, diameter: float) -> dict:
    """Statistics of readouts ``held`` ``(trials, time, out)`` under a zero-input hold of ``seconds``:
    how far the last readout is from the first, per trial."""
    held = np.asarray(held, np.float64)
    moved = np.linalg.norm(held[:, -1] - held[:, 0], axis=-1)
    return {
        "hold_seconds": seconds,
        "median_drift": float(np.median(moved)),
        "p90_drift": float(np.percentile(moved, 90)),
        "median_drift_per_second": float(np.median(moved) / seconds),
        "median_drift_fraction": float(np.median(moved) / diameter),
        "p90_drift_fraction": float(np.percentile(moved, 90) / diameter),
    }
