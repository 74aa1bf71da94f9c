"""The side effects of a fit, as callbacks the driver calls: divergence, early stopping, run-folder files, the
progress bar, your own.

Each epoch the driver asks every callback to ``check`` the new state (:class:`StopOnDivergence` raises there, so no
callback ever sees a diverged state), then whether it ``should_stop`` (:class:`EarlyStopping`), then tells each of
them the finished epoch (``on_epoch``), and at the end the result (``on_end``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import PyTree

from gnode.errors import DivergenceError
from gnode.saving import save
from gnode.train.checkpoint import save_tree
from gnode.train.runs import RunDir
from gnode.train.step import TrainState, stalled


class Callback:
    """Does nothing; subclass it and override the events you need."""

    def on_start(self, start_epoch: int, epochs: int) -> None:
        """Before the first epoch (``start_epoch`` > 0 when resuming)."""

    def check(self, epoch: int, state: TrainState) -> None:
        """Before epoch ``epoch``'s state is accepted: raise to stop the fit with the previous state kept."""

    def should_stop(self, epoch: int, state: TrainState) -> bool:
        """After epoch ``epoch`` (and, for a resumed fit, once with the checkpoint's epoch before any other):
        whether the fit is over."""
        return False

    def on_epoch(self, epoch: int, row: dict[str, Any], state: TrainState, *, last: bool) -> None:
        """After epoch ``epoch`` (1-based); ``last``: no epoch follows (the end, or early stopping)."""

    def on_end(self, best: PyTree, final: PyTree, summary: dict[str, Any]) -> None:
        """After the last epoch: the best-validation and the final model, and the fit's summary."""

    def close(self) -> None:
        """Always called at the end, even when the fit raised."""


class StopOnDivergence(Callback):
    """Raise :class:`gnode.errors.DivergenceError` at the first non-finite loss of a single model; an ensemble
    freezes a diverged member at its last good state and trains the others on, and stops once every member has
    diverged. ``where`` names the last good checkpoint."""

    def __init__(self, where: str = ""):
        self.where = where

    def check(self, epoch: int, state: TrainState) -> None:
        diverged = np.asarray(state.diverged)
        if not diverged.all():
            return
        # a fit's first epoch has no checkpoint before it (a resumed fit starts past its checkpoint's epoch)
        where = f" in {self.where}" if self.where and epoch > 1 else ""
        if diverged.ndim == 0:
            last = f"epoch {epoch - 1}" if epoch > 1 else "the initial one"
            raise DivergenceError(f"non-finite loss at epoch {epoch}; the last good state is {last}{where}")
        raise DivergenceError(
            f"every member's loss became non-finite (the last at epoch {epoch}); each keeps its last good state{where}"
        )


class EarlyStopping(Callback):
    """Stop once every member's best validation loss is at least ``patience`` epochs old."""

    def __init__(self, patience: int):
        self.patience = patience

    def should_stop(self, epoch: int, state: TrainState) -> bool:
        return stalled(state, epoch, self.patience)


class RunFiles(Callback):
    """``metrics.jsonl`` (a line per epoch), ``checkpoint.npz`` (every ``every`` epochs and the last, atomically)
    and ``model.npz`` (the best-validation model, :func:`gnode.save`) in a :class:`RunDir`."""

    def __init__(self, run_dir: RunDir, every: int = 1):
        self.run_dir, self.every = run_dir, every

    def on_epoch(self, epoch: int, row: dict[str, Any], state: TrainState, *, last: bool) -> None:
        self.run_dir.append_metrics(row)
        if epoch % self.every == 0 or last:
            save_tree(self.run_dir.checkpoint_path, state, {"epoch": epoch})

    def on_end(self, best: PyTree, final: PyTree, summary: dict[str, Any]) -> None:
        save(self.run_dir.model_path, best, {"which": "best validation"})


class ProgressBar(Callback):
    """A rich progress bar: epochs, training and validation loss, steps per second."""

    def __init__(self):
        self.progress = None

    def on_start(self, start_epoch: int, epochs: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=epochs, completed=start_epoch, info="")

    def on_epoch(self, epoch: int, row: dict[str, Any], state: TrainState, *, last: bool) -> None:
        info = f"loss {np.mean(row['train_loss']):.4g}  val {np.mean(row['val_loss']):.4g}  "
        self.progress.update(self.task, advance=1, info=info + f"{row['steps_per_second']:.0f} it/s")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
