"""``gnode train``, ``gnode sweep``, ``gnode expressivity``, ``gnode analyze`` and ``gnode demo``.

Every error from gnode is one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from gnode.cli.common import (
    console,
    one_line_errors,
    parse_floats,
    parse_names,
    parse_seconds,
    parse_widths,
    print_table,
    report_error,
)
from gnode.cli.connector import app as connector_app
from gnode.cli.gdm import app as gdm_app
from gnode.cli.ncode import app as ncode_app
from gnode.errors import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Gated neural ODEs: train, and read the dynamics.")
app.add_typer(ncode_app, name="ncode")
app.add_typer(connector_app, name="connector")
app.add_typer(gdm_app, name="gdm")


@app.callback()
def options(
    compilation_cache: Annotated[
        bool, typer.Option(help="keep compiled programs in the user's cache folder (or $GNODE_COMPILATION_CACHE)")
    ] = True,
):
    """Gated neural ODEs: train, and read the dynamics."""
    if compilation_cache:
        from gnode.compilation import use_persistent_cache

        use_persistent_cache()


@app.command()
@one_line_errors
def train(
    out: Annotated[Path, typer.Option(help="run directory (must be new unless --resume)")],
    config: Annotated[Path | None, typer.Option(help="JSON or TOML file of run settings")] = None,
    task: Annotated[str | None, typer.Option(help="ring, square, three_bit_variable, ... or neurogym:NAME")] = None,
    task_option: Annotated[list[str] | None, typer.Option(help="a neurogym task's KEY=VALUE (repeatable)")] = None,
    data: Annotated[str | None, typer.Option(help=".npz of sequences: inputs, targets or labels, mask, times")] = None,
    val_data: Annotated[str | None, typer.Option(help="validation trials (else --val-fraction of --data)")] = None,
    test_data: Annotated[str | None, typer.Option(help="test trials (else --test-fraction of --data)")] = None,
    val_fraction: Annotated[float | None, typer.Option(help="share of --data held out for validation")] = None,
    test_fraction: Annotated[float | None, typer.Option(help="share of --data held out for testing")] = None,
    split_seed: Annotated[int | None, typer.Option(help="seed of the split and of the held-out channels")] = None,
    observation: Annotated[str | None, typer.Option(help="auto, gaussian, poisson (counts) or categorical")] = None,
    link: Annotated[str | None, typer.Option(help="Poisson rate of the readout: softplus or exp")] = None,
    held_out: Annotated[float | None, typer.Option(help="share of target channels the encoder never reads")] = None,
    encoder_width: Annotated[int | None, typer.Option(help="hidden size of the encoder's GRUs")] = None,
    nwb_units: Annotated[str | None, typer.Option(help="NWB: units table ('units' or MODULE/TABLE)")] = None,
    nwb_series: Annotated[str | None, typer.Option(help="NWB: a time series instead (NAME or MODULE/NAME)")] = None,
    align: Annotated[str | None, typer.Option(help="NWB: trials column to align on (default start_time)")] = None,
    window: Annotated[str | None, typer.Option(help="NWB: START,STOP seconds around it (default: each trial)")] = (
        None
    ),
    bin_width: Annotated[str | None, typer.Option("--bin", help="NWB: bin width, e.g. 10ms (sets --dt)")] = None,
    smooth: Annotated[str | None, typer.Option(help="NWB: causal Gaussian smoothing sd, e.g. 20ms")] = None,
    nwb_inputs: Annotated[str | None, typer.Option(help="NWB: trials columns as inputs, e.g. context,cue_time")] = (
        None
    ),
    nwb_labels: Annotated[str | None, typer.Option(help="NWB: trials column of class labels (decoding)")] = None,
    model: Annotated[str | None, typer.Option(help="gnode, node, mgru, gru, rnn or lstm")] = None,
    dim: Annotated[int | None, typer.Option(help="state dimension N")] = None,
    dynamics: Annotated[
        str | None,
        typer.Option(help="hidden widths of F, gnode and node only (default 316,316; '' = one layer)"),
    ] = None,
    gate: Annotated[str | None, typer.Option(help="hidden widths of G, gnode only ('' = one layer)")] = None,
    activation: Annotated[str | None, typer.Option(help="relu, tanh, swish or gelu")] = None,
    init: Annotated[str | None, typer.Option(help="glorot_uniform, glorot_normal, kaiming_*, critical")] = None,
    initial_state: Annotated[str | None, typer.Option(help="learned, fixed, zero or encoder (per trial)")] = None,
    tau: Annotated[float | None, typer.Option(help="time constant (s)")] = None,
    dt: Annotated[float | None, typer.Option(help="bin width (s)")] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    weight_decay: Annotated[float | None, typer.Option("--decay", help="AdamW weight decay")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch")] = None,
    epochs: Annotated[int | None, typer.Option()] = None,
    n_train: Annotated[int | None, typer.Option(help="training trials of a task")] = None,
    n_val: Annotated[int | None, typer.Option(help="validation trials of a task")] = None,
    task_seed: Annotated[int | None, typer.Option(help="seed of a task's trials")] = None,
    steps: Annotated[int | None, typer.Option(help="bins per trial")] = None,
    hold: Annotated[int | None, typer.Option(help="zero-input bins appended to each trial (memory hold)")] = None,
    patience: Annotated[int | None, typer.Option(help="stop after this many epochs without improvement")] = None,
    clip_norm: Annotated[float | None, typer.Option(help="clip the gradient's global norm (0: off)")] = None,
    init_from: Annotated[str | None, typer.Option(help="start from this run directory's best model")] = None,
    seed: Annotated[int | None, typer.Option(help="data-order seed")] = None,
    model_seed: Annotated[int | None, typer.Option(help="initialisation seed")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out from its checkpoint")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
):
    """Train one model on a flip-flop task or on your sequences (--data); writes config, metrics, checkpoints,
    model and summary.json."""
    from gnode.devices import use_cpu_cores

    use_cpu_cores()  # before JAX starts: a large enough minibatch is split over the cores
    from gnode.experiment import RunConfig, train_run
    from gnode.settings import read_settings_file

    given = {
        "task": task,
        "task_options": None if task_option is None else tuple(task_option),
        "data": data,
        "val_data": val_data,
        "test_data": test_data,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "split_seed": split_seed,
        "observation": observation,
        "link": link,
        "held_out": held_out,
        "encoder_width": encoder_width,
        "nwb_units": nwb_units,
        "nwb_series": nwb_series,
        "align": align,
        "window": None if window is None else parse_floats(window, "--window"),
        "smooth": parse_seconds(smooth, "--smooth"),
        "nwb_inputs": parse_names(nwb_inputs),
        "nwb_labels": nwb_labels,
        "tau": tau,
        "dt": dt,
        "patience": patience,
        "clip_norm": clip_norm,
        "model": model,
        "dim": dim,
        "dynamics": parse_widths(dynamics),
        "gate": parse_widths(gate),
        "activation": activation,
        "init": init,
        "initial_state": initial_state,
        "lr": lr,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        "epochs": epochs,
        "n_train": n_train,
        "n_val": n_val,
        "task_seed": task_seed,
        "steps": steps,
        "hold": hold,
        "init_from": init_from,
        "seed": seed,
        "model_seed": model_seed,
    }
    bin_seconds = parse_seconds(bin_width, "--bin")
    if bin_seconds is not None:
        if dt is not None and dt != bin_seconds:
            raise ConfigError(f"--bin {bin_width} and --dt {dt} disagree (the bin width is the model's dt)")
        given["dt"] = bin_seconds
    values = read_settings_file(config) if config else {}
    if resume and not config:  # the stored settings, and the options given on top (e.g. more --epochs)
        from gnode.train import RunDir

        stored = RunDir(out)
        if stored.config_path.is_file() or all(v is None for v in given.values()):
            values = stored.read_config()
    values.update({k: v for k, v in given.items() if v is not None})
    if given["data"] is not None and given["task"] is None:  # --data replaces a task of the config file
        values.pop("task", None)
    run_config = RunConfig.from_dict(values)
    summary = train_run(run_config, out, resume=resume, progress=progress)
    print_table(f"{run_config.model} on {run_config.source} -> {out}", summary)


def summary_rows(summary: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an analysis summary, flattened for a table."""
    fixed, shape, drift = summary["fixed_points"], summary.get("shape", {}), summary["drift"]
    rows = {
        "fixed points (stable / saddles / unstable)": f"{fixed['stable']} / {fixed['saddles']} / {fixed['unstable']}",
        "slow points": fixed["slow_points"],
        "median q where the descent stopped": fixed["descent_q_median"],
        "dimension at slow points": summary["dimension"],
    }
    if shape:
        rows["chamfer / diameter"] = shape["chamfer_fraction"]
        rows["coverage"] = shape["coverage"]
    if summary.get("point_targets"):
        targets = summary["point_targets"]
        rows["targets with a stable point"] = f"{targets['targets_found']} / {targets['targets']}"
    rows[f"drift over {drift['hold_seconds']:g} s / diameter"] = drift["median_drift_fraction"]
    return rows


