import jax.numpy as jnp
import numpy as np
import pytest

from gnode.errors import ConfigError, DataError
from gnode.gdm.arhmm import ARHMMConfig, arhmm_forecast, arhmm_one_step, arhmm_states, fit_arhmm
from gnode.gdm.metrics import mean_r2, state_accuracy
from gnode.reproduce.gdm.nascar import nascar


def test_arhmm_segments_standard_nascar_on_a_new_sequence():
    train, test = nascar("standard", seed=1), nascar("standard", seed=2)
    model = fit_arhmm(train.observations, 4, ARHMMConfig(iterations=30))
    probs = [np.asarray(arhmm_states(model, d.observations)) for d in (train, test)]
    one_hot = [np.eye(4)[p.argmax(-1)] for p in probs]
    assert state_accuracy(one_hot[0], train.labels, one_hot[1], test.labels) > 0.9
    y = jnp.asarray(test.observations)
    assert mean_r2(np.asarray(arhmm_one_step(model, y, probs[1])), test.observations) > 0.99
    assert arhmm_forecast(model, y, probs[1], 10).shape == (990, 10)
    with pytest.raises(DataError, match="the model has 10"):
        arhmm_states(model, test.observations[:, :3])


def test_rank_deficient_observations_give_finite_parameters():
    data = nascar("soft_sticky", seed=0).observations  # ten channels spanning two dimensions
    model = fit_arhmm(data, 4, ARHMMConfig(iterations=5))
    assert all(
        bool(np.isfinite(np.asarray(leaf)).all()) for leaf in (model.weights, model.covs, model.transition_matrix)
    )


def test_bad_settings_are_one_line_errors():
    data = nascar("standard", time=50).observations
    with pytest.raises(ConfigError, match="K >= 2"):
        fit_arhmm(data, 1)
    with pytest.raises(ConfigError, match="iterations > 0"):
        ARHMMConfig(iterations=0)
