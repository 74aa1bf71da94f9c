#!/usr/bin/env bash
# The authors' 27-point (lr x decay x batch) grid for the flip-flop tables of docs/results.md, through gnode sweep:
# the variable-amplitude 3-bit task (five models, 600 epochs) and the 2-D suite (gnODE and nODE, five tasks,
# 200 epochs). About 4 h (3-bit) and 5 h (2-D) on 2 CPU cores; every sweep resumes where it stopped, so run this
# again after an interruption. --extend-lr 2: where the best cell's lr is the grid's edge, up to two more rates
# past it (at that cell's decay and batch) until it is interior. Add --ray-address auto to the gnode sweep lines to spread the groups over Ray.
# Then: python experiments/flipflop_grid.py runs/sweep_27_3bit_* runs/sweep_27_2d_*
set -euo pipefail
cd "$(dirname "$0")/.."
gnode sweep experiments/sweeps/flipflop_27.toml --out runs/sweep_27_3bit_gnode --extend-lr 2
for model in node gru mgru rnn; do
  gnode sweep "experiments/sweeps/flipflop_27_3bit_$model.toml" --out "runs/sweep_27_3bit_$model" --extend-lr 2
done
for model in gnode node; do
  gnode sweep "experiments/sweeps/flipflop_27_2d_$model.toml" --out "runs/sweep_27_2d_$model" --extend-lr 2
done
