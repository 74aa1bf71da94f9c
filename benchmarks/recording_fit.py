"""Per-epoch time of a recording fit — 500 trials x 100 bins x 100 neurons, Poisson observations, an encoder
initial state — in gnode, in a hand-written JAX loop of the same model, and in PyTorch eager.

    python benchmarks/recording_fit.py            # torch optional (`pip install -e '.[bench]'`)

The model: a gnODE (N = 16, F = [64] ReLU, one-layer sigmoid gate, alpha = dt / tau = 1, 2 input channels), its
h0 from a bidirectional GRU (64 units each way) over the trial's 100 neurons and inputs, a linear readout to 100
log-rates through softplus, the Poisson loss at every bin, AdamW; an epoch is 10 steps of 50 trials. gnode runs its
own epoch (``gnode.train.step.make_epoch``: the shuffled minibatches in one jitted ``lax.scan``, then the
validation loss, as ``gnode.fit`` trains); the JAX reference is a minimal time-major scan of plain arrays with the
same scan over minibatches; PyTorch runs its usual eager loop (``nn.GRU`` for the encoder, a Python loop over bins),
best of 1 and 2 threads. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import best_time, compare

TRIALS, BINS, NEURONS, INPUTS, N, WIDTH, ENCODER, BATCH = 500, 100, 100, 2, 16, 64, 64, 50
VAL = 100


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(TRIALS + VAL, BINS, INPUTS)).astype(np.float32)
    y = rng.poisson(0.3, size=(TRIALS + VAL, BINS, NEURONS)).astype(np.float32)
    return x, y


def gnode_epoch():
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    from gnode.losses import Poisson
    from gnode.model import make_model
    from gnode.solve import Euler
    from gnode.train.objective import SequenceObjective
    from gnode.train.optim import adamw
    from gnode.train.step import init_state, make_epoch, split_model

    model = make_model("gnode", N, INPUTS, NEURONS, flow_widths=(WIDTH,), initial_state="encoder",
                       encoder_width=ENCODER, tau=1.0, dt=1.0, key=jr.key(0))  # fmt: skip
    params, frozen, static = split_model(model)
    optimizer = adamw(1e-3, injectable=True)  # what gnode.fit uses
    epoch = jax.jit(make_epoch(static, optimizer, BATCH, SequenceObjective(Poisson(), Euler())))
    state = init_state(params, frozen, optimizer)
    x, y = data()
    train = {"inputs": jnp.asarray(x[:TRIALS]), "targets": jnp.asarray(y[:TRIALS]), "mask": None, "times": None}
    val = {"inputs": jnp.asarray(x[TRIALS:]), "targets": jnp.asarray(y[TRIALS:]), "mask": None, "times": None}
    key = jr.key(1)
    return lambda: jax.block_until_ready(epoch(state, key, train, val))


def handwritten_jax_epoch():
    """Plain arrays, time-major scans, the input projections hoisted out of the loops, optax AdamW."""
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import optax

    rng = np.random.default_rng(0)
    g = lambda *shape: jnp.asarray(rng.normal(size=shape) / np.sqrt(shape[0]), jnp.float32)  # noqa: E731
    z = lambda *shape: jnp.zeros(shape, jnp.float32)  # noqa: E731
    read = NEURONS + INPUTS

    def gru_cell():
        return {"wi": g(read, 3 * ENCODER), "wh": g(ENCODER, 3 * ENCODER), "b": z(3 * ENCODER), "bn": z(ENCODER)}

    p = {"enc": [gru_cell(), gru_cell()], "h0": g(2 * ENCODER, N), "h0b": z(N)}
    p.update(fh=g(N, WIDTH), fx=g(INPUTS, WIDTH), fb=z(WIDTH), fo=g(WIDTH, N), fob=z(N))
    p.update(gh=g(N, N), gx=g(INPUTS, N), gb=z(N), r=g(N, NEURONS), rb=z(NEURONS))

    def gru(q, seq):  # seq: (time, batch, read) -> final hidden (batch, ENCODER)
        drive = seq @ q["wi"] + q["b"]

        def step(h, d):
            hr, hz, hn = jnp.split(h @ q["wh"], 3, axis=-1)
            ir, iz, i_n = jnp.split(d, 3, axis=-1)
            r, u = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
            new = jnp.tanh(i_n + r * (hn + q["bn"]))
            return new + u * (h - new), None

        return jax.lax.scan(step, jnp.zeros((seq.shape[1], ENCODER)), drive)[0]

    def loss(p, x, y):  # (batch, time, .)
        xt, yt = jnp.swapaxes(x, 0, 1), jnp.swapaxes(y, 0, 1)
        seq = jnp.concatenate([yt, xt], axis=-1)
        h = jnp.concatenate([gru(p["enc"][0], seq), gru(p["enc"][1], seq[::-1])], axis=-1) @ p["h0"] + p["h0b"]
        ux, gx = xt @ p["fx"] + p["fb"], xt @ p["gx"] + p["gb"]

        def step(h, inp):
            u, gi = inp
            f = jax.nn.relu(h @ p["fh"] + u) @ p["fo"] + p["fob"]
            gate = jax.nn.sigmoid(h @ p["gh"] + gi)
            h = h + gate * (f - h)
            return h, h

        _, hs = jax.lax.scan(step, h, (ux, gx))
        rates = jax.nn.softplus(hs @ p["r"] + p["rb"])
        return jnp.mean(rates - yt * jnp.log(rates + 1e-8))

    opt = optax.adamw(1e-3, weight_decay=1e-2)
    x, y = (jnp.asarray(a) for a in data())

    @jax.jit
    def epoch(p, s, key):
        order = jr.permutation(key, TRIALS).reshape(-1, BATCH)

        def one(carry, index):
            p, s = carry
            value, grads = jax.value_and_grad(loss)(p, x[index], y[index])
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (p, s), values = jax.lax.scan(one, (p, s), order)
        return p, s, values, loss(p, x[TRIALS:], y[TRIALS:])

    s = opt.init(p)
    key = jr.key(1)
    return lambda: jax.block_until_ready(epoch(p, s, key))


def time_torch(threads: int) -> float:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Fit(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.GRU(NEURONS + INPUTS, ENCODER, batch_first=True, bidirectional=True)
            self.h0 = nn.Linear(2 * ENCODER, N)
            self.fh, self.fx, self.fo = nn.Linear(N, WIDTH), nn.Linear(INPUTS, WIDTH, bias=False), nn.Linear(WIDTH, N)
            self.gh, self.gx = nn.Linear(N, N), nn.Linear(INPUTS, N, bias=False)
            self.readout = nn.Linear(N, NEURONS)

        def forward(self, x, y):
            _, last = self.encoder(torch.cat([y, x], dim=-1))
            h = self.h0(torch.cat([last[0], last[1]], dim=-1))
            ux, gx = self.fx(x), self.gx(x)
            states = []
            for t in range(x.shape[1]):
                f = self.fo(torch.relu(self.fh(h) + ux[:, t]))
                gate = torch.sigmoid(self.gh(h) + gx[:, t])
                h = h + gate * (f - h)
                states.append(h)
            return nn.functional.softplus(self.readout(torch.stack(states, 1)))

    model = Fit()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = (torch.from_numpy(a) for a in data())
    poisson = nn.PoissonNLLLoss(log_input=False)

    def epoch():
        for index in torch.randperm(TRIALS).reshape(-1, BATCH):
            opt.zero_grad()
            loss = poisson(model(x[index], y[index]), y[index])
            loss.backward()
            opt.step()
        with torch.no_grad():
            poisson(model(x[TRIALS:], y[TRIALS:]), y[TRIALS:])

    return best_time(epoch, repeats=2, min_seconds=0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    times = compare({"gnode": gnode_epoch(), "jax_loop": handwritten_jax_epoch()}, rounds=5, min_seconds=1.0)
    row = {f"{k}_epoch_s": v for k, v in times.items()}
    row["ratio_to_jax_loop"] = times["gnode"] / times["jax_loop"]
    if not args.no_torch:
        try:
            torch_times = {threads: time_torch(threads) for threads in (1, 2)}
        except ImportError:
            print("torch is not installed: pip install -e '.[bench]' (or --no-torch)")
        else:
            row.update({f"torch_{k}t_epoch_s": v for k, v in torch_times.items()})
            row["speedup_vs_torch"] = min(torch_times.values()) / times["gnode"]
    for key, value in row.items():
        print(f"{key}: {value:.4g}")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
