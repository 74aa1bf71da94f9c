"""The gdm paper's protocols (see :mod:`gnode.reproduce`)."""
