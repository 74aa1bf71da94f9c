"""The best cell of each model's 27-point sweep (the authors' lr x decay x batch grid), per task.

    python experiments/flipflop_grid.py runs/sweep_27_3bit_* runs/sweep_27_2d_*

Reads each sweep folder's results.csv (written by ``gnode sweep``). The best cell is the one with the lowest
validation MSE of its best-validation parameters, as the authors chose; the flip-flop tasks have no test split, so
these are validation scores, as in docs/results.md. "lr at the edge" says whether the best cell's learning rate is
the grid's smallest or largest; the wall time is the sum of the sweep's groups (each run once, with compilation).
Prints a markdown table and, per model and task, the validation MSE of every cell as a JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "results.csv") as file:
        return list(csv.DictReader(file))


def mse(value: float) -> str:
    """Four decimals, or two significant digits below 1e-3 (the 2-D tasks reach 1e-8)."""
    return f"{value:.4f}" if value >= 1e-3 else f"{value:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", nargs="+", type=Path)
    args = parser.parse_args()
    print("| task | model | N | cells | best: lr | decay | batch | val MSE | val R² | best epoch | lr at the edge | "
          "diverged cells | sweep wall time (min) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    details = []
    for folder in args.sweeps:
        rows = read_rows(folder)
        for task in dict.fromkeys(r["task"] for r in rows):
            for model in dict.fromkeys(r["model"] for r in rows if r["task"] == task):
                mine = [r for r in rows if r["task"] == task and r["model"] == model]
                best = min(mine, key=lambda r: float(r["val_mse"]))
                rates = sorted({float(r["lr"]) for r in mine})
                edge = float(best["lr"]) in (rates[0], rates[-1])
                seconds = sum({r["group_seconds"]: float(r["group_seconds"]) for r in mine}.values())
                diverged = sum(r["diverged"] == "True" for r in mine)
                print(
                    f"| {task} | {model} | {best['dim']} | {len(mine)} | {float(best['lr']):g} | "
                    f"{float(best['weight_decay']):g} | {best['batch_size']} | {mse(float(best['val_mse']))} | "
                    f"{float(best['val_r2']):.3f} | {best['best_epoch']} | {'yes' if edge else 'no'} | {diverged} | "
                    f"{seconds / 60:.0f} |"
                )
                cells = {f"lr={float(r['lr']):g} decay={float(r['weight_decay']):g} batch={r['batch_size']}":
                         round(float(r["val_mse"]), 5) for r in mine}  # fmt: skip
                details.append({"task": task, "model": model, "val_mse": cells})
    for line in details:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
