"""Pictures of a field's dynamics (matplotlib, PNG files).

- :func:`plot_plane`: a 2-D state space: log speed of ``v(h, x*)``, streamlines, nullclines, fixed points coloured
  by stability, sample trajectories; beside it the gate map ``G(h, x*)`` for gated fields.
- :func:`plot_cloud`: slow points, fixed points and trajectories in 3-D (the state itself for N = 3, the top three
  principal components of the trajectories for N > 3).
- :func:`plot_readout`: the readout of slow and fixed points over the task's storable set.
- :func:`plot_trajectory_spectra`: local time constants and gate values along one trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Float

from gnode.analysis.fixed_points import FixedPoints
from gnode.analysis.jacobian import TrajectorySpectra
from gnode.fields import AbstractField
from gnode.files import pyplot, save_figure
from gnode.tasks.storable import StorableSet

STABILITY_COLOURS = {"stable": "tab:blue", "saddle": "tab:orange", "unstable": "tab:red"}


def _colour(stability: str) -> str:
    return STABILITY_COLOURS[stability.split("-")[0]]


def _draw_fixed(ax, points: ArrayLike, stability: list[str], project=lambda p: p) -> None:
    """Fixed points as markers coloured by class (a legend entry per class present)."""
    shown = set()
    for point, kind in zip(project(points), stability, strict=True):
        label = kind.split("-")[0]
        ax.scatter(*point, s=45, c=_colour(kind), edgecolors="k", zorder=5, label=None if label in shown else label)
        shown.add(label)


def plane_grid(
    field: AbstractField,
    lo: Float[ArrayLike, " state"] | Sequence[float | int],
    hi: Float[ArrayLike, " state"] | Sequence[float | int],
    size: int,
    x: Float[ArrayLike, " inp"] | None = None,
) -> dict[str, np.ndarray]:
    """``v(h, x*)`` and ``G(h, x*)`` on a ``size x size`` grid over ``[lo, hi]`` (a 2-D field)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)  # float32 spacing fails streamplot's check
    xs, ys = np.linspace(lo[0], hi[0], size), np.linspace(lo[1], hi[1], size)
    gx, gy = np.meshgrid(xs, ys)
    x = jnp.zeros((field.input_dim,)) if x is None else jnp.asarray(x)
    grid = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1), jnp.float32)
    v = np.asarray(jax.vmap(lambda h: field.velocity(h, x))(grid)).reshape(size, size, 2)
    gate = np.asarray(jax.vmap(lambda h: field.gate(h, x))(grid)).reshape(size, size, 2)
    return {"x": xs, "y": ys, "v": v, "speed": np.linalg.norm(v, axis=-1), "gate": gate}


