"""Shared pieces of the benchmarks: configs, timing, flop counts, the matmul peak."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

# name: (state N, hidden widths of F, batch, time steps, input channels)
CONFIGS = {
    "overhead": dict(n=4, widths=(32, 32), batch=8, steps=100, channels=3),
    "three_bit": dict(n=6, widths=(100, 100, 100), batch=100, steps=100, channels=3),
    "two_d": dict(n=2, widths=(316, 316), batch=100, steps=100, channels=2),
}


def best_time(fn, repeats: int = 5, min_seconds: float = 0.2) -> float:
    """Best-of-``repeats`` seconds per call; each repeat runs ``fn`` until ``min_seconds`` have passed."""
    return compare({"fn": fn}, rounds=repeats, min_seconds=min_seconds)["fn"]


def compare(fns: dict, rounds: int = 11, min_seconds: float = 0.3) -> dict[str, float]:
    """Best seconds per call of each function, timed in interleaved rounds so that a noisy machine
    affects all of them alike (ratios are what the benchmarks report)."""
    for fn in fns.values():
        fn()  # warm-up (compilation)
    best = dict.fromkeys(fns, np.inf)
    for _ in range(rounds):
        for name, fn in fns.items():
            calls, tick = 0, time.perf_counter()
            while True:
                fn()
                calls += 1
                elapsed = time.perf_counter() - tick
                if elapsed >= min_seconds:
                    break
            best[name] = min(best[name], elapsed / calls)
    return best


def train_step_flops(n: int, widths: tuple[int, ...], batch: int, steps: int, channels: int) -> float:
    """Matmul flops of one gnODE train step: forward (F, G, readout) times 3 (forward + two backward products)."""
    sizes = (n, *widths, n)
    flow = channels * sizes[1] + sum(a * b for a, b in itertools.pairwise(sizes))
    gate = (n + channels) * n
    readout = n * n
    return 3 * 2.0 * batch * steps * (flow + gate + readout)


def matmul_gflops(m: int, k: int, repeats: int = 100) -> float:
    """JAX's fp32 rate for a chain of ``repeats`` dependent (m x k) @ (k x k) matmuls in one ``lax.scan``
    (no dispatch cost): the ceiling for a recurrent layer of that shape."""
    import jax
    import jax.numpy as jnp

    a, w = jnp.ones((m, k), jnp.float32), jnp.full((k, k), 1.0 / k, jnp.float32)
    chain = jax.jit(lambda x, y: jax.lax.scan(lambda c, _: (c @ y, None), x, None, length=repeats)[0])
    return 2 * m * k * k * repeats / best_time(lambda: chain(a, w).block_until_ready()) / 1e9


def torch_device() -> str:
    """Where the PyTorch references run: the GPU when torch sees one (a CUDA build of torch), else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_synchronized(fn):
    """``fn`` followed by waiting for the GPU (torch queues GPU work), so that timing it times the work."""
    import torch

    if not torch.cuda.is_available():
        return fn

    def call():
        out = fn()
        torch.cuda.synchronize()
        return out

    return call


def torch_matmul_gflops(m: int, k: int, repeats: int = 100) -> float | None:
    """The same chain in PyTorch eager (MKL), best of 1 and 2 threads; ``None`` without torch. It shows whether
    the ceiling of a layer shape is XLA's or the machine's."""
    try:
        import torch
    except ImportError:
        return None
    a, w = torch.ones(m, k, device=torch_device()), torch.full((k, k), 1.0 / k, device=torch_device())

    @torch_synchronized
    def chain():
        x = a
        for _ in range(repeats):
            x = x @ w
        return x

    rates = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rates.append(2 * m * k * k * repeats / best_time(chain) / 1e9)
    return max(rates)


def matmul_peak_gflops(size: int = 2048) -> dict[str, float]:
    """fp32 matmul throughput of this machine (best of JAX and PyTorch, all cores), GFLOP/s."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    t_jax = best_time(lambda: mm(a).block_until_ready())
    result = {"jax": 2 * size**3 / t_jax / 1e9}
    try:
        import torch

        torch.set_num_threads(max(1, torch.get_num_threads()))
        b = torch.randn(size, size, device=torch_device())
        t_torch = best_time(torch_synchronized(lambda: b @ b))
        result["torch"] = 2 * size**3 / t_torch / 1e9
    except ImportError:
        pass
    result["peak"] = max(result.values())
    return result


def seconds_in_process(script: str, arguments: list[str], threads: int) -> float:
    """Run ``script --one *arguments`` in a fresh process and read the seconds it prints last. One thread: pinned
    to core 0 by ``taskset`` with XLA's single-threaded Eigen (the script sets PyTorch's own thread count)."""
    env = dict(os.environ)
    command = [sys.executable, script, "--one", *arguments]
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def threads_benchmark(
    doc: str, script: str, cases: Sequence[str], seconds: Callable[[str, str], float], digits: int = 1
) -> None:
    """The command line of a benchmark of gnode against PyTorch at one and two threads: each case and
    implementation timed by ``seconds(case, implementation)`` in its own process (:func:`seconds_in_process`),
    ``--rounds`` times, the rounds interleaved so that a slow spell of the machine falls on both implementations.
    Then a markdown table of the medians (milliseconds with ``digits`` decimals), the ratio PyTorch / gnode of the
    medians and its range over the rounds (round i against round i), and, last, the JSON of every round."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--one", nargs=3, metavar=("CASE", "IMPLEMENTATION", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="processes per measurement (the table: medians)")
    parser.add_argument("--cases", nargs="+", choices=list(cases), default=list(cases), help="the rows to run")
    args = parser.parse_args()
    if args.one:
        case, implementation, threads = args.one
        if implementation == "torch":
            import torch

            torch.set_num_threads(int(threads))
        print(seconds(case, implementation))
        return
    implementations = ("gnode",) if args.no_torch else ("gnode", "torch")
    keys = [(case, f"{i}_{t}", [case, i, str(t)], t) for case in args.cases for i in implementations for t in (1, 2)]
    results: dict = {case: {} for case in args.cases}
    for _ in range(args.rounds):
        for case, key, arguments, threads in keys:
            results[case].setdefault(key, []).append(seconds_in_process(script, arguments, threads))
    print("| unit of work | PyTorch 1 thread | PyTorch 2 threads | gnode 1 thread | gnode 2 threads | ratio 1 / 2 |")
    print("|---|---|---|---|---|---|")
    for case, row in results.items():
        median = {key: float(np.median(values)) for key, values in row.items()}
        ms = {key: f"{value * 1e3:.{digits}f} ms" for key, value in median.items()}
        torch_cells = " | ".join(ms.get(f"torch_{t}", "—") for t in (1, 2))
        ratios = []
        for t in (1, 2):
            if f"torch_{t}" in row:
                each = np.asarray(row[f"torch_{t}"]) / np.asarray(row[f"gnode_{t}"])
                ratios.append(f"{median[f'torch_{t}'] / median[f'gnode_{t}']:.1f}× ({each.min():.1f}–{each.max():.1f})")
        print(f"| {case} | {torch_cells} | {ms['gnode_1']} | {ms['gnode_2']} | {' / '.join(ratios) or '—'} |")
    print(json.dumps(results))
