"""GDM: the Gumbel dynamical model (Wang, Kim et al. 2025) and switching-system baselines (SLDS, rSLDS, ARHMM), on
one sequence or many trials of different lengths.

Pure inference functions (:mod:`~gnode.gdm.inference`, :mod:`~gnode.gdm.slds`, :mod:`~gnode.gdm.arhmm`) under thin
parameter Modules; :mod:`~gnode.gdm.runs` fits, saves, loads, scores and selects them by name. dynamax
(``pip install 'gnode[gdm]'``) is imported only when an HMM smoother runs.
"""

from gnode.gdm.arhmm import ARHMM, ARHMMConfig, arhmm_log_likelihood, arhmm_states, fit_arhmm
from gnode.gdm.data import SwitchingData, load_switching, read_switching, switching_data
from gnode.gdm.fit import GDMFitConfig, batch_elbo, elbo, fit_gdm
from gnode.gdm.inference import forecast, reconstruct, soft_states
from gnode.gdm.metrics import matched_accuracy, mean_r2, state_accuracy, switching_rate
from gnode.gdm.model import GDM, AbstractEmission, GaussianEmission, PoissonEmission
from gnode.gdm.posterior import AbstractPosterior, GRUPosterior, LinearPosterior
from gnode.gdm.runs import (
    SwitchingConfig,
    SwitchingFit,
    fit_switching,
    held_out_score,
    infer_switching,
    load_fit,
    save_fit,
    select_states,
)
from gnode.gdm.slds import (
    SLDS,
    AbstractTransitions,
    RecurrentOnly,
    SLDSConfig,
    Sticky,
    fit_slds,
    infer,
    slds_elbo,
    slds_log_evidence,
)
from gnode.gdm.transitions import AbstractRelaxedTransitions, GRUTransitions, LinearTransitions

__all__ = [
    "ARHMM",
    "GDM",
    "SLDS",
    "ARHMMConfig",
    "AbstractEmission",
    "AbstractPosterior",
    "AbstractRelaxedTransitions",
    "AbstractTransitions",
    "GDMFitConfig",
    "GRUPosterior",
    "GRUTransitions",
    "GaussianEmission",
    "LinearPosterior",
    "LinearTransitions",
    "PoissonEmission",
    "RecurrentOnly",
    "SLDSConfig",
    "Sticky",
    "SwitchingConfig",
    "SwitchingData",
    "SwitchingFit",
    "arhmm_log_likelihood",
    "arhmm_states",
    "batch_elbo",
    "elbo",
    "fit_arhmm",
    "fit_gdm",
    "fit_slds",
    "fit_switching",
    "forecast",
    "held_out_score",
    "infer",
    "infer_switching",
    "load_fit",
    "load_switching",
    "matched_accuracy",
    "mean_r2",
    "read_switching",
    "reconstruct",
    "save_fit",
    "select_states",
    "slds_elbo",
    "slds_log_evidence",
    "soft_states",
    "state_accuracy",
    "switching_data",
    "switching_rate",
]
