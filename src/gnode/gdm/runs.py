"""A switching model fitted to your trials, by name: fit, save, load, infer, score and choose the number of states.

The models (``SwitchingConfig.model``):

- ``gdm`` — GDM with the linear transitions (B1), a fixed random projection and the linear posterior (the authors'
  linear GDM); ``gdm-gru`` — the same with the bidirectional-GRU posterior; ``gdm-rnn`` — the authors' RNN variant:
  GRU transitions, a learned projection and the GRU posterior.
- ``slds`` / ``rslds`` — sticky SLDS and recurrent-only rSLDS (variational EM); ``arhmm`` — the autoregressive HMM.

Held-out scores are per real step, so that trials of any length and number compare: for GDM the ELBO without the
usage-entropy bonus (a bound on ``log p(y)`` under the amortised posterior, no re-optimisation), for the SLDS the
structured mean-field ELBO after the E-step, for the ARHMM the exact ``log p(y_{2:T} | y_1)``. Within a model, they
rank numbers of states; across models they are different quantities.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.compilation import jit
from gnode.errors import CheckpointError, ConfigError, DataError
from gnode.files import write_json
from gnode.gdm import arhmm, slds
from gnode.gdm.data import SwitchingData, check_states
from gnode.gdm.fit import GDMFitConfig, elbo_terms, fit_gdm
from gnode.gdm.inference import forecast, reconstruct, soft_states
from gnode.gdm.model import EMISSIONS, GDM
from gnode.gdm.posterior import make_posterior
from gnode.gdm.transitions import GRUTransitions
from gnode.saving import load, load_meta, save
from gnode.selection import deal_folds, fold_mean_se, one_standard_error

SWITCHING_MODELS = ("gdm", "gdm-gru", "gdm-rnn", "slds", "rslds", "arhmm")
MODEL_FILE, FIT_FILE = "model.npz", "fit.json"


@dataclasses.dataclass(frozen=True)
class SwitchingConfig:
    """What to fit.

    Attributes:
        model: one of :data:`SWITCHING_MODELS`; states: K.
        latent: the SLDS's latent dimension, or GDM's projection dimension D.
        observation: ``gaussian`` or ``poisson`` (GDM only; the baselines are Gaussian).
        seed: initialisation and Monte Carlo draws.
        max_iterations, batch, samples, time_average, lr: GDM's training (:class:`~gnode.gdm.fit.GDMFitConfig`).
        iterations: EM iterations of the baselines.
    """

    model: str = "gdm"
    states: int = 4
    latent: int = 2
    observation: str = "gaussian"
    seed: int = 0
    max_iterations: int = 4000
    batch: int | None = None
    samples: int = 10
    time_average: bool = True
    lr: float = 1e-2
    iterations: int = 100

    def __post_init__(self):
        if self.model not in SWITCHING_MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {list(SWITCHING_MODELS)}")
        if self.observation not in EMISSIONS:
            raise ConfigError(f"unknown observation {self.observation!r}; choose one of {list(EMISSIONS)}")
        if self.observation != "gaussian" and not self.is_gdm:
            raise ConfigError(f"{self.model} has Gaussian observations only; Poisson counts need a GDM")
        for name in ("states", "latent", "seed", "max_iterations", "samples", "iterations"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "seed" else 1):
                raise ConfigError(f"{name} must be a {'non-negative' if name == 'seed' else 'positive'} integer, "
                                  f"got {value!r}")  # fmt: skip
        check_states(self.states)

    @property
    def is_gdm(self) -> bool:
        return self.model.startswith("gdm")

    def gdm_fit(self) -> GDMFitConfig:
        window = 100 if self.max_iterations % 100 == 0 else self.max_iterations
        return GDMFitConfig(samples=self.samples, lr=self.lr, max_iterations=self.max_iterations, window=window,
                            seed=self.seed, time_average=self.time_average, batch=self.batch,
                            warmup=min(200, self.max_iterations))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SwitchingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown switching settings {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class SwitchingFit:
    """A fitted switching model: ``fitted`` is ``(GDM, posterior)``, an :class:`~gnode.gdm.slds.SLDS` or an
    :class:`~gnode.gdm.arhmm.ARHMM`; ``observations``, ``inputs``: the sizes it was fitted to; ``history``:
    training facts (GDM's ELBO per iteration, iterations)."""

    config: SwitchingConfig
    fitted: Any
    observations: int
    inputs: int
    history: dict[str, Any]


def fit_switching(data: SwitchingData, config: SwitchingConfig) -> SwitchingFit:
    """Fit ``config.model`` to the trials ``data`` (inputs drive GDM; the baselines do not use them)."""
    n, u = data.observations.shape[2], data.inputs.shape[2]
    if config.latent > n and not config.is_gdm:
        raise ConfigError(f"latent dimension {config.latent} exceeds the {n} observed")
    if config.observation == "poisson" and (data.observations < 0).any():
        raise DataError("Poisson observations must be non-negative counts")
    key_model, key_posterior, key_transitions = jr.split(jr.key(config.seed), 3)
    if config.is_gdm:
        rnn = config.model == "gdm-rnn"
        transitions = GRUTransitions(config.latent, config.states, u, key=key_transitions) if rnn else None
        model = GDM(n, config.states, config.latent, inputs=u, transitions=transitions,
                    emission=EMISSIONS[config.observation](), train_projection=rnn, key=key_model)  # fmt: skip
        kind = "linear" if config.model == "gdm" else "gru"
        posterior = make_posterior(kind, n + u, config.states, key=key_posterior)
        model, posterior, history = fit_gdm(data, model, posterior, config.gdm_fit())
        return SwitchingFit(config, (model, posterior), n, u, history)
    if config.model == "arhmm":
        fitted = arhmm.fit_arhmm(data, config.states, arhmm.ARHMMConfig(iterations=config.iterations, seed=config.seed))
    else:
        transitions = slds.Sticky() if config.model == "slds" else slds.RecurrentOnly()
        settings = slds.SLDSConfig(transitions, latent=config.latent, iterations=config.iterations, seed=config.seed)
        fitted = slds.fit_slds(data, config.states, settings)[0]
    return SwitchingFit(config, fitted, n, u, {"iterations": config.iterations})


def save_fit(directory: str | Path, fit: SwitchingFit, extra: dict[str, Any] | None = None) -> Path:
    """``model.npz`` (the model, self-describing) and ``fit.json`` (settings, sizes, history) in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"switching": fit.config.to_dict(), "observations": fit.observations, "inputs": fit.inputs}
    save(directory / MODEL_FILE, fit.fitted, meta)
    record = {**meta, "history": fit.history, **(extra or {})}
    write_json(directory / FIT_FILE, record)
    return directory


def load_fit(directory: str | Path) -> SwitchingFit:
    """What :func:`save_fit` wrote. Raises CheckpointError for a folder without a switching model."""
    path = Path(directory) / MODEL_FILE
    meta = load_meta(path)
    if "switching" not in meta:
        raise CheckpointError(f"{path} is not a switching model (fitted by gnode gdm fit --data)")
    history = {}
    if (Path(directory) / FIT_FILE).is_file():
        history = json.loads((Path(directory) / FIT_FILE).read_text()).get("history", {})
    config = SwitchingConfig.from_dict(meta["switching"])
    return SwitchingFit(config, load(path), int(meta["observations"]), int(meta["inputs"]), history)


def _arrays(data: SwitchingData):
    return jnp.asarray(data.observations), jnp.asarray(data.inputs), jnp.asarray(data.lengths)


def gdm_held_out(model: GDM, posterior, data: SwitchingData, key, samples: int = 20) -> float:
    """``E_q[log p(y, z) − log q(z | y)]`` per real step (no usage bonus), ``samples`` draws per trial."""

    @jit
    def run(model, posterior, key):
        terms, _, real = elbo_terms(model, posterior, *_arrays(data), key, samples)
        return jnp.sum(terms * real) / jnp.sum(real)

    return float(run(model, posterior, key))


def held_out_score(fit: SwitchingFit, data: SwitchingData) -> float:
    """The model's score of ``data`` per real step (see the module docstring); higher is better."""
    data.check_model(fit.observations, fit.inputs)
    steps = float(data.lengths.sum())
    if fit.config.is_gdm:
        return gdm_held_out(*fit.fitted, data, jr.key(fit.config.seed + 7))
    if fit.config.model == "arhmm":
        return arhmm.arhmm_log_likelihood(fit.fitted, data) / float((data.lengths - 1).sum())
    return slds.slds_log_evidence(fit.fitted, data) / steps


def infer_switching(fit: SwitchingFit, data: SwitchingData, steps: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """What the model says about each trial (padded like ``data``; padded steps are zero).

    Returns:
        ``states`` ``(trials, time, K)`` (GDM: mean of 20 posterior samples; the baselines: smoothed marginals),
        ``reconstruction`` (one-step predictions), ``forecast`` (entry t: the prediction of ``y_t`` made ``steps``
        steps before, from ``y_{t−steps}``; zero for t < steps), ``lengths``.
    """
    data.check_model(fit.observations, fit.inputs)
    if steps < 1:
        raise ConfigError(f"forecast steps must be >= 1, got {steps}")
    if steps >= int(data.lengths.min()):
        raise DataError(f"a {steps}-step forecast needs trials longer than {steps} steps; the shortest has "
                        f"{int(data.lengths.min())}")  # fmt: skip
    ys, us, lengths = _arrays(data)
    key = jr.key(seed)
    if fit.config.is_gdm:
        model, posterior = fit.fitted
        one = lambda f: jax.vmap(lambda y, u, n: f(y, u, n))(ys, us, lengths)  # noqa: E731
        states = one(lambda y, u, n: soft_states(posterior, y, model.tau, key, inputs=u, length=n))
        rebuilt = one(lambda y, u, n: reconstruct(model, posterior, y, key, inputs=u, length=n))
        ahead = jit(lambda: one(lambda y, u, n: forecast(model, posterior, y, steps, key, inputs=u,
                                                         length=n)))()  # fmt: skip
    elif fit.config.model == "arhmm":
        model = fit.fitted
        states = jax.vmap(model.smooth)(ys, lengths)[0]
        rebuilt = jax.vmap(lambda y, p: arhmm.arhmm_one_step(model, y, p))(ys, states)
        ahead = jax.vmap(lambda y, p: arhmm.arhmm_forecast(model, y, p, steps))(ys, states)
    else:
        model = fit.fitted
        q = slds.infer(model, data)
        states = q.probs
        rebuilt = jax.vmap(lambda q_i: slds.one_step_prediction(model, q_i))(q)
        ahead = jax.vmap(lambda q_i: slds.forecast(model, q_i, steps))(q)
    real = data.mask[..., None]
    pad = np.zeros((*ys.shape[:2], ys.shape[2]), np.float32)
    pad[:, steps:] = np.asarray(ahead)
    return {
        "states": np.where(real, np.asarray(states), 0.0),
        "reconstruction": np.where(real, np.asarray(rebuilt), 0.0),
        "forecast": np.where(real, pad, 0.0),
        "lengths": data.lengths,
    }


def select_states(
    data: SwitchingData,
    config: SwitchingConfig,
    states: tuple[int, ...],
    latents: tuple[int, ...] = (),
    folds: int = 5,
    split_seed: int = 0,
) -> dict[str, Any]:
    """Choose K (and the latent dimension) by cross-validation over trials.

    The trials are dealt into ``folds`` parts by ``split_seed``; each candidate is fitted on all parts but one and
    scored (:func:`held_out_score`) on that one. The choice is the simplest candidate (fewest states, then the
    smallest latent dimension) whose mean score is within one standard error of the best mean.

    Returns:
        ``rows`` (one per candidate: ``states``, ``latent``, ``scores`` per fold, ``mean``, ``se``), ``best`` and
        ``chosen`` (rows), ``folds``, ``trials_per_fold``.
    """
    if not states:
        raise ConfigError("give the numbers of states to compare")
    for k in states:
        check_states(k)
    latents = latents or (config.latent,)
    parts = deal_folds(data.num_trials, folds, split_seed)
    rows = []
    for latent in latents:
        for k in states:
            candidate = dataclasses.replace(config, states=k, latent=latent)
            scores = []
            for held in range(folds):
                train = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != held]))
                fit = fit_switching(data.subset(train), candidate)
                scores.append(held_out_score(fit, data.subset(parts[held])))
            mean, se = fold_mean_se(scores)
            rows.append({"states": k, "latent": latent, "scores": scores, "mean": mean, "se": se})
    best, chosen = one_standard_error(rows, lambda r: (r["states"], r["latent"]))
    return {"rows": rows, "best": best, "chosen": chosen, "folds": folds,
            "trials_per_fold": [len(p) for p in parts]}  # fmt: skip
