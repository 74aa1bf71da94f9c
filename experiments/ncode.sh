#!/usr/bin/env bash
# Regenerates the N-CODE section of docs/results.md (19 minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/ncode}
gnode ncode reflection --out "$out/reflection"
gnode ncode annulus --dim 1 --out "$out/annulus_1d"
gnode ncode annulus --dim 2 --out "$out/annulus_2d"
gnode ncode digits --out "$out/digits"
gnode ncode autoencode --out "$out/autoencoder"
