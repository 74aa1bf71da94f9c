"""Optional dependencies: imported when first needed, with a one-line error naming the extra that installs them."""

from __future__ import annotations

import importlib

from gnode.errors import DataError


def optional_import(module: str, extra: str = "real"):
    """Import an optional dependency, or fail with one line saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(f"{module} is not installed: pip install 'gnode[{extra}]'") from None
