"""GDM and the switching-system baselines on NASCAR, scored two ways (lrrnn_gdm.md §B.8):

- ``fair`` (gnode's default): every model infers the states of the test sequence itself (GDM by its amortised
  posterior, SLDS / rSLDS by their E-step with the parameters fixed, the ARHMM by HMM smoothing); train and test
  paths come from different seeds; forecasts start from the test sequence.
- ``paper`` (the authors' notebooks): the baselines' test-state features and test reconstructions are their
  *training* posteriors; GDM's forecasts start from the training sequence and are scored on the test one; the
  standard variant's test path is its training path (one seed).

:func:`fit_nascar` fits every model once per seed on the training sequence and stores what it infers under both
protocols; :func:`evaluate_nascar` scores them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.errors import ConfigError, DataError
from gnode.files import load_arrays, save_arrays, write_json, write_text
from gnode.gdm import arhmm, slds
from gnode.gdm import plots as figures
from gnode.gdm.data import check_states
from gnode.gdm.fit import GDMFitConfig, fit_gdm
from gnode.gdm.inference import forecast, reconstruct, soft_states
from gnode.gdm.metrics import mean_r2, state_accuracy, switching_rate
from gnode.gdm.model import GDM
from gnode.gdm.posterior import make_posterior
from gnode.reproduce.gdm.nascar import STICKINESS, Switching, nascar
from gnode.saving import save
from gnode.train.runs import UnitStore

MODELS = ("gdm", "gdm-gru", "slds", "rslds", "arhmm")
PROTOCOLS = ("fair", "paper")
TRAIN_SEED, TEST_SEED = 0, 1


def paper_test_seed(variant: str, paths: tuple[int, int] = (TRAIN_SEED, TEST_SEED)) -> int:
    """The authors' test path: the training one for the standard variant, the test one otherwise."""
    return paths[0] if variant == "standard" else paths[1]


@dataclasses.dataclass(frozen=True)
class Inferred:
    """What a fitted model says about one sequence: ``states`` (soft for GDM, one-hot for the baselines),
    one-step ``reconstruction`` and ``forecast`` of ``y[steps:]``."""

    states: np.ndarray
    reconstruction: np.ndarray
    forecast: np.ndarray


def check_models(models: Sequence[str]) -> tuple[str, ...]:
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ConfigError(f"unknown models {unknown or '(none given)'}; choose from {list(MODELS)}")
    return tuple(models)


class _GDMRun:
    def __init__(self, posterior: str, config: GDMFitConfig, train_projection: bool):
        self.kind, self.config, self.train_projection = posterior, config, train_projection

    def fit(self, y: np.ndarray, states: int, seed: int) -> dict[str, Any]:
        k1, k2 = jr.split(jr.key(seed))
        model = GDM(y.shape[1], states, train_projection=self.train_projection, key=k1)
        posterior = make_posterior(self.kind, y.shape[1], states, key=k2)
        self.model, self.posterior, history = fit_gdm(y, model, posterior, dataclasses.replace(self.config, seed=seed))
        return {"iterations": history["iterations"], "stickiness": float(self.model.transitions.stickiness)}

    @property
    def fitted(self) -> tuple[GDM, Any]:
        return self.model, self.posterior

    def infer(self, y: np.ndarray, steps: int, seed: int) -> Inferred:
        y = jnp.asarray(y)
        key = jr.key(seed + 1000)
        states = soft_states(self.posterior, y, self.model.tau, key)
        return Inferred(np.asarray(states), np.asarray(reconstruct(self.model, self.posterior, y, key)),
                        np.asarray(forecast(self.model, self.posterior, y, steps, key)))  # fmt: skip


