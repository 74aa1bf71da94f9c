"""The Gumbel dynamical model (lrrnn_gdm.md §B.2): relaxed switching states linked straight to the observations.

With ``x_t = F y_t`` a projection of the observations (F fixed and random unless ``train_projection``) and optional
external inputs ``u_t``:

    z_1 ∼ Concrete(π₀, τ),   z_t ∼ Concrete((1 − γ)(R x_{t−1} + r + W u_t) + γ z_{t−1}, τ)           (B1)
    y_t ∼ N(Σ_k z_{t,k} μ_{k,t}, diag(exp(logvar))),   μ_{k,t} = S_k x_{t−1} + b_k + V_k u_t            (B2)

with ``μ_{k,1} = μ_init,k + V_k u_1``, or ``y_t ∼ Poisson(softplus(Σ_k z_{t,k} μ_{k,t}))``. Each state is a linear map
of the previous projected observation; a soft z mixes them. The transitions (B1) are one of
:mod:`gnode.gdm.transitions` (the authors' RNN variant replaces them by a GRU of the past). ``GDM`` holds the
generative parameters; the posteriors are in :mod:`gnode.gdm.posterior`."""

from __future__ import annotations

import abc
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import gammaln
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from gnode.errors import ConfigError
from gnode.gdm.concrete import concrete_log_prob, concrete_sample
from gnode.gdm.data import check_states
from gnode.gdm.transitions import AbstractRelaxedTransitions, LinearTransitions


class AbstractEmission(eqx.Module):
    """How an observation depends on the mixed state mean (B2): its rate or mean, and its log-likelihood."""

    @abc.abstractmethod
    def mean(self, mixed: Float[Array, "... obs"]) -> Float[Array, "... obs"]:
        """The mean (or rate) from ``Σ_k z_k μ_k``."""

    @abc.abstractmethod
    def log_likelihood(
        self,
        y: Float[Array, "*#batch time obs"],
        mean: Float[Array, "*#batch time obs"],
        log_variance: Float[Array, " obs"],
    ) -> Float[Array, "*#batch time"]:
        """``log p(y_t | mean_t)`` of each step, summed over dimensions (leading axes broadcast)."""


class GaussianEmission(AbstractEmission):
    """``y ∼ N(mean, diag exp(log_variance))``."""

    def mean(self, mixed: Float[Array, "... obs"]) -> Float[Array, "... obs"]:
        return mixed

    def log_likelihood(
        self,
        y: Float[Array, "*#batch time obs"],
        mean: Float[Array, "*#batch time obs"],
        log_variance: Float[Array, " obs"],
    ) -> Float[Array, "*#batch time"]:
        variance = jnp.exp(log_variance)
        return -0.5 * jnp.sum((y - mean) ** 2 / variance + log_variance + jnp.log(2 * jnp.pi), axis=-1)


class PoissonEmission(AbstractEmission):
    """``y ∼ Poisson(softplus(Σ_k z_k μ_k))`` (spike counts; the variance is not used)."""

    def mean(self, mixed: Float[Array, "... obs"]) -> Float[Array, "... obs"]:
        return jax.nn.softplus(mixed)

    def log_likelihood(
        self,
        y: Float[Array, "*#batch time obs"],
        mean: Float[Array, "*#batch time obs"],
        log_variance: Float[Array, " obs"],
    ) -> Float[Array, "*#batch time"]:
        return jnp.sum(y * jnp.log(mean + 1e-8) - mean - gammaln(y + 1), axis=-1)


EMISSIONS = {"gaussian": GaussianEmission, "poisson": PoissonEmission}  # names for the CLI and config files


