"""Time to first step: what ``gnode demo`` and a first ``gnode train`` epoch spend compiling, without the persistent
compilation cache, with an empty one (the first run on a machine) and with a filled one (every later run).

    python benchmarks/first_step.py

Each command runs in a fresh process; compile time is the sum of JAX's tracing, lowering and XLA compilation
durations (``jax.monitoring`` events ``/jax/core/compile/*``), which includes loading a program from the cache.
The last line printed is JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
import jax.monitoring
durations = {}
def record(event, seconds, **_):
    durations[event] = durations.get(event, 0.0) + seconds
jax.monitoring.register_event_duration_secs_listener(record)
from gnode.cli.main import main
tick = time.perf_counter()
code = main(sys.argv[1:])
wall = time.perf_counter() - tick
compile_s = sum(v for k, v in durations.items() if k.startswith("/jax/core/compile/"))
events = {k: round(v, 2) for k, v in durations.items()}
print(json.dumps({"code": code, "wall_s": wall, "compile_s": compile_s, "events": events}))
"""

COMMANDS = {
    "demo (1 epoch + analysis)": ["demo", "--epochs", "1", "--no-progress"],
    "train three_bit (1 epoch)": [
        "train",
        "--task",
        "three_bit_variable",
        "--model",
        "gnode",
        "--dim",
        "100",
        "--dynamics",
        "100",
        "--batch",
        "100",
        "--n-train",
        "200",
        "--n-val",
        "100",
        "--epochs",
        "1",
        "--no-progress",
    ],
}


def run(args: list[str], out: Path, cache: str) -> dict:
    env = {**os.environ, "GNODE_COMPILATION_CACHE": cache}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args, "--out", str(out)], capture_output=True, text=True, env=env
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in COMMANDS.items():
            cache = str(Path(tmp) / f"cache-{len(rows)}")
            for label, folder in (("no cache", "off"), ("empty cache", cache), ("filled cache", cache)):
                result = run(args, Path(tmp) / f"out-{len(rows)}", folder)
                if label == "empty cache":  # what the first run left in the cache
                    files = [p for p in Path(cache).rglob("*") if p.is_file()]
                    result["cache_files"], result["cache_bytes"] = len(files), sum(p.stat().st_size for p in files)
                rows.append({"command": name, "cache": label, **result})
                kept = (
                    f", cache {result['cache_files']} files, {result['cache_bytes'] / 1e6:.1f} MB"
                    if "cache_files" in result
                    else ""
                )
                timing = f"wall {result['wall_s']:6.1f} s, compiling {result['compile_s']:6.1f} s"
                print(f"{name:28s} {label:13s} {timing}{kept}", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