class _SLDSRun:
    def __init__(self, transitions: str, iterations: int):
        self.transitions, self.iterations = transitions, iterations

    def fit(self, y: np.ndarray, states: int, seed: int) -> dict[str, Any]:
        config = slds.SLDSConfig(slds.TRANSITIONS[self.transitions](), iterations=self.iterations, seed=seed)
        self.model, self.train_posterior = slds.fit_slds(y, states, config)
        return {}

    @property
    def fitted(self) -> slds.SLDS:
        return self.model

    def infer(self, y: np.ndarray, steps: int, seed: int) -> Inferred:
        return self._inferred(slds.infer(self.model, y), steps)

    def _inferred(self, q: slds.Posterior, steps: int) -> Inferred:
        states = np.eye(self.model.states)[np.asarray(q.probs).argmax(-1)]
        return Inferred(states, np.asarray(slds.one_step_prediction(self.model, q)),
                        np.asarray(slds.forecast(self.model, q, steps)))  # fmt: skip

    def paper_test(self, on_train: Inferred, steps: int) -> Inferred:
        """The authors' baseline test features: the fitted training posterior, reconstructed by ``smooth``."""
        inferred = self._inferred(self.train_posterior, steps)
        return dataclasses.replace(inferred, reconstruction=np.asarray(slds.smooth(self.model, self.train_posterior)))


class _ARHMMRun:
    def __init__(self, iterations: int):
        self.iterations = iterations

    def fit(self, y: np.ndarray, states: int, seed: int) -> dict[str, Any]:
        self.model = arhmm.fit_arhmm(y, states, arhmm.ARHMMConfig(iterations=self.iterations, seed=seed))
        return {}

    @property
    def fitted(self) -> arhmm.ARHMM:
        return self.model

    def infer(self, y: np.ndarray, steps: int, seed: int) -> Inferred:
        probs = arhmm.arhmm_states(self.model, y)
        y = jnp.asarray(y)
        states = np.eye(self.model.states)[np.asarray(probs).argmax(-1)]
        return Inferred(states, np.asarray(arhmm.arhmm_one_step(self.model, y, probs)),
                        np.asarray(arhmm.arhmm_forecast(self.model, y, probs, steps)))  # fmt: skip

    def paper_test(self, on_train: Inferred, steps: int) -> Inferred:
        """The authors' baseline test features: what the model inferred on the training sequence."""
        return on_train


def _runner(name: str, config: GDMFitConfig, train_projection: bool, iterations: int):
    if name.startswith("gdm"):
        return _GDMRun("gru" if name == "gdm-gru" else "linear", config, train_projection)
    if name in ("slds", "rslds"):
        return _SLDSRun("sticky" if name == "slds" else "recurrent_only", iterations)
    return _ARHMMRun(iterations)


def _scores(
    train: Switching, test: Switching, on_train: Inferred, on_test: Inferred, steps: int, neighbours: int
) -> dict[str, float]:
    return {
        "state_accuracy": state_accuracy(on_train.states, train.labels, on_test.states, test.labels, neighbours),
        "r2_train": mean_r2(on_train.reconstruction, train.observations),
        "r2_test": mean_r2(on_test.reconstruction, test.observations),
        f"forecast_{steps}_r2": mean_r2(on_test.forecast, test.observations[steps:]),
        "switching_rate_test": switching_rate(on_test.states),
    }


def _key(protocol: str, model: str, seed: int, sequence: str, what: str) -> str:
    return f"{protocol}__{model}__{seed}__{sequence}__{what}"


