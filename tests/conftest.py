import gc
import os

import jax
import jaxtyping
import pytest

jax.config.update("jax_enable_x64", False)
# the CLI's persistent compilation cache stays out of the user's folder (and of results) unless a test asks for it
os.environ["GNODE_COMPILATION_CACHE"] = "off"
# One CPU device in every test process: `gnode train` run in-process (CliRunner) asks for one device per core, and
# if JAX had not started yet the rest of that worker's tests would then run ensembles split over devices, whose
# float32 sums differ from one device's. The tests of several devices start their own processes without this.
if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=1".strip()


@pytest.fixture(autouse=True)
def _library_errors_for_bad_input(request):
    """Tests marked ``bad_input`` feed wrong shapes, types or names to gnode's boundaries and assert the library's
    own one-line error. The suite type-checks gnode at run time (pyproject addopts), which would reject such input
    first with a checker's message; so checking is off while these run, as it is for users."""
    if request.node.get_closest_marker("bad_input") is None:
        yield
        return
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", False)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free every compiled XLA program after each test module. Each one holds memory maps; a whole suite in one
    process kept hundreds of them (about 200 maps per test) and passed the kernel's limit of 65,530, and XLA's
    compiler then died with a segmentation fault."""
    yield
    jax.clear_caches()
    gc.collect()
