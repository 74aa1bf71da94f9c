"""The learning-rate grid of ``gnode ncode digits``: per model and rate, the mean best-validation loss over seeds and
how many seeds diverged.

    python experiments/ncode_digits_rates.py runs/ncode/digits     # or experiments/results/ncode_digits

Reads the folder's ``summary.json`` (the rates tried, their mean best-validation losses and the rate chosen) and
its ``units/`` (one per model and rate: each seed's record). A seed counts as diverged when its unit says so, or
(units written before units recorded it) when its training loss in the last epoch run is NaN: a diverged member's
losses are NaN from its divergence on.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from gnode.reproduce.ncode.builders import MODELS
from gnode.train.runs import UnitStore


def diverged_seeds(record: dict) -> int:
    if "diverged" in record:
        return int(sum(record["diverged"]))
    return sum(math.isnan(v) for v in record["train_loss"][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    summary = json.loads((args.folder / "summary.json").read_text())
    units = UnitStore(args.folder)  # the run's own settings: read, not checked
    rates = sorted({float(lr) for r in summary["models"].values() for lr in r["val_loss_by_lr"]})
    lines = ["| model | " + " | ".join(f"{lr:g}" for lr in rates) + " | chosen |", "|---|" + "---|" * (len(rates) + 1)]
    for name, result in sorted(summary["models"].items(), key=lambda item: MODELS.index(item[0])):  # keys sorted
        cells = []
        means = {float(lr): value for lr, value in result["val_loss_by_lr"].items()}  # the choice's own numbers
        for lr in rates:
            if lr not in means:
                cells.append("—")
                continue
            found = units.read(f"{name}_lr{lr:g}")
            if found is None:
                parser.error(f"{args.folder}: unit {name}_lr{lr:g} is missing or not a unit's file")  # exit 2, no table
            record = found[1]["record"]
            seeds, diverged = len(record["val_loss"]), diverged_seeds(record)
            cells.append(f"{means[lr]:.3f}" + (f" ({diverged} of {seeds} diverged)" if diverged else ""))
        interior = "" if result["lr_interior"] else " (edge)"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {result['lr']:g}{interior} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
