"""Training: losses are in :mod:`gnode.losses`; here the pure step and epoch (:mod:`~gnode.train.step`), the driver
(:mod:`~gnode.train.driver`) and its callbacks, the optimiser builder, ensembles, checkpoints and run folders."""

from gnode.train.callbacks import Callback, EarlyStopping, ProgressBar, RunFiles, StopOnDivergence
from gnode.train.checkpoint import load_tree, save_tree
from gnode.train.driver import FitResult, TrainConfig, fit
from gnode.train.optim import adamw
from gnode.train.runs import RunDir, UnitStore

__all__ = [
    "Callback",
    "EarlyStopping",
    "FitResult",
    "ProgressBar",
    "RunDir",
    "RunFiles",
    "StopOnDivergence",
    "TrainConfig",
    "UnitStore",
    "adamw",
    "fit",
    "load_tree",
    "save_tree",
]
