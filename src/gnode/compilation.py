"""How gnode asks XLA to compile the programs it measured a better setting for.

XLA's CPU backend (jax 0.10) hands small elementwise, reduction and matmul fusions to the YNNPACK library. On the
switching models' ELBO and EM steps — reductions over a trailing axis of 4 states or 10 observations, on arrays of
10⁵–10⁶ such rows — those fusions run 2–3× slower than XLA's own loops (``benchmarks/gdm_steps.py``,
docs/benchmarks.md); on the gnODE train step and Connector's flows they change nothing measurable. :func:`jit`
compiles with them off, on the CPU only, and only where this jax knows the option (a newer jax without it compiles
as it would by default).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
