"""Reading the dynamics of a trained model: any ``v(h)`` (or a field at a fixed input) in, JAX arrays out.

Fixed and slow points (:class:`FixedPointFinder`), Jacobian spectra and stability, the gate's share of them,
the dimension of the learned attractor and its shape against a task's storable set, memory drift; figures and
an HTML report at the edge (:func:`analyze`).
"""

from gnode.analysis.attractors import (
    chamfer_distance,
    coverage,
    dimensions,
    drift_statistics,
    hausdorff_distance,
    manifold_dimension,
    shape_match,
)
from gnode.analysis.fixed_points import FixedPointFinder, FixedPoints, box_starts, sample_starts
from gnode.analysis.jacobian import (
    Autonomous,
    Spectrum,
    TrajectorySpectra,
    along_trajectories,
    gate_decomposition,
    jacobians,
    spectrum,
)
from gnode.analysis.report import AnalysisConfig, analyze, analyze_field, analyze_run, run_trials

__all__ = [
    "AnalysisConfig",
    "Autonomous",
    "FixedPointFinder",
    "FixedPoints",
    "Spectrum",
    "TrajectorySpectra",
    "along_trajectories",
    "analyze",
    "analyze_field",
    "analyze_run",
    "box_starts",
    "chamfer_distance",
    "coverage",
    "dimensions",
    "drift_statistics",
    "gate_decomposition",
    "hausdorff_distance",
    "jacobians",
    "manifold_dimension",
    "run_trials",
    "sample_starts",
    "shape_match",
    "spectrum",
]
