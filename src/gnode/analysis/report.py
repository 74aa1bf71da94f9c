"""The whole analysis of a trained model on a task: slow and fixed points, spectra, attractor metrics, memory
drift, pictures, ``summary.json`` and an HTML report. ``gnode analyze`` and ``gnode demo`` call :func:`analyze`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from gnode.analysis.attractors import dimensions, drift_statistics, manifold_dimension, shape_match
from gnode.analysis.fixed_points import FixedPointFinder, box_starts, sample_starts
from gnode.analysis.html import state_view, write_report
from gnode.analysis.jacobian import Autonomous, along_trajectories, gate_decomposition, spectrum
from gnode.analysis.plots import plot_cloud, plot_line, plot_plane, plot_readout, plot_trajectory_spectra
from gnode.data import SequenceData
from gnode.errors import ConfigError, GnodeError
from gnode.experiment import RunConfig, build, load_splits
from gnode.fields import FunctionField
from gnode.files import save_arrays, write_json
from gnode.model import Model, ZeroState
from gnode.nn import Linear
from gnode.saving import load
from gnode.tasks import FLIPFLOP_TASKS
from gnode.tasks.storable import Points, StorableSet
from gnode.train import RunDir


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Settings of :func:`analyze`.

    Attributes:
        starts: initial states for the fixed-point search; ``box_fraction`` of them uniform in the box around the
            trajectories padded by 20 % (they find saddles and points off the trajectories), the rest drawn from
            the validation trajectories plus Gaussian noise of ``noise`` times the states' standard deviation.
        finder: the :class:`FixedPointFinder`.
        dimension_threshold: a slow point's dimension counts eigenvalues with ``|Re lambda| <`` this (1/tau units).
        delta: coverage radius in readout units (default 5 % of the storable set's diameter).
        point_tol: for a finite storable set, a target counts as found if a stable fixed point's readout is this
            close.
        hold_factor: memory drift is measured over a zero-input hold of this many trial lengths.
        trials: validation trials used for trajectories, starts and drift.
        listed_points: ``summary.json`` lists each fixed point (state, readout, class, eigenvalues, gates, the
            spectrum of ``-I + dF/dh``) up to this many.
    """

    starts: int = 1024
    box_fraction: float = 0.25
    noise: float = 0.05
    finder: FixedPointFinder = dataclasses.field(default_factory=FixedPointFinder)
    dimension_threshold: float = 0.1
    delta: float | None = None
    point_tol: float = 0.1
    hold_factor: float = 10.0
    trials: int = 100
    listed_points: int = 64
    seed: int = 0


def _readout(model: Model, points: ArrayLike) -> np.ndarray:
    if len(points) == 0:
        return np.zeros((0, model.readout.weight.shape[0]))
    return np.asarray(jax.vmap(model.readout)(jnp.asarray(points, jnp.float32)))


def _starts(states: ArrayLike, config: AnalysisConfig) -> np.ndarray:
    flat = states.reshape(-1, states.shape[-1])
    n_box = round(config.box_fraction * config.starts)
    near = sample_starts(flat, config.starts - n_box, config.noise * float(flat.std()), seed=config.seed)
    if n_box == 0:
        return near
    lo, hi = flat.min(0), flat.max(0)
    pad = 0.2 * (hi - lo) + 1e-3
    return np.concatenate([near, box_starts(lo - pad, hi + pad, n_box, seed=config.seed + 1)])


def _point_targets(storable: Points, stable_readouts: ArrayLike, tol: float) -> dict[str, Any]:
    """For each target point, the distance to the nearest stable fixed point's readout."""
    targets = np.asarray(storable.points)
    if len(stable_readouts) == 0:
        return {"targets_found": 0, "targets": len(targets), "max_target_distance": None}
    distance = np.linalg.norm(targets[:, None] - stable_readouts[None], axis=-1).min(1)
    return {
        "targets_found": int(np.sum(distance <= tol)),
        "targets": len(targets),
        "max_target_distance": float(distance.max()),
    }


@eqx.filter_jit
def _trajectories(model: Model, h0s, inputs):
    return jax.vmap(model.run_from)(h0s, inputs)


@eqx.filter_jit
def _initial_states(model: Model, inputs, observed):
    return jax.vmap(model.initial_state, in_axes=(0, None if observed is None else 0))(inputs, observed)


