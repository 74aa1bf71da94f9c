"""The four synthetic connectivity ensembles of Connector, with their exact parameters (lrrnn_gdm.md §A.4), and
the trajectories they generate.

All have 1,000 neurons, rank 2, φ = tanh, no noise. ``conditional_mean`` is g(m) = E[n | m], the only part of n the
dynamics identify (§A.2.2).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from gnode.connector.lowrank import LowRankRNN, latent_grid
from gnode.errors import ConfigError

# quadstable: four populations, (m mean; n mean) each, within-population variance 0.25 of m
QUAD_M = np.array([[-0.87, 0.87], [-0.87, -0.87], [0.87, -0.87], [0.87, 0.87]])
QUAD_N = np.array([[-2.31, 2.31], [-2.31, -2.31], [2.31, -2.31], [2.31, 2.31]])
QUAD_VARIANCE = 0.25
# Gaussian ensembles: m ~ N(0, I), Var(n) = 4 I, Cov(n, m) (rows n, columns m)
OVERLAPS = {
    "bistable": np.array([[1.2, 0.8], [0.0, 1.6]]),
    "limit_cycle": np.array([[1.6, -0.8], [0.8, 1.6]]),
    "ring": np.array([[1.6, 0.0], [0.0, 1.6]]),
}
N_VARIANCE = 4.0
ENSEMBLES = ("quadstable", *OVERLAPS)
# beyond the paper: heavy-tailed loadings. m has independent Student-t components (HEAVY_DOF degrees of freedom,
# scaled to unit variance), n = Σ_nm m + Gaussian with the bistable overlap, so E[n | m] = Σ_nm m as before
HEAVY_TAILED, HEAVY_DOF = "heavy_tailed", 3.0
ALL_ENSEMBLES = (*ENSEMBLES, HEAVY_TAILED)


def overlap_of(name: str) -> np.ndarray:
    """Cov(n, m) of a Gaussian-overlap ensemble (E[n | m] = overlap · m)."""
    return OVERLAPS["bistable" if name == HEAVY_TAILED else name]


@dataclasses.dataclass(frozen=True)
class Connectivity:
    """One drawn network: loadings ``m``, ``n`` ``(neurons, 2)``, ``conditional_mean`` g(m) per neuron, and
    ``population`` (quadstable: which of the four each neuron belongs to; −1 otherwise)."""

    name: str
    m: np.ndarray
    n: np.ndarray
    conditional_mean: np.ndarray
    population: np.ndarray

    def network(self, alpha: float = 0.1) -> LowRankRNN:
        return LowRankRNN(jnp.asarray(self.m, jnp.float32), jnp.asarray(self.n, jnp.float32), alpha=alpha)


def quadstable_mean(m: np.ndarray) -> np.ndarray:
    """E[n | m] of the four-population mixture: the n means weighted by each population's likelihood of m."""
    logits = -((m[:, None, :] - QUAD_M[None]) ** 2).sum(-1) / (2 * QUAD_VARIANCE)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ QUAD_N


def make_connectivity(name: str, neurons: int = 1000, seed: int = 0) -> Connectivity:
    """Draw the ``name`` ensemble (``quadstable``, ``bistable``, ``limit_cycle``, ``ring``, or ``heavy_tailed``:
    the bistable overlap with Student-t loadings m).

    quadstable: ``neurons / 4`` per population, m ~ N(mean_p, 0.25 I), n = E[n | m] + N(0, I). Gaussian ones:
    m ~ N(0, I), n = Σ_nm m + N(0, 4 I − Σ_nm Σ_nmᵀ), so that Var(n) = 4 I and Cov(n, m) = Σ_nm.
    """
    if name not in ALL_ENSEMBLES:
        raise ConfigError(f"unknown ensemble {name!r}; choose one of {list(ALL_ENSEMBLES)}")
    if neurons < 4 or (name == "quadstable" and neurons % 4):
        raise ConfigError(f"need at least 4 neurons (a multiple of 4 for quadstable), got {neurons}")
    rng = np.random.default_rng(np.random.SeedSequence([0xC0EC7, ALL_ENSEMBLES.index(name), seed]))
    if name == "quadstable":
        population = np.repeat(np.arange(4), neurons // 4)
        m = QUAD_M[population] + np.sqrt(QUAD_VARIANCE) * rng.standard_normal((neurons, 2))
        mean = quadstable_mean(m)
        n = mean + rng.standard_normal((neurons, 2))
    else:
        overlap = overlap_of(name)
        population = np.full(neurons, -1)
        if name == HEAVY_TAILED:
            m = rng.standard_t(HEAVY_DOF, (neurons, 2)) / np.sqrt(HEAVY_DOF / (HEAVY_DOF - 2))
        else:
            m = rng.standard_normal((neurons, 2))
        mean = m @ overlap.T
        residual = N_VARIANCE * np.eye(2) - overlap @ overlap.T
        n = mean + rng.standard_normal((neurons, 2)) @ np.linalg.cholesky(residual).T
    return Connectivity(name, m, n, mean, population)


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """``latents`` ``(trials, time, 2)`` and the rates ``tanh(κ Mᵀ)`` ``(trials, time, neurons)``."""

    latents: np.ndarray
    rates: np.ndarray


def simulate_grid(network: LowRankRNN, size: int = 20, extent: float = 2.4, time: int = 100) -> Trajectories:
    """Trials from a ``size × size`` grid of latent starts over ``[−extent, extent]²``, ``time`` points each (the
    start and ``time − 1`` steps of (A1))."""
    if time < 2:
        raise ConfigError(f"need at least 2 time points, got {time}")
    latents = network.simulate_latent(latent_grid(size, extent), time - 1)
    rates = network.phi(latents @ network.m.T)
    return Trajectories(np.asarray(latents), np.asarray(rates))


def count_points(points: np.ndarray, tolerance: float = 0.05) -> int:
    """How many distinct points (greedy clusters of radius ``tolerance``) there are among ``points``."""
    centres: list[np.ndarray] = []
    for p in np.asarray(points):
        if not any(np.linalg.norm(p - c) < tolerance for c in centres):
            centres.append(p)
    return len(centres)


def phase_summary(network: LowRankRNN, trials: Trajectories, long: int = 1000) -> dict[str, float]:
    """Where the dynamics go: the end points of the trials (radius, speed) and, after ``long`` steps from the same
    starts, how many distinct end points remain and how fast they move (a limit cycle keeps moving)."""
    speed = lambda k: np.linalg.norm(np.asarray(network.latent_velocity(jnp.asarray(k))), axis=1)  # noqa: E731
    ends = trials.latents[:, -1]
    settled = np.asarray(network.simulate_latent(jnp.asarray(trials.latents[:, 0]), long)[:, -1])
    return {
        "trial_end_radius_min": float(np.linalg.norm(ends, axis=1).min()),
        "trial_end_radius_max": float(np.linalg.norm(ends, axis=1).max()),
        "trial_end_speed_max": float(speed(ends).max()),
        "trial_start_speed_median": float(np.median(speed(trials.latents[:, 0]))),
        f"end_points_after_{long}_steps": count_points(settled),
        f"speed_after_{long}_steps_min": float(speed(settled).min()),
        f"speed_after_{long}_steps_max": float(speed(settled).max()),
        f"radius_after_{long}_steps_mean": float(np.linalg.norm(settled, axis=1).mean()),
    }
