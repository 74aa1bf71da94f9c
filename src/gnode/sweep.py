"""Sweeps: a grid of cells, grouped so that each group runs as one (vmapped) program, locally or on a Ray cluster.

A *cell* is a flat, JSON-able dict of settings. The caller says which cells can share a program
(``group_key``) and how to run a group (``run_group``: cells and a checkpoint folder in, one result row per cell
out; the folder is the group's own under ``OUT/running/`` when it runs here, so a killed sweep continues the group's
fit where it stopped, and None on Ray, whose workers may not share this disk). Each finished
group is written atomically to ``OUT/groups/``; a resumed sweep skips every cell found there, so an
interrupted sweep never redoes finished work. ``OUT/results.csv`` and ``OUT/summary.json`` are rewritten from
those files after every group. A result row may carry the trained model under ``"trained_model"``, already
encoded where it was trained (:func:`gnode.saving.to_bytes`): it is written to ``OUT/models/<cell_id>.npz`` before
the group's record, and the row keeps ``model_file``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import shutil
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gnode.errors import ConfigError
from gnode.files import atomic_write, write_json, write_text
from gnode.settings import read_settings_file


def expand_grid(base: Mapping[str, Any], grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the ``grid`` values, each on top of ``base`` (the grid wins). Order: the last key
    varies fastest.

    Raises:
        ConfigError: a grid entry that is not a non-empty list.
    """
    for key, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ConfigError(f"grid entry {key!r} must be a list of values, got {values!r}")
        if len(values) == 0:
            raise ConfigError(f"grid entry {key!r} is empty: give at least one value")
    keys = list(grid)
    return [{**base, **dict(zip(keys, combo, strict=True))} for combo in itertools.product(*(grid[k] for k in keys))]


