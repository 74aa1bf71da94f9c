"""GDM and the switching-system baselines on NASCAR, scored two ways (lrrnn_gdm.md §B.8):

- ``fair`` (gnode's default): every model infers the states of the test sequence itself (GDM by its amortised
  posterior, SLDS / rSLDS by their E-step with the parameters fixed, the ARHMM by HMM smoothing); train and test
  paths come from different seeds; forecasts start from the test sequence.
- ``paper`` (the authors' notebooks): the baselines' test-state features and test reconstructions are their
  *training* posteriors; GDM's forecasts start from the training sequence and are scored on the test one; the
  standard variant's test path is its training path (one seed).

One call fits every model once per seed on the training sequence and scores both protocols.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.errors import ConfigError
from gnode.gdm import arhmm, slds
from gnode.gdm.fit import GDMFitConfig, fit_gdm
from gnode.gdm.inference import forecast, reconstruct, soft_states
from gnode.gdm.metrics import mean_r2, state_accuracy, switching_rate
from gnode.gdm.model import GDM
from gnode.gdm.nascar import Switching, nascar
from gnode.gdm.posterior import make_posterior
from gnode.train.checkpoint import write_json

MODELS = ("gdm", "gdm-gru", "slds", "rslds", "arhmm")
PROTOCOLS = ("fair", "paper")
TRAIN_SEED, TEST_SEED = 0, 1


def paper_test_seed(variant: str) -> int:
    """The authors' test path: the training one for the standard variant, seed 1 otherwise."""
    return TRAIN_SEED if variant == "standard" else TEST_SEED


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
    def __init__(self, posterior: str, config: GDMFitConfig):
        self.kind, self.config = posterior, config

    def fit(self, y: np.ndarray, states: int, seed: int) -> dict[str, Any]:
        k1, k2 = jr.split(jr.key(seed))
        model = GDM(y.shape[1], states, key=k1)
        posterior = make_posterior(self.kind, y.shape[1], states, key=k2)
        self.model, self.posterior, history = fit_gdm(y, model, posterior, dataclasses.replace(self.config, seed=seed))
        return {"iterations": history["iterations"], "stickiness": float(self.model.stickiness)}

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
        config = slds.SLDSConfig(self.transitions, iterations=self.iterations, seed=seed)
        self.model, self.train_posterior = slds.fit_slds(y, states, config)
        return {}

    def infer(self, y: np.ndarray, steps: int, seed: int, posterior=None) -> Inferred:
        q = posterior if posterior is not None else slds.infer(self.model, y)
        states = np.eye(self.model.states)[np.asarray(q.probs).argmax(-1)]
        return Inferred(states, np.asarray(slds.one_step_prediction(self.model, q)),
                        np.asarray(slds.forecast(self.model, q, steps)))  # fmt: skip

    def paper_test(self, steps: int) -> Inferred:
        """The authors' baseline test features: the training posterior, reconstructed by ``smooth``."""
        inferred = self.infer(None, steps, 0, self.train_posterior)
        return dataclasses.replace(inferred, reconstruction=np.asarray(slds.smooth(self.model, self.train_posterior)))


class _ARHMMRun:
    def __init__(self, iterations: int):
        self.iterations = iterations

    def fit(self, y: np.ndarray, states: int, seed: int) -> dict[str, Any]:
        self.model = arhmm.fit_arhmm(y, states, arhmm.ARHMMConfig(iterations=self.iterations, seed=seed))
        self.train_y = y
        return {}

    def infer(self, y: np.ndarray, steps: int, seed: int) -> Inferred:
        probs = arhmm.arhmm_states(self.model, y)
        y = jnp.asarray(y)
        states = np.eye(self.model.states)[np.asarray(probs).argmax(-1)]
        return Inferred(states, np.asarray(arhmm.arhmm_one_step(self.model, y, probs)),
                        np.asarray(arhmm.arhmm_forecast(self.model, y, probs, steps)))  # fmt: skip

    def paper_test(self, steps: int) -> Inferred:
        return self.infer(self.train_y, steps, 0)


