"""Flip-flop results for docs/results.md.

    python experiments/flipflop.py 2d   --out runs/flipflop_2d     # 2-D gnODE vs nODE, F = [316, 316]
    python experiments/flipflop.py 3bit --out runs/flipflop_3bit   # variable-amplitude 3-bit, 5 models
    python experiments/flipflop.py 2d --out runs/flipflop_2d_hold --init-from runs/flipflop_2d_300 \
        --hold 400 --lr 1e-3 --epochs 60   # fine-tune the 2-D runs on trials followed by a 4-s zero-input hold

Each run is an ordinary ``gnode train`` run directory (config, metrics, checkpoints, summary.json);
a finished run is skipped, so an interrupted suite resumes where it stopped, and a larger ``--epochs``
continues the finished runs from their checkpoints (as ``gnode train --resume --epochs``). The last lines printed
are a markdown table and a JSON object with every row.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gnode.experiment import RunConfig, train_run

SUITES = {
    # 2-D tasks: N = 2, F = [316, 316] ReLU, learned h0 (gnode.md section 3.2); one setting of the authors' grid
    # range, batch 10, is used instead of the whole 27-point grid.
    "2d": [
        dict(task=task, model=model, dim=2, dynamics=(316, 316), lr=3e-3, weight_decay=1e-3, batch_size=10)
        for task in ("square", "rectangle", "ring", "annulus", "four_point")
        for model in ("gnode", "node")
    ],
    # Variable-amplitude 3-bit: gnODE N = 6, F = [100, 100, 100] against N = 100 baselines, fixed h0 (the authors'
    # setting); one optimiser setting for every model (lr 3e-3, decay 1e-3, batch 10) instead of the 27-point grid.
    "3bit": [
        dict(task="three_bit_variable", model="gnode", dim=6, dynamics=(100, 100, 100)),
        dict(task="three_bit_variable", model="node", dim=100, dynamics=(100, 100, 100)),
        dict(task="three_bit_variable", model="gru", dim=100, dynamics=()),
        dict(task="three_bit_variable", model="mgru", dim=100, dynamics=()),
        dict(task="three_bit_variable", model="rnn", dim=100, dynamics=()),
    ],
}
COMMON = {"2d": dict(), "3bit": dict(initial_state="fixed", lr=3e-3, weight_decay=1e-3, batch_size=10)}


def selected(spec: dict, only: list[str] | None) -> bool:
    """``--only square ring gnode``: the tasks named (all if none) crossed with the models named (all if none)."""
    if not only:
        return True
    suites = [s for specs in SUITES.values() for s in specs]
    tasks = [o for o in only if o in {s["task"] for s in suites}]
    models = [o for o in only if o in {s["model"] for s in suites}]
    return (not tasks or spec["task"] in tasks) and (not models or spec["model"] in models)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="*", default=None, help="restrict to these tasks and/or models")
    parser.add_argument("--lr", type=float, default=None, help="learning rate for every run (default: the suite's)")
    parser.add_argument("--hold", type=int, default=0, help="zero-input bins appended to every trial")
    parser.add_argument(
        "--init-from", type=Path, default=None, help="start each run from the same-named run in this directory"
    )
    args = parser.parse_args()

    rows = []
    for seed in args.seeds:
        for spec in SUITES[args.suite]:
            if not selected(spec, args.only):
                continue
            name = f"{spec['task']}_{spec['model']}_N{spec['dim']}_seed{seed}"
            config = RunConfig(
                **{**COMMON[args.suite], **spec, **({"lr": args.lr} if args.lr else {})},
                epochs=args.epochs,
                model_seed=seed,
                seed=seed,
                hold=args.hold,
                init_from=str(args.init_from / name) if args.init_from else "",
            )
            out = args.out / name
            previous = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else None
            if previous and (previous["epochs"] >= args.epochs or previous.get("diverged_at_epoch")):
                summary = previous
            else:  # new, interrupted, or asked for more epochs than it has: (re)start from its checkpoint
                tick = time.perf_counter()
                summary = train_run(
                    config, out, resume=(out / "checkpoint.npz").is_file(), progress=False, keep_best_on_divergence=True
                )
                summary["wall_seconds"] = time.perf_counter() - tick
                (out / "summary.json").write_text(json.dumps(summary, indent=2))
            rows.append({**summary, "seed": seed, "lr": config.lr, "batch": config.batch_size})
            diverged = (
                f"  (diverged at epoch {summary['diverged_at_epoch']})" if summary.get("diverged_at_epoch") else ""
            )
            print(
                f"{spec['task']:>20} {spec['model']:>6} N={spec['dim']:<3} seed {seed}: "
                f"val MSE {summary['val_mse']:.4f}  R2 {summary['val_r2']:.4f}{diverged}",
                flush=True,
            )

    print("\n| task | model | N | F | params | seeds | val MSE | val R² | diverged |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["task"], r["model"], r["dim"], tuple(r["dynamics"])), []).append(r)
    for (task, model, dim, dyn), rs in groups.items():
        mse = np.array([r["val_mse"] for r in rs])
        r2 = np.array([r["val_r2"] for r in rs])
        spread = lambda a: f"{a.mean():.4f}" + (f" ± {a.std():.4f}" if len(a) > 1 else "")  # noqa: E731
        print(
            f"| {task} | {model} | {dim} | {list(dyn)} | {rs[0]['parameters']} | {len(rs)} | {spread(mse)} | "
            f"{spread(r2)} | {sum(bool(r.get('diverged_at_epoch')) for r in rs)} |"
        )
    print(json.dumps({"suite": args.suite, "epochs": args.epochs, "hold": args.hold, "rows": rows}))


if __name__ == "__main__":
    main()
