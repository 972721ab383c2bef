"""Monitoring: feature drift against a stored reference profile, and its HTML report."""

from modelworks.monitoring.drift import (
    DriftParams,
    DriftThresholds,
    build_reference_profile,
    compute_drift,
    holm_correction,
    population_stability_index,
)
from modelworks.monitoring.report import render_drift_report

__all__ = [
    "DriftParams",
    "DriftThresholds",
    "build_reference_profile",
    "compute_drift",
    "holm_correction",
    "population_stability_index",
    "render_drift_report",
]