def run_analysis(
    run_dir: Path,
    out: Path,
    title: str,
    *,
    data: Path | None = None,
    held_input: str | None = None,
    storable: Path | None = None,
    **settings: Any,
) -> dict[str, dict[str, Any]]:
    """``gnode analyze`` on a run directory or model file; ``settings`` go to ``AnalysisConfig`` or, for
    ``slow_tol`` and ``max_steps``, to its ``FixedPointFinder``. ``held_input``: ``mean`` (the trials' mean input),
    ``mean-by:COLUMN`` (one analysis per value of a condition of the trials, in ``out/COLUMN=VALUE``, at those
    trials' mean input) or comma-separated numbers; ``storable``: a file of points in readout space.

    Returns: each analysis's summary, by name (``""`` for a single one).
    """
    from gnode.analysis.fixed_points import FixedPointFinder
    from gnode.analysis.report import AnalysisConfig, analyze, run_trials
    from gnode.data import load_sequences

    finder = {k: settings.pop(k) for k in ("slow_tol", "max_steps") if k in settings}
    config = AnalysisConfig(finder=FixedPointFinder(**finder), **settings)  # checked before any file is read
    points = None if storable is None else read_points(storable)
    model, trials, own = run_trials(run_dir, None if data is None else load_sequences(data))
    groups = {"": (trials, out, title)}
    if held_input is not None and held_input.startswith("mean-by:"):
        column = held_input.removeprefix("mean-by:")
        conditions = trials.conditions or {}
        if column not in conditions:
            raise ConfigError(f"--input {held_input}: the trials have no condition {column!r}; they have "
                              f"{sorted(conditions)}")  # fmt: skip
        values = np.unique(conditions[column])
        if len(values) > 20:
            raise ConfigError(f"--input {held_input}: {len(values)} distinct values; by-condition takes at most 20")
        groups = {f"{column}={v}": (trials.subset(conditions[column] == v), out / f"{column}={v}",
                                    f"{title}, {column} = {v}") for v in values}  # fmt: skip
    summaries = {}
    for name, (part, where, label) in groups.items():
        x = None
        if held_input is not None and held_input.startswith("mean"):
            x = mean_input(part)
        elif held_input is not None:
            x = parse_floats(held_input, "--input")
        observed = None if part.is_classification else part.targets
        summaries[name] = analyze(model, part.inputs, own if points is None else points, where, config, title=label,
                                  observed=observed, held_input=x)  # fmt: skip
    return summaries