def _runner(name: str, config: GDMFitConfig, iterations: int):
    if name.startswith("gdm"):
        return _GDMRun("gru" if name == "gdm-gru" else "linear", config)
    if name in ("slds", "rslds"):
        return _SLDSRun("sticky" if name == "slds" else "recurrent_only", iterations)
    return _ARHMMRun(iterations)


def _scores(train: Switching, test: Switching, on_train: Inferred, on_test: Inferred, steps: int) -> dict[str, float]:
    return {
        "state_accuracy": state_accuracy(on_train.states, train.labels, on_test.states, test.labels),
        "r2_train": mean_r2(on_train.reconstruction, train.observations),
        "r2_test": mean_r2(on_test.reconstruction, test.observations),
        f"forecast_{steps}_r2": mean_r2(on_test.forecast, test.observations[steps:]),
        "switching_rate_test": switching_rate(on_test.states),
    }


def run_nascar(
    out: str | Path,
    variant: str = "standard",
    *,
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] = range(5),
    states: int = 4,
    steps: int = 10,
    config: GDMFitConfig = GDMFitConfig(),
    baseline_iterations: int = 100,
) -> dict[str, Any]:
    """Fit every model with every seed on NASCAR ``variant`` and score both protocols; ``summary.json`` in ``out``.

    Arguments:
        models: from :data:`MODELS`; seeds: initialisations (the data are fixed); states: K; steps: the forecast
        horizon; config: GDM's training; baseline_iterations: EM iterations of the SLDS, rSLDS and ARHMM (the
        authors' ssm runs: 100).

    Returns:
        ``{"runs": {protocol: {model: [per-seed scores]}}, "mean": ..., "std": ..., "data": ...}``.
    """
    models = check_models(models)
    if not seeds or steps <= 0 or baseline_iterations <= 0:
        raise ConfigError(f"need seeds, steps > 0 and baseline_iterations > 0, got {list(seeds)}, {steps}, "
                          f"{baseline_iterations}")  # fmt: skip
    train = nascar(variant, seed=TRAIN_SEED)
    tests = {"fair": nascar(variant, seed=TEST_SEED), "paper": nascar(variant, seed=paper_test_seed(variant))}
    runs: dict[str, dict[str, list]] = {p: {m: [] for m in models} for p in PROTOCOLS}
    for name in models:
        for seed in seeds:
            runner = _runner(name, config, baseline_iterations)
            tick = time.perf_counter()
            info = runner.fit(train.observations, states, seed)
            seconds = time.perf_counter() - tick
            on_train = runner.infer(train.observations, steps, seed)
            for protocol, test in tests.items():
                on_test = runner.infer(test.observations, steps, seed)
                if protocol == "paper":
                    if name.startswith("gdm"):  # forecasts from the training sequence, scored on the test one
                        on_test = dataclasses.replace(on_test, forecast=on_train.forecast)
                    else:
                        on_test = runner.paper_test(steps)
                scores = _scores(train, test, on_train, on_test, steps)
                runs[protocol][name].append({"seed": seed, "fit_seconds": seconds, **info, **scores})
    summary = {
        "variant": variant,
        "states": states,
        "steps": steps,
        "seeds": list(seeds),
        "data": {
            "train_seed": TRAIN_SEED,
            "test_seed": {"fair": TEST_SEED, "paper": paper_test_seed(variant)},
            "true_switching_rate_test": switching_rate(tests["fair"].labels),
        },
        "gdm": dataclasses.asdict(config),
        "runs": runs,
        "mean": {p: {m: _aggregate(r, np.mean) for m, r in by.items()} for p, by in runs.items()},
        "std": {
            p: {m: _aggregate(r, lambda v: np.std(v, ddof=1) if len(v) > 1 else 0.0) for m, r in by.items()}
            for p, by in runs.items()
        },
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "summary.json", summary)
    (Path(out) / "table.md").write_text(results_table(summary))
    return summary


def _aggregate(rows: list[dict], reduce) -> dict[str, float]:
    keys = [k for k in rows[0] if k != "seed" and isinstance(rows[0][k], float | int)]
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
    return "\n".join(lines)
