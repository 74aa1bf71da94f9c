"""The models of the N-CODE experiments, built by name: ``node``, ``anode`` and N-CODE in each control mode.

Sizes were not found in the paper (ncode.md §2.4, §7); the defaults are the ones of the independent re-run in
ncode.md §6 (toys) and a matched parameter budget (digits), all parameters of :class:`Sizes`.
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from gnode.errors import ConfigError
from gnode.model import matched_size, parameter_count
from gnode.ncode.control import MODES, MLPControl, make_dynamics
from gnode.ncode.flow import FlowSolver
from gnode.ncode.functional import FunctionalConv, FunctionalMLP
from gnode.ncode.model import NCODE, Augment, Autoencoder, LearnedConstant, Reshape, neural_ode

BASELINES = ("node", "anode")
MODELS = (*BASELINES, *(f"ncode-{mode}" for mode in MODES))


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Widths of every part.

    Attributes:
        node_width: hidden width of the neural ODE's MLP field (None: matched to ``budget``).
        augment: zero entries appended to the state of the augmented neural ODE.
        state: N-CODE's state dimension (None: the input's; otherwise a linear encoder maps the input to it).
        field_width: hidden width of N-CODE's functional field ``f(z; theta)``.
        control_width: hidden width of the control map ``gamma``.
        dynamics_width: hidden width of the control dynamics ``g``.
        budget: parameter count the baselines are matched to (None: that of ``ncode-open``).
        conv_channels: if set, N-CODE's state is an image of this many channels (the square input in the first,
            zeros in the others) and ``f`` a :class:`FunctionalConv` with ``field_width`` hidden channels.
    """

    node_width: int | None = None
    augment: int = 16
    state: int | None = None
    field_width: int = 8
    control_width: int = 64
    dynamics_width: int = 64
    budget: int | None = None
    conv_channels: int | None = None

    def __post_init__(self):
        widths = (self.field_width, self.control_width, self.dynamics_width, self.augment)
        optional = (self.state, self.conv_channels)
        if min(widths) <= 0 or any(v is not None and v <= 0 for v in optional):
            raise ConfigError(f"sizes must be positive, got {self}")
        if self.state is not None and self.conv_channels is not None:
            raise ConfigError("give either state (a vector state) or conv_channels (an image state), not both")


def check_model(name: str) -> str:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {list(MODELS)}")
    return name


def build(
    name: str,
    in_dim: int,
    out_dim: int | None,
    sizes: Sizes,
    solver: FlowSolver,
    *,
    key: PRNGKeyArray,
) -> NCODE:
    """One model for flat inputs of ``in_dim`` entries.

    Arguments:
        name: ``node``, ``anode``, ``ncode-static``, ``ncode-open`` or ``ncode-closed``.
        in_dim: input entries; out_dim: outputs of a linear readout (None: no readout, ``y = z(T)``).
        sizes: the widths; solver: how flows are integrated; key: the initialisation.
    """
    check_model(name)
    fkey, ckey, dkey, ekey, rkey = jr.split(key, 5)
    if name in BASELINES:
        extra = sizes.augment if name == "anode" else 0
        dim = in_dim + extra
        width = sizes.node_width if sizes.node_width is not None else matched_width(name, in_dim, out_dim, sizes)
        field, theta = _tanh_mlp_field(dim, width, fkey)
        encoder = Augment(extra) if extra else eqx.nn.Identity()
        return neural_ode(field, theta, encoder, _readout(dim, out_dim, rkey), solver, (in_dim,))
    mode = name.removeprefix("ncode-")
    if sizes.conv_channels is not None:
        side = math.isqrt(in_dim)
        if side * side != in_dim:
            raise ConfigError(f"a convolutional state needs square images, got {in_dim} input entries")
        field = FunctionalConv(sizes.conv_channels, side, side, hidden=sizes.field_width)
        encoder = eqx.nn.Sequential([Reshape((1, side, side)), Augment(sizes.conv_channels - 1)])
        dim = sizes.conv_channels * in_dim
        readout = eqx.nn.Sequential([Reshape((dim,)), _readout(dim, out_dim, rkey)])
    else:
        dim = in_dim if sizes.state is None else sizes.state
        field = FunctionalMLP(dim, (sizes.field_width,))
        encoder = eqx.nn.Identity() if sizes.state is None else eqx.nn.Linear(in_dim, dim, key=ekey)
        readout = _readout(dim, out_dim, rkey)
    control = MLPControl(in_dim, field.init_theta(fkey), width=sizes.control_width, key=ckey)
    dynamics = make_dynamics(mode, dim, field.size, width=sizes.dynamics_width, key=dkey)
    return NCODE(field, control, dynamics, encoder, readout, solver, (in_dim,))


