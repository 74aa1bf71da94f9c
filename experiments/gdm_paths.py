"""How much GDM's soft-sticky state accuracy depends on the simulated path: GDM (linear posterior, the authors'
model) fitted with 2 initialisations on each of 5 training/test path pairs (s, s + 1), s = 0, 2, 4, 6, 8, beside
the k-NN accuracy of the true position on the same pair — the most a posterior that sees only y_t = C x_t + noise
can carry (k = 10, train → test, as in the results table).

    python experiments/gdm_paths.py [--variant soft_sticky] [--out runs/gdm/paths]

Prints one markdown row per path pair and the means (about 10 min on 2 cores).
"""

from __future__ import annotations

import argparse

import numpy as np

from gnode.gdm.metrics import state_accuracy
from gnode.reproduce.gdm.experiment import evaluate_nascar, fit_nascar
from gnode.reproduce.gdm.nascar import nascar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="soft_sticky")
    parser.add_argument("--out", default="runs/gdm/paths")
    args = parser.parse_args()
    print("| training / test path | k-NN on the true position | GDM state accuracy (2 inits) |")
    print("|---|---|---|")
    bounds, scores = [], []
    for s in range(0, 10, 2):
        train, test = nascar(args.variant, seed=s), nascar(args.variant, seed=s + 1)
        bound = state_accuracy(train.latents, train.labels, test.latents, test.labels)
        out = f"{args.out}/{args.variant}_{s}_{s + 1}"
        fit_nascar(out, args.variant, models=("gdm",), seeds=range(2), paths=(s, s + 1))
        runs = evaluate_nascar(out)["runs"]["fair"]["gdm"]
        accuracy = [r["state_accuracy"] for r in runs]
        bounds.append(bound)
        scores.extend(accuracy)
        print(f"| {s} / {s + 1} | {bound:.3f} | {', '.join(f'{a:.3f}' for a in accuracy)} |", flush=True)
    print(f"| mean | {np.mean(bounds):.3f} | {np.mean(scores):.3f} ± {np.std(scores, ddof=1):.3f} |")


if __name__ == "__main__":
    main()
