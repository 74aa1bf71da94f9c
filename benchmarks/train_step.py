"""Train-step time (forward + backward + AdamW) of gnode against PyTorch eager, two hand-written JAX references,
and the machine's fp32 matmul peak.

    python benchmarks/train_step.py            # all configs; needs `pip install -e '.[bench]'` for torch
    python benchmarks/train_step.py --configs overhead

Every implementation trains the same gnODE (F an MLP with ReLU hidden layers, one-layer sigmoid gate, learned
h0 from the first input, linear readout, MSE at every step, AdamW) with alpha = dt / tau = 1.
gnode and the hand-written JAX loops run K steps inside one jitted ``lax.scan`` (that is how ``gnode.train.driver``
trains); PyTorch runs its usual eager Python loop, at 1 and 2 threads (the best is reported).

The two hand-written references: ``jax_scan``, autodiff through a time-major ``lax.scan`` (plain autodiff), and
``jax_vjp``, the same scan with a custom VJP whose backward scan carries only the state's cotangent and computes
every weight gradient after it, as one matmul over all time × batch rows. Its gradients are checked against plain
autodiff before it is timed (``vjp_gradient_error``). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import (
    CONFIGS,
    best_time,
    compare,
    matmul_gflops,
    matmul_peak_gflops,
    torch_device,
    torch_matmul_gflops,
    torch_synchronized,
    train_step_flops,
)

STEPS_PER_CALL = 10


def data(cfg, count):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, cfg["steps"], cfg["channels"])).astype(np.float32)
    y = rng.normal(size=(count, cfg["steps"], cfg["channels"])).astype(np.float32)
    return x, y


def gnode_model(cfg, key=None):
    """The config's gnODE, as gnode builds it (``make_model``; ``key`` default ``jr.key(0)``)."""
    import jax.random as jr

    from gnode.model import make_model

    key = jr.key(0) if key is None else key
    return make_model("gnode", cfg["n"], cfg["channels"], cfg["channels"], flow_widths=cfg["widths"], key=key)


def gnode_step(cfg, split: bool | None = None, hoisted: bool | None = None):
    """gnode's ``make_steps``, data-parallel over the devices as ``gnode.fit`` splits a minibatch
    (:func:`gnode.train.step.batch_mesh`); ``split``: True splits any batch the devices divide, False none."""
    import jax
    import jax.numpy as jnp

    from gnode.losses import MSE
    from gnode.solve import Euler
    from gnode.train.objective import SequenceObjective
    from gnode.train.optim import adamw
    from gnode.train.step import MIN_WORK_PER_DEVICE, batch_mesh, make_steps, split_model

    params, frozen, static = split_model(gnode_model(cfg))
    optimizer = adamw(1e-3, injectable=True)  # what gnode.fit uses
    opt_state = optimizer.init(params)
    mesh = None if split is False else batch_mesh(cfg["batch"], params, min_work=0 if split else MIN_WORK_PER_DEVICE)
    steps = jax.jit(make_steps(static, optimizer, SequenceObjective(MSE(), Euler(hoisted_gradients=hoisted)), mesh))
    x, y = data(cfg, cfg["batch"] * STEPS_PER_CALL)
    batch_data = {"inputs": jnp.asarray(x), "targets": jnp.asarray(y), "mask": None, "times": None}
    order = jnp.arange(cfg["batch"] * STEPS_PER_CALL).reshape(STEPS_PER_CALL, cfg["batch"])

    def run():
        out = steps(params, frozen, opt_state, batch_data, order)
        jax.block_until_ready(out)

    return run


def plain_rollout(ws, bs, gh, gb, h0, ux, gx):
    """The gnODE's Euler states ``(time, batch, n)`` by a time-major ``lax.scan``, differentiated by plain autodiff."""
    import jax

    def step(h, inp):
        u, g = inp
        a = h @ ws[0] + u + bs[0]
        for w, b in zip(ws[1:], bs[1:], strict=True):
            a = jax.nn.relu(a) @ w + b
        z = jax.nn.sigmoid(h @ gh + g + gb)
        h = h + z * (a - h)
        return h, h

    return jax.lax.scan(step, h0, (ux, gx))[1]


