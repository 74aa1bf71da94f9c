import jax.numpy as jnp
import numpy as np
import optax

from gnode.losses import accuracy, last_state_cross_entropy, masked_mse, r2_score


def test_masked_mse_ignores_unobserved_entries():
    pred = jnp.zeros((2, 3, 1))
    target = jnp.array([[[1.0], [2.0], [100.0]], [[1.0], [1.0], [1.0]]])
    mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(masked_mse(pred, target, mask), (1 + 4 + 3) / 5, rtol=1e-6)
    np.testing.assert_allclose(masked_mse(pred, target), np.mean(np.asarray(target) ** 2), rtol=1e-6)


def test_cross_entropy_reads_last_observed_step():
    logits = jnp.zeros((2, 4, 3)).at[0, 1].set(jnp.array([0.0, 5.0, 0.0])).at[1, 3].set(jnp.array([0.0, 0.0, 5.0]))
    labels = jnp.array([1, 2])
    mask = jnp.array([[1, 1, 0, 0], [1, 1, 1, 1]], jnp.float32)
    expected = optax.softmax_cross_entropy_with_integer_labels(jnp.array([[0, 5.0, 0], [0, 0, 5.0]]), labels).mean()
    np.testing.assert_allclose(last_state_cross_entropy(logits, labels, mask), expected, rtol=1e-6)
    assert float(accuracy(logits, labels, mask)) == 1.0
    assert (
        float(accuracy(logits, labels)) == 0.5
    )  # without the mask sample 0 is read at step 3 (all zeros -> class 0, wrong)


def test_r2():
    target = jnp.arange(12.0).reshape(1, 6, 2)
    assert float(r2_score(target, target)) == 1.0
    mean_pred = jnp.broadcast_to(target.mean(axis=(0, 1)), target.shape)
    np.testing.assert_allclose(r2_score(mean_pred, target), 0.0, atol=1e-6)
