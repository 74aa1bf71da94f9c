"""A training run described by one flat, JSON-able config: build, train, save, reload.

A run trains on a built-in flip-flop task (``task``) or on the user's sequences (``data``: an ``.npz`` file, see
:func:`gnode.data.load_sequences`), with the observation model that suits its targets. This is what
``gnode train``, ``gnode demo`` and ``gnode sweep`` call.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array

from gnode.data import SequenceData, load_sequences, split_trials
from gnode.errors import CheckpointError, ConfigError, DataError, DivergenceError
from gnode.fields import check_field_settings, default_flow_widths
from gnode.init import critical_init
from gnode.likelihoods import (
    channel_mean,
    co_smoothing,
    gaussian_log_likelihood,
    observed_entries,
    poisson_log_likelihood,
    residual_variance,
)
from gnode.losses import MSE, AbstractLoss, CrossEntropy, Poisson, StepCrossEntropy, r2_score
from gnode.model import Model, make_model, parameter_count, predict
from gnode.nn import INITS
from gnode.saving import load, same_structure, save, to_bytes
from gnode.settings import check_memory, check_settings, read_settings_file
from gnode.sweep import expand_grid, key_without
from gnode.tasks import FLIPFLOP_TASKS, make_flipflop
from gnode.tasks.neurogym import PREFIX as NEUROGYM
from gnode.tasks.neurogym import neurogym_trials
from gnode.train import RunDir, TrainConfig, fit
from gnode.train.ensemble import fit_ensemble
from gnode.train.objective import SequenceObjective

OBSERVATIONS = ("auto", "gaussian", "poisson", "categorical")  # auto: categorical for labels, else gaussian
LINKS = {"softplus": jax.nn.softplus, "exp": jnp.exp}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Task or data, model and optimisation settings of one run (defaults: the authors' 2-D gnODE on the ring).

    Task runs: ``steps`` and ``hold`` set the trial (bins, then zero-input bins that hold the last value; see
    ``gnode.tasks.flipflop``); ``n_train``, ``n_val`` and ``task_seed`` its trials. Data runs: ``data`` names a
    sequences file; ``val_data`` / ``test_data`` name files of validation / test trials, else ``val_fraction`` /
    ``test_fraction`` of the trials are held out at random (``split_seed``). ``observation`` is the likelihood of the
    targets (``poisson`` with rate ``link(readout)`` for spike counts); ``held_out`` is the fraction of the target
    channels that an ``encoder`` initial state never reads (scored by co-smoothing); ``encoder_width`` its GRUs'
    size. ``init_from`` names a run directory whose best model starts this run (fine-tuning, e.g. on a longer
    hold); the architecture must match. A Poisson fit starts its readout bias at each channel's mean rate.
    ``patience``: stop after this many epochs without a better validation loss
    (0: never); ``clip_norm``: clip the gradient's global norm (0: never). An ``.nwb`` data file is read by
    :func:`gnode.datasets.nwb.read_nwb` with bins of ``dt`` seconds and the ``nwb_*``, ``align``, ``window`` and
    ``smooth`` settings.
    """

    task: str = ""  # a flip-flop task or neurogym:NAME; "" means ring unless data is given
    task_options: Sequence[str] = ()  # KEY=VALUE options of a neurogym task (VALUE in JSON: true, 0.5, "a")
    data: str = ""
    val_data: str = ""
    test_data: str = ""
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    split_seed: int = 0
    observation: str = "auto"
    link: str = "softplus"
    held_out: float = 0.0
    encoder_width: int = 64
    nwb_units: str = "units"  # the settings of an .nwb data file: see gnode.datasets.nwb.read_nwb
    nwb_series: str = ""
    align: str = "start_time"
    window: Sequence[float] = ()
    smooth: float = 0.0
    nwb_inputs: Sequence[str] = ()
    nwb_labels: str = ""
    model: str = "gnode"
    dim: int = 2
    dynamics: Sequence[int] | None = None  # None: the model's default (default_flow_widths); stored as a tuple
    gate: Sequence[int] = ()
    activation: str = "relu"
    init: str = "glorot_uniform"  # or "critical" (critical_normal draw + critical_init)
    initial_state: str = "learned"
    tau: float = 0.01
    dt: float = 0.01
    model_seed: int = 0
    task_seed: int = 8
    n_train: int = 500
    n_val: int = 100
    steps: int = 100
    hold: int = 0
    init_from: str = ""
    lr: float = 1e-3
    weight_decay: float = 0.1
    batch_size: int = 100
    epochs: int = 200
    seed: int = 0
    checkpoint_every: int = 1
    patience: int = 0
    clip_norm: float = 0.0

    def __post_init__(self):
        check_settings(RunConfig, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "config")
        if self.task and self.data:
            raise ConfigError(f"give a task or a data file, not both (task {self.task!r}, data {self.data!r})")
        if not self.data:
            object.__setattr__(self, "task", self.task or "ring")
            if self.task not in FLIPFLOP_TASKS and not self.task.startswith(NEUROGYM):
                raise ConfigError(f"unknown task {self.task!r}; choose one of {list(FLIPFLOP_TASKS)} or "
                                  "neurogym:NAME")  # fmt: skip
            if self.val_data or self.test_data:
                raise ConfigError("val_data and test_data go with a data file (--data)")
        if self.observation not in OBSERVATIONS or self.link not in LINKS:
            raise ConfigError(f"unknown observation {self.observation!r} or link {self.link!r}; choose among "
                              f"{list(OBSERVATIONS)} and {list(LINKS)}")  # fmt: skip
        if not (0 <= self.held_out < 1) or self.encoder_width <= 0 or self.patience < 0 or self.clip_norm < 0:
            raise ConfigError(f"need 0 <= held_out < 1, encoder_width > 0, patience >= 0 and clip_norm >= 0, got "
                              f"{self.held_out}, {self.encoder_width}, {self.patience}, {self.clip_norm}")  # fmt: skip
        if self.held_out and self.initial_state != "encoder":
            raise ConfigError("held_out channels are those an encoder never reads: use initial_state 'encoder'")
        if self.dim <= 0:
            raise ConfigError(f"--dim must be positive, got {self.dim}")
        if self.dynamics is None:
            object.__setattr__(self, "dynamics", default_flow_widths(self.model))
        for key in ("dynamics", "gate", "window", "nwb_inputs", "task_options"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        if self.init not in (*INITS, "critical"):
            raise ConfigError(f"unknown init {self.init!r}; choose one of {[*INITS, 'critical']}")
        check_field_settings(self.model, flow_widths=self.dynamics, gate_widths=self.gate, activation=self.activation,
                             init=self.field_init)  # fmt: skip
        if self.task_options and not self.task.startswith(NEUROGYM):
            raise ConfigError("task_options go with a neurogym task (--task neurogym:NAME)")
        self.neurogym_options()  # checks their form
        nwb_files = [f for f in (self.data, self.val_data, self.test_data) if f.endswith(".nwb")]
        nwb_settings = {k: getattr(self, k) for k in NWB_SETTINGS if getattr(self, k) != NWB_DEFAULTS[k]}
        if nwb_settings and not nwb_files:
            raise ConfigError(f"{sorted(nwb_settings)} are settings of an .nwb data file; the run has none")
        counts = {k: getattr(self, k) for k in ("n_train", "n_val", "steps")}
        if min(counts.values()) <= 0 or self.hold < 0 or not (self.tau > 0 and self.dt > 0):
            raise ConfigError(f"need n_train, n_val, steps, tau and dt positive and hold >= 0, got {counts}, "
                              f"hold={self.hold}, tau={self.tau}, dt={self.dt}")  # fmt: skip
        if min(self.seed, self.model_seed, self.task_seed) < 0:
            raise ConfigError("seed, model_seed and task_seed must be non-negative")
        self.train_config()  # validates the optimisation settings
        if self.task and self.batch_size > self.n_train:
            raise ConfigError(f"batch size {self.batch_size} exceeds the {self.n_train} training trials")
        if self.task in FLIPFLOP_TASKS:
            channels = FLIPFLOP_TASKS[self.task].channels
            trials = self.n_train + self.n_val
            check_memory(self.memory_estimate(trials, self.steps + self.hold, channels, channels), "this run")

    @property
    def field_init(self) -> str:
        """The initialiser the field's weights are drawn with (``critical`` rescales a ``critical_normal`` draw)."""
        return "critical_normal" if self.init == "critical" else self.init

    def memory_estimate(self, trials: int, time: int, inputs: int, outputs: int) -> float:
        """Bytes a run on ``trials`` trials of ``time`` steps needs, roughly: the trials, the parameters with
        AdamW's moments and the best copy, and one batch's activations kept for the backward pass."""
        sizes = [self.dim + inputs, *self.dynamics, self.dim]
        gate = [self.dim + inputs, *self.gate, self.dim]
        weights = sum(a * b for a, b in itertools.pairwise(sizes)) + sum(a * b for a, b in itertools.pairwise(gate))
        activations = self.batch_size * time * (sum(sizes) + sum(gate) + outputs)
        return 4.0 * (2 * trials * time * (inputs + outputs) + 4 * weights + 2 * activations)

    def neurogym_options(self) -> dict[str, Any]:
        """``task_options`` as keyword arguments: ``"use_expl_context=true"`` -> ``{"use_expl_context": True}``."""
        options = {}
        for item in self.task_options:
            key, sep, value = item.partition("=")
            if not sep or not key.strip().isidentifier():
                raise ConfigError(f"a task option must read KEY=VALUE, got {item!r}")
            try:
                options[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                options[key.strip()] = value  # a bare word: a string
        return options

    @property
    def source(self) -> str:
        """What the run trains on: the task's name or the data file's."""
        return self.task or Path(self.data).name

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        check_settings(cls, values, "config")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(read_settings_file(path))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def loss(self, classification: bool = False) -> AbstractLoss:
        """The loss of the run's observation model (``auto``: cross-entropy for labels, else MSE)."""
        name = self.observation
        if name == "auto":
            name = "categorical" if classification or self.task.startswith(NEUROGYM) else "gaussian"
        if name == "poisson":
            return Poisson(LINKS[self.link])
        if name == "categorical":
            return CrossEntropy() if classification else StepCrossEntropy()
        return MSE()

    def train_config(self, classification: bool = False) -> TrainConfig:
        return TrainConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            epochs=self.epochs,
            seed=self.seed,
            loss=self.loss(classification),
            checkpoint_every=self.checkpoint_every,
            patience=self.patience or None,
            clip_norm=self.clip_norm or None,
        )


NWB_SETTINGS = ("nwb_units", "nwb_series", "align", "window", "smooth", "nwb_inputs", "nwb_labels")
NWB_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig) if f.name in NWB_SETTINGS}


