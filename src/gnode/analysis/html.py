"""The analysis report a person reads: the findings first, in sentences, then the fixed points with their slowest
modes, a state space to rotate (hover a fixed point for its eigenvalues), the figures with captions, and every
number last. One self-contained HTML file: the figures sit beside it, the viewer is a few lines of plain
JavaScript (nothing is fetched from the network)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Float

from gnode.analysis.fixed_points import FixedPoints
from gnode.analysis.plots import principal_axes
from gnode.files import write_text

CLASS_COLOURS = {"stable": "#1f77b4", "saddle": "#d62728", "unstable": "#ff7f0e"}


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"


def findings(summary: dict[str, Any], tau: float, dimension_threshold: float) -> list[str]:
    """What the analysis found, as sentences (HTML-escaped), most important first."""
    fixed = summary["fixed_points"]
    held = summary.get("held_input", [])
    at = "zero input" if not any(held) else "the held input x* = (" + ", ".join(f"{v:.3g}" for v in held) + ")"
    lines = []
    dimension = summary.get("dimension")
    if dimension is None:
        lines.append(f"No slow points were found at {at}: the flow never slows below the threshold from the "
                     f"{fixed['starts']} starts, so the network holds no memory there.")  # fmt: skip
    elif dimension >= 1:
        lines.append(f"<b>A {dimension}-dimensional continuous attractor</b> at {at}: the {fixed['slow_points']} slow "
                     f"points have a median of {dimension} eigenvalue(s) with |Re λ| < {dimension_threshold:g} / τ, "
                     "so states along it are held, not pulled to a point.")  # fmt: skip
    else:
        lines.append(f"<b>A discrete memory</b> at {at}: {fixed['stable']} stable fixed point(s) hold the states; "
                     "slow points have no neutral directions.")  # fmt: skip
    lines.append(f"{fixed['fixed_points']} fixed points: {fixed['stable']} stable, {fixed['saddles']} saddle(s), "
                 f"{fixed['unstable']} unstable.")  # fmt: skip
    points = summary.get("fixed_point_list", [])
    stable = [p for p in points if p["stability"] == "stable"]
    if stable:
        slowest = [tau / max(abs(max(p["eigenvalues_real"])), 1e-12) for p in stable]
        lines.append(f"Stable points relax with a slowest time constant of {np.median(slowest):.3g} s (median; τ = "
                     f"{tau:g} s): perturbations along their slowest mode decay that slowly.")  # fmt: skip
    saddles = [p for p in points if p["stability"].startswith("saddle")]
    if saddles:
        rates = [max(p["eigenvalues_real"]) for p in saddles]
        lines.append(f"Saddles escape along their unstable mode at Re λ = {np.median(rates):.3g} / τ (median): "
                     "they separate the basins of the stable points.")  # fmt: skip
    if "shape" in summary:
        shape = summary["shape"]
        lines.append(f"Against the set the task asks to store ({html.escape(str(summary['storable']))}), the slow "
                     f"points' readouts lie a mean {_percent(shape['chamfer_fraction'])} of its diameter from it "
                     f"(Chamfer) and cover {_percent(shape['coverage'])} of it.")  # fmt: skip
    if "point_targets" in summary:
        targets = summary["point_targets"]
        lines.append(f"{targets['targets_found']} of {targets['targets']} target points have a stable fixed point "
                     "at their readout.")  # fmt: skip
    drift = summary["drift"]
    scale = "the storable set's diameter" if "storable" in summary else "the outputs' range"
    lines.append(f"Held at {at} for {drift['hold_seconds']:g} s after each trial, the readout moves a median "
                 f"{_percent(drift['median_drift_fraction'])} of {scale} (90th percentile "
                 f"{_percent(drift['p90_drift_fraction'])}).")  # fmt: skip
    if summary.get("gate_closed_fixed_points"):
        lines.append(f"{summary['gate_closed_fixed_points']} fixed point(s) exist only because a gate shuts there "
                     "(−h + F ≠ 0 where G = 0).")  # fmt: skip
    return lines


def state_view(
    states: Float[ArrayLike, "batch time state"],
    found: FixedPoints,
    fixed_readouts: Float[ArrayLike, "fixed out"],
    *,
    trials: int = 8,
    steps: int = 200,
    slow: int = 600,
) -> dict[str, Any]:
    """The data of the rotatable view: trajectories, slow and fixed points in 3-D (the state itself up to
    N = 3, zeros filling missing axes; the top three principal components of the states above)."""
    states = np.asarray(states, np.float64)
    n = states.shape[-1]
    flat = states.reshape(-1, n)
    if n > 3:
        mean, axes, explained = principal_axes(flat)
        project = lambda p: (np.asarray(p, np.float64).reshape(-1, n) - mean) @ axes.T  # noqa: E731
        labels = [f"PC{i + 1}" for i in range(3)]
        note = f"top three principal components of the states ({_percent(float(explained.sum()))} of variance)"
    else:
        project = lambda p: np.pad(np.asarray(p, np.float64).reshape(-1, n), ((0, 0), (0, 3 - n)))  # noqa: E731
        labels = [f"h{i + 1}" for i in range(n)] + [""] * (3 - n)
        note = "the state space" if n == 3 else f"the {n}-D state space (flat: drag to turn it)"
    stride = max(1, states.shape[1] // steps)
    every = max(1, len(found.slow_points) // slow)
    eig = np.asarray(found.spectrum.eigenvalues) if len(found.points) else np.zeros((0, n), complex)
    fixed_readouts = np.asarray(fixed_readouts)
    rounded = lambda a: np.round(a, 5).tolist()  # noqa: E731
    return {
        "labels": labels,
        "note": note,
        "trajectories": [rounded(project(t[::stride])) for t in states[:trials]],
        "slow": rounded(project(found.slow_points[::every])) if len(found.slow_points) else [],
        "fixed": [
            {
                "at": rounded(project(p)[0]),
                "class": c,
                "eigenvalues": [f"{v.real:.4g}{v.imag:+.3g}i" if abs(v.imag) > 1e-9 else f"{v.real:.4g}" for v in e],
                "readout": [round(float(v), 4) for v in r[:6]],
            }
            for p, c, e, r in zip(found.points, found.stability, eig, fixed_readouts, strict=True)
        ],
    }


def _rows(prefix: str, value: Any):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _rows(f"{prefix}.{key}" if prefix else key, item)
    else:
        yield prefix, f"{value:.4g}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fixed_rows(summary: dict[str, Any], tau: float) -> list[list[str]]:
    rows = []
    for p in summary.get("fixed_point_list", []):
        real = np.asarray(p["eigenvalues_real"])
        slowest = np.argmin(np.abs(real))
        rows.append([
            p["stability"],
            ", ".join(f"{y:.3f}" for y in p["readout"][:6]) + (" …" if len(p["readout"]) > 6 else ""),
            f"{real.max():.4g}",
            f"{tau / max(abs(real[slowest]), 1e-12):.3g}",
            str(int(np.sum(real > 0))),
            f"{min(p['gate']):.3g}",
            f"{p['q']:.1e}",
        ])  # fmt: skip
    return rows


STYLE = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%}figcaption{color:#555;font-size:.9em}
#view{border:1px solid #ccc;cursor:grab;touch-action:none}
#view-tip{position:absolute;background:#fff;border:1px solid #888;padding:.3em .5em;font-size:.8em;display:none;
pointer-events:none;white-space:pre}
.legend span{margin-right:1.2em}.missing{color:#b00}
"""

