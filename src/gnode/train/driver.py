"""The training driver: ``fit`` runs the pure epoch of :mod:`gnode.train.step` (jitted, vmapped for ensembles)
and hands every side effect — files, progress, your own — to callbacks (:mod:`gnode.train.callbacks`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jaxtyping import PyTree

from gnode.data import AbstractData
from gnode.errors import ConfigError, DataError, DivergenceError
from gnode.losses import MSE, AbstractLoss, check_loss
from gnode.solve import AbstractIntegrator, Euler
from gnode.train.callbacks import Callback, EarlyStopping, ProgressBar, RunFiles, StopOnDivergence
from gnode.train.checkpoint import load_tree
from gnode.train.objective import AbstractObjective, SequenceObjective
from gnode.train.optim import adamw
from gnode.train.runs import RunDir
from gnode.train.step import (
    TrainState,
    batch_mesh,
    epoch_key,
    init_state,
    make_epoch,
    shard_members,
    split_model,
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (by default AdamW with decoupled weight decay, as ``torch.optim.AdamW``).

    Attributes:
        lr: learning rate; weight_decay: AdamW decay; batch_size: trials per step;
            epochs: full passes over the training set (the remainder of ``samples // batch_size`` is dropped from
            each shuffled epoch); seed: data-order seed; loss: the default sequence objective's, an
            :class:`gnode.losses.MSE` or a :class:`gnode.losses.CrossEntropy` (last observed step); clip_norm:
            global gradient-norm clip (None: off); checkpoint_every: epochs between checkpoints; patience: stop
            once the validation loss has not improved for this many epochs (for an ensemble: for every member);
            None trains all ``epochs``.
    """

    lr: float = 1e-3
    weight_decay: float = 0.1
    batch_size: int = 100
    epochs: int = 200
    seed: int = 0
    loss: AbstractLoss = MSE()
    clip_norm: float | None = None
    checkpoint_every: int = 1
    patience: int | None = None

    def __post_init__(self):
        if not (self.lr > 0 and self.weight_decay >= 0):
            raise ConfigError(f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")
        if self.batch_size <= 0 or self.epochs <= 0 or self.checkpoint_every <= 0:
            raise ConfigError("batch_size, epochs and checkpoint_every must be positive")
        check_loss(self.loss)
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ConfigError(f"clip_norm must be positive, got {self.clip_norm}")
        if self.patience is not None and self.patience <= 0:
            raise ConfigError(f"patience must be positive, got {self.patience}")


def default_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """The optimiser :func:`fit` uses when given none: :func:`gnode.train.optim.adamw` with ``config``'s rate,
    decay and clip, its rate and decay injectable (an ensemble varies them per member)."""
    return adamw(config.lr, config.weight_decay, config.clip_norm, injectable=True)


def new_train_state(
    model: PyTree,
    config: TrainConfig,
    *,
    members: int | None = None,
    hyperparams: dict[str, Any] | None = None,
    optimizer: optax.GradientTransformation | None = None,
) -> tuple[TrainState, PyTree]:
    """The state at epoch 0 and the static part of ``model`` (also the template a checkpoint loads into).

    The default optimiser gets ``config``'s rate and decay (or each member's, from ``hyperparams``); a given one
    keeps its own unless ``hyperparams`` are passed, which it must then hold as injected hyperparameters.
    """
    params, frozen, static = split_model(model)
    given = optimizer is not None
    optimizer = default_optimizer(config) if optimizer is None else optimizer
    if members is None:
        return init_state(params, frozen, optimizer, None if given else (config.lr, config.weight_decay)), static
    hp = hyperparams or {}
    if given and not hp:
        return jax.vmap(lambda p, f: init_state(p, f, optimizer))(params, frozen), static
    lrs = jnp.broadcast_to(jnp.asarray(hp.get("lr", config.lr), jnp.float32), (members,))
    wds = jnp.broadcast_to(jnp.asarray(hp.get("weight_decay", config.weight_decay), jnp.float32), (members,))
    state = jax.vmap(lambda p, f, lr, wd: init_state(p, f, optimizer, (lr, wd)))(params, frozen, lrs, wds)
    return state, static


@dataclasses.dataclass
class FitResult:
    """``model``: best-validation parameters; ``final_model``: the last ones; ``history``: per-epoch rows."""

    model: PyTree
    final_model: PyTree
    history: list[dict[str, Any]]
    summary: dict[str, Any]


def _to_host(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a).tolist(), tree)


