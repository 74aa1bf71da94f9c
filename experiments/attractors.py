"""Attractor analysis of trained flip-flop runs, for docs/results.md.

    python experiments/attractors.py runs/flipflop_2d/*_seed0 runs/flipflop_3bit/three_bit_variable_gnode_N6_seed0 \
        --figures docs/figures

Runs ``gnode analyze`` on each run directory (its ``analysis/`` is reused when present), copies the figures to
``--figures`` as ``RUN_<figure>.png``, and prints a markdown table and, last, a JSON object with every row.
``val_r2`` is measured on the task's own 1-s validation trials, also for runs trained with a zero-input ``hold``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

from gnode.analysis.report import analyze_run
from gnode.experiment import build, evaluate, load_run


def analysed(run: Path) -> dict:
    out = run / "analysis"
    if (out / "summary.json").exists():
        return json.loads((out / "summary.json").read_text())
    return analyze_run(run, out, title=run.name)


def standard_trial_r2(run: Path) -> float:
    """Validation R² on the task's own trials (without a trained ``hold``)."""
    model, config = load_run(run)
    _, _, val = build(dataclasses.replace(config, hold=0))
    return evaluate(model, val)["r2"]


def row(run: Path, summary: dict) -> dict:
    config = json.loads((run / "config.json").read_text())
    shape, fixed = summary.get("shape", {}), summary["fixed_points"]
    targets = summary.get("point_targets") or {}
    return {
        "run": run.name,
        "task": config["task"],
        "model": config["model"],
        "N": config["dim"],
        "hold": config.get("hold", 0),
        "val_r2": standard_trial_r2(run),
        "stable": fixed["stable"],
        "saddles": fixed["saddles"],
        "unstable": fixed["unstable"],
        "slow_points": fixed["slow_points"],
        "dimension": summary["dimension"],
        "chamfer_fraction": shape.get("chamfer_fraction"),
        "coverage": shape.get("coverage"),
        "drift_fraction": summary["drift"]["median_drift_fraction"],
        "targets_found": f"{targets['targets_found']}/{targets['targets']}" if targets else "",
        "max_target_distance": targets.get("max_target_distance"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--figures", type=Path, default=None, help="copy the figures here")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        summary = analysed(run)
        rows.append(row(run, summary))
        print(json.dumps(rows[-1]), flush=True)
        if args.figures:
            args.figures.mkdir(parents=True, exist_ok=True)
            for figure in summary["figures"]:
                shutil.copy(run / "analysis" / figure, args.figures / f"{run.name}_{figure}")
    columns = list(rows[0])

    def cell(v):
        return f"{v:.3g}" if isinstance(v, float) else "" if v is None else str(v)

    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(cell(r[c]) for c in columns) + " |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
