"""How gnode differentiates a minibatch, measured: its train step through the scan and with hoisted gradients on one
device, and split over the CPU devices, for each config at several batch sizes.

    python benchmarks/data_parallel.py                      # every config at batch 8, 16, 32, 64, 100
    python benchmarks/data_parallel.py --batches 16 64 --configs three_bit

``gnode.solve.HOISTED_MAX_WORK`` (the most work, batch x parameters, that ``Euler`` hoists by default) and
``gnode.train.step.MIN_WORK_PER_DEVICE`` (the least work per device, samples x parameters, for which ``gnode.fit``
splits a minibatch) are read off this table. Ratios below 1 mean the option pays: ``hoisted / scan`` on one device,
``split / best one-device``. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import CONFIGS, compare


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batches", nargs="+", type=int, default=[8, 16, 32, 64, 100])
    parser.add_argument("--devices", type=int, default=os.cpu_count(), help="CPU devices to split over")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from gnode.devices import use_cpu_cores

    use_cpu_cores(args.devices)  # before JAX starts
    import jax
    from train_step import STEPS_PER_CALL, gnode_model, gnode_step

    from gnode.model import parameter_count

    devices = jax.device_count()
    rows = []
    for name in args.configs:
        for batch in args.batches:
            if batch % devices:
                continue
            cfg = dict(CONFIGS[name], batch=batch)
            parameters = parameter_count(gnode_model(cfg))
            fns = {"scan": gnode_step(cfg, False, False), "hoisted": gnode_step(cfg, False, True)}
            times = compare({**fns, "split": gnode_step(cfg, True)}, rounds=args.rounds)
            ms = {k: 1e3 * v / STEPS_PER_CALL for k, v in times.items()}
            row = {
                "config": name,
                "batch": batch,
                "work": batch * parameters,
                "work_per_device": batch // devices * parameters,
                **{f"{k}_ms": v for k, v in ms.items()},
                "hoisted_over_scan": times["hoisted"] / times["scan"],
                "split_over_one_device": times["split"] / min(times["scan"], times["hoisted"]),
            }
            rows.append(row)
            print(
                f"{name:10s} batch {batch:4d} (work {row['work']:10,d}, per device {row['work_per_device']:10,d}): "
                f"scan {ms['scan']:7.2f} ms, hoisted {ms['hoisted']:7.2f} ms, split {ms['split']:7.2f} ms; "
                f"hoisted/scan {row['hoisted_over_scan']:.2f}, split/one device {row['split_over_one_device']:.2f}",
                flush=True,
            )
    print(json.dumps({"devices": devices, "rows": rows}))


if __name__ == "__main__":
    main()
