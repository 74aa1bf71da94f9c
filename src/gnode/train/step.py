"""The pure core of training: a gradient step, a scan of steps, and the epoch (state in, state out).

Everything here is a pure function of arrays, written for one model; an ensemble is the same function under
``vmap`` (:func:`gnode.train.driver.fit` with ``members``), and a large minibatch may be split over devices
(:func:`batch_mesh`). The side effects — files, progress, early stopping, divergence — belong to the driver and
its callbacks (:mod:`gnode.train.callbacks`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.sharding import Mesh, PartitionSpec
from jax.typing import ArrayLike
from jaxtyping import Array, Int, PRNGKeyArray, PyTree

from gnode.model import parameter_count, trainable
from gnode.train.objective import AbstractObjective
from gnode.train.optim import set_hyperparams


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


def gradient_step(
    loss: Callable[..., Array], optimizer: optax.GradientTransformation, params: PyTree, opt_state: PyTree, *args
) -> tuple[PyTree, PyTree, Array]:
    """One optimiser step on ``loss(params, *args)`` (a scalar). Returns: new params, new state, the loss."""
    value, grads = jax.value_and_grad(loss)(params, *args)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return eqx.apply_updates(params, updates), opt_state, value


def scan_steps(
    loss: Callable[..., Array],
    optimizer: optax.GradientTransformation,
    params: PyTree,
    opt_state: PyTree,
    xs: Any,
    length: int | None = None,
) -> tuple[PyTree, PyTree, Array]:
    """One :func:`gradient_step` on ``loss(params, x)`` per leading entry ``x`` of ``xs`` (or ``length`` steps with
    ``x = None``), in one ``lax.scan``. Returns: the final params and state, and the loss of every step."""

    def step(carry, x):
        params, opt_state, value = gradient_step(loss, optimizer, *carry, x)
        return (params, opt_state), value

    (params, opt_state), values = jax.lax.scan(step, (params, opt_state), xs, length=length)
    return params, opt_state, values


def init_state(
    params: PyTree,
    frozen: PyTree,
    optimizer: optax.GradientTransformation,
    hyperparams: tuple[ArrayLike, ArrayLike] | None = None,
) -> TrainState:
    """The state at epoch 0; ``hyperparams``: ``(lr, weight_decay)`` written into an injectable optimiser."""
    opt_state = optimizer.init(params)
    if hyperparams is not None:
        opt_state = set_hyperparams(opt_state, *hyperparams)
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


def split_model(model: PyTree) -> tuple[PyTree, PyTree, PyTree]:
    """``(trained arrays, frozen arrays, static rest)`` of a model."""
    params, rest = eqx.partition(model, trainable(model))
    frozen, static = eqx.partition(rest, eqx.is_array)
    return params, frozen, static


MIN_WORK_PER_DEVICE = 1_000_000  # samples x trained parameters: below, one device is faster (data_parallel.py)


def batch_mesh(
    batch_size: int,
    params: PyTree,
    devices: Sequence[jax.Device] | None = None,
    min_work: int = MIN_WORK_PER_DEVICE,
) -> Mesh | None:
    """The mesh a minibatch of ``batch_size`` samples of a model with trained arrays ``params`` is split over:
    ``devices`` (default all of JAX's) along one axis ``"batch"``, when there are several, they divide
    ``batch_size`` evenly and each device's share of the work, its samples times the trained parameters (about
    the multiply-adds of one time step), is at least ``min_work``; otherwise None (one device).

    On CPU, several devices exist only after :func:`gnode.devices.use_cpu_cores` (``gnode train`` calls it).
    ``benchmarks/data_parallel.py`` measures the split against one device.
    """
    devices = list(jax.devices() if devices is None else devices)
    if len(devices) < 2 or batch_size % len(devices):
        return None
    if batch_size // len(devices) * parameter_count(params) < min_work:
        return None
    return Mesh(np.array(devices), ("batch",))


def make_loss(static: PyTree, objective: AbstractObjective, mesh: Mesh | None = None) -> Callable:
    """``loss(params, frozen, batch) -> (scalar, metric)``.

    With a one-axis ``mesh`` (:func:`batch_mesh`), a batch whose size its devices divide is data-parallel: each
    device computes :meth:`~gnode.train.objective.AbstractObjective.predict` (the integration: nearly all the work)
    on its share of the samples, and the loss is scored on all of them together. The loss is the same function of
    the parameters as on one device, so it and its gradient agree to float32 round-off (the sums run in another
    order); JAX's autodiff of ``shard_map`` adds the devices' parameter gradients.
    """

    if mesh is not None:
        split, shared = PartitionSpec(mesh.axis_names[0]), PartitionSpec()
        share = objective.for_split_batch()

        def predict(params, frozen, batch):
            return share.predict(eqx.combine(params, frozen, static), batch)

        # Unchecked, the body is plain per-device code (any model's scans, whatever their initial carries) and the
        # transpose sums the replicated inputs' cotangents over the devices once, after the body.
        sharded = jax.shard_map(predict, mesh=mesh, in_specs=(shared, shared, split), out_specs=split, check_vma=False)

    def loss_fn(params, frozen, batch):
        if mesh is None or batch["inputs"].shape[0] % mesh.size:
            return objective(eqx.combine(params, frozen, static), batch)
        return share.score(sharded(params, frozen, batch), batch)

    return loss_fn


def make_steps(
    static: PyTree, optimizer: optax.GradientTransformation, objective: AbstractObjective, mesh: Mesh | None = None
) -> Callable:
    """``steps(params, frozen, opt_state, data, order) -> (params, opt_state, losses)``: one step per row of
    ``order`` (the sample indices of each minibatch), in one ``lax.scan``; ``mesh``: as in :func:`make_loss`."""
    loss_fn = make_loss(static, objective, mesh)

    def steps(params, frozen, opt_state, data, order):
        def batch_loss(p, index):
            return loss_fn(p, frozen, jax.tree_util.tree_map(lambda a: a[index], data))[0]

        return scan_steps(batch_loss, optimizer, params, opt_state, order)

    return steps


def make_epoch(
    static: PyTree,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    objective: AbstractObjective,
    mesh: Mesh | None = None,
) -> Callable:
    """``epoch(state, key, train, val) -> (state, metrics)`` for one model: pure and jittable.

    The epoch shuffles the training samples with ``key``, drops the remainder of ``samples // batch_size``, takes
    one step per minibatch and scores the whole validation set. A step whose losses are not finite leaves the
    state as it was and sets ``diverged``; a diverged member's losses are NaN from then on. ``mesh``: split each
    minibatch (and the validation set, when its size divides) over devices, as in :func:`make_loss`; not for
    ensembles, whose members are split instead (:func:`shard_members`).
    """
    loss_fn = make_loss(static, objective, mesh)
    steps = make_steps(static, optimizer, objective, mesh)

    def epoch(state: TrainState, key, train, val):
        samples = train["inputs"].shape[0]
        batches = samples // batch_size
        order = jr.permutation(key, samples)[: batches * batch_size].reshape(batches, batch_size)
        # A diverged member stays frozen; its share of the epoch steps zeroed parameters instead, whose flow is
        # trivial, so a member that diverged by growing stiff does not set the pace of every later epoch.
        stepped = jax.tree_util.tree_map(lambda a: jnp.where(state.diverged, jnp.zeros_like(a), a), state.params)
        params, opt_state, losses = steps(stepped, state.frozen, state.opt_state, train, order)
        train_loss = jnp.mean(losses)
        val_loss, val_metric = loss_fn(params, state.frozen, val)
        ok = jnp.isfinite(train_loss) & jnp.isfinite(val_loss) & ~state.diverged
        train_loss, val_loss, val_metric = jax.tree_util.tree_map(
            lambda a: jnp.where(state.diverged, jnp.nan, a), (train_loss, val_loss, val_metric)
        )
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


def epoch_key(seed: int | Int[ArrayLike, ""], epoch: int | Int[ArrayLike, ""]) -> PRNGKeyArray:
    """The data-order key of an epoch: a pure function of (seed, epoch), so resuming is exact."""
    return jr.fold_in(jr.fold_in(jr.key(seed), 0x5EED), epoch)


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
