"""Connector (Kim et al. 2026): low-rank RNNs, which part of their connectivity the dynamics identify, and a
maximum-entropy distribution over connectivity learned with flow matching."""

from gnode.connector.flows import VelocityField, cfm_loss, transport
from gnode.connector.identify import loading_correlation, ridge_loadings
from gnode.connector.lint import LintConfig, RateModel, align, fit_lint, latents_of
from gnode.connector.lowrank import LowRankRNN, flow_field_error, latent_grid
from gnode.connector.model import AbstractSchedule, Connector, ConnectorConfig, ConstantRate, CosineDecay, fit_connector

__all__ = [
    "AbstractSchedule",
    "Connector",
    "ConnectorConfig",
    "ConstantRate",
    "CosineDecay",
    "LintConfig",
    "LowRankRNN",
    "RateModel",
    "VelocityField",
    "align",
    "cfm_loss",
    "fit_connector",
    "fit_lint",
    "flow_field_error",
    "latent_grid",
    "latents_of",
    "loading_correlation",
    "ridge_loadings",
    "transport",
]
