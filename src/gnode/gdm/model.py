"""The Gumbel dynamical model (lrrnn_gdm.md §B.2): relaxed switching states linked straight to the observations.

With ``x_t = F y_t`` a projection of the observations (F fixed and random unless ``train_projection``):

    z_1 ∼ Concrete(π₀, τ),   z_t ∼ Concrete((1 − γ)(R x_{t−1} + r) + γ z_{t−1}, τ)                 (B1)
    y_t ∼ N(Σ_k z_{t,k} μ_{k,t}, diag(exp(logvar))),   μ_{k,t} = S_k x_{t−1} + b_k  (μ_{k,1} = μ_init,k)  (B2)

or ``y_t ∼ Poisson(softplus(Σ_k z_{t,k} μ_{k,t}))``. Each state is a linear map of the previous projected observation;
a soft z mixes them. ``GDM`` holds the generative parameters; the posteriors are in :mod:`gnode.gdm.posterior`.
"""

from __future__ import annotations

import abc
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import gammaln
from jaxtyping import Array, Float, PRNGKeyArray

from gnode.errors import ConfigError
from gnode.gdm.concrete import concrete_log_prob, concrete_sample
from gnode.gdm.data import check_states


class AbstractEmission(eqx.Module):
    """How an observation depends on the mixed state mean (B2): its rate or mean, and its log-likelihood."""

    @abc.abstractmethod
    def mean(self, mixed: Float[Array, "... obs"]) -> Float[Array, "... obs"]:
        """The mean (or rate) from ``Σ_k z_k μ_k``."""

    @abc.abstractmethod
    def log_likelihood(
        self, y: Float[Array, "time obs"], mean: Float[Array, "time obs"], log_variance: Float[Array, " obs"]
    ) -> Float[Array, ""]:
        """``log p(y | mean)`` summed over time and dimensions."""


class GaussianEmission(AbstractEmission):
    """``y ∼ N(mean, diag exp(log_variance))``."""

    def mean(self, mixed: Float[Array, "... obs"]) -> Float[Array, "... obs"]:
        return mixed

    def log_likelihood(
        self, y: Float[Array, "time obs"], mean: Float[Array, "time obs"], log_variance: Float[Array, " obs"]
    ) -> Float[Array, ""]:
        variance = jnp.exp(log_variance)
        return -0.5 * jnp.sum((y - mean) ** 2 / variance + log_variance + jnp.log(2 * jnp.pi))


class PoissonEmission(AbstractEmission):
    """``y ∼ Poisson(softplus(Σ_k z_k μ_k))`` (spike counts; the variance is not used)."""

    def mean(self, mixed: Float[Array, "... obs"]) -> Float[Array, "... obs"]:
        return jax.nn.softplus(mixed)

    def log_likelihood(
        self, y: Float[Array, "time obs"], mean: Float[Array, "time obs"], log_variance: Float[Array, " obs"]
    ) -> Float[Array, ""]:
        return jnp.sum(y * jnp.log(mean + 1e-8) - mean - gammaln(y + 1))


EMISSIONS = {"gaussian": GaussianEmission, "poisson": PoissonEmission}  # names for the CLI and config files


