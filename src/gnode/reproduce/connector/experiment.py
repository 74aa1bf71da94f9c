"""The Connector pipeline on a synthetic ensemble, one folder per data set:

- :func:`generate` — draw the network, simulate the 20 × 20 grid of trials; ``network.npz``, ``trajectories.npz``,
  ``phase.png``;
- :func:`fit` — LINT on the rates (trials split train / validation / test), aligned to the true latent frame; the
  ridge estimate; Connector on LINT's loadings and latents; ``lint.npz``, ``connector.npz``;
- :func:`evaluate` — flow-field errors, GMM cross-validation, in-silico inactivation; figures and ``summary.json``;
- :func:`distances` — the Connector distance between every data set and every trained model.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.connector import plots as figures
from gnode.connector.identify import loading_correlation, ridge_loadings
from gnode.connector.lint import LintConfig, align, fit_lint, latents_of
from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.connector.metrics import (
    best_components,
    connector_distance,
    gmm_cross_validation,
    inactivation_change,
    kmeans_clusters,
)
from gnode.connector.model import Connector, ConnectorConfig, fit_connector
from gnode.errors import ConfigError, DataError
from gnode.files import load_arrays, save_arrays, write_json
from gnode.reproduce.connector.generators import (
    Connectivity,
    make_connectivity,
    overlap_of,
    phase_summary,
    quadstable_mean,
    simulate_grid,
)
from gnode.saving import load_as, save
from gnode.train.runs import UnitStore

LOADINGS = ("lint", "truth")
LATENTS = ("data", "lint")
GRID = dict(size=30, extent=2.4)  # the flow-field grid of the figures and errors (Connector: 30 x 30 over ±2.4)


def generate(out: str | Path, name: str, *, neurons: int = 1000, seed: int = 0, time_points: int = 100) -> dict:
    """Draw ensemble ``name`` and simulate its trials into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = make_connectivity(name, neurons, seed)
    trials = simulate_grid(c.network(), time=time_points)
    save_arrays(out / "network.npz", m=c.m, n=c.n, conditional_mean=c.conditional_mean, population=c.population)
    save_arrays(out / "trajectories.npz", latents=trials.latents)
    figures.plot_flow(c.network(), trials.latents, out / "phase.png", title=f"{name}: ground truth")
    summary = {"ensemble": name, "neurons": neurons, "seed": seed, "trials": trials.latents.shape[0],
               "time_points": time_points, **phase_summary(c.network(), trials)}  # fmt: skip
    write_json(out / "generate.json", summary)
    return summary


def _connectivity(out: Path) -> tuple[Connectivity, np.ndarray]:
    settings = json.loads((out / "generate.json").read_text()) if (out / "generate.json").exists() else None
    if settings is None:
        raise DataError(f"{out}: no generate.json (run gnode connector generate first)")
    net = load_arrays(out / "network.npz", ("m", "n", "conditional_mean", "population"))
    latents = load_arrays(out / "trajectories.npz", ("latents",))["latents"]
    c = Connectivity(settings["ensemble"], net["m"], net["n"], net["conditional_mean"], net["population"])
    return c, latents


def split_trials(trials: int, seed: int = 1) -> dict[str, np.ndarray]:
    """One fold of Connector's 5-fold split: 60 % train, 20 % validation, 20 % test, shuffled with ``seed``."""
    order = np.random.default_rng(seed).permutation(trials)
    fifth = trials // 5
    return {"test": order[:fifth], "val": order[fifth : 2 * fifth], "train": order[2 * fifth :]}


