"""Connector (Kim et al. 2026): low-rank RNNs, which part of their connectivity the dynamics identify, and a
maximum-entropy distribution over connectivity learned with flow matching."""
