"""When to split a minibatch over the CPU devices: gnode's train step with each minibatch split over the devices
against the same step on one device, for each config at several batch sizes.

    python benchmarks/data_parallel.py                      # every config at batch 8, 16, 32, 64, 100
    python benchmarks/data_parallel.py --batches 16 64 --configs three_bit

The ratio split / one device below 1 means the split pays. ``gnode.train.step.MIN_WORK_PER_DEVICE`` (the least
work, samples x trained parameters, for which ``gnode.fit`` gives a device a share of the minibatch) is read off
this table; the column ``work`` is that product. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import CONFIGS, compare


def parameter_count(cfg) -> int:
    """The trained parameters of the config's gnODE, as ``gnode.fit`` counts them."""
    import jax.random as jr

    from gnode.model import make_model, parameter_count

    n, d = cfg["n"], cfg["channels"]
    return parameter_count(make_model("gnode", n, d, d, flow_widths=cfg["widths"], key=jr.key(0)))


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
    from train_step import STEPS_PER_CALL, gnode_step

    devices = jax.device_count()
    rows = []
    for name in args.configs:
        for batch in args.batches:
            if batch % devices:
                continue
            cfg = dict(CONFIGS[name], batch=batch)
            work = batch // devices * parameter_count(cfg)
            times = compare({"one": gnode_step(cfg, False), "split": gnode_step(cfg, True)}, rounds=args.rounds)
            row = {
                "config": name,
                "batch": batch,
                "per_device": batch // devices,
                "work": work,
                "one_device_ms": 1e3 * times["one"] / STEPS_PER_CALL,
                "split_ms": 1e3 * times["split"] / STEPS_PER_CALL,
                "ratio": times["split"] / times["one"],
            }
            rows.append(row)
            print(
                f"{name:10s} batch {batch:4d} ({row['per_device']:3d} per device, work {work:9,d}): one device "
                f"{row['one_device_ms']:7.2f} ms, split {row['split_ms']:7.2f} ms, ratio {row['ratio']:.2f}",
                flush=True,
            )
    print(json.dumps({"devices": devices, "rows": rows}))


if __name__ == "__main__":
    main()