def fit(
    out: str | Path,
    *,
    lint: LintConfig = LintConfig(epochs=300, lr=3e-3),
    connector: ConnectorConfig = ConnectorConfig(),
    loadings: str = "lint",
    latents_from: str = "data",
) -> dict[str, Any]:
    """LINT, the ridge estimate and Connector for the data set in ``out``.

    ``loadings``: what Connector learns from — ``lint`` (LINT's aligned m and latents, the authors' pipeline) or
    ``truth`` (the true m and latents: Connector's own error, without LINT's). ``latents_from``: with LINT's
    loadings, the latents are the recorded potentials projected on them, ``κ = h pinv(Mᵀ)`` (``data``, the default)
    or LINT's own simulated trajectories (``lint``); which of the two the authors project is NOT FOUND
    (docs/choices.md). Each stage (LINT, Connector) is stored when it finishes (``units/``): run again in ``out``
    after a crash, it redoes only the unfinished stage.
    """
    if loadings not in LOADINGS:
        raise ConfigError(f"unknown loadings {loadings!r}; choose one of {list(LOADINGS)}")
    if latents_from not in LATENTS:
        raise ConfigError(f"unknown latents {latents_from!r}; choose one of {list(LATENTS)}")
    out = Path(out)
    c, latents = _connectivity(out)
    split = split_trials(latents.shape[0])
    units = UnitStore(out)  # each stage is stored when it finishes: a rerun after a crash redoes only the rest
    lint_settings = {"lint": dataclasses.asdict(lint), "latents_from": latents_from}

    def lint_stage():
        potentials = latents @ c.m.T
        tick = time.perf_counter()
        fitted = fit_lint(potentials, split["train"], split["val"], lint)
        seconds = time.perf_counter() - tick
        # LINT's own trajectories, in its latent frame, then aligned to the true frame on the training trials
        simulate = jax.jit(jax.vmap(lambda h0: fitted.simulate(h0, latents.shape[1] - 1)))
        own = np.asarray(simulate(jnp.asarray(potentials[:, 0], jnp.float32)))
        own_latents = np.asarray(latents_of(fitted, own))
        aligned, change = align(fitted, own_latents[split["train"]], latents[split["train"]])
        aligned_all = own_latents @ change
        projected = aligned_all if latents_from == "lint" else potentials @ np.linalg.pinv(np.asarray(aligned.m).T)
        save_arrays(out / "lint.npz", m=np.asarray(aligned.m), n=np.asarray(aligned.n), latents=projected)
        save(
            out / "lint_network.npz",
            aligned,
            {"lint": dataclasses.asdict(lint), "frame": "aligned to the true latents"},
        )
        arrays = {"m": np.asarray(aligned.m), "latents": projected, "aligned_all": aligned_all}
        return {"lint_seconds": seconds}, arrays

    lint_record, fitted = units.run("lint", lint_settings, lint_stage)
    ridge = ridge_loadings(latents[split["train"]], c.m, connector.alpha, connector.ridge)
    save_arrays(out / "ridge.npz", n=ridge)

    def connector_stage():
        tick = time.perf_counter()
        if loadings == "lint":
            model, history = fit_connector(fitted["m"], fitted["latents"][split["train"]], connector)
        else:
            model, history = fit_connector(c.m, latents[split["train"]], connector)
        seconds = time.perf_counter() - tick
        save(out / "connector.npz", model, {"config": connector.to_dict(), "loadings": loadings})
        return {"connector_seconds": seconds, "history": history}, {}

    settings = {**lint_settings, "connector": connector.to_dict(), "loadings": loadings}
    record, _ = units.run("connector", settings, connector_stage)
    history = record["history"]
    aligned_all = fitted["aligned_all"]
    summary = {
        "loadings": loadings,
        "latents_from": latents_from,
        "lint": dataclasses.asdict(lint),
        "connector": connector.to_dict(),
        "lint_seconds": lint_record["lint_seconds"],
        "connector_seconds": record["connector_seconds"],
        "m_epoch_seconds_median": float(np.median(history["m_seconds"][1:] or history["m_seconds"])),
        "n_iteration_seconds_median": float(np.median(history["n_seconds"][1:] or history["n_seconds"])),
        "lint_test_latent_mse": float(np.mean((aligned_all[split["test"]] - latents[split["test"]]) ** 2)),
        "history": history,
    }
    write_json(out / "fit.json", summary)
    return summary


def load_connector(out: str | Path) -> Connector:
    """The trained Connector of a folder (``connector.npz``, written by :func:`gnode.save`; no code is run)."""
    return load_as(Path(out) / "connector.npz", Connector, "run gnode connector fit first")


def conditional_mean_of(name: str):
    """E[n | m] of a synthetic ensemble, as a function of m."""
    if name == "quadstable":
        return quadstable_mean
    overlap = overlap_of(name)
    return lambda m: np.asarray(m) @ overlap.T