def mean_input(trials) -> np.ndarray:
    """The trials' mean input over their steps (those a mask marks, where there is one: not the padding)."""
    from gnode.likelihoods import channel_mean

    mask = trials.mask
    steps = None if mask is None else mask.reshape(*mask.shape[:2], -1).max(-1)
    return np.asarray(channel_mean(trials.inputs, steps))


def read_points(path: Path):
    """A storable set of points from a file: an ``.npz`` with ``points`` ``(count, out)``, or a ``.npy``."""
    from gnode.errors import DataError
    from gnode.files import load_arrays
    from gnode.tasks.storable import Points

    if path.suffix == ".npy":
        try:
            points = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: unreadable ({type(error).__name__})") from None
    else:
        points = load_arrays(path, ["points"])["points"]
    if points.ndim != 2 or len(points) == 0 or points.dtype.kind not in "iuf" or not np.isfinite(points).all():
        raise DataError(f"{path}: points must be a non-empty finite (count, out) array, got {points.dtype} "
                        f"{points.shape}")  # fmt: skip
    return Points(tuple(tuple(float(v) for v in row) for row in points))


@app.command()
@one_line_errors
def analyze(
    run_dir: Annotated[Path, typer.Argument(help="a run directory (gnode train, gnode.fit) or a model .npz")],
    out: Annotated[Path | None, typer.Option(help="output directory (default RUN_DIR/analysis; must be new)")] = None,
    data: Annotated[Path | None, typer.Option(help="trials to drive the model (default: the run's validation)")] = (
        None
    ),
    held_input: Annotated[
        str | None,
        typer.Option("--input", help="x* of v(h, x*): numbers, 'mean', or 'mean-by:COLUMN' per condition (default 0)"),
    ] = None,
    storable: Annotated[Path | None, typer.Option(help="points the network should store (.npy or .npz 'points')")] = (
        None
    ),
    starts: Annotated[int, typer.Option(help="initial states of the fixed-point search")] = 1024,
    trials: Annotated[int, typer.Option(help="validation trials for trajectories and drift")] = 100,
    slow_tol: Annotated[float, typer.Option(help="q = |v|^2/2 below which a point is slow")] = 1e-6,
    max_steps: Annotated[int, typer.Option(help="Adam steps of the slow-point descent")] = 2000,
):
    """Read the dynamics of a trained model: fixed and slow points, spectra, attractor metrics, memory drift.

    Writes PNGs, report.html and summary.json into RUN_DIR/analysis.
    """
    if starts <= 0 or trials <= 0:
        raise ConfigError(f"--starts and --trials must be positive, got {starts} and {trials}")
    out = (run_dir.parent if run_dir.is_file() else run_dir) / "analysis" if out is None else out
    summaries = run_analysis(
        run_dir,
        out,
        run_dir.stem if run_dir.is_file() else run_dir.name,
        data=data,
        held_input=held_input,
        storable=storable,
        starts=starts,
        trials=trials,
        slow_tol=slow_tol,
        max_steps=max_steps,
    )
    for name, summary in summaries.items():
        print_table(f"analysis of {run_dir}{f' ({name})' if name else ''} -> {out / name}", summary_rows(summary))


