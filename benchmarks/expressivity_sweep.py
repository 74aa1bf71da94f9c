"""Fits per second of the expressivity sweep: one vmapped group against the same fits one after the other.

    python benchmarks/expressivity_sweep.py                  # 24 fits: gnODE N = 8, F = 1 x 64, 500 steps each
    python benchmarks/expressivity_sweep.py --members 36 --dim 16 --width 128 --depth 2

Both sides call :func:`gnode.reproduce.expressivity.fit.fit_group`, the unit of work: ``vmapped`` once with every
cell, ``sequential`` once per cell (each call compiles its own program, as one-fit-at-a-time code would). The
compiled steps alone are compared too: the median time of an epoch (50 steps) after the first, for the group
and for one fit (the median over the single fits). Run it on an idle machine. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=24)
    parser.add_argument("--model", default="gnode")
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=500)
    args = parser.parse_args()
    from gnode.reproduce.expressivity.fit import fit_group

    base = dict(model=args.model, dim=args.dim, depth=args.depth, width=args.width, iterations=args.iterations)
    knots = (2, 4, 8, 16, 32, 64)
    cells = [{**base, "knots": knots[i % len(knots)], "seed": i // len(knots)} for i in range(args.members)]

    def timed(group):
        tick = time.perf_counter()
        rows = fit_group(group)
        return time.perf_counter() - tick, rows[0]["group_epoch_seconds"]

    fit_group([{**cells[0], "dim": 2, "iterations": 100}])  # start the backend and trace the shared pieces
    vmapped, vmapped_epoch = timed(cells)
    singles = [timed([c]) for c in cells]
    sequential = sum(t for t, _ in singles)
    single_epoch = sorted(e for _, e in singles)[len(singles) // 2]
    m = len(cells)
    result = {
        "fits": m,
        "cell": base,
        "vmapped_seconds": vmapped,
        "sequential_seconds": sequential,
        "vmapped_fits_per_second": m / vmapped,
        "sequential_fits_per_second": m / sequential,
        "speedup": sequential / vmapped,
        "epoch_seconds": {"group": vmapped_epoch, "single": single_epoch},
        "speedup_without_compilation": m * single_epoch / vmapped_epoch,
    }
    print(f"{m} fits of {base}")
    print(f"  vmapped:    {vmapped:7.1f} s  ({m / vmapped:.2f} fits/s)")
    print(f"  sequential: {sequential:7.1f} s  ({m / sequential:.2f} fits/s)")
    print(f"  speedup {sequential / vmapped:.2f}x end to end (each sequential fit compiles its own program)")
    print(
        f"  compiled steps only: {m} x {single_epoch * 1e3:.1f} ms one after the other vs {vmapped_epoch * 1e3:.1f} ms"
        f" vmapped per 50 steps: {m * single_epoch / vmapped_epoch:.2f}x"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
