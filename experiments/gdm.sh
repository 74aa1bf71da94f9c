#!/usr/bin/env bash
# Regenerates the GDM section of docs/results.md: every model, 5 seeds, on both GDM NASCAR variants, scored under the
# fair and the paper protocol; then the per-iteration timing. Needs pip install -e '.[gdm]'.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gdm}
for variant in standard soft_sticky; do
  gnode gdm fit "$variant" --out "$out/$variant"
  gnode gdm evaluate --out "$out/$variant"
done
python benchmarks/gdm_fit.py
