"""Connector's two training stages at one and two threads: gnode against PyTorch steps written as the authors' code is.

    pip install -e '.[bench]'              # torch==2.13.0 (CPU build)
    python benchmarks/connector_steps.py   # ~6 min on 2 cores; --no-torch without PyTorch

Units of work, on the quadstable set (1,000 neurons, rank 2; 240 training trials × 99 steps, the pipeline's split):

- **m-flow epoch**: 15 AdamW steps of conditional flow matching on minibatches of 64 of the 1,000 rows of M (the
  velocity MLP: [x, t] → 4 hidden layers of 128, swish);
- **n-flow step, every row**: draw S = 1,000 loadings from the m-flow (20 explicit-midpoint steps), solve the ridge
  regression (A3) on all 23,760 trial steps, one flow-matching step of the conditional n-flow — the authors' work;
- **n-flow step, 4,000 rows**: the same with the ridge on 4,000 trial steps drawn afresh each step, weighted to stand
  for all (``ConnectorConfig.ridge_rows``, gnode's default; experiments/connector_ridge_rows.py shows the targets
  move by < 1 %), in both implementations.

gnode: ``fit_connector``'s own per-epoch and per-iteration wall times (median, compilation excluded). PyTorch: the
same MLPs, CondOT path and midpoint sampler as the authors' code with Meta's ``flow_matching`` (written out here, the
same arithmetic), ``torch.linalg.solve`` on the Gram matrix, ``AdamW``; median of 10 after 3 warm-up units. One
thread: each measurement in its own process pinned by ``taskset -c 0``, XLA's single-threaded Eigen and
``torch.set_num_threads(1)``; two threads: both cores. The last line printed is JSON.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import threads_benchmark

CASES = ("m-flow epoch", "n-flow step, every row", "n-flow step, 4,000 rows")
ROWS = {CASES[1]: None, CASES[2]: 4000}
TRAIN_TRIALS, SAMPLES, BATCH = 240, 1000, 64


def data() -> tuple[np.ndarray, np.ndarray]:
    from gnode.reproduce.connector.experiment import split_trials
    from gnode.reproduce.connector.generators import make_connectivity, simulate_grid

    c = make_connectivity("quadstable")
    latents = simulate_grid(c.network()).latents
    train = split_trials(latents.shape[0])["train"]
    assert len(train) == TRAIN_TRIALS
    return c.m.astype(np.float32), latents[train].astype(np.float32)


def gnode_seconds(case: str) -> float:
    from gnode.connector.model import ConnectorConfig, fit_connector

    m, latents = data()
    rows = ROWS.get(case)
    units = 11
    epochs = (units, 1) if case == CASES[0] else (1, units)
    config = ConnectorConfig(m_epochs=epochs[0], n_epochs=epochs[1], samples=SAMPLES, ridge_rows=rows)
    _, history = fit_connector(m, latents, config)
    return float(np.median(history["m_seconds" if case == CASES[0] else "n_seconds"][1:]))


def torch_seconds(case: str) -> float:
    import torch

    torch.manual_seed(0)
    m_rows, latents = (torch.from_numpy(a) for a in data())

    def mlp(dim: int, condition: int) -> torch.nn.Module:
        layers, width = [], dim + condition + 1
        for _ in range(4):
            layers += [torch.nn.Linear(width, 128), torch.nn.SiLU()]
            width = 128
        return torch.nn.Sequential(*layers, torch.nn.Linear(128, dim))

    def velocity(net, x, t, c=None):
        parts = [x] if c is None else [x, c]
        return net(torch.cat([*parts, t.expand(x.shape[0], 1) if t.dim() == 0 else t[:, None]], dim=1))

    def cfm(net, x1, c=None):
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0])
        xt = t[:, None] * x1 + (1 - t[:, None]) * x0  # CondOT path (flow_matching's AffineProbPath)
        return ((velocity(net, xt, t, c) - (x1 - x0)) ** 2).mean()

    m_flow, n_flow = mlp(2, 0), mlp(2, 2)
    m_opt = torch.optim.AdamW(m_flow.parameters(), lr=1e-3, weight_decay=1e-5)
    n_opt = torch.optim.AdamW(n_flow.parameters(), lr=1e-3, weight_decay=1e-5)

    def m_epoch():
        order = torch.randperm(m_rows.shape[0])
        for b in range(m_rows.shape[0] // BATCH):
            m_opt.zero_grad()
            cfm(m_flow, m_rows[order[b * BATCH : (b + 1) * BATCH]]).backward()
            m_opt.step()

    alpha, ridge = 0.1, 1e-4

    def n_step():
        with torch.no_grad():  # the midpoint sampler of flow_matching's ODESolver, step 0.05
            x, h = torch.randn(SAMPLES, 2), 0.05
            for i in range(20):
                t = torch.tensor(i * h)
                x = x + h * velocity(m_flow, x + 0.5 * h * velocity(m_flow, x, t), t + 0.5 * h)
            m = x
            k = latents[:, :-1].reshape(-1, 2)
            y = (latents[:, 1:] - (1 - alpha) * latents[:, :-1]).reshape(-1, 2)
            weight = 1.0
            if ROWS.get(case):  # the same subsample as gnode's, for the same work
                weight = k.shape[0] / ROWS[case]
                picked = torch.randint(k.shape[0], (ROWS[case],))
                k, y = k[picked], y[picked]
            features = torch.tanh(k @ m.T)
            scale = alpha / SAMPLES
            gram = weight * scale**2 * features.T @ features + ridge * torch.eye(SAMPLES)
            targets = torch.linalg.solve(gram, weight * scale * features.T @ y)
        n_opt.zero_grad()
        cfm(n_flow, targets, m).backward()
        n_opt.step()

    unit = m_epoch if case == CASES[0] else n_step
    for _ in range(3):
        unit()
    times = []
    for _ in range(10):
        tick = time.perf_counter()
        unit()
        times.append(time.perf_counter() - tick)
    return float(np.median(times))


def seconds(case: str, implementation: str) -> float:
    return gnode_seconds(case) if implementation == "gnode" else torch_seconds(case)


if __name__ == "__main__":
    threads_benchmark(__doc__, __file__, CASES, seconds)
