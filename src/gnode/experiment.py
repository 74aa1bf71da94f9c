"""A training run described by one flat, JSON-able config: build, train, save, reload.

This is what ``gnode train`` and ``gnode demo`` call, and what sweeps will call.
"""

from __future__ import annotations

import dataclasses
import itertools
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from gnode.data import SequenceData
from gnode.errors import CheckpointError, ConfigError, DivergenceError
from gnode.init import critical_init
from gnode.losses import masked_mse, r2_score
from gnode.model import Model, make_model, parameter_count, predict
from gnode.saving import load, same_structure, save, to_bytes
from gnode.settings import check_memory, check_settings, read_settings_file
from gnode.sweep import expand_grid, key_without
from gnode.tasks import FLIPFLOP_TASKS, make_flipflop
from gnode.train import RunDir, TrainConfig, fit, load_tree
from gnode.train.driver import new_train_state
from gnode.train.ensemble import fit_ensemble


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Task, model and optimisation settings of one run (defaults: the authors' 2-D gnODE on the ring).

    ``steps`` and ``hold`` set the trial (bins, then zero-input bins that hold the last value; see
    ``gnode.tasks.flipflop``). ``init_from`` names a run directory whose best model starts this run
    (fine-tuning, e.g. on a longer hold); the architecture must match.
    """

    task: str = "ring"
    model: str = "gnode"
    dim: int = 2
    dynamics: Sequence[int] = (316, 316)  # stored as a tuple
    gate: Sequence[int] = ()
    activation: str = "relu"
    init: str = "glorot_uniform"  # or "critical" (critical_normal draw + critical_init)
    initial_state: str = "learned"
    tau: float = 0.01
    dt: float = 0.01
    model_seed: int = 0
    task_seed: int = 8
    n_train: int = 500
    n_val: int = 100
    steps: int = 100
    hold: int = 0
    init_from: str = ""
    lr: float = 1e-3
    weight_decay: float = 0.1
    batch_size: int = 100
    epochs: int = 200
    seed: int = 0
    checkpoint_every: int = 1

    def __post_init__(self):
        check_settings(RunConfig, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "config")
        if self.task not in FLIPFLOP_TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose one of {list(FLIPFLOP_TASKS)}")
        if self.dim <= 0:
            raise ConfigError(f"--dim must be positive, got {self.dim}")
        object.__setattr__(self, "dynamics", tuple(self.dynamics))
        object.__setattr__(self, "gate", tuple(self.gate))
        counts = {k: getattr(self, k) for k in ("n_train", "n_val", "steps")}
        if min(counts.values()) <= 0 or self.hold < 0 or not (self.tau > 0 and self.dt > 0):
            raise ConfigError(f"need n_train, n_val, steps, tau and dt positive and hold >= 0, got {counts}, "
                              f"hold={self.hold}, tau={self.tau}, dt={self.dt}")  # fmt: skip
        if min(self.seed, self.model_seed, self.task_seed) < 0:
            raise ConfigError("seed, model_seed and task_seed must be non-negative")
        self.train_config()  # validates the optimisation settings
        if self.batch_size > self.n_train:
            raise ConfigError(f"batch size {self.batch_size} exceeds the {self.n_train} training trials")
        check_memory(self.memory_estimate(), "this run")

    def memory_estimate(self) -> float:
        """Bytes a run needs, roughly: the trials, the parameters with AdamW's moments and the best copy, and one
        batch's activations kept for the backward pass."""
        channels = FLIPFLOP_TASKS[self.task].channels
        time = self.steps + self.hold
        sizes = [self.dim + channels, *self.dynamics, self.dim]
        gate = [self.dim + channels, *self.gate, self.dim]
        weights = sum(a * b for a, b in itertools.pairwise(sizes)) + sum(a * b for a, b in itertools.pairwise(gate))
        activations = self.batch_size * time * (sum(sizes) + sum(gate))
        return 4.0 * (2 * (self.n_train + self.n_val) * time * channels + 4 * weights + 2 * activations)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        check_settings(cls, values, "config")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(read_settings_file(path))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            epochs=self.epochs,
            seed=self.seed,
            checkpoint_every=self.checkpoint_every,
        )


def build(config: RunConfig) -> tuple[Model, Any, Any]:
    """The initial model and the train / validation data of ``config``."""
    train, val = make_flipflop(
        config.task,
        n_train=config.n_train,
        n_val=config.n_val,
        steps=config.steps,
        hold=config.hold,
        seed=config.task_seed,
    )
    channels = train.inputs.shape[-1]
    model = make_model(
        config.model,
        config.dim,
        channels,
        channels,
        flow_widths=config.dynamics,
        gate_widths=config.gate,
        activation=config.activation,
        init="critical_normal" if config.init == "critical" else config.init,
        initial_state=config.initial_state,
        tau=config.tau,
        dt=config.dt,
        key=jr.key(config.model_seed),
    )
    if config.init == "critical":
        model, _ = critical_init(model, train.inputs)
    return model, train, val


def warm_start(model: Model, config: RunConfig) -> Model:
    """``model`` with the parameters of ``config.init_from``'s best model (unchanged when it names none)."""
    if not config.init_from:
        return model
    try:
        loaded = load(RunDir(config.init_from).model_path)
    except CheckpointError as err:
        raise CheckpointError(f"init_from {config.init_from}: {err}") from None
    if not same_structure(loaded, model):
        raise CheckpointError(f"init_from {config.init_from}: its model differs from this run's in shape or kind")
    return loaded


