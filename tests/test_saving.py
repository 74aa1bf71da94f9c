"""gnode.save / gnode.load: every model kind comes back identical, with no skeleton; bad files get one line."""

import zipfile

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import gnode
from gnode.connector.flows import VelocityField
from gnode.connector.lint import RateModel
from gnode.connector.lowrank import LowRankRNN
from gnode.connector.model import Connector
from gnode.errors import CheckpointError, ConfigError
from gnode.gdm.arhmm import ARHMM
from gnode.gdm.fit import elbo
from gnode.gdm.model import GDM, GaussianEmission
from gnode.gdm.posterior import GRUPosterior, LinearPosterior
from gnode.gdm.slds import SLDS, TRANSITIONS, infer
from gnode.model import make_model
from gnode.ncode.flow import FlowSolver
from gnode.reproduce.ncode.builders import MODELS, Sizes, build, build_autoencoder
from gnode.solve import Adaptive, Euler
from gnode.train.ensemble import stack


def round_trip(tmp_path, tree, meta=None):
    path = gnode.save(tmp_path / "model.npz", tree, meta)
    loaded = gnode.load(path)
    assert type(loaded) is type(tree)
    assert bool(eqx.tree_equal(loaded, tree))  # same classes, static fields and arrays, exactly
    assert not list(tmp_path.glob(".*tmp*"))
    return loaded


XS = jr.normal(jr.key(9), (7, 2))


@pytest.mark.parametrize(
    ("name", "initial_state"),
    [
        ("gnode", "learned"),
        ("node", "fixed"),
        ("gru", "zero"),
        ("mgru", "learned"),
        ("rnn", "fixed"),
        ("lstm", "zero"),
        ("gnode", "encoder"),
    ],
)
def test_sequence_models(tmp_path, name, initial_state):
    widths = {"flow_widths": (8, 4), "gate_widths": (5,)} if name == "gnode" else {}
    encoder = {"encoder_channels": (0, 2), "encoder_width": 6} if initial_state == "encoder" else {}
    model = make_model(
        name, 4, 2, 3, initial_state=initial_state, activation="tanh", key=jr.key(0), **widths, **encoder
    )
    loaded = round_trip(tmp_path, model, {"task": "ring"})
    ys = jr.normal(jr.key(3), (7, 3))
    for integrator in (Euler(substeps=2), Adaptive(rtol=1e-4, atol=1e-4))[: 2 if name == "gnode" else 1]:
        np.testing.assert_array_equal(
            loaded(XS, integrator=integrator, observed=ys)[0], model(XS, integrator=integrator, observed=ys)[0]
        )
    assert gnode.load_meta(tmp_path / "model.npz") == {"task": "ring", "gnode_version": gnode.__version__}


def test_ensemble_of_models(tmp_path):
    models = stack([make_model("gnode", 3, 2, 2, flow_widths=(6,), key=jr.key(s)) for s in range(3)])
    loaded = round_trip(tmp_path, models)
    run = eqx.filter_vmap(lambda m: m(XS)[0])
    np.testing.assert_array_equal(run(loaded), run(models))


@pytest.mark.parametrize("name", MODELS)
def test_ncode_models(tmp_path, name):
    solver = FlowSolver(steps=4)
    model = build(
        name, 2, 1, Sizes(node_width=6, field_width=4, control_width=5, dynamics_width=3), solver, key=jr.key(1)
    )
    loaded = round_trip(tmp_path, model)
    x = jnp.array([0.3, -0.2])
    np.testing.assert_array_equal(loaded(x), model(x))


@pytest.mark.parametrize("decoder", ["ncode", "node"])
def test_ncode_autoencoders(tmp_path, decoder):
    model = build_autoencoder(decoder, 4, 2, FlowSolver(steps=3), encoder_width=5, node_width=3, key=jr.key(2))
    loaded = round_trip(tmp_path, model)
    x = jr.normal(jr.key(3), (4,))
    np.testing.assert_array_equal(loaded(x), model(x))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_low_rank_networks_and_lint_fits(tmp_path, rank):
    m, n = jr.normal(jr.key(4), (2, 12, rank))
    network = LowRankRNN(m, n, inputs=jnp.ones((12, 1)), bias=jnp.zeros(12), alpha=0.2)
    loaded = round_trip(tmp_path, RateModel(network, steps=5))
    start = jr.normal(jr.key(5), (12 + 5,))  # h0, then one input for each of the 5 steps
    np.testing.assert_array_equal(loaded(start), RateModel(network, steps=5)(start))


def test_connector(tmp_path):
    kx, ky = jr.split(jr.key(6))
    model = Connector(VelocityField(2, width=8, depth=2, key=kx), VelocityField(2, 2, width=8, depth=2, key=ky), 1.5, 5)
    loaded = round_trip(tmp_path, model)
    np.testing.assert_array_equal(loaded.sample(jr.key(7), 10)[1], model.sample(jr.key(7), 10)[1])


@pytest.mark.parametrize("posterior", [LinearPosterior, GRUPosterior])
def test_gdm_with_each_posterior(tmp_path, posterior):
    model = GDM(3, 4, emission=GaussianEmission(), train_projection=True, key=jr.key(8))
    q = posterior(3, 4, key=jr.key(9))
    loaded_model, loaded_q = round_trip(tmp_path, (model, q))
    y = jr.normal(jr.key(10), (20, 3))
    assert elbo(loaded_model, loaded_q, y, jr.key(0), 2, True) == elbo(model, q, y, jr.key(0), 2, True)


