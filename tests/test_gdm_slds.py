import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from gnode.errors import ConfigError, DataError
from gnode.gdm.metrics import mean_r2, state_accuracy
from gnode.gdm.slds import TRANSITIONS, SLDSConfig, fit_slds, forecast, infer, one_step_prediction
from gnode.reproduce.gdm.nascar import nascar


@pytest.fixture(scope="module")
def nascar_pair():
    return nascar("standard", seed=1), nascar("standard", seed=2)


def one_hot(q):
    return np.eye(q.probs.shape[1])[np.asarray(q.probs).argmax(-1)]


@pytest.mark.parametrize("transitions", ["sticky", "recurrent_only"])
def test_states_inferred_on_the_test_sequence_match_the_truth(nascar_pair, transitions):
    train, test = nascar_pair
    model, q = fit_slds(train.observations, 4, SLDSConfig(transitions=TRANSITIONS[transitions](), iterations=30))
    q_test = infer(model, test.observations)
    assert state_accuracy(one_hot(q), train.labels, one_hot(q_test), test.labels) > 0.9
    assert mean_r2(np.asarray(one_step_prediction(model, q_test)), test.observations) > 0.99
    assert np.allclose(np.asarray(q_test.probs).sum(-1), 1.0, atol=1e-4)


def test_forecast_of_a_still_system_is_its_current_emission(nascar_pair):
    train, _ = nascar_pair
    model, q = fit_slds(train.observations, 4, SLDSConfig(iterations=2))
    still = eqx.tree_at(lambda m: (m.dynamics, m.offsets), model,
                        (jnp.broadcast_to(jnp.eye(2), (4, 2, 2)), jnp.zeros((4, 2))))  # fmt: skip
    predicted = forecast(still, q, 5)
    assert np.allclose(predicted, q.mean[:-5] @ model.emission.T + model.emission_bias, atol=1e-5)


@pytest.mark.bad_input
def test_bad_inputs_are_one_line_errors(nascar_pair):
    train, _ = nascar_pair
    with pytest.raises(ConfigError, match=r"transitions must be Sticky\(\) or RecurrentOnly\(\)"):
        SLDSConfig(transitions="sticky")  # a name where an object belongs
    with pytest.raises(ConfigError, match="K >= 2"):
        fit_slds(train.observations, 1)
    with pytest.raises(ConfigError, match="exceeds"):
        fit_slds(train.observations[:, :1], 2)
    model, _ = fit_slds(train.observations, 2, SLDSConfig(iterations=1))
    with pytest.raises(DataError, match="the model has 10"):
        infer(model, train.observations[:, :4])
