"""Per-iteration fit time of GDM and the switching-system baselines on standard NASCAR (T = 1000, N = 10, K = 4).

    python benchmarks/gdm_fit.py

Each model is fitted for a short and a long run (the best of 3 wall times each, waiting for JAX's asynchronous
dispatch to finish); the difference of the two divided by the difference of their iterations is the time per
iteration, free of compilation and initialisation. GDM: one ELBO gradient step with M = 10 posterior samples;
SLDS / rSLDS: one variational EM iteration (Gaussian chain + HMM smoothing + M-step); ARHMM: one EM iteration. The
last line printed is JSON.
"""

from __future__ import annotations

import json
import time

import jax
import jax.random as jr
import numpy as np

from gnode.gdm.arhmm import ARHMMConfig, fit_arhmm
from gnode.gdm.fit import GDMFitConfig, fit_gdm
from gnode.gdm.model import GDM
from gnode.gdm.posterior import make_posterior
from gnode.gdm.slds import RecurrentOnly, SLDSConfig, Sticky, fit_slds
from gnode.reproduce.gdm.nascar import nascar


def seconds(fit, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        tick = time.perf_counter()
        jax.block_until_ready(fit())
        best = min(best, time.perf_counter() - tick)
    return best


def per_iteration(fit, short: int, long: int) -> float:
    return (seconds(lambda: fit(long)) - seconds(lambda: fit(short))) / (long - short)


def main() -> None:
    y = nascar("standard", seed=0).observations

    def gdm(kind):
        def fit(iterations):
            k1, k2 = jr.split(jr.key(0))
            config = GDMFitConfig(max_iterations=iterations, tolerance=-np.inf)
            return fit_gdm(y, GDM(10, 4, key=k1), make_posterior(kind, 10, 4, key=k2), config)[:2]

        return fit

    fits = {
        "gdm (linear posterior)": (gdm("linear"), 200, 1000),
        "gdm (GRU posterior)": (gdm("gru"), 200, 600),
        "slds": (lambda n: fit_slds(y, 4, SLDSConfig(Sticky(), iterations=n)), 10, 60),
        "rslds": (lambda n: fit_slds(y, 4, SLDSConfig(RecurrentOnly(), iterations=n)), 10, 60),
        "arhmm": (lambda n: fit_arhmm(y, 4, ARHMMConfig(iterations=n)), 20, 520),
    }
    result = {}
    for name, (fit, short, long) in fits.items():
        fit(short)  # warm-up: imports and caches (each fit compiles anew; the difference cancels it)
        result[name] = per_iteration(fit, short, long)
        print(f"{name}: {1e3 * result[name]:.2f} ms per iteration")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
