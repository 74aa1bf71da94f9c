"""Connector on a recording, written out: the evaluation's summary and figures, the rank selection's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax.random as jr
import numpy as np

from gnode.connector import plots
from gnode.connector.recording import Recording
from gnode.connector.runs import RecordingConfig, RecordingFit, evaluate_recording, select_rank
from gnode.files import write_json, write_text


def evaluation_report(fit: RecordingFit, data: Recording, out: str | Path, **options: Any) -> dict[str, Any]:
    """:func:`~gnode.connector.runs.evaluate_recording`, written into ``out`` as ``evaluation.json``,
    ``evaluation.md``, ``gmm_cv.png`` and (rank 2) ``flow_fields.png``; returns the summary with the table added."""
    out = Path(out)
    summary = evaluate_recording(fit, data, **options)
    out.mkdir(parents=True, exist_ok=True)
    table = evaluation_table(summary)
    write_json(out / "evaluation.json", summary)
    write_text(out / "evaluation.md", f"# Connector on {len(summary['trials'])} held-out trials\n\n{table}\n")
    gmm = {k: {int(j): v for j, v in folds.items()} for k, folds in summary["gmm_cv_folds"].items()}
    plots.plot_gmm(gmm, out / "gmm_cv.png")
    if fit.lint.rank == 2:
        latents, _ = fit.latents(data.subset(np.asarray(summary["trials"])))
        extent = float(np.abs(latents).max()) * 1.1
        first = jr.fold_in(jr.key(options.get("seed", 0)), 0)  # evaluate_recording's first draw
        sample = fit.connector.network(first, summary["count"], summary["sigma"], fit.lint.alpha,
                                       fit.lint.bias is not None)  # fmt: skip
        networks = {"LINT": fit.lint, f"Connector σ={summary['sigma']:g}": sample}
        plots.plot_fields(networks, latents, out / "flow_fields.png", extent=extent, every=1)
    return {**summary, "table": table}


def evaluation_table(summary: dict[str, Any]) -> str:
    """One markdown row per network: flow-field error against the data's latent steps and against LINT's field,
    held-out latent and rate R², and the GMM's number of populations (one standard error)."""
    lines = ["| network | field error vs data | vs LINT | latent R² | rate R² | GMM components |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, error in summary["flow_field_error"].items():
        recon = summary["reconstruction"][name]
        gmm = summary["gmm_best"].get(name, "")
        lines.append(f"| {name} | {100 * error:.1f} % | {100 * summary['flow_field_error_to_lint'][name]:.1f} % | "
                     f"{recon['latent_r2']:.3f} | {recon['rate_r2']:.3f} | {gmm} |")  # fmt: skip
    return "\n".join(lines)


def rank_report(
    data: Recording, config: RecordingConfig, ranks: tuple[int, ...], folds: int, split_seed: int, out: str | Path
) -> dict[str, Any]:
    """:func:`~gnode.connector.runs.select_rank`, written as ``selection.json``, ``selection.md`` and
    ``selection.png``; returns its result with the table added."""
    out = Path(out)
    result = select_rank(data, config, ranks, folds, split_seed)
    lines = ["| rank | held-out rate R² (mean ± s.e.) | per fold |", "|---|---|---|"]
    for row in result["rows"]:
        mark = " (chosen)" if row is result["chosen"] else ""
        folds_text = ", ".join(f"{s:.3f}" for s in row["scores"])
        lines.append(f"| {row['rank']}{mark} | {row['mean']:.3f} ± {row['se']:.3f} | {folds_text} |")
    table = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "selection.json", {**result, "config": config.to_dict()})
    write_text(out / "selection.md", f"# LINT rank by held-out reconstruction, {folds}-fold\n\n{table}\n")
    plots.plot_ranks(result, out / "selection.png")
    return {**result, "table": table}
