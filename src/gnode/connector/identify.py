"""The identifiable part of the output loadings: a ridge regression of the latent steps on the neurons' rates
(lrrnn_gdm.md §A.3, equation A3).

Under (A1), ``Y = κ_{t+1} − (1 − α) κ_t`` equals ``(α/S) X N`` with ``X = φ(κ_t Mᵀ)``: the data constrain N only
through X N, so the minimum-norm (ridge) solution returns, row by row, the conditional mean E[n | m] — not the
network's actual N, whose component in the null space of X leaves no trace in the dynamics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Float

from gnode.errors import DataError


def ridge_loadings(
    latents: Float[ArrayLike, "batch time rank"],
    m: Float[ArrayLike, "neurons loading"],
    alpha: float = 0.1,
    ridge: float = 1e-4,
    activation: Callable[[np.ndarray], np.ndarray] = np.tanh,
    drive: Float[ArrayLike, "batch time inp"] | None = None,
) -> Float[np.ndarray, "neurons rank"]:
    """``N̂ = argmin ‖Y − (α/S) X N‖² + λ ‖N‖²`` (A3), in closed form.

    Arguments:
        latents: ``(trials, time, R)``; m: ``(S, R)`` input loadings (S neurons, the true ones or samples), or
        ``(S, R + inp)`` the loadings and input weights ``[m_i, b_i]`` with ``drive``; alpha: the step; ridge: λ;
        activation: φ; drive: ``(trials, time, inp)`` the filtered inputs ũ (``X = φ([κ, ũ] [m, b]ᵀ)``) or None.
    Returns:
        N̂ ``(S, R)``.
    """
    latents = np.asarray(latents, np.float64)
    m = np.asarray(m, np.float64)
    if drive is not None:
        drive = np.asarray(drive, np.float64)
        if drive.shape[:2] != latents.shape[:2] or not np.isfinite(drive).all():
            raise DataError(f"need a finite drive (trials, time, inp) like the latents {latents.shape}, "
                            f"got {drive.shape}")  # fmt: skip
        state = np.concatenate([latents, drive], axis=2)
    else:
        state = latents
    if latents.ndim != 3 or latents.shape[1] < 2 or m.ndim != 2 or m.shape[1] != state.shape[2]:
        raise DataError(f"need latents (trials, time >= 2, R), m (neurons, R [+ inputs]), got {latents.shape}, "
                        f"{m.shape}")  # fmt: skip
    if not (np.isfinite(latents).all() and np.isfinite(m).all()):
        raise DataError("latents or loadings contain NaN or inf")
    rank = latents.shape[2]
    x = activation(state[:, :-1].reshape(-1, state.shape[2]) @ m.T)
    y = (latents[:, 1:] - (1 - alpha) * latents[:, :-1]).reshape(-1, rank)
    scale = alpha / m.shape[0]
    # normal equations of min ‖Y − scale X N‖² + λ‖N‖²: (scale² XᵀX + λ I) N = scale Xᵀ Y
    gram = scale**2 * (x.T @ x) + ridge * np.eye(m.shape[0])
    return np.linalg.solve(gram, scale * (x.T @ y))


def loading_correlation(a: Float[ArrayLike, "neurons rank"], b: Float[ArrayLike, "neurons rank"]) -> float:
    """Pearson correlation of two loading matrices over all their entries."""
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])
