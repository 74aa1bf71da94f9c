"""Phase portraits of trained 2-D runs (for docs/).

python experiments/portraits.py runs/flipflop_2d/*_N2_seed0 --out docs/figures
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gnode.analysis.portrait import plot_phase_portrait
from gnode.experiment import build, load_run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        model, config = load_run(run)
        _, _, val = build(config)
        path = args.out / f"{run.name}.png"
        speeds = plot_phase_portrait(model, val.inputs, val.targets, path, title=f"{config.model} on {config.task}")
        print(f"{path}: min speed {speeds['min_speed']:.2e}, median {speeds['median_speed']:.2e}")


if __name__ == "__main__":
    main()