def _hoisted_forward(ws, bs, gh, gb, h0, ux, gx):
    import jax

    def step(h, inp):
        u, g = inp
        pres = [h @ ws[0] + u + bs[0]]
        for w, b in zip(ws[1:], bs[1:], strict=True):
            pres.append(jax.nn.relu(pres[-1]) @ w + b)
        z = jax.nn.sigmoid(h @ gh + g + gb)
        new = h + z * (pres[-1] - h)
        return new, (new, h, pres, z)

    hs, previous, pres, z = jax.lax.scan(step, h0, (ux, gx))[1]
    return hs, (ws, gh, previous, pres, z)


def _hoisted_backward(residuals, dhs):
    """The backward scan carries only the state's cotangent and keeps each step's layer cotangents; every weight
    gradient is then one matmul over all (time × batch) rows instead of one small matmul per step."""
    import jax
    import jax.numpy as jnp

    ws, gh, previous, pres, z = residuals

    def step(dh_next, inp):
        dh_out, h, pre, zt = inp
        g = dh_next + dh_out
        ds = g * (pre[-1] - h) * zt * (1 - zt)
        deltas = [g * zt]
        for layer in range(len(ws) - 1, 0, -1):
            deltas.insert(0, (deltas[0] @ ws[layer].T) * (pre[layer - 1] > 0))
        dh = g * (1 - zt) + ds @ gh.T + deltas[0] @ ws[0].T
        return dh, (deltas, ds)

    dh0, (deltas, ds) = jax.lax.scan(step, jnp.zeros_like(previous[0]), (dhs, previous, pres, z), reverse=True)

    def outer(x, d):  # Σ over time and batch of xᵀ d: one matmul
        return x.reshape(-1, x.shape[-1]).T @ d.reshape(-1, d.shape[-1])

    inputs = [previous] + [jax.nn.relu(pre) for pre in pres[:-1]]
    dws = [outer(x, d) for x, d in zip(inputs, deltas, strict=True)]
    dbs = [d.sum((0, 1)) for d in deltas]
    return dws, dbs, outer(previous, ds), ds.sum((0, 1)), dh0, deltas[0], ds


def hoisted_rollout():
    """:func:`plain_rollout` with a custom VJP that computes the weight gradients after the backward scan."""
    import jax

    rollout = jax.custom_vjp(plain_rollout)
    rollout.defvjp(_hoisted_forward, _hoisted_backward)
    return rollout


def handwritten_jax_step(cfg, rollout=None):
    """The minimal JAX reference: explicit arrays, time-major ``lax.scan``, optax AdamW; ``rollout``: the states'
    scan (default :func:`plain_rollout`, autodiff through the scan)."""
    import jax

    loss = functools.partial(handwritten_loss, rollout=plain_rollout if rollout is None else rollout)
    return _handwritten_steps(cfg, jax.value_and_grad(loss))


def adamw_steps(value_and_grad, optimizer):
    """``steps(params, opt_state, xs, ys)``: one optimizer step per minibatch ``(xs[k], ys[k])``, in a
    ``lax.scan``, each on ``value_and_grad(params, x, y)``; returns the final ``(params, opt_state)`` and the
    losses."""
    import jax
    import optax

    def steps(p, opt_state, xs, ys):
        def one(carry, xy):
            p, s = carry
            value, grads = value_and_grad(p, *xy)
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        return jax.lax.scan(one, (p, opt_state), (xs, ys))

    return steps


def _handwritten_steps(cfg, value_and_grad):
    """``STEPS_PER_CALL`` AdamW steps of the hand-written model in one jitted ``lax.scan``, each on
    ``value_and_grad(params, x, y)`` of its minibatch; returns the timed call."""
    import jax
    import jax.numpy as jnp
    import optax

    params = handwritten_params(cfg)
    opt = optax.adamw(1e-3, weight_decay=1e-2)
    opt_state = opt.init(params)
    steps = jax.jit(adamw_steps(value_and_grad, opt))
    batch = cfg["batch"]
    x, y = data(cfg, batch * STEPS_PER_CALL)
    xs = jnp.asarray(x.reshape(STEPS_PER_CALL, batch, *x.shape[1:]))
    ys = jnp.asarray(y.reshape(STEPS_PER_CALL, batch, *y.shape[1:]))
    return lambda: jax.block_until_ready(steps(params, opt_state, xs, ys))


