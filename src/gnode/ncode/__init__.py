"""N-CODE (Chalvidal et al., ICLR 2021): neural ODEs whose vector-field weights are dynamic, set by a trainable map
of the input (open loop) or of the current state (closed loop)."""
