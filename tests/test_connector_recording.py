"""Connector on a recording: the boundary (rates, spikes, inputs), networks with inputs in latent form, and the
pipeline fit -> save -> load -> evaluate -> choose the rank, on a recording of a known rank-2 network."""

import json

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode.connector.identify import ridge_loadings
from gnode.connector.lint import LintConfig, latents_of
from gnode.connector.lowrank import LowRankRNN, input_drive
from gnode.connector.model import ConnectorConfig, ridge_targets
from gnode.connector.recording import RateScale, load_recording, recording, smooth_spikes
from gnode.connector.runs import (
    RecordingConfig,
    evaluate_recording,
    fit_recording,
    load_recording_fit,
    project,
    reconstruction_r2,
    select_rank,
    split_trials,
)
from gnode.datasets.nwb import causal_smooth
from gnode.errors import ConfigError, DataError
from gnode.files import save_arrays

NEURONS, TRIALS, TIME = 120, 40, 30


def network_with_inputs(inputs: int = 1, seed: int = 0) -> LowRankRNN:
    """A rank-2 network with four fixed points (Connector's quadstable means) and random input weights."""
    rng = np.random.default_rng(seed)
    centres_m = np.array([[-0.87, 0.87], [-0.87, -0.87], [0.87, -0.87], [0.87, 0.87]])
    population = np.arange(NEURONS) % 4
    m = centres_m[population] + 0.5 * rng.normal(size=(NEURONS, 2))
    n = 2.65 * centres_m[population] + rng.normal(size=(NEURONS, 2))
    b = rng.normal(size=(NEURONS, inputs)) if inputs else None
    as32 = lambda a: None if a is None else jnp.asarray(a, jnp.float32)  # noqa: E731
    return LowRankRNN(as32(m), as32(n), inputs=as32(b))


def simulate(network: LowRankRNN, seed: int = 0, trials: int = TRIALS):
    """Trials from random latent starts: potentials (trials, time, neurons) and inputs (or None)."""
    rng = np.random.default_rng(seed)
    kappa0 = rng.uniform(-2, 2, size=(trials, 2)).astype(np.float32)
    width = 0 if network.inputs is None else network.inputs.shape[1]
    u = (0.5 * rng.normal(size=(trials, TIME, width))).astype(np.float32)
    h = jax.vmap(lambda k, x: network.simulate(network.m @ k, TIME - 1, x[:-1] if width else None))(kappa0, u)
    return np.asarray(h), (u if width else None)


def in_hertz(potentials: np.ndarray) -> np.ndarray:
    return 20 * (np.tanh(potentials) + 1)  # 0–40 Hz: not tanh's range, so the rate map is exercised


# ----- the boundary


def test_spikes_are_smoothed_causally_and_divided_by_the_bin():
    spikes = np.random.default_rng(0).poisson(0.3, size=(2, 50, 3)).astype(float)
    rates = smooth_spikes(spikes, bin_seconds=0.02, sigma_seconds=0.1)
    # past the kernel's 4 sd (20 bins) the kernel lies inside the trial: a plain causal Gaussian mean
    np.testing.assert_allclose(rates[1, 20:], causal_smooth(spikes[1], 5.0)[20:] / 0.02, rtol=1e-5)
    np.testing.assert_allclose(rates[:, 0], spikes[:, 0] / 0.02, rtol=1e-5)  # the first bin: itself alone
    data = recording(spikes=spikes, bin_seconds=0.02)
    np.testing.assert_allclose(data.rates, rates)
    later = spikes.copy()
    later[:, 30:] += 5  # a change at step 30 leaves every earlier rate alone
    np.testing.assert_array_equal(smooth_spikes(later, 0.02)[:, :30], rates[:, :30])


