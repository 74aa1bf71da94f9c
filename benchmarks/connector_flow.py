"""Per-iteration training time of Connector's flow-matching stages on the quadstable data (1,000 neurons, 400 trials).

    python benchmarks/connector_flow.py                 # the authors' sizes: S = 1000 loadings per n-flow step
    python benchmarks/connector_flow.py --samples 500 --trials 240

Stage 1 (m-flow): one epoch = 15 AdamW steps on minibatches of 64 rows of M. Stage 2 (n-flow): one full-batch step =
draw S loadings from the m-flow (20 midpoint steps), solve the S × S ridge system (A3) on all trials' rates, one
flow-matching step. Medians over the timed iterations, compilation excluded. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from gnode.connector.model import ConnectorConfig, fit_connector
from gnode.reproduce.connector.generators import make_connectivity, simulate_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    c = make_connectivity("quadstable")
    latents = simulate_grid(c.network()).latents[: args.trials]
    config = ConnectorConfig(
        m_epochs=args.iterations + 1, n_epochs=args.iterations + 1, samples=args.samples, ridge_rows=None
    )  # every row, as this benchmark's numbers in docs/results.md were measured
    _, history = fit_connector(c.m, latents, config)
    result = {
        "m_epoch_seconds": float(np.median(history["m_seconds"][1:])),
        "n_iteration_seconds": float(np.median(history["n_seconds"][1:])),
        "samples": args.samples,
        "trials": args.trials,
        "time_points": int(latents.shape[1]),
    }
    print(f"m-flow epoch: {result['m_epoch_seconds'] * 1e3:.1f} ms; n-flow iteration: "
          f"{result['n_iteration_seconds'] * 1e3:.1f} ms (S = {args.samples}, {args.trials} trials)")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
