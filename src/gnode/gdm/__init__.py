"""GDM: the Gumbel dynamical model (Wang, Kim et al. 2025) and switching-system baselines, evaluated fairly."""
