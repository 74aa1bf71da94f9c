"""Training: a pure, jitted epoch (``lax.scan`` over minibatches) and the driver around it.

The epoch function is written for one model; an ensemble is the same function under ``vmap``
(see :mod:`gnode.train.ensemble`). The driver adds the side effects: progress bar, run directory,
checkpoints, ``--resume``, and the stop on divergence.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, PyTree

from gnode.data import SequenceData
from gnode.errors import ConfigError, DataError, DivergenceError
from gnode.model import Model, trainable
from gnode.saving import save
from gnode.solve import AbstractIntegrator, Euler
from gnode.train.checkpoint import load_tree, save_tree
from gnode.train.objective import AbstractObjective, ArrayData, SequenceObjective, check_loss
from gnode.train.runs import RunDir

FAULT_ENV = "GNODE_FAULT_AFTER_EPOCH"  # test hook: SIGKILL the process right after this epoch's checkpoint


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (AdamW with decoupled weight decay, as ``torch.optim.AdamW``).

    Attributes:
        lr: learning rate; weight_decay: AdamW decay; batch_size: trials per step;
        epochs: full passes over the training set (the remainder of ``samples // batch_size``
        is dropped from each shuffled epoch); seed: data-order seed; loss: ``mse`` or
        ``cross_entropy`` (last observed step) of the default sequence objective; clip_norm: global
        gradient-norm clip (None: off);
        checkpoint_every: epochs between checkpoints; patience: stop once the validation loss has not
        improved for this many epochs (for an ensemble: for every member); None trains all ``epochs``.
    """

    lr: float = 1e-3
    weight_decay: float = 0.1
    batch_size: int = 100
    epochs: int = 200
    seed: int = 0
    loss: str = "mse"
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


class TrainState(eqx.Module):
    """Everything a checkpoint holds; all leaves are arrays (stacked along axis 0 for ensembles)."""

    params: PyTree
    frozen: PyTree  # arrays that are part of the model but not trained (a fixed h0)
    opt_state: PyTree
    best_params: PyTree
    best_val: Array
    best_epoch: Array
    epoch: Array  # epochs completed
    diverged: Array


def make_optimizer(clip_norm: float | None) -> optax.GradientTransformation:
    """AdamW whose lr and decay live in the optimiser state, so an ensemble can vary them."""
    adamw = optax.inject_hyperparams(optax.adamw)(learning_rate=1e-3, weight_decay=0.0)
    return adamw if clip_norm is None else optax.chain(optax.clip_by_global_norm(clip_norm), adamw)


def _hyperparams(opt_state):
    return opt_state.hyperparams if hasattr(opt_state, "hyperparams") else opt_state[-1].hyperparams


def init_state(params: PyTree, frozen: PyTree, optimizer: optax.GradientTransformation, lr, weight_decay) -> TrainState:
    opt_state = optimizer.init(params)
    hp = _hyperparams(opt_state)
    hp["learning_rate"] = jnp.asarray(lr, jnp.float32)
    hp["weight_decay"] = jnp.asarray(weight_decay, jnp.float32)
    return TrainState(
        params,
        frozen,
        opt_state,
        params,
        jnp.asarray(jnp.inf, jnp.float32),
        jnp.asarray(-1, jnp.int32),
        jnp.asarray(0, jnp.int32),
        jnp.asarray(False),
    )


def new_train_state(
    model: Model, config: TrainConfig, *, members: int | None = None, hyperparams: dict[str, Any] | None = None
) -> tuple[TrainState, PyTree]:
    """The state at epoch 0 and the static part of ``model`` (also the template a checkpoint loads into)."""
    params, rest = eqx.partition(model, trainable(model))
    frozen, static = eqx.partition(rest, eqx.is_array)
    optimizer = make_optimizer(config.clip_norm)
    if members is None:
        return init_state(params, frozen, optimizer, config.lr, config.weight_decay), static
    hp = hyperparams or {}
    lrs = jnp.broadcast_to(jnp.asarray(hp.get("lr", config.lr), jnp.float32), (members,))
    wds = jnp.broadcast_to(jnp.asarray(hp.get("weight_decay", config.weight_decay), jnp.float32), (members,))
    state = jax.vmap(lambda p, f, lr, wd: init_state(p, f, optimizer, lr, wd))(params, frozen, lrs, wds)
    return state, static


