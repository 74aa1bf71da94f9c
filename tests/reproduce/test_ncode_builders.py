import dataclasses

import jax.numpy as jnp
import jax.random as jr
import pytest

from gnode.errors import ConfigError
from gnode.model import parameter_count
from gnode.ncode.control import ClosedLoop, ConstantControl, OpenLoop, Static
from gnode.ncode.flow import FlowSolver
from gnode.ncode.model import NCODE
from gnode.reproduce.ncode.builders import MODELS, Sizes, build, build_autoencoder, matched_width
from gnode.reproduce.ncode.experiments import DIGIT_SIZES

SOLVER = FlowSolver(steps=2)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_maps_inputs_to_outputs(name):
    model = build(name, 64, 10, DIGIT_SIZES, SOLVER, key=jr.key(0))
    assert model(jnp.ones(64)).shape == (10,)
    # a neural ODE is N-CODE with a constant control and no control dynamics
    expected = {
        "node": Static,
        "anode": Static,
        "ncode-static": Static,
        "ncode-open": OpenLoop,
        "ncode-closed": ClosedLoop,
    }
    assert isinstance(model, NCODE) and isinstance(model.dynamics, expected[name])
    assert isinstance(model.control, ConstantControl) == (name in ("node", "anode"))


def test_baselines_are_matched_to_the_ncode_open_budget():
    budget = parameter_count(build("ncode-open", 64, 10, DIGIT_SIZES, SOLVER, key=jr.key(0)))
    for name in ("node", "anode"):
        sizes = dataclasses.replace(DIGIT_SIZES, node_width=matched_width(name, 64, 10, DIGIT_SIZES))
        count = parameter_count(build(name, 64, 10, sizes, SOLVER, key=jr.key(0)))
        assert abs(count - budget) / budget < 0.02


def test_autoencoder_decoders_share_a_budget_and_reconstruct_shapes():
    ncode = build_autoencoder("ncode", 64, 8, SOLVER, key=jr.key(0))
    node = build_autoencoder("node", 64, 8, SOLVER, key=jr.key(0))
    assert ncode(jnp.ones(64)).shape == node(jnp.ones(64)).shape == (64,)
    a, b = parameter_count(ncode.decoder), parameter_count(node.decoder)
    assert abs(a - b) / a < 0.02
    # the N-CODE decoder's start is shared: the code reaches the image only through the weights
    assert jnp.array_equal(ncode.decoder.encoder(jnp.ones(8)), ncode.decoder.encoder(jnp.zeros(8)))


@pytest.mark.parametrize(
    "make",
    [lambda: build("ncode-feedback", 2, 1, Sizes(), SOLVER, key=jr.key(0)), lambda: Sizes(field_width=0),
     lambda: build_autoencoder("vae", 64, 8, SOLVER, key=jr.key(0))],
)  # fmt: skip
def test_unknown_names_and_bad_sizes_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()


@pytest.mark.parametrize("name", ["ncode-open", "ncode-closed"])
def test_convolutional_state_option(name):
    sizes = Sizes(conv_channels=3, field_width=4, control_width=8, dynamics_width=4)
    model = build(name, 64, 10, sizes, SOLVER, key=jr.key(0))
    assert model.field.state_shape == (3, 8, 8)
    assert model.encoder(jnp.arange(64.0))[1:].sum() == 0  # the image in channel 0, zeros elsewhere
    assert model(jnp.ones(64)).shape == (10,)
    with pytest.raises(ConfigError, match="square images"):
        build(name, 60, 10, sizes, SOLVER, key=jr.key(0))
