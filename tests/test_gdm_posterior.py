import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.gdm.concrete import concrete_log_prob
from gnode.gdm.posterior import make_posterior


def test_linear_posterior_sees_only_the_current_observation_and_the_gru_sees_both_directions():
    y = jr.normal(jr.key(1), (12, 5))
    for kind, depends_on_others in (("linear", False), ("gru", True)):
        q = make_posterior(kind, 5, 3, key=jr.key(0))
        jac = jax.jacobian(lambda y, q=q: q.logits(y)[6])(y)  # d logits_6 / d y
        others = np.abs(np.asarray(jac)).sum(axis=(0, 2))
        assert (others[6] > 0) and bool((np.delete(others, 6) > 0).all()) == depends_on_others
        if kind == "gru":
            assert others[0] > 0 and others[11] > 0  # the past and the future


def test_log_prob_is_the_sum_of_the_per_step_concrete_densities():
    y = jr.normal(jr.key(1), (8, 4))
    q = make_posterior("linear", 4, 3, key=jr.key(0))
    z = q.sample(jr.key(2), y, 0.99, 5)
    assert z.shape == (5, 8, 3)
    expected = concrete_log_prob(z, q.logits(y), 0.99).sum(-1)
    assert np.allclose(q.log_prob(z, y, 0.99), expected)


def test_unknown_posterior_is_a_one_line_error():
    with pytest.raises(ConfigError, match="unknown posterior"):
        make_posterior("transformer", 4, 3, key=jr.key(0))
    assert jnp.all(jnp.isfinite(make_posterior("gru", 4, 3, key=jr.key(0)).logits(jnp.zeros((3, 4)))))