VIEWER = """
(function () {
  const data = JSON.parse(document.getElementById("view-data").textContent);
  const canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
  const tip = document.getElementById("view-tip");
  const colours = %(colours)s;
  const all = [].concat(...data.trajectories, data.slow, data.fixed.map(p => p.at));
  const centre = [0, 1, 2].map(k => all.reduce((s, p) => s + p[k], 0) / Math.max(all.length, 1));
  const radius = Math.max(1e-9, ...all.map(p => Math.hypot(p[0] - centre[0], p[1] - centre[1], p[2] - centre[2])));
  let yaw = data.labels[2] ? 0.5 : 0, pitch = data.labels[2] ? 0.35 : 0, drag = null, shown = [];  // flat: face-on
  function screen(p) {
    const x = p[0] - centre[0], y = p[1] - centre[1], z = p[2] - centre[2];
    const x1 = Math.cos(yaw) * x + Math.sin(yaw) * z, z1 = -Math.sin(yaw) * x + Math.cos(yaw) * z;
    const y1 = Math.cos(pitch) * y - Math.sin(pitch) * z1;
    const s = 0.42 * Math.min(canvas.width, canvas.height) / radius;
    return [canvas.width / 2 + s * x1, canvas.height / 2 - s * y1];
  }
  function colour(c) { return colours[c.startsWith("saddle") ? "saddle" : c] || "#000"; }
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 1;
    data.trajectories.forEach((t, i) => {
      ctx.strokeStyle = "hsla(" + (40 * i) + ",60%%,45%%,0.55)";
      ctx.beginPath();
      t.forEach((p, k) => { const q = screen(p); k ? ctx.lineTo(q[0], q[1]) : ctx.moveTo(q[0], q[1]); });
      ctx.stroke();
    });
    ctx.fillStyle = "rgba(120,120,120,0.5)";
    data.slow.forEach(p => { const q = screen(p); ctx.fillRect(q[0] - 1, q[1] - 1, 2, 2); });
    shown = data.fixed.map(f => ({f: f, q: screen(f.at)}));
    shown.forEach(s => {
      ctx.fillStyle = colour(s.f.class);
      ctx.beginPath(); ctx.arc(s.q[0], s.q[1], 5, 0, 2 * Math.PI); ctx.fill();
    });
    ctx.fillStyle = "#444"; ctx.font = "12px sans-serif";
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]].forEach((e, k) => {
      if (!data.labels[k]) return;
      const a = screen(centre), b = screen(centre.map((c, j) => c + 0.9 * radius * e[j]));
      ctx.strokeStyle = "#bbb"; ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
      ctx.fillText(data.labels[k], b[0] + 3, b[1] - 3);
    });
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
  }
  canvas.addEventListener("pointerdown", e => {
    drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("pointermove", e => {
    if (drag) {
      yaw += (e.clientX - drag[0]) / 150; pitch += (e.clientY - drag[1]) / 150; drag = [e.clientX, e.clientY];
      draw(); return;
    }
    const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    const near = shown.filter(s => Math.hypot(s.q[0] - x, s.q[1] - y) < 8)[0];
    if (!near) { tip.style.display = "none"; return; }
    tip.textContent = near.f.class + " fixed point\\nreadout " + near.f.readout.join(", ") +
      "\\neigenvalues (1/τ): " + near.f.eigenvalues.join(", ");
    tip.style.left = (e.pageX + 12) + "px"; tip.style.top = (e.pageY + 12) + "px"; tip.style.display = "block";
  });
  draw();
})();
window.addEventListener("load", function () {
  const images = Array.from(document.querySelectorAll("figure img"));
  images.forEach(img => {
    if (!(img.complete && img.naturalWidth > 0)) {
      const note = document.createElement("p");
      note.className = "missing"; note.textContent = "This figure could not be loaded: " + img.getAttribute("src");
      img.replaceWith(note);
    }
  });
  document.body.dataset.figuresLoaded = images.filter(i => i.naturalWidth > 0).length + "/" + images.length;
});
"""


