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


def gnode_steps(cfg, members: int, train_field: bool):
    """gnode's (one model, ensemble) step functions, ready to time; ``train_field=False`` freezes the field."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    from gnode.losses import MSE
    from gnode.model import make_model, trainable
    from gnode.solve import Euler
    from gnode.train.objective import SequenceObjective
    from gnode.train.optim import adamw
    from gnode.train.step import make_steps, shard_members

    build = lambda key: make_model(  # noqa: E731
        "gnode", cfg["n"], cfg["channels"], cfg["channels"], flow_widths=cfg["widths"], key=key
    )
    models = eqx.filter_vmap(build)(jr.split(jr.key(0), members))
    mask = trainable(models)
    if not train_field:
        mask = eqx.tree_at(lambda m: m.field, mask, jax.tree_util.tree_map(lambda _: False, mask.field))
    params, rest = eqx.partition(models, mask)
    frozen, static = eqx.partition(rest, eqx.is_array)
    optimizer = adamw(1e-3, injectable=True)
    opt_state = jax.vmap(optimizer.init)(params)
    steps = make_steps(static, optimizer, SequenceObjective(MSE(), Euler()))
    rng = np.random.default_rng(0)
    count = cfg["batch"] * STEPS_PER_CALL
    x = jnp.asarray(rng.normal(size=(members, count, cfg["steps"], cfg["channels"])), jnp.float32)
    y = jnp.asarray(rng.normal(size=(members, count, cfg["steps"], cfg["channels"])), jnp.float32)
    data = {"inputs": x, "targets": y, "mask": None, "times": None}
    order = jnp.arange(count).reshape(STEPS_PER_CALL, cfg["batch"])
    one = jax.tree_util.tree_map(lambda a: a[0], (params, frozen, opt_state, data))
    single, ensemble = jax.jit(steps), jax.jit(jax.vmap(steps, in_axes=(0, 0, 0, 0, None)))
    sharded = shard_members((params, frozen, opt_state, data), members)
    return (
        lambda: jax.block_until_ready(single(*one, order)),
        lambda: jax.block_until_ready(ensemble(*sharded, order)),
    )


def handwritten_steps(cfg, members: int, rollout):
    """The hand-written gnODE's (one model, ensemble) step functions (``train_step.handwritten_loss``)."""
    import jax
    import jax.numpy as jnp
    import optax
    from train_step import handwritten_loss, handwritten_params

    optimizer = optax.adamw(1e-3, weight_decay=1e-2)
    value_and_grad = jax.value_and_grad(functools.partial(handwritten_loss, rollout=rollout))

    def steps(p, opt_state, xs, ys):
        def one(carry, xy):
            p, s = carry
            value, grads = value_and_grad(p, *xy)
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        return jax.lax.scan(one, (p, opt_state), (xs, ys))

    params = handwritten_params(cfg)
    # members differ (as separately initialised models do): each weight scaled by its own factor
    scales = 1.0 + 0.01 * jnp.arange(members, dtype=jnp.float32)
    stacked = jax.tree_util.tree_map(lambda a: scales.reshape(-1, *([1] * a.ndim)) * a, params)
    rng = np.random.default_rng(0)
    shape = (members, STEPS_PER_CALL, cfg["batch"], cfg["steps"], cfg["channels"])
    xs = jnp.asarray(rng.normal(size=shape), jnp.float32)
    ys = jnp.asarray(rng.normal(size=shape), jnp.float32)
    from gnode.train.step import shard_members

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
