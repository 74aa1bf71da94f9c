"""A single model's minibatch split over CPU devices: the same losses and gradients as on one device, and a run
that resumes exactly.

The devices exist only if they are asked for before JAX starts, so the checks run in a child process with two CPU
devices and report JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import pytest

from gnode.train.step import batch_mesh

SCRIPT = r"""
from gnode.devices import use_cpu_cores
use_cpu_cores(2)
import json, tempfile
import jax, jax.numpy as jnp, jax.random as jr, numpy as np
from gnode.data import SequenceData
from gnode.losses import MSE, CrossEntropy, Poisson
from gnode.model import EncoderState, make_model
from gnode.solve import Euler
from gnode.train import RunDir, TrainConfig, fit
from gnode.train.objective import MapObjective, SequenceObjective
from gnode.train.step import batch_mesh, make_loss, split_model
import equinox as eqx

assert jax.device_count() == 2
rng = np.random.default_rng(0)
B, T = 64, 12
report = {}

def gradient_gap(model, objective, batch):
    params, frozen, static = split_model(model)
    grad = lambda mesh: jax.jit(jax.value_and_grad(make_loss(static, objective, mesh), has_aux=True))(
        params, frozen, batch)
    (one, metric_one), g_one = grad(None)
    (split, metric_split), g_split = grad(batch_mesh(B, params, min_work=0))
    gap = max(float(jnp.abs(a - b).max() / (jnp.abs(a).max() + 1e-30))
              for a, b in zip(jax.tree.leaves(g_one), jax.tree.leaves(g_split), strict=True))
    return {"loss": [float(one), float(split)], "metric": [float(metric_one), float(metric_split)], "grad": gap}

inputs = jnp.asarray(rng.normal(size=(B, T, 3)), jnp.float32)
times = jnp.asarray(0.01 * np.cumsum(rng.uniform(0.5, 1.5, (B, T)), 1), jnp.float32)
mask = jnp.asarray(rng.random((B, T, 2)) > 0.3, jnp.float32)
sequences = {"inputs": inputs, "targets": jnp.asarray(rng.normal(size=(B, T, 2)), jnp.float32), "mask": mask,
             "times": times}
gnode = make_model("gnode", 8, 3, 2, flow_widths=(16,), key=jr.key(0))
report["mse_masked_irregular"] = gradient_gap(gnode, SequenceObjective(MSE(), Euler()), sequences)
labels = {**sequences, "targets": jnp.asarray(rng.integers(0, 2, B)), "mask": mask[..., 0]}
report["cross_entropy"] = gradient_gap(gnode, SequenceObjective(CrossEntropy(), Euler()), labels)
counts = {**sequences, "targets": jnp.asarray(rng.poisson(1.0, (B, T, 2)), jnp.float32)}
encoder = eqx.tree_at(lambda m: m.initial_state, gnode, EncoderState(3, [0, 1], 8, width=8, key=jr.key(1)))
report["poisson_encoder"] = gradient_gap(encoder, SequenceObjective(Poisson(), Euler()), counts)
mlp = eqx.nn.MLP(3, 2, 16, 2, key=jr.key(2))
arrays = {"inputs": inputs[:, 0], "targets": jnp.asarray(rng.normal(size=(B, 2)), jnp.float32)}
report["map_objective"] = gradient_gap(mlp, MapObjective(MSE(), (3,), (2,)), arrays)

# a whole fit: one device against two, and a run killed after two epochs resumed on two
x = rng.normal(size=(96, T, 3)).astype(np.float32)
y = np.cumsum(x[..., :2], 1).astype(np.float32) * 0.1
train, val = SequenceData(x[:64], y[:64]), SequenceData(x[64:], y[64:])
config = TrainConfig(lr=3e-3, batch_size=64, epochs=4)
wide = make_model("gnode", 8, 3, 2, flow_widths=(256, 256), key=jr.key(3))
assert batch_mesh(64, split_model(wide)[0]) is not None  # the default rule splits this fit
losses = lambda r: [row["train_loss"] for row in r.history] + [row["val_loss"] for row in r.history]
one = fit(wide, train, val, config, progress=False, devices=())
split = fit(wide, train, val, config, progress=False)
folder = tempfile.mkdtemp()
import dataclasses
fit(wide, train, val, dataclasses.replace(config, epochs=2), progress=False, run_dir=RunDir.create(folder + "/r", {}))
resumed = fit(wide, train, val, config, progress=False, resume=True,
              run_dir=RunDir.create(folder + "/r", {}, resume=True))
report["fit"] = {"one": losses(one), "split": losses(split), "resumed": losses(resumed)}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["mse_masked_irregular", "cross_entropy", "poisson_encoder", "map_objective"])
def test_split_batch_gives_one_devices_loss_metric_and_gradient(report, case):
    gap = report[case]
    assert gap["loss"][0] == pytest.approx(gap["loss"][1], rel=1e-6)
    assert gap["metric"][0] == pytest.approx(gap["metric"][1], rel=1e-5, abs=1e-6)
    assert gap["grad"] < 1e-5  # float32 round-off: the devices' sums run in another order


def test_split_fit_follows_the_one_device_fit_and_resumes_exactly(report):
    fits = report["fit"]
    assert fits["split"] == pytest.approx(fits["one"], rel=1e-4)
    assert fits["resumed"] == fits["split"]  # the same devices: bit for bit


def test_batch_mesh_splits_only_work_enough_for_each_device():
    cpu = jax.devices()[0]
    params = {"w": jax.numpy.zeros((50, 1000)), "steps": jax.numpy.zeros((), int)}  # 50,000 trained parameters
    assert batch_mesh(64, params, [cpu]) is None  # one device
    two = [cpu, cpu]
    assert batch_mesh(64, params, two).shape == {"batch": 2}  # 32 x 50,000 per device
    assert batch_mesh(65, params, two) is None  # uneven shares
    assert batch_mesh(38, params, two) is None  # 19 x 50,000 < MIN_WORK_PER_DEVICE
    assert batch_mesh(8, params, two, min_work=0) is not None