def plot_plane(
    field: AbstractField,
    states: Float[ArrayLike, "batch time state"],
    fixed: FixedPoints,
    path: str | Path,
    *,
    grid: int = 100,
    title="",
    x: Float[ArrayLike, " inp"] | None = None,
) -> dict[str, float]:
    """The 2-D phase portrait of ``v(h, x)`` (``x``: the held input, zero by default; see the module docstring).
    ``states``: trajectories ``(trials, time, 2)``.

    Returns: the minimum and median speed on the grid (1/tau units).
    """
    plt = pyplot()
    flat = np.concatenate([states.reshape(-1, 2), fixed.points.reshape(-1, 2)])
    # 20 % around the points, and a view at least 0.1 wide (streamplot needs a well-conditioned grid)
    centre, half = (flat.min(0) + flat.max(0)) / 2, np.maximum(0.6 * np.ptp(flat, axis=0), 0.05)
    g = plane_grid(field, centre - half, centre + half, grid, x)
    held = "0" if x is None or not np.any(np.asarray(x)) else "x*"
    gated = not np.allclose(g["gate"], 1.0)
    fig, axes = plt.subplots(1, 2 if gated else 1, figsize=(12 if gated else 6.5, 5.3), squeeze=False)
    ax = axes[0, 0]
    mesh = ax.pcolormesh(g["x"], g["y"], np.log10(g["speed"] + 1e-12), cmap="viridis", shading="auto")
    fig.colorbar(mesh, ax=ax, label=f"log10 |v(h, {held})|")
    ax.streamplot(g["x"], g["y"], g["v"][..., 0], g["v"][..., 1], color="w", density=0.9, linewidth=0.4)
    ax.contour(g["x"], g["y"], g["v"][..., 0], levels=[0.0], colors="magenta", linewidths=0.9)
    ax.contour(g["x"], g["y"], g["v"][..., 1], levels=[0.0], colors="cyan", linewidths=0.9)
    for trial in states:
        ax.plot(trial[:, 0], trial[:, 1], lw=0.9, color="w", alpha=0.6)
    _draw_fixed(ax, fixed.points, fixed.stability)
    ax.set(xlabel="h1", ylabel="h2", title="speed, streamlines, nullclines (v1=0 magenta, v2=0 cyan)")
    if fixed.stability:
        ax.legend(loc="upper right", fontsize=8)
    if gated:
        bx = axes[0, 1]
        mesh = bx.pcolormesh(g["x"], g["y"], g["gate"].mean(-1), cmap="magma", shading="auto", vmin=0, vmax=1)
        fig.colorbar(mesh, ax=bx, label=f"mean gate G(h, {held})")
        bx.set(xlabel="h1", ylabel="h2", title="gate map")
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
    return {"min_speed": float(g["speed"].min()), "median_speed": float(np.median(g["speed"]))}


def plot_line(
    field: AbstractField,
    states: Float[ArrayLike, "batch time state"],
    fixed: FixedPoints,
    path: str | Path,
    *,
    title="",
    x: Float[ArrayLike, " inp"] | None = None,
) -> None:
    """A 1-D field: ``v(h, x*)`` against ``h`` over the visited range (padded), with the fixed points."""
    plt = pyplot()
    flat = np.concatenate([np.asarray(states).ravel(), np.asarray(fixed.points).ravel()])
    centre, half = (flat.min() + flat.max()) / 2, max(0.6 * np.ptp(flat), 0.05)
    h = np.linspace(centre - half, centre + half, 400, dtype=np.float32)
    x = jnp.zeros((field.input_dim,)) if x is None else jnp.asarray(x, jnp.float32)
    v = np.asarray(jax.vmap(lambda s: field.velocity(s, x))(jnp.asarray(h)[:, None]))[:, 0]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(h, v, color="k", lw=1.2)
    ax.axhline(0.0, color="0.6", lw=0.8)
    _draw_fixed(ax, np.pad(np.asarray(fixed.points).reshape(-1, 1), ((0, 0), (0, 1))), fixed.stability)
    ax.set(xlabel="h", ylabel="v(h, x*)", title=title or "1-D flow")
    if fixed.stability:
        ax.legend(fontsize=8)
    save_figure(fig, path)


