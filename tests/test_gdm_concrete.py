import math

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.gdm.concrete import concrete_log_prob, concrete_sample


def closed_form(z, probabilities, tau):
    """p(z) = (K-1)! tau^(K-1) prod_k pi_k z_k^(-tau-1) / (sum_k pi_k z_k^(-tau))^K, written out in numpy."""
    k = len(z)
    numerator = math.factorial(k - 1) * tau ** (k - 1) * np.prod(probabilities * z ** (-tau - 1))
    return numerator / np.sum(probabilities * z ** (-tau)) ** k


def test_log_density_equals_the_closed_form_and_ignores_logit_shifts():
    rng = np.random.default_rng(0)
    for k, tau in ((2, 0.5), (4, 0.99), (5, 2.0)):
        logits = rng.normal(size=k)
        probabilities = np.exp(logits) / np.exp(logits).sum()
        z = rng.dirichlet(np.ones(k))
        expected = np.log(closed_form(z, probabilities, tau))
        got = concrete_log_prob(jnp.asarray(z), jnp.asarray(logits), tau)
        assert float(got) == pytest.approx(expected, rel=1e-4)
        assert float(concrete_log_prob(jnp.asarray(z), jnp.asarray(logits + 3.0), tau)) == pytest.approx(float(got))
        # the density renormalises z: a scaled point has the density of the point itself
        assert float(concrete_log_prob(jnp.asarray(2 * z), jnp.asarray(logits), tau)) == pytest.approx(float(got))


def test_two_state_density_integrates_to_one():
    z1 = jnp.linspace(1e-6, 1 - 1e-6, 200_001)
    z = jnp.stack([z1, 1 - z1], axis=-1)
    for tau in (0.5, 0.99, 3.0):
        density = jnp.exp(concrete_log_prob(z, jnp.array([0.3, -0.4]), tau))
        assert float(jnp.trapezoid(density, z1)) == pytest.approx(1.0, abs=2e-3)


def test_samples_lie_on_the_simplex_and_their_argmax_follows_the_probabilities():
    logits = jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4]))
    z = concrete_sample(jr.key(0), jnp.broadcast_to(logits, (40_000, 4)), 0.7)
    assert np.allclose(np.asarray(z.sum(-1)), 1.0, atol=1e-5) and float(z.min()) >= 0
    frequencies = np.bincount(np.asarray(z.argmax(-1)), minlength=4) / z.shape[0]
    assert np.allclose(frequencies, [0.1, 0.2, 0.3, 0.4], atol=0.01)  # exact for any temperature