def test_the_rate_map_sends_each_neurons_range_onto_minus_to_plus_limit():
    rates = np.random.default_rng(1).uniform(0, 50, size=(4, 10, 5)).astype(np.float32)
    rates[..., 4] = 7.0  # a neuron that never changes
    scale = RateScale.fit(rates, limit=0.8, quantile=0.0)
    mapped = scale(rates)
    np.testing.assert_allclose(mapped[..., :4].min(axis=(0, 1)), -0.8, atol=1e-6)
    np.testing.assert_allclose(mapped[..., :4].max(axis=(0, 1)), 0.8, atol=1e-6)
    np.testing.assert_array_equal(mapped[..., 4], 0.0)
    robust = RateScale.fit(rates, limit=0.8, quantile=0.1)(rates)  # 10 % of bins beyond ±0.8 on each side
    np.testing.assert_allclose(np.mean(robust[..., :4] > 0.8, axis=(0, 1)), 0.1, atol=0.03)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({}, "give either rates or spikes"),
        ({"rates": np.zeros((2, 5, 3)), "spikes": np.zeros((2, 5, 3))}, "not both"),
        ({"rates": np.zeros((5, 3))}, "must have shape"),
        ({"rates": np.full((2, 5, 3), np.nan)}, "NaN"),
        ({"spikes": -np.ones((2, 5, 3))}, "non-negative"),
        ({"rates": np.zeros((2, 1, 3))}, "two steps"),
        ({"rates": np.zeros((2, 5, 3)), "inputs": np.zeros((2, 4, 1))}, "do not match"),
        ({"rates": np.array([["a"]])}, "real numbers"),
    ],
)
def test_malformed_recordings_get_one_line(arrays, message):
    with pytest.raises(DataError, match=message) as error:
        recording(arrays.get("rates"), spikes=arrays.get("spikes"), inputs=arrays.get("inputs"))
    assert "\n" not in str(error.value)


