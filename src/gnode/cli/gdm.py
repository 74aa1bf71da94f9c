"""``gnode gdm fit|infer|select|evaluate``: GDM and the switching-system baselines on your trials (``--data``), and on
NASCAR, scored fairly and as published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gnode.cli.common import console, one_line_errors, print_table

app = typer.Typer(no_args_is_help=True, help="GDM: the Gumbel dynamical model and switching-system baselines.")

Out = Annotated[Path, typer.Option(help="output folder (fit.json, inferred.npz; evaluate adds tables and figures)")]


DataFile = Annotated[
    str | None,
    typer.Option(help=".npz: observations (trials, time, N), optional inputs, mask or lengths, states; or .nwb"),
]
NWBBin = Annotated[str, typer.Option("--bin", help="NWB: bin width, e.g. 10ms")]
NWBAlign = Annotated[str, typer.Option(help="NWB: trials column to align on")]
NWBWindow = Annotated[str | None, typer.Option(help="NWB: START,STOP seconds around it (default: each trial)")]
NWBSmooth = Annotated[str | None, typer.Option(help="NWB: causal Gaussian smoothing sd, e.g. 20ms")]
NWBUnits = Annotated[str, typer.Option(help="NWB: units table ('units' or MODULE/TABLE)")]
NWBSeries = Annotated[str, typer.Option(help="NWB: a time series instead (NAME or MODULE/NAME)")]
NWBInputs = Annotated[str | None, typer.Option(help="NWB: trials columns as inputs, e.g. context,cue_time")]


def _read(path: str, bin_width: str, align: str, window: str | None, smooth: str | None, units: str, series: str,
          inputs: str | None):  # fmt: skip
    from gnode.cli.common import parse_floats, parse_names, parse_seconds
    from gnode.gdm.data import read_switching

    return read_switching(path, bin_width=parse_seconds(bin_width, "--bin"), align=align,
                          window=() if window is None else parse_floats(window, "--window"),
                          smooth=parse_seconds(smooth, "--smooth") or 0.0, units=units, series=series,
                          inputs=parse_names(inputs) or ())  # fmt: skip


def _switching_config(model, states, latent, observation, seed, max_iterations, batch, samples, lr, time_average,
                      baseline_iterations):  # fmt: skip
    from gnode.gdm.runs import SwitchingConfig

    return SwitchingConfig(model=model, states=states, latent=latent, observation=observation, seed=seed,
                           max_iterations=max_iterations, batch=batch, samples=samples, lr=lr,
                           time_average=time_average, iterations=baseline_iterations)  # fmt: skip


def _new_folder(out: Path) -> None:
    from gnode.errors import ConfigError

    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; choose a new --out")


@app.command()
@one_line_errors
def fit(
    out: Out,
    variant: Annotated[
        str | None, typer.Argument(help="NASCAR variant (standard, soft_sticky, linderman); or give --data")
    ] = None,
    data: DataFile = None,
    model: Annotated[str, typer.Option(help="--data: gdm, gdm-gru, gdm-rnn, slds, rslds or arhmm")] = "gdm",
    models: Annotated[str, typer.Option(help="NASCAR: comma-separated: gdm, gdm-gru, slds, rslds, arhmm")] = (
        "gdm,gdm-gru,slds,rslds,arhmm"
    ),
    seeds: Annotated[int, typer.Option(help="NASCAR: initialisations per model (seeds 0 .. n-1)")] = 5,
    seed: Annotated[int, typer.Option(help="--data: the initialisation and Monte Carlo seed")] = 0,
    states: Annotated[int, typer.Option(help="K, the number of discrete states")] = 4,
    latent: Annotated[int, typer.Option(help="--data: SLDS latent dimension, or GDM projection dimension")] = 2,
    observation: Annotated[str, typer.Option(help="--data, GDM: gaussian or poisson (counts)")] = "gaussian",
    batch: Annotated[int | None, typer.Option(help="--data, GDM: trials per iteration (default: all)")] = None,
    samples: Annotated[int, typer.Option(help="--data, GDM: posterior samples per iteration")] = 10,
    lr: Annotated[float, typer.Option(help="--data, GDM: learning rate")] = 1e-2,
    max_iterations: Annotated[int, typer.Option(help="GDM's most iterations (a multiple of 100)")] = 4000,
    baseline_iterations: Annotated[int, typer.Option(help="EM iterations of the SLDS, rSLDS and ARHMM")] = 100,
    train_path: Annotated[int, typer.Option(help="NASCAR: seed of the training path")] = 0,
    test_path: Annotated[int, typer.Option(help="NASCAR: seed of the test path (not the training one)")] = 1,
    time_average: Annotated[
        bool, typer.Option(help="GDM: the ELBO averaged over time, or summed as the authors do (--no-time-average)")
    ] = True,
    train_projection: Annotated[
        bool, typer.Option(help="NASCAR, GDM: learn the projection F (the authors' linear GDM keeps it fixed)")
    ] = False,
    bin_width: NWBBin = "10ms",
    align: NWBAlign = "start_time",
    window: NWBWindow = None,
    smooth: NWBSmooth = None,
    nwb_units: NWBUnits = "units",
    nwb_series: NWBSeries = "",
    nwb_inputs: NWBInputs = None,
):
    """Fit a switching model to your trials (--data; saves model.npz and fit.json in --out), or every model to a
    NASCAR training path (stores what each infers about the training and test paths)."""
    from gnode.errors import ConfigError

    if (variant is None) == (data is None):
        raise ConfigError("give a NASCAR variant or --data FILE (one of them)")
    if data is not None:
        from gnode.gdm.runs import fit_switching, held_out_score, save_fit

        config = _switching_config(model, states, latent, observation, seed, max_iterations, batch, samples, lr,
                                   time_average, baseline_iterations)  # fmt: skip
        trials = _read(data, bin_width, align, window, smooth, nwb_units, nwb_series, nwb_inputs)
        _new_folder(out)
        fitted = fit_switching(trials, config)
        score = held_out_score(fitted, trials)
        save_fit(out, fitted, {"data": str(data), "trials": trials.num_trials, "train_score": score})
        console.print(f"{model}, K = {states}, on {trials.num_trials} trials: score per step {score:.4f}")
        console.print(f"model.npz and fit.json in {out}; next: gnode gdm infer {out} --data FILE --out DIR")
        return
    from gnode.gdm.fit import GDMFitConfig
    from gnode.reproduce.gdm.experiment import fit_nascar

    if seeds <= 0:
        raise ConfigError(f"need seeds > 0, got {seeds}")
    names = tuple(m.strip() for m in models.split(",") if m.strip())
    config = GDMFitConfig(max_iterations=max_iterations, time_average=time_average)
    fit_nascar(out, variant, models=names, seeds=range(seeds), states=states, config=config,
               train_projection=train_projection, baseline_iterations=baseline_iterations,
               paths=(train_path, test_path))  # fmt: skip
    console.print(f"fit.json and inferred.npz in {out}; next: gnode gdm evaluate --out {out}")


@app.command()
@one_line_errors
def infer(
    fitted: Annotated[Path, typer.Argument(help="a folder written by gnode gdm fit --data")],
    data: Annotated[str, typer.Option(help="trials to infer (.npz or .nwb, like fit's --data)")],
    out: Out,
    steps: Annotated[int, typer.Option(help="forecast horizon k (steps ahead)")] = 10,
    seed: Annotated[int, typer.Option(help="seed of the posterior samples")] = 0,
    bin_width: NWBBin = "10ms",
    align: NWBAlign = "start_time",
    window: NWBWindow = None,
    smooth: NWBSmooth = None,
    nwb_units: NWBUnits = "units",
    nwb_series: NWBSeries = "",
    nwb_inputs: NWBInputs = None,
):
    """States, one-step reconstructions and k-step forecasts of new trials: inferred.npz, summary.json, states.png,
    forecasts.png."""
    from gnode.gdm.reports import infer_report
    from gnode.gdm.runs import load_fit

    model = load_fit(fitted)
    trials = _read(data, bin_width, align, window, smooth, nwb_units, nwb_series, nwb_inputs)
    trials.check_model(model.observations, model.inputs, data)
    _new_folder(out)
    summary = infer_report(model, trials, out, steps=steps, seed=seed)
    print_table(f"{model.config.model} on {data} -> {out}", summary)


@app.command()
@one_line_errors
def select(
    data: Annotated[str, typer.Option(help="trials (.npz or .nwb, like fit's --data)")],
    out: Out,
    model: Annotated[str, typer.Option(help="gdm, gdm-gru, gdm-rnn, slds, rslds or arhmm")] = "gdm",
    states: Annotated[str, typer.Option(help="numbers of states to compare, e.g. 2,3,4,5,6")] = "2,3,4,5,6",
    latent: Annotated[str, typer.Option(help="latent dimensions to compare (SLDS), e.g. 2,3")] = "2",
    folds: Annotated[int, typer.Option(help="cross-validation folds over trials")] = 5,
    split_seed: Annotated[int, typer.Option(help="seed of the folds")] = 0,
    seed: Annotated[int, typer.Option(help="initialisation seed")] = 0,
    observation: Annotated[str, typer.Option(help="GDM: gaussian or poisson (counts)")] = "gaussian",
    batch: Annotated[int | None, typer.Option(help="GDM: trials per iteration (default: all)")] = None,
    samples: Annotated[int, typer.Option(help="GDM: posterior samples per iteration")] = 10,
    lr: Annotated[float, typer.Option(help="GDM: learning rate")] = 1e-2,
    max_iterations: Annotated[int, typer.Option(help="GDM's most iterations")] = 4000,
    baseline_iterations: Annotated[int, typer.Option(help="EM iterations of the SLDS, rSLDS and ARHMM")] = 100,
    bin_width: NWBBin = "10ms",
    align: NWBAlign = "start_time",
    window: NWBWindow = None,
    smooth: NWBSmooth = None,
    nwb_units: NWBUnits = "units",
    nwb_series: NWBSeries = "",
    nwb_inputs: NWBInputs = None,
):
    """Choose K (and the SLDS latent dimension) by held-out-trial score with cross-validation: selection.json,
    selection.md and selection.png (mean ± s.e. over folds; the one-standard-error choice)."""
    from gnode.cli.common import parse_widths
    from gnode.gdm.reports import selection_report

    candidates, latents = parse_widths(states) or (), parse_widths(latent) or ()
    config = _switching_config(model, 2, latents[0] if latents else 2, observation, seed, max_iterations, batch,
                               samples, lr, True, baseline_iterations)  # fmt: skip
    trials = _read(data, bin_width, align, window, smooth, nwb_units, nwb_series, nwb_inputs)
    _new_folder(out)
    result = selection_report(trials, config, candidates, latents, folds, split_seed, out)
    chosen = result["chosen"]
    console.print(result["table"])
    console.print(f"chosen: K = {chosen['states']}" + (f", latent {chosen['latent']}" if len(latents) > 1 else "")
                  + f"; selection.json, selection.md, selection.png in {out}")  # fmt: skip


@app.command()
@one_line_errors
def evaluate(
    out: Out,
    neighbours: Annotated[int, typer.Option(help="k of the k-nearest-neighbour state classifier")] = 10,
):
    """Score both protocols (fair and the authors'): tables, summary.json, states.png, forecasts.png."""
    from gnode.reproduce.gdm.experiment import evaluate_nascar, results_table

    print(results_table(evaluate_nascar(out, neighbours=neighbours)))
    console.print(f"summary.json, table.md, states.png, forecasts.png in {out}")
