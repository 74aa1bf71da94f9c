"""The expressivity sweep: a grid of :class:`FitCell` settings, run by :func:`gnode.sweep.run_sweep`, reduced
to a capacity table with figures (``gnode expressivity CONFIG``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from gnode.errors import ConfigError
from gnode.files import write_json, write_text
from gnode.reproduce.expressivity.capacity import capacity_table, ungated, variant, variant_label
from gnode.reproduce.expressivity.figures import plot_capacity, plot_gating, plot_r2_curves
from gnode.reproduce.expressivity.fit import FitCell, fit_group, group_key
from gnode.sweep import expand_grid, read_sweep_file, run_sweep

SECTIONS = ("base", "grid", "measure")


def read_config(path: str | Path) -> tuple[list[dict[str, Any]], float]:
    """The cells of a sweep file (``[base]``, ``[grid]``: FitCell settings; ``[measure]``: ``threshold``), each
    checked before anything runs, and the R² threshold."""
    tables = read_sweep_file(path, SECTIONS)
    measure = tables["measure"]
    unknown = sorted(set(measure) - {"threshold"})
    if unknown:
        raise ConfigError(f"{path}: unknown [measure] settings {unknown}; known: ['threshold']")
    threshold = float(measure.get("threshold", 0.9))
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"{path}: threshold must lie in (0, 1), got {threshold}")
    cells = [FitCell.from_dict(c).to_dict() for c in expand_grid(tables["base"], tables["grid"])]
    return cells, threshold


def markdown_table(table: list[dict[str, Any]]) -> str:
    """Capacity for every (N, networks), gnODE beside the nODE with the same F."""
    flows = sorted({variant(r) for r in table})
    dims = sorted({r["dim"] for r in table})
    by = {(r["model"], r["dim"], variant(r)): r for r in table}

    def cell(model, dim, flow):
        r = by.get((model, dim, flow if model == "gnode" else ungated(flow)))
        if r is None:
            return "–"
        return f"{r['capacity_interpolated']:.1f}" + ("+" if r["saturated"] else "")

    header = "| N | " + " | ".join(variant_label(f) + " gnODE / nODE" for f in flows) + " |"
    lines = [header, "|---" * (len(flows) + 1) + "|"]
    for dim in dims:
        values = [f"{cell('gnode', dim, flow)} / {cell('node', dim, flow)}" for flow in flows]
        lines.append(f"| {dim} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def dimension_needed_table(table: list[dict[str, Any]], levels: tuple[float, ...] = (4, 8, 16, 32)) -> str:
    """The smallest N whose capacity reaches each level, for every (model, networks): does a richer F need fewer
    dimensions?"""
    lines = [
        "| model | networks | " + " | ".join(f"N for capacity ≥ {c:g}" for c in levels) + " |",
        "|---" * (len(levels) + 2) + "|",
    ]
    for model in sorted({r["model"] for r in table}):
        for flow in sorted({variant(r) for r in table if r["model"] == model}):
            rows = sorted((r for r in table if (r["model"], variant(r)) == (model, flow)), key=lambda r: r["dim"])
            needed = [
                next((str(r["dim"]) for r in rows if r["capacity_interpolated"] >= c), f"> {rows[-1]['dim']}")
                for c in levels
            ]
            lines.append(f"| {model} | {variant_label(flow)} | " + " | ".join(needed) + " |")
    return "\n".join(lines)


def run_expressivity(
    config: str | Path, out: str | Path, *, ray_address: str | None = None, log=print
) -> dict[str, Any]:
    """Run (or resume) the sweep in ``config`` into ``out``; write ``capacity.csv``, ``capacity.md``, figures and
    ``expressivity.json``; return that summary."""
    cells, threshold = read_config(config)
    out = Path(out)
    rows = run_sweep(cells, group_key=group_key, run_group=fit_group, out=out, ray_address=ray_address, log=log)
    table = capacity_table(rows, threshold)
    csv_text = io.StringIO()
    writer = csv.DictWriter(csv_text, [k for k in table[0] if k != "median_r2"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    write_text(out / "capacity.csv", csv_text.getvalue())
    text = markdown_table(table) + "\n\n" + dimension_needed_table(table)
    write_text(out / "capacity.md", text + "\n")
    plot_r2_curves(table, threshold, out / "r2_vs_k.png")
    plot_capacity(table, out / "capacity_vs_n.png")
    plot_gating(table, out / "gating.png")
    fit_seconds = sum(r["group_seconds"] / r["group_size"] for r in rows)
    summary = {
        "threshold": threshold,
        "fits": len(rows),
        "fit_seconds_total": fit_seconds,
        "capacity": table,
        "figures": ["r2_vs_k.png", "capacity_vs_n.png", "gating.png"],
    }
    write_json(out / "expressivity.json", summary)
    log(text)
    return summary