def test_recording_files(tmp_path):
    save_arrays(
        tmp_path / "ok.npz", spikes=np.ones((2, 20, 3)), inputs=np.zeros((2, 20, 1)), bin_seconds=np.array(0.05)
    )
    data = load_recording(tmp_path / "ok.npz")
    # one spike per 50 ms bin: 20 Hz everywhere, the first bins too (the kernel renormalised inside the trial)
    np.testing.assert_allclose(data.rates, 20.0, rtol=1e-5)
    assert data.num_inputs == 1
    save_arrays(tmp_path / "odd.npz", rates=np.ones((2, 6, 3)), weights=np.ones(3))
    with pytest.raises(DataError, match="unknown arrays"):
        load_recording(tmp_path / "odd.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="unreadable"):
        load_recording(tmp_path / "junk.npz")


# ----- networks with inputs in latent form


def test_a_network_with_inputs_is_its_latents_plus_its_filtered_inputs():
    network = network_with_inputs(inputs=2)
    h, u = simulate(network, trials=6)
    drive = np.asarray(input_drive(u, network.alpha))
    kappa = np.asarray(latents_of(network, h, drive))
    # h_t = M κ_t + B ũ_t exactly when h_0 = M κ_0, and κ follows (A1) with b_iᵀ ũ_t inside φ
    np.testing.assert_allclose(h, kappa @ np.asarray(network.m).T + drive @ np.asarray(network.inputs).T, atol=2e-5)
    rebuilt = np.asarray(network.simulate_latent(jnp.asarray(kappa[:, 0]), TIME - 1, jnp.asarray(drive)))
    np.testing.assert_allclose(rebuilt, kappa, atol=2e-5)
    # the filter: ũ_0 = 0, ũ_{t+1} = (1 − α) ũ_t + α u_t
    np.testing.assert_array_equal(drive[:, 0], 0)
    np.testing.assert_allclose(drive[:, 5], 0.9 * drive[:, 4] + 0.1 * u[:, 4], rtol=1e-6)


def test_ridge_with_inputs_recovers_n_and_matches_in_jax():
    network = network_with_inputs(inputs=1)
    h, u = simulate(network, trials=30)
    drive = np.asarray(input_drive(u, network.alpha))
    kappa = np.asarray(latents_of(network, h, drive))
    loadings = np.hstack([np.asarray(network.m), np.asarray(network.inputs)])
    estimate = ridge_loadings(kappa, loadings, ridge=1e-12, drive=drive)
    # the fit is exact on the span the rates explore: the dynamics it implies are the network's
    rebuilt = LowRankRNN(network.m, jnp.asarray(estimate, jnp.float32), inputs=network.inputs)
    kappa_t = jnp.asarray(kappa[:, :-1])
    np.testing.assert_allclose(
        rebuilt.latent_velocity(kappa_t, drive[:, :-1]), network.latent_velocity(kappa_t, drive[:, :-1]), atol=2e-3
    )
    in_jax = ridge_targets(jnp.asarray(kappa), jnp.asarray(loadings, jnp.float32), 0.1, 1e-2, jnp.asarray(drive))
    np.testing.assert_allclose(in_jax, ridge_loadings(kappa, loadings, ridge=1e-2, drive=drive), rtol=2e-3, atol=2e-3)
    with pytest.raises(DataError, match="drive"):
        ridge_loadings(kappa, loadings, drive=drive * np.nan)


def test_the_true_network_reconstructs_its_own_recording_exactly():
    network = network_with_inputs(inputs=1)
    h, u = simulate(network, trials=5)
    data = recording(np.tanh(h), inputs=u)
    identity = RateScale(np.zeros(NEURONS, np.float32), np.ones(NEURONS, np.float32))
    latents, drive = project(network, identity, data)
    scores = reconstruction_r2(network, network, identity, data, latents, drive)
    # exact but for the potentials clipped at arctanh(±0.999) (rates saturated beyond it)
    assert scores["latent_r2"] > 0.999 and scores["rate_r2"] > 0.999, scores


# ----- the pipeline


SMALL = RecordingConfig(
    lint=LintConfig(epochs=400, lr=3e-3, batch=8),
    connector=ConnectorConfig(m_epochs=60, n_epochs=60, samples=150, width=32, depth=2, batch=32),
)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    network = network_with_inputs(inputs=1)
    h, u = simulate(network)
    data = recording(in_hertz(h), inputs=u)
    out = tmp_path_factory.mktemp("fit")
    return data, out, fit_recording(data, SMALL, out)


def test_a_fit_of_a_recording_saves_loads_and_reconstructs_held_out_trials(fitted):
    data, out, fit = fitted
    assert {p.name for p in out.iterdir()} >= {"lint.npz", "ridge.npz", "connector.npz", "fit.json"}
    again = load_recording_fit(out)
    np.testing.assert_array_equal(again.lint.m, fit.lint.m)
    np.testing.assert_array_equal(again.ridge, fit.ridge)
    key = jr.key(3)
    np.testing.assert_array_equal(again.connector.sample(key, 20)[1], fit.connector.sample(key, 20)[1])
    assert fit.connector.inputs == 2 and fit.loadings.shape == (NEURONS, 4)  # [m_i, b_i, d_i]
    summary = evaluate_recording(fit, data, draws=2, count=200, components=range(1, 4))
    assert summary["trials"] == [int(t) for t in fit.split["test"]]
    recon = summary["reconstruction"]
    # LINT and the ridge network rebuild held-out trials of a rank-2 network from their first latent state
    assert recon["LINT"]["rate_r2"] > 0.8 and recon["ridge (A3)"]["latent_r2"] > 0.9, recon
    # networks sampled from Connector (new neurons, read out through the recorded ones) keep most of it
    assert recon["Connector σ=0"]["latent_r2"] > 0.3, recon  # a tiny Connector (60 + 60 iterations)
    assert all(np.isfinite(v) for v in summary["flow_field_error"].values())


def test_a_rerun_in_the_same_folder_resumes_and_other_data_refits(fitted, tmp_path):
    data, out, fit = fitted
    stamp = (out / "connector.npz").stat().st_mtime_ns
    again = fit_recording(data, SMALL, out)
    assert (out / "connector.npz").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.lint.n, fit.lint.n)


def test_splits_and_settings_are_checked():
    parts = split_trials(10, 0.2, 0.2, seed=0)
    assert sorted(np.concatenate(list(parts.values()))) == list(range(10)) and len(parts["train"]) == 6
    with pytest.raises(DataError, match="none to train on"):
        split_trials(2, 0.5, 0.5, seed=0)
    with pytest.raises(ConfigError, match="test_fraction"):
        RecordingConfig(test_fraction=0.6, val_fraction=0.5)
    with pytest.raises(ConfigError, match="limit"):
        RecordingConfig(limit=1.0)
    with pytest.raises(ConfigError, match="fewer than the m-flow's batch"):
        fit_recording(recording(np.ones((5, 4, 10))), RecordingConfig(), "unused")


