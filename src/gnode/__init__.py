"""gnode: gated neural ODEs in JAX, and tools to read the dynamics they learn.

The public API is what this module exports (``gnode.__all__``) and the model families' own namespaces
(:mod:`gnode.ncode`, :mod:`gnode.connector`, :mod:`gnode.gdm`) and :mod:`gnode.analysis`. The papers' protocols
live in :mod:`gnode.reproduce`, which the library never imports.
"""

__version__ = "0.2.0"

from gnode import analysis, connector, gdm, ncode
from gnode.data import AbstractData, ArrayData, SequenceData, load_sequences, pad_trials, split_trials, validate
from gnode.devices import use_cpu_cores
from gnode.errors import CheckpointError, ConfigError, DataError, DivergenceError, GnodeError, RunDirError, WriteError
from gnode.fields import GNODE, GRU, LSTM, MGRU, NODE, RNN, AbstractField, FunctionField, make_field
from gnode.init import critical_init
from gnode.losses import (
    MSE,
    AbstractLoss,
    CrossEntropy,
    Poisson,
    StepCrossEntropy,
    accuracy,
    last_state_cross_entropy,
    loss_named,
    masked_mse,
    r2_score,
)
from gnode.model import (
    AbstractInitialState,
    EncoderState,
    FixedState,
    LearnedState,
    Model,
    ZeroState,
    make_model,
    matched_size,
    parameter_count,
    predict,
)
from gnode.nn import MLP, Linear
from gnode.saving import describe, load, load_meta, register_function, save
from gnode.solve import AbstractIntegrator, AbstractInterpolation, Adaptive, Euler, PiecewiseConstant, PiecewiseLinear
from gnode.tasks import make_flipflop
from gnode.train import FitResult, RunDir, TrainConfig, fit
from gnode.train.ensemble import fit_ensemble, member, stack
from gnode.train.objective import AbstractObjective, MapObjective, SequenceObjective

__all__ = [
    "GNODE",
    "GRU",
    "LSTM",
    "MGRU",
    "MLP",
    "MSE",
    "NODE",
    "RNN",
    "AbstractData",
    "AbstractField",
    "AbstractInitialState",
    "AbstractIntegrator",
    "AbstractInterpolation",
    "AbstractLoss",
    "AbstractObjective",
    "Adaptive",
    "ArrayData",
    "CheckpointError",
    "ConfigError",
    "CrossEntropy",
    "DataError",
    "DivergenceError",
    "EncoderState",
    "Euler",
    "FitResult",
    "FixedState",
    "FunctionField",
    "GnodeError",
    "LearnedState",
    "Linear",
    "MapObjective",
    "Model",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "Poisson",
    "RunDir",
    "RunDirError",
    "SequenceData",
    "SequenceObjective",
    "StepCrossEntropy",
    "TrainConfig",
    "WriteError",
    "ZeroState",
    "__version__",
    "accuracy",
    "analysis",
    "connector",
    "critical_init",
    "describe",
    "fit",
    "fit_ensemble",
    "gdm",
    "last_state_cross_entropy",
    "load",
    "load_meta",
    "load_sequences",
    "loss_named",
    "make_field",
    "make_flipflop",
    "make_model",
    "masked_mse",
    "matched_size",
    "member",
    "ncode",
    "pad_trials",
    "parameter_count",
    "predict",
    "r2_score",
    "register_function",
    "save",
    "split_trials",
    "stack",
    "use_cpu_cores",
    "validate",
]