RayAddress = Annotated[str | None, typer.Option(help="run the groups on Ray: 'local', 'auto' or ray://host:port")]


@app.command()
@one_line_errors
def sweep(
    config: Annotated[Path, typer.Argument(help="TOML file: [base] settings and a [grid] of lists")],
    out: Annotated[Path, typer.Option(help="sweep folder (reused to resume: finished cells are skipped)")],
    ray_address: RayAddress = None,
    extend_lr: Annotated[
        int, typer.Option(help="learning rates that may be added past the grid's edge, at the best cell's settings")
    ] = 0,
):
    """Train every combination of the grid's values; runs that differ only in lr, decay or seeds share one
    vmapped program. Writes OUT/results.csv and OUT/summary.json. With --extend-lr, for each combination of the
    settings other than lr, weight_decay, batch_size and the seeds (e.g. each task of a grid over tasks): while its
    best cell's learning rate is the lowest or highest tried, the next one beyond it (1, 3, 10, 30, ...) is trained
    at that cell's other settings, until the best rate is interior."""
    from gnode.devices import use_cpu_cores

    use_cpu_cores()  # before JAX starts: each group's members are split over the cores
    from gnode.experiment import group_key, sweep_cells, train_group
    from gnode.selection import interior_rate
    from gnode.sweep import SweepStore, key_without, read_sweep_file, run_sweep

    if extend_lr < 0:
        raise ConfigError(f"--extend-lr must be >= 0, got {extend_lr}")
    tables = read_sweep_file(config, ("base", "grid"))
    cells = sweep_cells(tables["base"], tables["grid"])
    rows: dict[str, dict] = {}
    store, tick = SweepStore(out), time.perf_counter()
    groups_before = len(store.group_files())

    def run(cells: list[dict]) -> list[dict]:
        found = run_sweep(
            cells, group_key=group_key, run_group=train_group, out=out, ray_address=ray_address, log=console.print
        )
        rows.update({row["cell_id"]: row for row in found})
        return found

    run(cells)
    tuned = ("lr", "weight_decay", "batch_size", "seed", "model_seed")  # what a sweep's best cell is chosen over
    for setting in dict.fromkeys(key_without(c, tuned) for c in cells) if extend_lr else ():
        mine = [r for r in rows.values() if key_without({k: r[k] for k in cells[0]}, tuned) == setting]
        at_best = {k: v for k, v in min(mine, key=lambda r: r["val_loss"]).items() if k in cells[0] and k != "lr"}

        def fit(rates, at_best=at_best):  # cells trained before are found finished in OUT, not trained again
            return {row["lr"]: row["val_loss"] for row in run(sweep_cells(at_best, {"lr": list(rates)}))}

        choice = interior_rate(fit, sorted({c["lr"] for c in cells}), extend_lr)
        if not choice.interior:
            tried = f"{min(choice.losses):g}–{max(choice.losses):g}"
            console.print(f"sweep: the best lr, {choice.chosen:g}, is still the edge of those tried ({tried}); "
                          "raise --extend-lr to go further")  # fmt: skip
    # summary.json describes the whole command, the grid and its extensions, not only the last stage run
    seconds = time.perf_counter() - tick
    summary = {"cells": len(rows), "groups_run_now": len(store.group_files()) - groups_before}
    store.write_table({**summary, "ray_address": ray_address, "seconds_this_process": seconds})
    best = min(rows.values(), key=lambda r: r["val_loss"])
    grid_keys = list(tables["grid"])
    print_table(
        f"sweep {config} -> {out}: {len(rows)} cells; the best",
        {**{k: best[k] for k in grid_keys}, **{k: v for k, v in best.items() if k.startswith("val_")}},
    )