def analyze(
    model: Model,
    inputs: Float[ArrayLike, "batch time inp"],
    storable: StorableSet | None,
    out: str | Path,
    config: AnalysisConfig | None = None,
    *,
    title: str = "",
    observed: Float[ArrayLike, "batch time out"] | None = None,
    initial_states: Float[ArrayLike, "batch state"] | None = None,
    held_input: Float[ArrayLike, " inp"] | Sequence[float] | None = None,
) -> dict[str, Any]:
    """Analyse ``model`` driven by ``inputs`` ``(trials, time, channels)`` (e.g. a task's validation inputs) and
    write the figures, ``summary.json``, ``report.html`` and ``points.npz`` (the slow and fixed points, their
    classes and readouts) into ``out`` (created; must not hold a report).

    Arguments:
        storable: the set the network should store, in readout space (None: unknown).
        observed: the trials' observations, for an initial state inferred from them (an encoder).
        initial_states: ``(trials, N)`` states to start the trials from, instead of the model's rule.
        held_input: the constant input ``x*`` whose dynamics ``v(h, x*)`` are read (fixed points, spectra, drift);
            zero by default.

    Returns: the summary (also in ``summary.json``).
    """
    config = AnalysisConfig() if config is None else config
    inputs = np.asarray(inputs, np.float32)[: config.trials]
    d = model.field.input_dim
    if inputs.ndim != 3 or inputs.shape[-1] != d or 0 in inputs.shape[:2]:
        raise ConfigError(f"inputs must be non-empty (trials, time, {d}), got {inputs.shape}")
    if not np.all(np.isfinite(inputs)):
        raise ConfigError("inputs contain NaN or inf")
    x_held = np.zeros(d, np.float32) if held_input is None else np.asarray(held_input, np.float32)
    if x_held.shape != (d,) or not np.all(np.isfinite(x_held)):
        raise ConfigError(f"the held input must be {d} finite numbers, got shape {x_held.shape}")
    if storable is not None and storable.dim != model.readout.weight.shape[0]:
        outs = model.readout.weight.shape[0]
        raise ConfigError(f"the storable set lives in {storable.dim}-D, the readout in {outs}-D")
    h0s = _start_states(model, inputs, observed, initial_states)
    out = Path(out)
    if (out / "summary.json").exists():
        raise ConfigError(f"{out} already holds an analysis; choose another directory")
    out.mkdir(parents=True, exist_ok=True)

    outputs, states = (np.asarray(a) for a in _trajectories(model, jnp.asarray(h0s), jnp.asarray(inputs)))
    n = states.shape[-1]
    x_star = jnp.asarray(x_held)
    velocity = Autonomous(model.field, x_star)
    found = config.finder(velocity, _starts(states, config))
    summary: dict[str, Any] = {"state_dim": n, "held_input": x_held.tolist(), "fixed_points": found.summary()}
    # slow points: their spectra give the local dimension of the learned memory
    if len(found.slow_points):
        slow_spectrum = spectrum(velocity, found.slow_points)
        counts = np.bincount(np.asarray(dimensions(slow_spectrum, config.dimension_threshold)), minlength=n + 1)
        summary["dimension"] = manifold_dimension(slow_spectrum, config.dimension_threshold)
        summary["dimension_counts"] = {str(d): int(c) for d, c in enumerate(counts)}
    else:
        summary["dimension"] = None
    slow_readouts, fixed_readouts = _readout(model, found.slow_points), _readout(model, found.points)
    stable = np.array([s == "stable" for s in found.stability], bool)
    summary["stable_readouts"] = fixed_readouts[stable].round(4).tolist() if stable.sum() <= 16 else "many"
    if found.points.size:
        gates, ungated_spectrum = gate_decomposition(model.field, found.points, x_star)
        # the report's numbers, in NumPy
        points, gates, q = np.asarray(found.points), np.asarray(gates), np.asarray(found.q)
        eigenvalues, ungated_eigenvalues = (
            np.asarray(found.spectrum.eigenvalues),
            np.asarray(ungated_spectrum.eigenvalues),
        )
        summary["gate_at_fixed_points"] = {"min": float(gates.min()), "median": float(np.median(gates))}
        # v = G * (-h + F) also vanishes where a gate shuts: count the fixed points that are not zeros of -h + F
        ungated = jax.vmap(lambda h: model.field.ungated_velocity(h, x_star))(found.points)
        ungated_speed = np.linalg.norm(np.asarray(ungated), axis=1)
        summary["gate_closed_fixed_points"] = int(np.sum(ungated_speed > 1e-3))
        summary["fixed_point_list"] = [
            {
                "state": points[i].round(5).tolist(),
                "readout": fixed_readouts[i].round(5).tolist(),
                "q": float(q[i]),
                "stability": found.stability[i],
                "eigenvalues_real": eigenvalues[i].real.astype(np.float64).round(5).tolist(),
                "eigenvalues_imag": eigenvalues[i].imag.astype(np.float64).round(5).tolist(),
                "gate": gates[i].round(5).tolist(),
                "ungated_eigenvalues_real": ungated_eigenvalues[i].real.astype(np.float64).round(5).tolist(),
                "ungated_speed": float(ungated_speed[i]),
            }
            for i in range(min(len(found.points), config.listed_points))
        ]

    if storable is not None:
        summary["storable"] = storable.describe()
        if len(slow_readouts):
            summary["shape"] = shape_match(storable, slow_readouts, config.delta)
        if isinstance(storable, Points):
            summary["point_targets"] = _point_targets(storable, fixed_readouts[stable], config.point_tol)
        diameter = storable.diameter()
    else:
        diameter = float(np.ptp(outputs.reshape(-1, outputs.shape[-1]), axis=0).max())

    # memory: run each trial to its end, then hold the input at x*
    steps = inputs.shape[1]
    hold = max(1, round(config.hold_factor * steps))
    held_inputs = jnp.broadcast_to(x_star, (len(inputs), hold, d))
    held, _ = _trajectories(model, jnp.asarray(states[:, -1]), held_inputs)
    held = np.concatenate([outputs[:, -1:], np.asarray(held)], axis=1)
    summary["drift"] = drift_statistics(held, hold * model.dt, diameter)

    traj = along_trajectories(model.field, states, inputs, model.tau)
    time_constants = np.asarray(traj.time_constants)
    summary["trajectories"] = {
        "median_slowest_time_constant_s": float(np.median(time_constants.max(-1))),
        "median_fastest_time_constant_s": float(np.median(time_constants.min(-1))),
        "median_gate": float(np.median(np.asarray(traj.gates))),
    }

    figures = {}
    name = title or "model"
    if n == 1:
        plot_line(model.field, states, found, out / "line.png", title=name, x=x_held)
        figures["line.png"] = "The 1-D flow v(h, x*): zeros are fixed points (stable where v falls through zero)"
    elif n == 2:
        summary["plane"] = plot_plane(model.field, states[:8], found, out / "plane.png", title=name, x=x_held)
        figures["plane.png"] = "State space: speed of the autonomous flow, streamlines, nullclines, fixed points"
    else:
        summary["cloud"] = plot_cloud(states, found, out / "cloud.png", title=name)
        figures["cloud.png"] = "Slow points, fixed points and trajectories" + (" (top 3 PCs)" if n > 3 else "")
    if outputs.shape[-1] >= 2:
        plot_readout(slow_readouts, fixed_readouts, found.stability, storable, outputs, out / "readout.png", title=name)
        figures["readout.png"] = "Readout space: slow and fixed points over the storable set"
    plot_trajectory_spectra(traj, inputs, out / "spectra.png")
    figures["spectra.png"] = "Local time constants and gates along a validation trial"
    summary["figures"] = list(figures)
    save_arrays(out / "points.npz", slow_points=np.asarray(found.slow_points), fixed_points=np.asarray(found.points),
                stability=np.asarray(found.stability, dtype=str), slow_readouts=slow_readouts,
                fixed_readouts=fixed_readouts)  # fmt: skip
    write_json(out / "summary.json", summary)
    view = state_view(states, found, fixed_readouts)
    write_report(out / "report.html", name, summary, figures, view, tau=model.tau,
                 dimension_threshold=config.dimension_threshold)  # fmt: skip
    return summary


