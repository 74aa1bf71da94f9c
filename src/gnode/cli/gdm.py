"""``gnode gdm fit|evaluate``: GDM and the switching-system baselines on NASCAR, scored fairly and as published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gnode.cli.common import console, one_line_errors

app = typer.Typer(no_args_is_help=True, help="GDM: the Gumbel dynamical model and switching-system baselines.")

Out = Annotated[Path, typer.Option(help="output folder (fit.json, inferred.npz; evaluate adds tables and figures)")]


@app.command()
@one_line_errors
def fit(
    variant: Annotated[str, typer.Argument(help="NASCAR variant: standard, soft_sticky or linderman")],
    out: Out,
    models: Annotated[str, typer.Option(help="comma-separated: gdm, gdm-gru, slds, rslds, arhmm")] = (
        "gdm,gdm-gru,slds,rslds,arhmm"
    ),
    seeds: Annotated[int, typer.Option(help="initialisations per model (seeds 0 .. n-1)")] = 5,
    states: Annotated[int, typer.Option(help="K, the number of discrete states")] = 4,
    max_iterations: Annotated[int, typer.Option(help="GDM's most iterations (a multiple of 100)")] = 4000,
    baseline_iterations: Annotated[int, typer.Option(help="EM iterations of the SLDS, rSLDS and ARHMM")] = 100,
    train_path: Annotated[int, typer.Option(help="seed of the training path")] = 0,
    test_path: Annotated[int, typer.Option(help="seed of the test path (not the training one)")] = 1,
    time_average: Annotated[
        bool, typer.Option(help="GDM: the ELBO averaged over time, or summed (--no-time-average)")
    ] = True,
    train_projection: Annotated[
        bool, typer.Option(help="GDM learns its projection F (the authors' linear GDM keeps a random one fixed)")
    ] = False,
):
    """Fit every model on the training path; store what each infers about the training and test paths."""
    from gnode.errors import ConfigError
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
def evaluate(
    out: Out,
    neighbours: Annotated[int, typer.Option(help="k of the k-nearest-neighbour state classifier")] = 10,
):
    """Score both protocols (fair and the authors'): tables, summary.json, states.png, forecasts.png."""
    from gnode.reproduce.gdm.experiment import evaluate_nascar, results_table

    print(results_table(evaluate_nascar(out, neighbours=neighbours)))
    console.print(f"summary.json, table.md, states.png, forecasts.png in {out}")
