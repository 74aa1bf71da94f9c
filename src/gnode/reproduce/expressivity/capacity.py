"""Capacity: the largest target complexity K a model reproduces, from the rows of an expressivity sweep.

For each model (the cells' settings other than ``knots``, ``seed``, ``target`` and ``lr``), each fit's R² is
the best over the learning rates tried (a per-fit tuning, so that capacity is not a learning-rate artefact);
the median of those over seeds and targets is taken at every K of the grid. The capacity is the largest K
such that the median R² is at least the threshold at that K *and at every smaller K of the grid* (a lucky
pass above a failure does not count); 0 when the smallest K already fails. ``capacity_interpolated`` places
the crossing between the last passing K and the next one, linearly in (log K, median R²), which resolves
capacities that fall between grid values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_KEYS = ("model", "dim", "depth", "width", "gate_depth", "gate_width")
VARIANT_KEYS = ("depth", "width", "gate_depth", "gate_width")  # the networks, apart from N and gating


def variant(row: dict[str, Any]) -> tuple[int, int, int, int]:
    """(depth, width, gate_depth, gate_width) of a row."""
    return tuple(int(row[k]) for k in VARIANT_KEYS)


def variant_label(key: tuple[int, int, int, int]) -> str:
    """``F: 2 x 128`` (hidden layers x width), ``F: affine``, plus ``G: 1 x 32`` for a gate with hidden layers."""
    depth, width, gate_depth, gate_width = key
    return (f"F: {depth} x {width}" if depth else "F: affine") + (
        f", G: {gate_depth} x {gate_width}" if gate_depth else ""
    )


def ungated(key: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The nODE that a gnODE variant is compared with: the same F, no gate."""
    return (*key[:2], 0, 0)


def median_r2(rows: Sequence[dict[str, Any]], keys: Sequence[str] = MODEL_KEYS) -> dict[tuple, dict[int, float]]:
    """``{model key: {K: median over seeds and targets of the best R² over learning rates}}``."""
    tuned: dict[tuple, float] = {}
    for row in rows:
        fit = (tuple(row[k] for k in keys), int(row["knots"]), row.get("seed", 0), row.get("target", 0))
        tuned[fit] = max(tuned.get(fit, float("-inf")), row["r2"])
    values: dict[tuple, dict[int, list[float]]] = {}
    for (key, knots, _, _), r2 in tuned.items():
        values.setdefault(key, {}).setdefault(knots, []).append(r2)
    return {key: {k: float(np.median(v)) for k, v in sorted(per_k.items())} for key, per_k in values.items()}


def capacity(curve: dict[int, float], threshold: float) -> tuple[int, float]:
    """(capacity on the grid, interpolated capacity) of one model's ``{K: median R²}``."""
    knots = sorted(curve)
    passed = 0
    for k in knots:
        if curve[k] < threshold:
            break
        passed = k
    if passed == 0 or passed == knots[-1]:
        return passed, float(passed)
    above, below = passed, knots[knots.index(passed) + 1]
    fraction = (curve[above] - threshold) / (curve[above] - curve[below])
    return passed, float(math.exp(math.log(above) + fraction * (math.log(below) - math.log(above))))


def capacity_table(
    rows: Sequence[dict[str, Any]], threshold: float = 0.9, keys: Sequence[str] = MODEL_KEYS
) -> list[dict[str, Any]]:
    """One row per model: its settings, ``capacity``, ``capacity_interpolated``, whether the grid's largest K
    passed (``saturated``: the true capacity may be larger), parameters and the median-R² curve."""
    parameters = {tuple(r[k] for k in keys): r.get("parameters") for r in rows}
    table = []
    for key, curve in median_r2(rows, keys).items():
        grid_value, interpolated = capacity(curve, threshold)
        table.append(
            {
                **dict(zip(keys, key, strict=True)),
                "capacity": grid_value,
                "capacity_interpolated": interpolated,
                "saturated": grid_value == max(curve),
                "parameters": parameters[key],
                "median_r2": {str(k): v for k, v in curve.items()},
            }
        )
    return sorted(table, key=lambda r: tuple(r[k] for k in keys))