def _start_states(model: Model, inputs: np.ndarray, observed: Any, initial_states: Any) -> np.ndarray:
    """The trials' initial states: given, or the model's rule (from the observations where it reads them)."""
    n = model.field.state_dim
    if initial_states is not None:
        h0s = np.asarray(initial_states, np.float32)[: len(inputs)]
        if h0s.shape != (len(inputs), n) or not np.all(np.isfinite(h0s)):
            raise ConfigError(f"initial states must be finite, of shape ({len(inputs)}, {n}), got {h0s.shape}")
        return h0s
    if not model.initial_state.reads_observations:
        observed = None
    else:
        if observed is None:
            raise ConfigError("this model infers h0 from observations: pass the trials' observations")
        observed = np.asarray(observed, np.float32)[: len(inputs)]
        if observed.shape[:2] != inputs.shape[:2] or observed.shape[-1] != model.readout.weight.shape[0]:
            raise ConfigError(f"observations must have shape (trials, time, outputs) matching the inputs "
                              f"{inputs.shape[:2]}, got {observed.shape}")  # fmt: skip
        observed = jnp.asarray(observed)
    return np.asarray(_initial_states(model, jnp.asarray(inputs), observed))


def analyze_run(
    run: str | Path,
    out: str | Path,
    config: AnalysisConfig | None = None,
    *,
    title: str = "",
    data: SequenceData | None = None,
    held_input: Float[ArrayLike, " inp"] | Sequence[float] | None = None,
    storable: StorableSet | None = None,
) -> dict[str, Any]:
    """:func:`analyze` on what gnode wrote (see :func:`run_trials`): ``data`` or the run's own trials, with
    ``storable`` or the task's storable set."""
    model, data, own = run_trials(run, data)
    observed = None if data.is_classification else data.targets
    return analyze(
        model,
        data.inputs,
        own if storable is None else storable,
        out,
        config,
        title=title,
        observed=observed,
        held_input=held_input,
    )


