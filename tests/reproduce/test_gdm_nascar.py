import numpy as np
import pytest

from gnode.errors import ConfigError
from gnode.reproduce.gdm.nascar import nascar


def test_standard_nascar_switches_hard_around_the_track():
    data = nascar("standard", seed=1)
    assert data.observations.shape == (1000, 10) and data.states.shape == (1000, 4)
    assert np.allclose(data.states.max(-1), 1.0, atol=1e-6)  # temperature 0.01: hard states
    frequencies = np.bincount(data.labels, minlength=4) / 1000
    assert np.allclose(frequencies, [0.24, 0.22, 0.38, 0.16], atol=0.02)  # the authors' label frequencies
    assert 35 <= data.switches <= 43  # the authors' sequence: 39 switches
    assert np.abs(data.latents[:, 0]).max() == pytest.approx(3.0, abs=0.25)  # the rotations about (±2, 0), radius 1
    residual = data.observations - data.latents @ data.emission.T
    assert residual.std() == pytest.approx(0.01, rel=0.1)


def test_soft_sticky_states_are_soft_and_switch_often():
    data = nascar("soft_sticky", seed=1)
    assert 0.65 < data.states.max(-1).mean() < 0.8  # the authors': 0.73
    assert 300 < data.switches < 600  # the authors': about 440
    assert np.allclose(data.states.sum(-1), 1.0)


def test_seeds_change_the_path_but_not_the_emission():
    a, b = nascar("soft_sticky", seed=1), nascar("soft_sticky", seed=2)
    assert np.array_equal(a.emission, b.emission) and not np.allclose(a.latents, b.latents)
    same = nascar("soft_sticky", seed=1)
    assert np.array_equal(a.observations, same.observations)  # deterministic


def test_linderman_nascar_has_dynamics_noise_and_hard_states():
    data = nascar("linderman", time=2000, seed=0)
    assert set(np.unique(data.states)) == {0.0, 1.0} and data.switches > 20


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown NASCAR variant"):
        nascar("daytona")
    with pytest.raises(ConfigError, match="time >= 2"):
        nascar(time=1)
