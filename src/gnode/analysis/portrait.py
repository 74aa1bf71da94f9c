"""Phase portrait of a 2-D model: the autonomous speed map, its streamlines, and trajectories."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from gnode.errors import ConfigError
from gnode.model import Model, predict


def autonomous_velocity(model: Model, points: np.ndarray) -> np.ndarray:
    """``v(h, 0)`` at each row of ``points`` (M, N)."""
    x0 = jnp.zeros((model.field.input_dim,))
    return np.asarray(jax.vmap(lambda h: model.field.velocity(h, x0))(jnp.asarray(points, jnp.float32)))


def speed_grid(model: Model, lo: np.ndarray, hi: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Grid axes, the velocity components and the speed of the autonomous flow on ``[lo, hi]``."""
    xs, ys = np.linspace(lo[0], hi[0], size), np.linspace(lo[1], hi[1], size)
    gx, gy = np.meshgrid(xs, ys)
    v = autonomous_velocity(model, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(size, size, 2)
    return xs, ys, v[..., 0], v[..., 1], np.linalg.norm(v, axis=-1)


def plot_phase_portrait(
    model: Model,
    inputs: np.ndarray,
    targets: np.ndarray,
    path: str | Path,
    *,
    trials: int = 4,
    grid: int = 80,
    title: str = "",
) -> dict[str, float]:
    """Write a PNG: left, state space (log speed of the autonomous flow ``v(h, 0)``, streamlines,
    trajectories of ``trials`` validation trials); right, readout space (outputs against targets).

    Returns: the speed statistics of the map (min and median ``|v|`` on the grid, in 1/tau units).
    """
    if model.field.state_dim != 2:
        raise ConfigError(f"the phase portrait needs a 2-D state, the model has {model.field.state_dim}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ys, hs = predict(model, jnp.asarray(inputs[:trials]))
    hs, ys = np.asarray(hs), np.asarray(ys)
    lo, hi = hs.reshape(-1, 2).min(0), hs.reshape(-1, 2).max(0)
    pad = 0.25 * (hi - lo) + 1e-3
    gx, gy, vx, vy, speed = speed_grid(model, lo - pad, hi + pad, grid)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 5))
    mesh = ax.pcolormesh(gx, gy, np.log10(speed + 1e-12), cmap="viridis", shading="auto")
    fig.colorbar(mesh, ax=ax, label="log10 |v(h, 0)|")
    ax.streamplot(gx, gy, vx, vy, color="w", density=1.0, linewidth=0.5, arrowsize=0.7)
    for h in hs:
        ax.plot(h[:, 0], h[:, 1], lw=1.0, alpha=0.9)
        ax.plot(h[0, 0], h[0, 1], "o", color="w", ms=3)
    ax.set(xlabel="h1", ylabel="h2", title="state space: autonomous flow and trials")
    for y, tgt in zip(ys, targets[:trials], strict=True):
        line = bx.plot(y[:, 0], y[:, 1], lw=1.0)[0]
        bx.plot(tgt[:, 0], tgt[:, 1], "x", color=line.get_color(), ms=4, alpha=0.6)
    bx.set(xlabel="y1", ylabel="y2", title="readout space: outputs (lines) and targets (x)", aspect="equal")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"min_speed": float(speed.min()), "median_speed": float(np.median(speed))}
