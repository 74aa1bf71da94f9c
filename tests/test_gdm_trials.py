"""Switching models on many trials: padding changes nothing, one trial is the single-sequence model, and the
bounds meet exact likelihoods where they are known."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gnode.errors import ConfigError, DataError
from gnode.gdm import arhmm, slds
from gnode.gdm.concrete import concrete_log_prob
from gnode.gdm.data import load_switching, switching_data
from gnode.gdm.fit import GDMFitConfig, batch_elbo, elbo, fit_gdm
from gnode.gdm.inference import forecast, soft_states
from gnode.gdm.metrics import state_accuracy
from gnode.gdm.model import GDM
from gnode.gdm.posterior import make_posterior
from gnode.gdm.transitions import GRUTransitions


def ragged(seed=0, trials=3, n=4, inputs=0):
    rng = np.random.default_rng(seed)
    lengths = [12, 7, 9][:trials]
    obs = [rng.normal(size=(t, n)).astype(np.float32) for t in lengths]
    us = [rng.normal(size=(t, inputs)).astype(np.float32) for t in lengths] if inputs else None
    return switching_data(obs, us)


def test_trials_are_padded_with_their_lengths_and_the_file_forms_agree(tmp_path):
    data = ragged(inputs=2)
    assert data.observations.shape == (3, 12, 4) and data.inputs.shape == (3, 12, 2)
    assert data.lengths.tolist() == [12, 7, 9] and data.mask.sum() == 28
    assert np.all(data.observations[1, 7:] == 0)
    flat = np.concatenate([data.trial(i)[0] for i in range(3)])
    np.savez(tmp_path / "ragged.npz", observations=flat, lengths=np.array([12, 7, 9]),
             inputs=np.concatenate([data.trial(i)[1] for i in range(3)]))  # fmt: skip
    padded = data.observations.copy()
    padded[~data.mask] = np.nan  # padding may hold anything the mask hides
    np.savez(tmp_path / "padded.npz", observations=padded, mask=data.mask, inputs=data.inputs)
    for name in ("ragged.npz", "padded.npz"):
        got = load_switching(tmp_path / name)
        assert np.array_equal(got.observations, data.observations) and np.array_equal(got.lengths, data.lengths)
        assert np.array_equal(got.inputs, data.inputs)
    one = switching_data(flat[:12])
    assert one.num_trials == 1 and one.lengths.tolist() == [12]


@pytest.mark.bad_input
def test_malformed_trials_are_one_line_errors(tmp_path):
    y = np.zeros((2, 10, 3), np.float32)
    gap = np.ones((2, 10))
    gap[0, 4] = 0
    cases = {
        "has a gap": dict(observations=y, mask=gap),
        "NaN": dict(observations=np.where(np.arange(10)[None, :, None] == 3, np.nan, y)),
        "needs 2 at least": dict(observations=y[:, :1]),
        "unknown arrays": dict(observations=y, target=y),
        "no 'observations'": dict(inputs=y),
        "sum\\(lengths\\)": dict(observations=y.reshape(20, 3), lengths=np.array([5, 5])),
        "one \\(time, U\\) array per trial": dict(observations=y, inputs=np.zeros((2, 9, 1))),
        "non-negative integer labels": dict(observations=y, states=np.full((2, 10), 0.5)),
        "not both": dict(observations=y.reshape(20, 3), lengths=np.array([10, 10]), mask=np.ones(20)),
    }
    for message, arrays in cases.items():
        path = tmp_path / "bad.npz"
        np.savez(path, **arrays)
        with pytest.raises(DataError, match=message):
            load_switching(path)
    with pytest.raises(DataError, match="no such file"):
        load_switching(tmp_path / "missing.npz")
    with pytest.raises(DataError, match="3 observed dimensions, the model has 4"):
        fit_gdm(switching_data(y), GDM(4, 2, key=jr.key(0)), make_posterior("linear", 4, 2, key=jr.key(1)))
    with pytest.raises(ConfigError, match="batch must be"):
        GDMFitConfig(batch=0)


@pytest.mark.parametrize("kind", ["linear", "gru"])
def test_padding_changes_nothing_and_one_trial_is_the_single_sequence_objective(kind):
    data = ragged(inputs=2)
    model = GDM(4, 3, inputs=2, transitions=GRUTransitions(2, 3, 2, key=jr.key(5)) if kind == "gru" else None,
                key=jr.key(0))  # fmt: skip
    posterior = make_posterior(kind, 6, 3, key=jr.key(1))
    arrays = jnp.asarray(data.observations), jnp.asarray(data.inputs), jnp.asarray(data.lengths)
    value = batch_elbo(model, posterior, *arrays, jr.key(2), 4)
    junk = np.where(data.mask[..., None], 0.0, 1e3)  # anything in the padding
    moved = batch_elbo(model, posterior, arrays[0] + junk, arrays[1] + junk[..., :2], arrays[2], jr.key(2), 4)
    assert float(value) == pytest.approx(float(moved), rel=1e-6)
    # a padded trial's posterior logits are those of the trial alone (the GRU reads backwards from its own end)
    y, u = (jnp.asarray(a) for a in data.trial(1))
    alone = posterior.logits(jnp.concatenate([y, u], -1))
    padded = posterior.logits(jnp.concatenate([arrays[0][1], arrays[1][1]], -1), arrays[2][1])[:7]
    assert np.allclose(alone, padded, atol=1e-5)
    # the single-sequence objective, written out: samples averaged, time summed, plus the usage entropy
    plain = GDM(4, 3, key=jr.key(0))
    q = make_posterior(kind, 4, 3, key=jr.key(1))
    z = q.sample(jr.key(3), y, plain.tau, 5)
    terms = jax.vmap(lambda s: jnp.sum(plain.log_prior(s, y) + plain.log_likelihood(y, s)
                                       - concrete_log_prob(s, q.logits(y), plain.tau)))(z)  # fmt: skip
    usage = z.mean((0, 1))
    expected = float(terms.mean() - jnp.sum(usage * jnp.log(usage)))
    assert float(elbo(plain, q, y, jr.key(3), 5)) == pytest.approx(expected, rel=1e-5)


def test_inputs_move_every_state_mean_and_gru_transitions_step_as_they_scan():
    data = ragged(inputs=2)
    model = GDM(4, 3, inputs=2, transitions=GRUTransitions(2, 3, 2, key=jr.key(5)), key=jr.key(0))
    model = eqx.tree_at(lambda m: m.input_dynamics, model, jr.normal(jr.key(7), (3, 4, 2)))
    y, u = (jnp.asarray(a) for a in data.trial(0))
    means = model.state_means(y, u)
    f = model.projection
    expected = jnp.einsum("knd,d->kn", model.dynamics, f @ y[4]) + model.offsets + model.input_dynamics @ u[5]
    assert np.allclose(means[5], expected, atol=1e-5)
    z = jax.nn.softmax(jr.normal(jr.key(8), (12, 3)))
    logits = model.state_logits(y, z, u)
    carry = model.transitions.initial_carry()
    for t in range(1, 12):
        carry, step = model.transitions.step(carry, f @ y[t - 1], z[t - 1], u[t])
        assert np.allclose(step, logits[t], atol=1e-5)
    # a forecast of zero steps ahead is not asked for; one step ahead restarts from the carry at each t
    q = make_posterior("gru", 6, 3, key=jr.key(1))
    ahead = forecast(model, q, y, 1, jr.key(9), draws=3, inputs=u)
    assert ahead.shape == (11, 4) and np.isfinite(np.asarray(ahead)).all()


def two_state_trials(seed: int, trials: int, steps: int = 60):
    """A 2-D system that switches between two rotations on the sign of its first coordinate, in trials from random
    starts, observed through 6 noisy channels."""
    rng = np.random.default_rng(seed)
    c = np.random.default_rng(99).normal(size=(6, 2))
    rotations = [np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) for a in (0.2, -0.3)]
    centres = [np.array([1.0, 0.0]), np.array([-1.0, 0.0])]
    obs, labels = [], []
    for _ in range(trials):
        x, xs, ks = rng.uniform(-2, 2, 2), [], []
        for _ in range(steps):
            k = int(x[0] < 0)
            x = rotations[k] @ (x - centres[k]) + centres[k]
            xs.append(x)
            ks.append(k)
        obs.append(np.asarray(xs) @ c.T + 0.05 * rng.normal(size=(steps, 6)))
        labels.append(np.asarray(ks))
    return switching_data([o.astype(np.float32) for o in obs], states=labels)


def test_batched_gdm_and_baselines_find_the_states_of_new_trials():
    train, test = two_state_trials(0, 16), two_state_trials(1, 8)
    hard = lambda p: np.eye(2)[np.asarray(p).argmax(-1)]  # noqa: E731
    flat = lambda d, per_trial: np.concatenate([per_trial[i][: d.lengths[i]] for i in range(d.num_trials)])  # noqa: E731
    labels = [flat(d, d.states) for d in (train, test)]
    model, posterior, history = fit_gdm(
        train, GDM(6, 2, key=jr.key(0)), make_posterior("linear", 6, 2, key=jr.key(1)),
        GDMFitConfig(max_iterations=600, warmup=100, batch=8),
    )  # fmt: skip
    assert history["elbo"][-1] > history["elbo"][0]
    states = [jax.vmap(lambda y, n: soft_states(posterior, y, model.tau, jr.key(2), length=n))(
        jnp.asarray(d.observations), jnp.asarray(d.lengths)) for d in (train, test)]  # fmt: skip
    assert state_accuracy(flat(train, states[0]), labels[0], flat(test, states[1]), labels[1]) > 0.9
    fitted = arhmm.fit_arhmm(train, 2, arhmm.ARHMMConfig(iterations=20))
    probs = [jax.vmap(fitted.smooth)(jnp.asarray(d.observations), jnp.asarray(d.lengths))[0] for d in (train, test)]
    assert state_accuracy(hard(flat(train, probs[0])), labels[0], hard(flat(test, probs[1])), labels[1]) > 0.9
    model, q = slds.fit_slds(train, 2, slds.SLDSConfig(iterations=15))
    assert q.probs.shape == (16, 60, 2)
    q_test = slds.infer(model, test)
    assert state_accuracy(hard(flat(train, q.probs)), labels[0], hard(flat(test, q_test.probs)), labels[1]) > 0.9


def test_baselines_on_a_padded_trial_infer_what_they_infer_on_it_alone():
    data = ragged(trials=3, n=4)
    fitted = slds.fit_slds(data, 2, slds.SLDSConfig(iterations=3))[0]
    together = slds.infer(fitted, data)
    alone = slds.infer(fitted, data.trial(1)[0])
    assert np.allclose(together.probs[1, :7], alone.probs, atol=1e-4)
    assert np.allclose(together.mean[1, :7], alone.mean, atol=1e-4)
    bound = lambda q, i: float(slds.slds_elbo(fitted, jnp.asarray(data.observations[i]), q, data.lengths[i]))  # noqa: E731
    one = jax.tree_util.tree_map(lambda a: a[1], together)
    assert bound(one, 1) == pytest.approx(float(slds.slds_elbo(fitted, jnp.asarray(data.trial(1)[0]), alone)), abs=1e-3)
    model = arhmm.fit_arhmm(data, 2, arhmm.ARHMMConfig(iterations=3))
    probs, _, log_likelihood = model.smooth(jnp.asarray(data.observations[1]), data.lengths[1])
    probs_alone, _, log_likelihood_alone = model.smooth(jnp.asarray(data.trial(1)[0]))
    assert np.allclose(probs[:7], probs_alone, atol=1e-5)
    assert float(log_likelihood) == pytest.approx(float(log_likelihood_alone), rel=1e-5)


def test_with_identical_states_the_bounds_are_the_exact_likelihoods():
    """Two states with the same dynamics: the switch says nothing, so the SLDS bound is the linear-Gaussian
    model's exact log-likelihood and the ARHMM's is the sum of its Gaussian one-step densities."""
    rng = np.random.default_rng(0)
    t, d, n = 6, 2, 3
    a, b = 0.9 * np.eye(d) + 0.05 * rng.normal(size=(d, d)), rng.normal(size=d) * 0.1
    c, e = rng.normal(size=(n, d)), rng.normal(size=n)
    sigma2, eta, m0, v0 = np.array([0.2, 0.3]), np.array([0.1, 0.2, 0.15]), rng.normal(size=d), np.array([0.5, 0.7])
    y = rng.normal(size=(t, n)).astype(np.float32)
    model = slds.SLDS(
        initial_probs=jnp.array([0.3, 0.7]), transition_matrix=jnp.array([[0.9, 0.1], [0.2, 0.8]]),
        recurrent_weight=jnp.zeros((2, d)), recurrent_bias=jnp.zeros(2),
        dynamics=jnp.asarray(np.stack([a, a]), jnp.float32), offsets=jnp.asarray(np.stack([b, b]), jnp.float32),
        dynamics_variance=jnp.asarray(np.stack([sigma2, sigma2]), jnp.float32),
        initial_mean=jnp.asarray(m0, jnp.float32), initial_variance=jnp.asarray(v0, jnp.float32),
        emission=jnp.asarray(c, jnp.float32), emission_bias=jnp.asarray(e, jnp.float32),
        emission_variance=jnp.asarray(eta, jnp.float32), transitions=slds.Sticky(),
    )  # fmt: skip
    # the joint Gaussian of the latents, then of the observations
    means, covs = [m0], [np.diag(v0)]
    for _ in range(t - 1):
        means.append(a @ means[-1] + b)
        covs.append(a @ covs[-1] @ a.T + np.diag(sigma2))
    big = np.zeros((t * d, t * d))
    for i in range(t):
        for j in range(i, t):
            block = np.linalg.matrix_power(a, j - i) @ covs[i]
            big[j * d : (j + 1) * d, i * d : (i + 1) * d] = block
            big[i * d : (i + 1) * d, j * d : (j + 1) * d] = block.T
    lift = np.kron(np.eye(t), c)
    exact = multivariate_normal(lift @ np.concatenate(means) + np.tile(e, t),
                                lift @ big @ lift.T + np.kron(np.eye(t), np.diag(eta))).logpdf(y.ravel())  # fmt: skip
    evidence = slds.slds_log_evidence(model, switching_data(y), rounds=3)
    assert evidence == pytest.approx(exact, abs=2e-3)
    weights = np.asarray(rng.normal(size=(n, n)) * 0.3, np.float32)
    cov = np.diag(eta).astype(np.float32)
    ar = arhmm.ARHMM(jnp.array([0.5, 0.5]), jnp.array([[0.9, 0.1], [0.1, 0.9]]), jnp.asarray(np.stack([weights] * 2)),
                     jnp.asarray(np.stack([e, e]), jnp.float32), jnp.asarray(np.stack([cov, cov])))  # fmt: skip
    expected = sum(multivariate_normal(weights @ y[s - 1] + e, cov).logpdf(y[s]) for s in range(1, t))
    assert arhmm.arhmm_log_likelihood(ar, switching_data(y)) == pytest.approx(expected, rel=1e-5)
