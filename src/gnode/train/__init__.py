"""Training: losses are in :mod:`gnode.losses`; here the jitted epoch, the driver, checkpoints, run dirs."""

from gnode.train.checkpoint import load_tree, save_tree
from gnode.train.fit import FitResult, TrainConfig, fit
from gnode.train.runs import RunDir

__all__ = ["FitResult", "RunDir", "TrainConfig", "fit", "load_tree", "save_tree"]
