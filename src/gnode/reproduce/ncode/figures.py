"""Figures of the N-CODE experiments (matplotlib, written to files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gnode.files import pyplot, save_figure


def plot_trajectories(times: np.ndarray, starts: np.ndarray, paths: dict[str, np.ndarray], path: str | Path) -> None:
    """One panel per model: z(t) from each start, coloured by the start (a neural ODE's never cross)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(paths), figsize=(3.2 * len(paths), 3.0), sharey=True, squeeze=False)
    colours = plt.cm.coolwarm((starts - starts.min()) / max(np.ptp(starts), 1e-12))
    for ax, (name, z) in zip(axes[0], paths.items(), strict=True):
        for row, colour in zip(z, colours, strict=True):
            ax.plot(times, row, color=colour, lw=1.2)
        ax.set_title(name)
        ax.set_xlabel("t")
    axes[0, 0].set_ylabel("z(t)")
    save_figure(fig, path)


def plot_curves(results: dict[str, dict], path: str | Path, *, title: str) -> None:
    """Training loss per epoch (mean over seeds) of each model, and its test NFE per sample."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.3))
    names = list(results)
    for name in names:
        loss = np.asarray(results[name]["train_loss"], float)
        loss = loss.mean(axis=1) if loss.ndim == 2 else loss
        left.plot(np.arange(1, len(loss) + 1), loss, label=name)
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.set_title(title)
    left.legend(fontsize=8)
    nfe = [float(np.mean(results[n]["test"]["nfe"])) for n in names]
    right.bar(range(len(names)), nfe, color="0.5")
    right.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    right.set_ylabel("test NFE per sample")
    right.set_ylim(0, 1.15 * max(nfe))
    for i, value in enumerate(nfe):
        right.text(i, value, f"{value:.1f}", ha="center", va="bottom", fontsize=8)
    save_figure(fig, path)


def plot_image_grid(images: np.ndarray, path: str | Path, *, title: str = "", side: int = 8) -> None:
    """Images ``(n, side * side)`` in a square grid."""
    plt = pyplot()
    n = images.shape[0]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8 + 0.4), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(np.clip(images[i].reshape(side, side), 0, 1), cmap="gray_r", vmin=0, vmax=1)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def plot_reconstructions(originals: np.ndarray, shown: dict[str, np.ndarray], path: str | Path, side: int = 8):
    """Originals in the first row, each decoder's reconstructions below."""
    plt = pyplot()
    rows = [("input", originals), *shown.items()]
    n = originals.shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.8, len(rows) * 0.9), squeeze=False)
    for r, (name, images) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.axis("off")
            ax.imshow(np.clip(images[i].reshape(side, side), 0, 1), cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_title(name, fontsize=8, loc="left")
    save_figure(fig, path)
