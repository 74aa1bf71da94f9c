import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gnode.likelihoods import (
    bits_per_spike,
    co_smoothing,
    gaussian_log_likelihood,
    poisson_log_likelihood,
    poisson_loss,
    residual_variance,
)
from gnode.losses import Poisson

RNG = np.random.default_rng(0)
RATES = RNG.gamma(2.0, 0.5, size=(6, 20, 4)).astype(np.float32)
COUNTS = RNG.poisson(RATES).astype(np.float32)
MASK = (RNG.uniform(size=(6, 20)) > 0.3).astype(np.float32)


def test_poisson_log_likelihood_is_the_sum_of_log_pmfs_over_observed_entries():
    expected = (stats.poisson.logpmf(COUNTS, RATES) * MASK[..., None]).sum()
    np.testing.assert_allclose(poisson_log_likelihood(RATES, COUNTS, MASK), expected, rtol=1e-5)


def test_poisson_loss_is_minimised_at_the_counts_and_differs_from_the_likelihood_by_log_factorials():
    grad = jax.grad(lambda r: poisson_loss(r, jnp.asarray(COUNTS) + 0.5))(jnp.asarray(COUNTS) + 0.5)
    np.testing.assert_allclose(grad, 0.0, atol=1e-7)
    m = MASK[..., None] * np.ones_like(COUNTS)
    constant = (stats.poisson.logpmf(COUNTS, RATES) * m).sum() + poisson_loss(RATES, COUNTS, MASK) * m.sum()
    from scipy.special import gammaln

    np.testing.assert_allclose(constant, -(gammaln(COUNTS + 1) * m).sum(), rtol=1e-4)


def test_bits_per_spike_zero_for_mean_rates_positive_for_true_rates_and_as_defined():
    mean = np.broadcast_to(COUNTS.mean(axis=(0, 1)), COUNTS.shape)
    np.testing.assert_allclose(bits_per_spike(mean, COUNTS), 0.0, atol=1e-6)
    score = float(bits_per_spike(RATES, COUNTS))
    expected = (stats.poisson.logpmf(COUNTS, RATES).sum() - stats.poisson.logpmf(COUNTS, mean).sum()) / (
        COUNTS.sum() * np.log(2)
    )
    assert score > 0.05
    np.testing.assert_allclose(score, expected, rtol=1e-4)


def test_co_smoothing_scores_only_the_held_out_channels():
    rates = RATES.copy()
    rates[..., 0] = 50.0  # a terrible prediction of a held-in channel does not count
    held_out = np.array([1, 3])
    np.testing.assert_allclose(
        co_smoothing(rates, COUNTS, held_out, MASK), bits_per_spike(RATES[..., held_out], COUNTS[..., held_out], MASK)
    )


def test_gaussian_log_likelihood_with_the_residual_variance():
    pred = RATES
    target = RATES + RNG.normal(size=RATES.shape).astype(np.float32) * np.array([0.5, 1, 2, 3], np.float32)
    var = residual_variance(pred, target)
    np.testing.assert_allclose(var, ((target - pred) ** 2).mean(axis=(0, 1)), rtol=1e-5)
    expected = stats.norm.logpdf(target, pred, np.sqrt(var)).sum()
    np.testing.assert_allclose(gaussian_log_likelihood(pred, target, var), expected, rtol=1e-5)


@pytest.mark.parametrize("link", [jax.nn.softplus, jnp.exp])
def test_poisson_loss_object_uses_its_link_and_stays_finite_where_rates_underflow(link):
    pred = jnp.log(jnp.expm1(jnp.asarray(RATES))) if link is jax.nn.softplus else jnp.log(jnp.asarray(RATES))
    loss, metric = Poisson(link).of_sequences(pred, jnp.asarray(COUNTS), jnp.asarray(MASK))
    np.testing.assert_allclose(loss, poisson_loss(RATES, COUNTS, MASK), rtol=1e-4)
    np.testing.assert_allclose(metric, bits_per_spike(RATES, COUNTS, MASK), rtol=1e-3)
    value, grad = jax.value_and_grad(lambda p: Poisson(link).of_sequences(p, jnp.asarray(COUNTS), None)[0])(
        jnp.full(COUNTS.shape, -200.0)
    )
    assert np.isfinite(value) and np.isfinite(grad).all()
