"""The ncode paper's protocols (see :mod:`gnode.reproduce`)."""