def test_the_rank_of_a_rank_two_recording_is_chosen_by_held_out_reconstruction():
    network = network_with_inputs(inputs=0)
    h, _ = simulate(network, seed=2, trials=30)
    config = RecordingConfig(lint=LintConfig(epochs=200, lr=3e-3, batch=8))
    result = select_rank(recording(in_hertz(h)), config, ranks=(1, 2, 3), folds=3)
    means = {row["rank"]: row["mean"] for row in result["rows"]}
    assert result["chosen"]["rank"] == 2, means
    assert means[2] > means[1] + 0.05, means


# ----- the command line


def _invoke(*args):
    from typer.testing import CliRunner

    from gnode.cli.main import app

    return CliRunner().invoke(app, ["connector", *map(str, args)])


TINY = ["--lint-epochs", "20", "--m-epochs", "5", "--n-epochs", "5", "--samples", "50", "--batch", "32"]


def test_the_command_line_fits_evaluates_samples_and_selects(tmp_path):
    network = network_with_inputs(inputs=1)
    h, u = simulate(network, trials=20)
    np.savez(tmp_path / "rec.npz", rates=in_hertz(h), inputs=u)
    fit = tmp_path / "fit"
    result = _invoke("fit", "--data", tmp_path / "rec.npz", "--out", fit, *TINY)
    assert result.exit_code == 0, result.output
    result = _invoke("evaluate", "--out", fit, "--data", tmp_path / "rec.npz", "--samples", "100", "--draws", "1")
    assert result.exit_code == 0, result.output
    summary = json.loads((fit / "evaluation.json").read_text())
    assert set(summary["reconstruction"]) == {"LINT", "ridge (A3)", "Connector σ=1", "Connector σ=0"}
    assert {"evaluation.md", "gmm_cv.png", "flow_fields.png"} <= {p.name for p in fit.iterdir()}
    assert _invoke("sample", "--out", fit, "--count", "30").exit_code == 0
    assert np.load(fit / "samples.npz")["m"].shape == (30, 4)  # [m_i, b_i, d_i]: rank 2, one input, the bias
    chosen = tmp_path / "ranks"
    result = _invoke("select", "--data", tmp_path / "rec.npz", "--out", chosen, "--ranks", "1,2", "--folds", "2",
                     "--lint-epochs", "5", "--lint-batch", "5")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["rank"] for r in json.loads((chosen / "selection.json").read_text())["rows"]] == [1, 2]


@pytest.mark.bad_input
def test_bad_recordings_and_requests_are_one_line_errors_that_write_nothing(tmp_path):
    network = network_with_inputs(inputs=0)
    h, _ = simulate(network, trials=20)
    np.savez(tmp_path / "rec.npz", rates=in_hertz(h))
    np.savez(tmp_path / "nan.npz", rates=np.full((3, 5, 40), np.nan))
    np.savez(tmp_path / "few.npz", rates=np.ones((3, 5, 10)))
    out = tmp_path / "out"
    cases = [
        (["fit", "--data", tmp_path / "nan.npz", "--out", out], "NaN"),
        (["fit", "--data", tmp_path / "few.npz", "--out", out], "fewer than the m-flow's batch"),
        (["fit", "--data", tmp_path / "none.npz", "--out", out], "no such file"),
        (["fit", "--data", tmp_path / "rec.npz", "--out", out, "--limit", "1.5"], "limit"),
        (["fit", "--data", tmp_path / "rec.npz", "--out", out, "--rank", "0"], "positive"),
        (["evaluate", "--out", tmp_path / "nothing", "--data", tmp_path / "rec.npz"], "no fit.json"),
        (["select", "--data", tmp_path / "rec.npz", "--out", out, "--folds", "50"], "cannot make 50 folds"),
        (["select", "--data", tmp_path / "rec.npz", "--out", out, "--ranks", "0,1"], "positive ranks"),
    ]
    for args, message in cases:
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert not out.exists() and not (tmp_path / "nothing").exists()
    fit = tmp_path / "fit"
    assert _invoke("fit", "--data", tmp_path / "rec.npz", "--out", fit, *TINY).exit_code == 0
    np.savez(tmp_path / "other.npz", rates=np.ones((2, 5, 7)))
    before = sorted(p.name for p in fit.iterdir())
    result = _invoke("evaluate", "--out", fit, "--data", tmp_path / "other.npz")
    assert result.exit_code == 2 and "7 neurons, the fit has 120" in result.output, result.output
    assert sorted(p.name for p in fit.iterdir()) == before
