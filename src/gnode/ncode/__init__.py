"""N-CODE (Chalvidal et al., ICLR 2021): neural ODEs whose vector-field weights are dynamic, set by a trainable map
of the input (open loop) or of the current state (closed loop)."""

from gnode.ncode.control import (
    AbstractControlDynamics,
    AbstractControlMap,
    ClosedLoop,
    ConstantControl,
    MLPControl,
    OpenLoop,
    Static,
)
from gnode.ncode.flow import FlowSolution, FlowSolver
from gnode.ncode.functional import AbstractFunctionalField, FunctionalConv, FunctionalMLP
from gnode.ncode.model import NCODE, Augment, Autoencoder, LearnedConstant, Reshape, evaluate, neural_ode

__all__ = [
    "NCODE",
    "AbstractControlDynamics",
    "AbstractControlMap",
    "AbstractFunctionalField",
    "Augment",
    "Autoencoder",
    "ClosedLoop",
    "ConstantControl",
    "FlowSolution",
    "FlowSolver",
    "FunctionalConv",
    "FunctionalMLP",
    "LearnedConstant",
    "MLPControl",
    "OpenLoop",
    "Reshape",
    "Static",
    "evaluate",
    "neural_ode",
]
