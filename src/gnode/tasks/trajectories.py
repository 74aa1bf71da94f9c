"""Random target trajectories with a complexity knob, for the expressivity measure (``gnode.reproduce.expressivity``).

A target is a ``D``-dimensional trajectory on the observation times ``t_i = i / steps`` (``i = 1..steps``) of
the unit interval. ``spline``: it passes through ``K`` i.i.d. standard-normal points at the equally spaced times
``k / (K - 1)``, ``k = 0..K-1`` (one point: a constant), joined by a natural cubic spline. ``gp``: a draw of a
zero-mean Gaussian process with a squared-exponential kernel of unit variance and length scale ``1 / K``, so
that ``K`` again counts the independent bumps. Both are seeded and reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from jaxtyping import Float
from scipy.interpolate import CubicSpline

from gnode.errors import ConfigError

TARGET_KINDS = ("spline", "gp")


def random_trajectories(
    count: int, knots: int, dim: int, steps: int, *, kind: str = "spline", seed: int | Sequence[int] = 0
) -> Float[np.ndarray, "batch time out"]:
    """``count`` targets of complexity ``knots``, shape ``(count, steps, dim)`` float32.

    ``seed`` may be a sequence of integers (e.g. ``(seed, knots, index)``) to give every target its own stream.

    Raises:
        ConfigError: an unknown kind or a non-positive size.
    """
    if kind not in TARGET_KINDS:
        raise ConfigError(f"unknown target kind {kind!r}; choose one of {list(TARGET_KINDS)}")
    if min(count, knots, dim, steps) <= 0:
        raise ConfigError(f"count, knots, dim and steps must be positive, got {count}, {knots}, {dim}, {steps}")
    rng = np.random.default_rng(seed)
    times = np.arange(1, steps + 1) / steps
    if kind == "spline":
        points = rng.standard_normal((count, knots, dim))
        if knots == 1:
            return np.repeat(points, steps, axis=1).astype(np.float32)
        spline = CubicSpline(np.linspace(0.0, 1.0, knots), points, axis=1, bc_type="natural")
        return spline(times).astype(np.float32)
    gap = times[:, None] - times[None, :]
    kernel = np.exp(-0.5 * (gap * knots) ** 2) + 1e-6 * np.eye(steps)  # jitter: the kernel is near-singular
    factor = np.linalg.cholesky(kernel)
    draws = rng.standard_normal((count, steps, dim))
    return np.einsum("ts,csd->ctd", factor, draws).astype(np.float32)