def _member_data(data: Sequence, one: PyTree, objective: AbstractObjective, name: str, members: int | None):
    """Check per-member data sets (equal shapes, one per member); return their arrays stacked on axis 0."""
    if members is None or len(data) != members:
        raise ConfigError(f"{name}: {len(data)} per-member data sets for an ensemble of {members} members")
    arrays = [objective.arrays(one, d, f"{name} (member {i})") for i, d in enumerate(data)]
    layouts = {str(jax.tree_util.tree_map(lambda a: a.shape, a)) for a in arrays}
    if len(layouts) > 1:
        raise DataError(f"{name}: per-member data sets must have equal shapes, got {sorted(layouts)}")
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *arrays)


def _is_data_set(data) -> bool:
    return isinstance(data, AbstractData)


def fit(
    model: PyTree,
    train: AbstractData | Sequence[AbstractData],
    val: AbstractData | Sequence[AbstractData],
    config: TrainConfig,
    *,
    integrator: AbstractIntegrator = Euler(),
    objective: AbstractObjective | None = None,
    optimizer: optax.GradientTransformation | None = None,
    callbacks: Sequence[Callback] = (),
    run_dir: RunDir | None = None,
    resume: bool = False,
    progress: bool = True,
    members: int | None = None,
    hyperparams: dict[str, Any] | None = None,
    seeds: Any = None,
    devices: Sequence[jax.Device] | Mesh | None = None,
) -> FitResult:
    """Train ``model``; keep the best-validation parameters.

    Arguments:
        model: the model, or (with ``members``) a stack of models along axis 0 of every array.
        train, val: data sets; val is evaluated whole after every epoch. With ``members``, either one data
            set shared by every member or a sequence of equal-shape data sets, one per member.
        config: optimisation settings.
        integrator: the solver used in training (by the default objective).
        objective: what is minimised; default ``SequenceObjective(config.loss, integrator)`` (a
            :class:`gnode.model.Model` on :class:`SequenceData`).
        optimizer: any ``optax.GradientTransformation``; default :func:`default_optimizer` (AdamW with
            ``config``'s rate, decay and clip). ``config.lr`` and ``weight_decay`` do not reach a given one.
        callbacks: side effects after every epoch and at the end (:mod:`gnode.train.callbacks`).
        run_dir: write metrics, checkpoints and the best model there (adds a :class:`RunFiles` callback).
        resume: continue from ``run_dir``'s checkpoint, exactly where it stopped (from epoch 0 if it has none).
        progress: show a progress bar (adds a :class:`ProgressBar` callback).
        members: ensemble size, or None for a single model.
        hyperparams: per-member ``lr`` and ``weight_decay`` arrays (ensembles; default from config).
        seeds: per-member data-order seeds (ensembles; default ``config.seed + arange(members)``).
        devices: a single model's minibatches are split over these (default: all of JAX's; ``()``: never), when
            :func:`gnode.train.step.batch_mesh` finds enough work for each; a one-axis ``Mesh``: every minibatch
            its devices divide is split over it. The losses and gradients are those of one device to float32
            round-off, so a run is exactly repeatable on the same number of devices. An ensemble splits its
            members over the devices instead.
    Returns:
        A :class:`FitResult`.
    Raises:
        DivergenceError: a single model's loss, or every member's of an ensemble, became non-finite (the run dir
            keeps the last good checkpoint); its ``state`` is ``(best, info)``: the best-validation model from
            before (the initial one, best epoch -1, where no epoch was finite) and, in ``info``, the summary a
            finished fit returns (``diverged`` all true, ``epochs_run`` the epoch that diverged) and the
            ``history`` of the epochs before it.

    The result's summary counts, as ``earlier_epoch_seconds``, the time of the epochs that processes killed before
    a resume ran (from ``run_dir``'s metrics), and, as ``fit_seconds``, the fit's whole cost: this call's wall time
    (compilation included) plus those earlier epochs.

    The built-in side effects are callbacks added in this order: :class:`StopOnDivergence`,
    :class:`EarlyStopping` (``config.patience``), :class:`RunFiles` (``run_dir``), :class:`ProgressBar`
    (``progress``); then ``callbacks``.
    """
    started = time.perf_counter()
    one = model if members is None else jax.tree_util.tree_map(lambda a: a[0] if eqx.is_array(a) else a, model)
    objective = SequenceObjective(config.loss, integrator) if objective is None else objective
    per_member = not _is_data_set(train)
    if per_member != (not _is_data_set(val)):
        raise ConfigError("train and val must both be shared data sets or both per-member sequences")
    if per_member:
        train_arrays = _member_data(train, one, objective, "train", members)
        val_arrays = _member_data(val, one, objective, "validation", members)
        num_samples = train_arrays["inputs"].shape[1]
    else:
        train_arrays = objective.arrays(one, train, "train")
        val_arrays = objective.arrays(one, val, "validation")
        num_samples = train_arrays["inputs"].shape[0]
    if num_samples < config.batch_size:
        raise ConfigError(f"batch size {config.batch_size} exceeds the {num_samples} training samples")
    if resume and run_dir is None:
        raise ConfigError("resume needs a run directory")
    state, static = new_train_state(model, config, members=members, hyperparams=hyperparams, optimizer=optimizer)
    mesh = None  # an ensemble splits its members instead
    if members is None and isinstance(devices, Mesh):
        mesh = devices
    elif members is None and devices != ():
        mesh = batch_mesh(config.batch_size, state.params, devices)
    epoch_fn = make_epoch(static, optimizer or default_optimizer(config), config.batch_size, objective, mesh)
    if members is None:
        seed_arr = jnp.asarray(config.seed)
        run_epoch = jax.jit(lambda s, seed, tr, va: epoch_fn(s, epoch_key(seed, s.epoch), tr, va))
    else:
        seed_arr = jnp.asarray(config.seed + np.arange(members) if seeds is None else seeds)
        run_epoch = jax.jit(
            jax.vmap(
                lambda s, seed, tr, va: epoch_fn(s, epoch_key(seed, s.epoch), tr, va),
                in_axes=(0, 0, 0 if per_member else None, 0 if per_member else None),
            )
        )
    history: list[dict[str, Any]] = []
    if resume and run_dir.started:
        state, _ = load_tree(run_dir.checkpoint_path, state)
        history = run_dir.truncate_metrics(int(np.max(np.asarray(state.epoch))))
    elif resume:  # killed before its first checkpoint: start again from epoch 0
        run_dir.truncate_metrics(0)
    if members is not None:
        state, seed_arr = shard_members((state, seed_arr), members)
    steps_per_epoch = num_samples // config.batch_size
    start = int(np.max(np.asarray(state.epoch)))
    # the epochs that killed processes ran before this one (0.0, a float, where there were none)
    earlier_seconds = sum((row.get("seconds", 0.0) for row in history), 0.0)

    def summarize(state: TrainState, epochs_run: int) -> dict[str, Any]:
        return {
            "epochs": config.epochs,
            "epochs_run": epochs_run,
            "best_epoch": _to_host(state.best_epoch),
            "best_val_loss": _to_host(state.best_val),
            "final_train_loss": history[-1]["train_loss"] if history else None,
            "final_val_loss": history[-1]["val_loss"] if history else None,
            "diverged": _to_host(state.diverged),
            "val_metric_name": objective.metric_name,
            # a resumed fit's cost whole: this call's and the epochs that killed processes ran before it
            "earlier_epoch_seconds": earlier_seconds,
            "fit_seconds": time.perf_counter() - started + earlier_seconds,
        }

    callbacks = [
        StopOnDivergence(str(run_dir.checkpoint_path) if run_dir else ""),
        *([EarlyStopping(config.patience)] if config.patience is not None else []),
        *([RunFiles(run_dir, config.checkpoint_every)] if run_dir is not None else []),
        *([ProgressBar()] if progress else []),
        *callbacks,
    ]
    try:
        for callback in callbacks:
            callback.on_start(start, config.epochs)
        # a resumed run that had already stopped early runs no epoch
        stopped_early = start > 0 and any(callback.should_stop(start, state) for callback in callbacks)
        for epoch in range(start + 1, start if stopped_early else config.epochs + 1):
            tick = time.perf_counter()
            new_state, metrics = run_epoch(state, seed_arr, train_arrays, val_arrays)
            metrics = _to_host(metrics)
            elapsed = time.perf_counter() - tick
            try:
                for callback in callbacks:
                    callback.check(epoch, new_state)
            except DivergenceError as error:  # a diverged member is frozen at its last good state: keep its best
                best = eqx.combine(new_state.best_params, new_state.frozen, static)
                error.state = (best, {**summarize(new_state, epoch), "history": history})
                raise
            state = new_state
            row = {"epoch": epoch, **metrics, "seconds": elapsed, "steps_per_second": steps_per_epoch / elapsed}
            history.append(row)
            stop = any([callback.should_stop(epoch, state) for callback in callbacks])  # every callback asked
            for callback in callbacks:
                callback.on_epoch(epoch, row, state, last=stop or epoch == config.epochs)
            if stop:
                break
        best = eqx.combine(state.best_params, state.frozen, static)
        final = eqx.combine(state.params, state.frozen, static)
        summary = summarize(state, history[-1]["epoch"] if history else start)
        for callback in callbacks:
            callback.on_end(best, final, summary)
    finally:
        for callback in callbacks:
            callback.close()
    return FitResult(best, final, history, summary)
