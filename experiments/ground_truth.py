"""Ground truth, end to end: spikes simulated from networks whose dynamics gnode knows, a gnODE fitted to the spikes
alone, and how much of the generator it recovers.

    python experiments/ground_truth.py --out runs/ground_truth            # ~30 min on 2 CPU cores
    python experiments/ground_truth.py --out runs/ground_truth --only ring

For each generator — the 2-D ring-attractor gnODE (trained on the ring flip-flop task) and a 3-bit flip-flop gnODE
(N = 3, the binary task: 8 memories) — the script

1. trains the generator with ``gnode train`` settings and reads its dynamics (``gnode.analysis.analyze``);
2. simulates 600 trials of 100 bins of 100 Poisson neurons, ``rate = softplus(gain * c_i . h(t) + b_i)``, from the
   generator's states under the task's inputs (the readout ``c_i`` random unit vectors), and writes them as a
   sequences file (``inputs``, ``targets`` = spikes, ``rates``);
3. fits a gnODE of the generator's dimension to the spikes with ``gnode train --data spikes.npz --observation
   poisson --initial-state encoder --held-out 0.2 --test-fraction 0.2`` (the inputs known, the states not);
4. compares on the test trials: rate R² (fitted against true rates), co-smoothing (bits per spike on the 20
   held-out neurons), and the dynamics — the attractor found in the fit against the generator's, both mapped to
   the 100 neurons' rates (the ring: its dimension and the Chamfer distance between the two rings; 3-bit: the
   number of stable fixed points and how close each generator memory is to a fitted one) — and the dynamical
   similarity (DSA, :mod:`gnode.analysis.similarity`) of their own flows (50 bins at zero input from states their
   test trials visit), against two references: the generator from other states (the floor) and an untrained gnODE
   of the same size (an unrelated model).

Writes ``results.json`` and prints the markdown table of ``docs/results.md``. Finished stages are kept: run it
again to resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from gnode import load, predict
from gnode.analysis import AnalysisConfig, FixedPointFinder, analyze
from gnode.analysis.attractors import chamfer_distance
from gnode.analysis.similarity import dsa
from gnode.experiment import RunConfig, initial_model, load_splits, train_run
from gnode.tasks import make_flipflop

GENERATORS = {
    "ring": dict(task="ring", model="gnode", dim=2, dynamics=[128, 128], lr=3e-3, weight_decay=1e-3, batch_size=10,
                 epochs=60),
    "three_bit": dict(task="three_bit", model="gnode", dim=3, dynamics=[100, 100], initial_state="fixed", lr=3e-3,
                      weight_decay=1e-3, batch_size=10, epochs=60),
}  # fmt: skip
NEURONS, TRIALS, GAIN, BIAS = 100, 600, 1.5, -1.5
FIT = dict(observation="poisson", initial_state="encoder", held_out=0.2, test_fraction=0.2, val_fraction=0.2,
           model="gnode", dynamics=[128, 128], lr=3e-3, weight_decay=0.0, batch_size=32, epochs=1000, patience=100,
           encoder_width=64, split_seed=0)  # fmt: skip
ANALYSIS = AnalysisConfig(starts=1024, trials=100, finder=FixedPointFinder(max_steps=3000))


def rates_of(states: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The simulated neurons' rates (spikes per bin) at latent states ``(..., N)``."""
    return np.asarray(jax.nn.softplus(GAIN * states @ weights.T + bias))


def simulate(name: str, out: Path) -> dict:
    """Train the generator, read its dynamics, and write the spikes file."""
    config = RunConfig.from_dict(GENERATORS[name])
    run = out / "generator"
    if not (run / "summary.json").is_file():
        train_run(config, run, resume=(run / "config.json").is_file(), progress=False)
    generator = load(run / "model.npz")
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(NEURONS, config.dim))
    weights /= np.linalg.norm(weights, axis=1, keepdims=True)
    bias = BIAS + 0.5 * rng.normal(size=NEURONS)
    _, trials = make_flipflop(config.task, n_train=1, n_val=2 * TRIALS, steps=config.steps, seed=123)
    _, states = predict(generator, jnp.asarray(trials.inputs))
    states = np.asarray(states)
    if not (out / "spikes.npz").is_file():
        rates = rates_of(states[:TRIALS], weights, bias)
        spikes = rng.poisson(rates).astype(np.float32)
        np.savez(out / "spikes.npz", inputs=trials.inputs[:TRIALS], targets=spikes, rates=rates)
    if not (out / "generator_analysis" / "summary.json").is_file():
        analyze(generator, trials.inputs[:200], None, out / "generator_analysis", ANALYSIS, title=f"{name} generator")
    return {"generator": generator, "weights": weights, "bias": bias, "states": states, "inputs": trials.inputs}


def fit(name: str, out: Path) -> RunConfig:
    config = RunConfig.from_dict({**FIT, "data": str(out / "spikes.npz"), "dim": GENERATORS[name]["dim"],
                                  "dt": 0.01, "tau": 0.01})  # fmt: skip
    run = out / "fit"
    if not (run / "summary.json").is_file():
        train_run(config, run, resume=(run / "config.json").is_file(), progress=False)
    return config


