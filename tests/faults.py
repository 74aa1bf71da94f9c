"""Running a gnode command in a subprocess and killing it at a chosen moment: once a condition on its output holds,
after some seconds, or while it is inside the write of a named file (a stall injected into ``atomic_write`` by this
module's bootstrap, never by gnode itself). Shared by the crash tests and ``experiments/reliability.py``."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gnode.files import TEMPORARY  # noqa: F401 (the tests name it through this module)

# The child runs the CLI; with GNODE_TEST_STALL="<file name>:<n>" its n-th atomic write of that file writes half of
# the bytes to the temporary file, touches GNODE_TEST_STALL_MARK and sleeps: a kill then lands inside the write.
BOOTSTRAP = """
import os, sys, time
import gnode.files as files
stall = os.environ.get("GNODE_TEST_STALL")
if stall:
    name, nth = stall.rsplit(":", 1)
    original, seen = files.atomic_write, [0]
    def atomic_write(path, payload):
        if os.path.basename(path) == name:
            seen[0] += 1
            if seen[0] == int(nth):
                tmp = os.path.join(os.path.dirname(path), f".{name}{files.TEMPORARY}{os.getpid()}")
                with open(tmp, "wb") as f:
                    f.write(payload[: len(payload) // 2])
                    f.flush()
                open(os.environ["GNODE_TEST_STALL_MARK"], "w").close()
                time.sleep(600)
        return original(path, payload)
    files.atomic_write = atomic_write
from gnode.cli.main import app
sys.argv[0] = "gnode"
app()
"""


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", BOOTSTRAP, *map(str, args)]


def run(*args: str, timeout: float = 900, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, **popen)


def kill_when(args, condition: Callable[[], bool], *, timeout: float = 600, env: dict | None = None) -> bool:
    """Start ``gnode *args``; SIGKILL it as soon as ``condition()`` holds. Returns whether it was killed (False:
    it ended first)."""
    process = subprocess.Popen(
        command(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if condition():
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
    return process.wait(timeout=60) == -signal.SIGKILL


def kill_after(args, seconds: float, **kwargs) -> bool:
    start = time.monotonic()
    return kill_when(args, lambda: time.monotonic() - start >= seconds, **kwargs)


def kill_inside_write(args, name: str, nth: int, mark: Path, **kwargs) -> bool:
    """Kill ``gnode *args`` during its ``nth`` write of a file called ``name`` (half of it on disk)."""
    env = {"GNODE_TEST_STALL": f"{name}:{nth}", "GNODE_TEST_STALL_MARK": str(mark)}
    return kill_when(args, mark.exists, env=env, **kwargs)


def contents(path: Path):
    """What a result file holds, for comparing runs: the arrays of an ``.npz``, the parsed JSON or CSV rows, or the
    bytes."""
    if path.suffix == ".npz":
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(path.read_text())))
    if path.suffix in (".json", ".jsonl"):
        return (
            [json.loads(line) for line in path.read_text().splitlines()]
            if path.suffix == ".jsonl"
            else (json.loads(path.read_text()))
        )
    return path.read_bytes()


def differences(a: Path, b: Path, names, ignore=()) -> list[str]:
    """The files among ``names`` that differ between folders ``a`` and ``b`` (arrays bit for bit; JSON without the
    keys in ``ignore``, at any depth)."""

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in ignore}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    different = []
    for name in names:
        x, y = contents(a / name), contents(b / name)
        if isinstance(x, dict) and x and all(isinstance(v, np.ndarray) for v in x.values()):
            same = x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        else:
            same = clean(x) == clean(y)
        if not same:
            different.append(name)
    return different
