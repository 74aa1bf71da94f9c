"""Connector on a recording, with no ground truth: fit (LINT, the ridge estimate, Connector), save, load, evaluate,
and choose the rank.

The pipeline (:func:`fit_recording`): each neuron's rates are mapped onto tanh's range (:class:`RateScale`); LINT
fits a rank-R network, with input weights when there are inputs, to the training trials (validation trials pick its
best epoch; test trials are never seen); its latent frame is rotated to the principal axes of the training latents
(the frame is otherwise arbitrary); the recorded potentials ``arctanh(r)`` are projected on LINT's loadings
(:func:`gnode.connector.lint.latents_of`); the ridge estimate (A3) gives each recorded neuron's identifiable n; and
Connector learns the distribution of ``[m_i, b_i]`` and of n given them from LINT's loadings and the latents.

Evaluation (:func:`evaluate_recording`) compares, on held-out trials, the flow fields of LINT, of the recorded
neurons' ridge network and of networks sampled from Connector against the data's own latent steps; reconstructs each
held-out trial from its first latent state with each network (read out through the recorded neurons' loadings); and
counts populations by Gaussian-mixture cross-validation. :func:`select_rank` picks R by held-out reconstruction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gnode.connector.identify import ridge_loadings
from gnode.connector.lint import LintConfig, align, fit_lint, latents_of
from gnode.connector.lowrank import LowRankRNN, flow_field_error, input_drive
from gnode.connector.metrics import best_components, gmm_cross_validation
from gnode.connector.model import Connector, ConnectorConfig, fit_connector
from gnode.connector.recording import RateScale, Recording
from gnode.errors import CheckpointError, ConfigError, DataError
from gnode.files import load_arrays, save_arrays, write_json
from gnode.saving import load_as, save
from gnode.selection import deal_folds, fold_mean_se, one_standard_error
from gnode.train.runs import UnitStore

LINT_FILE, RIDGE_FILE, CONNECTOR_FILE, FIT_FILE = "lint.npz", "ridge.npz", "connector.npz", "fit.json"


@dataclasses.dataclass(frozen=True)
class RecordingConfig:
    """What to fit to a recording.

    Attributes:
        lint: LINT's settings (``lint.rank`` is R); connector: Connector's (its ``alpha`` is the network's step);
        limit, quantile: each neuron's ``quantile`` and ``1 − quantile`` of its training rates go to ∓limit in tanh
            units (:class:`RateScale`); start_in_span: LINT starts each trial in its loadings' span (the mean over
            neurons of the first potentials, not each neuron's noisy one; :class:`~gnode.connector.lint.RateModel`);
            bias: LINT learns a bias d per neuron (its resting potential; Connector then learns ``[m_i, b_i, d_i]``);
            test_fraction, val_fraction: trials held out
            for evaluation and for LINT's best epoch; split_seed: the split.
    """

    lint: LintConfig = LintConfig(epochs=300, lr=3e-3)
    connector: ConnectorConfig = ConnectorConfig()
    limit: float = 0.9
    quantile: float = 0.01
    start_in_span: bool = False
    bias: bool = True
    test_fraction: float = 0.2
    val_fraction: float = 0.2
    split_seed: int = 1

    def __post_init__(self):
        test, val = self.test_fraction, self.val_fraction
        if not (0 <= test < 1 and 0 < val < 1 and test + val < 1):
            raise ConfigError(f"need 0 <= test_fraction, 0 < val_fraction, and their sum < 1, got "
                              f"{self.test_fraction}, {self.val_fraction}")  # fmt: skip
        if not 0 < self.limit < 1:
            raise ConfigError(f"the rate limit must lie in (0, 1), got {self.limit}")
        if not 0 <= self.quantile < 0.5:
            raise ConfigError(f"the rate quantile must lie in [0, 0.5), got {self.quantile}")

    @property
    def lint_settings(self) -> LintConfig:
        """LINT's settings as fitted (``start_in_span`` applied)."""
        return dataclasses.replace(self.lint, start_in_span=self.start_in_span, bias=self.bias)

    def to_dict(self) -> dict[str, Any]:
        return {"lint": dataclasses.asdict(self.lint), "connector": self.connector.to_dict(), "limit": self.limit,
                "quantile": self.quantile, "start_in_span": self.start_in_span,
                "bias": self.bias,
                "test_fraction": self.test_fraction, "val_fraction": self.val_fraction,
                "split_seed": self.split_seed}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class RecordingFit:
    """A fitted recording: the rate map, LINT (rotated frame), the recorded neurons' ridge n, Connector, the split."""

    scale: RateScale
    lint: LowRankRNN
    ridge: np.ndarray
    connector: Connector
    split: dict[str, np.ndarray]
    record: dict[str, Any]

    @property
    def loadings(self) -> np.ndarray:
        """The recorded neurons' ``[m_i, b_i]`` (LINT's)."""
        return np.asarray(_loadings(self.lint))

    def latents(self, data: Recording) -> tuple[np.ndarray, np.ndarray | None]:
        """The latents of ``data`` in the fit's frame and their filtered inputs ũ (None without inputs)."""
        data.check_model(self.lint.neurons, 0 if self.lint.inputs is None else self.lint.inputs.shape[1])
        return project(self.lint, self.scale, data)


def split_trials(count: int, test_fraction: float, val_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Trials dealt at random into ``train`` / ``val`` / ``test`` (each sorted; val and train never empty)."""
    order = np.random.default_rng(seed).permutation(count)
    test = round(test_fraction * count)
    val = max(1, round(val_fraction * count))
    if count - test - val < 1:
        raise DataError(f"{count} trials leave none to train on ({test} test, {val} validation); record more trials")
    return {"test": np.sort(order[:test]), "val": np.sort(order[test : test + val]),
            "train": np.sort(order[test + val :])}  # fmt: skip


def fingerprint(data: Recording) -> str:
    """A hash of the recording's arrays: a stage stored for other data is computed again."""
    digest = hashlib.sha256(np.ascontiguousarray(data.rates).tobytes())
    if data.inputs is not None:
        digest.update(np.ascontiguousarray(data.inputs).tobytes())
    return digest.hexdigest()[:16]


def _loadings(network: LowRankRNN) -> jax.Array:
    """Each neuron's ``[m_i, b_i, d_i]`` (those it has)."""
    parts = [network.m, network.inputs, None if network.bias is None else network.bias[:, None]]
    return jnp.concatenate([p for p in parts if p is not None], axis=1)


def _extended(network: LowRankRNN, latents: np.ndarray, drive: np.ndarray | None) -> np.ndarray | None:
    """What multiplies ``[b_i, d_i]`` in the ridge regression: ũ, and a constant 1 for the bias."""
    parts = [] if drive is None else [drive]
    if network.bias is not None:
        parts.append(np.ones((*latents.shape[:2], 1), np.float32))
    return np.concatenate(parts, axis=2) if parts else None


def potentials_of(scale: RateScale, rates: np.ndarray) -> np.ndarray:
    """``arctanh`` of the mapped rates, clipped to ±0.999 (held-out trials may leave the training range)."""
    return np.arctanh(np.clip(scale(rates), -0.999, 0.999)).astype(np.float32)


def project(network: LowRankRNN, scale: RateScale, data: Recording) -> tuple[np.ndarray, np.ndarray | None]:
    """The latents of a recording on a network's loadings and its filtered inputs ũ (None without inputs)."""
    drive = None if data.inputs is None else np.asarray(input_drive(data.inputs, network.alpha))
    return np.asarray(latents_of(network, potentials_of(scale, data.rates), drive)), drive


def _principal_frame(network: LowRankRNN, latents: np.ndarray) -> LowRankRNN:
    """The network with its latents rotated onto their principal axes (largest second moment first), each axis's
    sign making the loadings' largest entry positive: a rotation changes nothing in the dynamics."""
    flat = latents.reshape(-1, latents.shape[-1]).astype(np.float64)
    _, vectors = np.linalg.eigh(flat.T @ flat)
    rotation = vectors[:, ::-1]
    m = np.asarray(network.m, np.float64) @ rotation
    rotation = rotation * np.sign(m[np.argmax(np.abs(m), axis=0), np.arange(m.shape[1])])
    rotated, _ = align(network, flat, flat @ rotation)
    return rotated


def fit_recording(data: Recording, config: RecordingConfig, out: str | Path) -> RecordingFit:
    """Fit LINT, the ridge estimate and Connector to a recording and save them in ``out`` (``lint.npz``,
    ``ridge.npz``, ``connector.npz``, ``fit.json``). Each stage is stored when it finishes: run again in ``out`` after
    a crash, it redoes only the unfinished stage.

    Arguments:
        data: the recording (:func:`gnode.connector.recording.recording`); config: the settings; out: the folder.
    Returns:
        The :class:`RecordingFit` (as :func:`load_recording_fit` reads it back).
    """
    out = Path(out)
    split = split_trials(data.num_trials, config.test_fraction, config.val_fraction, config.split_seed)
    if data.rates.shape[2] < config.connector.batch:
        raise ConfigError(f"{data.rates.shape[2]} neurons are fewer than the m-flow's batch {config.connector.batch}; "
                          "lower the batch")  # fmt: skip
    scale = RateScale.fit(data.rates[split["train"]], config.limit, config.quantile)
    potentials = potentials_of(scale, data.rates)
    out.mkdir(parents=True, exist_ok=True)
    alpha = config.connector.alpha
    units = UnitStore(out)
    lint_settings = {k: v for k, v in config.to_dict().items() if k != "connector"} | {
        "alpha": alpha,
        "data": fingerprint(data),
    }

    def lint_stage():
        fitted = fit_lint(potentials, split["train"], split["val"], config.lint_settings, alpha, data.inputs)
        latents, _ = project(fitted, scale, data)
        rotated = _principal_frame(fitted, latents[split["train"]])
        save(out / LINT_FILE, rotated, {"frame": "principal axes of the training latents", **lint_settings})
        return {}, {}

    units.run("lint", lint_settings, lint_stage)
    lint = load_as(out / LINT_FILE, LowRankRNN, HINT)
    latents, drive = project(lint, scale, data)
    pick = lambda a, part: None if a is None else a[split[part]]  # noqa: E731
    loadings = np.asarray(_loadings(lint))
    extended = _extended(lint, latents, drive)
    ridge = ridge_loadings(latents[split["train"]], loadings, alpha, config.connector.ridge,
                           drive=pick(extended, "train"))  # fmt: skip
    save_arrays(out / RIDGE_FILE, n=ridge.astype(np.float32), offset=scale.offset, gain=scale.gain,
                **{part: index for part, index in split.items()})  # fmt: skip
    settings = {**lint_settings, "connector": config.connector.to_dict()}

    def connector_stage():
        model, history = fit_connector(loadings, latents[split["train"]], config.connector, pick(extended, "train"))
        save(out / CONNECTOR_FILE, model, {"config": config.connector.to_dict()})
        seconds = {k: float(np.sum(v)) for k, v in history.items() if k.endswith("seconds")}
        return {"final_m_loss": history["m_loss"][-1], "final_n_loss": history["n_loss"][-1], **seconds}, {}

    record, _ = units.run("connector", settings, connector_stage)
    summary = {
        "config": config.to_dict(),
        "trials": {part: len(index) for part, index in split.items()},
        "neurons": int(data.rates.shape[2]),
        "inputs": data.num_inputs,
        "rank": config.lint.rank,
        **record,
    }
    write_json(out / FIT_FILE, summary)
    return load_recording_fit(out)


HINT = "run gnode connector fit --data first"


def load_recording_fit(out: str | Path) -> RecordingFit:
    """A fit saved by :func:`fit_recording` (no code is run: the files hold arrays and a description)."""
    out = Path(out)
    if not (out / FIT_FILE).is_file():
        raise CheckpointError(f"{out}: no {FIT_FILE} (run gnode connector fit --data first)")
    try:
        record = json.loads((out / FIT_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{out / FIT_FILE}: not a JSON fit record") from None
    arrays = load_arrays(out / RIDGE_FILE, ("n", "offset", "gain", "train", "val", "test"))
    return RecordingFit(
        scale=RateScale(arrays["offset"], arrays["gain"]),
        lint=load_as(out / LINT_FILE, LowRankRNN, HINT),
        ridge=arrays["n"],
        connector=load_as(out / CONNECTOR_FILE, Connector, HINT),
        split={part: arrays[part] for part in ("train", "val", "test")},
        record=record,
    )


def _velocities(network: LowRankRNN, latents: np.ndarray, drive: np.ndarray | None) -> np.ndarray:
    """The network's latent velocity at every step but the last, ``(trials · (time − 1), R)``."""
    u = None if drive is None else jnp.asarray(drive[:, :-1])
    return np.asarray(network.latent_velocity(jnp.asarray(latents[:, :-1]), u)).reshape(-1, network.rank)


def reconstruction_r2(
    network: LowRankRNN,
    readout: LowRankRNN,
    scale: RateScale,
    data: Recording,
    latents: np.ndarray,
    drive: np.ndarray | None,
    in_span: bool = False,
) -> dict[str, float]:
    """Each trial rebuilt from its first latent state by ``network``'s latent dynamics, read out as rates through
    ``readout``'s loadings (the recorded neurons'): R² of the latents and of the mapped rates (1 − SSE / the variance
    about each neuron's or latent's mean). As LINT starts its trials: each recorded neuron's first potential off the
    loadings' span decays as ``(1 − α)^t``, as it does in the network, unless ``in_span`` (LINT's
    ``start_in_span``: trials start in the span)."""
    steps = latents.shape[1] - 1
    rebuilt = np.asarray(network.simulate_latent(jnp.asarray(latents[:, 0]), steps, drive))
    pre = rebuilt @ np.asarray(readout.m).T
    if drive is not None and readout.inputs is not None:
        pre = pre + drive @ np.asarray(readout.inputs).T
    if readout.bias is not None:
        pre = pre + np.asarray(readout.bias)
    if not in_span:
        offset = potentials_of(scale, data.rates[:, 0]) - pre[:, 0]  # ũ_0 = 0: pre[:, 0] is h_0's part in the span
        pre = pre + (1 - readout.alpha) ** np.arange(steps + 1)[:, None] * offset[:, None]
    rates = np.tanh(potentials_of(scale, data.rates))  # what LINT fits: the mapped rates, clipped to ±0.999

    def r2(prediction, target):
        residual = np.sum((prediction - target) ** 2)
        return float(1 - residual / np.sum((target - target.mean(axis=(0, 1))) ** 2))

    return {"latent_r2": r2(rebuilt, latents), "rate_r2": r2(np.tanh(pre), rates)}


def evaluate_recording(
    fit: RecordingFit,
    data: Recording,
    *,
    trials: np.ndarray | None = None,
    sigma: float = 1.0,
    draws: int = 5,
    count: int = 1000,
    components: range | tuple[int, ...] = range(1, 10),
    seed: int = 0,
) -> dict[str, Any]:
    """Compare LINT, the ridge network and Connector samples with held-out data (no ground truth).

    Arguments:
        fit: the fit; data: the recording (the fit's, or new trials of the same neurons); trials: which trials to
        evaluate on (default: the fit's test trials when ``data`` is the fit's recording, else all); sigma: the
        maximum-entropy noise of the Connector samples; draws: sampled networks; count: neurons per sample;
        components: mixture sizes of the GMM cross-validation.
    Returns:
        ``flow_field_error`` (relative to the data's latent steps, per network; Connector: mean and per draw, at
        ``sigma`` and at 0), ``flow_field_error_to_lint``, ``reconstruction`` (latent and rate R²), ``gmm_cv``,
        ``gmm_best``, and the trials used.
    """
    if sigma < 0 or draws < 1 or count < 2:
        raise ConfigError(f"need sigma >= 0, draws >= 1 and count >= 2, got {sigma}, {draws}, {count}")
    if trials is None:
        same = data.num_trials == sum(len(v) for v in fit.split.values())
        trials = fit.split["test"] if same and len(fit.split["test"]) else np.arange(data.num_trials)
    held = data.subset(np.asarray(trials))
    latents, drive = fit.latents(held)
    alpha = fit.lint.alpha
    observed = ((latents[:, 1:] - latents[:, :-1]) / alpha).reshape(-1, latents.shape[2])
    lint = fit.lint
    ridge = eqx.tree_at(lambda net: net.n, lint, jnp.asarray(fit.ridge))
    networks = {"LINT": lint, "ridge (A3)": ridge}
    keys = [jr.fold_in(jr.key(seed), d) for d in range(draws)]
    bias = lint.bias is not None
    in_span = bool(fit.record.get("config", {}).get("start_in_span", False))
    sampled = {s: [fit.connector.network(k, count, s, alpha, bias) for k in keys] for s in dict.fromkeys((sigma, 0.0))}
    lint_field = _velocities(lint, latents, drive)

    def errors(network: LowRankRNN) -> tuple[float, float]:
        field = _velocities(network, latents, drive)
        return flow_field_error(observed, field), flow_field_error(lint_field, field)

    field_error, to_lint, draws_error, reconstruction = {}, {}, {}, {}
    for name, network in networks.items():
        field_error[name], to_lint[name] = errors(network)
        reconstruction[name] = reconstruction_r2(network, lint, fit.scale, held, latents, drive, in_span)
    for s, nets in sampled.items():
        name = f"Connector σ={s:g}"
        pairs = [errors(net) for net in nets]
        draws_error[name] = [p[0] for p in pairs]
        field_error[name] = float(np.mean(draws_error[name]))
        to_lint[name] = float(np.mean([p[1] for p in pairs]))
        rebuilt = [reconstruction_r2(net, lint, fit.scale, held, latents, drive, in_span) for net in nets]
        reconstruction[name] = {k: float(np.mean([r[k] for r in rebuilt])) for k in rebuilt[0]}
    first = sampled[sigma][0]
    clouds = {
        "LINT": np.hstack([fit.loadings, np.asarray(lint.n)]),
        "ridge (A3)": np.hstack([fit.loadings, fit.ridge]),
        f"Connector σ={sigma:g}": np.hstack([np.asarray(_loadings(first)), np.asarray(first.n)]),
    }
    gmm = {k: gmm_cross_validation(v, components) for k, v in clouds.items()}
    return {
        "trials": [int(t) for t in trials],
        "sigma": sigma,
        "draws": draws,
        "count": count,
        "flow_field_error": field_error,
        "flow_field_error_draws": draws_error,
        "flow_field_error_to_lint": to_lint,
        "reconstruction": reconstruction,
        "gmm_cv": {k: {str(j): fold_mean_se(s)[0] for j, s in v.items()} for k, v in gmm.items()},
        "gmm_cv_folds": {k: {str(j): s for j, s in v.items()} for k, v in gmm.items()},
        "gmm_best": {k: best_components(v) for k, v in gmm.items()},
    }


def select_rank(
    data: Recording, config: RecordingConfig, ranks: tuple[int, ...], folds: int = 5, split_seed: int = 0
) -> dict[str, Any]:
    """Choose R by cross-validation over trials: for each rank and fold, LINT is fitted on the other folds (a
    ``val_fraction`` of them picking its best epoch) and scored by the rate R² of the held-out trials rebuilt from
    their first latent states; the choice is the smallest rank within one standard error of the best mean.

    Returns:
        ``rows`` (``rank``, ``scores`` per fold, ``mean``, ``se``), ``best``, ``chosen``, ``folds``.
    """
    if not ranks or min(ranks) < 1:
        raise ConfigError(f"give positive ranks to compare, got {list(ranks)}")
    parts = deal_folds(data.num_trials, folds, split_seed)
    rows = []
    for rank in ranks:
        lint_config = dataclasses.replace(config.lint_settings, rank=rank)
        scores = []
        for held in range(folds):
            rest = np.concatenate([p for i, p in enumerate(parts) if i != held])
            inner = split_trials(len(rest), 0.0, config.val_fraction, config.split_seed)
            train, val = np.sort(rest[inner["train"]]), np.sort(rest[inner["val"]])
            scale = RateScale.fit(data.rates[train], config.limit, config.quantile)
            potentials = potentials_of(scale, data.rates)
            network = fit_lint(potentials, train, val, lint_config, config.connector.alpha, data.inputs)
            test = data.subset(parts[held])
            latents, drive = project(network, scale, test)
            score = reconstruction_r2(network, network, scale, test, latents, drive, config.start_in_span)
            scores.append(score["rate_r2"])
        mean, se = fold_mean_se(scores)
        rows.append({"rank": rank, "scores": scores, "mean": mean, "se": se})
    best, chosen = one_standard_error(rows, lambda r: r["rank"])
    return {"rows": rows, "best": best, "chosen": chosen, "folds": folds,
            "trials_per_fold": [len(p) for p in parts]}  # fmt: skip
