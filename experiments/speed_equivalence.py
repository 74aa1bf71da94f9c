"""The speed options do not change what is learned: the results.md flip-flop models trained through the scan,
with hoisted gradients (Euler's default for small batches) and with each minibatch split over the CPU cores.

    python experiments/speed_equivalence.py              # 3-bit gnODE N = 6 and 2-D ring gnODE, 40 epochs each

Each task trains the same model, from the same initialisation and data order, three ways: through the scan
(``Euler(hoisted_gradients=False)``, one device), hoisted (``Euler(hoisted_gradients=True)``, one device) and
split (every minibatch over the CPU cores, which ``fit`` would do by itself only for more work per core; a
split batch is differentiated through the scan), and, as a control, through the scan with the learning rate changed
by one part in a million. The
arithmetic is the same; only the order of float32 sums differs. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from gnode.devices import use_cpu_cores

TASKS = {  # the results.md configurations (experiments/flipflop.py)
    "three_bit_variable": dict(dim=6, widths=(100, 100, 100), initial_state="fixed"),
    "ring": dict(dim=2, widths=(316, 316), initial_state="learned"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    args = parser.parse_args()
    use_cpu_cores(os.cpu_count())  # before JAX starts

    import jax
    import jax.random as jr
    import numpy as np
    from jax.sharding import Mesh

    from gnode.model import make_model
    from gnode.solve import Euler
    from gnode.tasks import make_flipflop
    from gnode.train import TrainConfig, fit

    config_of = dict(lr=3e-3, weight_decay=1e-3, batch_size=10, epochs=args.epochs, seed=0)
    report = {"devices": jax.device_count()}
    for task in args.tasks:
        spec = TASKS[task]
        train, val = make_flipflop(task)
        channels = train.inputs.shape[-1]
        model = make_model(
            "gnode",
            spec["dim"],
            channels,
            channels,
            flow_widths=spec["widths"],
            initial_state=spec["initial_state"],
            key=jr.key(0),
        )
        config = TrainConfig(**config_of)
        one_device = {"devices": (), "progress": False}
        runs = {
            "scan": fit(model, train, val, config, integrator=Euler(hoisted_gradients=False), **one_device),
            "hoisted": fit(model, train, val, config, integrator=Euler(hoisted_gradients=True), **one_device),
            "split": fit(model, train, val, config, devices=Mesh(np.array(jax.devices()), ("batch",)), progress=False),
            # the control: the scan again with the learning rate changed by one part in a million, a change of
            # float32 round-off's size, to show how far such a change carries in these fits
            "perturbed": fit(
                model,
                train,
                val,
                dataclasses.replace(config, lr=config.lr * (1 + 1e-6)),
                integrator=Euler(hoisted_gradients=False),
                **one_device,
            ),
        }
        losses = {name: np.array([row["val_loss"] for row in run.history]) for name, run in runs.items()}
        row = {"best_val": {k: r.summary["best_val_loss"] for k, r in runs.items()}}
        for name in ("hoisted", "split", "perturbed"):
            gap = np.abs(losses[name] - losses["scan"]) / losses["scan"]
            row[f"{name}_max_relative_gap"] = float(gap.max())
            row[f"{name}_epoch_of_max_gap"] = int(gap.argmax()) + 1
            row[f"{name}_first_epoch_gap"] = float(gap[0])
        report[task] = row
        best = ", ".join(f"{k} {v:.5f}" for k, v in row["best_val"].items())
        print(
            f"{task}: best validation MSE {best}; relative gap to the scan over {args.epochs} epochs: hoisted "
            f"{row['hoisted_first_epoch_gap']:.1e} after epoch 1, at most {row['hoisted_max_relative_gap']:.1e}; "
            f"split {row['split_first_epoch_gap']:.1e} "
            f"after epoch 1, at most {row['split_max_relative_gap']:.1e}; the scan with lr x (1 + 1e-6) "
            f"{row['perturbed_first_epoch_gap']:.1e} after epoch 1, at most {row['perturbed_max_relative_gap']:.1e}",
            flush=True,
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
