"""What the dynamics identify, on the four synthetic ensembles: the ridge estimate (A3) of n from the true loadings
m and the latents, against E[n | m] and against the network's actual n; flow-field errors on the 30 x 30 grid.

    python experiments/connector_identify.py

Prints one markdown table (the one in docs/results.md) and, last, the same numbers as JSON.
"""

from __future__ import annotations

import json

import jax.numpy as jnp

from gnode.connector.identify import loading_correlation, ridge_loadings
from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.reproduce.connector.generators import ENSEMBLES, make_connectivity, simulate_grid


def main() -> None:
    grid = latent_grid(30, 2.4)
    rows = {}
    for name in ENSEMBLES:
        c = make_connectivity(name)
        net = c.network()
        estimate = ridge_loadings(simulate_grid(net).latents, c.m)
        field = net.latent_velocity(grid)
        with_n = lambda n, m=net.m: LowRankRNN(m, jnp.asarray(n, jnp.float32)).latent_velocity(grid)  # noqa: E731
        rows[name] = {
            "corr_ridge_conditional_mean": loading_correlation(estimate, c.conditional_mean),
            "corr_ridge_n": loading_correlation(estimate, c.n),
            "field_error_ridge": flow_field_error(field, with_n(estimate)),
            "field_error_conditional_mean": flow_field_error(field, with_n(c.conditional_mean)),
        }
    print("| ensemble | corr(N̂, E[n|m]) | corr(N̂, N) | flow-field error of N̂ | flow-field error of E[n|m] |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['corr_ridge_conditional_mean']:.3f} | {r['corr_ridge_n']:.3f} | "
              f"{100 * r['field_error_ridge']:.2f} % | {100 * r['field_error_conditional_mean']:.2f} % |")  # fmt: skip
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
