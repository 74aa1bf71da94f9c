"""Heavy-tailed connectivity: does Connector's distribution keep the tails of the loadings where a Gaussian-mixture
fit does not, while both keep the flow field?

    python experiments/connector_heavy_tails.py --out runs/heavy_tails     # ~30 min on 2 cores (3 seeds)

The ensemble (``heavy_tailed`` in gnode.reproduce.connector.generators): rank 2, 1,000 neurons; m has independent
Student-t components with 3 degrees of freedom (unit variance; excess kurtosis infinite, so a sample's kurtosis
grows with its size); n = Σ_nm m + Gaussian noise with the bistable overlap, so E[n | m] = Σ_nm m. Its flow field is
known: the mean-field field κ̇ = −κ + Σ_nm E[m tanh(mᵀκ)], here by Monte Carlo over 10⁶ draws of m.

Per seed (a fresh network, 400 trials from the 20 × 20 grid, 240 for training as in the pipeline's split):

- **Connector** trained on the true m and latents (its own error, without LINT's), default settings;
- **GMM**: a full-covariance Gaussian mixture of the rows [m_i, n_i], its size chosen by 5-fold cross-validation
  (1–6 components, one-standard-error rule), the usual parametric description of populations.

Read on 100,000 draws of m from each model, against 100,000 fresh draws of the true ensemble: the excess kurtosis
(mean of the two components), the 99 % and 99.9 % quantiles of |m_r|, the sliced 2-Wasserstein distance (POT, 200
projections, 5,000 points a side) to fresh true draws (and between two true draws, the floor). Flow field: the
relative error to the mean-field field on the 30 × 30 grid over ±2.4 of networks of 1,000 neurons sampled from each
(Connector at σ = 1), mean over 5 draws, beside fresh 1,000-neuron draws of the true ensemble (the finite-size floor).
Prints a markdown table, writes heavy_tails.json and heavy_tails.png in --out; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import ot
from scipy.stats import kurtosis
from sklearn.mixture import GaussianMixture

from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.connector.metrics import best_components, gmm_cross_validation
from gnode.connector.model import ConnectorConfig, fit_connector
from gnode.files import pyplot, save_figure, write_json
from gnode.reproduce.connector.experiment import split_trials
from gnode.reproduce.connector.generators import HEAVY_TAILED, make_connectivity, overlap_of, simulate_grid

DRAWS, BIG, NETWORK = 5, 100_000, 1000


def mean_field(grid: np.ndarray, draws: int = 1_000_000) -> np.ndarray:
    """κ̇ = −κ + Σ_nm E[m tanh(mᵀκ)] on the grid, by Monte Carlo."""
    m = make_connectivity(HEAVY_TAILED, draws, seed=999_999).m
    gain = np.stack([(m * np.tanh(m @ k)[:, None]).mean(0) for k in grid])
    return -grid + gain @ overlap_of(HEAVY_TAILED).T


def tail_stats(m: np.ndarray) -> dict[str, float]:
    magnitude = np.abs(m)
    return {"excess_kurtosis": float(np.mean(kurtosis(m, axis=0))),
            "q99": float(np.mean(np.quantile(magnitude, 0.99, axis=0))),
            "q999": float(np.mean(np.quantile(magnitude, 0.999, axis=0)))}  # fmt: skip


def sliced(a: np.ndarray, b: np.ndarray) -> float:
    return float(ot.sliced_wasserstein_distance(a[:5000], b[:5000], n_projections=200, seed=0))


def field_error(reference: np.ndarray, grid: np.ndarray, m: np.ndarray, n: np.ndarray) -> float:
    network = LowRankRNN(jnp.asarray(m, jnp.float32), jnp.asarray(n, jnp.float32))
    return flow_field_error(reference, network.latent_velocity(jnp.asarray(grid, jnp.float32)))


def run_seed(seed: int, grid: np.ndarray, reference: np.ndarray, truth: np.ndarray, ridge_rows: int | None) -> dict:
    c = make_connectivity(HEAVY_TAILED, NETWORK, seed=seed)
    latents = simulate_grid(c.network()).latents
    train = split_trials(latents.shape[0])["train"]
    model, _ = fit_connector(c.m, latents[train], ConnectorConfig(seed=seed, ridge_rows=ridge_rows))
    rows = np.hstack([c.m, c.n])
    k = best_components(gmm_cross_validation(rows, range(1, 7)))
    mixture = GaussianMixture(k, covariance_type="full", random_state=seed).fit(rows)
    big_connector = np.concatenate([np.asarray(model.sample_m(jr.key(10 + i), BIG // 10)) for i in range(10)])
    big_gmm = mixture.sample(BIG)[0][:, :2]
    other_truth = make_connectivity(HEAVY_TAILED, BIG, seed=50_000 + seed).m
    result = {"gmm_components": k, "network": tail_stats(c.m)}
    for name, m in (("Connector", big_connector), ("GMM", big_gmm), ("true ensemble", other_truth)):
        result[name] = {**tail_stats(m), "sliced_w2": sliced(m, truth)}
    fields = {"Connector": [], "GMM": [], "true ensemble": []}
    for d in range(DRAWS):
        m, n = (np.asarray(a) for a in model.sample(jr.key(100 + d), NETWORK, 1.0))
        fields["Connector"].append(field_error(reference, grid, m, n))
        mixture.random_state = 1000 + d
        drawn = mixture.sample(NETWORK)[0]
        fields["GMM"].append(field_error(reference, grid, drawn[:, :2], drawn[:, 2:]))
        fresh = make_connectivity(HEAVY_TAILED, NETWORK, seed=20_000 + d)
        fields["true ensemble"].append(field_error(reference, grid, fresh.m, fresh.n))
    for name, errors in fields.items():
        result[name]["field_error"] = float(np.mean(errors))
    result["samples"] = {"Connector": big_connector[:20_000], "GMM": big_gmm[:20_000]}
    return result


def plot(results: list[dict], truth: np.ndarray, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    first = results[0]["samples"]
    clouds = {"true ensemble": truth[:20_000], **first}
    bins = np.linspace(-8, 8, 161)
    for name, m in clouds.items():
        axes[0].hist(m[:, 0], bins=bins, histtype="step", density=True, label=name)
        values = np.sort(np.abs(m).ravel())
        survival = 1 - np.arange(len(values)) / len(values)
        axes[1].loglog(values, survival, label=name)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("m₁")
    axes[0].set_ylabel("density")
    axes[1].set_xlabel("|m_r|")
    axes[1].set_ylabel("P(|m_r| > x)")
    axes[1].set_xlim(0.5, 30)
    axes[1].set_ylim(1e-5, 1)
    axes[0].legend(fontsize=7)
    axes[0].set_title("loadings, seed 0 (log density)", fontsize=9)
    axes[1].set_title("tails (survival)", fontsize=9)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/heavy_tails"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ridge-rows", type=int, default=None)
    args = parser.parse_args()
    grid = np.asarray(latent_grid(30, 2.4), np.float64)
    reference = mean_field(grid)
    truth = make_connectivity(HEAVY_TAILED, BIG, seed=40_000).m
    results = [run_seed(s, grid, reference, truth, args.ridge_rows) for s in range(args.seeds)]
    floor = sliced(truth, make_connectivity(HEAVY_TAILED, BIG, seed=40_001).m)
    names = ("true ensemble", "Connector", "GMM")
    keys = ("excess_kurtosis", "q99", "q999", "sliced_w2", "field_error")
    table = {name: {k: [r[name][k] for r in results] for k in keys} for name in names}
    print(f"| loadings m | excess kurtosis | 99 % quantile of \\|m_r\\| | 99.9 % quantile | sliced W₂ to the truth "
          f"(floor {floor:.3f}) | flow-field error, 1,000 neurons |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name in names:
        cells = [f"{np.mean(v):.2f} ({np.min(v):.2f}–{np.max(v):.2f})" for v in table[name].values()]
        cells[-1] = " / ".join(f"{100 * v:.1f} %" for v in table[name]["field_error"])
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"GMM components chosen: {[r['gmm_components'] for r in results]}; 1,000-neuron networks drawn: "
          f"kurtosis {[round(r['network']['excess_kurtosis'], 1) for r in results]}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, truth, args.out / "heavy_tails.png")
    summary = {"floor_sliced_w2": floor, "table": table, "gmm_components": [r["gmm_components"] for r in results],
               "networks": [r["network"] for r in results], "ridge_rows": args.ridge_rows}  # fmt: skip
    write_json(args.out / "heavy_tails.json", summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