@app.command()
@one_line_errors
def expressivity(
    config: Annotated[Path, typer.Argument(help="TOML file: [base] and [grid] of fit settings, [measure] threshold")],
    out: Annotated[Path, typer.Option(help="sweep folder (reused to resume: finished fits are skipped)")],
    ray_address: RayAddress = None,
):
    """Measure trajectory capacity over a grid of models (docs/expressivity.md): R² against K, capacity against
    N and F, gnODE against nODE. Writes results.csv, capacity.csv, capacity.md, PNGs and expressivity.json."""
    from gnode.devices import use_cpu_cores

    use_cpu_cores()  # before JAX starts: each group's members are split over the cores
    from gnode.reproduce.expressivity.sweep import run_expressivity

    run_expressivity(config, out, ray_address=ray_address, log=console.print)


@app.command("bench-real")
@one_line_errors
def bench_real(
    task: Annotated[str, typer.Argument(help="japanese-vowels, character-trajectories, walker2d or keywords")],
    out: Annotated[Path, typer.Option(help="output folder (reused to resume: finished models are skipped)")],
    drop: Annotated[float, typer.Option(help="fraction of time points each series loses (UEA tasks)")] = 0.3,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="UEA .ts folder (character-trajectories) or Speech Commands root (keywords; default: synthetic)"
        ),
    ] = None,
    models: Annotated[str, typer.Option(help="comma-separated fields")] = "gnode,node,gru,mgru,rnn,lstm",
    seeds: Annotated[int, typer.Option(help="runs per model (one vmapped ensemble)")] = 3,
    budget: Annotated[int, typer.Option(help="trained parameters per model (state size matched to it)")] = 5000,
    epochs: Annotated[int, typer.Option(help="most epochs")] = 1000,
    patience: Annotated[int, typer.Option(help="stop after this many epochs without a better validation loss")] = 30,
    lrs: Annotated[str, typer.Option(help="learning-rate grid; each model's rate is chosen on validation")] = (
        "1e-3,3e-3,1e-2,3e-2"
    ),
    extend_lrs: Annotated[
        int,
        typer.Option(help="rates that may be added past the grid's edge the choice lands on (0: the grid as given)"),
    ] = 3,
    batch_size: Annotated[int, typer.Option("--batch")] = 32,
    episodes: Annotated[int, typer.Option(help="simulated Walker2d episodes of 1000 steps")] = 40,
    grid: Annotated[bool, typer.Option(help="irregular data on the grid of sample steps (else Euler substeps)")] = True,
    tau: Annotated[float, typer.Option(help="time constant, in sample steps")] = 1.0,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = False,
):
    """Real-world benchmark of gating (docs/results.md): every model at a matched parameter count, several
    seeds, early stopping; writes results.json and table.md to --out and prints the table."""
    from gnode.devices import use_cpu_cores

    use_cpu_cores()  # before JAX starts: each ensemble's members are split over the cores
    from gnode.files import write_text
    from gnode.reproduce.realworld import protocol, tasks

    config = protocol.BenchConfig(
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        seeds=seeds,
        budget=budget,
        epochs=epochs,
        patience=patience,
        lrs=parse_floats(lrs, "--lrs"),
        extend_lrs=extend_lrs,
        batch_size=batch_size,
        grid=grid,
        tau=tau,
    )
    if task == "japanese-vowels":
        built = tasks.japanese_vowels(drop)
    elif task == "character-trajectories":
        if data_dir is None:
            raise ConfigError("character-trajectories needs --data-dir (a folder with the UEA .ts files)")
        built = tasks.character_trajectories(data_dir, drop)
    elif task == "walker2d":
        built = tasks.walker2d(out / "walker2d.npz", episodes=episodes)
    elif task == "keywords":
        built = tasks.keywords(data_dir, synthetic_dir=out / "synthetic_keywords")
    else:
        raise ConfigError(f"unknown task {task!r}; choose one of {list(tasks.TASKS)}")
    console.print(f"{built.title}: {built.details['shapes']}")
    rows = protocol.run_benchmark(built, config, out, progress=progress)
    table = protocol.markdown_table(rows, built.loss, config.epochs)
    write_text(out / "table.md", f"### {built.title}\n\n{table}\n")
    console.print(table)


