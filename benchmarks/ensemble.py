"""Ensemble throughput: S models of equal shape trained in one vmapped program vs S sequential fits.

    python benchmarks/ensemble.py                  # 32 overhead-bound gnODEs (N=4, F=[32,32], batch 8, T=100)
    python benchmarks/ensemble.py --members 8 --config three_bit

Both sides run gnode's own training steps (``gnode.train.step.make_steps``, K steps per jitted call); the
ensemble side is what ``fit(..., members=S)`` runs. Each member has its own initialisation and data.
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import CONFIGS, compare

STEPS_PER_CALL = 10


def gnode_steps(cfg, members: int, train_field: bool = True, unroll: int = 1):
    """gnode's training steps as timed calls: (one model's, all ``members``' in one vmapped program with the
    members split over the devices). ``train_field=False`` freezes the field (only the initial state and the
    readout train); ``unroll``: ``lax.scan`` unroll of the time loop."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    from train_step import gnode_model

    from gnode.losses import MSE
    from gnode.model import trainable
    from gnode.solve import Euler
    from gnode.train.objective import SequenceObjective
    from gnode.train.optim import adamw
    from gnode.train.step import make_steps, shard_members

    models = eqx.filter_vmap(lambda key: gnode_model(cfg, key))(jr.split(jr.key(0), members))
    mask = trainable(models)
    if not train_field:
        mask = eqx.tree_at(lambda m: m.field, mask, jax.tree_util.tree_map(lambda _: False, mask.field))
    params, rest = eqx.partition(models, mask)
    frozen, static = eqx.partition(rest, eqx.is_array)
    optimizer = adamw(1e-3, injectable=True)
    opt_state = jax.vmap(optimizer.init)(params)
    steps = make_steps(static, optimizer, SequenceObjective(MSE(), Euler(unroll=unroll)))
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--config", default="overhead", choices=list(CONFIGS))
    parser.add_argument("--unroll", type=int, default=1, help="lax.scan unroll of the time loop")
    parser.add_argument("--devices", type=int, default=os.cpu_count(), help="CPU devices the members are split over")
    args = parser.parse_args()

    from gnode.devices import use_cpu_cores

    use_cpu_cores(args.devices)  # before JAX starts
    import jax

    cfg, members = CONFIGS[args.config], args.members
    single, ensemble = gnode_steps(cfg, members, unroll=args.unroll)
    times = compare({"single": single, "ensemble": ensemble})
    t_single, t_ensemble = times["single"], times["ensemble"]

    sequential_rate = STEPS_PER_CALL / t_single  # model-steps per second, one model after another
    ensemble_rate = members * STEPS_PER_CALL / t_ensemble
    result = {
        "config": args.config,
        "members": members,
        "devices": jax.device_count(),
        "single_step_ms": 1e3 * t_single / STEPS_PER_CALL,
        "ensemble_step_ms": 1e3 * t_ensemble / STEPS_PER_CALL,
        "sequential_model_steps_per_s": sequential_rate,
        "ensemble_model_steps_per_s": ensemble_rate,
        "throughput_ratio": ensemble_rate / sequential_rate,
    }
    print(
        f"{members} x {args.config}: one program {ensemble_rate:.0f} model-steps/s, sequential "
        f"{sequential_rate:.0f} model-steps/s -> {result['throughput_ratio']:.2f}x"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