def _fit_one(
    out: Path,
    name: str,
    seed: int,
    train: Switching,
    tests: dict[str, Switching],
    states: int,
    steps: int,
    config: GDMFitConfig,
    train_projection: bool,
    baseline_iterations: int,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit one model with one seed; save it; return its record and what it infers under both protocols."""
    runner = _runner(name, config, train_projection, baseline_iterations)
    tick = time.perf_counter()
    info = runner.fit(train.observations, states, seed)
    record = {"seed": seed, "fit_seconds": time.perf_counter() - tick, **info}
    save(out / "models" / f"{name}_seed{seed}.npz", runner.fitted, {"model": name, "seed": seed, **info})
    on_train = runner.infer(train.observations, steps, seed)
    arrays = {}
    for protocol, test in tests.items():
        if protocol == "paper" and not name.startswith("gdm"):
            on_test = runner.paper_test(on_train, steps)
        else:
            on_test = runner.infer(test.observations, steps, seed)
        if protocol == "paper" and name.startswith("gdm"):
            # GDM's test states are its own; its forecasts start from the training sequence
            on_test = dataclasses.replace(on_test, forecast=on_train.forecast)
        for sequence, inferred in (("train", on_train), ("test", on_test)):
            for field in dataclasses.fields(Inferred):
                arrays[_key(protocol, name, seed, sequence, field.name)] = getattr(inferred, field.name)
    return record, arrays


def fit_nascar(
    out: str | Path,
    variant: str = "standard",
    *,
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] = range(5),
    states: int = 4,
    steps: int = 10,
    config: GDMFitConfig = GDMFitConfig(),
    train_projection: bool = False,
    baseline_iterations: int = 100,
    paths: tuple[int, int] = (TRAIN_SEED, TEST_SEED),
) -> dict[str, Any]:
    """Fit every model with every seed on the training path of NASCAR ``variant``; write each fitted model
    (``models/<model>_seed<seed>.npz``, by :func:`gnode.save`; GDM as the pair (model, posterior)), what each
    infers about the training and test sequences under both protocols (``inferred.npz``) and the settings
    (``fit.json``). Each (model, seed) is stored when it finishes (``units/``): run again in the same folder after a
    crash, it fits only what is missing.

    Arguments:
        models: from :data:`MODELS`; seeds: initialisations (the data are fixed); states: K; steps: the forecast
            horizon; config: GDM's training; train_projection: GDM learns its projection F (as the authors' RNN
            variant does) instead of keeping a random one fixed (their linear GDM); baseline_iterations: EM iterations
            of the SLDS, rSLDS and ARHMM (the authors' ssm runs: 100); paths: the seeds of the training and the test
            path (distinct, for a fair test).
    Returns:
        The contents of ``fit.json``.
    """
    models = check_models(models)
    check_states(states)
    if paths[0] == paths[1]:
        raise ConfigError(f"the training and test paths need different seeds, got {paths[0]} for both")
    if not seeds or steps <= 0 or baseline_iterations <= 0:
        raise ConfigError(f"need seeds, steps > 0 and baseline_iterations > 0, got {list(seeds)}, {steps}, "
                          f"{baseline_iterations}")  # fmt: skip
    train = nascar(variant, seed=paths[0])
    tests = {"fair": nascar(variant, seed=paths[1]), "paper": nascar(variant, seed=paper_test_seed(variant, paths))}
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)  # every setting checked: now files may be written
    units = UnitStore(out)  # a rerun in ``out`` skips every (model, seed) fitted with these settings
    shared = {"variant": variant, "states": states, "steps": steps, "paths": list(paths),
              "gdm": dataclasses.asdict(config), "train_projection": train_projection,
              "baseline_iterations": baseline_iterations}  # fmt: skip
    arrays: dict[str, np.ndarray] = {}
    fits: dict[str, list] = {m: [] for m in models}
    for name in models:
        for seed in seeds:
            work = functools.partial(_fit_one, out, name, seed, train, tests, states, steps, config,
                                     train_projection, baseline_iterations)  # fmt: skip
            record, inferred = units.run(f"{name}_seed{seed}", shared, work)
            fits[name].append(record)
            arrays.update(inferred)
    settings = {
        "variant": variant,
        "models": list(models),
        "seeds": list(seeds),
        "states": states,
        "steps": steps,
        "train_seed": paths[0],
        "test_seed": {"fair": paths[1], "paper": paper_test_seed(variant, paths)},
        "gdm": dataclasses.asdict(config),
        "train_projection": train_projection,
        "baseline_iterations": baseline_iterations,
        "fits": fits,
    }
    save_arrays(out / "inferred.npz", **arrays)
    write_json(out / "fit.json", settings)
    return settings


def evaluate_nascar(out: str | Path, *, neighbours: int = 10) -> dict[str, Any]:
    """Score what :func:`fit_nascar` wrote in ``out`` (both protocols; ``neighbours``: k of the state classifier);
    ``summary.json``, ``table.md`` and the figures of the first seed (``states.png``, ``forecasts.png``)."""
    out = Path(out)
    if not (out / "fit.json").exists():
        raise DataError(f"{out / 'fit.json'}: no such file (run gnode gdm fit first)")
    settings = json.loads((out / "fit.json").read_text())
    arrays = load_arrays(out / "inferred.npz")
    variant, steps = settings["variant"], settings["steps"]
    train = nascar(variant, seed=settings["train_seed"])
    runs: dict[str, dict[str, list]] = {p: {m: [] for m in settings["models"]} for p in PROTOCOLS}
    for protocol in PROTOCOLS:
        test = nascar(variant, seed=settings["test_seed"][protocol])
        for name in settings["models"]:
            for fit_info in settings["fits"][name]:
                seed = fit_info["seed"]
                got = {sequence: Inferred(*(arrays[_key(protocol, name, seed, sequence, f.name)]
                                            for f in dataclasses.fields(Inferred)))
                       for sequence in ("train", "test")}  # fmt: skip
                scores = _scores(train, test, got["train"], got["test"], steps, neighbours)
                runs[protocol][name].append({**fit_info, **scores})
    test = nascar(variant, seed=settings["test_seed"]["fair"])
    first = settings["seeds"][0]
    summary = {
        "variant": variant,
        "states": settings["states"],
        "steps": steps,
        "seeds": settings["seeds"],
        "neighbours": neighbours,
        "data": {
            **{k: settings[k] for k in ("train_seed", "test_seed")},
            "true_switching_rate_test": switching_rate(test.labels),
        },
        "runs": runs,
        "mean": {p: {m: _aggregate(r, np.mean) for m, r in by.items()} for p, by in runs.items()},
        "std": {p: {m: _aggregate(r, _std) for m, r in by.items()} for p, by in runs.items()},
    }
    write_json(out / "summary.json", summary)
    write_text(out / "table.md", results_table(summary))
    inferred = {m: arrays[_key("fair", m, first, "test", "states")] for m in settings["models"]}
    figures.plot_states(test.states, inferred, out / "states.png")
    forecasts = {m: arrays[_key("fair", m, first, "test", "forecast")] for m in settings["models"]}
    figures.plot_forecasts(test.observations, forecasts, steps, out / "forecasts.png")
    return summary


def _std(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _aggregate(rows: list[dict], reduce) -> dict[str, float]:
    keys = [
        k for k in rows[0] if k != "seed" and isinstance(rows[0][k], float | int) and not isinstance(rows[0][k], bool)
    ]
    return {k: float(reduce([r[k] for r in rows])) for k in keys}


def results_table(summary: dict) -> str:
    """Markdown tables (one per protocol): mean ± std over seeds of every score."""
    steps = summary["steps"]
    columns = ["state_accuracy", "r2_train", "r2_test", f"forecast_{steps}_r2", "switching_rate_test", "fit_seconds"]
    lines = []
    for protocol in PROTOCOLS:
        lines += [f"**{summary['variant']}, {protocol} protocol** ({len(summary['seeds'])} seeds)", "",
                  "| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]  # fmt: skip
        for model, mean in summary["mean"][protocol].items():
            std = summary["std"][protocol][model]
            lines.append(f"| {model} | " + " | ".join(f"{mean[c]:.3f} ± {std[c]:.3f}" for c in columns) + " |")
        lines.append("")
    lines.append(f"true switching rate of the fair test path: {summary['data']['true_switching_rate_test']:.3f}")
    for model, mean in summary["mean"]["fair"].items():
        if "stickiness" in mean:
            std = summary["std"]["fair"][model]["stickiness"]
            lines.append(f"\n{model}: learned stickiness γ {mean['stickiness']:.2f} ± {std:.2f} "
                         f"(the generator's: {STICKINESS[summary['variant']]})")  # fmt: skip
    return "\n".join(lines)
