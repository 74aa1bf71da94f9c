"""Use every CPU core: expose the cores as separate XLA CPU devices so ensembles can be sharded.

XLA runs the small operations of a recurrent model one at a time on one core; an ensemble split
over several CPU devices runs its parts on all cores at once (``benchmarks/ensemble.py``). The
setting must be made before JAX starts its backend, so call :func:`use_cpu_cores` first thing (``gnode
sweep`` and ``gnode expressivity`` do), or set ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` yourself.
"""

from __future__ import annotations

import os
import sys

FLAG = "--xla_force_host_platform_device_count"


def use_cpu_cores(count: int | None = None) -> int:
    """Ask for ``count`` CPU devices (default: the number of cores). Returns the number requested.

    It has no effect when JAX's backend is already running, or when ``XLA_FLAGS`` already sets it.
    """
    count = count or os.cpu_count() or 1
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG in flags:
        return int(flags.split(FLAG + "=")[1].split()[0])
    if "jax" in sys.modules:
        from jax._src import xla_bridge  # only to tell whether the backend has started

        if getattr(xla_bridge, "_backends", None):
            return 1
    os.environ["XLA_FLAGS"] = f"{flags} {FLAG}={count}".strip()
    return count
