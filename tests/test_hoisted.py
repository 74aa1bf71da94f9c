"""Euler's hoisted gradients (the parameter gradients of all steps computed after the backward loop): the same
loss and gradients as autodiff through the scan, for every field, grid, substep count and for ensembles."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.losses import MSE
from gnode.model import make_model
from gnode.solve import HOISTED_MAX_WORK, Euler
from gnode.train.ensemble import stack
from gnode.train.objective import SequenceObjective
from gnode.train.step import make_loss, split_model

B, T = 6, 15


def _batch(times: bool, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "inputs": jnp.asarray(rng.normal(size=(B, T, 3)), jnp.float32),
        "targets": jnp.asarray(rng.normal(size=(B, T, 2)), jnp.float32),
        "mask": jnp.asarray(rng.random((B, T)) > 0.2, jnp.float32),
        "times": jnp.asarray(0.01 * np.cumsum(rng.uniform(0.5, 1.5, (B, T)), 1), jnp.float32) if times else None,
    }


def _loss_and_grad(model, batch, integrator):
    params, frozen, static = split_model(model)
    loss = make_loss(static, SequenceObjective(MSE(), integrator))
    return jax.jit(jax.value_and_grad(lambda p: loss(p, frozen, batch)[0]))(params)


def _gap(a, b) -> float:
    return max(
        float(jnp.abs(x - y).max() / (jnp.abs(x).max() + 1e-30))
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


@pytest.mark.parametrize("kind", ["gnode", "node", "mgru", "gru", "rnn", "lstm"])
@pytest.mark.parametrize("times", [False, True])
@pytest.mark.parametrize("substeps", [1, 3])
def test_hoisted_gradients_equal_autodiff_through_the_scan(kind, times, substeps):
    widths = {"flow_widths": (16, 16)} if kind in ("gnode", "node") else {}
    model = make_model(kind, 6, 3, 2, **widths, key=jr.key(0))
    batch = _batch(times)
    plain_loss, plain = _loss_and_grad(model, batch, Euler(substeps=substeps, hoisted_gradients=False))
    hoisted_loss, hoisted = _loss_and_grad(model, batch, Euler(substeps=substeps, hoisted_gradients=True))
    assert float(hoisted_loss) == float(plain_loss)  # the forward pass is the same scan
    assert _gap(plain, hoisted) < 2e-6


def test_hoisted_gradients_of_an_ensemble_equal_each_members_own():
    models = [make_model("gnode", 4, 3, 2, flow_widths=(8,), key=jr.key(s)) for s in range(3)]
    stacked = stack(models)
    params, frozen, static = split_model(stacked)
    batch = _batch(False)
    loss = make_loss(static, SequenceObjective(MSE(), Euler(hoisted_gradients=True)))
    grads = jax.jit(jax.vmap(jax.grad(lambda p, f: loss(p, f, batch)[0])))(params, frozen)
    for member, model in enumerate(models):
        _, own = _loss_and_grad(model, batch, Euler(hoisted_gradients=False))
        assert _gap(own, jax.tree_util.tree_map(lambda a, m=member: a[m], grads)) < 2e-6


def _dot_products(model, integrator) -> int:
    """Dot products in the lowered gradient program: the hoisted form has other ones than the plain scan."""
    params, frozen, static = split_model(model)
    loss = make_loss(static, SequenceObjective(MSE(), integrator))
    batch = _batch(False)
    return jax.jit(jax.grad(lambda p: loss(p, frozen, batch)[0])).lower(params).as_text().count("dot_general")


def _work(model) -> int:
    return B * sum(a.size for a in jax.tree_util.tree_leaves(eqx.filter(model.field, eqx.is_inexact_array)))


def test_the_default_hoists_small_batches_only():
    small = make_model("gnode", 5, 3, 2, flow_widths=(16, 16), key=jr.key(0))
    assert _work(small) < HOISTED_MAX_WORK
    hoisted, plain = (_dot_products(small, Euler(hoisted_gradients=h)) for h in (True, False))
    assert hoisted != plain
    assert _dot_products(small, Euler()) == hoisted
    large = make_model("gnode", 5, 3, 2, flow_widths=(800, 800), key=jr.key(0))
    assert _work(large) >= HOISTED_MAX_WORK
    assert _dot_products(large, Euler()) == _dot_products(large, Euler(hoisted_gradients=False))