def principal_axes(
    states: Float[ArrayLike, "... state"], components: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, the top principal axes ``(components, N)`` of ``states`` ``(M, N)``, and their explained variance ratio."""
    mean = states.mean(0)
    _, s, vt = np.linalg.svd(states - mean, full_matrices=False)
    return mean, vt[:components], (s**2 / np.sum(s**2))[:components]


def plot_cloud(
    states: Float[ArrayLike, "batch time state"], fixed: FixedPoints, path: str | Path, *, title=""
) -> dict[str, float]:
    """Slow points (grey), fixed points (by class) and trajectories in 3-D. Returns the variance explained."""
    plt = pyplot()
    n = states.shape[-1]
    if n == 3:
        mean, axes, explained = np.zeros(3), np.eye(3), np.ones(1)
    else:
        mean, axes, explained = principal_axes(states.reshape(-1, n))

    def project(p):
        return (np.asarray(p).reshape(-1, n) - mean) @ axes.T

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    for trial in states[:8]:
        ax.plot(*project(trial).T, lw=0.8, alpha=0.7)
    if len(fixed.slow_points):
        ax.scatter(*project(fixed.slow_points).T, s=2, c="0.5", alpha=0.4, label="slow points")
    _draw_fixed(ax, fixed.points, fixed.stability, project)
    labels = ("h1", "h2", "h3") if n == 3 else ("PC1", "PC2", "PC3")
    ax.set(xlabel=labels[0], ylabel=labels[1], zlabel=labels[2])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or ("state space" if n == 3 else f"top 3 PCs ({100 * explained.sum():.0f} % of variance)"))
    save_figure(fig, path)
    return {"explained_variance": float(explained.sum())}


def plot_readout(
    slow_readouts: Float[ArrayLike, "slow out"],
    fixed_readouts: Float[ArrayLike, "fixed out"],
    stability: list[str],
    storable: StorableSet | None,
    outputs: Float[ArrayLike, "batch time out"],
    path: str | Path,
    *,
    title="",
) -> None:
    """Readout space: the storable set (light), the readout of slow points (grey) and fixed points (by class),
    and a few output trajectories."""
    plt = pyplot()
    dim = outputs.shape[-1]
    three = dim >= 3
    fig = plt.figure(figsize=(6.5, 6))
    ax = fig.add_subplot(projection="3d") if three else fig.add_subplot()
    keep = slice(0, 3) if three else slice(0, 2)
    target = None if storable is None else storable.sample(400)[:, keep]
    # the view: the storable set and the outputs, padded; far-off points (e.g. where a gate shut) are left out
    shown = np.concatenate([outputs.reshape(-1, dim)[:, keep], *([] if target is None else [target])])
    lo, hi = shown.min(0), shown.max(0)
    lo, hi = lo - 0.15 * (hi - lo) - 1e-3, hi + 0.15 * (hi - lo) + 1e-3

    def inside(points):
        return np.all((points[:, keep] >= lo) & (points[:, keep] <= hi), axis=1)

    if target is not None:
        ax.scatter(*target.T, s=6, c="tab:green", alpha=0.25, label=f"storable: {storable.describe()}")
    for trial in outputs[:6]:
        ax.plot(*trial[:, keep].T, lw=0.7, alpha=0.6)
    if len(slow_readouts):
        ax.scatter(*slow_readouts[inside(slow_readouts)][:, keep].T, s=3, c="0.3", alpha=0.5, label="slow points")
    visible = inside(fixed_readouts)
    _draw_fixed(ax, fixed_readouts[visible][:, keep], [k for k, v in zip(stability, visible, strict=True) if v])
    outside = int(np.sum(~visible))
    for set_limit, a, b in zip((ax.set_xlim, ax.set_ylim, *((ax.set_zlim,) if three else ())), lo, hi, strict=True):
        set_limit(a, b)
    ax.set(xlabel="y1", ylabel="y2")
    if not three:
        ax.set_aspect("equal")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)
    ax.set_title((title or "readout space") + (f" ({outside} fixed points outside the view)" if outside else ""))
    save_figure(fig, path)


def plot_trajectory_spectra(
    spectra: TrajectorySpectra, inputs: Float[ArrayLike, "batch time inp"], path: str | Path, *, trial: int = 0
):
    """Along one trial: the input pulses, each local time constant (log scale) and each gate value."""
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(inputs[trial], lw=1.0)
    axes[0].set(ylabel="input")
    axes[1].semilogy(np.minimum(spectra.time_constants[trial], 1e3), lw=1.0)
    axes[1].set(ylabel="tau / |Re lambda| (s)")
    axes[2].plot(spectra.gates[trial], lw=1.0)
    axes[2].set(ylabel="gate G(h_t, x_t)", xlabel="time bin", ylim=(-0.05, 1.05))
    axes[0].set_title(f"local time constants and gates along validation trial {trial}")
    save_figure(fig, path)
