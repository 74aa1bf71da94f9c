"""Choosing the number of states by cross-validation, on trials whose true number is known (4): the multi-trial
standard NASCAR data of ``experiments/gdm_trials.py``.

    python experiments/gdm_selection.py --out runs/gdm_selection      # ~35 min on 2 CPU cores

For GDM (K = 2..6), the SLDS (K = 2..6, latent dimension 2 and 3) and the ARHMM (K = 2..6): 5-fold cross-validation
over the 40 training trials (``gnode.gdm.runs.select_states``, the same as ``gnode gdm select``), each fit with the
settings of ``gdm_trials.py``; the held-out score per step of every fold, its mean ± standard error, the best mean
and the one-standard-error choice. Writes ``selection_<model>.json``, ``selection_<model>.png`` (resumable: finished
models are kept) and prints the tables of ``docs/results.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gdm_trials import trials

from gnode.files import write_json
from gnode.gdm import plots
from gnode.gdm.reports import selection_table
from gnode.gdm.runs import SwitchingConfig, select_states

CANDIDATES = {"gdm": (2,), "slds": (2, 3), "arhmm": (2,)}  # latent dimensions compared (GDM: its projection D)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(CANDIDATES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train = trials(0, 40)
    for model in args.models.split(","):
        path = args.out / f"selection_{model}.json"
        if path.is_file():
            result = json.loads(path.read_text())
            result["best"] = next(r for r in result["rows"] if r == result["best"])
            result["chosen"] = next(r for r in result["rows"] if r == result["chosen"])
        else:
            config = SwitchingConfig(model=model, batch=10, max_iterations=4000)
            result = select_states(train, config, (2, 3, 4, 5, 6), CANDIDATES[model], folds=5, split_seed=0)
            write_json(path, result)
            plots.plot_selection(result["rows"], result["chosen"], result["best"], args.out / f"selection_{model}.png",
                                 ylabel="held-out score per step")  # fmt: skip
        print(f"\n{model}: chosen K = {result['chosen']['states']}, latent {result['chosen']['latent']}\n")
        print(selection_table(result), flush=True)


if __name__ == "__main__":
    main()
