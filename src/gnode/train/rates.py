"""A learning-rate grid trained as ensembles of (rate, seed) members, resumable, its rate chosen interior.

Each batch of rates trains as one ensemble (every rate crossed with every seed) and is stored as its own unit
(:func:`gnode.train.runs.resumable`), so a command killed while the grid is being extended resumes inside the
batch it was training and never repeats a finished one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gnode.selection import RateChoice, interior_rate
from gnode.train.runs import RunDir, resumable

Member = tuple[float, int]  # (learning rate, seed)


@dataclasses.dataclass(frozen=True)
class RateFit:
    """The seeds of one learning rate, as trained in their batch.

    Attributes:
        models: the best-validation model of each seed.
        val_loss: each seed's best validation loss.
        best_epoch: the epoch at which each seed reached it.
        members: where the seeds sit in their batch's ensemble.
        record: the whole record of the batch, shared by every rate in it.
    """

    models: list
    val_loss: list[float]
    best_epoch: list[int]
    members: slice
    record: dict[str, Any]


def fit_rates(
    fit_members: Callable[[list[Member], RunDir | None], tuple[list, dict[str, Any]]],
    rates: Sequence[float],
    seeds: int,
    extensions: int,
    *,
    out: str | Path | None,
    unit: str,
    settings: dict[str, Any],
    together: bool = True,
) -> tuple[RateChoice, dict[float, RateFit]]:
    """Train every (rate, seed) of ``rates``, extending the grid past the edge the choice lands on.

    Arguments:
        fit_members: trains the members given as one ensemble (checkpointing in the run folder, when given) and
            returns their best-validation models and a record with per-member lists ``val_loss`` and
            ``best_epoch``.
        rates, extensions: the initial grid and how many rates may be added (:func:`gnode.selection.interior_rate`).
        seeds: seeds per rate (0, 1, ...).
        out, unit, settings: where each batch is stored, as unit ``<unit>_lr<rates>`` with ``settings``.
        together: train the rates of a batch as one ensemble; False trains each rate's seeds as an ensemble of its
            own — better for adaptive solvers, whose vmapped members all take as many steps as the stiffest one.
    Returns:
        The choice (on the mean best-validation loss over seeds) and the fit of every rate tried.
    """
    fits: dict[float, RateFit] = {}

    def fit(rates: list[float]) -> dict[float, float]:
        losses = {}
        for batch in [rates] if together else [[lr] for lr in rates]:
            losses.update(fit_batch(batch))
        return losses

    def fit_batch(batch: list[float]) -> dict[float, float]:
        grid = [(lr, seed) for lr in batch for seed in range(seeds)]

        def work(run_dir):
            models, record = fit_members(grid, run_dir)
            return models, record, {}

        name = f"{unit}_lr" + "_".join(f"{lr:g}" for lr in batch)
        models, record, _ = resumable(out, name, {**settings, "lrs": batch, "seeds": seeds}, work)
        for k, lr in enumerate(batch):
            part = slice(k * seeds, (k + 1) * seeds)
            fits[lr] = RateFit(models[part], record["val_loss"][part], record["best_epoch"][part], part, record)
        return {lr: float(np.mean(fits[lr].val_loss)) for lr in batch}

    return interior_rate(fit, rates, extensions), fits


def batch_seconds(fits: dict[float, RateFit]) -> float:
    """The wall time of every batch trained (each counted once)."""
    return sum({id(f.record): f.record.get("seconds", 0.0) for f in fits.values()}.values())
