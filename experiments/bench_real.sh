#!/usr/bin/env bash
# Regenerates every table of docs/results.md "Real-world benchmarks" (about 5 h on 2 CPU cores).
# Needs: pip install -e '.[real]'; for the synthetic keywords, Debian's espeak-ng (apt-get install espeak-ng).
# Each command resumes: rerunning skips the models whose results are already in its folder.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bench_real}
for drop in 0.3 0.5 0.7; do
  gnode bench-real japanese-vowels --drop "$drop" --seeds 5 --out "$out/japanese_vowels_${drop/0./}"
done
gnode bench-real walker2d --batch 64 --out "$out/walker2d"
# the two models the 1,000-epoch cap stopped, again with a cap of 3,000 (the same seeds: the first 1,000 epochs repeat)
gnode bench-real walker2d --batch 64 --models node,lstm --epochs 3000 --out "$out/walker2d_cap3000"
gnode bench-real keywords --tau 4 --out "$out/keywords"