@app.command()
@one_line_errors
def demo(
    out: Annotated[Path, typer.Option(help="output directory (must be new)")] = Path("demo_out"),
    epochs: Annotated[int, typer.Option(help="training epochs")] = 60,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
):
    """Train a 2-D gnODE on the ring task and read what it learned (a few minutes on 2 CPU cores)."""
    from gnode.experiment import RunConfig, train_run
    from gnode.files import write_json, write_text

    config = RunConfig(
        task="ring",
        model="gnode",
        dim=2,
        dynamics=(128, 128),
        lr=3e-3,
        weight_decay=1e-3,
        batch_size=10,
        epochs=epochs,
    )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not empty; choose a new --out")
    tick = time.perf_counter()
    summary = train_run(config, out / "run", progress=progress)
    trained_seconds = time.perf_counter() - tick
    analysis = run_analysis(out / "run", out / "analysis", "2-D gnODE on the ring task")[""]
    rows = summary_rows(analysis)
    summary = {
        **summary,
        "analysis": {k: v for k, v in analysis.items() if k != "figures"},
        "wall_seconds": time.perf_counter() - tick,
        "train_seconds": trained_seconds,
        "figures": [f"analysis/{f}" for f in analysis["figures"]] + ["analysis/report.html"],
    }
    write_json(out / "summary.json", summary)
    report = [
        "gnode demo: a 2-D gated neural ODE trained on the ring flip-flop task, and what it learned",
        f"  config: {dataclasses.asdict(config)}",
        f"  validation MSE {summary['val_mse']:.4f}, R2 {summary['val_r2']:.4f} "
        f"({summary['parameters']} parameters, best epoch {summary['best_epoch']} of {epochs})",
        "  the learned memory (readout space; the task stores points of a circle of radius 2):",
        *(f"    {k}: {v:.4g}" if isinstance(v, float) else f"    {k}: {v}" for k, v in rows.items()),
        f"  figures and report: {out / 'analysis'} (plane.png, readout.png, spectra.png, report.html)",
        f"  run directory: {out / 'run'}; wall time {summary['wall_seconds']:.0f} s (training {trained_seconds:.0f} s)",
    ]
    write_text(out / "report.txt", "\n".join(report) + "\n")
    print_table(f"gnode demo -> {out}", {**{k: summary[k] for k in ("val_mse", "val_r2", "wall_seconds")}, **rows})


def main(args: list[str] | None = None) -> int:
    """The ``gnode`` command: run ``args`` (default: the command line) and return the exit code. Every error is one
    line on stderr with exit code 2 — gnode's own (:func:`one_line_errors`) and a malformed command line alike."""
    try:
        code = app(args=args, prog_name="gnode", standalone_mode=False)
    except typer.Abort:
        report_error("aborted")
        return 1
    except typer.TyperException as error:  # typer's own click: a malformed command line
        if type(error).__name__ == "NoArgsIsHelpError":  # a bare command or group: its help
            error.show()
            return 2
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        report_error(" ".join(message.split()))
        return getattr(error, "exit_code", 2)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