def handwritten_loss(p, x, y, rollout):
    """The MSE of the readout at every bin; ``x``, ``y``: ``(batch, time, d)``."""
    import jax.numpy as jnp

    xt = jnp.swapaxes(x, 0, 1)
    h0 = x[:, 0] @ p["A"] + p["ab"]
    hs = rollout(p["Ws"], p["bs"], p["Gh"], p["gb"], h0, xt @ p["Wx"], xt @ p["Gx"])
    return jnp.mean((hs @ p["R"] + p["rb"] - jnp.swapaxes(y, 0, 1)) ** 2)


def check_hoisted_gradients(cfg, tolerance: float = 1e-4) -> float:
    """The largest relative difference between the gradients of the two rollouts (float32 round-off); raises above
    ``tolerance``, so that a timed reference is a correct one."""
    import jax

    params = handwritten_params(cfg)
    x, y = data(cfg, cfg["batch"])
    plain, hoisted = (
        jax.jit(jax.grad(functools.partial(handwritten_loss, rollout=r)))(params, x, y)
        for r in (plain_rollout, hoisted_rollout())
    )
    error = max(
        float(abs(a - b).max() / (abs(a).max() + 1e-30))
        for a, b in zip(jax.tree_util.tree_leaves(plain), jax.tree_util.tree_leaves(hoisted), strict=True)
    )
    if error > tolerance:
        raise AssertionError(f"the custom VJP's gradients differ from autodiff's by {error:.2e}")
    return error


def data_parallel_jax_step(cfg, rollout=None):
    """The plain reference with each minibatch split over the CPU devices (``shard_map``: every device takes an
    equal share of the samples, the losses and gradients are averaged with ``pmean``, exact for this unmasked
    MSE). Needs the devices made before JAX starts (``--devices``)."""
    import jax
    from jax.sharding import Mesh, PartitionSpec

    devices = jax.devices()
    if len(devices) < 2 or cfg["batch"] % len(devices):
        return None
    mesh = Mesh(np.array(devices), ("batch",))
    loss = functools.partial(handwritten_loss, rollout=plain_rollout if rollout is None else rollout)

    def local(p, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        return jax.lax.pmean(value, "batch"), jax.lax.pmean(grads, "batch")

    shared = PartitionSpec()
    split = PartitionSpec("batch")
    sharded = jax.shard_map(local, mesh=mesh, in_specs=(shared, split, split), out_specs=(shared, shared),
                            check_vma=False)  # fmt: skip
    return _handwritten_steps(cfg, sharded)


def handwritten_params(cfg) -> dict:
    import jax
    import jax.numpy as jnp

    n, d, widths = cfg["n"], cfg["channels"], cfg["widths"]
    rng = np.random.default_rng(0)
    sizes = (n, *widths, n)
    p = {
        "Wx": rng.normal(size=(d, sizes[1])) * 0.3,
        "Ws": [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)],
        "bs": [np.zeros(b) for b in sizes[1:]],
        "Gh": rng.normal(size=(n, n)) * 0.3,
        "Gx": rng.normal(size=(d, n)) * 0.3,
        "gb": np.zeros(n),
        "A": rng.normal(size=(d, n)) * 0.3,
        "ab": np.zeros(n),
        "R": rng.normal(size=(n, d)) * 0.3,
        "rb": np.zeros(d),
    }
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p)


