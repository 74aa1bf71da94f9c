"""Fitting autonomous models to target trajectories: one cell is (model knobs, complexity K, seed, target).

The model runs with no input (``input_dim = 0``) from its initial state: ``learned`` (a trained ``h0``) or
``fixed`` (a random, untrained one), and a linear readout is trained with it to reproduce the target over the
whole trajectory (MSE, full batch, Adam). Cells that differ only in ``knots``, ``seed``, ``target`` and ``lr``
share their shapes, so a group of them trains as one vmapped ensemble with one target per member.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.data import SequenceData
from gnode.errors import ConfigError
from gnode.losses import r2_score
from gnode.model import Model, make_model, parameter_count, predict
from gnode.saving import to_bytes
from gnode.settings import check_settings
from gnode.sweep import key_without
from gnode.tasks.trajectories import TARGET_KINDS, random_trajectories
from gnode.train.driver import TrainConfig
from gnode.train.ensemble import fit_ensemble
from gnode.train.runs import RunDir

MODELS = ("gnode", "node")


@dataclasses.dataclass(frozen=True)
class FitCell:
    """One fit of the expressivity sweep.

    Attributes:
        model: ``gnode`` or ``node``; dim: N; depth, width: hidden layers of F and their width (depth 0: F is
            affine); gate_depth, gate_width: the same for the gate G (gnODE only; depth 0: one sigmoid layer).
        activation: hidden nonlinearity; initial_state: ``learned`` or ``fixed``; tau, dt: time constant and bin.
        knots: the target's complexity K; seed, target: which target (and which initialisation) of that K.
        outputs: D, the target's dimension; steps: bins per trajectory; kind: ``spline`` or ``gp``.
        lr: Adam learning rate; iterations: gradient steps; evaluate_every: steps between checks of the fit
            (the best fit seen is kept).
    """

    model: str = "gnode"
    dim: int = 4
    depth: int = 1
    width: int = 64
    gate_depth: int = 0
    gate_width: int = 0
    activation: str = "tanh"
    initial_state: str = "learned"
    tau: float = 0.05
    dt: float = 0.01
    knots: int = 4
    seed: int = 0
    target: int = 0
    outputs: int = 2
    steps: int = 100
    kind: str = "spline"
    lr: float = 1e-2
    iterations: int = 2000
    evaluate_every: int = 50

    def __post_init__(self):
        check_settings(FitCell, dataclasses.asdict(self), "expressivity settings")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; the expressivity sweep knows {list(MODELS)}")
        if self.kind not in TARGET_KINDS:
            raise ConfigError(f"unknown target kind {self.kind!r}; choose one of {list(TARGET_KINDS)}")
        sizes = ("dim", "knots", "outputs", "steps", "iterations", "evaluate_every")
        if any(getattr(self, k) <= 0 for k in sizes):
            raise ConfigError(f"{', '.join(sizes)} must be positive, got " + str([getattr(self, k) for k in sizes]))
        if min(self.depth, self.gate_depth, self.seed, self.target) < 0:
            raise ConfigError("depth, gate_depth, seed and target must be non-negative")
        if (self.depth > 0 and self.width <= 0) or (self.gate_depth > 0 and self.gate_width <= 0):
            raise ConfigError(f"a hidden layer needs a positive width, got width {self.width}, gate {self.gate_width}")
        if self.iterations % self.evaluate_every:
            raise ConfigError(
                f"iterations {self.iterations} must be a multiple of evaluate_every {self.evaluate_every}"
            )
        if not (self.lr > 0 and self.tau > 0 and self.dt > 0):
            raise ConfigError("lr, tau and dt must be positive")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitCell:
        check_settings(cls, values, "expressivity settings")
        cell = cls(**values)
        # a width without layers means nothing: one name for each distinct model
        return dataclasses.replace(
            cell,
            width=cell.width if cell.depth else 0,
            gate_width=cell.gate_width if cell.gate_depth and cell.model == "gnode" else 0,
            gate_depth=cell.gate_depth if cell.model == "gnode" else 0,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def target_values(self) -> np.ndarray:
        """The target ``(steps, outputs)``: the same for every model, so models are compared on equal ground."""
        seed = (self.seed, self.knots, self.target)
        return random_trajectories(1, self.knots, self.outputs, self.steps, kind=self.kind, seed=seed)[0]

    def build(self) -> Model:
        return make_model(
            self.model,
            self.dim,
            0,
            self.outputs,
            flow_widths=(self.width,) * self.depth,
            gate_widths=(self.gate_width,) * self.gate_depth,
            activation=self.activation,
            initial_state=self.initial_state,
            tau=self.tau,
            dt=self.dt,
            key=jr.fold_in(jr.key(self.seed), self.target),
        )


MEMBER_SETTINGS = ("knots", "seed", "target", "lr")


def group_key(values: dict[str, Any]) -> str:
    """Cells that differ only in the target or the learning rate (``MEMBER_SETTINGS``) fit together in one
    vmapped program."""
    return key_without(values, MEMBER_SETTINGS)


def fit_group(cells: list[dict[str, Any]], workdir: str | Path | None = None) -> list[dict[str, Any]]:
    """Fit every cell of one :func:`group_key` in one vmapped program; one row per cell (R², parameters, ...,
    and the fitted ``trained_model``, which the sweep saves). With ``workdir`` the program checkpoints there and
    continues from its checkpoint."""
    fits = [FitCell.from_dict(c) for c in cells]
    if len({group_key(f.to_dict()) for f in fits}) != 1:
        raise ConfigError("fit_group: the cells differ in more than " + ", ".join(MEMBER_SETTINGS))
    first = fits[0]
    targets = [f.target_values() for f in fits]
    silent = np.zeros((first.evaluate_every, first.steps, 0), np.float32)
    # an "epoch" is evaluate_every full-batch steps on the one target, then a check of the fit
    train = [SequenceData(silent, np.repeat(t[None], first.evaluate_every, 0)) for t in targets]
    check = [SequenceData(silent[:1], t[None]) for t in targets]
    config = TrainConfig(
        lr=first.lr, weight_decay=0.0, batch_size=1, epochs=first.iterations // first.evaluate_every, seed=0
    )
    best, result = fit_ensemble(
        [f.build() for f in fits], train, check, config, lrs=[f.lr for f in fits], progress=False,
        run_dir=None if workdir is None else RunDir.scratch(workdir), resume=workdir is not None,
    )  # fmt: skip
    seconds = result.summary["fit_seconds"]  # a resumed group's whole cost
    # an epoch after the first runs the compiled program only: the group's speed without compilation
    epoch_seconds = float(np.median([row["seconds"] for row in result.history[1:]] or [np.nan]))
    rows = []
    for i, model in enumerate(best):
        pred, _ = predict(model, jnp.asarray(silent[:1]))
        r2 = float(r2_score(pred, jnp.asarray(targets[i][None])))
        rows.append(
            {
                "r2": r2 if np.isfinite(r2) else float("-inf"),
                "parameters": parameter_count(model),
                "best_iteration": int(result.summary["best_epoch"][i]) * first.evaluate_every,
                "diverged": bool(result.summary["diverged"][i]),
                "group_size": len(fits),
                "group_seconds": seconds,
                "group_epoch_seconds": epoch_seconds,
                "trained_model": to_bytes(model, {"cell": cells[i]}),
            }
        )
    return rows