def compare(name: str, out: Path, sim: dict, config: RunConfig) -> dict:
    summary = json.loads((out / "fit" / "summary.json").read_text())
    fitted = load(out / "fit" / "model.npz")
    splits = load_splits(config)
    test = splits.test
    if not (out / "fit_analysis" / "summary.json").is_file():
        analyze(fitted, test.inputs, None, out / "fit_analysis", ANALYSIS, title=f"{name} fit",
                observed=test.targets)  # fmt: skip
    found = {k: json.loads((out / k / "summary.json").read_text()) for k in ("generator_analysis", "fit_analysis")}
    points = {k: np.load(out / k / "points.npz") for k in found}
    softplus = lambda y: np.asarray(jax.nn.softplus(y))  # noqa: E731 — the fit's link
    row = {
        "generator": name,
        "rate_r2": summary["test_rate_r2"],
        "co_smoothing": summary["test_co_smoothing"],
        "test_bits_per_spike": summary["test_bits_per_spike"],
        "generator_dimension": found["generator_analysis"]["dimension"],
        "fit_dimension": found["fit_analysis"]["dimension"],
        "generator_stable": found["generator_analysis"]["fixed_points"]["stable"],
        "fit_stable": found["fit_analysis"]["fixed_points"]["stable"],
    }
    generator_rates = rates_of(points["generator_analysis"]["slow_points"], sim["weights"], sim["bias"])
    fit_rates = softplus(points["fit_analysis"]["slow_readouts"])
    diameter = float(np.max(np.linalg.norm(generator_rates[:, None] - generator_rates[None], axis=-1)))
    if name == "ring":
        row["ring_chamfer_fraction"] = float(chamfer_distance(generator_rates, fit_rates)) / diameter
    else:
        stable = points["generator_analysis"]["stability"] == "stable"
        memories = rates_of(points["generator_analysis"]["fixed_points"][stable], sim["weights"], sim["bias"])
        fit_stable = points["fit_analysis"]["stability"] == "stable"
        recalled = softplus(points["fit_analysis"]["fixed_readouts"][fit_stable])
        if len(recalled):
            cost = np.linalg.norm(memories[:, None] - recalled[None], axis=-1)
            rows, cols = linear_sum_assignment(cost)
            row["memory_distance_fraction"] = float(cost[rows, cols].max()) / diameter
            row["memories_matched"] = int(np.sum(cost[rows, cols] < 0.1 * diameter))
    # dynamics similarity of each model's own flow: from the states its test trials visit, 50 bins at zero input
    starts = {"fit": np.asarray(predict(fitted, jnp.asarray(test.inputs), observed=jnp.asarray(test.targets))[1])}
    unrelated = initial_model(dataclasses.replace(config, model_seed=99), splits)
    starts["unrelated"] = np.asarray(
        predict(unrelated, jnp.asarray(test.inputs), observed=jnp.asarray(test.targets))[1]
    )
    starts["generator"], starts["generator_again"] = sim["states"][:TRIALS], sim["states"][TRIALS:]
    models = {"fit": fitted, "unrelated": unrelated, "generator": sim["generator"], "generator_again": sim["generator"]}
    flows = {k: relaxation(models[k], starts[k], seed=i) for i, k in enumerate(models)}
    row["dsa_fit_vs_generator"] = dsa(flows["fit"], flows["generator"]).distance
    row["dsa_generator_vs_itself"] = dsa(flows["generator_again"], flows["generator"]).distance
    row["dsa_unrelated_vs_generator"] = dsa(flows["unrelated"], flows["generator"]).distance
    return row


def relaxation(model, states: np.ndarray, seed: int, trials: int = 200, bins: int = 50) -> np.ndarray:
    """``trials`` runs of ``model`` at zero input for ``bins`` bins, each from a state its trials visit (random trial
    and time, drawn with ``seed``): its own flow, whatever the inputs did."""
    rng = np.random.default_rng(seed)
    picked = states[rng.integers(len(states), size=trials), rng.integers(states.shape[1], size=trials)]
    zeros = jnp.zeros((trials, bins, model.field.input_dim))
    return np.asarray(jax.vmap(model.run_from)(jnp.asarray(picked), zeros)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ground_truth"))
    parser.add_argument("--only", choices=sorted(GENERATORS), nargs="*")
    args = parser.parse_args()
    rows = []
    for name in args.only or GENERATORS:
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        sim = simulate(name, out)
        config = fit(name, out)
        rows.append(compare(name, out, sim, config))
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print("| generator | rate R² | co-smoothing (bits/spike) | attractor: generator → fit | DSA fit vs generator | "
          "DSA generator vs itself | DSA unrelated vs generator |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for r in rows:
        if r["generator"] == "ring":
            shape = (f"dimension {r['generator_dimension']} → {r['fit_dimension']}; Chamfer "
                     f"{100 * r['ring_chamfer_fraction']:.1f} % of the ring")  # fmt: skip
        else:
            shape = (f"{r['generator_stable']} → {r['fit_stable']} stable points; "
                     f"{r.get('memories_matched', 0)} of {r['generator_stable']} memories within 10 %")  # fmt: skip
        print(f"| {r['generator']} | {r['rate_r2']:.3f} | {r['co_smoothing']:.3f} | {shape} | "
              f"{r['dsa_fit_vs_generator']:.3f} | {r['dsa_generator_vs_itself']:.3f} | "
              f"{r['dsa_unrelated_vs_generator']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