def shard_members(tree: PyTree, members: int) -> PyTree:
    """Split axis 0 (the ensemble members) over the available devices, when they divide it evenly.

    On CPU, several devices exist only after :func:`gnode.devices.use_cpu_cores`; then each core
    trains its share of the members. Results do not depend on the split.
    """
    devices = jax.devices()
    if len(devices) == 1 or members % len(devices):
        return tree
    sharding = jax.sharding.NamedSharding(
        jax.sharding.Mesh(np.array(devices), ("members",)), jax.sharding.PartitionSpec("members")
    )
    return jax.tree_util.tree_map(lambda a: jax.device_put(a, sharding) if eqx.is_array(a) else a, tree)


def make_loss(static: PyTree, objective: AbstractObjective) -> Callable:
    """``loss(params, frozen, batch) -> (scalar, metric)``."""

    def loss_fn(params, frozen, batch):
        return objective(eqx.combine(params, frozen, static), batch)

    return loss_fn


def make_steps(static: PyTree, optimizer: optax.GradientTransformation, objective: AbstractObjective) -> Callable:
    """``steps(params, frozen, opt_state, data, order) -> (params, opt_state, losses)``: one AdamW step per
    row of ``order`` (the sample indices of each minibatch), in one ``lax.scan``."""
    loss_fn = make_loss(static, objective)
    grad_fn = jax.value_and_grad(lambda p, f, b: loss_fn(p, f, b)[0])

    def steps(params, frozen, opt_state, data, order):
        def step(carry, index):
            params, opt_state = carry
            batch = jax.tree_util.tree_map(lambda a: a[index], data)
            value, grads = grad_fn(params, frozen, batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (eqx.apply_updates(params, updates), opt_state), value

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), order)
        return params, opt_state, losses

    return steps


def make_epoch(
    static: PyTree, optimizer: optax.GradientTransformation, config: TrainConfig, objective: AbstractObjective
) -> Callable:
    """``epoch(state, key, train, val) -> (state, metrics)`` for one model: pure and jittable.

    A step whose losses are not finite leaves the state as it was and sets ``diverged``.
    """
    loss_fn = make_loss(static, objective)
    steps = make_steps(static, optimizer, objective)

    def epoch(state: TrainState, key, train, val):
        samples = train["inputs"].shape[0]
        batches = samples // config.batch_size
        order = jr.permutation(key, samples)[: batches * config.batch_size].reshape(batches, config.batch_size)
        params, opt_state, losses = steps(state.params, state.frozen, state.opt_state, train, order)
        train_loss = jnp.mean(losses)
        val_loss, val_metric = loss_fn(params, state.frozen, val)
        ok = jnp.isfinite(train_loss) & jnp.isfinite(val_loss) & ~state.diverged
        keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
        params, opt_state = keep((params, opt_state), (state.params, state.opt_state))
        improved = ok & (val_loss < state.best_val)
        new_state = TrainState(
            params=params,
            frozen=state.frozen,
            opt_state=opt_state,
            best_params=jax.tree_util.tree_map(lambda a, b: jnp.where(improved, a, b), params, state.best_params),
            best_val=jnp.where(improved, val_loss, state.best_val),
            best_epoch=jnp.where(improved, state.epoch + 1, state.best_epoch),
            epoch=state.epoch + 1,
            diverged=~ok,
        )
        return new_state, {"train_loss": train_loss, "val_loss": val_loss, "val_metric": val_metric}

    return epoch


def stalled(state: TrainState, epoch: int, patience: int | None) -> bool:
    """Early stopping: every member's best validation loss is at least ``patience`` epochs old."""
    if patience is None:
        return False
    return epoch - int(np.max(np.asarray(state.best_epoch))) >= patience


def epoch_key(seed, epoch):
    """The data-order key of an epoch: a pure function of (seed, epoch), so resuming is exact."""
    return jr.fold_in(jr.fold_in(jr.key(seed), 0x5EED), epoch)


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
    return isinstance(data, (SequenceData, ArrayData))