def _tanh_mlp_field(dim: int, width: int, key: PRNGKeyArray) -> tuple[FunctionalMLP, Array]:
    """A neural ODE's field: one tanh hidden layer of ``width``, its weights drawn as ``eqx.nn.MLP`` draws them
    (uniform in ``±1/sqrt(fan_in)``, the baselines' initialisation)."""
    mlp = eqx.nn.MLP(dim, dim, width, 1, activation=jnp.tanh, key=key)
    field = FunctionalMLP(dim, (width,))
    return field, field.flatten([a for layer in mlp.layers for a in (layer.weight, layer.bias)])


def _readout(dim: int, out_dim: int | None, key: PRNGKeyArray) -> eqx.Module:
    return eqx.nn.Identity() if out_dim is None else eqx.nn.Linear(dim, out_dim, key=key)


def matched_width(name: str, in_dim: int, out_dim: int | None, sizes: Sizes) -> int:
    """The neural ODE's hidden width whose parameter count is nearest the budget (``sizes.budget``, or the count of
    ``ncode-open`` with these sizes)."""
    budget = sizes.budget if sizes.budget is not None else shape_count("ncode-open", in_dim, out_dim, sizes)
    count = lambda w: shape_count(name, in_dim, out_dim, dataclasses.replace(sizes, node_width=w))  # noqa: E731
    return matched_size(count, budget)


def shape_count(name: str, in_dim: int, out_dim: int | None, sizes: Sizes) -> int:
    """The parameter count of a model, from its shapes alone (nothing is allocated)."""
    shapes = eqx.filter_eval_shape(lambda: build(name, in_dim, out_dim, sizes, FlowSolver(steps=1), key=jr.key(0)))
    leaves = jax.tree_util.tree_leaves(shapes)
    return sum(a.size for a in leaves if isinstance(a, jax.ShapeDtypeStruct) and jnp.issubdtype(a.dtype, jnp.inexact))


DECODERS = ("ncode", "node")


def build_autoencoder(
    decoder: str,
    image_dim: int,
    code: int,
    solver: FlowSolver,
    *,
    mode: str = "open",
    field_width: int = 8,
    control_width: int = 16,
    dynamics_width: int = 4,
    encoder_width: int = 64,
    node_width: int | None = None,
    key: PRNGKeyArray,
) -> Autoencoder:
    """An autoencoder whose decoder is a flow on images of ``image_dim`` pixels.

    ``ncode``: every code starts the flow at the same learned image ``z(0)``; only the control ``theta(0) =
    gamma(code)`` (then ``g``, in ``mode``) carries the code, so the code acts on the image solely through the
    field's weights. ``node``: ``z(0)`` is a linear map of the code and the field is a fixed MLP (its width
    matched to the N-CODE decoder's parameter count when ``node_width`` is None).
    """
    if decoder not in DECODERS:
        raise ConfigError(f"unknown decoder {decoder!r}; choose one of {list(DECODERS)}")
    ekey, fkey, ckey, dkey, zkey = jr.split(key, 5)
    encoder = eqx.nn.MLP(image_dim, code, encoder_width, 1, activation=jnp.tanh, key=ekey)
    if decoder == "ncode":
        field = FunctionalMLP(image_dim, (field_width,))
        control = MLPControl(code, field.init_theta(fkey), width=control_width, key=ckey)
        dynamics = make_dynamics(mode, image_dim, field.size, width=dynamics_width, key=dkey)
        start = LearnedConstant(jnp.full((image_dim,), 0.0))
        flow = NCODE(field, control, dynamics, start, eqx.nn.Identity(), solver, (code,))
        return Autoencoder(encoder, flow)
    if node_width is None:
        target = parameter_count(
            build_autoencoder("ncode", image_dim, code, solver, mode=mode, field_width=field_width,
                              control_width=control_width, dynamics_width=dynamics_width, key=key).decoder
        )  # fmt: skip
        node_width = max(1, round((target - image_dim * code - 2 * image_dim) / (2 * image_dim + 1)))
    field, theta = _tanh_mlp_field(image_dim, node_width, fkey)
    start = eqx.nn.Linear(code, image_dim, key=zkey)
    return Autoencoder(encoder, neural_ode(field, theta, start, eqx.nn.Identity(), solver, (code,)))