def write_report(
    path: str | Path,
    title: str,
    summary: dict[str, Any],
    figures: dict[str, str],
    view: dict[str, Any],
    *,
    tau: float,
    dimension_threshold: float,
) -> None:
    """Write the report (see the module docstring) to ``path``, atomically."""
    esc = html.escape
    fixed_header = ["class", "readout", "max Re λ (1/τ)", "slowest mode (s)", "unstable modes", "min gate", "q"]
    legend = (
        "".join(f"<span style='color:{c}'>● {k}</span>" for k, c in CLASS_COLOURS.items())
        + "<span style='color:#888'>· slow points</span><span>— trajectories</span>"
    )
    numbers = {k: v for k, v in summary.items() if k != "fixed_point_list"}
    images = "\n".join(
        f"<figure><img src='{esc(f)}' alt='{esc(c)}'><figcaption>{esc(c)}</figcaption></figure>"
        for f, c in figures.items()
    )
    view_json = json.dumps(view).replace("</", "<\\/")  # no "</script>" inside the data
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{esc(title)}</title><style>{STYLE}</style></head><body>
<h1>What {esc(title)} computes</h1>
<h2>Findings</h2><ul>{"".join(f"<li>{line}</li>" for line in findings(summary, tau, dimension_threshold))}</ul>
<h2>Fixed points</h2>
<p>Each fixed point of the flow at the held input, its readout, and its slowest mode: the time constant τ / |Re λ| of
the eigenvalue nearest zero (long for a point on a continuous attractor).</p>
{_table(fixed_header, _fixed_rows(summary, tau)) if summary.get("fixed_point_list") else "<p>None found.</p>"}
<h2>State space</h2>
<p>Drag to rotate; hover over a fixed point for its eigenvalues. Shown: {esc(view["note"])}.</p>
<p class="legend">{legend}</p>
<canvas id="view" width="640" height="480"></canvas><div id="view-tip"></div>
<script type="application/json" id="view-data">{view_json}</script>
<h2>Figures</h2>{images}
<h2>Every number</h2><details><summary>summary.json, flattened</summary>
{_table(["quantity", "value"], [list(r) for r in _rows("", numbers)])}</details>
<script>{VIEWER % {"colours": json.dumps(CLASS_COLOURS)}}</script>
</body></html>
"""
    write_text(path, body)
