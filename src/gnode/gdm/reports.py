"""The files ``gnode gdm infer`` and ``gnode gdm select`` write: arrays, scores, tables and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gnode.files import save_arrays, write_json, write_text
from gnode.gdm import plots
from gnode.gdm.data import SwitchingData
from gnode.gdm.metrics import matched_accuracy, mean_r2, switching_rate
from gnode.gdm.runs import SwitchingConfig, SwitchingFit, held_out_score, infer_switching, select_states


def infer_report(fit: SwitchingFit, data: SwitchingData, out: str | Path, *, steps: int = 10, seed: int = 0) -> dict:
    """Infer ``data`` (:func:`~gnode.gdm.runs.infer_switching`) and write ``inferred.npz``, ``summary.json``,
    ``states.png`` (the first trial's states) and ``forecasts.png`` (its first channel and k-step forecast).

    Returns:
        The summary: held-out score per step, one-step and k-step R² (pooled over the trials' real steps),
        switching rate, and where ``data`` has known states the accuracy after matching state names.
    """
    out = Path(out)
    inferred = infer_switching(fit, data, steps, seed)
    mask = data.mask
    ahead = mask & (np.arange(mask.shape[1])[None, :] >= steps)
    labels = inferred["states"].argmax(-1)
    summary: dict[str, Any] = {
        "model": fit.config.model,
        "states": fit.config.states,
        "trials": data.num_trials,
        "score_per_step": held_out_score(fit, data),
        "one_step_r2": mean_r2(inferred["reconstruction"][mask], data.observations[mask]),
        f"{steps}_step_r2": mean_r2(inferred["forecast"][ahead], data.observations[ahead]),
        "switching_rate": float(np.mean([switching_rate(labels[i, :n]) for i, n in enumerate(data.lengths)])),
        "state_usage": np.bincount(labels[mask], minlength=fit.config.states).tolist(),
    }
    if data.states is not None:
        summary["matched_state_accuracy"] = matched_accuracy(labels[mask], data.states[mask])
    out.mkdir(parents=True, exist_ok=True)
    save_arrays(out / "inferred.npz", **inferred)
    write_json(out / "summary.json", summary)
    first = int(data.lengths[0])
    panels = {fit.config.model: inferred["states"][0, :first]}
    truth = None if data.states is None else np.eye(max(int(data.states.max()) + 1, 2))[data.states[0, :first]]
    plots.plot_states(truth, panels, out / "states.png", window=first)
    plots.plot_forecasts(data.observations[0, :first], {fit.config.model: inferred["forecast"][0, steps:first]},
                         steps, out / "forecasts.png", window=first)  # fmt: skip
    return summary


def selection_table(result: dict) -> str:
    """The candidates' mean held-out score ± s.e., as a Markdown table."""
    several = len({r["latent"] for r in result["rows"]}) > 1
    head = "| K |" + (" latent |" if several else "") + " score per step (mean ± s.e.) | |"
    lines = [head, "|---|" + ("---|" if several else "") + "---|---|"]
    for r in result["rows"]:
        marks = [name for name, row in (("best", result["best"]), ("chosen (1 s.e.)", result["chosen"])) if r is row]
        mark = ", ".join(marks)
        latent = f" {r['latent']} |" if several else ""
        lines.append(f"| {r['states']} |{latent} {r['mean']:.4f} ± {r['se']:.4f} | {mark} |")
    return "\n".join(lines)


def selection_report(
    data: SwitchingData,
    config: SwitchingConfig,
    states: tuple[int, ...],
    latents: tuple[int, ...],
    folds: int,
    split_seed: int,
    out: str | Path,
) -> dict:
    """:func:`~gnode.gdm.runs.select_states`, written as ``selection.json``, ``selection.md`` and
    ``selection.png``; returns its result with the table added."""
    out = Path(out)
    result = select_states(data, config, states, latents, folds, split_seed)
    table = selection_table(result)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "selection.json", {**result, "model": config.model, "config": config.to_dict()})
    write_text(out / "selection.md", f"# {config.model}: held-out score per step, {folds}-fold\n\n{table}\n")
    plots.plot_selection(result["rows"], result["chosen"], result["best"], out / "selection.png",
                         ylabel="held-out score per step")  # fmt: skip
    return {**result, "table": table}
