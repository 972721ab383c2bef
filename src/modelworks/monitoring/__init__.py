"""Monitoring: drift and label-free performance of scoring batches against a reference profile.

At training time ``build_reference_profile`` summarises the reference rows (and the model's
scores and labels on them) into JSON stored with the model version. Each scoring batch is then
compared with it: ``compute_drift`` per feature, ``prediction_drift`` on the scores,
``estimate_performance`` before labels exist and ``realised_performance`` once they arrive;
``monitor_batch`` runs them all into one summary that ``render_monitoring_report`` renders.
Data larger than memory: ``monitoring.streaming`` (parquet streamed in one process) and
``monitoring.partitioned`` (Dask partitions) summarise files the same way (streaming: KS and
Wasserstein within the error bounds it reports).
"""

from modelworks.monitoring.batch import monitor_batch
from modelworks.monitoring.calibration import calibrate, fit_calibration
from modelworks.monitoring.drift import compute_drift, prediction_drift
from modelworks.monitoring.metrics import realised_performance
from modelworks.monitoring.params import DriftParams, DriftThresholds
from modelworks.monitoring.performance import (
    estimate_performance,
    expected_performance,
    expected_roc_auc,
)
from modelworks.monitoring.profile import PROFILE_VERSION, build_reference_profile
from modelworks.monitoring.report import render_monitoring_report
from modelworks.monitoring.statistics import (
    holm_correction,
    jensen_shannon_distance,
    population_stability_index,
)

__all__ = [
    "PROFILE_VERSION",
    "DriftParams",
    "DriftThresholds",
    "build_reference_profile",
    "calibrate",
    "compute_drift",
    "estimate_performance",
    "expected_performance",
    "expected_roc_auc",
    "fit_calibration",
    "holm_correction",
    "jensen_shannon_distance",
    "monitor_batch",
    "population_stability_index",
    "prediction_drift",
    "realised_performance",
    "render_monitoring_report",
]
