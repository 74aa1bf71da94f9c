"""Each model's best cell of a 27-point sweep, retrained until its validation loss stops improving.

    python experiments/flipflop_converge.py runs/sweep_27_3bit_* --out runs/flipflop_converge
    python experiments/flipflop_converge.py runs/sweep_27_2d_node --tasks square --out runs/flipflop_converge_2d

The authors' 600 epochs stop some cells while they still improve (best epoch near 600). This retrains each (task,
model)'s best cell of each sweep folder, and its neighbours in lr at the same decay and batch where the cap had cut
them off, with the same settings, seeds and data, but a cap of ``--epochs`` (5000) and a patience rule: stop after
``--patience`` (100) epochs without a better validation loss. Where the rate best after convergence is then one of
the edge ones, the next rate of the line past it is retrained too, until it is interior; past the line's ends, up to
``--extend-lr`` (2) rates of the series 1, 3, 10, 30 × 10^k are trained here at the best cell's settings (seed 0
too, "not swept" in the table). The other decays and batches are compared at the authors' 600 epochs only. With
``--seeds N`` each of those rates (but one that diverged in the sweep) runs N times, seed n setting data order and
initialisation, and the rate is chosen by the mean over seeds: one seed can favour a rate that is fragile. The model
kept is the best-validation one, as in the sweep, so the test set still chooses nothing (the flip-flop tasks have
none). Every run resumes where it stopped; run the command again after an interruption.

Prints a markdown table: the sweep's score at its epoch cap beside the converged one, the best epoch, the epochs
run and the minutes of training epochs (compilation excluded), then the rate that is best after convergence.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
from flipflop_grid import mse  # a sibling script: python puts experiments/ on the path

from gnode.experiment import RunConfig, train_run
from gnode.selection import interior_rate, next_rate
from gnode.sweep import SweepStore
from gnode.train.runs import RunDir


def cells_of(folder: Path) -> dict[tuple[str, str], list[dict]]:
    """The finished cells of a sweep folder, per (task, model)."""
    cells: dict[tuple[str, str], list[dict]] = {}
    for row in SweepStore(folder).rows():
        cells.setdefault((row["task"], row["model"]), []).append(row)
    return cells


def lr_line(cells: list[dict]) -> tuple[dict, list[dict]]:
    """The best cell, and the cells at its decay and batch (ascending lr)."""
    best = min(cells, key=lambda c: c["val_mse"])
    line = sorted(
        (c for c in cells if (c["weight_decay"], c["batch_size"]) == (best["weight_decay"], best["batch_size"])),
        key=lambda c: c["lr"],
    )
    return best, line


SETTINGS = {f.name for f in dataclasses.fields(RunConfig)}  # a sweep row's run settings (the rest are scores)


def retrain(cell: dict, out: Path, **changes) -> tuple[dict, list[dict]]:
    """Train a sweep cell again with ``changes`` (or resume it, or read it back when finished): its summary and
    its metrics, one row per epoch."""
    if (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text())
    else:
        config = RunConfig.from_dict({**{k: v for k, v in cell.items() if k in SETTINGS}, **changes})
        summary = train_run(config, out, resume=RunDir(out).started, progress=False, keep_best_on_divergence=True)
    return summary, RunDir(out).read_metrics()


def trained_columns(summary: dict, metrics: list[dict], cap: int) -> str:
    """Converged val MSE, val R², best epoch, epochs run (and why it stopped, where the patience rule did not stop
    it) and minutes of training epochs over every process."""
    run = f"{len(metrics)}{' (cap)' if len(metrics) >= cap else ''}"
    if summary.get("diverged_at_epoch"):
        run = f"{len(metrics)} (diverged at {summary['diverged_at_epoch']})"
    minutes = sum(row["seconds"] for row in metrics) / 60
    return f"{mse(summary['val_mse'])} | {summary['val_r2']:.3f} | {summary['best_epoch']} | {run} | {minutes:.0f} |"


def converge(cell: dict, best: dict, args: argparse.Namespace) -> tuple[list[float], list[str]]:
    """The converged val MSE of seed 0, 1, ... of a sweep cell (none where it diverged in the sweep), and its
    table rows."""
    task, model = cell["task"], cell["model"]
    budget, cap = {"epochs": args.epochs, "patience": args.patience}, args.epochs
    head = f"| {task} | {model} | {cell['lr']:g} | {cell['weight_decay']:g} | {cell['batch_size']} | "
    swept = cell.get("swept", True)  # False: a rate past the sweep's line (--extend-lr), trained here only
    swept_score = f"{mse(cell['val_mse'])} ({cell['best_epoch']})" if swept else "not swept"
    if swept and cell is not best and cell["diverged"]:
        return [], [head + f"{swept_score}, diverged | — | | | | |"]
    if swept and cell is not best and cell["best_epoch"] <= cell["epochs"] - args.patience:
        scores = [cell["val_mse"]]  # the patience rule had already stopped it in the sweep
        rows = [head + f"{swept_score} | {mse(cell['val_mse'])} (the sweep's) | {cell['val_r2']:.3f} | | | |"]
    else:
        out = args.out / f"{task}_{model}_lr{cell['lr']:g}"
        summary, metrics = retrain(cell, out, **budget)
        scores, rows = [summary["val_mse"]], [head + f"{swept_score} | " + trained_columns(summary, metrics, cap)]
        print(f"{out}: val MSE {mse(summary['val_mse'])}, best epoch {summary['best_epoch']}", flush=True)
    for seed in range(1, args.seeds):  # the sweep's cells ran seed 0
        out = args.out / f"{task}_{model}_lr{cell['lr']:g}_seed{seed}"
        summary, metrics = retrain(cell, out, **budget, seed=seed, model_seed=seed)
        scores.append(summary["val_mse"])
        rows.append(
            f"| {task} | {model} | {cell['lr']:g}, seed {seed} | {cell['weight_decay']:g} | "
            f"{cell['batch_size']} | | " + trained_columns(summary, metrics, cap)
        )
    if args.seeds > 1:
        rows.append(
            f"| {task} | {model} | {cell['lr']:g}, {len(scores)} seeds | | | | "
            f"{np.mean(scores):.4f} ± {np.std(scores):.4f} | | | | |"
        )
    return scores, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/flipflop_converge"))
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--patience", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=1, help="runs of each rate (seed n: data order and init n)")
    parser.add_argument("--extend-lr", type=int, default=2, help="rates past the ends of the sweep's lr line")
    parser.add_argument("--tasks", nargs="+", default=None, help="only these tasks (default: every task swept)")
    args = parser.parse_args()
    swept = {folder: cells_of(folder) for folder in args.sweeps}
    unknown = set(args.tasks or ()) - {task for cells in swept.values() for task, _ in cells}
    if unknown:
        parser.error(f"--tasks: {', '.join(sorted(unknown))} not in the sweeps given")
    lines = []
    for folder in args.sweeps:
        for (task, model), cells in swept[folder].items():
            if args.tasks is not None and task not in args.tasks:
                continue
            best, line = lr_line(cells)
            by_lr, done = {c["lr"]: c for c in line}, {}
            for up in (False, True):  # past the line's ends: the best cell's settings at the next rates
                rate = line[-1 if up else 0]["lr"]
                for _ in range(args.extend_lr):
                    rate = next_rate(rate, up)
                    by_lr[rate] = {**best, "lr": rate, "swept": False}
            by_lr = dict(sorted(by_lr.items()))

            def fit(rates: list[float], by_lr=by_lr, best=best, done=done) -> dict[float, float]:
                done.update({lr: converge(by_lr[lr], best, args) for lr in rates})
                return {lr: np.mean(done[lr][0]) if done[lr][0] else math.inf for lr in rates}  # diverged: worst

            # the best cell and its lr neighbours; while the rate best after convergence is an edge one of those,
            # the next rate of the line past it too, so that the chosen rate is interior where the grid allows
            i = line.index(best)
            neighbours = [c["lr"] for c in line[max(i - 1, 0) : i + 2]]
            choice = interior_rate(fit, neighbours, extensions=len(by_lr), ladder=list(by_lr))
            lines.extend(row for lr in sorted(done) for row in done[lr][1])
            edge = "" if choice.interior else " (still the edge of the rates tried)"
            lines.append(f"| {task} | {model} | best after convergence: lr {choice.chosen:g}{edge} | | | | | | | | |")
    print(f"\ncap {args.epochs} epochs, patience {args.patience}\n")
    print("| task | model | lr | decay | batch | sweep val MSE (its best epoch) | converged val MSE | val R² | "
          "best epoch | epochs run | minutes |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