@dataclasses.dataclass(frozen=True)
class Splits:
    """The trials of a run: training, validation and (None where there is none) test."""

    train: SequenceData
    val: SequenceData
    test: SequenceData | None = None

    @property
    def classification(self) -> bool:
        return self.train.is_classification

    @property
    def outputs(self) -> int:
        """Output channels, or classes (the largest label of any split, plus one)."""
        if not self.classification:
            return self.train.targets.shape[-1]
        return 1 + max(int(d.targets.max()) for d in (self.train, self.val, self.test) if d is not None)


def load_splits(config: RunConfig) -> Splits:
    """The trials ``config`` trains, selects and tests on: a flip-flop task's, or those of its data files.

    Raises:
        DataError: a file that :func:`gnode.data.load_sequences` refuses, files that disagree in channels or kind of
            targets, too few trials for the split or the batch, or data too large for this machine.
    """
    if config.task.startswith(NEUROGYM):
        trials = neurogym_trials(
            config.task.removeprefix(NEUROGYM),
            config.n_train + config.n_val,
            dt=config.dt,
            options=config.neurogym_options(),
            seed=config.task_seed,
        ).data
        train, val = trials.subset(slice(0, config.n_train)), trials.subset(slice(config.n_train, None))
        check_memory(config.memory_estimate(trials.num_samples, trials.inputs.shape[1], trials.inputs.shape[2],
                                            trials.targets.shape[2]), f"a run on {config.task}")  # fmt: skip
        return Splits(train, val)
    if not config.data:
        train, val = make_flipflop(
            config.task,
            n_train=config.n_train,
            n_val=config.n_val,
            steps=config.steps,
            hold=config.hold,
            seed=config.task_seed,
        )
        return Splits(train, val)
    data = read_trials(config.data, config)
    held = config.test_fraction if not config.test_data else 0.0
    if config.val_data:
        train, _, test = split_trials(data, 0.0, held, config.split_seed)
        val = read_trials(config.val_data, config)
    else:
        train, val, test = split_trials(data, config.val_fraction, held, config.split_seed)
        if val is None:
            raise DataError(f"{config.data}: no validation trials; give val_fraction > 0 or val_data")
    if config.test_data:
        test = read_trials(config.test_data, config)
    for name, part in ((config.val_data, val), (config.test_data, test)):
        if (
            part is not None
            and name
            and (
                part.inputs.shape[-1] != train.inputs.shape[-1]
                or part.is_classification != train.is_classification
                or (not part.is_classification and part.targets.shape[-1] != train.targets.shape[-1])
            )
        ):
            raise DataError(f"{name}: its inputs or targets differ in channels or kind from {config.data}'s")
    if config.batch_size > train.num_samples:
        raise DataError(f"{config.data}: batch size {config.batch_size} exceeds the {train.num_samples} training "
                        "trials")  # fmt: skip
    outputs = 1 if train.is_classification else train.targets.shape[-1]
    trials = sum(d.num_samples for d in (train, val, test) if d is not None)
    estimate = config.memory_estimate(trials, train.inputs.shape[1], train.inputs.shape[-1], outputs)
    check_memory(estimate, f"a run on {config.data}")
    return Splits(train, val, test)


