#!/usr/bin/env bash
# Regenerates the GDM section of docs/results.md: every model, 5 seeds, on both GDM NASCAR variants, scored under the
# fair and the paper protocol; GDM with the ELBO summed over time; GDM with a learned projection; the soft-sticky
# diagnosis (true parameters, other paths); then the per-iteration timing. Needs pip install -e '.[gdm]'.
# About 110 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gdm}
for variant in standard soft_sticky; do
  gnode gdm fit "$variant" --out "$out/$variant"
  gnode gdm evaluate --out "$out/$variant"
  gnode gdm fit "$variant" --models gdm --no-time-average --out "$out/${variant}_summed"
  gnode gdm evaluate --out "$out/${variant}_summed"
done
gnode gdm fit soft_sticky --models gdm,gdm-gru --train-projection --out "$out/soft_sticky_trained_f"
gnode gdm evaluate --out "$out/soft_sticky_trained_f"
gnode gdm fit standard --models gdm --train-projection --out "$out/standard_trained_f"
gnode gdm evaluate --out "$out/standard_trained_f"
python experiments/gdm_true_parameters.py
python experiments/gdm_paths.py --out "$out/paths"
python benchmarks/gdm_fit.py
