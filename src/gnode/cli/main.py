"""``gnode train`` and ``gnode demo``. Every error from gnode is one line on stderr and exit code 2."""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gnode.errors import ConfigError, GnodeError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Gated neural ODEs: train, and read the dynamics.")
console = Console()


def one_line_errors(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GnodeError as err:
            print(f"gnode: error: {err}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


def parse_widths(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    text = text.strip().strip("[]")
    if not text:
        return ()
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise ConfigError(f"widths must be comma-separated integers like 316,316, got {text!r}") from None


def print_table(title: str, row: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in row.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


@app.command()
@one_line_errors
def train(
    out: Annotated[Path, typer.Option(help="run directory (must be new unless --resume)")],
    config: Annotated[Path | None, typer.Option(help="JSON or TOML file of run settings")] = None,
    task: Annotated[str | None, typer.Option(help="flip-flop task, e.g. ring, square, three_bit_variable")] = None,
    model: Annotated[str | None, typer.Option(help="gnode, node, mgru, gru or rnn")] = None,
    dim: Annotated[int | None, typer.Option(help="state dimension N")] = None,
    dynamics: Annotated[str | None, typer.Option(help="hidden widths of F, e.g. 316,316 ('' = one layer)")] = None,
    gate: Annotated[str | None, typer.Option(help="hidden widths of G ('' = one layer)")] = None,
    activation: Annotated[str | None, typer.Option(help="relu, tanh, swish or gelu")] = None,
    init: Annotated[str | None, typer.Option(help="glorot_uniform, glorot_normal, kaiming_*, critical")] = None,
    initial_state: Annotated[str | None, typer.Option(help="learned, fixed or zero")] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    weight_decay: Annotated[float | None, typer.Option("--decay", help="AdamW weight decay")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch")] = None,
    epochs: Annotated[int | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option(help="data-order seed")] = None,
    model_seed: Annotated[int | None, typer.Option(help="initialisation seed")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out from its checkpoint")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
):
    """Train one model on a flip-flop task; writes config, metrics, checkpoints, model and summary.json."""
    from gnode.experiment import RunConfig, train_run

    values = RunConfig.from_file(config).to_dict() if config else {}
    given = {
        "task": task,
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
        "seed": seed,
        "model_seed": model_seed,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    if resume and not config and not any(v is not None for v in given.values()):
        from gnode.train import RunDir

        values = RunDir(out).read_config()
    run_config = RunConfig.from_dict(values)
    summary = train_run(run_config, out, resume=resume, progress=progress)
    print_table(f"{run_config.model} on {run_config.task} -> {out}", summary)


@app.command()
@one_line_errors
def demo(
    out: Annotated[Path, typer.Option(help="output directory (must be new)")] = Path("demo_out"),
    epochs: Annotated[int, typer.Option(help="training epochs")] = 60,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
):
    """Train a 2-D gnODE on the ring task and draw what it learned (a few minutes on 2 CPU cores)."""
    from gnode.analysis.portrait import plot_phase_portrait
    from gnode.experiment import RunConfig, build, train_run
    from gnode.train.checkpoint import write_json

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
    tick = time.perf_counter()
    summary = train_run(config, out / "run", progress=progress)
    from gnode.experiment import load_run

    model, _ = load_run(out / "run")
    _, _, val = build(config)
    speeds = plot_phase_portrait(
        model,
        val.inputs,
        val.targets,
        out / "phase_portrait.png",
        title=f"2-D gnODE, ring task: validation R2 = {summary['val_r2']:.3f}",
    )
    summary = {**summary, **speeds, "wall_seconds": time.perf_counter() - tick, "figure": "phase_portrait.png"}
    write_json(out / "summary.json", summary)
    report = [
        "gnode demo: a 2-D gated neural ODE trained on the ring flip-flop task",
        f"  config: {dataclasses.asdict(config)}",
        f"  validation MSE {summary['val_mse']:.4f}, R2 {summary['val_r2']:.4f} "
        f"({summary['parameters']} parameters, best epoch {summary['best_epoch']} of {epochs})",
        f"  autonomous speed |v(h,0)| on the plotted grid: min {speeds['min_speed']:.2e}, "
        f"median {speeds['median_speed']:.2e} (a ring of slow points is the learned memory)",
        f"  figure: {out / 'phase_portrait.png'}; run directory: {out / 'run'}",
        f"  wall time {summary['wall_seconds']:.0f} s",
    ]
    (out / "report.txt").write_text("\n".join(report) + "\n")
    print_table(f"gnode demo -> {out}", summary)


if __name__ == "__main__":
    app()
