"""``gnode connector generate|fit|sample|evaluate|select|distances``: Connector on the synthetic low-rank ensembles,
and (``--data``) on your recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gnode.cli.common import console, one_line_errors

app = typer.Typer(no_args_is_help=True, help="Connector: which connectivity the dynamics identify, and a distribution.")

Folder = Annotated[Path, typer.Option(help="the data set's folder (written by generate, then read and extended)")]
Recorded = Annotated[
    Path | None,
    typer.Option(help="a recording (.npz: rates or spikes (trials, time, neurons), optional inputs, bin_seconds)"),
]
BinSeconds = Annotated[float | None, typer.Option(help="--data spikes: bin width in s (default: the file's, or 0.01)")]
SigmaSeconds = Annotated[float, typer.Option(help="--data spikes: causal Gaussian smoothing sd in s")]


def _recording(path: Path, bin_seconds: float | None, sigma_seconds: float):
    from gnode.connector.recording import load_recording

    return load_recording(path, bin_seconds=bin_seconds, sigma_seconds=sigma_seconds)


def _print(summary: dict) -> None:
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))


@app.command()
@one_line_errors
def generate(
    ensemble: Annotated[str, typer.Argument(help="quadstable, bistable, limit_cycle, ring or heavy_tailed")],
    out: Folder,
    neurons: Annotated[int, typer.Option(help="network size")] = 1000,
    seed: Annotated[int, typer.Option(help="the draw")] = 0,
):
    """Draw a network of the ensemble and simulate the 20 × 20 grid of trials (100 time points)."""
    from gnode.reproduce.connector.experiment import generate as run

    _print(run(out, ensemble, neurons=neurons, seed=seed))
    console.print(f"network.npz, trajectories.npz, phase.png in {out}")


@app.command()
@one_line_errors
def fit(
    out: Folder,
    lint_epochs: Annotated[int, typer.Option(help="LINT epochs")] = 300,
    lint_lr: Annotated[float, typer.Option(help="LINT learning rate")] = 3e-3,
    lint_batch: Annotated[int, typer.Option(help="LINT's trials per step")] = 10,
    m_epochs: Annotated[int, typer.Option(help="m-flow epochs")] = 1000,
    n_epochs: Annotated[int, typer.Option(help="n-flow iterations")] = 1000,
    samples: Annotated[int, typer.Option(help="loadings drawn per n-flow iteration")] = 1000,
    ridge_rows: Annotated[
        int, typer.Option(help="at most this many trial steps per ridge solve (0: every one)")
    ] = 4000,
    seed: Annotated[int, typer.Option(help="initialisation")] = 0,
    loadings: Annotated[str, typer.Option(help="Connector learns from: lint (aligned LINT fit) or truth")] = "lint",
    latents: Annotated[str, typer.Option(help="with LINT loadings: data (projected) or lint (own)")] = "data",
    schedule: Annotated[str, typer.Option(help="learning rate of each flow stage: cosine or constant")] = "cosine",
    data: Recorded = None,
    rank: Annotated[int, typer.Option(help="--data: the rank R of LINT and Connector")] = 2,
    batch: Annotated[int, typer.Option(help="m-flow minibatch (at most the number of neurons)")] = 64,
    limit: Annotated[float, typer.Option(help="--data: each neuron's rates mapped onto [-limit, limit]")] = 0.9,
    quantile: Annotated[float, typer.Option(help="--data: the rate quantiles mapped to -limit and +limit")] = 0.01,
    test_fraction: Annotated[float, typer.Option(help="--data: trials held out for evaluate")] = 0.2,
    split_seed: Annotated[int, typer.Option(help="--data: seed of the train/validation/test split")] = 1,
    bin_seconds: BinSeconds = None,
    sigma_seconds: SigmaSeconds = 0.1,
):
    """LINT on the rates, the ridge estimate, and Connector on LINT's loadings and latents — on the synthetic set in
    --out, or with --data on your recording (saved in --out; run again in --out to resume)."""
    from gnode.connector.lint import LintConfig
    from gnode.connector.model import SCHEDULES, ConnectorConfig
    from gnode.errors import by_name

    lint = LintConfig(rank=rank, epochs=lint_epochs, lr=lint_lr, batch=lint_batch, seed=seed)
    connector = ConnectorConfig(m_epochs=m_epochs, n_epochs=n_epochs, samples=samples, batch=batch,
                                ridge_rows=ridge_rows or None,
                                schedule=by_name(SCHEDULES, schedule, "schedule")(), seed=seed)  # fmt: skip
    if data is not None:
        from gnode.connector.runs import RecordingConfig, fit_recording

        config = RecordingConfig(lint=lint, connector=connector, limit=limit, quantile=quantile,
                                 test_fraction=test_fraction,
                                 split_seed=split_seed)  # fmt: skip
        result = fit_recording(_recording(data, bin_seconds, sigma_seconds), config, out)
        _print({k: v for k, v in result.record.items() if k != "config"})
    else:
        from gnode.reproduce.connector.experiment import fit as run

        _print(run(out, lint=lint, connector=connector, loadings=loadings, latents_from=latents))
    console.print(f"lint.npz, ridge.npz, connector.npz, fit.json in {out}")


@app.command()
@one_line_errors
def sample(
    out: Folder,
    count: Annotated[int, typer.Option(help="neurons to draw")] = 1000,
    sigma: Annotated[float, typer.Option(help="maximum-entropy noise added to n")] = 1.0,
    seed: Annotated[int, typer.Option(help="the draw")] = 0,
):
    """Draw a network from the trained Connector: samples.npz with m and n."""
    import jax.random as jr
    import numpy as np

    from gnode.errors import ConfigError
    from gnode.files import save_arrays
    from gnode.reproduce.connector.experiment import load_connector

    if count <= 0 or sigma < 0:
        raise ConfigError(f"need count > 0 and sigma >= 0, got {count}, {sigma}")
    m, n = load_connector(out).sample(jr.key(seed), count, sigma)
    save_arrays(out / "samples.npz", m=np.asarray(m), n=np.asarray(n))
    console.print(f"{count} neurons (σ = {sigma:g}) in {out / 'samples.npz'}")


@app.command()
@one_line_errors
def evaluate(
    out: Folder,
    sigma: Annotated[float, typer.Option(help="maximum-entropy noise of the Connector samples")] = 1.0,
    samples: Annotated[int, typer.Option(help="neurons per Connector draw")] = 1000,
    draws: Annotated[int, typer.Option(help="Connector draws (and fresh ground-truth draws) for the field error")] = 5,
    data: Annotated[
        Path | None, typer.Option(help="the recording --out was fitted to (its test trials), or new trials")
    ] = None,
    seed: Annotated[int, typer.Option(help="--data: the Connector draws")] = 0,
    bin_seconds: BinSeconds = None,
    sigma_seconds: SigmaSeconds = 0.1,
):
    """Flow-field errors, GMM cross-validation and inactivation; figures and summary.json. With --data (a fit of
    your recording in --out): flow fields against the data's and LINT's, held-out reconstruction by sampled
    networks, GMM cross-validation; evaluation.json, evaluation.md and figures in --out."""
    if data is not None:
        from gnode.connector.reports import evaluation_report
        from gnode.connector.runs import load_recording_fit

        fit = load_recording_fit(out)
        report = evaluation_report(fit, _recording(data, bin_seconds, sigma_seconds), out, sigma=sigma,
                                   draws=draws, count=samples, seed=seed)  # fmt: skip
        console.print(report["table"])
        console.print(f"evaluation.json, evaluation.md, gmm_cv.png in {out}")
        return
    from gnode.reproduce.connector.experiment import evaluate as run

    _print(run(out, sigma=sigma, samples=samples, draws=draws))
    console.print(f"flow_fields.png, marginals_n.png, gmm_cv.png, summary.json in {out}")


@app.command()
@one_line_errors
def select(
    data: Annotated[Path, typer.Option(help="a recording (.npz, as fit's --data)")],
    out: Annotated[Path, typer.Option(help="a new folder for selection.json, .md and .png")],
    ranks: Annotated[str, typer.Option(help="ranks to compare, e.g. 1,2,3,4")] = "1,2,3,4",
    folds: Annotated[int, typer.Option(help="cross-validation folds over trials")] = 5,
    split_seed: Annotated[int, typer.Option(help="seed of the folds")] = 0,
    lint_epochs: Annotated[int, typer.Option(help="LINT epochs")] = 300,
    lint_lr: Annotated[float, typer.Option(help="LINT learning rate")] = 3e-3,
    lint_batch: Annotated[int, typer.Option(help="LINT's trials per step")] = 10,
    limit: Annotated[float, typer.Option(help="each neuron's rates mapped onto [-limit, limit]")] = 0.9,
    quantile: Annotated[float, typer.Option(help="the rate quantiles mapped to -limit and +limit")] = 0.01,
    seed: Annotated[int, typer.Option(help="LINT's initialisation")] = 0,
    bin_seconds: BinSeconds = None,
    sigma_seconds: SigmaSeconds = 0.1,
):
    """Choose the rank by held-out reconstruction (LINT, cross-validated over trials; the smallest rank within one
    standard error of the best)."""
    from gnode.cli.common import parse_widths
    from gnode.connector.lint import LintConfig
    from gnode.connector.reports import rank_report
    from gnode.connector.runs import RecordingConfig
    from gnode.errors import ConfigError

    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; choose a new --out")
    lint = LintConfig(epochs=lint_epochs, lr=lint_lr, batch=lint_batch, seed=seed)
    config = RecordingConfig(lint=lint, limit=limit, quantile=quantile)
    recorded = _recording(data, bin_seconds, sigma_seconds)
    result = rank_report(recorded, config, parse_widths(ranks) or (), folds, split_seed, out)
    console.print(result["table"])
    console.print(f"chosen: rank {result['chosen']['rank']}; selection.json, selection.md, selection.png in {out}")


@app.command()
@one_line_errors
def distances(folders: Annotated[list[Path], typer.Argument(help="data-set folders, each with a trained model")]):
    """The Connector distance from every data set (rows) to every model (columns)."""
    from gnode.reproduce.connector.experiment import distances as run

    _print(run(folders))


@app.command()
@one_line_errors
def table(folders: Annotated[list[Path], typer.Argument(help="data-set folders, each fitted and evaluated")]):
    """The results table (markdown) of evaluated data sets."""
    from gnode.reproduce.connector.experiment import results_table

    print(results_table(folders))
