"""Reference scores for the Walker2d table: the test MSE of predicting the mean (0 after standardising) and of
predicting that the next state equals the current one (persistence).

    python experiments/walker_baseline.py runs/bench_real/walker2d/walker2d.npz
"""

import sys

import numpy as np

from gnode.datasets.walker import STATE_DIM, WalkerConfig, walker_kinematics, walker_trajectories

cache = sys.argv[1] if len(sys.argv) > 1 else "runs/bench_real/walker2d/walker2d.npz"
test = walker_kinematics(walker_trajectories(cache, WalkerConfig()))["test"]
print(f"test windows: {test.num_samples}")
print(f"predict the mean:          MSE {np.mean(test.targets**2):.4f}")
print(f"predict the current state: MSE {np.mean((test.inputs[..., :STATE_DIM] - test.targets) ** 2):.4f}")
