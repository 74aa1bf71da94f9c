"""Ensembles: S models of equal shape (different seeds or hyper-parameters) trained in one vmapped program."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from gnode.data import AbstractData
from gnode.errors import ConfigError, DivergenceError
from gnode.train.driver import FitResult, TrainConfig, fit


def stack(models: Sequence[PyTree]) -> PyTree:
    """Stack models of equal shape along a new axis 0 of every array."""
    if not models:
        raise ConfigError("an ensemble needs at least one model")
    shapes = [jax.tree_util.tree_map(lambda a: a.shape if eqx.is_array(a) else a, m) for m in models]
    try:
        jax.tree_util.tree_map(lambda *_: None, *shapes)
    except ValueError:
        raise ConfigError("ensemble members must have the same structure") from None
    if any(s != shapes[0] for s in shapes):
        raise ConfigError("ensemble members must have equal shapes (group models of different sizes)")
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a) if eqx.is_array(a[0]) else a[0], *models)


def member(stacked: PyTree, index: int) -> PyTree:
    """Member ``index`` of a stacked ensemble."""
    return jax.tree_util.tree_map(lambda a: a[index] if eqx.is_array(a) else a, stacked)


def fit_ensemble(
    models: Sequence[PyTree],
    train: AbstractData | Sequence[AbstractData],
    val: AbstractData | Sequence[AbstractData],
    config: TrainConfig,
    *,
    lrs: Sequence[float] | None = None,
    weight_decays: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
    keep_diverged: bool = False,
    **kwargs: Any,
) -> tuple[list[PyTree], FitResult]:
    """Train ``models`` together; per-member learning rates, decays and data-order seeds.

    Arguments:
        keep_diverged: when every member diverges, return each one's best model from before and a summary whose
            ``diverged`` is all true, instead of raising: in a grid of settings, a setting that diverges is one of
            the grid's results. The run dir's checkpoint stays at the last good epoch.
        the rest: as :func:`gnode.train.driver.fit` (``members``, ``hyperparams`` and ``seeds`` set here).
    Returns: the best-validation model of each member, and the stacked :class:`FitResult`.
    Raises:
        DivergenceError: every member diverged (and not ``keep_diverged``); its ``state`` is ``(best, info)``,
            ``best`` a list of the members' best-validation models from before (see :func:`gnode.train.driver.fit`).
    """
    size = len(models)
    for name, values in (("lrs", lrs), ("weight_decays", weight_decays), ("seeds", seeds)):
        if values is not None and len(values) != size:
            raise ConfigError(f"{name} has {len(values)} entries for {size} models")
    hyperparams = {}
    if lrs is not None:
        hyperparams["lr"] = np.asarray(lrs, np.float32)
    if weight_decays is not None:
        hyperparams["weight_decay"] = np.asarray(weight_decays, np.float32)
    try:
        result = fit(
            stack(models),
            train,
            val,
            config,
            members=size,
            hyperparams=hyperparams,
            seeds=None if seeds is None else np.asarray(seeds),
            **kwargs,
        )
    except DivergenceError as error:  # every member diverged: hand back each one's best from before
        if not isinstance(error.state, tuple):
            raise
        best, info = error.state
        if not keep_diverged:
            error.state = ([member(best, i) for i in range(size)], info)
            raise
        summary = {k: v for k, v in info.items() if k != "history"}
        result = FitResult(model=best, final_model=best, history=info["history"], summary=summary)
    return [member(result.model, i) for i in range(size)], result
