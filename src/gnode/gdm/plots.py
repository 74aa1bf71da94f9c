"""Figures of switching models: inferred (and true) states over time, k-step forecasts, and model-selection curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gnode.files import pyplot, save_figure


def plot_states(
    truth: np.ndarray | None, inferred: dict[str, np.ndarray], path: str | Path, *, window: int = 400
) -> None:
    """The true (possibly soft) states, where known, and each model's inferred states on one sequence, first
    ``window`` steps; one stacked-area panel each (the models' state numbers are their own)."""
    plt = pyplot()
    panels = ({} if truth is None else {"truth": truth}) | inferred
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.1 * len(panels) + 0.4), sharex=True, squeeze=False)
    for ax, (name, states) in zip(axes[:, 0], panels.items(), strict=True):
        shown = np.asarray(states)[:window]
        ax.stackplot(np.arange(len(shown)), shown.T, colors=[f"C{k}" for k in range(shown.shape[1])], lw=0)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[-1, 0].set_xlabel("time step")
    save_figure(fig, path)


def plot_forecasts(
    observed: np.ndarray, forecasts: dict[str, np.ndarray], steps: int, path: str | Path, *, window: int = 400
) -> None:
    """The first observed channel and each model's ``steps``-ahead forecast of it (aligned to the predicted time)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 2.6))
    t = np.arange(window)
    ax.plot(t, observed[:window, 0], color="black", lw=1.2, label="observed")
    for name, predicted in forecasts.items():
        shown = np.asarray(predicted)[: window - steps, 0]
        ax.plot(t[steps:], shown, lw=0.8, label=f"{name} ({steps}-step)")
    ax.set_xlabel("time step")
    ax.set_ylabel("y₁")
    ax.legend(fontsize=7, ncol=3)
    save_figure(fig, path)


def plot_selection(rows: list[dict], chosen: dict, best: dict, path: str | Path, *, ylabel: str) -> None:
    """Held-out score against the number of states (one line per latent dimension), mean ± one standard error over
    the folds; the best mean and the one-standard-error choice marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, latent in enumerate(sorted({r["latent"] for r in rows})):
        line = sorted((r for r in rows if r["latent"] == latent), key=lambda r: r["states"])
        label = f"latent {latent}" if len({r["latent"] for r in rows}) > 1 else None
        ax.errorbar([r["states"] for r in line], [r["mean"] for r in line], yerr=[r["se"] for r in line],
                    color=f"C{i}", marker="o", ms=4, capsize=3, label=label)  # fmt: skip
    ax.axhline(best["mean"] - best["se"], color="grey", lw=0.8, ls="--", label="best − 1 s.e.")
    ax.plot(chosen["states"], chosen["mean"], marker="*", ms=14, color="black", ls="", label="chosen (1 s.e.)")
    ax.set_xticks(sorted({r["states"] for r in rows}))
    ax.set_xlabel("states K")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    save_figure(fig, path)
