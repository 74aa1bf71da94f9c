"""How much the m-flow's learning-rate schedule matters: the m-flow alone (1,000 epochs, the authors' settings) on
the true quadstable loadings, for seeds 0-3, at a constant rate (the authors') and with a cosine decay to zero
(gnode's default). Each m-flow is scored by the flow-field error of 30,000 sampled m with the exact n = E[n | m],
so only p(m) is tested; the true loadings themselves give 5.5 % that way (finite size).

    python experiments/connector_schedule.py

Prints one markdown row per schedule and, last, the numbers as JSON (about 4 min on 2 cores).
"""

from __future__ import annotations

import json

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.connector.model import SCHEDULES, ConnectorConfig, fit_connector
from gnode.reproduce.connector.generators import make_connectivity, quadstable_mean


def main() -> None:
    c = make_connectivity("quadstable")
    grid = latent_grid(30, 2.4)
    field = c.network().latent_velocity(grid)
    latents = jnp.zeros((2, 2, 2))  # the n-flow stage is not scored: one iteration on dummy latents
    errors = {}
    for schedule in ("constant", "cosine"):
        errors[schedule] = []
        for seed in range(4):
            config = ConnectorConfig(n_epochs=1, samples=16, schedule=SCHEDULES[schedule](), seed=seed)
            model, _ = fit_connector(c.m, np.asarray(latents), config)
            m = np.asarray(model.sample_m(jr.key(7), 30_000))
            net = LowRankRNN(jnp.asarray(m), jnp.asarray(quadstable_mean(m), jnp.float32))
            errors[schedule].append(flow_field_error(field, net.latent_velocity(grid)))
    print("| m-flow schedule | flow-field error with E[n|m], seeds 0-3 | mean |")
    print("|---|---|---|")
    for schedule, values in errors.items():
        print(f"| {schedule} | {', '.join(f'{100 * v:.1f} %' for v in values)} | {100 * np.mean(values):.1f} % |")
    print(json.dumps(errors))


if __name__ == "__main__":
    main()
