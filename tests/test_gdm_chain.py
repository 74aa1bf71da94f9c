import jax
import jax.numpy as jnp
import numpy as np

from gnode.gdm.chain import chain_posterior


def test_chain_posterior_equals_the_dense_inverse():
    rng = np.random.default_rng(0)
    t, d = 7, 3
    blocks = rng.normal(size=(t, d, d))
    diagonal = np.einsum("tij,tkj->tik", blocks, blocks) + 3 * d * np.eye(d)
    upper = rng.normal(size=(t - 1, d, d))
    linear = rng.normal(size=(t, d))
    dense = np.zeros((t * d, t * d))
    for i in range(t):
        dense[i * d : (i + 1) * d, i * d : (i + 1) * d] = diagonal[i]
    for i in range(t - 1):
        dense[i * d : (i + 1) * d, (i + 1) * d : (i + 2) * d] = upper[i]
        dense[(i + 1) * d : (i + 2) * d, i * d : (i + 1) * d] = upper[i].T
    cov = np.linalg.inv(dense)
    mean = cov @ linear.ravel()
    with jax.enable_x64(True):  # double precision for a 1e-10 comparison, in this test only
        got = chain_posterior(jnp.asarray(diagonal), jnp.asarray(upper), jnp.asarray(linear))
    got_mean, got_cov, got_cross, got_log_det = (np.asarray(a) for a in got)
    assert np.allclose(got_mean, mean.reshape(t, d), atol=1e-10)
    assert np.isclose(got_log_det, np.linalg.slogdet(dense)[1], atol=1e-9)
    for i in range(t):
        assert np.allclose(got_cov[i], cov[i * d : (i + 1) * d, i * d : (i + 1) * d], atol=1e-10)
    for i in range(t - 1):
        assert np.allclose(got_cross[i], cov[i * d : (i + 1) * d, (i + 1) * d : (i + 2) * d], atol=1e-10)
