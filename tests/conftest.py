import gc
import os

import jax
import jaxtyping
import pytest

jax.config.update("jax_enable_x64", False)
# the CLI's persistent compilation cache stays out of the user's folder (and of results) unless a test asks for it
os.environ["GNODE_COMPILATION_CACHE"] = "off"


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