def run_trials(run: str | Path, data: SequenceData | None = None) -> tuple[Model, SequenceData, StorableSet | None]:
    """The model gnode wrote at ``run`` — a run directory (``gnode train``, or :func:`gnode.fit` with a run
    directory) or a model file (``model.npz``, a sweep's ``models/<cell>.npz``) — the trials that drive it and its
    task's storable set.

    The trials are ``data`` if given, else the run's own validation trials (its task's or its data file's); a task
    run trained with a zero-input ``hold`` is driven without it, so that the drift hold is ``hold_factor`` times the
    same trial length for every run. Data and neurogym runs have no storable set.

    Raises:
        ConfigError: no trials to drive the model (a model file, or a run gnode cannot rebuild, without ``data``).
    """
    model, run_config = _load_any(Path(run))
    if data is not None:
        return model, data, None
    if run_config is None:
        raise ConfigError(f"{run}: no task or data file to drive the model; pass the trials (--data FILE)")
    if run_config.data:
        return model, load_splits(run_config).val, None
    val = build(dataclasses.replace(run_config, hold=0))[2]
    task = FLIPFLOP_TASKS.get(run_config.task)
    return model, val, None if task is None else task.storable


def _load_any(path: Path) -> tuple[Model, RunConfig | None]:
    """The model at ``path`` (a run directory or a model file), and the run's config where gnode can rebuild it."""
    if path.is_file():
        return check_model(load(path), path), None
    run = RunDir(path)
    settings = run.read_config()  # first: a folder that holds no run says so
    try:
        config = RunConfig.from_dict(settings)
    except GnodeError:  # e.g. a run written by gnode.fit from Python: its model, without a task to rebuild
        config = None
    return check_model(load(run.model_path), run.model_path), config


def check_model(model: Any, path: Path) -> Model:
    if not isinstance(model, Model):
        raise ConfigError(f"{path}: holds a {type(model).__name__}, not a sequence model (gnode.Model)")
    return model


def analyze_field(
    velocity: Callable[[Array, Array], Array],
    initial_states: Float[ArrayLike, "batch state"],
    inputs: Float[ArrayLike, "batch time inp"],
    out: str | Path,
    config: AnalysisConfig | None = None,
    *,
    tau: float = 1.0,
    dt: float = 0.1,
    readout: Linear | None = None,
    storable: StorableSet | None = None,
    held_input: Float[ArrayLike, " inp"] | Sequence[float] | None = None,
    title: str = "",
) -> dict[str, Any]:
    """:func:`analyze` for any JAX vector field ``tau dh/dt = velocity(h, x)`` — a hand-written RNN, a model from
    elsewhere — driven by ``inputs`` from ``initial_states`` (Euler steps of ``dt``), with the same report.

    Arguments:
        velocity: ``v(h, x)`` on one state ``(N,)`` and one input ``(d,)`` (``d`` may be 0).
        readout: a :class:`gnode.Linear` from state to output (default: the state itself).
    """
    h0s = np.asarray(initial_states, np.float32)
    inputs = np.asarray(inputs, np.float32)
    if h0s.ndim != 2 or inputs.ndim != 3:
        raise ConfigError(f"need initial states (trials, N) and inputs (trials, time, d), got {h0s.shape} and "
                          f"{inputs.shape}")  # fmt: skip
    n, d = h0s.shape[1], inputs.shape[2]
    if readout is None:
        readout = eqx.tree_at(lambda r: (r.weight, r.bias), Linear(n, n, key=jax.random.key(0)),
                              (jnp.eye(n), jnp.zeros(n)))  # fmt: skip
    model = Model(FunctionField(velocity, n, d), ZeroState(n), readout, tau=float(tau), dt=float(dt))
    return analyze(model, inputs, storable, out, config, title=title, initial_states=h0s, held_input=held_input)
