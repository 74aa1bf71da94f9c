"""How gnode asks XLA to compile the programs it measured a better setting for.

XLA's CPU backend (jax 0.10) hands small elementwise, reduction and matmul fusions to the YNNPACK library. On the
switching models' ELBO and EM steps — reductions over a trailing axis of 4 states or 10 observations, on arrays of
10⁵–10⁶ such rows — those fusions run 2–3× slower than XLA's own loops (``benchmarks/gdm_steps.py``,
docs/benchmarks.md); on the gnODE train step and Connector's flows they change nothing measurable. :func:`jit`
compiles with them off, on the CPU only, and only where this jax knows the option (a newer jax without it compiles
as it would by default).

:func:`use_persistent_cache` keeps compiled programs on disk, so that a later process (a second ``gnode train``,
a resumed run) loads them instead of compiling them again; the ``gnode`` command turns it on.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}  # no fusion goes to YNNPACK


@functools.cache
def compiler_options() -> dict[str, str]:
    """:data:`CPU_OPTIONS` when JAX's default backend is the CPU and accepts them; otherwise none."""
    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS).lower(1.0).compile()
    except Exception:  # an option this jax no longer has: compile as jax does by default
        return {}
    return dict(CPU_OPTIONS)


def jit(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``equinox.filter_jit(fun)`` with :func:`compiler_options`, chosen at the first call (so that importing a
    module that decorates with it does not start JAX's backend)."""
    compiled = None

    @functools.wraps(fun)
    def call(*args, **kwargs):
        nonlocal compiled
        if compiled is None:
            compiled = eqx.filter_jit(fun, compiler_options=compiler_options())
        return compiled(*args, **kwargs)

    return call


CACHE_ENV = "GNODE_COMPILATION_CACHE"  # a folder for the persistent cache, or "off"
CACHE_MAX_BYTES = 2**30  # least recently used programs go beyond this (a demo's take ~1 MB: first_step.py)


def default_cache_dir() -> Path | None:
    """Where :func:`use_persistent_cache` keeps programs: ``$GNODE_COMPILATION_CACHE``, else
    ``$XDG_CACHE_HOME/gnode/jax`` (default ``~/.cache/gnode/jax``); None when the variable is ``off``."""
    given = os.environ.get(CACHE_ENV, "").strip()
    if given.lower() in {"off", "0", "false", "no"}:
        return None
    if given:
        return Path(given).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gnode" / "jax"


def use_persistent_cache(folder: str | Path | None = None) -> Path | None:
    """Keep every compiled program in ``folder`` (default :func:`default_cache_dir`): JAX's persistent compilation
    cache, keyed by the program, the jax version and the machine, at most :data:`CACHE_MAX_BYTES`. Small programs
    too: most of a first epoch's compile time is in programs under a second each (``benchmarks/first_step.py``).
    Returns the folder, or None when the cache is off. Call it before the first compilation.
    """
    folder = default_cache_dir() if folder is None else Path(folder)
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
    return folder
