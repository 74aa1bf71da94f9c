"""gnode: gated neural ODEs in JAX, and tools to read the dynamics they learn."""

__version__ = "0.2.0"

from gnode.saving import describe, load, load_meta, register_function, save

__all__ = ["__version__", "describe", "load", "load_meta", "register_function", "save"]
