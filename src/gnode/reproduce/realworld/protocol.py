"""The benchmark protocol: matched parameter counts, a learning rate chosen on validation, seeds, early stopping.

Every model of a task gets the same budget of trained parameters (the state size is searched for the count
nearest to it), the same learning-rate grid, optimiser settings and data; the seeds change the initialisation
and the data order. All (learning rate, seed) pairs of a model train as one vmapped ensemble. Each model's
learning rate is the one with the lowest mean best-validation loss over seeds, and the parameters with the
best validation loss of each of those seeds are scored on the test set: the test set never chooses anything.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.data import SequenceData, to_grid
from gnode.errors import ConfigError
from gnode.fields import FIELDS, LAYERED_FIELDS
from gnode.files import write_json
from gnode.losses import accuracy, loss_named, masked_mse
from gnode.model import Model, make_model, matched_size, parameter_count, predict
from gnode.reproduce.realworld.tasks import RealTask
from gnode.saving import save
from gnode.solve import Euler
from gnode.train.driver import TrainConfig
from gnode.train.ensemble import fit_ensemble
from gnode.train.rates import batch_seconds, fit_rates
from gnode.train.runs import UnitStore

MODELS = ("gnode", "node", "gru", "mgru", "rnn", "lstm")
LABELS = {"gnode": "gnODE", "node": "nODE", "gru": "GRU", "mgru": "mGRU", "rnn": "leaky RNN", "lstm": "LSTM"}


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """Settings shared by every model of a benchmark.

    Attributes:
        models: fields to compare; seeds: runs per model; budget: target count of trained parameters.
        lrs: the learning-rate grid; each model's rate is chosen on validation. extend_lrs: how many rates may be
            added past the edge of the grid the choice lands on, so that it ends interior
            (:func:`gnode.selection.interior_rate`).
        hidden_ratio: width of the one hidden layer of the nODE / gnODE networks, per state unit.
        tau: the time constant in the data's time unit (original sample steps); max_alpha: the largest
            Euler step ``dt / tau`` allowed, which sets the substeps per bin from the longest gap in the data.
        grid: put irregular data on the grid of original steps first (:func:`gnode.data.to_grid`), so a gap
            of g steps costs g Euler steps; otherwise every bin takes the longest gap's worth of substeps.
        weight_decay, batch_size, epochs, patience, clip_norm: AdamW and early stopping.
    """

    models: tuple[str, ...] = MODELS
    seeds: int = 3
    budget: int = 5_000
    hidden_ratio: float = 1.0
    tau: float = 1.0
    max_alpha: float = 1.0
    grid: bool = True
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)
    extend_lrs: int = 3
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 1000
    patience: int | None = 30  # None: no early stopping
    clip_norm: float | None = 1.0

    def __post_init__(self):
        unknown = sorted(set(self.models) - set(FIELDS))
        if unknown or not self.models:
            raise ConfigError(f"unknown model(s) {unknown}; choose from {list(FIELDS)}")
        if not self.lrs or min(self.lrs) <= 0:
            raise ConfigError(f"need at least one learning rate, all positive; got {list(self.lrs)}")
        if self.extend_lrs < 0:
            raise ConfigError(f"extend_lrs must be >= 0, got {self.extend_lrs}")
        if self.seeds < 1 or self.budget < 10 or self.hidden_ratio <= 0 or self.tau <= 0 or self.max_alpha <= 0:
            raise ConfigError("need seeds >= 1, budget >= 10, and positive hidden_ratio, tau and max_alpha")
        self.train_config()  # validates the optimiser settings

    def train_config(self, loss: str = "mse") -> TrainConfig:
        return TrainConfig(
            lr=self.lrs[0],
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            epochs=self.epochs,
            loss=loss_named(loss),
            clip_norm=self.clip_norm,
            patience=self.patience,
        )


def build_model(name: str, state_dim: int, task: RealTask, config: BenchConfig, seed: int) -> Model:
    """A ``name`` model of ``state_dim`` units for ``task`` (nODE / gnODE: one hidden layer per network)."""
    width = (max(1, round(config.hidden_ratio * state_dim)),) if name in LAYERED_FIELDS else ()
    return make_model(
        name,
        state_dim,
        task.input_dim,
        task.output_dim,
        flow_widths=width,
        gate_widths=width if name == "gnode" else (),
        tau=config.tau,
        dt=1.0,  # one original sample step, the data's time unit
        key=jr.key(seed),
    )


def matched_state_dim(name: str, task: RealTask, config: BenchConfig, largest: int = 4096) -> int:
    """The state size whose parameter count is nearest ``config.budget`` (counts grow with the size; an
    LSTM's state ``[h; c]`` has even sizes only)."""
    step = 2 if name == "lstm" else 1
    count = lambda k: parameter_count(build_model(name, step * k, task, config, 0))  # noqa: E731
    return step * matched_size(count, config.budget, largest)


def largest_gap(splits: dict[str, SequenceData]) -> float:
    """The longest time between observations in any split (one step for data on the regular grid)."""
    gaps = [np.diff(d.times, axis=1, prepend=0.0).max() for d in splits.values() if d.times is not None]
    return max(gaps, default=1.0)


def prepared(task: RealTask, config: BenchConfig) -> tuple[dict[str, SequenceData], Euler]:
    """The splits as the models see them (on the step grid when ``config.grid``) and an Euler integrator with
    enough substeps that no step exceeds ``max_alpha`` time constants."""
    splits = task.splits
    if config.grid:
        splits = {name: data if data.times is None else to_grid(data, 1.0) for name, data in splits.items()}
    return splits, Euler(substeps=max(1, math.ceil(largest_gap(splits) / (config.tau * config.max_alpha))))


def score(model: Model, data: SequenceData, loss: str, integrator: Euler, chunk: int = 256) -> float:
    """Test accuracy (classification from the last observed state) or MSE over observed entries."""
    totals, weights = [], []
    for start in range(0, data.num_samples, chunk):
        part = data.subset(slice(start, start + chunk))
        times = None if part.times is None else jnp.asarray(part.times)
        pred, _ = predict(model, jnp.asarray(part.inputs), times, integrator)
        mask = None if part.mask is None else jnp.asarray(part.mask)
        if loss == "cross_entropy":
            value = accuracy(pred, jnp.asarray(part.targets), mask)
        else:
            value = masked_mse(pred, jnp.asarray(part.targets), mask)
        totals.append(float(value) * part.num_samples)
        weights.append(part.num_samples)
    return sum(totals) / sum(weights)


def run_benchmark(
    task: RealTask, config: BenchConfig, out: str | Path | None = None, progress: bool = False
) -> list[dict[str, Any]]:
    """Train every model of ``config`` on ``task``; one row per (model, learning rate, seed), with the test
    score on the rows of the chosen learning rate (``selected``) only.

    With ``out``, each model is stored as it finishes (its chosen rate's seeds in ``out/models/<model>.npz`` by
    :func:`gnode.save`, its rows in ``out/units/``) and ``out/results.json`` is rewritten; its ensemble checkpoints
    every epoch while it trains. Run again in ``out`` after a crash, the benchmark loads every model finished with the
    same task and settings (the list of models aside), continues the interrupted one from its checkpoint and trains
    the rest: adding a model trains only that one.
    """
    shared = {k: v for k, v in dataclasses.asdict(config).items() if k != "models"}
    settings = {"task": task.name, "title": task.title, "config": shared, "details": task.details}
    units = None if out is None else UnitStore(out)
    splits, integrator = prepared(task, config)
    train_config = config.train_config(task.loss)
    rows: list[dict[str, Any]] = []
    for name in config.models:
        found = None if units is None else units.get(name, settings)
        if found is not None:
            rows += found[1]["rows"]
            continue
        state_dim = matched_state_dim(name, task, config)

        def fit_members(grid, run_dir, name=name, state_dim=state_dim):
            best, result = fit_ensemble(
                [build_model(name, state_dim, task, config, seed) for _, seed in grid],
                splits["train"],
                splits["val"],
                train_config,
                lrs=[lr for lr, _ in grid],
                seeds=[seed for _, seed in grid],
                integrator=integrator,
                progress=progress,
                run_dir=run_dir,
                resume=run_dir is not None,
                keep_diverged=True,  # a rate whose every seed diverges is one of the grid's results
            )
            return best, {
                "val_loss": np.asarray(result.summary["best_val_loss"]).tolist(),
                "best_epoch": np.asarray(result.summary["best_epoch"]).tolist(),
                "diverged": np.asarray(result.summary["diverged"]).tolist(),
                "epochs_run": result.summary["epochs_run"],
                # a resumed fit's cost whole: the epochs a killed process ran count too
                "seconds": result.summary["fit_seconds"],
            }

        choice, fits = fit_rates(fit_members, config.lrs, config.seeds, config.extend_lrs, out=out, unit=name,
                                 settings={**settings, "model": name})  # fmt: skip
        chosen = choice.chosen
        if units is not None:  # the chosen rate's seeds, saved before the unit that names them
            save(units.path.parent / "models" / f"{name}.npz", tuple(fits[chosen].models), {"model": name,
                 "lr": chosen, "task": task.name, "seeds": list(range(config.seeds))})  # fmt: skip
        mine = [
            {
                "model": name,
                "lr": lr,
                "seed": seed,
                "selected": lr == chosen,
                "lr_interior": choice.interior,
                "state_dim": state_dim,
                "parameters": parameter_count(model),
                "test": score(model, splits["test"], task.loss, integrator) if lr == chosen else None,
                "val_loss": fit.val_loss[seed],
                "best_epoch": fit.best_epoch[seed],
                "diverged": bool(fit.record["diverged"][fit.members][seed]),
                "epochs_run": fit.record["epochs_run"],
                "seconds_all_members": batch_seconds(fits),
                "substeps": integrator.substeps,
            }
            for lr, fit in fits.items()
            for seed, model in enumerate(fit.models)
        ]
        rows += mine
        if units is not None:
            units.put(name, settings, {"rows": mine}, {})
            write_json(units.path.parent / "results.json", {"settings": settings, "rows": rows})
    if units is not None:
        write_json(units.path.parent / "results.json", {"settings": settings, "rows": rows})
    return rows


def metric_name(loss: str) -> str:
    return "test accuracy" if loss == "cross_entropy" else "test MSE"


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per model, over the seeds of its chosen learning rate: mean and std (ddof 1) of the test score,
    parameters, state size, the rates tried and whether the choice is interior to them, the epoch of each seed's
    best validation loss, the epochs run and wall time (of the whole learning-rate grid)."""
    summary = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name and r["selected"]]
        scores = np.array([r["test"] for r in mine])
        summary[name] = {
            "mean": float(scores.mean()),
            "std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
            "seeds": len(scores),
            "parameters": mine[0]["parameters"],
            "state_dim": mine[0]["state_dim"],
            "lr": mine[0]["lr"],
            "seconds": mine[0]["seconds_all_members"],
            "epochs": float(np.mean([r["epochs_run"] for r in mine])),
            "best_epochs": [r["best_epoch"] for r in mine],
            "rates": sorted({r["lr"] for r in rows if r["model"] == name}),
            "interior": bool(mine[0].get("lr_interior", False)),
        }
    return summary


def gating_difference(rows: list[dict[str, Any]]) -> tuple[float, float] | None:
    """gnODE − nODE mean test score and the standard error of that difference (independent seeds)."""
    summary = summarize(rows)
    if "gnode" not in summary or "node" not in summary:
        return None
    g, n = summary["gnode"], summary["node"]
    return g["mean"] - n["mean"], math.sqrt(g["std"] ** 2 / g["seeds"] + n["std"] ** 2 / n["seeds"])


def markdown_table(rows: list[dict[str, Any]], loss: str, epochs: int | None = None) -> str:
    """The results table: one line per model, mean ± std over seeds. The chosen rate is starred where it is not
    interior to the rates tried; "epochs run" is marked "(cap)" where it reached ``epochs``."""
    scale, unit, digits = (100.0, " (%)", 1) if loss == "cross_entropy" else (1.0, "", 4)
    show = lambda value: f"{scale * value:.{digits}f}"  # noqa: E731
    header = ("| model | {} | seeds | parameters | state size | lr (chosen on val) | rates tried | best epochs "
              "(per seed) | epochs run | wall time (s) |")  # fmt: skip
    lines = [header.format(metric_name(loss) + unit), "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in summarize(rows).items():
        rates = f"{s['rates'][0]:g}–{s['rates'][-1]:g} ({len(s['rates'])})"
        cap = " (cap)" if epochs is not None and s["epochs"] >= epochs else ""
        lines.append(
            f"| {LABELS.get(name, name)} | {show(s['mean'])} ± {show(s['std'])} | {s['seeds']} | {s['parameters']} "
            f"| {s['state_dim']} | {s['lr']:g}{'' if s['interior'] else '*'} | {rates} | "
            f"{', '.join(str(e) for e in s['best_epochs'])} | {s['epochs']:.0f}{cap} | {s['seconds']:.0f} |"
        )
    difference = gating_difference(rows)
    if difference is not None:
        lines += [
            "",
            f"gnODE − nODE: {'+' if difference[0] >= 0 else ''}{show(difference[0])} ± {show(difference[1])} "
            "(difference of means ± its standard error)",
        ]
    return "\n".join(lines)
