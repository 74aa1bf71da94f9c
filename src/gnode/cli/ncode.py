"""``gnode ncode reflection|annulus|digits|autoencode``: the N-CODE experiments, one command each."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from gnode.cli.common import console, one_line_errors

app = typer.Typer(no_args_is_help=True, help="N-CODE: neural ODEs whose weights are controlled by the input or state.")

Out = Annotated[Path, typer.Option(help="output folder (figures and summary.json)")]
Models = Annotated[str | None, typer.Option(help="comma-separated: node, anode, ncode-{static,open,closed}")]
Solver = Annotated[str, typer.Option(help="euler, heun, midpoint, ralston, bosh3, tsit5, dopri5 or dopri8")]
Steps = Annotated[int | None, typer.Option(help="fixed steps on [0, 1] (default: adaptive, --rtol / --atol)")]
Tolerance = Annotated[float, typer.Option(help="adaptive tolerance")]
Adjoint = Annotated[str, typer.Option(help="backprop (through the solver) or adjoint (backward ODE)")]
Epochs = Annotated[int | None, typer.Option(help="most epochs (default: the experiment's)")]
Seeds = Annotated[int | None, typer.Option(help="seeds per model, trained as one ensemble (default: the experiment's)")]
Rates = Annotated[
    str | None,
    typer.Option(help="comma-separated learning-rate grid, chosen on validation (default: the experiment's)"),
]
ExtendRates = Annotated[
    int | None, typer.Option(help="rates that may be added past the grid's edge the choice lands on")
]
Patience = Annotated[int | None, typer.Option(help="stop after this many epochs without a better validation loss")]


def _solver(solver: str, steps: int | None, rtol: float, atol: float, adjoint: str, max_steps: int):
    from gnode.ncode.flow import make_flow_solver

    return make_flow_solver(solver, steps=steps, adjoint=adjoint, rtol=rtol, atol=atol, max_steps=max_steps)


def _training(default, epochs: int | None, seeds: int | None, lrs=None, extend_lrs=None, patience=None):
    from gnode.cli.common import parse_floats

    values = {"epochs": epochs, "seeds": seeds, "extend_lrs": extend_lrs, "patience": patience}
    values["lrs"] = None if lrs is None else tuple(parse_floats(lrs, "--lrs"))
    return dataclasses.replace(default, **{k: v for k, v in values.items() if v is not None})


def _models(text: str | None, default):
    return default if text is None else tuple(m.strip() for m in text.split(",") if m.strip())


def _defaults(function):
    import inspect

    return {k: p.default for k, p in inspect.signature(function).parameters.items()}


def _report(summary, out: Path) -> None:
    from gnode.reproduce.ncode.experiments import results_table

    print(results_table(summary))
    console.print(f"figures, table.md and summary.json in {out}")


@app.command()
@one_line_errors
def table(run: Annotated[Path, typer.Argument(help="the output folder of a gnode ncode command")]):
    """Print the results table of a finished experiment (from its summary.json)."""
    import json

    from gnode.errors import DataError
    from gnode.reproduce.ncode.experiments import results_table

    path = run / "summary.json"
    try:
        summary = json.loads(path.read_text())
        print(results_table(summary))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (has the experiment finished?)") from None
    except (json.JSONDecodeError, KeyError, TypeError, StopIteration) as error:
        raise DataError(f"{path}: not an N-CODE summary ({type(error).__name__}: {error})") from None


@app.command()
@one_line_errors
def reflection(
    out: Out,
    models: Models = None,
    solver: Solver = "tsit5",
    steps: Steps = None,
    rtol: Tolerance = 1e-3,
    atol: Tolerance = 1e-3,
    adjoint: Adjoint = "backprop",
    epochs: Epochs = None,
    seeds: Seeds = None,
):
    """x -> -x on U[-1, 1]: a neural ODE is stuck at MSE 1/3, N-CODE fits it."""
    from gnode.reproduce.ncode.experiments import run_reflection

    d = _defaults(run_reflection)
    summary = run_reflection(
        out,
        models=_models(models, d["models"]),
        solver=_solver(solver, steps, rtol, atol, adjoint, 4096),
        training=_training(d["training"], epochs, seeds),
    )
    _report(summary, out)


@app.command()
@one_line_errors
def annulus(
    out: Out,
    dim: Annotated[int, typer.Option(help="1 (intervals) or 2 (concentric annuli)")] = 1,
    models: Models = None,
    solver: Solver = "tsit5",
    steps: Steps = None,
    rtol: Tolerance = 1e-3,
    atol: Tolerance = 1e-3,
    adjoint: Adjoint = "backprop",
    epochs: Epochs = None,
    seeds: Seeds = None,
):
    """Inner ball vs outer shell: accuracy, loss curves and NFE."""
    from gnode.reproduce.ncode.experiments import run_annulus

    d = _defaults(run_annulus)
    summary = run_annulus(
        out,
        dim=dim,
        models=_models(models, d["models"]),
        solver=_solver(solver, steps, rtol, atol, adjoint, 4096),
        training=_training(d["training"], epochs, seeds),
    )
    _report(summary, out)


@app.command()
@one_line_errors
def digits(
    out: Out,
    models: Models = None,
    conv_channels: Annotated[
        int | None, typer.Option(help="N-CODE on an image state of this many channels with a convolutional field")
    ] = None,
    solver: Solver = "tsit5",
    steps: Steps = None,
    rtol: Tolerance = 1e-3,
    atol: Tolerance = 1e-3,
    adjoint: Adjoint = "backprop",
    epochs: Epochs = None,
    seeds: Seeds = None,
    lrs: Rates = None,
    extend_lrs: ExtendRates = None,
    patience: Patience = None,
    mnist: Annotated[
        Path | None,
        typer.Option(help="MNIST instead of the 8 x 8 digits: a folder of the IDX files, or mnist.pkl.gz"),
    ] = None,
):
    """scikit-learn's 8 x 8 digits (or MNIST from --mnist): neural ODE, augmented neural ODE and N-CODE at a
    matched parameter count."""
    from gnode.reproduce.ncode import tasks
    from gnode.reproduce.ncode.experiments import run_digits

    d = _defaults(run_digits)
    summary = run_digits(
        out,
        models=_models(models, d["models"]),
        sizes=dataclasses.replace(d["sizes"], conv_channels=conv_channels),
        solver=_solver(solver, steps, rtol, atol, adjoint, 256),
        training=_training(d["training"], epochs, seeds, lrs, extend_lrs, patience),
        images=None if mnist is None else tasks.mnist(mnist),
        task="digits" if mnist is None else "mnist",
    )
    _report(summary, out)


@app.command()
@one_line_errors
def autoencode(
    out: Out,
    code: Annotated[int, typer.Option(help="code size")] = 8,
    mode: Annotated[str, typer.Option(help="control of the N-CODE decoder: static, open or closed")] = "open",
    components: Annotated[int, typer.Option(help="Gaussian-mixture components fitted to the codes")] = 10,
    decoders: Annotated[str, typer.Option(help="comma-separated: ncode, node")] = "ncode,node",
    solver: Solver = "tsit5",
    steps: Steps = None,
    rtol: Tolerance = 1e-3,
    atol: Tolerance = 1e-3,
    adjoint: Adjoint = "backprop",
    epochs: Epochs = None,
    seeds: Seeds = None,
):
    """Autoencode the digits through a control-driven decoder; decode samples of a Gaussian mixture of the codes."""
    from gnode.reproduce.ncode.experiments import run_autoencoder

    d = _defaults(run_autoencoder)
    summary = run_autoencoder(
        out,
        decoders=_models(decoders, d["decoders"]),
        code=code,
        mode=mode,
        components=components,
        solver=_solver(solver, steps, rtol, atol, adjoint, 256),
        training=_training(d["training"], epochs, seeds),
    )
    _report(summary, out)