def fit(
    model: PyTree,
    train: SequenceData | ArrayData | Sequence[SequenceData | ArrayData],
    val: SequenceData | ArrayData | Sequence[SequenceData | ArrayData],
    config: TrainConfig,
    *,
    integrator: AbstractIntegrator = Euler(),
    objective: AbstractObjective | None = None,
    run_dir: RunDir | None = None,
    resume: bool = False,
    progress: bool = True,
    members: int | None = None,
    hyperparams: dict[str, Any] | None = None,
    seeds: Any = None,
) -> FitResult:
    """Train ``model`` with AdamW; keep the best-validation parameters.

    Arguments:
        model: the model, or (with ``members``) a stack of models along axis 0 of every array.
        train, val: data sets; val is evaluated whole after every epoch. With ``members``, either one data
            set shared by every member or a sequence of equal-shape data sets, one per member.
        config: optimisation settings.
        integrator: the solver used in training (by the default objective).
        objective: what is minimised; default ``SequenceObjective(config.loss, integrator)`` (a
            :class:`gnode.model.Model` on :class:`SequenceData`).
        run_dir: where to write metrics, checkpoints and the summary (None: in memory only).
        resume: continue from ``run_dir``'s checkpoint.
        progress: show a progress bar.
        members: ensemble size, or None for a single model.
        hyperparams: per-member ``lr`` and ``weight_decay`` arrays (ensembles; default from config).
        seeds: per-member data-order seeds (ensembles; default ``config.seed + arange(members)``).
    Returns:
        A :class:`FitResult`.
    Raises:
        DivergenceError: a single model's loss became non-finite (the run dir keeps the last good checkpoint).
    """
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
    optimizer = make_optimizer(config.clip_norm)
    state, static = new_train_state(model, config, members=members, hyperparams=hyperparams)
    epoch_fn = make_epoch(static, optimizer, config, objective)
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
    if resume:
        if run_dir is None:
            raise ConfigError("resume needs a run directory")
        state, _ = load_tree(run_dir.checkpoint_path, state)
        history = run_dir.truncate_metrics(int(np.max(np.asarray(state.epoch))))
    if members is not None:
        state, seed_arr = shard_members((state, seed_arr), members)
    steps_per_epoch = num_samples // config.batch_size
    fault_epoch = int(os.environ.get(FAULT_ENV, "0"))
    start = int(np.max(np.asarray(state.epoch)))

    with _ProgressBar(progress, config.epochs, start) as bar:
        stopped_early = start > 0 and stalled(state, start, config.patience)  # a resumed run that had stopped
        for epoch in range(start + 1, start if stopped_early else config.epochs + 1):
            tick = time.perf_counter()
            new_state, metrics = run_epoch(state, seed_arr, train_arrays, val_arrays)
            metrics = _to_host(metrics)
            elapsed = time.perf_counter() - tick
            diverged = np.asarray(new_state.diverged)
            if members is None and bool(diverged):
                raise DivergenceError(
                    f"non-finite loss at epoch {epoch}; the last good state is epoch {epoch - 1}"
                    + (f" in {run_dir.checkpoint_path}" if run_dir else "")
                )
            state = new_state
            row = {"epoch": epoch, **metrics, "seconds": elapsed, "steps_per_second": steps_per_epoch / elapsed}
            history.append(row)
            stop = stalled(state, epoch, config.patience)
            if run_dir is not None:
                run_dir.append_metrics(row)
                if epoch % config.checkpoint_every == 0 or epoch == config.epochs or stop:
                    save_tree(run_dir.checkpoint_path, state, {"epoch": epoch})
                    if epoch == fault_epoch:
                        os.kill(os.getpid(), signal.SIGKILL)
            bar(row)
            if stop:
                break

    best = eqx.combine(state.best_params, state.frozen, static)
    final = eqx.combine(state.params, state.frozen, static)
    summary = {
        "epochs": config.epochs,
        "epochs_run": history[-1]["epoch"] if history else start,
        "best_epoch": _to_host(state.best_epoch),
        "best_val_loss": _to_host(state.best_val),
        "final_train_loss": history[-1]["train_loss"] if history else None,
        "final_val_loss": history[-1]["val_loss"] if history else None,
        "diverged": _to_host(state.diverged),
        "val_metric_name": objective.metric_name,
    }
    if run_dir is not None:
        save(run_dir.model_path, best, {"which": "best validation"})
    return FitResult(best, final, history, summary)


class _ProgressBar:
    """A rich progress bar (epochs, loss, val loss, it/s); a no-op when disabled."""

    def __init__(self, enabled: bool, total: int, start: int):
        self.enabled, self.total, self.start = enabled, total, start

    def __enter__(self):
        if not self.enabled:
            return lambda row: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.progress.start()
        task = self.progress.add_task("train", total=self.total, completed=self.start, info="")

        def update(row):
            loss = np.mean(row["train_loss"])
            val = np.mean(row["val_loss"])
            info = f"loss {loss:.4g}  val {val:.4g}  {row['steps_per_second']:.0f} it/s"
            self.progress.update(task, advance=1, info=info)

        return update

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.stop()
        return False
