"""GDM and the switching baselines on many trials with known states: the standard NASCAR system cut into short paths.

    python experiments/gdm_trials.py --out runs/gdm_trials            # ~40 min on 2 CPU cores
    python experiments/gdm_trials.py --out runs/gdm_trials --seeds 1  # one initialisation per model

Data: 40 training and 20 test trials of 200 steps of the standard NASCAR system (4 states, 2-D latent, 10
channels), each from its own start drawn uniformly from the track's region (``nascar_trials``), so the trials
follow different paths; the test trials come from other starts and noise. The same data for every model.

Models (``gnode.gdm.runs``), K = 4, 5 initialisation seeds each, fitted on the training trials only:
GDM (linear transitions, linear posterior), GDM-RNN (GRU transitions, learned projection, GRU posterior) — both
with minibatches of 10 trials and at most 4000 iterations — and the SLDS, the recurrent-only rSLDS (latent 2) and
the ARHMM, 100 EM iterations each.

Scores on the test trials (the fair protocol: every model infers the test trials' states itself):
- state quality: a 10-nearest-neighbour classifier from the states each model infers on the training trials to
  the true labels, scored on the test trials (soft states for GDM, one-hot for the baselines, as the authors);
- matched accuracy: the share of test steps whose most likely state is the true one after the best renaming;
- one-step and 10-step R² of the observations (pooled over the test trials' steps);
- the held-out score per step (each model's own bound or likelihood: see ``gnode.gdm.runs``).

Writes ``results.json`` (resumable: finished fits are kept) and prints the table of ``docs/results.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gnode.files import write_json
from gnode.gdm.data import switching_data
from gnode.gdm.metrics import matched_accuracy, mean_r2, state_accuracy
from gnode.gdm.runs import SwitchingConfig, fit_switching, held_out_score, infer_switching
from gnode.reproduce.gdm.nascar import nascar_trials

MODELS = ("gdm", "gdm-rnn", "slds", "rslds", "arhmm")
NAMES = {"gdm": "GDM", "gdm-rnn": "GDM-RNN", "slds": "SLDS", "rslds": "rSLDS", "arhmm": "ARHMM"}
STEPS = 10


def trials(seed: int, count: int):
    paths = nascar_trials("standard", trials=count, time=200, seed=seed)
    return switching_data([p.observations for p in paths], states=[p.labels for p in paths])


def flat(data, values):
    return np.concatenate([values[i, :n] for i, n in enumerate(data.lengths)])


def score(model: str, seed: int, train, test) -> dict:
    config = SwitchingConfig(model=model, states=4, latent=2, seed=seed, batch=10, max_iterations=4000)
    start = time.perf_counter()
    fit = fit_switching(train, config)
    seconds = time.perf_counter() - start
    on_train, on_test = infer_switching(fit, train, STEPS, seed), infer_switching(fit, test, STEPS, seed)
    features = [flat(d, inferred["states"]) for d, inferred in ((train, on_train), (test, on_test))]
    if not config.is_gdm:
        features = [np.eye(4)[f.argmax(-1)] for f in features]
    truth = [flat(train, train.states), flat(test, test.states)]
    ahead = test.mask & (np.arange(test.mask.shape[1])[None, :] >= STEPS)
    return {
        "state_quality": state_accuracy(features[0], truth[0], features[1], truth[1]),
        "matched_accuracy": matched_accuracy(features[1].argmax(-1), truth[1]),
        "one_step_r2": mean_r2(on_test["reconstruction"][test.mask], test.observations[test.mask]),
        f"{STEPS}_step_r2": mean_r2(on_test["forecast"][ahead], test.observations[ahead]),
        "held_out_score": held_out_score(fit, test),
        "iterations": fit.history.get("iterations"),
        "fit_seconds": seconds,
    }


def table(results: dict) -> str:
    keys = ("state_quality", "matched_accuracy", "one_step_r2", f"{STEPS}_step_r2")
    lines = ["| model | state quality | matched accuracy | one-step R² | 10-step R² | fit (s) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for model in MODELS:
        runs = [v for k, v in results.items() if k.split("/")[0] == model]
        if not runs:
            continue
        cells = []
        for key in (*keys, "fit_seconds"):
            values = np.asarray([r[key] for r in runs])
            cells.append(
                f"{values.mean():.0f}" if key == "fit_seconds" else f"{values.mean():.3f} ± {values.std():.3f}"
            )
        lines.append(f"| {NAMES[model]} ({len(runs)} seeds) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    train, test = trials(0, 40), trials(1, 20)
    for model in args.models.split(","):
        for seed in range(args.seeds):
            name = f"{model}/{seed}"
            if name in results:
                continue
            results[name] = score(model, seed, train, test)
            write_json(path, results)
            print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in results[name].items()}, flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