class GDM(eqx.Module):
    """Generative parameters of a GDM with ``states`` states on ``observations``-dimensional data.

    Arguments:
        observations: N, the observed dimensions; states: K ≥ 2; projection: D, the size of ``x = F y``.
        inputs: U, external input channels ``u_t`` (0: none); they drive the transitions (through ``transitions``)
            and add ``V_k u_t`` to every state's mean.
        transitions: how the state switches (default :class:`LinearTransitions`, (B1)); :class:`GRUTransitions` is
            the authors' RNN variant (it also learns F, ``train_projection=True``).
        emission: :class:`GaussianEmission` (default) or :class:`PoissonEmission`; tau: the Concrete temperature
            (the authors: 0.99, constant).
        train_projection: learn F (the authors' linear GDM keeps its random F fixed).
        key: initialisation (the authors': F ∼ N(0, 0.1²), S_k = C A_k with C ∼ N(0, 1) and A_k random orthogonal,
            b = 0, logvar ∼ U(−1, 0), μ_init ∼ N(0, 1), π₀ = 0; and V = 0).
    """

    projection: Float[Array, "proj obs"]
    transitions: AbstractRelaxedTransitions
    initial_logits: Float[Array, " modes"]
    dynamics: Float[Array, "modes obs proj"]
    offsets: Float[Array, "modes obs"]
    input_dynamics: Float[Array, "modes obs inp"]
    initial_means: Float[Array, "modes obs"]
    log_variance: Float[Array, " obs"]
    emission: AbstractEmission = eqx.field(static=True)
    tau: float = eqx.field(static=True)
    train_projection: bool = eqx.field(static=True)

    def __init__(
        self,
        observations: int,
        states: int,
        projection: int = 2,
        *,
        inputs: int = 0,
        transitions: AbstractRelaxedTransitions | None = None,
        emission: AbstractEmission = GaussianEmission(),
        tau: float = 0.99,
        train_projection: bool = False,
        key: PRNGKeyArray,
    ):
        check_states(states)
        if observations < 1 or projection < 1 or inputs < 0:
            raise ConfigError(f"need observations >= 1, projection >= 1 and inputs >= 0, got {observations}, "
                              f"{projection}, {inputs}")  # fmt: skip
        if not isinstance(emission, AbstractEmission):
            raise ConfigError(f"emission must be GaussianEmission() or PoissonEmission(), got {emission!r}")
        if transitions is not None and not isinstance(transitions, AbstractRelaxedTransitions):
            raise ConfigError(f"transitions must be LinearTransitions or GRUTransitions, got {transitions!r}")
        if not tau > 0:
            raise ConfigError(f"the temperature must be positive, got {tau}")
        kf, kc, ka, kv, km, kr = jr.split(key, 6)
        n, k, d = observations, states, projection
        self.projection = 0.1 * jr.normal(kf, (d, n))
        self.transitions = LinearTransitions(d, k, inputs, key=kr) if transitions is None else transitions
        self.initial_logits = jnp.zeros(k)
        rotations = jnp.linalg.qr(jr.normal(ka, (k, d, d)))[0]
        self.dynamics = jr.normal(kc, (n, d)) @ rotations
        self.offsets = jnp.zeros((k, n))
        self.input_dynamics = jnp.zeros((k, n, inputs))
        self.initial_means = jr.normal(km, (k, n))
        self.log_variance = jr.uniform(kv, (n,), minval=-1.0, maxval=0.0)
        self.emission, self.tau, self.train_projection = emission, float(tau), bool(train_projection)
        probe = self.transitions.step(self.transitions.initial_carry(), jnp.zeros(d), jnp.zeros(k), jnp.zeros(inputs))
        if probe[1].shape != (k,):
            raise ConfigError(f"the transitions give {probe[1].shape} logits from projection {d} and {inputs} inputs; "
                              f"the model needs ({k},)")  # fmt: skip

    @property
    def states(self) -> int:
        return self.initial_logits.shape[0]

    @property
    def observations(self) -> int:
        return self.offsets.shape[1]

    @property
    def inputs(self) -> int:
        return self.input_dynamics.shape[2]

    def _inputs(self, u: Float[Array, "time inp"] | None, steps: int) -> Float[Array, "time inp"]:
        return jnp.zeros((steps, self.inputs)) if u is None else u

    def project(self, y: Float[Array, "... obs"]) -> Float[Array, "... proj"]:
        f = self.projection if self.train_projection else jax.lax.stop_gradient(self.projection)
        return y @ f.T

    def state_logits(
        self, y: Float[Array, "time obs"], z: Float[Array, "time modes"], u: Float[Array, "time inp"] | None = None
    ) -> Float[Array, "time modes"]:
        """The logits of every ``z_t``: π₀ at t = 1, then the transitions from ``y_{t−1}``, ``z_{t−1}``, ``u_t``."""
        u = self._inputs(u, y.shape[0])
        after = self.transitions.logits(self.project(y[:-1]), z[:-1], u[1:])
        return jnp.concatenate([self.initial_logits[None], after])

    def next_means(self, y_prev: Float[Array, "... obs"], u: Float[Array, "... inp"]) -> Float[Array, "... modes obs"]:
        """Per-state means ``S_k F y_{t−1} + b_k + V_k u_t`` (B2)."""
        driven = jnp.einsum("kni,...i->...kn", self.input_dynamics, u)
        return jnp.einsum("knd,...d->...kn", self.dynamics, self.project(y_prev)) + self.offsets + driven

    def state_means(
        self, y: Float[Array, "time obs"], u: Float[Array, "time inp"] | None = None
    ) -> Float[Array, "time modes obs"]:
        u = self._inputs(u, y.shape[0])
        first = self.initial_means + jnp.einsum("kni,i->kn", self.input_dynamics, u[0])
        return jnp.concatenate([first[None], self.next_means(y[:-1], u[1:])])

    def mix(self, z: Float[Array, "... modes"], means: Float[Array, "... modes obs"]) -> Float[Array, "... obs"]:
        """The emission rate or mean ``Σ_k z_k μ_k`` (Poisson: through softplus)."""
        return self.emission.mean(jnp.einsum("...k,...kn->...n", z, means))

    def log_prior(
        self, z: Float[Array, "time modes"], y: Float[Array, "time obs"], u: Float[Array, "time inp"] | None = None
    ) -> Float[Array, " time"]:
        """``log p(z_t | z_{<t}, y_{<t}, u)`` of each step: the Concrete densities of (B1)."""
        return concrete_log_prob(z, self.state_logits(y, z, u), self.tau)

    def log_likelihood(
        self,
        y: Float[Array, "*#batch time obs"],
        z: Float[Array, "*#batch time modes"],
        u: Float[Array, "*#batch time inp"] | None = None,
    ) -> Float[Array, "*#batch time"]:
        """``log p(y_t | z_t, y_{t−1}, u_t)`` of each step (B2); leading axes broadcast (see :meth:`reconstruct`)."""
        return self.emission.log_likelihood(y, self.reconstruct(y, z, u), self.log_variance)

    def reconstruct(
        self,
        y: Float[Array, "*#batch time obs"],
        z: Float[Array, "*#batch time modes"],
        u: Float[Array, "*#batch time inp"] | None = None,
    ) -> Float[Array, "*#batch time obs"]:
        """One-step predictions ``Σ_k z_{t,k} μ_{k,t}(y_{t−1})`` (the authors' "smooth").

        Leading axes (samples, trials) broadcast between ``y``, ``z`` and ``u``. Computed as
        ``[z_t ⊗ (F y_{t−1}, u_t)] · [S; V] + z_t · b`` — one matrix product over every step of every leading
        index — rather than a K × N product per step, which XLA runs as thousands of tiny ones."""
        u = jnp.zeros((*y.shape[:-1], self.inputs)) if u is None else u
        k, n = self.states, self.observations
        features = jnp.concatenate([self.project(y[..., :-1, :]), u[..., 1:, :]], axis=-1)  # (..., T-1, D+U)
        width = features.shape[-1]
        maps = jnp.swapaxes(jnp.concatenate([self.dynamics, self.input_dynamics], axis=-1), 1, 2)  # (K, D+U, N)
        outer = z[..., 1:, :, None] * features[..., :, None, :]  # (..., T-1, K, D+U)
        lead = outer.shape[:-2]
        after = (outer.reshape(-1, k * width) @ maps.reshape(k * width, n)).reshape(*lead, n)
        after = after + z[..., 1:, :] @ self.offsets
        first_means = self.initial_means + jnp.einsum("kni,...i->...kn", self.input_dynamics, u[..., 0, :])
        first = jnp.einsum("...k,...kn->...n", z[..., 0, :], first_means)
        return self.emission.mean(jnp.concatenate([first[..., None, :], after], axis=-2))

    def carries(
        self, y: Float[Array, "time obs"], z: Float[Array, "time modes"], u: Float[Array, "time inp"] | None = None
    ) -> PyTree:
        """The transitions' carry at every step t (having seen ``y_{<t}``, ``z_{<t}``, ``u_{≤t}``): where a forecast
        from t resumes."""
        u = self._inputs(u, y.shape[0])
        transitions = self.transitions

        def step(carry, row):
            carry = transitions.step(carry, *row)[0]
            return carry, carry

        first = transitions.initial_carry()
        after = jax.lax.scan(step, first, (self.project(y[:-1]), z[:-1], u[1:]))[1]
        return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, after)

    def forecast(
        self,
        key: PRNGKeyArray,
        y0: Float[Array, " obs"],
        z0: Float[Array, " modes"],
        steps: int,
        draws: int = 100,
        *,
        carry: PyTree = None,
        inputs: Float[Array, "steps inp"] | None = None,
    ) -> Float[Array, "steps obs"]:
        """Roll the model forward from an observed ``y0`` and a state ``z0``: each step draws ``draws`` Concrete
        states from the transitions at the predicted observation, averages them, and predicts the mean of (B2).

        Arguments:
            carry: the transitions' carry at the start (:meth:`carries`; default: their initial one).
            inputs: ``u`` of the ``steps`` predicted steps (default: zeros).
        """
        carry = self.transitions.initial_carry() if carry is None else carry

        def step(state, row):
            y, z, carry = state
            k, u = row
            carry, logits = self.transitions.step(carry, self.project(y), z, u)
            samples = concrete_sample(k, jnp.broadcast_to(logits, (draws, self.states)), self.tau)
            z = samples.mean(0)
            y = self.mix(z, self.next_means(y, u))
            return (y, z, carry), y

        _, ys = jax.lax.scan(step, (y0, z0, carry), (jr.split(key, steps), self._inputs(inputs, steps)))
        return ys


GDM_PARAMETERS = tuple(f.name for f in dataclasses.fields(GDM) if not f.metadata.get("static"))  # freezable fields
