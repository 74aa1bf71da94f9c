"""Reading the dynamics of a trained field (for now: the 2-D phase portrait)."""
