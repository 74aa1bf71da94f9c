"""How many rows (trial steps) the n-flow's ridge targets (A3) need: targets from a random subset of the rows,
weighted to stand for all, against the targets from every row, on the four synthetic ensembles.

    python experiments/connector_ridge_rows.py            # ~2 min on 2 cores

For each ensemble: the 240 training trials of the pipeline's split (99 steps: 23,760 rows) and 10 fresh draws of S
= 1,000 loadings m from the true ensemble (what the m-flow samples when it is right). Per subset size: the relative
error of the targets ‖N̂_sub − N̂_all‖ / ‖N̂_all‖ and the flow-field error of the network (m, N̂_sub) against
(m, N̂_all) on the 30 × 30 grid (mean and largest over draws); and the time of one ridge solve (median of 10, after
compilation; the ratio to every row is the number to read). Prints a markdown table, then JSON.
"""

from __future__ import annotations

import json
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.connector.model import ridge_targets
from gnode.reproduce.connector.experiment import split_trials
from gnode.reproduce.connector.generators import ENSEMBLES, make_connectivity, simulate_grid

SUBSETS = (2000, 4000, 8000)
DRAWS = 10


def seconds(solve, *args) -> float:
    jax.block_until_ready(solve(*args))
    times = []
    for _ in range(10):
        tick = time.perf_counter()
        jax.block_until_ready(solve(*args))
        times.append(time.perf_counter() - tick)
    return float(np.median(times))


def main() -> None:
    grid = latent_grid(30, 2.4)
    solve = jax.jit(lambda latents, m, rows: ridge_targets(latents, m, 0.1, 1e-4, rows=rows))
    solve_all = jax.jit(lambda latents, m: ridge_targets(latents, m, 0.1, 1e-4))
    result = {}
    for name in ENSEMBLES:
        c = make_connectivity(name)
        latents = simulate_grid(c.network()).latents
        latents = jnp.asarray(latents[split_trials(latents.shape[0])["train"]], jnp.float32)
        total = latents.shape[0] * (latents.shape[1] - 1)
        rows = {size: {"target_error": [], "field_error": []} for size in SUBSETS}
        for d in range(DRAWS):
            m = jnp.asarray(make_connectivity(name, seed=100 + d).m, jnp.float32)
            full = solve_all(latents, m)
            field = LowRankRNN(m, full).latent_velocity(grid)
            for size in SUBSETS:
                picked = jr.randint(jr.key(d), (size,), 0, total)
                sub = solve(latents, m, picked)
                rows[size]["target_error"].append(float(jnp.linalg.norm(sub - full) / jnp.linalg.norm(full)))
                rows[size]["field_error"].append(flow_field_error(field, LowRankRNN(m, sub).latent_velocity(grid)))
        m = jnp.asarray(c.m, jnp.float32)
        timing = {"all": seconds(solve_all, latents, m)}
        for size in SUBSETS:
            timing[size] = seconds(solve, latents, m, jr.randint(jr.key(0), (size,), 0, total))
        result[name] = {"rows": total, "subsets": rows, "seconds": timing}
    print("| ensemble | rows used | target error (mean / max) | field error vs all rows (mean / max) | solve time |")
    print("|---|---|---|---|---|")
    for name, r in result.items():
        print(f"| {name} | all {r['rows']:,} | — | — | {1e3 * r['seconds']['all']:.0f} ms |")
        for size in SUBSETS:
            e, f = (100 * np.asarray(r["subsets"][size][k]) for k in ("target_error", "field_error"))
            print(f"| | {size:,} | {e.mean():.1f} % / {e.max():.1f} % | {f.mean():.2f} % / {f.max():.2f} % | "
                  f"{1e3 * r['seconds'][size]:.0f} ms |")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
