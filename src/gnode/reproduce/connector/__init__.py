"""The connector paper's protocols (see :mod:`gnode.reproduce`)."""