def time_torch(cfg, threads: int) -> float:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n, d, widths, batch = cfg["n"], cfg["channels"], cfg["widths"], cfg["batch"]

    class TorchGNODE(nn.Module):
        def __init__(self):
            super().__init__()
            sizes = (n, *widths, n)
            self.first_h = nn.Linear(n, sizes[1])
            self.first_x = nn.Linear(d, sizes[1], bias=False)
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes[1:]))
            self.gate_h = nn.Linear(n, n)
            self.gate_x = nn.Linear(d, n, bias=False)
            self.h0 = nn.Linear(d, n)
            self.readout = nn.Linear(n, d)

        def forward(self, x):  # (batch, time, d)
            ux, gx = self.first_x(x), self.gate_x(x)
            h = self.h0(x[:, 0])
            outs = []
            for t in range(x.shape[1]):
                a = self.first_h(h) + ux[:, t]
                for layer in self.layers:
                    a = layer(torch.relu(a))
                z = torch.sigmoid(self.gate_h(h) + gx[:, t])
                h = h + z * (a - h)
                outs.append(h)
            return self.readout(torch.stack(outs, 1))

    model = TorchGNODE().to(torch_device())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = (torch.from_numpy(a).to(torch_device()) for a in data(cfg, batch))

    @torch_synchronized
    def step():
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()

    return best_time(step, repeats=3, min_seconds=0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--devices", type=int, default=os.cpu_count(), help="CPU devices of the data-parallel reference"
    )
    parser.add_argument("--batch", type=int, help="every config at this batch size (default: each config's own)")
    args = parser.parse_args()
    from gnode.devices import use_cpu_cores

    use_cpu_cores(args.devices)  # before JAX starts; gnode and the single-device references run on device 0

    import jax

    where = f"JAX on {jax.devices()[0].device_kind} ({jax.device_count()} devices)"
    if not args.no_torch:
        where += f", PyTorch on {torch_device()}"
    print(where)
    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak: {peak['peak']:.1f} GFLOP/s ({', '.join(f'{k} {v:.1f}' for k, v in peak.items())})")
    rows = {}
    for name in args.configs:
        cfg = dict(CONFIGS[name], **({"batch": args.batch} if args.batch else {}))
        gradient_error = check_hoisted_gradients(cfg)
        implementations = {
            "gnode": gnode_step(cfg),
            "jax_scan": handwritten_jax_step(cfg),
            "jax_vjp": handwritten_jax_step(cfg, hoisted_rollout()),
            "jax_data_parallel": data_parallel_jax_step(cfg),
        }
        times = compare({name: run for name, run in implementations.items() if run is not None})
        row = {f"{k}_ms": 1e3 * v / STEPS_PER_CALL for k, v in times.items()}
        row["vjp_gradient_error"] = gradient_error
        if not args.no_torch:
            for threads in (1, 2):
                row[f"torch_{threads}t_ms"] = 1e3 * time_torch(cfg, threads)
            row["torch_best_ms"] = min(row["torch_1t_ms"], row["torch_2t_ms"])
            row["speedup_vs_torch"] = row["torch_best_ms"] / row["gnode_ms"]
        row["ratio_to_jax_scan"] = row["gnode_ms"] / row["jax_scan_ms"]
        row["ratio_to_best_jax"] = row["gnode_ms"] / min(v for k, v in row.items() if k.startswith("jax_"))
        flops = train_step_flops(**cfg)
        row["gflops"] = flops / (row["gnode_ms"] / 1e3) / 1e9
        row["fraction_of_peak"] = row["gflops"] / peak["peak"]
        width = max(cfg["widths"])
        # the largest layer, (batch x width) @ (width x width), chained in a scan: the rate its shape allows
        row["layer_matmul_gflops"] = matmul_gflops(cfg["batch"], width)
        row["layer_matmul_fraction_of_peak"] = row["layer_matmul_gflops"] / peak["peak"]
        if not args.no_torch:  # the same chain with MKL: is the ceiling XLA's or the machine's?
            row["layer_matmul_torch_gflops"] = torch_matmul_gflops(cfg["batch"], width)
            row["layer_matmul_torch_fraction_of_peak"] = row["layer_matmul_torch_gflops"] / peak["peak"]
        rows[name] = row
        print(f"{name:>10}: " + "  ".join(f"{k} {v:.3g}" for k, v in row.items()), flush=True)
    print(json.dumps({"peak_gflops": peak, "configs": rows}))


if __name__ == "__main__":
    main()