class GDM(eqx.Module):
    """Generative parameters of a GDM with ``states`` states on ``observations``-dimensional data.

    Arguments:
        observations: N, the observed dimensions; states: K ≥ 2; projection: D, the size of ``x = F y``.
        emission: :class:`GaussianEmission` (default) or :class:`PoissonEmission`; tau: the Concrete temperature
            (the authors: 0.99, constant).
        train_projection: learn F (the authors' linear GDM keeps its random F fixed).
        key: initialisation (the authors': F ∼ N(0, 0.1²), S_k = C A_k with C ∼ N(0, 1) and A_k random orthogonal,
            b = 0, logvar ∼ U(−1, 0), μ_init ∼ N(0, 1), R ∼ N(0, 1), r = 0, π₀ = 0, γ = 0.1).
    """

    projection: Float[Array, "proj obs"]
    transition_weight: Float[Array, "modes proj"]
    transition_bias: Float[Array, " modes"]
    stickiness: Float[Array, ""]
    initial_logits: Float[Array, " modes"]
    dynamics: Float[Array, "modes obs proj"]
    offsets: Float[Array, "modes obs"]
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
        emission: AbstractEmission = GaussianEmission(),
        tau: float = 0.99,
        train_projection: bool = False,
        key: PRNGKeyArray,
    ):
        check_states(states)
        if observations < 1 or projection < 1:
            raise ConfigError(f"need observations >= 1 and projection >= 1, got {observations}, {projection}")
        if not isinstance(emission, AbstractEmission):
            raise ConfigError(f"emission must be GaussianEmission() or PoissonEmission(), got {emission!r}")
        if not tau > 0:
            raise ConfigError(f"the temperature must be positive, got {tau}")
        kf, kc, ka, kv, km, kr = jr.split(key, 6)
        n, k, d = observations, states, projection
        self.projection = 0.1 * jr.normal(kf, (d, n))
        self.transition_weight = jr.normal(kr, (k, d))
        self.transition_bias = jnp.zeros(k)
        self.stickiness = jnp.asarray(0.1)
        self.initial_logits = jnp.zeros(k)
        rotations = jnp.linalg.qr(jr.normal(ka, (k, d, d)))[0]
        self.dynamics = jr.normal(kc, (n, d)) @ rotations
        self.offsets = jnp.zeros((k, n))
        self.initial_means = jr.normal(km, (k, n))
        self.log_variance = jr.uniform(kv, (n,), minval=-1.0, maxval=0.0)
        self.emission, self.tau, self.train_projection = emission, float(tau), bool(train_projection)

    @property
    def states(self) -> int:
        return self.initial_logits.shape[0]

    @property
    def observations(self) -> int:
        return self.offsets.shape[1]

    def project(self, y: Float[Array, "... obs"]) -> Float[Array, "... proj"]:
        f = self.projection if self.train_projection else jax.lax.stop_gradient(self.projection)
        return y @ f.T

    def next_logits(
        self, y_prev: Float[Array, "... obs"], z_prev: Float[Array, "... modes"]
    ) -> Float[Array, "... modes"]:
        """Transition logits (B1) from the previous observation and relaxed state."""
        recurrent = self.project(y_prev) @ self.transition_weight.T + self.transition_bias
        return (1 - self.stickiness) * recurrent + self.stickiness * z_prev

    def next_means(self, y_prev: Float[Array, "... obs"]) -> Float[Array, "... modes obs"]:
        """Per-state means ``S_k F y_{t−1} + b_k`` (B2)."""
        return jnp.einsum("knd,...d->...kn", self.dynamics, self.project(y_prev)) + self.offsets

    def state_means(self, y: Float[Array, "time obs"]) -> Float[Array, "time modes obs"]:
        return jnp.concatenate([self.initial_means[None], self.next_means(y[:-1])])

    def mix(self, z: Float[Array, "... modes"], means: Float[Array, "... modes obs"]) -> Float[Array, "... obs"]:
        """The emission rate or mean ``Σ_k z_k μ_k`` (Poisson: through softplus)."""
        return self.emission.mean(jnp.einsum("...k,...kn->...n", z, means))

    def log_prior(self, z: Float[Array, "time modes"], y: Float[Array, "time obs"]) -> Float[Array, ""]:
        """``log p(z_{1:T} | y)``: the Concrete densities of (B1)."""
        logits = jnp.concatenate([self.initial_logits[None], self.next_logits(y[:-1], z[:-1])])
        return jnp.sum(concrete_log_prob(z, logits, self.tau))

    def log_likelihood(self, y: Float[Array, "time obs"], z: Float[Array, "time modes"]) -> Float[Array, ""]:
        """``log p(y_{1:T} | z)`` of (B2)."""
        return self.emission.log_likelihood(y, self.mix(z, self.state_means(y)), self.log_variance)

    def reconstruct(self, y: Float[Array, "time obs"], z: Float[Array, "time modes"]) -> Float[Array, "time obs"]:
        """One-step predictions ``Σ_k z_{t,k} μ_{k,t}(y_{t−1})`` (the authors' "smooth")."""
        return self.mix(z, self.state_means(y))

    def forecast(
        self, key: PRNGKeyArray, y0: Float[Array, " obs"], z0: Float[Array, " modes"], steps: int, draws: int = 100
    ) -> Float[Array, "steps obs"]:
        """Roll the model forward from an observed ``y0`` and a state ``z0``: each step draws ``draws`` Concrete
        states from (B1) at the predicted observation, averages them, and predicts the mean of (B2)."""

        def step(carry, k):
            y, z = carry
            samples = concrete_sample(k, jnp.broadcast_to(self.next_logits(y, z), (draws, self.states)), self.tau)
            z = samples.mean(0)
            y = self.mix(z, self.next_means(y))
            return (y, z), y

        _, ys = jax.lax.scan(step, (y0, z0), jr.split(key, steps))
        return ys


GDM_PARAMETERS = tuple(f.name for f in dataclasses.fields(GDM) if not f.metadata.get("static"))  # the array fields