def read_trials(path: str, config: RunConfig) -> SequenceData:
    """The trials of one data file: an ``.nwb`` file read with the run's NWB settings, else a sequences ``.npz``."""
    if not path.endswith(".nwb"):
        return load_sequences(path)
    from gnode.datasets.nwb import read_nwb

    return read_nwb(
        path,
        units=config.nwb_units,
        series=config.nwb_series,
        align=config.align,
        window=config.window,
        bin_width=config.dt,
        smooth=config.smooth,
        inputs=config.nwb_inputs,
        labels=config.nwb_labels,
    ).data


def held_out_channels(config: RunConfig, outputs: int) -> np.ndarray:
    """The target channels an encoder never reads: ``round(held_out * outputs)`` of them, drawn by
    ``split_seed``, sorted."""
    count = round(config.held_out * outputs)
    if config.held_out and not 1 <= count < outputs:
        raise ConfigError(f"held_out {config.held_out} of {outputs} channels leaves none held out or none read")
    return np.sort(np.random.default_rng(config.split_seed).permutation(outputs)[:count])


def initial_model(config: RunConfig, splits: Splits) -> Model:
    """The model ``config`` starts from, sized to its data."""
    inputs, outputs = splits.train.inputs.shape[-1], splits.outputs
    held_out = held_out_channels(config, outputs)
    model = make_model(
        config.model,
        config.dim,
        inputs,
        outputs,
        flow_widths=config.dynamics,
        gate_widths=config.gate,
        activation=config.activation,
        init=config.field_init,
        initial_state=config.initial_state,
        encoder_channels=np.setdiff1d(np.arange(outputs), held_out).tolist(),
        encoder_width=config.encoder_width,
        tau=config.tau,
        dt=config.dt,
        key=jr.key(config.model_seed),
    )
    if config.initial_state == "encoder" and splits.classification:
        raise ConfigError("an encoder infers h0 from sequence targets; class labels have none")
    if config.init == "critical":
        model, _ = critical_init(model, splits.train.inputs)
    loss = config.loss(splits.classification)
    # a Poisson fit starts at each channel's mean rate: it then learns the dynamics, not the mean
    if isinstance(loss, Poisson) and not splits.classification:
        mean = channel_mean(splits.train.targets, splits.train.mask)
        model = eqx.tree_at(lambda m: m.readout.bias, model, loss.readout_of(mean))
    return model


