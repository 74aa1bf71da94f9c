"""Each model's best cell of a 27-point sweep, retrained until its validation loss stops improving.

    python experiments/flipflop_converge.py runs/sweep_27_3bit_* --out runs/flipflop_converge

The authors' 600 epochs stop some cells while they still improve (best epoch near 600). This retrains each (task,
model)'s best cell of each sweep folder with the same settings, seeds and data, but a cap of ``--epochs`` (5000) and
the patience rule of bench-real: stop after ``--patience`` (100) epochs without a better validation loss. The model
kept is the best-validation one, as in the sweep, so the test set still chooses nothing (the flip-flop tasks have
none). Every run resumes where it stopped; run the command again after an interruption.

Prints a markdown table: the sweep's score at the 600-epoch cap beside the converged one, the best epoch, the epochs
run and the wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from gnode.experiment import RunConfig, train_run
from gnode.train.runs import RunDir


def best_cells(folder: Path) -> list[dict]:
    """The lowest-validation-MSE row of each (task, model) of a sweep folder (its groups/*.json)."""
    rows = [row for path in sorted((folder / "groups").glob("*.json")) for row in json.loads(path.read_text())["rows"]]
    best: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["task"], row["model"])
        if key not in best or row["val_mse"] < best[key]["val_mse"]:
            best[key] = row
    return list(best.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/flipflop_converge"))
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--patience", type=int, default=100)
    args = parser.parse_args()
    settings = {f.name for f in dataclasses.fields(RunConfig)}
    lines = []
    for folder in args.sweeps:
        for cell in best_cells(folder):
            values = {k: v for k, v in cell.items() if k in settings}
            config = RunConfig.from_dict({**values, "epochs": args.epochs, "patience": args.patience})
            out = args.out / f"{cell['task']}_{cell['model']}"
            finished = (out / "summary.json").exists()
            summary = json.loads((out / "summary.json").read_text()) if finished else None
            if summary is None:
                summary = train_run(config, out, resume=RunDir(out).started, progress=False,
                                    keep_best_on_divergence=True)  # fmt: skip
            epochs_run = len(RunDir(out).read_metrics())
            lines.append(
                f"| {cell['task']} | {cell['model']} | {cell['lr']:g} | {cell['weight_decay']:g} | "
                f"{cell['batch_size']} | {cell['val_mse']:.4f} ({cell['best_epoch']}) | {summary['val_mse']:.4f} | "
                f"{summary['val_r2']:.3f} | {summary['best_epoch']} | {epochs_run}"
                f"{' (cap)' if epochs_run >= args.epochs else ''} | "
                f"{summary['train_seconds_this_process'] / 60:.0f} |"
            )
            print(f"{out}: val MSE {summary['val_mse']:.4f}, best epoch {summary['best_epoch']}", flush=True)
    print(f"\ncap {args.epochs} epochs, patience {args.patience}\n")
    print("| task | model | lr | decay | batch | sweep val MSE (best epoch of 600) | converged val MSE | val R² | "
          "best epoch | epochs run | minutes (last process) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
