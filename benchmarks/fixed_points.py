"""Fixed-point search: gnode's finder against a PyTorch loop in the style of FixedPointFinder (Adam on q, batched).

    python benchmarks/fixed_points.py                  # 1024 starts, N = 100 gnODE, F = [100], q < 1e-8
    python benchmarks/fixed_points.py --starts 256 --tol 1e-10

Both sides search the same field (a gnODE trained on the 3-bit flip-flop, weights copied into PyTorch) from the
same initial states (validation-trajectory states plus noise) and stop once the same fraction of the starts
has ``q = |v|^2 / 2`` below ``--tol``: gnode with its two phases (500 Adam steps, then Levenberg-Marquardt from
every point with ``q < 1e-4``), PyTorch with Adam alone at the best of the learning rates given. Both run on this
machine's CPU; gnode's time excludes compilation (printed separately) and includes deduplication and the
eigendecompositions. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import torch_device


def build(run: Path, starts: int):
    """A gnODE (N = 100, F = [100]) trained for 30 epochs on the fixed-amplitude 3-bit flip-flop (the classic
    fixed-point test: 8 stable points and saddles between them), and starts drawn from its validation
    trajectories plus noise. The run is trained once (~1 min) and reused."""
    import jax.numpy as jnp

    from gnode.analysis.fixed_points import sample_starts
    from gnode.experiment import RunConfig, build, load_run, train_run
    from gnode.model import predict

    if not (run / "summary.json").is_file():
        config = RunConfig(
            task="three_bit",
            model="gnode",
            dim=100,
            dynamics=(100,),
            initial_state="fixed",
            lr=3e-3,
            weight_decay=1e-3,
            batch_size=10,
            epochs=30,
        )
        train_run(config, run, resume=(run / "checkpoint.npz").is_file(), progress=False)
    model, config = load_run(run)
    _, _, val = build(config)
    _, states = predict(model, jnp.asarray(val.inputs))
    return model, sample_starts(np.asarray(states), starts, 0.1, seed=0)


def torch_velocity(field):
    """The gnODE velocity at zero input, in PyTorch, with the weights of ``field``."""
    import torch

    def tensor(a):
        return torch.from_numpy(np.asarray(a, np.float32)).to(torch_device())

    flow, gate = field.flow, field.gate_net
    w0, b0 = tensor(flow.state_weight), tensor(flow.first_bias)
    layers = [(tensor(layer.weight), tensor(layer.bias)) for layer in flow.layers]
    gw, gb = tensor(gate.state_weight), tensor(gate.first_bias)

    def velocity(h):
        s = torch.relu(h @ w0.T + b0)
        for i, (w, b) in enumerate(layers):
            s = s @ w.T + b
            if i < len(layers) - 1:
                s = torch.relu(s)
        return torch.sigmoid(h @ gw.T + gb) * (s - h)

    return velocity


def torch_adam(velocity, starts, tol, fraction, lr, max_iters):
    """Adam on q from all starts at once until ``fraction`` of them have q < tol. Returns (seconds, reached)."""
    import torch

    h = torch.from_numpy(starts.copy()).to(torch_device()).requires_grad_(True)  # reading `reached` syncs a GPU
    opt = torch.optim.Adam([h], lr=lr)
    tick = time.perf_counter()
    reached = 0.0
    for _ in range(max_iters):
        opt.zero_grad()
        q = 0.5 * (velocity(h) ** 2).sum(-1)
        reached = float((q < tol).float().mean())
        if reached >= fraction:
            break
        q.sum().backward()
        opt.step()
    return time.perf_counter() - tick, reached


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=1024)
    parser.add_argument("--run", type=Path, default=Path("runs/bench/three_bit_gnode_N100"), help="model run dir")
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--max-iters", type=int, default=100000)
    parser.add_argument("--lrs", default="1e-4,3e-4,1e-3", help="learning rates tried for PyTorch's Adam")
    args = parser.parse_args()

    from gnode.analysis.fixed_points import FixedPointFinder
    from gnode.analysis.jacobian import Autonomous

    model, starts = build(args.run, args.starts)
    velocity = Autonomous(model.field)
    # set up for fixed points rather than the slow set: a short descent, LM from every point with q < 1e-4
    finder = FixedPointFinder(
        fixed_tol=args.tol, slow_tol=max(1e-6, args.tol), max_steps=500, refine_tol=1e-4, refine_steps=15
    )
    print(f"gnode finder: {finder}")
    tick = time.perf_counter()
    finder(velocity, starts)
    first = time.perf_counter() - tick
    tick = time.perf_counter()
    found = finder(velocity, starts)
    ours = time.perf_counter() - tick
    fraction = found.converged / args.starts  # PyTorch must bring as many starts below tol
    print(
        f"gnode: {ours:.2f} s ({first - ours:.1f} s compilation), "
        f"{100 * fraction:.1f} % of starts to q < {args.tol:g}, "
        f"{len(found.points)} distinct fixed points",
        flush=True,
    )

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    torch_v = torch_velocity(model.field)
    results = {}
    for lr in (float(x) for x in args.lrs.split(",")):
        seconds, reached = torch_adam(torch_v, starts, args.tol, fraction, lr, args.max_iters)
        results[lr] = (seconds, reached)
        print(
            f"PyTorch Adam lr {lr:g}: {seconds:.2f} s, {100 * reached:.1f} % of starts to q < {args.tol:g}", flush=True
        )
    done = {lr: s for lr, (s, r) in results.items() if r >= fraction}
    if done:
        best_lr = min(done, key=done.get)
        ratio, bound = done[best_lr] / ours, "="
    else:  # no learning rate got there within max_iters: the ratio is a lower bound
        best_lr = max(results, key=lambda lr: results[lr][1])
        ratio, bound = results[best_lr][0] / ours, ">="
    print(f"speed-up of gnode over the PyTorch loop: {bound} {ratio:.1f}x")
    print(
        json.dumps(
            {
                "starts": args.starts,
                "dim": model.field.state_dim,
                "tol": args.tol,
                "gnode_seconds": ours,
                "gnode_compile_seconds": first - ours,
                "fraction_reached": fraction,
                "distinct_fixed_points": len(found.points),
                "torch": {str(lr): {"seconds": s, "reached": r} for lr, (s, r) in results.items()},
                "speedup": ratio,
                "speedup_is_lower_bound": bound == ">=",
            }
        )
    )


if __name__ == "__main__":
    main()
