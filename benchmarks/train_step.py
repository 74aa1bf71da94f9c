"""Train-step time (forward + backward + AdamW) of gnode against PyTorch eager, a hand-written JAX scan,
and the machine's fp32 matmul peak.

    python benchmarks/train_step.py            # all configs; needs `pip install -e '.[bench]'` for torch
    python benchmarks/train_step.py --configs overhead

Every implementation trains the same gnODE (F an MLP with ReLU hidden layers, one-layer sigmoid gate, learned
h0 from the first input, linear readout, MSE at every step, AdamW) with alpha = dt / tau = 1.
gnode and the hand-written JAX loop run K steps inside one jitted ``lax.scan`` (that is how ``gnode.train.driver``
trains); PyTorch runs its usual eager Python loop, at 1 and 2 threads (the best is reported).
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
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
    torch_matmul_gflops,
    train_step_flops,
)

STEPS_PER_CALL = 10


def data(cfg, count):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, cfg["steps"], cfg["channels"])).astype(np.float32)
    y = rng.normal(size=(count, cfg["steps"], cfg["channels"])).astype(np.float32)
    return x, y


def gnode_step(cfg):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    from gnode.losses import MSE
    from gnode.model import make_model, trainable
    from gnode.solve import Euler
    from gnode.train.objective import SequenceObjective
    from gnode.train.optim import adamw
    from gnode.train.step import make_steps

    model = make_model("gnode", cfg["n"], cfg["channels"], cfg["channels"], flow_widths=cfg["widths"], key=jr.key(0))
    params, rest = eqx.partition(model, trainable(model))
    frozen, static = eqx.partition(rest, eqx.is_array)
    optimizer = adamw(1e-3, injectable=True)  # what gnode.fit uses
    opt_state = optimizer.init(params)
    steps = jax.jit(make_steps(static, optimizer, SequenceObjective(MSE(), Euler())))
    x, y = data(cfg, cfg["batch"] * STEPS_PER_CALL)
    batch_data = {"inputs": jnp.asarray(x), "targets": jnp.asarray(y), "mask": None, "times": None}
    order = jnp.arange(cfg["batch"] * STEPS_PER_CALL).reshape(STEPS_PER_CALL, cfg["batch"])

    def run():
        out = steps(params, frozen, opt_state, batch_data, order)
        jax.block_until_ready(out)

    return run


def handwritten_jax_step(cfg):
    """The minimal JAX reference: explicit arrays, time-major ``lax.scan``, optax AdamW."""
    import jax
    import jax.numpy as jnp
    import optax

    n, d, widths, batch = cfg["n"], cfg["channels"], cfg["widths"], cfg["batch"]
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
    p = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p)

    def loss(p, x, y):  # x, y: (batch, time, d)
        xt = jnp.swapaxes(x, 0, 1)
        ux, gx = xt @ p["Wx"], xt @ p["Gx"]
        h0 = x[:, 0] @ p["A"] + p["ab"]

        def step(h, inp):
            u, g = inp
            a = h @ p["Ws"][0] + u + p["bs"][0]
            for w, b in zip(p["Ws"][1:], p["bs"][1:], strict=True):
                a = jax.nn.relu(a) @ w + b
            z = jax.nn.sigmoid(h @ p["Gh"] + g + p["gb"])
            h = h + z * (a - h)
            return h, h

        _, hs = jax.lax.scan(step, h0, (ux, gx))
        return jnp.mean((hs @ p["R"] + p["rb"] - jnp.swapaxes(y, 0, 1)) ** 2)

    opt = optax.adamw(1e-3, weight_decay=1e-2)
    opt_state = opt.init(p)

    @jax.jit
    def steps(p, opt_state, xs, ys):
        def one(carry, xy):
            p, s = carry
            value, grads = jax.value_and_grad(loss)(p, *xy)
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        return jax.lax.scan(one, (p, opt_state), (xs, ys))

    x, y = data(cfg, batch * STEPS_PER_CALL)
    xs = jnp.asarray(x.reshape(STEPS_PER_CALL, batch, *x.shape[1:]))
    ys = jnp.asarray(y.reshape(STEPS_PER_CALL, batch, *y.shape[1:]))
    return lambda: jax.block_until_ready(steps(p, opt_state, xs, ys))


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

    model = TorchGNODE()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = (torch.from_numpy(a) for a in data(cfg, batch))

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
    args = parser.parse_args()

    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak: {peak['peak']:.1f} GFLOP/s ({', '.join(f'{k} {v:.1f}' for k, v in peak.items())})")
    rows = {}
    for name in args.configs:
        cfg = CONFIGS[name]
        times = compare({"gnode": gnode_step(cfg), "jax_scan": handwritten_jax_step(cfg)})
        row = {f"{k}_ms": 1e3 * v / STEPS_PER_CALL for k, v in times.items()}
        if not args.no_torch:
            for threads in (1, 2):
                row[f"torch_{threads}t_ms"] = 1e3 * time_torch(cfg, threads)
            row["torch_best_ms"] = min(row["torch_1t_ms"], row["torch_2t_ms"])
            row["speedup_vs_torch"] = row["torch_best_ms"] / row["gnode_ms"]
        row["ratio_to_jax_scan"] = row["gnode_ms"] / row["jax_scan_ms"]
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
