"""gnode.compilation: the switching models' programs compile without YNNPACK fusions, and give the same numbers
(to rounding)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gnode import compilation
from gnode.compilation import compiler_options, jit


def _softmax_sums(z):  # reductions over a trailing axis of 4: what the GDM ELBO is made of
    return jnp.sum(jax.nn.log_softmax(z, axis=-1) * jnp.exp(z), axis=-1)


def test_the_options_remove_the_library_fusions_and_change_no_number():
    z = jr.normal(jr.key(0), (64, 10, 50, 4))
    options = compiler_options()
    assert options == compilation.CPU_OPTIONS  # the tests run on the CPU, with the pinned jax
    default = jax.jit(_softmax_sums).lower(z).compile().as_text()
    if "__ynn_fusion" not in default:
        pytest.skip("this jax gives no fusion to YNNPACK: nothing to turn off")
    assert "__ynn_fusion" not in jax.jit(_softmax_sums, compiler_options=options).lower(z).compile().as_text()
    # the same arithmetic, summed in another order
    np.testing.assert_allclose(jit(_softmax_sums)(z), jax.jit(_softmax_sums)(z), rtol=1e-5)


def test_an_option_this_jax_lacks_falls_back_to_the_default(monkeypatch):
    monkeypatch.setattr(compilation, "CPU_OPTIONS", {"xla_cpu_option_gnode_never_had": "1"})
    compiler_options.cache_clear()
    try:
        assert compiler_options() == {}
        assert float(jit(lambda x: 2 * x)(jnp.float32(3))) == 6.0
    finally:
        compiler_options.cache_clear()