def check_splits(model: Model, splits: Splits, loss: AbstractLoss, config: RunConfig) -> None:
    """The checks a fit makes of its data against the model and the loss, made before a run writes anything."""
    for name, part in (("train", splits.train), ("validation", splits.val), ("test", splits.test)):
        if part is not None:
            file = {"validation": config.val_data, "test": config.test_data}.get(name) or config.data or config.task
            SequenceObjective(loss).arrays(model, part, f"{file} ({name} trials)")


def build(config: RunConfig) -> tuple[Model, SequenceData, SequenceData]:
    """The initial model and the train / validation data of ``config``."""
    splits = load_splits(config)
    return initial_model(config, splits), splits.train, splits.val


def warm_start(model: Model, config: RunConfig) -> Model:
    """``model`` with the parameters of ``config.init_from``'s best model (unchanged when it names none)."""
    if not config.init_from:
        return model
    try:
        loaded = load(RunDir(config.init_from).model_path)
    except CheckpointError as err:
        raise CheckpointError(f"init_from {config.init_from}: {err}") from None
    if not same_structure(loaded, model):
        raise CheckpointError(f"init_from {config.init_from}: its model differs from this run's in shape or kind")
    return loaded


def evaluate(
    model: Model,
    data: SequenceData,
    loss: AbstractLoss = MSE(),
    variance: np.ndarray | None = None,
    *,
    pred: Array | None = None,
) -> dict[str, float]:
    """The scores of ``model`` on ``data`` under ``loss``: the loss and its metric, and by observation model

    - Gaussian (:class:`MSE`): ``mse``, ``r2`` and, given each channel's ``variance`` (from the training
      residuals), ``log_likelihood`` in nats per observed entry;
    - Poisson: ``bits_per_spike``, ``log_likelihood`` (nats per observed entry, ``log y!`` included),
      ``co_smoothing`` (bits per spike on the channels the encoder never reads, where there are some) and
      ``rate_r2`` (against ``data.rates``, where known);
    - categorical: ``cross_entropy`` and ``accuracy``.

    ``pred``: the model's readouts on ``data`` where they are at hand (:func:`readouts`).
    """
    targets = jnp.asarray(data.targets)
    mask = None if data.mask is None else jnp.asarray(data.mask)
    pred = readouts(model, data) if pred is None else pred
    value, metric = loss.of_sequences(pred, targets, mask)
    scores = {"loss": float(value), loss.metric_name: float(metric)}
    entries = None if data.is_classification else float(jnp.maximum(observed_entries(mask, targets).sum(), 1.0))
    if isinstance(loss, MSE):
        scores["mse"] = float(value)
        if variance is not None:
            scores["log_likelihood"] = float(gaussian_log_likelihood(pred, targets, variance, mask)) / entries
    elif isinstance(loss, Poisson):
        rates = loss.rates(pred)
        scores["log_likelihood"] = float(poisson_log_likelihood(rates, targets, mask)) / entries
        held_out = np.setdiff1d(np.arange(targets.shape[-1]), getattr(model.initial_state, "channels", ()))
        if model.initial_state.reads_observations and len(held_out):
            scores["co_smoothing"] = float(co_smoothing(rates, targets, held_out, mask))
        if data.rates is not None:
            scores["rate_r2"] = float(r2_score(rates, jnp.asarray(data.rates), mask))
    else:
        scores["cross_entropy"] = float(value)
    return scores


