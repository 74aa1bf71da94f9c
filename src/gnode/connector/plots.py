"""Figures of the Connector pipeline: flow fields, marginals of n, GMM cross-validation curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gnode.connector.lowrank import LowRankRNN
from gnode.files import pyplot, save_figure
from gnode.selection import fold_mean_se


def _field(ax, network: LowRankRNN, extent: float = 2.4, size: int = 30) -> None:
    axis = np.linspace(-extent, extent, size)
    a, b = np.meshgrid(axis, axis)
    grid = np.stack([a.ravel(), b.ravel()], axis=1)
    v = np.asarray(network.latent_velocity(grid)).reshape(size, size, 2)
    speed = np.linalg.norm(v, axis=-1)
    ax.pcolormesh(a, b, np.log10(speed + 1e-4), cmap="Greys", shading="auto")
    ax.streamplot(a, b, v[..., 0], v[..., 1], color="tab:blue", density=0.8, linewidth=0.7, arrowsize=0.7)
    ax.set_aspect("equal")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)


def plot_flow(network: LowRankRNN, latents: np.ndarray, path: str | Path, *, title: str = "", every: int = 7) -> None:
    """The latent flow field (log speed, streamlines) and every ``every``-th trial's trajectory."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    _field(ax, network)
    for trial in latents[::every]:
        ax.plot(trial[:, 0], trial[:, 1], color="tab:red", lw=0.6, alpha=0.7)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("κ₁")
    ax.set_ylabel("κ₂")
    save_figure(fig, path)


def plot_fields(
    networks: dict[str, LowRankRNN], latents: np.ndarray, path: str | Path, *, extent: float = 2.4, every: int = 0
) -> None:
    """One flow-field panel per network (rank 2; with inputs, at ũ = 0), the same grid and colour scale; with
    ``every`` > 0, every ``every``-th trial's latent trajectory over each."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(networks), figsize=(3.2 * len(networks), 3.4), squeeze=False)
    for ax, (name, network) in zip(axes[0], networks.items(), strict=True):
        _field(ax, network, extent)
        for trial in latents[::every] if every else ():
            ax.plot(trial[:, 0], trial[:, 1], color="tab:red", lw=0.6, alpha=0.7)
        ax.set_title(name, fontsize=9)
    save_figure(fig, path)


def plot_marginals(clouds: dict[str, np.ndarray], path: str | Path) -> None:
    """Histograms of each component of n for each source."""
    plt = pyplot()
    dims = next(iter(clouds.values())).shape[1]
    fig, axes = plt.subplots(1, dims, figsize=(4.0 * dims, 3.0), squeeze=False)
    for d, ax in enumerate(axes[0]):
        values = np.concatenate([c[:, d] for c in clouds.values()])
        bins = np.linspace(np.percentile(values, 0.5), np.percentile(values, 99.5), 60)
        for name, cloud in clouds.items():
            ax.hist(cloud[:, d], bins=bins, histtype="step", density=True, label=name)
        ax.set_xlabel(f"n{d + 1}")
    axes[0, 0].legend(fontsize=7)
    save_figure(fig, path)


def plot_gmm(scores: dict[str, dict[int, list[float]]], path: str | Path) -> None:
    """Held-out log-likelihood (mean ± standard error over folds) against the number of mixture components."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name, by_k in scores.items():
        ks = sorted(by_k)
        mean, se = zip(*(fold_mean_se(by_k[k]) for k in ks), strict=True)
        ax.errorbar(ks, mean, yerr=se, marker="o", capsize=2, label=name)
    ax.set_xlabel("mixture components")
    ax.set_ylabel("held-out log-likelihood per neuron")
    ax.legend(fontsize=7)
    save_figure(fig, path)


def plot_ranks(selection: dict, path: str | Path) -> None:
    """Held-out rate R² (mean ± standard error over folds) against the rank, the one-standard-error choice marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    rows = selection["rows"]
    ax.errorbar([r["rank"] for r in rows], [r["mean"] for r in rows], yerr=[r["se"] for r in rows], marker="o",
                capsize=2)  # fmt: skip
    ax.axvline(selection["chosen"]["rank"], color="k", ls="--", lw=0.8, label="chosen (one standard error)")
    ax.set_xlabel("rank R")
    ax.set_ylabel("held-out rate R²")
    ax.legend(fontsize=7)
    save_figure(fig, path)