@pytest.mark.parametrize("transitions", ["sticky", "recurrent_only"])
def test_slds_and_rslds(tmp_path, transitions):
    k, d, n = 3, 2, 4
    keys = jr.split(jr.key(11), 6)
    model = SLDS(
        jnp.full(k, 1 / k), jnp.full((k, k), 1 / k), jr.normal(keys[0], (k, d)), jnp.zeros(k),
        0.9 * jnp.broadcast_to(jnp.eye(d), (k, d, d)), jr.normal(keys[1], (k, d)), jnp.ones((k, d)), jnp.zeros(d),
        jnp.ones(d), jr.normal(keys[2], (n, d)), jnp.zeros(n), jnp.ones(n), TRANSITIONS[transitions](),
    )  # fmt: skip
    loaded = round_trip(tmp_path, model)
    y = np.asarray(jr.normal(keys[3], (15, n)))
    np.testing.assert_array_equal(infer(loaded, y, rounds=2).probs, infer(model, y, rounds=2).probs)


def test_arhmm(tmp_path):
    k, n = 2, 3
    model = ARHMM(
        jnp.full(k, 0.5), jnp.array([[0.9, 0.1], [0.2, 0.8]]), 0.5 * jr.normal(jr.key(12), (k, n, n)),
        jnp.zeros((k, n)), jnp.broadcast_to(jnp.eye(n), (k, n, n)),
    )  # fmt: skip
    loaded = round_trip(tmp_path, model)
    y = jr.normal(jr.key(13), (10, n))
    np.testing.assert_array_equal(loaded.log_likelihoods(y), model.log_likelihoods(y))


def test_other_leaves_round_trip(tmp_path):
    tree = {
        "numpy": np.arange(3.0),
        "key": jr.key(3),
        "scalars": (np.float32(2.5), float("inf"), -0, True, None, "text"),
        "list": [jnp.ones(2, jnp.int32), np.dtype("float64")],
        "function": jax.nn.relu,
    }
    gnode.save(tmp_path / "t.npz", tree, {"r2": float("-inf")})  # a diverged fit's score
    loaded = gnode.load(tmp_path / "t.npz")
    assert gnode.load_meta(tmp_path / "t.npz")["r2"] == float("-inf")
    assert isinstance(loaded["numpy"], np.ndarray) and isinstance(loaded["list"][0], jax.Array)
    assert jnp.array_equal(jr.key_data(loaded["key"]), jr.key_data(tree["key"]))
    assert loaded["scalars"] == tree["scalars"] and loaded["list"][1] == np.dtype("float64")
    assert loaded["function"] is jax.nn.relu


def test_unregistered_functions_and_foreign_classes_are_refused(tmp_path):
    def swish2(x):
        return x * jax.nn.sigmoid(2 * x)

    with pytest.raises(ConfigError, match="register it first"):
        gnode.save(tmp_path / "f.npz", {"f": swish2})
    assert not (tmp_path / "f.npz").exists()
    gnode.register_function("test_saving.swish2", swish2)
    assert gnode.load(gnode.save(tmp_path / "f.npz", {"f": swish2}))["f"] is swish2

    class Foreign(eqx.Module):
        w: jax.Array

    with pytest.raises(ConfigError, match=r"cannot save .*Foreign from test_saving"):
        gnode.save(tmp_path / "g.npz", Foreign(jnp.ones(2)))


def _rewrite_header(path, edit):
    import json

    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["__gnode__"]).decode())
    edit(header)
    arrays["__gnode__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)


def test_bad_files_get_one_line_naming_the_file(tmp_path):
    model = make_model("gnode", 3, 2, 2, key=jr.key(0))
    good = gnode.save(tmp_path / "good.npz", model)
    raw = good.read_bytes()

    cases = {"missing.npz": None, "truncated.npz": raw[: len(raw) // 2], "garbage.npz": b"not a zip file at all"}
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    cases["flipped.npz"] = bytes(flipped)
    for name, payload in cases.items():
        if payload is not None:
            (tmp_path / name).write_bytes(payload)
        with pytest.raises(CheckpointError) as error:
            gnode.load(tmp_path / name)
        assert str(tmp_path / name) in str(error.value) and "\n" not in str(error.value)

    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(CheckpointError, match="not a saved gnode model"):
        gnode.load(tmp_path / "foreign.npz")
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as archive:
        archive.writestr("__gnode__.npy", b"\x93NUMPY junk")
    with pytest.raises(CheckpointError, match="corrupt"):
        gnode.load(tmp_path / "pickled.npz")

    evil = tmp_path / "evil.npz"
    evil.write_bytes(raw)
    _rewrite_header(evil, lambda h: h["tree"].update(module="os:system"))
    with pytest.raises(CheckpointError, match="outside the packages"):
        gnode.load(evil)
    _rewrite_header(evil, lambda h: h["tree"].update(module="gnode.saving:save"))
    with pytest.raises(CheckpointError, match="not a Module"):
        gnode.load(evil)
    _rewrite_header(evil, lambda h: h["tree"].update(module="gnode.fields:NoSuchField"))
    with pytest.raises(CheckpointError, match="unknown Module"):
        gnode.load(evil)
    evil.write_bytes(raw)
    _rewrite_header(evil, lambda h: h["tree"]["fields"].pop("readout"))  # a field the file lacks
    with pytest.raises(CheckpointError, match="needs field 'readout'"):
        gnode.load(evil)
    evil.write_bytes(raw)
    _rewrite_header(evil, lambda h: h["tree"]["fields"].pop("tau"))  # a field with a default (one added later)
    assert gnode.load(evil).tau == 0.01
    _rewrite_header(evil, lambda h: h.update(format="gnode-model-0"))
    with pytest.raises(CheckpointError, match="format 'gnode-model-0'"):
        gnode.load(evil)
