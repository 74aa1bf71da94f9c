"""``gnode connector generate|fit|sample|evaluate|distances``: Connector on the synthetic low-rank ensembles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gnode.cli.common import console, one_line_errors

app = typer.Typer(no_args_is_help=True, help="Connector: which connectivity the dynamics identify, and a distribution.")

Folder = Annotated[Path, typer.Option(help="the data set's folder (written by generate, then read and extended)")]


def _print(summary: dict) -> None:
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))


@app.command()
@one_line_errors
def generate(
    ensemble: Annotated[str, typer.Argument(help="quadstable, bistable, limit_cycle or ring")],
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
    m_epochs: Annotated[int, typer.Option(help="m-flow epochs")] = 1000,
    n_epochs: Annotated[int, typer.Option(help="n-flow iterations")] = 1000,
    samples: Annotated[int, typer.Option(help="loadings drawn per n-flow iteration")] = 1000,
    seed: Annotated[int, typer.Option(help="initialisation")] = 0,
    loadings: Annotated[str, typer.Option(help="Connector learns from: lint (aligned LINT fit) or truth")] = "lint",
    latents: Annotated[str, typer.Option(help="with LINT loadings: data (projected) or lint (own)")] = "data",
    schedule: Annotated[str, typer.Option(help="learning rate of each flow stage: cosine or constant")] = "cosine",
):
    """LINT on the rates, the ridge estimate, and Connector on LINT's aligned loadings and latents."""
    from gnode.connector.lint import LintConfig
    from gnode.connector.model import SCHEDULES, ConnectorConfig
    from gnode.errors import by_name
    from gnode.reproduce.connector.experiment import fit as run

    summary = run(
        out,
        lint=LintConfig(epochs=lint_epochs, lr=lint_lr, seed=seed),
        connector=ConnectorConfig(
            m_epochs=m_epochs,
            n_epochs=n_epochs,
            samples=samples,
            schedule=by_name(SCHEDULES, schedule, "schedule")(),
            seed=seed,
        ),
        loadings=loadings,
        latents_from=latents,
    )
    _print(summary)
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
):
    """Flow-field errors, GMM cross-validation and inactivation; figures and summary.json."""
    from gnode.reproduce.connector.experiment import evaluate as run

    _print(run(out, sigma=sigma, samples=samples, draws=draws))
    console.print(f"flow_fields.png, marginals_n.png, gmm_cv.png, summary.json in {out}")


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