def evaluate(
    out: str | Path,
    *,
    samples: int = 1000,
    sigma: float = 1.0,
    seed: int = 0,
    draws: int = 5,
    components: Sequence[int] = range(1, 10),
) -> dict[str, Any]:
    """Compare ground truth, LINT and Connector samples on the data set in ``out``.

    Arguments:
        samples: neurons per Connector draw; sigma: its maximum-entropy noise.
        draws: Connector networks drawn for the flow-field error (mean and each), and as many fresh draws of the
            true ensemble at the same size — the finite-size spread any ``samples``-neuron network has.
        components: the mixture sizes of the GMM cross-validation (on the first draw).
    """
    if samples <= 0 or draws <= 0 or sigma < 0:
        raise ConfigError(f"need samples > 0, draws > 0 and sigma >= 0, got {samples}, {draws}, {sigma}")
    out = Path(out)
    c, latents = _connectivity(out)
    lint = load_arrays(out / "lint.npz", ("m", "n"))
    ridge = load_arrays(out / "ridge.npz", ("n",))["n"]
    model = load_connector(out)
    keys = [jr.fold_in(jr.key(seed), d) for d in range(draws)]
    drawn = {s: [tuple(np.asarray(a) for a in model.sample(k, samples, s)) for k in keys] for s in (sigma, 0.0)}
    fresh = [make_connectivity(c.name, samples, seed=10_000 + d) for d in range(draws)]
    grid = latent_grid(**GRID)
    truth = c.network()
    m, n = drawn[sigma][0]
    networks = {
        "ground truth": truth,
        "E[n|m]": LowRankRNN(truth.m, jnp.asarray(c.conditional_mean, jnp.float32)),
        "ridge (A3)": LowRankRNN(truth.m, jnp.asarray(ridge, jnp.float32)),
        "LINT": LowRankRNN(jnp.asarray(lint["m"]), jnp.asarray(lint["n"])),
        f"Connector σ={sigma:g}": LowRankRNN(jnp.asarray(m), jnp.asarray(n)),
    }
    reference = truth.latent_velocity(grid)

    def error(net: LowRankRNN) -> float:
        return flow_field_error(reference, net.latent_velocity(grid))

    field_error = {k: error(net) for k, net in networks.items() if not k.startswith("Connector")}
    per_draw = {f"Connector σ={s:g}": [error(LowRankRNN(jnp.asarray(a), jnp.asarray(b))) for a, b in drawn[s]]
                for s in (sigma, 0.0)}  # fmt: skip
    per_draw["fresh ground-truth draw"] = [error(f.network()) for f in fresh]
    field_error.update({k: float(np.mean(v)) for k, v in per_draw.items()})
    clouds = {
        "ground truth": np.hstack([c.m, c.n]),
        "LINT": np.hstack([lint["m"], lint["n"]]),
        f"Connector σ={sigma:g}": np.hstack([m, n]),
    }
    gmm = {k: gmm_cross_validation(v, components) for k, v in clouds.items()}
    summary = {
        "ensemble": c.name,
        "sigma": sigma,
        "samples": samples,
        "flow_field_error": field_error,
        "flow_field_error_draws": per_draw,
        "corr_ridge_conditional_mean": loading_correlation(ridge, c.conditional_mean),
        "corr_ridge_n": loading_correlation(ridge, c.n),
        "corr_lint_conditional_mean": loading_correlation(lint["n"], c.conditional_mean),
        "gmm_cv": {k: {str(j): float(np.mean(s)) for j, s in v.items()} for k, v in gmm.items()},
        "gmm_cv_folds": {k: {str(j): s for j, s in v.items()} for k, v in gmm.items()},
        "gmm_best": {k: best_components(v) for k, v in gmm.items()},
        "gmm_argmax": {k: best_components(v, "max") for k, v in gmm.items()},
    }
    if c.name == "quadstable":
        summary["inactivation"] = inactivation(c, networks[f"Connector σ={sigma:g}"], np.hstack([m, n]), fresh[0])
    figures.plot_fields(networks, latents, out / "flow_fields.png")
    figures.plot_marginals({k: v[:, 2:] for k, v in clouds.items()}, out / "marginals_n.png")
    figures.plot_gmm(gmm, out / "gmm_cv.png")
    write_json(out / "summary.json", summary)
    return summary


