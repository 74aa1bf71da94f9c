"""GDM: the Gumbel dynamical model (Wang, Kim et al. 2025) and switching-system baselines (SLDS, rSLDS, ARHMM).

Pure inference functions (:mod:`~gnode.gdm.inference`, :mod:`~gnode.gdm.slds`, :mod:`~gnode.gdm.arhmm`) under thin
parameter Modules; dynamax (``pip install 'gnode[gdm]'``) is imported only when an HMM smoother runs.
"""

from gnode.gdm.arhmm import ARHMM, ARHMMConfig, arhmm_states, fit_arhmm
from gnode.gdm.fit import GDMFitConfig, elbo, fit_gdm
from gnode.gdm.inference import forecast, reconstruct, soft_states
from gnode.gdm.metrics import mean_r2, state_accuracy, switching_rate
from gnode.gdm.model import GDM, AbstractEmission, GaussianEmission, PoissonEmission
from gnode.gdm.posterior import AbstractPosterior, GRUPosterior, LinearPosterior
from gnode.gdm.slds import SLDS, AbstractTransitions, RecurrentOnly, SLDSConfig, Sticky, fit_slds, infer

__all__ = [
    "ARHMM",
    "GDM",
    "SLDS",
    "ARHMMConfig",
    "AbstractEmission",
    "AbstractPosterior",
    "AbstractTransitions",
    "GDMFitConfig",
    "GRUPosterior",
    "GaussianEmission",
    "LinearPosterior",
    "PoissonEmission",
    "RecurrentOnly",
    "SLDSConfig",
    "Sticky",
    "arhmm_states",
    "elbo",
    "fit_arhmm",
    "fit_gdm",
    "fit_slds",
    "forecast",
    "infer",
    "mean_r2",
    "reconstruct",
    "soft_states",
    "state_accuracy",
    "switching_rate",
]
