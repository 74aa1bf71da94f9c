"""Where an ensemble step's time goes, and what the best formulations we could write reach.

    python benchmarks/ensemble_formulations.py       # 32 overhead-bound gnODEs, members over the CPU cores

Each formulation is timed as one model's K training steps and as the 32 members' K steps in one vmapped program
(members split over the cores, as ``fit(..., members=32)`` does), in interleaved rounds of one run:

- ``gnode``: gnode's own steps (``benchmarks/ensemble.py``), hoisted gradients on.
- ``gnode_loops_only``: the same program with the field frozen and only the initial state and the readout trained.
  The backward loop still runs (the initial state's gradient needs every state cotangent), but the replay that
  computes the field's parameter gradients after it is removed by XLA as unused: the time of gnode's two time
  loops and the rest of the step, a lower bound for any formulation that keeps those loops.
- ``jax_scan``: the hand-written gnODE of ``train_step.py``, autodiff through ``lax.scan``.
- ``jax_vjp``: the same with the hand-written custom VJP whose backward loop keeps every layer's cotangents, so
  that each weight gradient after it is one product over the (time x sample) rows, with no forward replay.

``vs_sequential`` is 32 x (gnode's one-model step) / (the ensemble step): the throughput against 32 sequential
gnode fits, the ratio of ``benchmarks/ensemble.py``. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import CONFIGS, compare

STEPS_PER_CALL = 10


def handwritten_steps(cfg, members: int, rollout):
    """The hand-written gnODE's (one model, ensemble) step functions (``train_step.handwritten_loss``)."""
    import jax
    import jax.numpy as jnp
    import optax
    from train_step import adamw_steps, handwritten_loss, handwritten_params

    from gnode.train.step import shard_members

    optimizer = optax.adamw(1e-3, weight_decay=1e-2)
    steps = adamw_steps(jax.value_and_grad(functools.partial(handwritten_loss, rollout=rollout)), optimizer)

    params = handwritten_params(cfg)
    # members differ (as separately initialised models do): each weight scaled by its own factor
    scales = 1.0 + 0.01 * jnp.arange(members, dtype=jnp.float32)
    stacked = jax.tree_util.tree_map(lambda a: scales.reshape(-1, *([1] * a.ndim)) * a, params)
    rng = np.random.default_rng(0)
    shape = (members, STEPS_PER_CALL, cfg["batch"], cfg["steps"], cfg["channels"])
    xs = jnp.asarray(rng.normal(size=shape), jnp.float32)
    ys = jnp.asarray(rng.normal(size=shape), jnp.float32)
    one = (params, optimizer.init(params), xs[0], ys[0])
    many = shard_members((stacked, jax.vmap(optimizer.init)(stacked), xs, ys), members)
    single, ensemble = jax.jit(steps), jax.jit(jax.vmap(steps))
    return lambda: jax.block_until_ready(single(*one)), lambda: jax.block_until_ready(ensemble(*many))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--config", default="overhead", choices=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from gnode.devices import use_cpu_cores

    use_cpu_cores()  # before JAX starts

    import jax
    from ensemble import gnode_steps
    from train_step import hoisted_rollout, plain_rollout

    cfg, members = CONFIGS[args.config], args.members
    builders = {
        "gnode": lambda: gnode_steps(cfg, members, train_field=True),
        "gnode_loops_only": lambda: gnode_steps(cfg, members, train_field=False),
        "jax_scan": lambda: handwritten_steps(cfg, members, plain_rollout),
        "jax_vjp": lambda: handwritten_steps(cfg, members, hoisted_rollout()),
    }
    fns = {}
    for name, build in builders.items():
        fns[f"{name}/one"], fns[f"{name}/ensemble"] = build()
    times = compare(fns, rounds=args.rounds)
    per_step = {key: 1e3 * t / STEPS_PER_CALL for key, t in times.items()}
    sequential = per_step["gnode/one"]
    rows = {}
    for name in builders:
        one, ensemble = per_step[f"{name}/one"], per_step[f"{name}/ensemble"]
        rows[name] = {
            "one_model_step_ms": one,
            "ensemble_step_ms": ensemble,
            "vs_own_single": members * one / ensemble,
            "vs_sequential": members * sequential / ensemble,
        }
        print(
            f"{name:17s} one model {one:6.3f} ms  ensemble {ensemble:7.3f} ms  "
            f"vs its own single {rows[name]['vs_own_single']:.2f}x  vs 32 sequential gnode fits "
            f"{rows[name]['vs_sequential']:.2f}x"
        )
    print(json.dumps({"config": args.config, "members": members, "devices": jax.device_count(), **rows}))


if __name__ == "__main__":
    main()
