"""One GDM training iteration at one and two threads: gnode against a PyTorch step written as the authors' code is.

    pip install -e '.[bench]'          # torch==2.13.0 (CPU build)
    python benchmarks/gdm_steps.py     # ~5 min on 2 cores; --no-torch without PyTorch

Two units of work, each one ELBO gradient step with M = 10 posterior samples, global-norm clipping and AdamW:

- **standard**: one sequence of standard NASCAR, T = 1000, N = 10, K = 4, D = 2 (the authors' Table 1 setting);
- **batched**: 100 trials × 200 steps (the same system cut into trials, all trials in every step), padded and
  masked like the authors' batched code.

gnode: ``fit_gdm`` run for 100 and for 400 iterations (best of 3 each); the difference over 300 iterations is the
time per iteration, free of compilation. PyTorch (the authors' library): the same model, posterior and objective,
vectorised over time and samples the way the authors' ``GenerativeSLDS`` / ``GSVariational`` / ``fit_bbvi_schedule``
are — ``RelaxedOneHotCategorical`` log-densities summed over time, ``Normal`` emissions, eager autograd,
``clip_grad_norm_``, ``torch.optim.AdamW`` — timed over 100 steps after 20 warm-up steps (best of 3).

One thread: each measurement runs in its own process pinned by ``taskset -c 0``, with XLA's single-threaded Eigen
(``--xla_cpu_multi_thread_eigen=false``) and ``torch.set_num_threads(1)``. Two
threads: both cores, ``torch.set_num_threads(2)``. The last line printed is JSON.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import threads_benchmark

CASES = {"standard": (1, 1000), "batched": (100, 200)}  # trials, steps


def observations(case: str) -> np.ndarray:
    from gnode.reproduce.gdm.nascar import nascar, nascar_trials

    trials, steps = CASES[case]
    if trials == 1:
        return nascar("standard", seed=0).observations[None].astype(np.float32)
    return np.stack([p.observations for p in nascar_trials(trials=trials, time=steps, seed=0)]).astype(np.float32)


def gnode_seconds(y: np.ndarray) -> float:
    import jax
    import jax.random as jr

    from gnode.gdm import GDM, GDMFitConfig, fit_gdm, switching_data
    from gnode.gdm.posterior import make_posterior

    data = switching_data(y)

    def fit(iterations: int) -> float:
        k1, k2 = jr.split(jr.key(0))
        config = GDMFitConfig(max_iterations=iterations, tolerance=-np.inf)
        tick = time.perf_counter()
        jax.block_until_ready(fit_gdm(data, GDM(10, 4, key=k1), make_posterior("linear", 10, 4, key=k2), config)[:2])
        return time.perf_counter() - tick

    short, long = (min(fit(n) for _ in range(3)) for n in (100, 400))
    return (long - short) / 300


def torch_seconds(y: np.ndarray) -> float:
    import torch
    from torch.distributions import Normal, RelaxedOneHotCategorical

    torch.manual_seed(0)
    trials, steps, n = y.shape
    k, d, samples, tau = 4, 2, 10, 0.99
    data = torch.from_numpy(y)
    mask = torch.ones(trials, steps)

    class Generative(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("projection", 0.1 * torch.randn(d, n))
            self.transition_weight = torch.nn.Parameter(torch.randn(k, d))
            self.transition_bias = torch.nn.Parameter(torch.zeros(k))
            self.stickiness = torch.nn.Parameter(torch.tensor(0.1))
            self.initial_logits = torch.nn.Parameter(torch.zeros(k))
            rotations = torch.linalg.qr(torch.randn(k, d, d))[0]
            self.dynamics = torch.nn.Parameter(torch.randn(n, d) @ rotations)
            self.offsets = torch.nn.Parameter(torch.zeros(k, n))
            self.initial_means = torch.nn.Parameter(torch.randn(k, n))
            self.log_variance = torch.nn.Parameter(torch.rand(n) - 1)

        def log_transition_likelihoods(self, z, y):  # z: (M, B, T, K); summed over time
            x = y @ self.projection.T
            recurrent = x[:, :-1] @ self.transition_weight.T + self.transition_bias
            after = (1 - self.stickiness) * recurrent + self.stickiness * z[:, :, :-1]
            logits = torch.cat([self.initial_logits.expand(*z.shape[:2], 1, k), after], dim=2)
            return (RelaxedOneHotCategorical(torch.tensor(tau), logits=logits).log_prob(z) * mask).sum(-1)

        def log_emission_likelihood(self, z, y):
            x = y @ self.projection.T
            after = torch.einsum("knd,btd->btkn", self.dynamics, x[:, :-1]) + self.offsets
            means = torch.cat([self.initial_means.expand(trials, 1, k, n), after], dim=1)
            mixed = torch.einsum("mbtk,btkn->mbtn", z, means)
            return (Normal(mixed, torch.exp(0.5 * self.log_variance)).log_prob(y).sum(-1) * mask).sum(-1)

    class Variational(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(0.8 * torch.randn(k, n))
            self.bias = torch.nn.Parameter(torch.zeros(k))

        def distribution(self, y):
            logits = (y @ self.weight.T + self.bias).expand(samples, trials, steps, k)
            return RelaxedOneHotCategorical(torch.tensor(tau), logits=logits)

    model, posterior = Generative(), Variational()
    parameters = [*model.parameters(), *posterior.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-2, weight_decay=1e-4)

    def step():
        optimizer.zero_grad()
        q = posterior.distribution(data)
        z = q.rsample()
        log_pz = model.log_transition_likelihoods(z, data)
        log_py = model.log_emission_likelihood(z, data)
        log_qz = (q.log_prob(z) * mask).sum(-1)
        usage = z.mean(dim=(0, 1, 2))
        loss = -((log_pz + log_py - log_qz).mean() - (usage * usage.log()).sum())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()

    for _ in range(20):
        step()
    best = np.inf
    for _ in range(3):
        tick = time.perf_counter()
        for _ in range(100):
            step()
        best = min(best, (time.perf_counter() - tick) / 100)
    return best


def seconds(case: str, implementation: str) -> float:
    y = observations(case)
    return gnode_seconds(y) if implementation == "gnode" else torch_seconds(y)


if __name__ == "__main__":
    threads_benchmark(__doc__, __file__, CASES, seconds, digits=2)