def readouts(model: Model, data: SequenceData) -> Array:
    """The model's readouts on ``data`` (at its times, from its observations where the initial state reads them)."""
    times = None if data.times is None else jnp.asarray(data.times)
    observed = None if data.is_classification else jnp.asarray(data.targets)
    return predict(model, jnp.asarray(data.inputs), times, observed=observed)[0]


def scores_of(model: Model, splits: Splits, loss: AbstractLoss) -> dict[str, float]:
    """Every split's :func:`evaluate` scores, flattened with the prefixes ``train_``, ``val_`` and ``test_``."""
    train_pred = readouts(model, splits.train)  # once: for the noise variance and the training scores
    variance = None
    if isinstance(loss, MSE):  # a Gaussian observation model's noise: the training residuals' variance
        mask = None if splits.train.mask is None else jnp.asarray(splits.train.mask)
        variance = np.asarray(residual_variance(train_pred, jnp.asarray(splits.train.targets), mask))
    parts = {"train": splits.train, "val": splits.val, "test": splits.test}
    scores = {}
    for name, part in parts.items():
        if part is not None:
            pred = train_pred if name == "train" else None
            scores.update({f"{name}_{k}": v for k, v in evaluate(model, part, loss, variance, pred=pred).items()})
    return scores


def train_run(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    keep_best_on_divergence: bool = False,
) -> dict[str, Any]:
    """Train ``config`` into the run directory ``out``; return (and write) ``summary.json``.

    ``keep_best_on_divergence``: when the loss becomes non-finite, report the best-validation model seen
    before it (from the last good checkpoint) with ``diverged_at_epoch`` set, instead of raising.
    """
    splits = load_splits(config)  # validates every setting and the data before anything is written
    model = initial_model(config, splits)
    train_config = config.train_config(splits.classification)
    check_splits(model, splits, train_config.loss, config)
    if not (resume and RunDir(out).started):  # a resumed run starts from its own checkpoint, wherever init_from
        model = warm_start(model, config)  # has gone since
    run = RunDir.create(out, config.to_dict(), resume=resume, defaults=RunConfig().to_dict())
    diverged_at = None
    try:
        result = fit(model, splits.train, splits.val, train_config, run_dir=run, resume=resume, progress=progress)
        best, best_epoch, costs = result.model, result.summary["best_epoch"], result.summary
    except DivergenceError as error:
        if not keep_best_on_divergence:
            raise
        # the fit's own last good state, not the checkpoint: a fit that diverges in its first epoch has none
        best, costs = error.state
        best_epoch, diverged_at = int(costs["best_epoch"]), int(costs["epochs_run"])
        save(run.model_path, best, {"which": "best validation before divergence"})
    summary = {
        "task": config.source,
        "model": config.model,
        "dim": config.dim,
        "dynamics": list(config.dynamics),
        "parameters": parameter_count(best),
        "observation": type(train_config.loss).__name__,
        "trials": {k: getattr(splits, k).num_samples for k in ("train", "val", "test") if getattr(splits, k)},
        **scores_of(best, splits, train_config.loss),
        "best_epoch": best_epoch,
        "diverged_at_epoch": diverged_at,
        "epochs": config.epochs,
        "train_seconds_this_process": costs["fit_seconds"] - costs["earlier_epoch_seconds"],
        "train_seconds": costs["fit_seconds"],  # with the epochs that processes killed before a resume ran
        "machine": f"{platform.machine()} {jax.default_backend()} x{jax.local_device_count()}",
    }
    run.write_summary(summary)
    return summary


