"""Run directories (``config.json``, ``metrics.jsonl``, ``checkpoint.npz``, ``model.npz``, ``summary.json``), and the
store of finished units that lets a long command made of many fits resume."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gnode.errors import DataError, RunDirError, WriteError
from gnode.files import load_arrays, remove_temporaries, save_arrays, write_json, write_text
from gnode.saving import load, save

EXTENDABLE = ("epochs",)  # settings a resumed run may change (train longer)


class RunDir:
    """A run's folder. ``create`` refuses to reuse a folder that holds a run unless resuming."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    checkpoint_path = property(lambda self: self.path / "checkpoint.npz")
    model_path = property(lambda self: self.path / "model.npz")
    summary_path = property(lambda self: self.path / "summary.json")

    @classmethod
    def create(
        cls, path: str | Path, config: dict[str, Any], *, resume: bool = False, defaults: dict[str, Any] | None = None
    ) -> RunDir:
        """Open ``path`` for a new run (it must be empty or absent) or for ``--resume``.

        A resumed run continues from its checkpoint; one killed before its first checkpoint starts again from
        epoch 0 (:attr:`started` is False), and one killed before even its config was written starts as new.
        The files a killed write left half-done are removed. ``defaults`` fill the keys a saved config lacks (a
        run written before those settings existed).
        """
        run = cls(path)
        if resume and run.config_path.is_file():
            remove_temporaries(run.path)
            saved = {**(defaults or {}), **run.read_config()}
            changed = sorted(
                k for k in set(saved) | set(config) if saved.get(k) != config.get(k) and k not in EXTENDABLE
            )
            if changed:
                raise RunDirError(f"cannot resume {run.path}: the config differs in {changed}")
            write_json(run.config_path, config)
            return run
        if resume:
            remove_temporaries(run.path)  # killed before its config was written: nothing of the run is there
        if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
            raise RunDirError(f"{run.path} exists and is not empty; choose a new --out or pass --resume")
        run.path.mkdir(parents=True, exist_ok=True)
        write_json(run.config_path, config)
        return run

    @classmethod
    def scratch(cls, path: str | Path) -> RunDir:
        """The run folder of a fit inside a longer command (a sweep's group, a benchmark's model): made if missing,
        cleared of half-written temporaries; pass it to :func:`gnode.train.fit` with ``resume=True`` and a killed
        command continues the fit from its last checkpoint. Delete it when the longer command has stored the fit's
        result."""
        run = cls(path)
        run.path.mkdir(parents=True, exist_ok=True)
        remove_temporaries(run.path)
        return run

    @property
    def started(self) -> bool:
        """Whether the run has a checkpoint to continue from."""
        return self.checkpoint_path.is_file()

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise RunDirError(f"no run in {self.path} (config.json is missing)") from None
        except json.JSONDecodeError:
            raise RunDirError(f"{self.config_path} is not valid JSON") from None

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Add a line to ``metrics.jsonl`` (a line cut by a crash is dropped on resume, see :meth:`read_metrics`)."""
        try:
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")
        except OSError as error:
            raise WriteError(f"cannot write {self.metrics_path}: {error.strerror or error}") from None

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by a crash ends the log
        return rows

    def truncate_metrics(self, last_epoch: int) -> list[dict[str, Any]]:
        """Keep only rows up to ``last_epoch`` (the checkpoint's), as after a crash."""
        rows = [r for r in self.read_metrics() if r["epoch"] <= last_epoch]
        write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))
        return rows

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.summary_path, summary)


class UnitStore:
    """The finished units of a long command (a seed, a model, a stage), one file each in ``folder/units/``.

    A unit's file is written atomically once its work is done — after any model file the work writes — and holds
    its arrays, a JSON record, and the settings it was computed with. A command killed at any moment and run again
    in the same folder finds every unit finished with the same settings and does only the rest; a unit stored with
    other settings is computed again.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "units"

    def _file(self, name: str) -> Path:
        return self.path / f"{name}.npz"

    def read(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """Unit ``name``'s arrays and header (``{"settings": ..., "record": ...}``), whatever settings it finished
        with; None if it has not finished (or its file is not a unit's: written atomically, only a foreign file
        fails to read)."""
        if not self._file(name).is_file():
            return None
        try:
            arrays = load_arrays(self._file(name))
            header = json.loads(bytes(arrays.pop(UNIT_HEADER)).decode())
        except (DataError, KeyError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return arrays, header

    def get(self, name: str, settings: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The arrays and record of unit ``name`` if it finished with ``settings``; else None (the unit runs again)."""
        found = self.read(name)
        if found is None or found[1].get("settings") != _as_json(settings):
            return None
        return found[0], found[1]["record"]

    def put(self, name: str, settings: dict[str, Any], record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Store unit ``name`` (atomically; the folder is made when the first unit finishes)."""
        header = json.dumps({"settings": _as_json(settings), "record": record}).encode()
        self.path.mkdir(parents=True, exist_ok=True)
        save_arrays(self._file(name), **arrays, **{UNIT_HEADER: np.frombuffer(header, np.uint8)})
        for scratch in self.path.glob(f"{name}.running-*"):
            shutil.rmtree(scratch, ignore_errors=True)

    def scratch(self, name: str, settings: dict[str, Any]) -> RunDir:
        """A run folder (:meth:`RunDir.scratch`) in which unit ``name``'s fit checkpoints while it runs, one per
        ``settings``; :meth:`put` deletes it."""
        tag = hashlib.sha1(json.dumps(_as_json(settings), sort_keys=True).encode()).hexdigest()[:12]
        return RunDir.scratch(self.path / f"{name}.running-{tag}")

    def run(
        self,
        name: str,
        settings: dict[str, Any],
        work: Callable[[], tuple[dict[str, Any], dict[str, np.ndarray]]],
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Unit ``name``: its stored record and arrays, or ``work()``'s (then stored)."""
        found = self.get(name, settings)
        if found is not None:
            return found[1], found[0]
        record, arrays = work()
        self.put(name, settings, record, arrays)
        return record, arrays


UNIT_HEADER = "unit_header"


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def resumable(
    out: str | Path | None,
    name: str,
    settings: dict[str, Any],
    work: Callable[[RunDir | None], tuple[list, dict[str, Any], dict]],
) -> tuple[list, dict[str, Any], dict]:
    """``work(run_dir)``'s trained models (one per seed or member), record and arrays for unit ``name``, saved
    (``out/models/<name>.npz``, then the unit); or, if ``out`` holds them finished with ``settings``, the saved ones.
    ``run_dir`` is where the fit checkpoints, and continues from after a crash; without ``out`` nothing is saved
    and ``run_dir`` is None."""
    if out is None:
        return work(None)
    out = Path(out)
    units = UnitStore(out)
    found = units.get(name, settings)
    if found is not None:
        return list(load(out / "models" / f"{name}.npz")), found[1], found[0]
    best, record, arrays = work(units.scratch(name, settings))
    save_models(out, {name: best})
    units.put(name, settings, record, arrays)
    return best, record, arrays


def save_models(out: Path, trained: dict[str, list]) -> None:
    """Each unit's trained models, as a tuple, in ``out/models/<name>.npz`` (:func:`gnode.save`)."""
    (out / "models").mkdir(parents=True, exist_ok=True)
    for name, seeds in trained.items():
        save(out / "models" / f"{name}.npz", tuple(seeds), {"model": name, "seeds": list(range(len(seeds)))})