def evaluate(model: Model, data: SequenceData) -> dict[str, float]:
    pred, _ = predict(model, jnp.asarray(data.inputs))
    return {
        "mse": float(masked_mse(pred, jnp.asarray(data.targets))),
        "r2": float(r2_score(pred, jnp.asarray(data.targets))),
    }


def train_run(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    keep_best_on_divergence: bool = False,
) -> dict[str, Any]:
    """Train ``config`` into the run directory ``out``; return (and write) ``summary.json``.

    ``keep_best_on_divergence``: when the loss becomes non-finite, report the best-validation model seen
    before it (from the last good checkpoint) with ``diverged_at_epoch`` set, instead of raising.
    """
    model, train, val = build(config)  # validates every setting before anything is written
    if not (resume and RunDir(out).started):  # a resumed run starts from its own checkpoint, wherever init_from
        model = warm_start(model, config)  # has gone since
    run = RunDir.create(out, config.to_dict(), resume=resume, defaults=RunConfig().to_dict())
    tick = time.perf_counter()
    diverged_at = None
    try:
        result = fit(model, train, val, config.train_config(), run_dir=run, resume=resume, progress=progress)
        best, best_epoch = result.model, result.summary["best_epoch"]
    except DivergenceError:
        if not keep_best_on_divergence:
            raise
        template, static = new_train_state(model, config.train_config())
        state, meta = load_tree(run.checkpoint_path, template)
        best, best_epoch = eqx.combine(state.best_params, state.frozen, static), int(state.best_epoch)
        diverged_at = meta["epoch"] + 1
        save(run.model_path, best, {"which": "best validation before divergence"})
    seconds = time.perf_counter() - tick
    scores = evaluate(best, val)
    summary = {
        "task": config.task,
        "model": config.model,
        "dim": config.dim,
        "dynamics": list(config.dynamics),
        "parameters": parameter_count(best),
        "val_mse": scores["mse"],
        "val_r2": scores["r2"],
        "train_r2": evaluate(best, train)["r2"],
        "best_epoch": best_epoch,
        "diverged_at_epoch": diverged_at,
        "epochs": config.epochs,
        "train_seconds_this_process": seconds,
        "machine": f"{platform.machine()} {jax.default_backend()} x{jax.local_device_count()}",
    }
    run.write_summary(summary)
    return summary


def sweep_cells(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The run settings of every cell of a sweep, each checked as a :class:`RunConfig` before anything runs."""
    cells = expand_grid(base, grid)
    return [RunConfig.from_dict(cell).to_dict() for cell in cells]


MEMBER_SETTINGS = ("lr", "weight_decay", "seed", "model_seed")  # what may differ inside one vmapped group


def group_key(values: dict[str, Any]) -> str:
    """Runs whose settings differ only in ``MEMBER_SETTINGS`` train together as one vmapped ensemble."""
    return key_without(values, MEMBER_SETTINGS)


def train_group(cells: list[dict[str, Any]], workdir: str | Path | None = None) -> list[dict[str, Any]]:
    """Train runs that share a :func:`group_key` in one vmapped program; one result row per run. With ``workdir``
    the program checkpoints there every epoch and continues from its checkpoint (a sweep killed and run again).

    Each member keeps its own initialisation (``model_seed``), data order (``seed``), learning rate and decay;
    the rows give its best-validation scores and, under ``trained_model``, the model itself (the sweep saves it).
    """
    configs = [RunConfig.from_dict(c) for c in cells]
    if len({group_key(c.to_dict()) for c in configs}) != 1:
        raise ConfigError("train_group: the runs differ in more than " + ", ".join(MEMBER_SETTINGS))
    built = [build(c) for c in configs]
    _, train, val = built[0]
    tick = time.perf_counter()
    best, result = fit_ensemble(
        [warm_start(m, c) for (m, _, _), c in zip(built, configs, strict=True)],
        train,
        val,
        configs[0].train_config(),
        lrs=[c.lr for c in configs],
        weight_decays=[c.weight_decay for c in configs],
        seeds=[c.seed for c in configs],
        progress=False,
        run_dir=None if workdir is None else RunDir.scratch(workdir),
        resume=workdir is not None,
    )
    seconds = time.perf_counter() - tick
    rows = []
    for i, model in enumerate(best):
        scores, train_scores = evaluate(model, val), evaluate(model, train)
        rows.append(
            {
                "val_mse": scores["mse"],
                "val_r2": scores["r2"],
                "train_r2": train_scores["r2"],
                "best_epoch": int(result.summary["best_epoch"][i]),
                "diverged": bool(result.summary["diverged"][i]),
                "parameters": parameter_count(model),
                "group_size": len(configs),
                "group_seconds": seconds,
                "trained_model": to_bytes(model, {"cell": cells[i]}),
            }
        )
    return rows


def load_run(path: str | Path) -> tuple[Model, RunConfig]:
    """The best-validation model of a finished run, and its config."""
    run = RunDir(path)
    config = RunConfig.from_dict(run.read_config())  # first: a folder that holds no run says so
    return load(run.model_path), config