def sweep_cells(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The run settings of every cell of a sweep, each checked as a :class:`RunConfig` before anything runs."""
    cells = expand_grid(base, grid)
    return [RunConfig.from_dict(cell).to_dict() for cell in cells]


MEMBER_SETTINGS = ("lr", "weight_decay", "seed", "model_seed")  # what may differ inside one vmapped group


def group_key(values: dict[str, Any]) -> str:
    """Runs whose settings differ only in ``MEMBER_SETTINGS`` train together as one vmapped ensemble."""
    return key_without(values, MEMBER_SETTINGS)


def train_group(cells: list[dict[str, Any]], workdir: str | Path | None = None) -> list[dict[str, Any]]:
    """Train runs that share a :func:`group_key` in one vmapped program; one result row per run. With ``workdir``
    the program checkpoints there every epoch and continues from its checkpoint (a sweep killed and run again).

    Each member keeps its own initialisation (``model_seed``), data order (``seed``), learning rate and decay;
    the rows give its best-validation scores and, under ``trained_model``, the model itself (the sweep saves it).
    A group whose every member diverged is a result too: each row has ``diverged`` true and the scores of the
    member's best model from before (its initialisation, ``best_epoch`` -1, where no epoch was finite).
    """
    configs = [RunConfig.from_dict(c) for c in cells]
    if len({group_key(c.to_dict()) for c in configs}) != 1:
        raise ConfigError("train_group: the runs differ in more than " + ", ".join(MEMBER_SETTINGS))
    splits = load_splits(configs[0])  # the same for every member: data settings are not member settings
    train_config = configs[0].train_config(splits.classification)
    # every cell of the group diverging is a result of the grid, recorded as such (keep_diverged)
    best, result = fit_ensemble(
        [warm_start(initial_model(c, splits), c) for c in configs],
        splits.train,
        splits.val,
        train_config,
        lrs=[c.lr for c in configs],
        weight_decays=[c.weight_decay for c in configs],
        seeds=[c.seed for c in configs],
        keep_diverged=True,
        progress=False,
        run_dir=None if workdir is None else RunDir.scratch(workdir),
        resume=workdir is not None,
    )
    best_epochs, diverged = result.summary["best_epoch"], result.summary["diverged"]
    seconds = result.summary["fit_seconds"]  # a resumed group's cost whole, not only this process's share
    rows = []
    for i, model in enumerate(best):
        rows.append(
            {
                **scores_of(model, splits, train_config.loss),
                "best_epoch": int(best_epochs[i]),
                "diverged": bool(diverged[i]),
                "parameters": parameter_count(model),
                "group_size": len(configs),
                "group_seconds": seconds,
                "trained_model": to_bytes(model, {"cell": cells[i]}),
            }
        )
    return rows


def load_run(path: str | Path) -> tuple[Model, RunConfig]:
    """The best-validation model of a finished run, and its config."""
    run = RunDir(path)
    config = RunConfig.from_dict(run.read_config())  # first: a folder that holds no run says so
    return load(run.model_path), config