def read_sweep_file(path: str | Path, tables: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The tables of a TOML (or JSON) sweep file; each must be one of ``tables`` and hold a table.

    Raises:
        ConfigError: a missing or unreadable file, or an unknown or malformed table.
    """
    content = read_settings_file(path, "sweep file")
    unknown = sorted(set(content) - set(tables))
    if unknown:
        raise ConfigError(f"{path}: unknown sections {unknown}; known: {list(tables)}")
    for name, table in content.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table of settings")
    return {name: dict(content.get(name, {})) for name in tables}


def key_without(values: Mapping[str, Any], members: Sequence[str]) -> str:
    """A group key: the cell's settings other than ``members`` (those that may differ inside a group)."""
    return json.dumps({k: v for k, v in sorted(values.items()) if k not in members}, default=str)


def cell_id(cell: Mapping[str, Any]) -> str:
    """A stable name for a cell: a hash of its settings."""
    return hashlib.sha1(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()[:16]


def group_cells(cells: Sequence[dict], group_key: Callable[[dict], Hashable]) -> list[list[dict]]:
    """Cells with equal ``group_key``, in order of first appearance."""
    groups: dict[Hashable, list[dict]] = {}
    for cell in cells:
        groups.setdefault(group_key(cell), []).append(cell)
    return list(groups.values())


class SweepStore:
    """The output folder of a sweep: ``groups/*.json`` (the record), ``models/``, ``results.csv``, ``summary.json``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.groups = self.path / "groups"

    def workdir(self, group: Sequence[dict]) -> Path:
        """Where a group's fit checkpoints while it runs (deleted once the group is recorded)."""
        return self.path / "running" / cell_id({"cells": [cell_id(c) for c in group]})

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for file in self.group_files():
            try:
                rows.extend(json.loads(file.read_text())["rows"])
            except (json.JSONDecodeError, KeyError):
                continue  # written atomically, so only a foreign file gets here; its cells run again
        return rows

    def group_files(self) -> list[Path]:
        """The record of every finished group."""
        return sorted(self.groups.glob("*.json"))

    def done(self) -> set[str]:
        return {row["cell_id"] for row in self.rows()}

    def add_group(self, rows: list[dict[str, Any]]) -> None:
        self.groups.mkdir(parents=True, exist_ok=True)
        for row in rows:
            if "trained_model" in row:
                (self.path / "models").mkdir(exist_ok=True)
                file = f"models/{row['cell_id']}.npz"
                atomic_write(self.path / file, row.pop("trained_model"))
                row["model_file"] = file
        write_json(self.groups / f"{cell_id({'cells': [r['cell_id'] for r in rows]})}.json", {"rows": rows})

    def write_table(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self.rows()
        columns = list(dict.fromkeys(key for row in rows for key in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()})
        write_text(self.path / "results.csv", text.getvalue())
        write_json(self.path / "summary.json", {**summary, "finished_cells": len(rows)})
        return rows


def _connect_ray(address: str):
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray-address needs Ray: pip install 'gnode[sweep]'") from None
    if not ray.is_initialized():
        # "local" starts a one-node Ray on this machine (Ray has no in-process local mode any more)
        ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False)
    return ray


def run_sweep(
    cells: Sequence[dict[str, Any]],
    *,
    group_key: Callable[[dict], Hashable],
    run_group: Callable[[list[dict]], list[dict]],
    out: str | Path,
    ray_address: str | None = None,
    cpus_per_group: float = 1.0,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run every cell not already finished in ``out``; return all rows (finished before and now).

    Arguments:
        cells: the settings of each cell (see :func:`expand_grid`); duplicates run once.
        group_key: cells with equal keys run together in one ``run_group`` call.
        run_group: ``(cells, workdir)`` -> one dict of results per cell, in order; ``workdir`` is a folder the
            group may checkpoint into and continue from (:meth:`gnode.train.RunDir.scratch`), or None. Must be a
            module-level function for Ray.
        out: the sweep's folder (created; reused to resume).
        ray_address: None runs the groups one after the other here; ``"local"`` starts Ray on this machine;
            anything else is the address of a running Ray cluster (``"auto"``, ``"ray://host:10001"``).
        cpus_per_group: Ray CPUs reserved by each group.
        log: where progress lines go.
    Returns:
        The row of each of ``cells`` (its settings, its results and ``cell_id``); ``out``'s table also keeps
        the rows of cells run there before that are not among them.
    """
    store = SweepStore(out)
    store.path.mkdir(parents=True, exist_ok=True)
    unique = list({cell_id(c): dict(c) for c in cells}.items())
    done = store.done()
    todo = [cell for cid, cell in unique if cid not in done]
    groups = group_cells(todo, group_key)
    log(f"sweep: {len(unique)} cells, {len(unique) - len(todo)} already finished, {len(groups)} groups to run")
    summary = {"cells": len(unique), "groups_run_now": len(groups), "ray_address": ray_address}
    tick = time.perf_counter()

    def record(group: list[dict], results: list[dict]) -> None:
        if len(results) != len(group):
            raise RuntimeError(f"run_group returned {len(results)} rows for {len(group)} cells")
        store.add_group(
            [{**cell, **result, "cell_id": cell_id(cell)} for cell, result in zip(group, results, strict=True)]
        )
        shutil.rmtree(store.workdir(group), ignore_errors=True)
        summary["seconds_this_process"] = time.perf_counter() - tick
        finished = {row["cell_id"] for row in store.write_table(summary)} & {cid for cid, _ in unique}
        log(f"sweep: group of {len(group)} cells finished ({len(finished)} / {len(unique)} cells)")

    if ray_address is None:
        for group in groups:
            record(group, run_group(group, store.workdir(group)))
    else:
        ray = _connect_ray(ray_address)
        remote = ray.remote(num_cpus=cpus_per_group)(run_group)
        pending = {remote.remote(group, None): group for group in groups}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            record(pending.pop(ready[0]), ray.get(ready[0]))
    summary["seconds_this_process"] = time.perf_counter() - tick
    wanted = {cid for cid, _ in unique}
    return [row for row in store.write_table(summary) if row["cell_id"] in wanted]