def inactivation(
    c: Connectivity, model_net: LowRankRNN, points: np.ndarray, fresh: Connectivity | None = None
) -> dict[str, list[float]]:
    """For each true population: the relative difference between silencing it and silencing the k-means cluster of
    the Connector sample nearest to its mean loadings; with ``fresh`` (another draw of the true ensemble), the same
    for silencing that draw's population — the difference a finite network has anyway."""
    labels = kmeans_clusters(points)
    truth = c.network()
    result: dict[str, list[float]] = {"relative_error": [], "cluster_sizes": []}
    if fresh is not None:
        result["fresh_ground_truth_error"] = []
    for p in range(4):
        target = inactivation_change(truth, np.flatnonzero(c.population == p), **GRID)
        centre = np.hstack([c.m[c.population == p].mean(0), c.n[c.population == p].mean(0)])
        cluster = int(np.argmin([np.linalg.norm(points[labels == k].mean(0) - centre) for k in range(4)]))
        change = inactivation_change(model_net, np.flatnonzero(labels == cluster), **GRID)
        result["relative_error"].append(flow_field_error(target, change))
        result["cluster_sizes"].append(int(np.sum(labels == cluster)))
        if fresh is not None:
            other = inactivation_change(fresh.network(), np.flatnonzero(fresh.population == p), **GRID)
            result["fresh_ground_truth_error"].append(flow_field_error(target, other))
    return result


def distances(folders: Sequence[str | Path], *, samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Connector distance (transport between the m's + mean squared gap to E[n | m], n at σ = 0) from each data set
    (rows) to each folder's trained model (columns), each row divided by its largest entry."""
    data = [_connectivity(Path(f))[0] for f in folders]
    models = [load_connector(f) for f in folders]
    matrix = np.zeros((len(data), len(models)))
    for j, model in enumerate(models):
        m, n = (np.asarray(a) for a in model.sample(jr.key(seed), samples, 0.0))
        for i, c in enumerate(data):
            matrix[i, j] = connector_distance(c.m, conditional_mean_of(c.name), m, n)
    normalised = matrix / matrix.max(axis=1, keepdims=True)
    names = [c.name for c in data]
    return {"names": names, "distance": matrix.tolist(), "normalised": normalised.tolist(),
            "diagonal_nearest": bool(np.all(np.argmin(matrix, axis=1) == np.arange(len(names))))}  # fmt: skip


def _field_error(summary: dict, key: str) -> str:
    """``mean % (min–max)`` of a flow-field error over draws, or the single value."""
    draws = summary["flow_field_error_draws"].get(key)
    mean = f"{100 * summary['flow_field_error'][key]:.1f} %"
    return mean if draws is None else f"{mean} ({100 * min(draws):.1f}–{100 * max(draws):.1f})"


def results_table(folders: Sequence[str | Path]) -> str:
    """One markdown row per evaluated data set (from ``fit.json`` and ``summary.json``): flow-field errors
    (Connector and fresh draws: mean over draws, with the range), GMM components (one-standard-error rule; argmax in
    brackets), LINT's correlation with E[n | m] and its latent test error."""
    columns = ["ensemble", "LINT latent test MSE", "field error: ridge (A3)", "LINT", "Connector σ=0",
               "Connector σ=1", "fresh ground-truth draw", "GMM k: truth / LINT / Connector",
               "corr(LINT n, E[n\\|m])"]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for folder in folders:
        folder = Path(folder)
        for name in ("fit.json", "summary.json"):
            if not (folder / name).exists():
                raise DataError(f"{folder / name}: no such file (run gnode connector fit and evaluate first)")
        fitted = json.loads((folder / "fit.json").read_text())
        s = json.loads((folder / "summary.json").read_text())
        sigma = f"Connector σ={s['sigma']:g}"
        gmm = " / ".join(f"{s['gmm_best'][k]} [{s['gmm_argmax'][k]}]" for k in ("ground truth", "LINT", sigma))
        cells = [s["ensemble"], f"{fitted['lint_test_latent_mse']:.1e}", _field_error(s, "ridge (A3)"),
                 _field_error(s, "LINT"), _field_error(s, "Connector σ=0"), _field_error(s, sigma),
                 _field_error(s, "fresh ground-truth draw"), gmm, f"{s['corr_lint_conditional_mean']:.2f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
