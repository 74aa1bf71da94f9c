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


TRAIN = ["train", "--task", "four_point", "--model", "gnode", "--dim", "2", "--dynamics", "8", "--batch", "50"]


def _train(tmp_path, name, cache, *flags):
    import os
    import subprocess
    import sys

    env = {**os.environ, compilation.CACHE_ENV: str(cache)}
    args = [sys.executable, "-m", "gnode.cli.main", *flags, *TRAIN, "--epochs", "2", "--no-progress"]
    out = subprocess.run([*args, "--out", str(tmp_path / name)], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    with np.load(tmp_path / name / "model.npz") as npz:
        return {k: npz[k] for k in npz.files}


def test_the_cli_keeps_compiled_programs_and_a_second_run_loads_them_to_the_same_result(tmp_path):
    cache = tmp_path / "cache"
    first = _train(tmp_path, "first", cache)
    files = sorted(p.name for p in cache.iterdir())
    assert files
    second = _train(tmp_path, "second", cache)
    assert sorted(p.name for p in cache.iterdir()) == files  # every program came from the cache
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    _train(tmp_path, "off", tmp_path / "unused", "--no-compilation-cache")
    assert not (tmp_path / "unused").exists()


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(compilation.CACHE_ENV, "off")
    assert compilation.default_cache_dir() is None
    monkeypatch.setenv(compilation.CACHE_ENV, str(tmp_path / "c"))
    assert compilation.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv(compilation.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation.default_cache_dir() == tmp_path / "gnode" / "jax"
