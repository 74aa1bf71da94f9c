"""Figures of an expressivity sweep: R² against K for each N, capacity against N, and gnODE minus nODE."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gnode.files import save_figure
from gnode.reproduce.expressivity.capacity import ungated, variant, variant_label


def _variants(table: Sequence[dict]) -> list[tuple[int, int, int, int]]:
    return sorted({variant(r) for r in table})


def plot_r2_curves(table: Sequence[dict], threshold: float, path: Path) -> None:
    """Median R² against K: a panel per (model, networks), a line per N."""
    models, flows = sorted({r["model"] for r in table}), _variants(table)
    dims = sorted({r["dim"] for r in table})
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(dims)))
    fig, axes = plt.subplots(
        len(models), len(flows), figsize=(3 * len(flows), 2.6 * len(models)), squeeze=False, sharey=True
    )
    for i, model in enumerate(models):
        for j, flow in enumerate(flows):
            ax = axes[i, j]
            for dim, colour in zip(dims, colours, strict=True):
                for r in table:
                    if (r["model"], variant(r), r["dim"]) == (model, flow, dim):
                        ks = [int(k) for k in r["median_r2"]]
                        ax.plot(ks, list(r["median_r2"].values()), "o-", ms=3, color=colour, label=f"N = {dim}")
            ax.axhline(threshold, color="grey", lw=0.8, ls="--")
            ax.set_xscale("log", base=2)
            ax.set_ylim(-0.05, 1.02)
            ax.set_title(f"{model}, {variant_label(flow)}", fontsize=9)
            ax.set_xlabel("target complexity K")
            if j == 0:
                ax.set_ylabel("median R²")
    axes[0, -1].legend(fontsize=7, loc="lower left")
    save_figure(fig, path)


def plot_capacity(table: Sequence[dict], path: Path) -> None:
    """Interpolated capacity against N: a panel per model, a line per F; hollow markers where the grid
    saturated (the capacity is at least that)."""
    models, flows = sorted({r["model"] for r in table}), _variants(table)
    colours = plt.cm.plasma(np.linspace(0, 0.85, len(flows)))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models, strict=True):
        for flow, colour in zip(flows, colours, strict=True):
            rows = sorted((r for r in table if (r["model"], variant(r)) == (model, flow)), key=lambda r: r["dim"])
            dims = [r["dim"] for r in rows]
            ax.plot(
                dims,
                [r["capacity_interpolated"] for r in rows],
                "-",
                color=colour,
                label=variant_label(flow),
            )
            for r in rows:
                ax.plot(
                    r["dim"], r["capacity_interpolated"], "o", color=colour, mfc="white" if r["saturated"] else colour
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("symlog", base=2, linthresh=1)  # capacity 0 stays on the plot
        ax.set_xlabel("state dimension N")
        ax.set_title(model)
    axes[0, 0].set_ylabel("capacity (largest K passed)")
    axes[0, -1].legend(fontsize=7)
    save_figure(fig, path)


def plot_gating(table: Sequence[dict], path: Path) -> None:
    """log2(gnODE capacity / nODE capacity) for each (N, F); "–" where either capacity is 0."""
    flows = sorted({variant(r) for r in table if r["model"] == "gnode"})
    dims = sorted({r["dim"] for r in table})
    by = {(r["model"], r["dim"], variant(r)): r["capacity_interpolated"] for r in table}
    ratio = np.full((len(dims), len(flows)), np.nan)
    for i, dim in enumerate(dims):
        for j, flow in enumerate(flows):
            g, n = by.get(("gnode", dim, flow)), by.get(("node", dim, ungated(flow)))
            if g and n:
                ratio[i, j] = np.log2(g / n)
    fig, ax = plt.subplots(figsize=(1.3 * len(flows) + 2, 0.6 * len(dims) + 1.5))
    limit = max(1.0, float(np.nanmax(np.abs(ratio)))) if np.isfinite(ratio).any() else 1.0
    image = ax.imshow(ratio, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(ratio):
        dark = not np.isnan(value) and abs(value) > 0.6 * limit
        text = "–" if np.isnan(value) else f"{value:+.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(flows)), [variant_label(f) for f in flows], fontsize=7)
    ax.set_yticks(range(len(dims)), [f"N = {d}" for d in dims])
    ax.set_title("log2(gnODE capacity / nODE capacity)", fontsize=9)
    fig.colorbar(image, ax=ax)
    save_figure(fig, path)
