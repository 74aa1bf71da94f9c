"""Connector on a spiking recording whose answer is known: the rank chosen by held-out reconstruction, and the
evaluation without ground truth, for a recording of a rank-2 network with an input.

    python experiments/connector_recording.py --out runs/connector_recording    # ~20 min on 2 cores

The recording: a rank-2 network of 200 neurons with four fixed points (Connector's quadstable population means,
m spread 0.5, n = 2.65 × the mean + N(0, 1)) and one input channel (weights N(0, 1); white-noise input of sd 0.5 per
10 ms bin); 100 trials of 1 s from random latent starts in [−2, 2]²; Poisson spikes at 0–30 Hz (15 (tanh h + 1));
smoothed by the library (causal Gaussian, σ = 50 ms; the 100 ms default would blur 1-s trials' first 400 ms).

Steps, each the command-line pipeline's Python form: the rank by 5-fold cross-validation over ranks 1–4
(``select_rank``), then at the chosen rank ``fit_recording`` with the default settings and ``evaluate_recording``
on the 20 test trials (5 Connector draws of 1,000 neurons). Prints the selection table and the evaluation table;
writes both reports in --out; the last line is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from gnode.connector.lowrank import LowRankRNN
from gnode.connector.recording import RateScale, load_recording
from gnode.connector.reports import evaluation_report, rank_report
from gnode.connector.runs import RecordingConfig, fit_recording, potentials_of, split_trials

NEURONS, TRIALS, STEPS = 200, 100, 100
RATE = 50.0  # Hz at tanh = 0: rates 0–100 Hz


def write_recording(path: Path, seed: int = 0) -> np.ndarray:
    """Write the recording's file; return the true rates (Hz) behind its spikes."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-0.87, 0.87], [-0.87, -0.87], [0.87, -0.87], [0.87, 0.87]])
    population = np.arange(NEURONS) % 4
    m = centres[population] + 0.5 * rng.normal(size=(NEURONS, 2))
    n = 2.65 * centres[population] + rng.normal(size=(NEURONS, 2))
    b = rng.normal(size=(NEURONS, 1))
    as32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    network = LowRankRNN(as32(m), as32(n), inputs=as32(b))
    inputs = (0.5 * rng.normal(size=(TRIALS, STEPS, 1))).astype(np.float32)
    starts = rng.uniform(-2, 2, size=(TRIALS, 2)) @ m.T
    simulate = jax.vmap(lambda h0, u: network.simulate(h0, STEPS - 1, u[:-1]))
    potentials = np.asarray(simulate(as32(starts), as32(inputs)))
    rates = RATE * (np.tanh(potentials) + 1)
    np.savez(path, spikes=rng.poisson(rates * 0.01), inputs=inputs, bin_seconds=0.01)
    return rates


def ceiling(recording, true_rates: np.ndarray) -> float:
    """R² of the smoothed spikes explained by the true rates, both through the pipeline's rate map (default split):
    the most any model of these trials can reach."""
    split = split_trials(TRIALS, 0.2, 0.2, seed=1)
    scale = RateScale.fit(recording.rates[split["train"]])
    target = np.tanh(potentials_of(scale, recording.rates[split["test"]]))
    truth = scale(true_rates[split["test"]])
    return float(1 - np.sum((truth - target) ** 2) / np.sum((target - target.mean(axis=(0, 1))) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/connector_recording"))
    parser.add_argument("--ceiling", action="store_true", help="print only the noise ceiling")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    true_rates = write_recording(args.out / "recording.npz")
    recording = load_recording(args.out / "recording.npz", sigma_seconds=0.05)
    print(f"noise ceiling: the true rates explain R² = {ceiling(recording, true_rates):.3f} of the test trials' rates")
    if args.ceiling:
        return
    config = RecordingConfig()
    selection = rank_report(recording, config, (1, 2, 3, 4), folds=5, split_seed=0, out=args.out / "ranks")
    print(selection["table"])
    rank = selection["chosen"]["rank"]
    chosen = dataclasses.replace(config, lint=dataclasses.replace(config.lint, rank=rank))
    fit = fit_recording(recording, chosen, args.out / "fit")
    report = evaluation_report(fit, recording, args.out / "fit")
    print(f"\nrank {rank}; evaluation on {len(report['trials'])} test trials:\n")
    print(report["table"])
    keys = ("flow_field_error", "flow_field_error_to_lint", "reconstruction", "gmm_best")
    print(json.dumps({"rank": rank, "selection": selection["rows"], "evaluation": {k: report[k] for k in keys}}))


if __name__ == "__main__":
    main()
