#!/usr/bin/env bash
# Regenerates the Connector section of docs/results.md (each ensemble: LINT + Connector fit, about 25 min on
# 2 CPU cores; needs pip install -e '.[connector]').
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/connector}
for name in quadstable bistable limit_cycle ring; do
  gnode connector generate "$name" --out "$out/$name"
  gnode connector fit --out "$out/$name" --ridge-rows 0   # every row: the numbers in docs/results.md
  gnode connector evaluate --out "$out/$name"
done
gnode connector table "$out/quadstable" "$out/bistable" "$out/limit_cycle" "$out/ring"
gnode connector distances "$out/quadstable" "$out/bistable" "$out/limit_cycle" "$out/ring"
python benchmarks/connector_flow.py
